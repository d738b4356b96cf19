"""pipeline.text.visible: log values with their control and invisible characters made visible."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.text import visible


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("a\r\nBcc: x\tz", "a\\r\\nBcc: x\\tz"),
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),  # bidi override and isolate
        ("zero\u200bwidth\u2028line", "zero\\u200bwidth\\u2028line"),
        ("x\ud800y", "x\\ud800y"),  # a lone surrogate could not even be written as UTF-8
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),  # NUL, DEL and the 8-bit CSI
        ('<b>&"ok" é 日本 👩\u200d💻', '<b>&"ok" é 日本 👩\u200d💻'),  # printable text (and ZWJ) as is
    ],
)
def test_visible(raw, shown):
    assert visible(raw) == shown
    out = visible(raw)
    assert not [c for c in out if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in "\u202e\u2066"]
    assert visible(out) == out  # idempotent: showing a shown value changes nothing


def test_none_and_other_types():
    assert visible(None) == "" and visible(12) == "12" and visible(b"\x1b") == "b'\\x1b'"


def test_limit_clips_before_escaping():
    assert visible("abcdef", 3) == "abc…"
    assert visible("abc", 3) == "abc"
    assert visible("\x1b" * 10, 2) == "\\x1b\\x1b…"  # never half an escape
