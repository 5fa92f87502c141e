from odoo import api, models

# The system parameters the host router reads (server/routing.py). Every Odoo
# process reloads its host map only when the routing version moves, as it
# does for a tenant or a domain: changing one of these must move it too, or
# the new base domain or platform host name waits for a restart.
ROUTING_PARAMS = frozenset({"ipai_tenant_core.base_domain", "ipai_tenant_core.platform_hosts"})


class IrConfigParameter(models.Model):
    _inherit = "ir.config_parameter"

    def _routes_hosts(self):
        return any(key in ROUTING_PARAMS for key in self.mapped("key"))

    @api.model_create_multi
    def create(self, vals_list):
        params = super().create(vals_list)
        if params._routes_hosts():
            self.env["ipai.tenant"]._bump_routing_version()
        return params

    def write(self, vals):
        routed_before = self._routes_hosts()
        result = super().write(vals)
        if routed_before or self._routes_hosts():
            self.env["ipai.tenant"]._bump_routing_version()
        return result

    def unlink(self):
        routed = self._routes_hosts()
        result = super().unlink()
        if routed:
            self.env["ipai.tenant"]._bump_routing_version()
        return result
