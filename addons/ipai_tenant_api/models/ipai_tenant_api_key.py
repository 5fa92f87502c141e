"""Personal API keys of the REST API (controllers/), after Odoo's
res.users.apikeys and OCA's auth_api_key: the key is shown once, only its
SHA-256 is kept (a key is 32 random bytes, so a slow hash adds nothing but
latency to every request), looked up by a short public index and compared
with ``consteq``. A key acts as its user, with that user's groups, record
rules and tenant roles, nothing more."""

import hashlib
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import roles
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import clean_context, consteq

KEY_PREFIX = "ipai_"
INDEX_LENGTH = 12  # hex digits after the prefix: the public, looked-up part
DEFAULT_RATE_LIMIT_PARAM = "ipai_tenant_core.api_rate_limit_default"
DEFAULT_RATE_LIMIT = 60
DEFAULT_VALIDITY_DAYS = 90
PLATFORM_MANAGER_GROUP = "ipai_tenant_core.group_platform_manager"


def key_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


class IpaiApiKey(models.Model):
    _name = "ipai.api.key"
    _description = "REST API key"
    _inherit = ["ipai.text.input.mixin"]
    _order = "id desc"

    name = fields.Char(required=True, help="What the key is for, e.g. 'n8n signups'.")
    user_id = fields.Many2one(
        "res.users", required=True, readonly=True, ondelete="cascade", index=True
    )
    key_index = fields.Char(readonly=True, required=True, help="The key's public first part.")
    key_hash = fields.Char(readonly=True, required=True, groups="base.group_system")
    expires_at = fields.Datetime(readonly=True, help="Empty: the key never expires.")
    revoked_at = fields.Datetime(readonly=True, copy=False)
    revoked_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    last_used_at = fields.Datetime(readonly=True, copy=False)
    last_used_ip = fields.Char(string="Last used from", readonly=True, copy=False)
    rate_limit = fields.Integer(
        readonly=True,
        help="Requests per minute of this key; 0: the plan's API rate limit of the user's tenant.",
    )
    state = fields.Selection(
        [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")],
        compute="_compute_state",
    )

    _sql_constraints = [
        ("key_index_unique", "unique(key_index)", "Key index collision; generate again."),
        ("rate_limit_positive", "CHECK(rate_limit >= 0)", "A rate limit cannot be negative."),
    ]

    @api.depends("expires_at", "revoked_at")
    def _compute_state(self):
        now = fields.Datetime.now()
        for key in self:
            if key.revoked_at:
                key.state = "revoked"
            elif key.expires_at and key.expires_at <= now:
                key.state = "expired"
            else:
                key.state = "active"

    # ------------------------------------------------------------ management

    @api.model
    def _check_key_power(self, user):
        """Who manages whose keys: platform managers everyone's; an
        administrator (or owner) of a tenant their own, and those of people
        who hold roles only inside the subtrees they administer, none
        stronger than their own there, and no other rights on the platform
        (a key acts as its user: it must never give its maker more than
        they already have)."""
        if self.env.su or self.env["ipai.tenant"]._is_platform_manager():
            return
        administered = self.env.user.ipai_administered_tenant_ids
        if administered and (user == self.env.user or self._is_own_team(user)):
            return
        raise AccessError(
            self.env._(
                "API keys are managed by platform managers and by the owners and "
                "administrators of a tenant, for the people who work only on it."
            )
        )

    @api.model
    def _is_own_team(self, user):
        provider_group = self.env.ref("ipai_tenant_core.group_provider_manager")
        if user.sudo().groups_id - provider_group - provider_group.trans_implied_ids:
            return False  # other rights on the platform (staff, accounting...)
        assignments = self.env["ipai.tenant.assignment"].sudo().search([("user_id", "=", user.id)])
        for assignment in assignments:
            tenant = assignment.tenant_id.with_env(self.env)
            if not tenant.has_access("read"):
                return False
            own_role = tenant._role()
            if not roles.role_has(own_role, roles.ADMINISTER):
                return False
            if roles.ROLE_RANK[assignment.role] > roles.ROLE_RANK[own_role]:
                return False
        return bool(assignments)

    @api.model
    def _generate(self, user, name, expires_at=None, rate_limit=0, days=None):
        """Make a key for ``user`` and return it with its plain value, which
        is shown this once and never stored. ``expires_at`` defaults to
        ``days`` from now, and ``days`` to the longest validity the plan
        allows (``_plan_caps``); ``days=0`` with no date makes a key that
        never expires (platform managers only)."""
        # Read as the platform: a user outside the caller's sight gets the
        # same refusal as any other it may not make keys for.
        user = self.env["res.users"].sudo().browse(int(user)).exists()
        if not user or not user.active or user.share:
            raise UserError(self.env._("API keys are for active internal users only."))
        self._check_key_power(user)
        if not (name or "").strip():
            raise UserError(self.env._("Give the key a name that says what it is for."))
        if days is None:
            days = self._plan_caps(user)[0] or DEFAULT_VALIDITY_DAYS
        if int(days) < 0:
            raise UserError(self.env._("A key is valid for 0 days (never expires) or more."))
        if not expires_at and days:
            expires_at = fields.Datetime.now() + timedelta(days=int(days))
        if expires_at and fields.Datetime.to_datetime(expires_at) <= fields.Datetime.now():
            raise UserError(self.env._("A key cannot expire in the past."))
        if not expires_at and not self._maker_is_platform_manager():
            raise UserError(self.env._("Only platform managers make keys that never expire."))
        if int(rate_limit or 0) < 0:
            raise UserError(self.env._("A rate limit cannot be negative."))
        if not self._maker_is_platform_manager() and not self._api_allowed(user):
            raise AccessError(self._api_refusal())
        index = KEY_PREFIX + secrets.token_hex(INDEX_LENGTH // 2)
        plain = f"{index}_{secrets.token_urlsafe(32)}"
        # The checks above are the caller's; the record is written by the
        # platform (no group may create keys through the ORM), in a context
        # without the caller's default_* keys. The plan's caps are checked
        # on the stored key (_check_plan_caps).
        key = (
            self.sudo()
            .with_context(clean_context(self.env.context))
            .create(
                {
                    "name": name.strip(),
                    "user_id": user.id,
                    "key_index": index,
                    "key_hash": key_hash(plain),
                    "expires_at": expires_at,
                    "rate_limit": int(rate_limit or 0),
                }
            )
            .with_env(self.env)
        )
        key._audit("api_key:create", {"key": (False, index), "user": (False, user.login)})
        return key, plain

    @api.model
    def action_generate(self, user_id, name, days=None, rate_limit=0):
        """RPC entry point: returns the plain key (shown once) and its id."""
        key, plain = self._generate(user_id, name, days=days, rate_limit=rate_limit)
        return {"id": key.id, "key": plain, "expires_at": fields.Datetime.to_string(key.expires_at)}

    def action_revoke(self):
        for key in self:
            if key.user_id != self.env.user:
                self._check_key_power(key.user_id)
        keys = self.filtered(lambda k: not k.revoked_at)
        keys.sudo().write({"revoked_at": fields.Datetime.now(), "revoked_by_id": self.env.uid})
        for key in keys:
            key._audit("api_key:revoke", {"key": (key.key_index, False)})
        return True

    # ------------------------------------------------------------ plan caps

    @api.model
    def _maker_is_platform_manager(self):
        """Whether the person making or changing a key is a platform manager.
        The real user, even under sudo (keys are written as superuser): the
        command line and the crons run as the superuser, who is one."""
        return self.env.user.has_group(PLATFORM_MANAGER_GROUP)

    @api.model
    def _user_plans(self, user):
        """The plans that govern ``user``'s keys: those of the tenants the
        user holds a role on (a provider's staff: the provider's), else the
        platform owner's (platform staff)."""
        user = user.sudo()
        plans = user.ipai_assignment_ids.tenant_id.plan_id
        if not plans:
            owner = (
                self.env["ipai.tenant"]
                .sudo()
                .search([("tenant_type", "=", "platform_owner")], limit=1)
            )
            plans = owner.plan_id
        return plans

    @api.model
    def _plan_caps(self, user):
        """(longest validity in days, highest requests per minute) that
        anyone but a platform manager may give ``user``'s keys: the most
        generous of the user's plans. A rate of 0 is no cap (a plan with no
        rate limit); (0, 0) when no plan is known."""
        plans = self._user_plans(user)
        days = max(plans.mapped("api_key_max_days") or [0])
        rates = plans.mapped("api_rate_limit")
        rate = 0 if not rates or 0 in rates else max(rates)
        return days, rate

    @api.model
    def _api_allowed(self, user):
        """Whether ``user``'s plans include API access (the plan flag)."""
        return any(self._user_plans(user).mapped("feature_api"))

    @api.model
    def _api_refusal(self):
        return self.env._("The plan of your tenant does not include API access.")

    @api.constrains("expires_at", "rate_limit", "user_id")
    def _check_plan_caps(self):
        """On the stored key, whatever path wrote it: a key made or changed
        by anyone but a platform manager expires within the plan's longest
        validity and asks for no more requests than the plan allows."""
        if self._maker_is_platform_manager():
            return
        for key in self.sudo():
            max_days, max_rate = self._plan_caps(key.user_id)
            start = key.create_date or fields.Datetime.now()
            if not key.expires_at:
                raise ValidationError(
                    self.env._("Only platform managers make keys that never expire.")
                )
            if max_days and key.expires_at > start + timedelta(days=max_days, minutes=1):
                raise ValidationError(
                    self.env._("An API key on this plan is valid for at most %s days.", max_days)
                )
            if max_rate and key.rate_limit > max_rate:
                raise ValidationError(
                    self.env._(
                        "An API key on this plan makes at most %s requests a minute.", max_rate
                    )
                )

    def _audit(self, action, changes):
        self.env["ipai.audit.log"]._record(self.env["ipai.tenant"], action, changes)

    # -------------------------------------------------------- authentication

    @api.model
    def _authenticate(self, plain):
        """The active key whose value is ``plain``, or an empty recordset.
        Called as superuser by the API before anyone is known."""
        if not plain or not plain.startswith(KEY_PREFIX):
            return self.browse()
        index = plain[: len(KEY_PREFIX) + INDEX_LENGTH]
        self.env.cr.execute(
            """SELECT k.id, k.key_hash FROM ipai_api_key k JOIN res_users u ON u.id = k.user_id
                WHERE k.key_index = %s AND k.revoked_at IS NULL AND u.active
                  AND (k.expires_at IS NULL OR k.expires_at > now() at time zone 'utc')""",
            [index],
        )
        row = self.env.cr.fetchone()
        if not row or not consteq(row[1], key_hash(plain)):
            return self.browse()
        return self.browse(row[0])

    def _requests_per_minute(self):
        """The key's own limit, else the highest API rate limit among the
        plans of the tenants its user holds a role on, else the platform
        owner's plan (platform staff), else the platform's default. 0 means
        not limited."""
        self.ensure_one()
        if self.rate_limit:
            return self.rate_limit
        tenants = self.sudo().user_id.ipai_assignment_ids.tenant_id
        if not tenants:
            tenants = (
                self.env["ipai.tenant"]
                .sudo()
                .search([("tenant_type", "=", "platform_owner")], limit=1)
            )
        limits = tenants.plan_id.mapped("api_rate_limit")
        if limits:
            return max(limits)
        param = self.env["ir.config_parameter"].sudo().get_param(DEFAULT_RATE_LIMIT_PARAM)
        return int(param or DEFAULT_RATE_LIMIT)

    def _record_use(self, address):
        self.ensure_one()
        self.env.cr.execute(
            """UPDATE ipai_api_key SET last_used_at = now() at time zone 'utc', last_used_ip = %s
                WHERE id = %s""",
            [address, self.id],
        )
