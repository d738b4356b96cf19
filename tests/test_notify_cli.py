"""`roletrail notify` / `run` exit statuses, Retry-After and --retry-failed, through the real command."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import roletrail
from outbox_kit import deliveries, insert_alert, open_store

# fixtures slack_webhook, no_proxy (tests/servers.py)
pytest_plugins = ["servers"]
pytestmark = pytest.mark.usefixtures("no_proxy")

EXIT_UNDELIVERED = 3
HOOK = "ROLETRAIL_SLACK_WEBHOOK"


def setup(tmp_path, alerts=("a1",), extra: str = "") -> tuple:
    db = tmp_path / "alerts.duckdb"
    con = open_store(db)
    for a in alerts:
        insert_alert(con, a)
    con.close()
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text(f'[database]\npath = "{db}"\n\n{extra}\n[notify.slack]\nwebhook_url_env = "{HOOK}"\n')
    return db, cfg


def rows(db) -> list[dict]:
    con = open_store(db)
    try:
        return deliveries(con)
    finally:
        con.close()


@pytest.mark.parametrize(
    "env, problem",
    [
        ({}, "environment variable ROLETRAIL_SLACK_WEBHOOK is not set"),
        ({HOOK: "ftp://127.0.0.1/services/T/B/x"}, "the Slack webhook URL is not an http(s) URL"),
        ({HOOK: "http://127.0.0.1:notaport/x"}, "the Slack webhook URL is not a valid URL"),
    ],
)
def test_misconfigured_destination_exits_3(tmp_path, env, problem, monkeypatch):
    monkeypatch.delenv(HOOK, raising=False)
    db, cfg = setup(tmp_path)
    proc = roletrail("notify", "--config", cfg, env=env)
    assert proc.returncode == EXIT_UNDELIVERED, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert problem in lines[0] and "misconfigured" in lines[0]
    assert lines[-1] == "roletrail: alerts not delivered: slack is misconfigured"
    (row,) = rows(db)
    assert row["status"] == "pending" and row["attempts"] == 0  # waits for the fix, no attempt counted


def test_misconfigured_without_alerts_still_exits_3(tmp_path, monkeypatch):
    monkeypatch.delenv(HOOK, raising=False)
    _, cfg = setup(tmp_path, alerts=())
    assert roletrail("notify", "--config", cfg).returncode == EXIT_UNDELIVERED


def test_given_up_exits_3_once_then_retry_failed_delivers(tmp_path, slack_webhook):
    db, cfg = setup(tmp_path, extra="[notify]\nmax_attempts = 1\n")
    env = {HOOK: slack_webhook.url()}
    slack_webhook.fail_next(1, 404, body=b"no_service")
    gave_up = roletrail("notify", "--config", cfg, env=env)
    assert gave_up.returncode == EXIT_UNDELIVERED, gave_up.stderr
    assert (
        gave_up.stderr.strip().splitlines()[-1] == "roletrail: alerts not delivered: slack gave up on 1 alert"
    )
    assert rows(db)[0]["status"] == "failed"

    later = roletrail("notify", "--config", cfg, env=env)  # still reported, but not given up in this run
    assert later.returncode == 0 and "gave up after repeated failures" in later.stderr
    assert len(slack_webhook.requests) == 1

    retried = roletrail("notify", "--config", cfg, "--retry-failed", env=env)
    assert retried.returncode == 0, retried.stderr
    assert len(slack_webhook.requests) == 2 and rows(db)[0]["status"] == "delivered"


def test_retry_failed_retries_now_not_after_the_backoff(tmp_path, slack_webhook):
    db, cfg = setup(tmp_path)
    env = {HOOK: slack_webhook.url()}
    slack_webhook.fail_next(1, 500)
    first = roletrail("notify", "--config", cfg, env=env)
    assert first.returncode == 0, first.stderr  # a failure to be retried is not an exit status
    assert "delivery failed" in first.stderr and "next attempt at" in first.stderr

    waiting = roletrail("notify", "--config", cfg, env=env)
    assert waiting.returncode == 0 and len(slack_webhook.requests) == 1  # in backoff: not contacted
    assert "1 alert pending, next attempt at" in waiting.stderr

    now = roletrail("notify", "--config", cfg, "--retry-failed", env=env)
    assert now.returncode == 0 and len(slack_webhook.requests) == 2
    assert "1 alert delivered in 1 message" in now.stderr and rows(db)[0]["status"] == "delivered"


def test_retry_after_is_capped_at_one_hour(tmp_path, slack_webhook):
    db, cfg = setup(tmp_path)
    slack_webhook.fail_next(1, 429, retry_after=99999999, body=b"rate_limited")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    proc = roletrail("notify", "--config", cfg, env={HOOK: slack_webhook.url()})
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert proc.returncode == 0, proc.stderr
    (row,) = rows(db)
    assert before + dt.timedelta(hours=1) <= row["next_attempt_at"] <= after + dt.timedelta(hours=1)


def test_run_exits_3_when_alerts_are_not_delivered(tmp_path, monkeypatch):
    monkeypatch.delenv(HOOK, raising=False)
    _, cfg = setup(tmp_path)
    proc = roletrail("run", "--config", cfg)
    assert proc.returncode == EXIT_UNDELIVERED, proc.stderr
    lines = proc.stderr.strip().splitlines()
    stages = {s["stage"]: s for s in map(json.loads, lines[:-1])}
    assert stages["notify"]["status"] == "undelivered" and stages["summary"]["status"] == "undelivered"
    assert "alerts not delivered: slack is misconfigured" in stages["summary"]["message"]
    assert lines[-1] == "roletrail: alerts not delivered: slack is misconfigured"
