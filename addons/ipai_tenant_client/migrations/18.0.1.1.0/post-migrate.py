"""Tenants made before the platform's templates closed public signup kept
auth_signup's own default, 'b2c': anonymous visitors could make portal
accounts. A tenant's next upgrade of this addon (make upgrade-tenants) puts
it on invitation only, as new tenants start; its administrator may open it
again in Settings. An admin's earlier deliberate 'b2c' cannot be told from
the default, so it is closed too: the safe side, said in the release notes."""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """UPDATE ir_config_parameter SET value = 'b2b'
            WHERE key = 'auth_signup.invitation_scope' AND value = 'b2c'"""
    )
