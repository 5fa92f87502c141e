"""The control plane's metrics: read from the platform database when
Prometheus scrapes, never kept between scrapes (any worker of any node
answers the same), in Prometheus' text format through prometheus_client.

Labels are bounded: states and job kinds (selections), plan codes, tenant
codes (the active tenants) and currencies. No free text, no error message.
A series that can be zero is written as zero rather than left out, so a
rule comparing it (`== 0`, `delta(...)`) sees it."""

import hmac
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from odoo import fields
from odoo.addons.ipai_platform_rules import jobs, lifecycle
from odoo.addons.ipai_tenant_billing.billing import kpis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily

TOKEN_PARAM = "ipai_platform_metrics.token"
PREFIX = "ipai"
# A due job (queued, its retry time reached) has waited since this: its
# retry time if it has one, else its creation (the runner's DUE_JOBS).
OLDEST_DUE_JOB = """
    SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC')
                              - min(coalesce(next_retry_at, create_date)))
      FROM ipai_tenant_job
     WHERE state = %s
       AND (next_retry_at IS NULL OR next_retry_at <= now() AT TIME ZONE 'UTC')
"""


def ensure_token(env):
    """The scrape token, made once (at install) when there is none."""
    params = env["ir.config_parameter"].sudo()
    if not params.get_param(TOKEN_PARAM):
        params.set_param(TOKEN_PARAM, secrets.token_urlsafe(32))


def token_matches(env, presented):
    """Whether ``presented`` is the scrape token (constant time); never when
    the platform has no token (a neutralized copy)."""
    expected = env["ir.config_parameter"].sudo().get_param(TOKEN_PARAM) or ""
    return bool(expected and presented) and hmac.compare_digest(
        presented.encode(), expected.encode()
    )


