"""How the report writes values as text: numbers with separators, UTC times, log values made visible."""

from __future__ import annotations

import datetime as dt

from pipeline.report.data import parse_time
from pipeline.text import visible


def text(value) -> str:
    """Any value as the page shows it; strings from the logs get their control characters escaped."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 else f"{value:.3g}"
    return visible(value)


def fmt_time(value, seconds: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        parsed = parse_time(value)
        if parsed is None:
            return visible(value)
        value = parsed
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def day(value) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, dt.datetime) else text(value)
