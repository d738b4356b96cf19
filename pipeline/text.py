"""Log values made visible: one definition for the terminal, Slack, email and the report.

Every value from CloudTrail is chosen by whoever called AWS. Shown as text, a control
character (ESC sequences that clear the screen or set the window title, CR/LF that forge
lines, bidi overrides that reorder them) is written as an escape instead, and a long value
is clipped. JSON and CSV output stay exact: they are for programs, not for eyes.
"""

from __future__ import annotations

import unicodedata

NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}
# control, format (bidi overrides, zero-width), line and paragraph separators, surrogates
HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")
ZWJ = "\u200d"  # joins emoji sequences; harmless


def visible(value, limit: int | None = None) -> str:
    """`value` as one line of text with every hidden character escaped; clipped to `limit`
    characters (before escaping) with "…". None is the empty string."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    clipped = limit is not None and len(text) > limit
    if clipped:
        text = text[:limit]
    if text.isprintable() and "\u2028" not in text:
        return text + ("…" if clipped else "")
    out = []
    for ch in text:
        if ch != ZWJ and unicodedata.category(ch) in HIDDEN:
            code = ord(ch)
            out.append(NAMED.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(ch)
    return "".join(out) + ("…" if clipped else "")
