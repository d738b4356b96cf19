"""Values from the logs as text a person reads: one line, control characters visible, bounded.

Session names, source identities, user agents and the like are chosen by whoever calls AWS.
`clean` is the first step for every such value in every message; each destination then
escapes for its own format (Slack mrkdwn, HTML through Jinja2's autoescape).
"""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

from pipeline.text import visible

VALUE_LIMIT = 300  # characters of one log value shown (before escaping)


def clean(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A log value as one line of text: control and invisible formatting characters
    (CR, LF, ESC, bidi overrides, ...) shown as escapes, long values cut (pipeline.text)."""
    return visible(value, limit)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def has_control(value: str) -> bool:
    return visible(value) != value


def shell_word(value: Any, limit: int = 200) -> str:
    """A value as one word of a command line a person copies into a shell."""
    return shlex.quote(clean(value, limit))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def fmt_time(t: dt.datetime | None) -> str:
    if t is None:
        return "—"
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_naive(t: dt.datetime | None) -> dt.datetime:
    """The database keeps naive UTC timestamps; a run's time is one of them."""
    if t is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if t.tzinfo is not None:
        return t.astimezone(dt.UTC).replace(tzinfo=None)
    return t
