"""Draining a database server: closed to new tenants, and each tenant on it
moved to the server the placement policy picks among the others."""

from odoo import models
from odoo.addons.ipai_platform_rules import jobs, lifecycle
from odoo.addons.ipai_tenant_core.infra import server_check
from odoo.exceptions import AccessError, UserError

DRAINED_STATES = (lifecycle.ACTIVE, lifecycle.SUSPENDED)


class IpaiTenantServer(models.Model):
    _inherit = "ipai.tenant.server"

    def _extra_database_count(self):
        """A move queued or running to this server holds its place (the copy
        is coming): placement, other moves and a drain count it, so that
        moves queued together do not overfill a server. A move past its
        switch counts once, as the tenant it brought."""
        self.env["ipai.tenant.job"].flush_model(["job_type", "state", "params", "tenant_id"])
        self.env["ipai.tenant"].flush_model(["server_id"])
        self.env.cr.execute(
            """SELECT count(*) FROM ipai_tenant_job j
                 JOIN ipai_tenant t ON t.id = j.tenant_id
                WHERE j.job_type = 'move_server' AND j.state IN %s
                  AND (j.params->>'server_id')::int = %s AND t.server_id <> %s""",
            [jobs.OPEN_STATES, self.id, self.id],
        )
        (incoming,) = self.env.cr.fetchone()
        return super()._extra_database_count() + incoming

    def _takes_moved(self, tenant):
        """Whether a platform manager may move ``tenant`` here: as the
        placement's rules, except that a server closed to new tenants (a
        signup) still takes one a manager sends on purpose."""
        self.ensure_one()
        sudo = self.sudo()
        if not self.active or self.health in (server_check.UNREACHABLE, server_check.UNFIT):
            return False
        if self.capacity <= self.tenant_count:
            return False
        if sudo.dedicated_provider_id or sudo.dedicated_plan_id:
            return self in self._dedicated_to(tenant)
        return True

    def action_drain(self, grace_hours=None):
        """Close this server and queue a move of each of its tenants (the
        runner takes as many at a time as it has workers). Tenants busy with
        another job are left for the next drain, and named. Returns a report."""
        self.ensure_one()
        if not self.env.user.has_group("ipai_tenant_core.group_platform_manager"):
            raise AccessError(self.env._("Only platform managers drain a server."))
        others = self.sudo().search([("id", "!=", self.id)], limit=1000)
        tenants = (
            self.env["ipai.tenant"]
            .sudo()
            .search([("server_id", "=", self.id), ("state", "in", DRAINED_STATES)], order="id")
        )
        self.sudo().open_to_new = False
        queued, left = [], []
        for tenant in tenants:
            if tenant.is_busy:
                left.append(tenant.code)
                continue
            # Each move queued holds its place on its target (see above).
            others.invalidate_recordset(["tenant_count", "load_percent"])
            target = others._default_server_among(tenant)
            if not target:
                # Raised, the whole drain is rolled back: no move queued,
                # the server still open.
                raise UserError(
                    self.env._(
                        "No other server takes %(tenant)s (%(loads)s); nothing was changed.",
                        tenant=tenant.code,
                        loads=", ".join(server._placement_summary() for server in others),
                    )
                )
            tenant.with_env(self.env).action_move_to_server(target, grace_hours=grace_hours)
            queued.append(f"{tenant.code} -> {target.name}")
        lines = [self.env._("%s is closed to new tenants.", self.name)]
        lines += [self.env._("queued: %s", line) for line in queued]
        if left:
            lines.append(self.env._("busy, drain again later: %s", ", ".join(left)))
        return "\n".join(lines)

    def action_drain_from_form(self):
        """The Drain button: the report as a notification."""
        report = self.action_drain()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Draining %s", self.name),
                "message": report,
                "sticky": True,
                "type": "info",
            },
        }
