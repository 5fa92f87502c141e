from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import ipai_tenant_naming as naming


class IpaiTenantDomain(models.Model):
    _name = "ipai.tenant.domain"
    _description = "Tenant custom domain"
    _order = "name"

    name = fields.Char(string="Host name", required=True)
    tenant_id = fields.Many2one("ipai.tenant", required=True, ondelete="cascade", index=True)

    _sql_constraints = [
        ("name_unique", "unique(name)", "This host name already belongs to a tenant."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name"):
                vals["name"] = vals["name"].strip().lower()
        domains = super().create(vals_list)
        self.env["ipai.tenant"]._bump_routing_version()
        return domains

    def write(self, vals):
        if vals.get("name"):
            vals["name"] = vals["name"].strip().lower()
        result = super().write(vals)
        self.env["ipai.tenant"]._bump_routing_version()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["ipai.tenant"]._bump_routing_version()
        return result

    @api.constrains("name")
    def _check_name(self):
        base_domain = self.env["ipai.tenant"]._base_domain()
        for domain in self:
            if not naming.is_valid_hostname(domain.name):
                raise ValidationError(self.env._("'%s' is not a valid host name.", domain.name))
            if domain.name.endswith("." + base_domain) or domain.name == base_domain:
                raise ValidationError(
                    self.env._(
                        "%s is under the platform's own domain; use a host name of your own.",
                        domain.name,
                    )
                )
