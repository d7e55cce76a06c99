"""Greeting occasions from the ``holidays`` package (China's lunar festivals included), shared by
the simulator and the feature builders so both see the same calendar."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

FESTIVALS: tuple[str, ...] = (
    "New Year's Day",
    "Chinese New Year (Spring Festival)",
    "Dragon Boat Festival",
    "Mid-Autumn Festival",
    "National Day",
)
GREETING_WINDOW_DAYS = 3
"""A greeting counts for an occasion when sent up to this many days before it, or on the day."""


@lru_cache(maxsize=64)
def festival_days(first_year: int, last_year: int, country: str = "CN") -> tuple[dt.date, ...]:
    """The first day of each greeting festival in the years given (substituted days off excluded)."""
    cal = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    firsts: dict[tuple[int, str], dt.date] = {}
    for day, name in cal.items():
        base = name.replace(" (observed)", "")
        if base in FESTIVALS:
            key = (day.year, base)
            firsts[key] = min(firsts.get(key, day), day)
    return tuple(sorted(firsts.values()))
