"""`[notify.webhook]`: a generic JSON webhook, one POST per digest.

The body (``application/json``, UTF-8)::

    {"source": "roletrail", "sent_at": "2026-12-01T19:30:00Z", "alert_count": 3,
     "alerts": [{"alert_id": ..., "detector": ..., "severity": ..., "title": ..., "role_arn": ...,
                 "account_id": ..., "first_seen": ..., "last_seen": ..., "event_count": ...,
                 "event_ids": [...], "details": {...}, ..., "runbook_step": ...}],
     "omitted": 0, "omitted_command": null}

Each alert carries every stored alert column (pipeline.store.ALERT_FIELDS) with its exact
value: JSON is not a terminal, so nothing is escaped or cut; the receiver escapes for
wherever it shows them. Beyond `max_alerts_per_message` the alerts are counted in `omitted`,
and `omitted_command` is the `roletrail sql` command that lists them.

Signature, when `secret_env` names the HMAC key::

    X-Roletrail-Timestamp: <unix seconds when sent>
    X-Roletrail-Signature: sha256=<hex of HMAC-SHA256(key, "<timestamp>." + body bytes)>

A receiver recomputes the HMAC over the timestamp header, a dot and the raw body, compares it
in constant time (`hmac.compare_digest`) and rejects a timestamp more than a few minutes from
its own clock: the timestamp is signed too, so a captured request cannot be replayed later.
A configured key that is missing from the environment stops delivery: nothing goes unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from pipeline.config import Strict
from pipeline.notify import http
from pipeline.notify.base import Alert
from pipeline.notify.digest import Digest
from pipeline.notify.secrets import from_env, url_parts
from pipeline.output import jsonable

SIGNATURE_HEADER = "X-Roletrail-Signature"
TIMESTAMP_HEADER = "X-Roletrail-Timestamp"


class WebhookConfig(Strict):
    url_env: str = "ROLETRAIL_WEBHOOK_URL"
    secret_env: str | None = None  # the HMAC-SHA256 key's environment variable; unset: unsigned
    max_alerts_per_message: int = Field(default=500, ge=1, le=10000)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class WebhookNotifier:
    config_model = WebhookConfig

    def __init__(self, config: WebhookConfig, env: Mapping[str, str]):
        self.config, self.env = config, env
        self.url: str | None = None
        self.key: str | None = None

    def check(self) -> None:
        self.url = from_env(self.env, self.config.url_env, "webhook URL")
        http.check_url(self.url, "webhook URL")
        if self.config.secret_env:
            # the key is used as it is: stripping would change the signature
            self.key = from_env(self.env, self.config.secret_env, "webhook signing secret", strip=False)

    def secrets(self) -> list[str]:
        return (url_parts(self.url) if self.url else []) + ([self.key] if self.key else [])

    def format(self, digest: Digest) -> bytes:
        digest = digest.capped(self.config.max_alerts_per_message)
        body = {
            "source": "roletrail",
            "sent_at": jsonable(digest.now),
            "alert_count": len(digest.alerts),
            "alerts": [_alert(a) for a in digest.shown],
            "omitted": digest.rest,
            "omitted_command": digest.rest_command() if digest.rest else None,
        }
        return json.dumps(body, ensure_ascii=False).encode()

    def send(self, body: bytes) -> list[str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.key is not None:
            headers.update(sign(self.key, body, int(time.time())))
        http.post(self.url, body, headers, self.config.timeout_seconds, "webhook")
        return []


def sign(key: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The signature headers for `body` sent at `timestamp` (unix seconds)."""
    # the timestamp is inside the MAC: a receiver that checks its age stops replays
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: f"sha256={mac}"}


def _alert(a: Alert) -> dict[str, Any]:
    out = jsonable(dict(a.fields))
    details = out.get("details")
    if isinstance(details, str):
        try:
            out["details"] = json.loads(details)
        except ValueError:
            pass  # not JSON after all: sent as the text it is
    out["runbook_step"] = a.runbook_step
    return out
