"""Deadlines in working days (工作日).

Holidays and adjusted working weekends (调休) come from ``chinesecalendar``
for the years it knows, or from a ``HolidayYear`` an administrator loaded
(``tongban holidays-load``). A date in a year with neither is counted with
weekends only and the deadline is flagged provisional — never silently guessed.
"""

from __future__ import annotations

import datetime as dt
import time

import chinese_calendar

from tongban.cases.models import HolidayYear

SCHEDULE_CACHE_SECONDS = 60
_schedules: dict[int, tuple[float, tuple[frozenset[dt.date], frozenset[dt.date]] | None]] = {}


def _loaded_year(year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]] | None:
    """The loaded schedule of ``year``, re-read at most every minute, so a schedule an
    administrator loads reaches running web servers and workers without a restart."""
    cached = _schedules.get(year)
    if cached is not None and time.monotonic() - cached[0] < SCHEDULE_CACHE_SECONDS:
        return cached[1]
    row = HolidayYear.objects.filter(year=year).first()
    value = None
    if row is not None:
        value = (
            frozenset(dt.date.fromisoformat(d) for d in row.holidays),
            frozenset(dt.date.fromisoformat(d) for d in row.workdays),
        )
    _schedules[year] = (time.monotonic(), value)
    return value


def clear_schedule_cache() -> None:
    _schedules.clear()


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, known from an official schedule)."""
    loaded = _loaded_year(day.year)
    if loaded is not None:
        holidays, workdays = loaded
        if day in workdays:
            return True, True
        return day.weekday() < 5 and day not in holidays, True
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: dt.date, days: int) -> tuple[dt.date, bool]:
    """The date ``days`` working days after ``start`` (start itself not counted).

    Returns (date, provisional) where provisional is True if any day on the
    way lies in a year without an official schedule.
    """
    day = start
    counted = 0
    provisional = False
    while counted < days:
        day += dt.timedelta(days=1)
        working, known = is_working_day(day)
        provisional = provisional or not known
        if working:
            counted += 1
    return day, provisional


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(
        1
        for i in range(1, (end - start).days + 1)
        if is_working_day(start + dt.timedelta(days=i))[0]
    )
