from odoo import api, models

# Odoo's account module puts "Invoicing administrator" on the template user
# (base.default_user), so every user made without explicit groups could read
# and change every customer's invoices. On the platform, accounting rights
# are given on purpose (Settings > Users), never by default.
ACCOUNTING_GROUPS = ("account.group_account_readonly", "account.group_account_invoice")


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _default_groups(self):
        groups = super()._default_groups()
        accounting = self.env["res.groups"]
        for xmlid in ACCOUNTING_GROUPS:
            accounting |= self.env.ref(xmlid, raise_if_not_found=False) or accounting
        return groups.filtered(lambda group: not (group | group.trans_implied_ids) & accounting)