def exposition(env):
    """The metrics of the platform database ``env`` (superuser: it reads
    counts across every tenant), in the text format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(env))
    return generate_latest(registry)


def _selection(model, field):
    """The values of a selection field, those other addons add included."""
    return model._fields[field].get_values(model.env)


def _gauge(name, documentation, labels=()):
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


class PlatformCollector:
    """A prometheus_client collector: each ``collect`` reads the database."""

    def __init__(self, env):
        self.env = env

    def collect(self):
        yield self._tenants()
        yield from self._jobs()
        yield self._steps()
        yield from self._pool()
        yield from self._backups()
        yield self._webhook_deliveries()
        yield from self._billing()

    def _tenants(self):
        tenants = self.env["ipai.tenant"]
        counts = {
            (plan.code, state): count
            for plan, state, count in tenants._read_group([], ["plan_id", "state"], ["__count"])
        }
        plans = set(self.env["ipai.tenant.plan"].search([]).mapped("code"))
        plans |= {plan for plan, _state in counts}
        family = _gauge("tenants", "Tenants by state and plan.", ("state", "plan"))
        for plan in sorted(plans):
            for state, _label in lifecycle.STATES:
                family.add_metric([state, plan], counts.get((plan, state), 0))
        return family

    def _jobs(self):
        model = self.env["ipai.tenant.job"]
        counts = {
            (kind, state): count
            for kind, state, count in model._read_group([], ["job_type", "state"], ["__count"])
        }
        family = _gauge("jobs", "Engine jobs by kind and state.", ("kind", "state"))
        for kind in _selection(model, "job_type"):
            for state, _label in jobs.STATES:
                family.add_metric([kind, state], counts.get((kind, state), 0))
        yield family
        self.env.cr.execute(OLDEST_DUE_JOB, [jobs.QUEUED])
        (age,) = self.env.cr.fetchone()
        yield GaugeMetricFamily(
            f"{PREFIX}_job_queue_oldest_age_seconds",
            "How long the oldest due queued job has waited for the runner (0: none waits).",
            value=max(float(age or 0), 0.0),
        )

    def _steps(self):
        """Finished steps by step code: rate(_sum) / rate(_count) is a
        step's mean duration."""
        done = self.env["ipai.tenant.job.step"]._read_group(
            [("state", "=", "done")], ["name"], ["__count", "duration:sum"]
        )
        family = SummaryMetricFamily(
            f"{PREFIX}_job_step_duration_seconds",
            "Time the engine's finished steps took, by step.",
            labels=["step"],
        )
        for step, count, seconds in done:
            family.add_metric([step], count_value=count, sum_value=seconds or 0.0)
        return family

    def _pool(self):
        members = self.env["ipai.tenant.pool.member"]
        counts = {
            (plan.code, state): count
            for plan, state, count in members._read_group([], ["plan_id", "state"], ["__count"])
        }
        pooled = self.env["ipai.tenant.plan"].search([("pool_size", ">", 0)])
        size = _gauge("pool_size", "Ready databases each plan's warm pool keeps.", ("plan",))
        for plan in pooled.sorted("code"):
            size.add_metric([plan.code], plan.pool_size)
        yield size
        family = _gauge("pool_members", "Warm pool members by plan and state.", ("plan", "state"))
        for plan in sorted(set(pooled.mapped("code")) | {plan for plan, _state in counts}):
            for state in _selection(members, "state"):
                family.add_metric([plan, state], counts.get((plan, state), 0))
        yield family

    def _backups(self):
        tenants = self.env["ipai.tenant"].search([("state", "=", lifecycle.ACTIVE)], order="code")
        backups = self.env["ipai.tenant.backup"]
        newest = dict(
            backups._read_group(
                [("tenant_id", "in", tenants.ids)], ["tenant_id"], ["backup_date:max"]
            )
        )
        # Not fields.Datetime.now(): it drops the microseconds the dates keep.
        now = datetime.now(UTC).replace(tzinfo=None)
        family = _gauge(
            "tenant_last_backup_age_seconds",
            "Seconds since the newest backup of each active tenant "
            "(since the tenant was made when it has none).",
            ("tenant",),
        )
        for tenant in tenants:
            since = newest.get(tenant) or tenant.create_date
            family.add_metric([tenant.code], max((now - since).total_seconds(), 0.0))
        yield family
        tested = dict(backups._read_group([], ["test_state"], ["__count"]))
        results = _gauge("backups", "Backups kept, by their restore test's result.", ("test",))
        for state in _selection(backups, "test_state"):
            results.add_metric([state], tested.get(state, 0))
        yield results

    def _webhook_deliveries(self):
        deliveries = self.env["ipai.webhook.delivery"]
        counts = dict(deliveries._read_group([], ["state"], ["__count"]))
        family = _gauge(
            "webhook_deliveries",
            "Webhook and Slack deliveries by state (failed: every attempt used, or disabled).",
            ("state",),
        )
        for state in _selection(deliveries, "state"):
            family.add_metric([state], counts.get(state, 0))
        return family

    def _billing(self):
        """MRR and subscribed/paying tenants today, as billing/kpis.py
        defines them for a month's last day, from the current plans."""
        today = fields.Date.context_today(self.env["ipai.tenant"])
        subscribed = self.env["ipai.tenant"]._read_group(
            [
                ("subscription_start", "<=", today),
                "|",
                ("subscription_end", "=", False),
                ("subscription_end", ">", today),
            ],
            ["plan_id", "billing_period"],
            ["__count"],
        )
        mrr = defaultdict(Decimal)
        paying = active = 0
        for plan, period, count in subscribed:
            price = kpis.monthly_price(plan.price_monthly, plan.price_annual, period)
            mrr[plan.currency_id.name] += price * count
            active += count
            paying += count if price > 0 else 0
        family = _gauge("billing_mrr", "Monthly recurring revenue now, by currency.", ("currency",))
        for currency in sorted(mrr):
            family.add_metric([currency], float(mrr[currency]))
        yield family
        yield GaugeMetricFamily(
            f"{PREFIX}_billing_subscribed_tenants", "Tenants subscribed today.", value=active
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_billing_paying_tenants",
            "Tenants subscribed today on a plan with a price above zero.",
            value=paying,
        )
