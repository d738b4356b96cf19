"""Times as the database keeps them: naive UTC."""

from __future__ import annotations

import datetime as dt


def parse_utc(value) -> dt.datetime | None:
    """An ISO 8601 time from a log or a notification as naive UTC; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t
