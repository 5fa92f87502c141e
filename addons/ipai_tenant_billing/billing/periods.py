"""Billing periods and daily proration.

A monthly tenant's periods are calendar months. An annual tenant's periods
are twelve months from the first day of the month its subscription started
(its anchor). Every amount is a daily share of a period's price:
``price * days / days_in_period``, rounded to the cent once per line.
"""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

MONTHLY = "monthly"
ANNUAL = "annual"
PERIOD_KINDS = (MONTHLY, ANNUAL)
CENT = Decimal("0.01")


def month_start(day):
    return day.replace(day=1)


def add_months(day, months):
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day):
    return add_months(day, 1) - timedelta(days=1)


def month_key(day):
    return f"{day.year:04d}-{day.month:02d}"


def period_bounds(kind, anchor, day):
    """(first, last) day of the ``kind`` period that contains ``day``."""
    if kind == MONTHLY:
        return month_start(day), month_end(day)
    if kind != ANNUAL:
        raise ValueError(f"unknown billing period {kind!r}")
    start = month_start(anchor)
    months = (day.year - start.year) * 12 + day.month - start.month
    first = add_months(start, (months // 12) * 12)
    return first, add_months(first, 12) - timedelta(days=1)


def split_by_period(kind, anchor, first, last):
    """[(period_first, period_last, piece_first, piece_last)] covering
    ``first``..``last`` (inclusive), one piece per period it touches."""
    pieces = []
    day = first
    while day <= last:
        period_first, period_last = period_bounds(kind, anchor, day)
        piece_last = min(period_last, last)
        pieces.append((period_first, period_last, day, piece_last))
        day = piece_last + timedelta(days=1)
    return pieces


def days(first, last):
    """Days from ``first`` to ``last``, both included."""
    return (last - first).days + 1


def prorate(price, period_first, period_last, first, last):
    """The share of a period's ``price`` for the days ``first``..``last``
    inside it, rounded half up to the cent."""
    share = Decimal(str(price)) * days(first, last) / days(period_first, period_last)
    return share.quantize(CENT, rounding=ROUND_HALF_UP)


def plan_segments(changes, current_plan, first, last):
    """Which plan was in force on each day of ``first``..``last``:
    [(plan, segment_first, segment_last)].

    ``changes`` are (effective_date, old_plan, new_plan) in date order; the
    new plan applies from its effective date on. Before the first change
    the first change's old plan applied; after the last, ``current_plan``.
    """
    changes = sorted(changes, key=lambda change: change[0])
    segments = []
    day = first
    while day <= last:
        upcoming = [change for change in changes if change[0] > day]
        past = [change for change in changes if change[0] <= day]
        if past:
            plan = past[-1][2]
        elif upcoming:
            plan = upcoming[0][1]
        else:
            plan = current_plan
        segment_last = min(last, upcoming[0][0] - timedelta(days=1)) if upcoming else last
        segments.append((plan, day, segment_last))
        day = segment_last + timedelta(days=1)
    return segments


def plan_change_settlement(kind, anchor, change_day, billed_until, old_price, new_price):
    """What a plan change on ``change_day`` settles for days already billed
    in advance (up to ``billed_until``): [(sign, period_first, period_last,
    first, last, amount)], a credit (-1) of the old plan's unused days and a
    charge (+1) of the new plan for the same days, per period."""
    if not billed_until or change_day > billed_until:
        return []
    lines = []
    for period_first, period_last, first, last in split_by_period(
        kind, anchor, change_day, billed_until
    ):
        credit = prorate(old_price, period_first, period_last, first, last)
        charge = prorate(new_price, period_first, period_last, first, last)
        lines.append((-1, period_first, period_last, first, last, credit))
        lines.append((1, period_first, period_last, first, last, charge))
    return lines
