"""Log values made visible: the one definition for terminals, chat messages, email and HTML.

Every value from CloudTrail is attacker-controlled. A raw ESC (``\\x1b[2J``) clears a terminal,
CR/LF forge lines, a bidi override (U+202E) reorders what a reader sees, and a lone surrogate
cannot even be written as UTF-8. ``visible`` turns each of those into an escape a person can read
(``\\x1b``, ``\\r``, ``\\u202e``); escaping for a markup language (HTML, Slack) comes after it.
JSON and CSV output stay exact and do not use this.
"""

from __future__ import annotations

import unicodedata
from typing import Any

ELLIPSIS = "…"
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
# control, format (bidi overrides, zero-width), line/paragraph separators, surrogates
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_JOINER = "\u200d"  # ZWJ joins emoji sequences: shown as is


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, limit: int | None = None) -> str:
    """``value`` as text with every control and invisible format character shown as an escape.

    ``limit`` clips the text to that many characters (before escaping, so a clipped value never
    ends in half an escape) and marks the cut with "…". None is "".
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + ELLIPSIS
    if text.isprintable():  # the common case: nothing to escape (isprintable is False for all of _INVISIBLE)
        return text
    return "".join(
        _escape(ch) if ch != _JOINER and unicodedata.category(ch) in _INVISIBLE else ch for ch in text
    )
