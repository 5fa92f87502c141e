"""This database's tenant settings, as pushed by the platform.

The control plane writes ``ipai_tenant.*`` system parameters with plain SQL
and bumps Odoo's cache signal; reads here go through ir.config_parameter's
ormcache, so checking them on every request costs a dictionary lookup.
"""

import json
from datetime import date

from odoo import api, fields, models
from odoo.exceptions import ValidationError

PREFIX = "ipai_tenant."
SUSPENDED = "suspended"


class IpaiTenantSettings(models.AbstractModel):
    _name = "ipai.tenant.settings"
    _description = "Tenant settings pushed by the platform"

    @api.model
    def _param(self, key, default=None):
        return self.env["ir.config_parameter"].sudo().get_param(PREFIX + key, default)

    @api.model
    def _get(self):
        return {
            "code": self._param("code"),
            "name": self._param("name"),
            "state": self._param("state", "active"),
            "plan": self._param("plan"),
            "plan_name": self._param("plan_name"),
            "trial_end": self._param("trial_end") or None,
            "limits": json.loads(self._param("limits") or "{}"),
            "features": json.loads(self._param("features") or "{}"),
        }

    @api.model
    def get_plan_status(self):
        """What the plan indicator of the navbar shows any user of the
        workspace: the plan, the trial's days left, each limit with its use
        (``reached`` at the limit: the next user or company is refused), and
        whether something needs the admins' attention. Empty for a database
        the platform did not configure."""
        settings = self._get()
        if not settings["plan"]:
            return {}
        users = self.env["res.users"]._ipai_counted_users()
        used = {
            "users": len(users),
            "companies": self.env["res.company"].sudo().search_count([]),
        }
        labels = {"users": self.env._("Users"), "companies": self.env._("Companies")}
        limits = [
            {"key": key, "label": labels[key], "used": used[key], "max": maximum,
             "reached": used[key] >= maximum}
            for key in ("users", "companies")
            if (maximum := settings["limits"].get(key))
        ]  # fmt: skip
        days_left = None
        if settings["trial_end"]:
            end = fields.Date.to_date(settings["trial_end"])
            days_left = max((end - date.today()).days, 0)
        plan_name = settings["plan_name"] or settings["plan"]
        label = (
            self.env._("%(plan)s: %(days)s days left", plan=plan_name, days=days_left)
            if days_left is not None
            else plan_name
        )
        return {
            "plan": settings["plan"],
            "plan_name": plan_name,
            "label": label,
            "trial_end": settings["trial_end"],
            "days_left": days_left,
            "limits": limits,
            "warning": any(limit["reached"] for limit in limits)
            or (days_left is not None and days_left <= 3),
        }

    @api.model
    def _is_suspended(self, fresh=False):
        """``fresh`` skips the ormcache: logins by JSON-RPC with an explicit
        database reach res.users without the per-request cache signal check,
        so a cached value there could be stale."""
        if not fresh:
            return self._param("state") == SUSPENDED
        self.env["ir.config_parameter"].flush_model(["key", "value"])
        self.env.cr.execute(
            "SELECT value FROM ir_config_parameter WHERE key = %s", [PREFIX + "state"]
        )
        row = self.env.cr.fetchone()
        return bool(row) and row[0] == SUSPENDED

    @api.model
    def _suspended_message(self):
        return self.env._(
            "The workspace %s is suspended. Your data is kept; please contact your "
            "provider to reactivate it.",
            self._param("name") or self._param("code") or "",
        )

    @api.model
    def _check_limit(self, limit_key, count, what):
        """Refuse ``count`` of ``what`` beyond the plan's ``limit_key``."""
        settings = self._get()
        limit = settings["limits"].get(limit_key)
        if limit and count > limit:
            raise ValidationError(
                self.env._(
                    "Your plan %(plan)s allows %(limit)s %(what)s; this would make %(count)s. "
                    "Upgrade the plan to add more.",
                    plan=settings["plan_name"] or settings["plan"] or "",
                    limit=limit,
                    what=what,
                    count=count,
                )
            )
