"""Secrets: read only from the environment variables the config names, never shown anywhere.

A server's error reply can echo what it was sent: a Slack 400 body may hold the webhook URL,
an SMTP 535 the base64 AUTH PLAIN blob. Every text we store or print passes the scrubber,
*before* it is cut: a cut in the middle of a secret leaves a prefix the scrubber can no
longer recognise. The scrubber replaces every run of text that shares
`WINDOW` consecutive characters with any encoding of a secret (raw, URL-encoded,
JSON-escaped, base64 at each of the three byte alignments), so a secret's prefix, suffix
or middle part is masked as well as the whole.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable, Mapping

from pipeline.notify.base import Misconfigured

WINDOW = 8  # a piece of a secret this long is masked wherever it appears
MASK = "***"


def from_env(env: Mapping[str, str], var: str | None, what: str, strip: bool = True) -> str:
    """The value of `var`, or Misconfigured saying which variable is missing."""
    if not var:
        raise Misconfigured(f"no environment variable configured for the {what}")
    value = env.get(var)
    if value is None:
        raise Misconfigured(f"environment variable {var} is not set ({what})")
    if not value.strip():
        raise Misconfigured(f"environment variable {var} is empty ({what})")
    return value.strip() if strip else value


def encodings(secret: str) -> set[str]:
    """The forms in which `secret` could come back from a server."""
    forms = {
        secret,
        urllib.parse.unquote(secret),
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    }
    raw = secret.encode("utf-8", "surrogatepass")
    for shift in range(3):
        # the secret's bytes at each alignment of base64's 3-byte groups (inside a blob such
        # as AUTH PLAIN's); the first group of a shifted form mixes in other bytes: dropped
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\0" * shift + raw).decode().rstrip("=")
            forms.add(text[4:] if shift else text)
    return {f for f in forms if f}


class Scrubber:
    def __init__(self, secrets: Iterable[str]):
        forms = set()
        for s in secrets:
            if s:
                forms |= encodings(s)
        # a form shorter than the window is replaced where it appears whole
        self.short = sorted((f for f in forms if len(f) < WINDOW), key=len, reverse=True)
        self.windows = {
            f[i : i + WINDOW] for f in forms if len(f) >= WINDOW for i in range(len(f) - WINDOW + 1)
        }

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        # mark every character inside a window of a secret, then mask each marked run once
        covered = bytearray(len(text))
        if self.windows:
            for i in range(len(text) - WINDOW + 1):
                if text[i : i + WINDOW] in self.windows:
                    covered[i : i + WINDOW] = b"\1" * WINDOW
        out, i = [], 0
        while i < len(text):
            if covered[i]:
                while i < len(text) and covered[i]:
                    i += 1
                out.append(MASK)
            else:
                out.append(text[i])
                i += 1
        text = "".join(out)
        for s in self.short:
            text = text.replace(s, MASK)
        return text


def url_parts(url: str) -> list[str]:
    """A webhook URL's token-bearing parts (path, query, password), besides the URL itself:
    a reply may echo the path alone, and a part shorter than the window is masked whole."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    out = [url, parts.path, parts.query, parts.password or ""]
    # token-like segments (Slack: /services/T…/B…/<token>), not plain words such as "services"
    out += [s for s in parts.path.split("/") if len(s) >= 6 and not s.isalpha()]
    return [p for p in out if len(p) > 1]
