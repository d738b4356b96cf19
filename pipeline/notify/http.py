"""POSTing a message over HTTP(S), for the destinations that are webhooks.

Errors are described from status codes and exception classes, never an exception's str()
(urllib's include the URL, which is a secret). The reply body goes into the error's
`detail` whole (up to BODY_LIMIT): the outbox scrubs it before cutting it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pipeline.notify.base import DeliveryError, Misconfigured
from pipeline.notify.text import clean

BODY_LIMIT = 8192  # bytes of an error reply kept for scrubbing; the stored error is cut later
# statuses whose Retry-After says when to come back (the outbox caps it)
RETRY_AFTER_STATUSES = (429, 503)


def check_url(url: str, what: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise Misconfigured(f"the {what} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Misconfigured(f"the {what} is not an http(s) URL")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook does not redirect; following one would send the alerts elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, what: str) -> None:
    """POST `body`; raises DeliveryError("<what>: HTTP 500", detail=reason and body) on failure."""
    check_url(url, what)
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"User-Agent": "roletrail", **headers}
    )
    try:
        with opener.open(req, timeout=timeout) as resp:
            resp.read(BODY_LIMIT)
            return
    except urllib.error.HTTPError as e:
        status, reason = e.code, str(e.reason or "")
        retry_after = retry_after_seconds(e.headers.get("Retry-After") if e.headers else None)
        try:
            reply = e.read(BODY_LIMIT).decode("utf-8", "replace").strip()
        except Exception:  # the reply is only for the error text; a broken one must not hide the status
            reply = ""
        finally:
            e.close()
    except urllib.error.URLError as e:
        raise DeliveryError(f"{what}: {describe_oserror(e.reason, timeout)}") from None
    except Exception as e:
        raise DeliveryError(f"{what}: {describe_oserror(e, timeout)}") from None

    message = f"{what}: HTTP {status}"
    if status == 429:
        message += " (rate limited)"
    detail = ": ".join(p for p in (reason, reply) if p) or None
    raise DeliveryError(
        message, detail=detail, retry_after=retry_after if status in RETRY_AFTER_STATUSES else None
    )


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def describe_oserror(err: Any, timeout: float) -> str:
    """An exception as a secret-free phrase: its class and errno text, never its str()."""
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({clean(err.verify_message, 80)})"
    if isinstance(err, ssl.SSLError):
        return f"TLS error ({clean(err.reason or type(err).__name__, 80)})"
    if isinstance(err, OSError) and err.strerror:
        return f"{type(err).__name__} ({clean(err.strerror, 80)})"
    if isinstance(err, BaseException):
        return type(err).__name__
    return "connection error"
