"""Which backups a grandfather-father-son policy keeps, in plain Python.

Calendar periods counted back from ``now``: the ``daily`` most recent days
(today included), the ``weekly`` most recent ISO weeks (Monday to Sunday,
this one included) and the ``monthly`` most recent calendar months (this one
included). In each period the newest backup is kept; the newest backup of
all is always kept, whatever its age. Everything else may be pruned.
docs/backups.md works an example through.

Manual backups (an operator's "back up now") are outside that rotation: they
take no period's place and are never removed to make the counts, but kept by
their own rule (``manual_kept``).
"""

from datetime import timedelta


def _monday(day):
    return day - timedelta(days=day.weekday())


def to_keep(backups, now, daily=7, weekly=4, monthly=12):
    """The keys of ``backups`` (an iterable of ``(key, datetime)``) to keep."""
    newest_first = sorted(backups, key=lambda item: item[1], reverse=True)
    if not newest_first:
        return set()
    today = now.date()
    kept = {newest_first[0][0]}
    taken = set()
    for key, when in newest_first:
        day = when.date()
        periods = []
        if (today - day).days < daily:
            periods.append(("day", day))
        if (_monday(today) - _monday(day)).days // 7 < weekly:
            periods.append(("week", _monday(day)))
        if (today.year * 12 + today.month) - (day.year * 12 + day.month) < monthly:
            periods.append(("month", (day.year, day.month)))
        for period in periods:
            if period not in taken:  # newest first: the first one seen is the period's newest
                taken.add(period)
                kept.add(key)
    return kept


def manual_kept(taken, now, days, not_before=None):
    """Whether a manual backup taken at ``taken`` is kept: for ``days`` days
    (0: always), and, for an archived tenant, at least as long as its other
    backups (those taken on or after ``not_before``)."""
    if not days or taken >= now - timedelta(days=days):
        return True
    return not_before is not None and taken >= not_before
