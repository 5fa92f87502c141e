from odoo import api, fields, models

from ..superset_api import client, crypto

PARAM = "ipai_bi_superset_embed."


def _system_setting(key, string, **options):
    """A setting kept in the system parameter ``ipai_bi_superset_embed.<key>``:
    it locates Superset and its service account, so administrators only."""
    return fields.Char(
        string=string, config_parameter=PARAM + key, groups="base.group_system", **options
    )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    ipai_bi_superset_url = _system_setting(
        "superset_url",
        "Superset URL",
        help="Where this Odoo server reaches Superset's API, e.g. http://superset:8088. "
        "The service password is sealed with this address: after changing it, type the "
        "password again.",
    )
    ipai_bi_public_url = _system_setting(
        "public_url",
        "Public Superset URL",
        help="Where browsers reach Superset, if not the URL above.",
    )
    ipai_bi_username = _system_setting("username", "Service account")
    ipai_bi_workspace = _system_setting(
        "workspace",
        "Workspace",
        help="Prefix of this tenant's dashboards in Superset, e.g. ipai_acme.",
    )
    # Write-only: stored Fernet-encrypted, never read back into the form.
    ipai_bi_password = fields.Char(
        string="Service password",
        compute="_compute_ipai_bi_password",
        inverse="_inverse_ipai_bi_password",
        groups="base.group_system",
    )
    ipai_bi_password_set = fields.Boolean(
        compute="_compute_ipai_bi_password", groups="base.group_system"
    )

    @api.depends("company_id")
    def _compute_ipai_bi_password(self):
        stored = bool(self.env["ir.config_parameter"].sudo().get_param(PARAM + "password"))
        for settings in self:
            settings.ipai_bi_password = False
            settings.ipai_bi_password_set = stored

    def _inverse_ipai_bi_password(self):
        for settings in self:
            if settings.ipai_bi_password:
                self.env["ir.config_parameter"].sudo().set_param(
                    PARAM + "password",
                    crypto.seal_login(
                        self.env.cr.dbname,
                        settings.ipai_bi_superset_url or "",
                        settings.ipai_bi_password,
                    ),
                )

    def set_values(self):
        result = super().set_values()
        # New URL, account or workspace: nothing cached may outlive them.
        client.clear_caches()
        return result

    def action_ipai_bi_load_dashboards(self):
        self.execute()
        count = self.env["ipai.bi.dashboard"]._load_from_workspace()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%s dashboard(s) added from the workspace.", count),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
