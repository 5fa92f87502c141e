from odoo import api, models
from odoo.exceptions import AccessDenied


class ResUsers(models.Model):
    _inherit = "res.users"

    def _check_credentials(self, credential, env):
        # Every login path (web form, JSON-RPC, XML-RPC, API keys) ends here.
        if self.env["ipai.tenant.settings"]._is_suspended(fresh=True):
            raise AccessDenied(self.env["ipai.tenant.settings"]._suspended_message())
        return super()._check_credentials(credential, env)

    @api.model
    def _ipai_counted_users(self):
        """The users the plan counts: active internal ones; not portal or
        public users (``share``), nor OdooBot and the other technical users
        of the root/system id range."""
        internal = self.sudo().with_context(active_test=True).search([("share", "=", False)])
        return internal.filtered(lambda user: not user._is_superuser())

    @api.constrains("active", "share", "groups_id", "company_ids")
    def _check_ipai_plan_user_limit(self):
        """Internal users count against the plan; portal and public users,
        which are `share`, do not."""
        settings = self.env["ipai.tenant.settings"]
        limits = settings._get()["limits"]
        if not limits or not self.filtered(lambda user: user.active and not user.share):
            return
        internal = self._ipai_counted_users()
        settings._check_limit("users", len(internal), self.env._("internal users"))
        per_company = limits.get("users_per_company")
        if per_company:
            for company in internal.company_ids:
                count = len(internal.filtered(lambda u, c=company: c in u.company_ids))
                settings._check_limit(
                    "users_per_company",
                    count,
                    self.env._("internal users in %s", company.name),
                )


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.constrains("active")
    def _check_ipai_plan_company_limit(self):
        count = self.sudo().with_context(active_test=True).search_count([])
        self.env["ipai.tenant.settings"]._check_limit("companies", count, self.env._("companies"))
