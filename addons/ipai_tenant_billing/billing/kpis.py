"""SaaS KPIs from tenant histories, in plain Python.

One fact row per tenant and month (what the tenant contributes), and the
month's KPIs from a set of rows. Definitions (docs/billing.md):

- active: subscribed at the month's last day (started, not yet ended);
- MRR: sum of the monthly price of active tenants' plans on that day
  (an annual price counts as a twelfth); ARR = 12 * MRR;
- ARPU: MRR / paying tenants (active with a price above zero);
- new / churned: subscriptions that started / ended during the month;
- churn rate: churned / tenants active on the previous month's last day;
- trial conversion rate: trials converted to a paid plan during the month /
  trials that ended during the month (converted + expired).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .periods import ANNUAL, CENT, month_end, month_start, plan_segments


@dataclass
class TenantHistory:
    tenant: object  # anything hashable naming the tenant
    current_plan: object
    billing_period: str
    start: date | None  # first day subscribed (became active)
    end: date | None = None  # day it was archived
    changes: list = field(default_factory=list)  # (date, old_plan, new_plan)
    trial_converted: date | None = None
    trial_expired: date | None = None


@dataclass
class MonthFact:
    tenant: object
    plan: object
    month: date  # first day of the month
    active: bool
    active_at_start: bool
    paying: bool
    new: bool
    churned: bool
    trial_converted: bool
    trial_expired: bool
    mrr: Decimal


def _subscribed_on(history, day):
    return bool(history.start) and history.start <= day and (not history.end or history.end > day)


def _in_month(day, first, last):
    return bool(day) and first <= day <= last


def monthly_price(price_monthly, price_annual, billing_period):
    if billing_period == ANNUAL:
        return (Decimal(str(price_annual)) / 12).quantize(CENT, rounding=ROUND_HALF_UP)
    return Decimal(str(price_monthly))


def month_fact(history, month, prices):
    """``prices``: plan -> (monthly price, annual price)."""
    first, last = month_start(month), month_end(month)
    plan = plan_segments(history.changes, history.current_plan, last, last)[0][0]
    active = _subscribed_on(history, last)
    mrr = monthly_price(*prices[plan], history.billing_period) if active else Decimal(0)
    return MonthFact(
        tenant=history.tenant,
        plan=plan,
        month=first,
        active=active,
        active_at_start=_subscribed_on(history, first - timedelta(days=1)),
        paying=active and mrr > 0,
        new=_in_month(history.start, first, last),
        churned=_in_month(history.end, first, last),
        trial_converted=_in_month(history.trial_converted, first, last),
        trial_expired=_in_month(history.trial_expired, first, last),
        mrr=mrr,
    )


def _ratio(numerator, denominator):
    if not denominator:
        return Decimal(0)
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


def summarize(facts):
    """The KPIs of a set of fact rows (one month, or one month of a plan or
    a provider)."""
    mrr = sum((fact.mrr for fact in facts), Decimal(0))
    paying = sum(fact.paying for fact in facts)
    converted = sum(fact.trial_converted for fact in facts)
    expired = sum(fact.trial_expired for fact in facts)
    churned = sum(fact.churned for fact in facts)
    return {
        "mrr": mrr,
        "arr": mrr * 12,
        "arpu": (mrr / paying).quantize(CENT, rounding=ROUND_HALF_UP) if paying else Decimal(0),
        "active": sum(fact.active for fact in facts),
        "paying": paying,
        "new": sum(fact.new for fact in facts),
        "churned": churned,
        "churn_rate": _ratio(churned, sum(fact.active_at_start for fact in facts)),
        "trial_conversion_rate": _ratio(converted, converted + expired),
    }
