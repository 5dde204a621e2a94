"""Dates and times as Chinese documents print them, in Beijing time.

``date_cn(2026-12-01)`` → ``2026年12月1日``; ``datetime_cn(<aware datetime>)`` →
``2026年12月1日 11:06`` (the moment converted to Asia/Shanghai first). Both accept the ISO
strings the signed records carry (``2026-12-01``, ``2026-12-01T11:06:27+08:00``) and answer
``""`` for ``None`` or ``""``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


def _moment(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a naive datetime has no Beijing time")
    return value.astimezone(BEIJING)


def date_cn(value: dt.date | dt.datetime | str | None) -> str:
    """``2026年12月1日``; a datetime is converted to Beijing time first."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = (
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" in value
            else (dt.date.fromisoformat(value))
        )
    if isinstance(value, dt.datetime):
        value = _moment(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def datetime_cn(value: dt.datetime | str | None) -> str:
    """``2026年12月1日 11:06`` in Beijing time."""
    if value is None or value == "":
        return ""
    moment = _moment(value)
    return f"{date_cn(moment.date())} {moment:%H:%M}"
