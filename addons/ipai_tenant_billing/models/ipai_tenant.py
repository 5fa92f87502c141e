import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.ipai_platform_rules import jobs, lifecycle
from odoo.exceptions import AccessError, UserError, ValidationError

from ..billing import periods
from .ipai_tenant_suspension import AUTOMATIC_REASONS, REASONS
from .res_config_settings import (
    ARCHIVE_DAYS_PARAM,
    ARCHIVE_WARNING_DAYS,
    TRIAL_REMINDER_DAYS,
    setting,
)

# Kept by the billing code alone, like the core's engine fields.
BILLING_FIELDS = frozenset(
    {
        "subscription_start",
        "subscription_end",
        "billed_until",
        "overage_billed_month",
        "trial_reminder_sent",
        "archive_warning_sent",
    }
)
# The terms of the deal: whom the platform invoices and when a trial ends.
# A provider manager reaches its sub-tenants but may not redirect their
# invoices to another partner, stop paying for them, or extend a trial.
PLATFORM_TERMS_FIELDS = ("partner_id", "bill_to_provider", "trial_end")
PLATFORM_MANAGER_GROUP = "ipai_tenant_core.group_platform_manager"
BILLING_DATE_KEY = "ipai_billing_date"
_logger = logging.getLogger(__name__)


