from odoo import api, models

# The system parameters the host router reads (ipai_tenant_runtime/routing_map.py). Every Odoo
# process reloads its host map only when the routing version moves, as it
# does for a tenant or a domain: changing one of these must move it too, or
# the new base domain or platform host name waits for a restart.
ROUTING_PARAMS = frozenset({"ipai_tenant_core.base_domain", "ipai_tenant_core.platform_hosts"})
# Parameters that decide where tenants live and how they are reached: every
# change goes into the audit trail (none of them is a secret).
AUDITED_PARAMS = ROUTING_PARAMS | {
    "ipai_tenant_core.dns_resolver",
    "ipai_tenant_core.database_prefix",
    "ipai_tenant_core.role_prefix",
    "ipai_tenant_core.template_prefix",
    "ipai_tenant_core.public_scheme",
    "ipai_tenant_core.public_port",
}


class IrConfigParameter(models.Model):
    _inherit = "ir.config_parameter"

    def _routes_hosts(self):
        return any(key in ROUTING_PARAMS for key in self.mapped("key"))

    def _audit_params(self, before):
        audit = self.env["ipai.audit.log"]
        for param in self.filtered(lambda p: p.key in AUDITED_PARAMS):
            if before.get(param.key) != param.value:
                audit._record(
                    self.env["ipai.tenant"],
                    f"param:{param.key}",
                    {"value": (before.get(param.key, False), param.value)},
                )

    @api.model_create_multi
    def create(self, vals_list):
        params = super().create(vals_list)
        if params._routes_hosts():
            self.env["ipai.tenant"]._bump_routing_version()
        params._audit_params({})
        return params

    def write(self, vals):
        routed_before = self._routes_hosts()
        before = {param.key: param.value for param in self}
        result = super().write(vals)
        if routed_before or self._routes_hosts():
            self.env["ipai.tenant"]._bump_routing_version()
        self._audit_params(before)
        return result

    def unlink(self):
        routed = self._routes_hosts()
        for param in self.filtered(lambda p: p.key in AUDITED_PARAMS):
            self.env["ipai.audit.log"]._record(
                self.env["ipai.tenant"], f"param:{param.key}", {"value": (param.value, False)}
            )
        result = super().unlink()
        if routed:
            self.env["ipai.tenant"]._bump_routing_version()
        return result
