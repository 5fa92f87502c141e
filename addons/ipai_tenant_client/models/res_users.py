from odoo import models
from odoo.exceptions import AccessDenied


class ResUsers(models.Model):
    _inherit = "res.users"

    def _check_credentials(self, credential, env):
        # Every login path (web form, JSON-RPC, XML-RPC, API keys) ends here.
        if self.env["ipai.tenant.settings"]._is_suspended(fresh=True):
            raise AccessDenied(self.env["ipai.tenant.settings"]._suspended_message())
        return super()._check_credentials(credential, env)