class IpaiTenant(models.Model):
    _inherit = "ipai.tenant"

    partner_id = fields.Many2one(
        "res.partner",
        string="Billing contact",
        ondelete="restrict",
        copy=False,
        help="Who receives this tenant's invoices; made from the tenant when first billed.",
    )
    bill_to_provider = fields.Boolean(
        string="Provider pays",
        copy=False,
        help="The provider is invoiced for this sub-tenant (white label) instead of the "
        "tenant itself.",
    )
    can_set_billing_terms = fields.Boolean(
        compute="_compute_can_set_billing_terms",
        help="Platform managers set whom a tenant's invoices go to and when its trial ends.",
    )
    billing_partner_id = fields.Many2one(
        "res.partner", compute="_compute_billing_partner", string="Invoiced to"
    )
    billing_email = fields.Char(compute="_compute_billing_partner")
    billing_period = fields.Selection(
        [(periods.MONTHLY, "Monthly"), (periods.ANNUAL, "Annual")],
        default=periods.MONTHLY,
        required=True,
        tracking=True,
    )
    # Not copied: a duplicate is a new customer, whose terms the platform sets.
    trial_end = fields.Date(copy=False)
    subscription_start = fields.Date(readonly=True, copy=False, help="First day active.")
    subscription_end = fields.Date(readonly=True, copy=False, help="Day archived.")
    billed_until = fields.Date(
        readonly=True, copy=False, help="Last day already invoiced (invoices are in advance)."
    )
    current_period_start = fields.Date(compute="_compute_current_period")
    current_period_end = fields.Date(compute="_compute_current_period")
    overage_billed_month = fields.Char(readonly=True, copy=False)
    trial_days_left = fields.Integer(compute="_compute_trial_days_left")
    trial_reminder_sent = fields.Integer(
        readonly=True, copy=False, help="Days before the trial's end of the last reminder sent."
    )
    archive_warning_sent = fields.Boolean(readonly=True, copy=False)
    suspension_ids = fields.One2many("ipai.tenant.suspension", "tenant_id", string="Suspensions")
    suspension_reason = fields.Char(compute="_compute_suspension_reason")
    scheduled_archive_date = fields.Date(
        compute="_compute_suspension_reason",
        help="When a tenant suspended for an automatic reason is archived (backup first).",
    )
    plan_change_ids = fields.One2many("ipai.tenant.plan.change", "tenant_id", string="Plan changes")

    @api.constrains("bill_to_provider", "parent_id", "plan_id")
    def _check_white_label(self):
        """ "Provider pays" is white label, a feature of the provider's plan:
        checked on the stored tenant, whoever wrote it, and when a provider
        moves to a plan without it while it still pays for sub-tenants."""
        for tenant in self.sudo():
            provider = tenant.parent_id
            if tenant.bill_to_provider and not provider.plan_id.feature_white_label:
                raise ValidationError(
                    self.env._(
                        "The plan of %(provider)s does not include white label: %(tenant)s "
                        "cannot be invoiced to it.",
                        provider=provider.code or "-",
                        tenant=tenant.code,
                    )
                )
            paid_for = tenant.child_ids.filtered("bill_to_provider")
            if paid_for and not tenant.plan_id.feature_white_label:
                raise ValidationError(
                    self.env._(
                        "%(provider)s pays for %(tenants)s (white label); its plan must include "
                        "white label.",
                        provider=tenant.code,
                        tenants=", ".join(paid_for.mapped("code")),
                    )
                )

    @api.constrains("billing_period", "plan_id")
    def _check_priced_period(self):
        """A paid plan bills a period only at a price: a plan without an
        annual price would otherwise bill an annual tenant nothing."""
        for tenant in self:
            plan = tenant.plan_id
            priced = plan.price_monthly or plan.price_annual
            if plan and priced and not plan._price_for(tenant.billing_period):
                raise ValidationError(
                    self.env._(
                        "The plan %(plan)s has no %(period)s price; choose another billing "
                        "period for %(tenant)s.",
                        plan=plan.name,
                        period=dict(self._fields["billing_period"].selection)[
                            tenant.billing_period
                        ].lower(),
                        tenant=tenant.code,
                    )
                )

    # ------------------------------------------------------------------ compute

    @api.depends_context("uid")
    def _compute_can_set_billing_terms(self):
        self.can_set_billing_terms = self._is_platform_manager()

    @api.depends("partner_id", "bill_to_provider", "parent_id.partner_id", "admin_email")
    def _compute_billing_partner(self):
        for tenant in self:
            payer = tenant._payer()
            tenant.billing_partner_id = payer.partner_id
            tenant.billing_email = payer.partner_id.email or payer.admin_email

    @api.depends("billing_period", "subscription_start")
    def _compute_current_period(self):
        today = self._billing_today()
        for tenant in self:
            start, end = periods.period_bounds(
                tenant.billing_period, tenant.subscription_start or today, today
            )
            tenant.current_period_start = start if tenant.subscription_start else False
            tenant.current_period_end = end if tenant.subscription_start else False

    @api.depends("trial_end")
    def _compute_trial_days_left(self):
        today = self._billing_today()
        for tenant in self:
            tenant.trial_days_left = (tenant.trial_end - today).days if tenant.trial_end else 0

    @api.depends("suspension_ids.is_open", "suspension_ids.reason")
    def _compute_suspension_reason(self):
        labels = dict(REASONS)
        after_days = setting(self.env, ARCHIVE_DAYS_PARAM)
        for tenant in self:
            reasons = tenant.suspension_ids.filtered("is_open").mapped("reason")
            tenant.suspension_reason = (
                ", ".join(labels[reason] for reason in sorted(set(reasons))) or False
            )
            tenant.scheduled_archive_date = tenant._archive_date(after_days)

    def _archive_date(self, after_days):
        """Suspended for automatic reasons only: archived ``after_days``
        after the first of them; an operator's suspension never archives."""
        automatic = self._open_suspensions(AUTOMATIC_REASONS)
        if (
            self.state != lifecycle.SUSPENDED
            or not automatic
            or self._open_suspensions(("manual",))
        ):
            return False
        return min(automatic.mapped("date_start")) + timedelta(days=after_days)

    # -------------------------------------------------------------- helpers

    @api.model
    def _billing_today(self):
        """The billing day: today, or the date a run, the command line or a
        test gives. Never a date from a user's request: a backdated plan
        change would credit months already paid."""
        day = self.env.is_superuser() and self.env.context.get(BILLING_DATE_KEY)
        return fields.Date.to_date(day) if day else fields.Date.context_today(self)

    def _payer(self):
        """The tenant whose partner pays for this one: its provider when the
        provider pays, itself otherwise."""
        self.ensure_one()
        if self.bill_to_provider and self.parent_id.tenant_type == "provider":
            return self.parent_id
        return self

    def _billing_partner(self):
        """The invoiced partner, made from the paying tenant on first use."""
        payer = self._payer().sudo()
        if not payer.partner_id:
            payer.partner_id = (
                self.env["res.partner"]
                .sudo()
                .create({"name": payer.name, "email": payer.admin_email, "is_company": True})
            )
        return payer.partner_id

    def _plan_history(self):
        """(effective date, old plan, new plan) of each change, oldest first."""
        self.ensure_one()
        return [
            (change.date, change.old_plan_id, change.new_plan_id)
            for change in self.plan_change_ids.sorted(lambda c: (c.date, c.id))
        ]

    def _without_open_job(self):
        """These tenants minus those with a queued or running job (asked of
        the database: the computed is_busy may predate a job queued since)."""
        busy = (
            self.env["ipai.tenant.job"]
            .sudo()
            .search([("tenant_id", "in", self.ids), ("state", "in", jobs.OPEN_STATES)])
            .tenant_id
        )
        return self - busy

    def _open_suspensions(self, reasons=None):
        return self.suspension_ids.filtered(
            lambda s: s.is_open and (reasons is None or s.reason in reasons)
        )

    # -------------------------------------------------------------- guards

    def _check_engine_fields(self, vals):
        super()._check_engine_fields(vals)
        if self.env.su:
            return
        # Any value, False included: clearing billed_until or a reminder
        # flag would re-bill a tenant or send its mails again. A form never
        # sends these read-only fields; create passes only the truthy ones.
        touched = BILLING_FIELDS & set(vals)
        if touched:
            raise AccessError(self.env._("%s can only be set by billing.", self._labels(touched)))

    def _labels(self, field_names):
        return ", ".join(self._fields[name].string for name in sorted(field_names))

    def _is_platform_manager(self):
        return self.env.su or self.env.user.has_group(PLATFORM_MANAGER_GROUP)

    def _check_platform_terms(self, vals):
        """Only platform managers set the terms; a value a client sends
        unchanged (the form may send the trial end it computed) is no change."""
        if self._is_platform_manager():
            return
        changed = [
            name
            for name in PLATFORM_TERMS_FIELDS
            if name in vals and any(tenant._terms_value(name) != vals[name] for tenant in self)
        ]
        if changed:
            raise AccessError(
                self.env._("Only platform managers change %s.", self._labels(changed))
            )

    def _terms_value(self, name):
        value = self[name]
        if isinstance(value, models.BaseModel):
            return value.id
        if name == "trial_end":
            return fields.Date.to_string(value) if value else False
        return value

    def _check_new_tenant_terms(self):
        """A new tenant's terms come from its plan, whatever the request
        carried (values or context defaults): for anyone but a platform
        manager, no billing contact or provider-pays flag, the plan's trial
        end, and nothing billed yet."""
        if self.env.su:
            return
        for tenant in self.sudo():
            billed = [name for name in BILLING_FIELDS if tenant[name]]
            if billed:
                raise AccessError(
                    self.env._("%s can only be set by billing.", self._labels(billed))
                )
            if self._is_platform_manager():
                continue
            plan = tenant.plan_id
            default_end = (
                fields.Date.context_today(self) + timedelta(days=plan.trial_days)
                if plan.trial_days
                else False
            )
            wrong = [name for name in ("partner_id", "bill_to_provider") if tenant[name]]
            if (tenant.trial_end or False) != default_end:
                wrong.append("trial_end")
            if wrong:
                raise AccessError(self.env._("Only platform managers set %s.", self._labels(wrong)))

    def _plan_change_problem(self, plan):
        """Why this tenant may not move to ``plan`` now, or None."""
        self.ensure_one()
        if plan == self.plan_id:
            return self.env._("%s is already on this plan.", self.code)
        if not plan.active:
            return self.env._("The plan %s is archived; choose an active plan.", plan.name)
        if plan._is_trial() and not self.plan_id._is_trial() and not self._is_platform_manager():
            return self.env._(
                "%s is on a paid plan; only the platform can put it back on a trial.", self.code
            )
        if not self._without_open_job():
            return self.env._(
                "Tenant %s has an open job; change the plan once it has finished.", self.code
            )
        excess = self._usage_excess(plan)
        if excess:
            return self.env._(
                "%(tenant)s cannot move to %(plan)s while its usage exceeds the plan: %(excess)s.",
                tenant=self.code,
                plan=plan.name,
                excess="; ".join(excess),
            )
        return None

    def _usage_excess(self, plan):
        """Each limit of ``plan`` the tenant's current usage is over."""
        self.ensure_one()
        metric = self.metric_ids.sorted("date", reverse=True)[:1]
        companies = metric.companies if metric else 0
        users = max(self.user_count, metric.internal_users if metric else 0)
        storage_gb = max(self.storage_mb, metric.storage_mb if metric else 0) / 1024
        limits = (
            (users, plan.max_users, self.env._("%(used)s users (limit %(limit)s)")),
            (companies, plan.max_companies, self.env._("%(used)s companies (limit %(limit)s)")),
            (
                storage_gb,
                plan.max_storage_gb,
                self.env._("%(used).2f GB of storage (limit %(limit)g GB)"),
            ),
        )
        return [
            text % {"used": used, "limit": limit} for used, limit, text in limits if used > limit
        ]

    # ---------------------------------------------------------------- CRUD

    def _guarded_fields(self):
        guarded = super()._guarded_fields() | BILLING_FIELDS
        if not self._is_platform_manager():
            guarded |= set(PLATFORM_TERMS_FIELDS)
        return guarded

    @api.model_create_multi
    def create(self, vals_list):
        tenants = super().create(vals_list)
        tenants._check_new_tenant_terms()
        return tenants

    def write(self, vals):
        self._check_platform_terms(vals)
        changes = []
        if "plan_id" in vals:
            plan = self.env["ipai.tenant.plan"].browse(vals["plan_id"])
            for tenant in self.filtered(lambda t: t.state != lifecycle.DRAFT and t.plan_id != plan):
                problem = tenant._plan_change_problem(plan)
                if problem:
                    raise UserError(problem)
                changes.append((tenant, tenant.plan_id, plan))
        if "billing_period" in vals and any(
            t.billed_until and t.billing_period != vals["billing_period"] for t in self
        ):
            raise UserError(
                self.env._("The billing period of a tenant that was already invoiced is kept.")
            )
        result = super().write(vals)
        for tenant, old_plan, new_plan in changes:
            # From today on; days already invoiced are settled on the next
            # invoice (see billing/periods.plan_change_settlement).
            self.env["ipai.tenant.plan.change"].sudo().create(
                {
                    "tenant_id": tenant.id,
                    "date": self._billing_today(),
                    "old_plan_id": old_plan.id,
                    "new_plan_id": new_plan.id,
                    "billed_until": tenant.billed_until,
                }
            )
            if old_plan._is_trial() and not new_plan._is_trial():
                # A converted trial is no longer expired. The reason only is
                # closed here (the change_plan job comes next); the daily
                # cron reactivates the tenant once that job is done.
                tenant._open_suspensions(("trial_expired",)).sudo().write(
                    {"date_end": self._billing_today()}
                )
        return result

    def _set_state_from_engine(self, state):
        before = self.state
        result = super()._set_state_from_engine(state)
        today = self._billing_today()
        if state == lifecycle.ACTIVE and not self.subscription_start:
            self.sudo().subscription_start = today
        elif (
            state == lifecycle.ARCHIVED and before != lifecycle.ARCHIVED and self.subscription_start
        ):
            self.sudo().subscription_end = today
        if state == lifecycle.ACTIVE and before == lifecycle.SUSPENDED:
            self.sudo().archive_warning_sent = False
        return result

    # ------------------------------------------------------------ suspension

    def action_suspend(self):
        # The automatic reasons come from billing's own code; a user's
        # request always suspends "manual" (a reason is not the caller's to pick).
        reason = "manual"
        if self.env.is_superuser():
            reason = self.env.context.get("ipai_suspension_reason", reason)
        self._record_suspension(reason)
        return super().action_suspend()

    def action_reactivate(self):
        """Platform staff lift every reason (an operator's decision, written
        in the tenant's history); anyone else lifts only a manual
        suspension: an unpaid invoice or an ended trial is lifted by paying
        or converting, never by a provider's button."""
        if not self._is_platform_staff():
            for tenant in self:
                held = tenant._open_suspensions(AUTOMATIC_REASONS)
                if held:
                    raise UserError(
                        self.env._(
                            "%(tenant)s is suspended for: %(reasons)s. It is reactivated "
                            "when the invoice is paid or the trial converted to a paid plan.",
                            tenant=tenant.code,
                            reasons=", ".join(
                                dict(REASONS)[reason]
                                for reason in sorted(set(held.mapped("reason")))
                            ),
                        )
                    )
        result = super().action_reactivate()
        self.sudo()._open_suspensions().write({"date_end": self._billing_today()})
        return result

    def _record_suspension(self, reason, move=None):
        for tenant in self:
            open_same = tenant._open_suspensions((reason,)).filtered(
                lambda s: not move or s.move_id == move
            )
            if not open_same:
                self.env["ipai.tenant.suspension"].sudo().create(
                    {
                        "tenant_id": tenant.id,
                        "reason": reason,
                        "date_start": self._billing_today(),
                        "move_id": move.id if move else False,
                    }
                )

    def _suspend_for(self, reason, move=None):
        """Suspend automatically for ``reason``; a tenant already suspended
        (or busy with a job) only gets the reason recorded, and the daily
        cron suspends it once its job is done."""
        self._record_suspension(reason, move)
        ready = self.filtered(lambda t: t.state == lifecycle.ACTIVE)._without_open_job()
        if ready:
            ready.with_context(ipai_suspension_reason=reason).action_suspend()

    def _lift_suspension(self, reason, move=None):
        """Lift ``reason`` (for ``move`` only when given); reactivate the
        tenants no other reason keeps suspended."""
        for tenant in self:
            lifted = tenant._open_suspensions((reason,)).filtered(
                lambda s: not move or s.move_id == move
            )
            lifted.sudo().write({"date_end": self._billing_today()})
            if not tenant._open_suspensions() and tenant.state == lifecycle.SUSPENDED:
                # A busy tenant is reactivated by the daily cron after its job.
                tenant._without_open_job().action_reactivate()

    # ----------------------------------------------------------------- crons

    @api.model
    def _cron_billing_daily(self, day=None):
        """Trial reminders and ends, suspensions owed, archives due, dunning.
        ``day`` replays a given day (tests, the command line)."""
        context = {BILLING_DATE_KEY: day} if day else {}
        tenants = self.with_context(**context)
        tenants._send_trial_reminders()
        tenants._expire_trials()
        tenants._enforce_suspensions()
        tenants._archive_long_suspended()
        self.env["account.move"].with_context(**context)._cron_dunning()
        return True

    def _trial_tenants(self):
        candidates = self.search([("state", "=", lifecycle.ACTIVE), ("trial_end", "!=", False)])
        return candidates.filtered(lambda t: t.plan_id._is_trial())

    def _send_trial_reminders(self):
        template = self.env.ref("ipai_tenant_billing.mail_template_trial_reminder")

        def remind(tenant):
            left = tenant.trial_days_left
            due = [days for days in TRIAL_REMINDER_DAYS if 0 < left <= days]
            # The nearest reminder not sent yet: a day the cron missed is
            # caught up the next day, never sent twice.
            if not due or (tenant.trial_reminder_sent and tenant.trial_reminder_sent <= min(due)):
                return
            template.send_mail(tenant.id)
            tenant.sudo().trial_reminder_sent = min(due)

        each_safely(self._trial_tenants(), remind, "trial reminder")

    def _expire_trials(self):
        today = self._billing_today()
        expired = self._trial_tenants().filtered(lambda t: t.trial_end <= today)
        each_safely(expired, lambda t: t._suspend_for("trial_expired"), "trial end")

    def _enforce_suspensions(self):
        """Reasons recorded or lifted while a job was running take effect now."""

        def suspend(tenant):
            reason = tenant._open_suspensions()[:1].reason
            tenant.with_context(ipai_suspension_reason=reason).action_suspend()

        owed = self.search(
            [("state", "=", lifecycle.ACTIVE), ("suspension_ids.is_open", "=", True)]
        )
        each_safely(owed._without_open_job(), suspend, "suspension")
        lifted = self.search([("state", "=", lifecycle.SUSPENDED), ("suspension_ids", "!=", False)])
        lifted = lifted._without_open_job().filtered(lambda t: not t._open_suspensions())
        each_safely(lifted, lambda t: t.action_reactivate(), "reactivation")

    def _archive_long_suspended(self):
        today = self._billing_today()
        after_days = setting(self.env, ARCHIVE_DAYS_PARAM)
        template = self.env.ref("ipai_tenant_billing.mail_template_archive_warning")

        def archive_or_warn(tenant):
            archive_on = tenant._archive_date(after_days)
            if not archive_on:
                return
            if today >= archive_on:
                tenant._without_open_job().action_archive_tenant()
            elif (
                today >= archive_on - timedelta(days=ARCHIVE_WARNING_DAYS)
                and not tenant.archive_warning_sent
            ):
                template.send_mail(tenant.id)
                tenant.sudo().archive_warning_sent = True

        each_safely(self.search([("state", "=", lifecycle.SUSPENDED)]), archive_or_warn, "archive")


def each_safely(records, action, what):
    """``action`` on each record in its own savepoint: one tenant's failure
    (a mail that does not render, a job refused) is logged and the others
    go on, as the core's usage cron does."""
    for record in records:
        try:
            with record.env.cr.savepoint():
                action(record)
        except Exception:
            _logger.warning("billing: %s of %s failed", what, record.display_name, exc_info=True)
