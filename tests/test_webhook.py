"""[notify.webhook]: one signed JSON POST per digest, to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from outbox_kit import NOW, config, deliveries, insert_alert, open_store

from pipeline.config import Config
from pipeline.notify import notify
from pipeline.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookConfig

# fixtures webhook_server, no_proxy (tests/servers.py)
pytest_plugins = ["servers"]
pytestmark = pytest.mark.usefixtures("no_proxy")

URL_ENV, KEY_ENV = "HOOK_URL", "HOOK_KEY"
KEY = "whsec-0123456789abcdef"
DESIGN_FIELDS = {"alert_id", "detector", "severity", "title", "role_arn", "account_id", "first_seen",
                 "last_seen", "event_count", "event_ids", "details"}  # fmt: skip


@pytest.fixture
def con(tmp_path):
    c = open_store(tmp_path / "notify.duckdb")
    yield c
    c.close()


def hook_cfg(**kw) -> WebhookConfig:
    return WebhookConfig(url_env=URL_ENV, secret_env=KEY_ENV, **kw)


def verifies(request, key: str, max_age: float = 300) -> bool:
    """What a receiver does: the HMAC over "<timestamp>." + the raw body, and a fresh timestamp."""
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    expected = (
        "sha256=" + hmac.new(key.encode(), stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(given, expected) and abs(time.time() - int(stamp)) <= max_age


def test_one_signed_post_with_the_alert_fields(con, webhook_server):
    insert_alert(con, "a1", severity="medium", details=json.dumps({"why": "first time", "window_days": 30}))
    insert_alert(con, "a2", severity="critical")
    env = {URL_ENV: webhook_server.url("/hooks/roletrail"), KEY_ENV: KEY}

    summary = notify(con, config(webhook=hook_cfg()), now=NOW, env=env)

    assert summary.ok and summary.get("webhook").alerts_sent == 2
    (req,) = webhook_server.requests
    assert req.method == "POST" and req.path == "/hooks/roletrail"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert verifies(req, KEY)
    assert not verifies(req, KEY + "x")  # a wrong key does not verify
    body = req.json()
    assert body["source"] == "roletrail" and body["sent_at"] == "2024-05-01T12:00:00Z"
    assert body["alert_count"] == 2 and body["omitted"] == 0 and body["omitted_command"] is None
    first, second = body["alerts"]
    assert first["alert_id"] == "a2" and first["severity"] == "critical"  # most severe first
    assert DESIGN_FIELDS <= first.keys()
    assert second["details"] == {"why": "first time", "window_days": 30}  # JSON, not JSON text
    assert second["first_seen"] == "2024-05-01T10:00:00Z" and second["event_ids"] == ["ev-a1-1", "ev-a1-2"]
    assert second["runbook_step"]  # the detector's first runbook step
    assert {r["status"] for r in deliveries(con)} == {"delivered"}


def test_signature_covers_body_and_timestamp(con, webhook_server):
    insert_alert(con, "a1")
    notify(con, config(webhook=hook_cfg()), now=NOW, env={URL_ENV: webhook_server.url(), KEY_ENV: KEY})
    (req,) = webhook_server.requests
    tampered = type(req)(req.method, req.path, dict(req.headers), req.body.replace(b"a1", b"b1"))
    assert verifies(req, KEY) and not verifies(tampered, KEY)
    replayed = type(req)(
        req.method, req.path, {**req.headers, TIMESTAMP_HEADER: str(int(time.time()) + 600)}, req.body
    )
    assert not verifies(replayed, KEY)  # a new timestamp needs a new signature
    old = type(req)(req.method, req.path, dict(req.headers), req.body)
    assert not verifies(old, KEY, max_age=-1)  # and an old one is refused by the receiver's clock


def test_unsigned_without_secret_env(con, webhook_server):
    insert_alert(con, "a1")
    notify(con, config(webhook=WebhookConfig(url_env=URL_ENV)), now=NOW, env={URL_ENV: webhook_server.url()})
    (req,) = webhook_server.requests
    assert SIGNATURE_HEADER not in req.headers and TIMESTAMP_HEADER not in req.headers


def test_failure_stays_pending_and_is_retried(con, webhook_server):
    insert_alert(con, "a1")
    insert_alert(con, "a2")
    cfg = config(webhook=hook_cfg())
    env = {URL_ENV: webhook_server.url(), KEY_ENV: KEY}
    webhook_server.fail_next(1, 502, body=b"bad gateway")

    first = notify(con, cfg, now=NOW, env=env)
    assert first.get("webhook").failures == 1 and not first.undelivered  # retried, not given up
    rows = deliveries(con)
    assert all(r["status"] == "pending" and r["attempts"] == 1 for r in rows)
    assert rows[0]["last_error"] == "webhook: HTTP 502: Bad Gateway: bad gateway"

    notify(con, cfg, now=NOW + dt.timedelta(seconds=30), env=env)  # still in backoff
    assert len(webhook_server.requests) == 1
    notify(con, cfg, now=NOW + dt.timedelta(minutes=2), env=env)
    assert len(webhook_server.requests) == 2 and verifies(webhook_server.requests[1], KEY)
    assert [a["alert_id"] for a in webhook_server.requests[1].json()["alerts"]] == ["a1", "a2"]
    assert {r["status"] for r in deliveries(con)} == {"delivered"}


def test_missing_key_sends_nothing_unsigned(con, webhook_server):
    insert_alert(con, "a1")
    summary = notify(con, config(webhook=hook_cfg()), now=NOW, env={URL_ENV: webhook_server.url()})
    assert webhook_server.requests == []
    assert summary.undelivered == ["webhook is misconfigured"]
    (row,) = deliveries(con)
    assert row["status"] == "pending" and row["attempts"] == 0
    assert row["last_error"] == "environment variable HOOK_KEY is not set (webhook signing secret)"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http://127.0.0.1:99999/x"])
def test_bad_url_is_a_misconfiguration(con, url):
    insert_alert(con, "a1")
    summary = notify(con, config(webhook=hook_cfg()), now=NOW, env={URL_ENV: url, KEY_ENV: KEY})
    result = summary.get("webhook")
    assert result.misconfigured and result.last_error.startswith("the webhook URL is not")


def test_values_are_exact_and_the_cap_counts_the_rest(con, webhook_server):
    hostile = "x\r\nBcc: evil@example.com\x1b[2J<b>&<@U123>"
    for i in range(5):
        insert_alert(con, f"a{i}", session_name=hostile)
    cfg = config(webhook=hook_cfg(max_alerts_per_message=3))
    notify(con, cfg, now=NOW, env={URL_ENV: webhook_server.url(), KEY_ENV: KEY})
    body = webhook_server.requests[0].json()
    assert [a["session_name"] for a in body["alerts"]] == [hostile] * 3  # JSON stays exact
    assert body["alert_count"] == 5 and body["omitted"] == 2
    assert body["omitted_command"].startswith("roletrail sql -p destination webhook -p delivered_at ")


def test_secret_and_url_never_leak(con, webhook_server):
    insert_alert(con, "a1")
    url = webhook_server.url("/hooks/tok-SECRETPATH0042")
    webhook_server.fail_next(1, 400, body=f"bad request to {url} signed with {KEY}".encode())
    summary = notify(con, config(webhook=hook_cfg()), now=NOW, env={URL_ENV: url, KEY_ENV: KEY})
    (row,) = deliveries(con)
    for text in (row["last_error"], "\n".join(summary.lines()), json.dumps(summary.as_dict())):
        assert "SECRETPATH" not in text and KEY[:8] not in text
    assert row["last_error"].startswith("webhook: HTTP 400: Bad Request: bad request to ")


def test_config_section():
    cfg = Config.model_validate({"notify": {"webhook": {"url_env": "U", "secret_env": "K"}}})
    assert cfg.notify.webhook.url_env == "U" and cfg.notify.webhook.max_alerts_per_message == 500
    with pytest.raises(ValueError, match="url"):
        Config.model_validate({"notify": {"webhook": {"url": "https://example.com/hook"}}})
