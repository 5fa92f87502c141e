from odoo import api, fields, models

from ..models.ipai_tenant_api_key import DEFAULT_VALIDITY_DAYS


class IpaiApiKeyGenerate(models.TransientModel):
    _name = "ipai.api.key.generate"
    _description = "Make a REST API key"
    _inherit = ["ipai.text.input.mixin"]

    name = fields.Char(required=True, help="What the key is for, e.g. 'n8n signups'.")
    user_id = fields.Many2one(
        "res.users",
        required=True,
        default=lambda self: self.env.user,
        domain=[("share", "=", False)],
        help="The key acts as this user, with this user's roles.",
    )
    days = fields.Integer(
        string="Valid for (days)",
        default=lambda self: self._default_days(),
        help="At most the plan's API key validity; 0: never expires (platform managers only).",
    )
    rate_limit = fields.Integer(help="Requests per minute; 0: the plan's API rate limit.")

    def _default_days(self):
        days = self.env["ipai.api.key"]._plan_caps(self.env.user)[0]
        return days or DEFAULT_VALIDITY_DAYS

    @api.onchange("user_id")
    def _onchange_user_id(self):
        if self.user_id:
            self.days = self.env["ipai.api.key"]._plan_caps(self.user_id)[0] or self.days

    def action_generate(self):
        self.ensure_one()
        key, plain = self.env["ipai.api.key"]._generate(
            self.user_id, self.name, days=self.days, rate_limit=self.rate_limit
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("API key for %s", key.user_id.login),
                "message": self.env._(
                    "%(key)s\nSend it as 'Authorization: Bearer <key>'. This is the only "
                    "time it is shown.",
                    key=plain,
                ),
                "sticky": True,
                "type": "warning",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
