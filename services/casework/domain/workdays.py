"""Working-day arithmetic for referral deadlines: weekends and holidays do not count.

Holidays are Italy's national ones plus Milan's own (Sant'Ambrogio, 7 December). The ``holidays``
package is pure Python data; Sant'Ambrogio is added explicitly so the rule holds whatever the
package's version knows about Milan.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

SANT_AMBROGIO = (12, 7)


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> frozenset[date]:
    days = set(holidays.country_holidays("IT", subdiv="MI", years=year).keys())
    days.add(date(year, *SANT_AMBROGIO))
    return frozenset(days)


def is_holiday(day: date) -> bool:
    """Whether ``day`` is an Italian public holiday or a Milan one."""
    return day in _holidays_of(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a holiday in Milan."""
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself does not count).

    With ``days == 0`` the deadline is ``start`` itself (same-day answer).
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count
