"""Warm pool: databases copied from a template ahead of time, so a signup
only renames and personalises one.

A member is made with everything that does not depend on the customer: the
copy of the template and of its filestore, its own role owning every object
(the ``REASSIGN OWNED`` of the template's ~800 relations), its own identity
(uuid, secret) and an administrator password already hashed (Odoo's pbkdf2,
half a second). At the claim the database, the role and the filestore are
given to the tenant under their own names (a tenant runtime may have
loaded the registry while it waited, connected as that role; the names are
never a tenant code's): the tenant ends up as the template path makes it,
and nothing is shared with any other member.

Every function here is idempotent, like the engine's steps: an adoption
interrupted at any point is finished by the job's next run; a build
interrupted is removed by the refill once it is 10 minutes old.
"""

from odoo.addons.ipai_tenant_core.infra import crypto, pg

from . import filestore, runtime_access, tenant_db

MARK_PREFIX = "pool:"
# The states of a member (ipai.tenant.pool.member).
BUILDING, READY, CLAIMED, STALE = "building", "ready", "claimed", "stale"


def mark(database):
    return f"{MARK_PREFIX}{database}"


def build(server, template_db, database, role, bi_role, template_owner, log):
    """Make pool member ``database`` owned by ``role`` from ``template_db``,
    with its read-only BI role ``bi_role``; returns the passwords of the
    administrator (its hash is in the database) and of the BI role."""
    current = pg.database_mark(server, database)
    if current not in (None, "", pg.owner_mark(mark(database))):
        raise ValueError(f"{database} exists and is not a pool member")
    if current is None:
        pg.create_database_from(server, database, template_db)
        log(f"created {database} from {template_db}")
    pg.mark_database(server, database, mark(database))
    filestore.remove(database)
    filestore.copy(template_db, database)
    runtime_access.ensure_owned_role(server, role)
    pg.hand_over(server, database, template_owner, role)
    bi_password = crypto.new_password()
    pg.ensure_login_role(server, bi_role, bi_password)
    pg.restrict_connect(server, database, bi_role)
    as_member = runtime_access.as_role(server, role)
    tenant_db.reset_identity(as_member, database, base_url="")
    admin_password = crypto.new_password()
    tenant_db.set_admin(as_member, database, "admin", tenant_db.hash_password(admin_password))
    log(f"{database} ready, owned by {role}")
    return admin_password, bi_password


def adopt(server, database, tenant_mark):
    """Make claimed member ``database`` a tenant's: only its mark changes.
    Safe to call again after a crash."""
    if pg.database_mark(server, database) == pg.owner_mark(mark(database)):
        pg.mark_database(server, database, tenant_mark)
        return [f"{database} marked as {tenant_mark}"]
    return []


def remove(server, database, *roles):
    """Drop a member (stale, abandoned, or claimed by a job that failed):
    its database, files and roles, unless a tenant owns the database by now
    (marked as a tenant's: then everything stays, it is that tenant's)."""
    current = pg.database_mark(server, database)
    if current not in (None, pg.owner_mark(mark(database))):
        return False
    if current is not None:
        pg.drop_database(server, database)
    filestore.remove(database)
    for role in roles:
        if role and pg.role_exists(server, role):
            pg.drop_role(server, role)
    return True
