"""A RoleSessionName's shape: what stays when its random parts are one placeholder.

Automation names its sessions from a template (deploy-<run>, export-<uuid>, botocore-session-
<epoch>); the shape is the template. Every random id is the same `{id}`, whatever it is made
of: digits, hex of any length (a chunk of letters only, like `fefb`, next to another id is hex
too, and so is a run of 8 or more), uuid fragments, base32/64 runs, timestamps; ids joined by separators are one `{id}`.
E-mail addresses are `{email}`. Words stay, so a hand-typed `manual-debug-session` is its own
shape. One definition for every engine (registered as roletrail_session_shape).
"""

from __future__ import annotations

import re
from functools import lru_cache

ID = "{id}"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}[:.]?\d{2}(?:[:.]?\d{2})?(?:[.,]\d+)?Z?)?")
# tokens and what separates them; `+` and `=` belong to base64 runs
PIECES = re.compile(r"(\{email\}|\{id\}|[^A-Za-z0-9+=]+)")
HEX = re.compile(r"[0-9a-fA-F]+")
HEX_LETTERS = re.compile(r"[a-fA-F]+")
BASE64 = re.compile(r"[A-Za-z0-9+=]{16,}")
DIGITS = re.compile(r"\d+")
# the words of a camel-case token (linear: no nested repetition for a hostile name to exploit)
WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def _random(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    if token.isdigit():
        return True
    if HEX.fullmatch(token):
        # hex with a digit (not EC2 or S3); hex letters alone may be a word (cafe), unless long
        return (has_digit and len(token) >= 4) or len(token) >= 8
    if not BASE64.fullmatch(token):
        return False
    # a long run mixing letters with digits, + or = is base32/64, not a word; so is one whose
    # camel-case "words" are mostly one or two letters long (MyRoleSession is three words)
    if has_digit or "+" in token or "=" in token:
        return any(c.isalpha() for c in token)
    if token.isupper():
        return True  # 16 or more capitals: base32
    words = WORDS.findall(token)
    return sum(len(w) <= 2 for w in words) >= 0.3 * len(words)


@lru_cache(maxsize=262144)
def session_shape(name: str | None) -> str | None:
    if name is None:
        return None
    text = ISO_TIME.sub(ID, EMAIL.sub("{email}", name))
    parts = [p for p in PIECES.split(text) if p]
    tokens = [i for i, p in enumerate(parts) if not PIECES.fullmatch(p) or p == ID]
    random = {i for i in tokens if parts[i] == ID or _random(parts[i])}
    # a chunk of hex letters next to an id is part of it (export-1f2e3d4c-fefb)
    changed = True
    while changed:
        changed = False
        for n, i in enumerate(tokens):
            if i in random or not HEX_LETTERS.fullmatch(parts[i]):
                continue
            if (n > 0 and tokens[n - 1] in random) or (n + 1 < len(tokens) and tokens[n + 1] in random):
                random.add(i)
                changed = True
    out: list[str] = []
    for i, p in enumerate(parts):
        if i in random:
            # ids joined by one separator are one id: <8 hex>-<4 hex> is not two
            if len(out) >= 2 and out[-1] != ID and out[-2] == ID and i - 1 not in tokens:
                out.pop()
                continue
            if out and out[-1] == ID:
                continue
            out.append(ID)
        elif i in tokens:
            out.append(DIGITS.sub("{n}", p))
        else:
            out.append(p)
    return "".join(out)
