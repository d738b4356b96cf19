"""Alert delivery: outbox, retries, digests, hostile input and secrets, against real servers on 127.0.0.1."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import json
import logging
import shlex
import socket
from pathlib import Path

import pytest
from conftest import roletrail
from outbox_kit import NOW, config, deliveries, insert_alert, open_store

import pipeline.notify as notify_pkg
from detectors import registry as detector_registry
from detectors.base import SEVERITIES
from pipeline.config import Config, Strict
from pipeline.notify import Notifier, notify, outbox, registry
from pipeline.notify.base import Misconfigured
from pipeline.notify.email import EmailConfig, EmailNotifier
from pipeline.notify.slack import SlackConfig, escape
from pipeline.notify.text import clean

# fixtures slack_webhook, smtp_server, smtp_server_factory (tests/servers.py)
pytest_plugins = ["servers"]
pytestmark = [
    pytest.mark.usefixtures("no_proxy"),
    # aiosmtpd warns about AUTH without TLS: intended here, on loopback
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

HOOK_ENV = "ROLETRAIL_SLACK_WEBHOOK"
SECRET_TOKEN = "SECRETTOKEN123"
SMTP_USER, SMTP_PASSWORD = "roletrail-bot", "pw-Very-Secret-42"


@pytest.fixture
def con(tmp_path):
    c = open_store(tmp_path / "notify.duckdb")
    yield c
    c.close()


def slack_cfg(**kw) -> SlackConfig:
    return SlackConfig(webhook_url_env=HOOK_ENV, **kw)


def email_cfg(server, **kw) -> EmailConfig:
    base = dict(smtp_host=server.host, smtp_port=server.port, starttls=False, to=["secops@example.com"])
    base.update(kw)
    return EmailConfig(**{"from": "roletrail@example.com"}, **base)


def section_blocks(payload) -> list[dict]:
    return [b for b in payload["blocks"] if b["type"] == "section" and "fields" in b]


def all_block_text(payload) -> str:
    """Every text in the blocks, JSON-decoded (what Slack renders)."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(payload["blocks"])
    return "\n".join(out)


def html_part(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


def text_part(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


# --------------------------------------------------------------------------- outbox


def test_each_alert_delivered_once_per_destination(con, slack_webhook, smtp_server):
    insert_alert(con, "a1", severity="high")
    insert_alert(con, "a2", severity="medium")
    insert_alert(con, "a3", severity="medium")
    insert_alert(con, "s1", status="suppressed", suppression_reason="known deploy")
    cfg = config(slack=slack_cfg(), email=email_cfg(smtp_server))
    env = {HOOK_ENV: slack_webhook.url()}

    summary = notify(con, cfg, now=NOW, env=env)

    assert len(slack_webhook.requests) == 1 and len(smtp_server.messages) == 1
    req = slack_webhook.requests[0]
    assert req.method == "POST" and req.path == "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert req.headers["Content-Type"] == "application/json"
    payload = req.json()
    assert payload["text"] == "roletrail: 3 new alerts (1 high, 2 medium)"
    assert len(section_blocks(payload)) == 3
    rows = deliveries(con)
    assert {(r["alert_id"], r["destination"]) for r in rows} == {
        (a, d) for a in ("a1", "a2", "a3") for d in ("email", "slack")
    }  # the suppressed alert is never enqueued
    assert all(r["status"] == "delivered" and r["attempts"] == 1 and r["delivered_at"] == NOW for r in rows)
    assert summary.ok and summary.enqueued == 6 and summary.alerts_sent == 6
    assert summary.lines() == [
        "slack: 3 alerts delivered in 1 message",
        "email: 3 alerts delivered in 1 message",
    ]

    # a second run, and a re-detection that updates an alert, send nothing again
    con.execute("update alerts set last_seen = $t, event_count = 9 where alert_id = 'a1'", {"t": NOW})
    again = notify(con, cfg, now=NOW + dt.timedelta(minutes=15), env=env)
    assert len(slack_webhook.requests) == 1 and len(smtp_server.messages) == 1
    assert again.alerts_sent == 0 and again.lines() == [
        "slack: nothing new to deliver",
        "email: nothing new to deliver",
    ]

    # a new alert is sent alone
    insert_alert(con, "a4", severity="critical")
    notify(con, cfg, now=NOW + dt.timedelta(minutes=30), env=env)
    assert len(slack_webhook.requests) == 2 and len(smtp_server.wait_for(2)) == 2
    assert slack_webhook.requests[1].json()["text"] == "roletrail: 1 new alert (1 critical)"
    assert smtp_server.messages[1].message["Subject"] == "[roletrail] 1 new alert: 1 critical"


def test_no_destination_configured(con):
    insert_alert(con, "a1")
    summary = notify(con, Config(), now=NOW, env={})
    assert summary.destinations == [] and "no destination configured" in summary.lines()[0]
    assert deliveries(con) == []


def test_alert_suppressed_after_enqueue_is_not_sent(con, slack_webhook):
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg())
    slack_webhook.fail_next(1, 500)
    notify(con, cfg, now=NOW, env={HOOK_ENV: slack_webhook.url()})
    con.execute("update alerts set status = 'suppressed' where alert_id = 'a1'")
    insert_alert(con, "a2")
    notify(con, cfg, now=NOW + dt.timedelta(hours=1), env={HOOK_ENV: slack_webhook.url()})
    assert len(slack_webhook.requests) == 2
    assert slack_webhook.requests[1].json()["text"] == "roletrail: 1 new alert (1 high)"
    assert {r["alert_id"]: r["status"] for r in deliveries(con)} == {"a1": "pending", "a2": "delivered"}


# --------------------------------------------------------------------------- retries


def test_server_error_is_retried_after_backoff_and_delivered_once(con, slack_webhook):
    insert_alert(con, "a1")
    insert_alert(con, "a2")
    cfg = config(slack=slack_cfg())
    env = {HOOK_ENV: slack_webhook.url()}
    slack_webhook.fail_next(1, 500)

    first = notify(con, cfg, now=NOW, env=env)
    assert len(slack_webhook.requests) == 1
    rows = deliveries(con)
    assert all(r["status"] == "pending" and r["attempts"] == 1 for r in rows)
    assert all(r["next_attempt_at"] == NOW + dt.timedelta(minutes=1) for r in rows)
    assert all("HTTP 500" in r["last_error"] for r in rows)
    assert not first.ok and first.get("slack").failures == 1 and first.get("slack").pending == 2
    assert first.lines()[0].startswith("slack: delivery failed: Slack webhook: HTTP 500")
    assert "next attempt at 2024-05-01 12:01:00 UTC" in first.lines()[0]

    # before the retry time: the destination is not contacted, even for a new alert
    insert_alert(con, "a3")
    waiting = notify(con, cfg, now=NOW + dt.timedelta(seconds=30), env=env)
    assert len(slack_webhook.requests) == 1
    assert waiting.get("slack").waiting and waiting.get("slack").pending == 3
    assert "3 alerts pending, next attempt at 2024-05-01 12:01:00 UTC" in waiting.lines()[0]

    # after it: one digest with all three, then never again
    later = NOW + dt.timedelta(seconds=61)
    done = notify(con, cfg, now=later, env=env)
    assert len(slack_webhook.requests) == 2 and done.ok
    assert slack_webhook.requests[1].json()["text"] == "roletrail: 3 new alerts (3 high)"
    rows = {r["alert_id"]: r for r in deliveries(con)}
    assert rows["a1"]["status"] == "delivered" and rows["a1"]["attempts"] == 2
    assert rows["a3"]["status"] == "delivered" and rows["a3"]["attempts"] == 1
    assert all(r["delivered_at"] == later for r in rows.values())
    notify(con, cfg, now=later + dt.timedelta(hours=2), env=env)
    assert len(slack_webhook.requests) == 2


def test_rate_limit_honours_retry_after(con, slack_webhook):
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg())
    env = {HOOK_ENV: slack_webhook.url()}
    slack_webhook.fail_next(1, 429, retry_after=120, body=b"rate_limited")

    summary = notify(con, cfg, now=NOW, env=env)
    (row,) = deliveries(con)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["next_attempt_at"] == NOW + dt.timedelta(seconds=120)
    assert "HTTP 429" in row["last_error"] and "rate limited" in row["last_error"]
    assert summary.get("slack").next_attempt_at == NOW + dt.timedelta(seconds=120)

    notify(con, cfg, now=NOW + dt.timedelta(seconds=119), env=env)
    assert len(slack_webhook.requests) == 1
    notify(con, cfg, now=NOW + dt.timedelta(seconds=120), env=env)
    assert len(slack_webhook.requests) == 2 and deliveries(con)[0]["status"] == "delivered"


def test_backoff_doubles_then_gives_up_and_can_be_retried(con, slack_webhook):
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg(), max_attempts=3)
    env = {HOOK_ENV: slack_webhook.url()}
    slack_webhook.fail_next(3, 503)
    now, delays = NOW, []
    for _ in range(2):
        notify(con, cfg, now=now, env=env)
        (row,) = deliveries(con)
        delays.append((row["next_attempt_at"] - now).total_seconds())
        now = row["next_attempt_at"]
    assert delays == [60, 120]
    last = notify(con, cfg, now=now, env=env)
    (row,) = deliveries(con)
    assert row["status"] == "failed" and row["attempts"] == 3
    assert last.get("slack").newly_failed == 1 and not last.ok
    assert any("gave up" in line for line in last.lines())

    # given up: not sent again, but reported on every run
    quiet = notify(con, cfg, now=now + dt.timedelta(days=1), env=env)
    assert len(slack_webhook.requests) == 3
    assert quiet.get("slack").failed == 1 and any("gave up" in line for line in quiet.lines())

    retried = notify(con, cfg, now=now + dt.timedelta(days=1), env=env, retry_failed=True)
    assert len(slack_webhook.requests) == 4 and retried.ok
    assert deliveries(con)[0]["status"] == "delivered"


def test_backoff_is_capped_at_one_hour():
    assert [outbox.backoff_seconds(n) for n in (1, 2, 3, 6, 7, 30)] == [60, 120, 240, 1920, 3600, 3600]


def test_client_error_is_recorded_and_retried(con, slack_webhook):
    insert_alert(con, "a1")
    slack_webhook.fail_next(1, 404, body=b"no_service")
    cfg = config(slack=slack_cfg())
    notify(con, cfg, now=NOW, env={HOOK_ENV: slack_webhook.url()})
    (row,) = deliveries(con)
    assert (
        row["status"] == "pending" and row["last_error"] == "Slack webhook: HTTP 404: Not Found: no_service"
    )


def test_timeout_is_retried(con):
    insert_alert(con, "a1")
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/services/T/B/tok"
        summary = notify(con, config(slack=slack_cfg(timeout_seconds=0.3)), now=NOW, env={HOOK_ENV: url})
    (row,) = deliveries(con)
    assert row["status"] == "pending" and row["last_error"] == "Slack webhook: timed out after 0.3 s"
    assert summary.get("slack").failures == 1


def test_crash_between_send_and_record_sends_again_never_loses(con, slack_webhook, monkeypatch):
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg())
    env = {HOOK_ENV: slack_webhook.url()}
    real = outbox.transaction
    calls = []

    def crash_on_record(c, fn):
        calls.append(fn)
        if len(calls) == 2:  # 1: enqueue, 2: recording the accepted message
            raise KeyboardInterrupt
        return real(c, fn)

    monkeypatch.setattr(outbox, "transaction", crash_on_record)
    with pytest.raises(KeyboardInterrupt):
        notify(con, cfg, now=NOW, env=env)
    monkeypatch.setattr(outbox, "transaction", real)
    assert len(slack_webhook.requests) == 1 and deliveries(con)[0]["status"] == "pending"

    notify(con, cfg, now=NOW + dt.timedelta(minutes=15), env=env)
    notify(con, cfg, now=NOW + dt.timedelta(minutes=30), env=env)
    assert len(slack_webhook.requests) == 2 and deliveries(con)[0]["status"] == "delivered"


# --------------------------------------------------------------------------- digests


def test_slack_digest_caps_alerts_and_counts_the_rest(con, slack_webhook, tmp_path):
    for i in range(30):
        insert_alert(
            con, f"a{i:02d}", severity="low" if i else "critical", first_seen=NOW - dt.timedelta(minutes=i)
        )
    cfg = config(slack=slack_cfg(max_alerts_per_message=10))
    summary = notify(con, cfg, now=NOW, env={HOOK_ENV: slack_webhook.url()})
    assert len(slack_webhook.requests) == 1
    payload = slack_webhook.requests[0].json()
    sections = section_blocks(payload)
    assert len(sections) == 10
    assert "CRITICAL" in sections[0]["text"]["text"]  # most severe first
    rest = payload["blocks"][-1]["text"]["text"]
    assert rest.startswith("… and 20 more alerts: `roletrail sql -p destination slack ") and rest.endswith(
        "`"
    )
    assert "-p delivered_at '2024-05-01 12:00:00'" in rest
    assert "'slack'" not in rest and "'2024" not in rest.split("'select", 1)[1]  # values are parameters
    assert payload["text"] == "roletrail: 30 new alerts (1 critical, 29 low)"
    assert all(r["status"] == "delivered" for r in deliveries(con)) and len(deliveries(con)) == 30
    assert summary.get("slack").alerts_sent == 30 and summary.get("slack").messages_sent == 1

    # the command in the message, as a shell splits it, finds exactly the alerts of that digest
    words = shlex.split(rest.split(": ", 1)[1].strip("`"))
    assert words[:2] == ["roletrail", "sql"]
    con.close()
    proc = roletrail(*words[1:], "--format", "json", "--db", tmp_path / "notify.duckdb", check=True)
    assert len(json.loads(proc.stdout)) == 30


def test_slack_message_never_exceeds_50_blocks(con, slack_webhook):
    for i in range(60):
        insert_alert(con, f"a{i:02d}")
    notify(
        con, config(slack=slack_cfg(max_alerts_per_message=45)), now=NOW, env={HOOK_ENV: slack_webhook.url()}
    )
    payload = slack_webhook.requests[0].json()
    assert len(payload["blocks"]) <= 50
    assert len(section_blocks(payload)) == 45  # dividers dropped to keep the configured cap
    assert "15 more alerts" in payload["blocks"][-1]["text"]["text"]
    for s in section_blocks(payload):
        assert len(s["fields"]) <= 10 and all(len(f["text"]) <= 2000 for f in s["fields"])
        assert len(s["text"]["text"]) <= 3000


def test_slack_block_content(con, slack_webhook):
    insert_alert(con, "a1", event_ids=["3f1a-event"])
    notify(con, config(slack=slack_cfg()), now=NOW, env={HOOK_ENV: slack_webhook.url()})
    (section,) = section_blocks(slack_webhook.requests[0].json())
    fields = {f["text"].split("\n", 1)[0].strip("*"): f["text"].split("\n", 1)[1] for f in section["fields"]}
    assert fields["Role"] == "`arn:aws:iam::222222222222:role/Deploy`"
    assert fields["Caller account → target account"] == "`111111111111` → `222222222222`"
    assert fields["Source IP"] == "`203.0.113.9`"
    assert fields["Session name"] == "`alice-session`"
    assert fields["Source identity"] == "`alice@example.com`"
    assert fields["Seen"] == "2024-05-01 10:00:00 UTC – 2024-05-01 10:05:00 UTC (2 events)"
    runbook = detector_registry.get("new_caller_account").runbook[0]
    assert fields["Runbook"] == escape(clean(runbook, 500)) and len(runbook) > 10
    assert fields["Investigate"] == "`roletrail chain 3f1a-event`"
    assert fields["Detector"] == "`new_caller_account`"
    assert "*HIGH*" in section["text"]["text"]


def test_email_digest(con, smtp_server):
    for i in range(30):
        insert_alert(con, f"a{i:02d}", severity="medium" if i % 2 else "high")
    summary = notify(con, config(email=email_cfg(smtp_server, max_alerts_per_message=10)), now=NOW, env={})
    (mail,) = smtp_server.wait_for(1)
    msg = mail.message
    assert mail.mail_from == "roletrail@example.com" and mail.rcpt_tos == ["secops@example.com"]
    assert msg["Subject"] == "[roletrail] 30 new alerts: 15 high, 15 medium"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, page = text_part(msg), html_part(msg)
    assert text.count("[HIGH]") + text.count("[MEDIUM]") == 10
    assert "… and 20 more alerts: roletrail sql" in text and "20 more alerts" in page
    assert "roletrail chain ev-a00-1" in text
    assert summary.get("email").alerts_sent == 30
    assert all(r["status"] == "delivered" for r in deliveries(con))


# --------------------------------------------------------------------------- hostile input


def test_slack_escapes_hostile_values(con, slack_webhook):
    hostile = "<!channel> <http://evil.example|click here>"
    insert_alert(
        con,
        "a1",
        session_name=hostile,
        source_identity="*bold* `tick` _it_ & <@U123>",
        user_agent="<!here> aws-cli",
        title="Role <http://evil.example|assumed>",
        event_ids=["<!everyone>"],
    )
    notify(con, config(slack=slack_cfg()), now=NOW, env={HOOK_ENV: slack_webhook.url()})
    raw = slack_webhook.requests[0].body
    text = all_block_text(json.loads(raw))
    assert "&lt;!channel&gt; &lt;http://evil.example|click here&gt;" in text
    assert "&amp; &lt;@U123&gt;" in text and "&lt;!here&gt;" in text and "&lt;!everyone&gt;" in text
    for bad in (b"<!channel>", b"<http://evil", b"<!here>", b"<@U123>", b"<!everyone>"):
        assert bad not in raw
    assert "<" not in text.replace("&lt;", "")  # no Slack control sequence at all
    assert "`tick`" not in text  # a value cannot close its inline code


def test_html_email_escapes_script(con, smtp_server):
    insert_alert(
        con,
        "a1",
        session_name="<script>alert(1)</script>",
        user_agent="<script src=//evil.example>",
        title="<b>bold</b> & <script>x</script>",
    )
    notify(con, config(email=email_cfg(smtp_server)), now=NOW, env={})
    (mail,) = smtp_server.wait_for(1)
    page = html_part(mail.message)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script src=//evil.example&gt;" in page
    assert "<script" not in page and "<b>bold" not in page
    assert "<script>alert(1)</script>" in text_part(mail.message)  # plain text shows it literally


def test_crlf_in_values_never_reaches_a_header(con, smtp_server):
    insert_alert(
        con,
        "a1",
        session_name="x\r\nBcc: victim@example.com",
        source_identity="y\nSubject: pwned",
        title="t\r\nX-Injected: 1",
        role_arn="arn:aws:iam::222222222222:role/R\r\n\r\n<html>",
    )
    notify(con, config(email=email_cfg(smtp_server)), now=NOW, env={})
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["secops@example.com"]
    header_block = mail.data.split(b"\r\n\r\n", 1)[0]
    names = [
        line.split(b":", 1)[0] for line in header_block.split(b"\r\n") if line and line[:1] not in b" \t"
    ]
    assert sorted(names) == sorted(
        [
            b"Subject",
            b"From",
            b"To",
            b"Date",
            b"Message-ID",
            b"Auto-Submitted",
            b"MIME-Version",
            b"Content-Type",
        ]
    )
    msg = mail.message
    assert (
        msg["Bcc"] is None
        and msg["X-Injected"] is None
        and msg["Subject"] == "[roletrail] 1 new alert: 1 high"
    )
    for part in msg.iter_parts():
        assert set(part.keys()) <= {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}
    assert "x\\r\\nBcc: victim@example.com" in text_part(msg)  # shown, escaped, in the body


def test_crlf_in_configured_address_is_refused(con, smtp_server):
    insert_alert(con, "a1")
    cfg = config(email=email_cfg(smtp_server, to=["secops@example.com\r\nBcc: victim@example.com"]))
    notify(con, cfg, now=NOW, env={})
    assert smtp_server.messages == []
    (row,) = deliveries(con)
    assert row["status"] == "pending"
    assert row["last_error"] == "[notify.email] to[0] contains a control character (CR/LF?)"


def test_display_names_in_configured_addresses(con, smtp_server):
    insert_alert(con, "a1")
    cfg = config(email=email_cfg(smtp_server, to=["Sec Ops <secops@example.com>", "oncall@example.com"]))
    notify(con, cfg, now=NOW, env={})
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["secops@example.com", "oncall@example.com"]
    assert mail.message["To"] == "Sec Ops <secops@example.com>, oncall@example.com"


# --------------------------------------------------------------------------- SMTP login


def test_smtp_login(con, smtp_server_factory):
    server = smtp_server_factory(user=SMTP_USER, password=SMTP_PASSWORD)
    insert_alert(con, "a1")
    cfg = config(email=email_cfg(server, username_env="SMTP_U", password_env="SMTP_P"))
    summary = notify(con, cfg, now=NOW, env={"SMTP_U": SMTP_USER, "SMTP_P": SMTP_PASSWORD})
    assert summary.ok and len(server.wait_for(1)) == 1
    assert server.auth_attempts and server.auth_attempts[-1][1:] == (SMTP_USER, True)
    assert deliveries(con)[0]["status"] == "delivered"


def test_smtp_wrong_password_stays_pending_without_leaking(con, smtp_server_factory, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    server = smtp_server_factory(user=SMTP_USER, password=SMTP_PASSWORD)
    insert_alert(con, "a1")
    cfg = config(email=email_cfg(server, username_env="SMTP_U", password_env="SMTP_P"))
    wrong = "wrong-Password-99"
    summary = notify(con, cfg, now=NOW, env={"SMTP_U": SMTP_USER, "SMTP_P": wrong})
    assert server.messages == []
    (row,) = deliveries(con)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "authentication failed" in row["last_error"] and "535" in row["last_error"]
    out = capsys.readouterr()
    for text in (
        row["last_error"],
        str(summary.lines()),
        json.dumps(summary.as_dict()),
        caplog.text,
        out.out,
        out.err,
    ):
        assert wrong not in text and SMTP_PASSWORD not in text


def test_smtp_missing_credentials_env(con, smtp_server_factory):
    server = smtp_server_factory(user=SMTP_USER, password=SMTP_PASSWORD)
    insert_alert(con, "a1")
    cfg = config(email=email_cfg(server, username_env="SMTP_U", password_env="SMTP_P"))
    notify(con, cfg, now=NOW, env={"SMTP_U": SMTP_USER})
    assert deliveries(con)[0]["last_error"] == "environment variable SMTP_P is not set (SMTP password)"


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "failure",
    ["500", "404-echo", "429", "refused", "not-http"],
)
def test_webhook_secret_never_leaks(con, slack_webhook, smtp_server, caplog, capsys, failure):
    caplog.set_level(logging.DEBUG)
    path = f"/services/T000/B000/{SECRET_TOKEN}"
    url = slack_webhook.url(path)
    if failure == "500":
        slack_webhook.fail_next(1, 500, body=f"boom at {url}".encode())
    elif failure == "404-echo":
        slack_webhook.fail_next(1, 404, body=f"no_service {path}".encode())
    elif failure == "429":
        slack_webhook.fail_next(1, 429, retry_after=30, body=SECRET_TOKEN.encode())
    elif failure == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}{path}"
    else:
        url = f"ftp://127.0.0.1{path}"
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg(), email=email_cfg(smtp_server))
    summary = notify(con, cfg, now=NOW, env={HOOK_ENV: url})

    rows = {r["destination"]: r for r in deliveries(con)}
    assert rows["slack"]["status"] == "pending" and rows["slack"]["last_error"]
    assert rows["email"]["status"] == "delivered"  # one destination's trouble does not stop the other
    db_text = str(con.execute("select * from alert_deliveries").fetchall()) + str(
        con.execute("select * from alerts").fetchall()
    )
    out = capsys.readouterr()
    texts = [
        rows["slack"]["last_error"],
        db_text,
        "\n".join(summary.lines()),
        json.dumps(summary.as_dict(), default=str),
        caplog.text,
        out.out,
        out.err,
        smtp_server.messages[0].data.decode(),
    ]
    for text in texts:
        assert SECRET_TOKEN not in text


def test_missing_webhook_env_is_a_clear_error_and_email_still_goes(con, smtp_server):
    insert_alert(con, "a1")
    cfg = config(slack=slack_cfg(), email=email_cfg(smtp_server))
    summary = notify(con, cfg, now=NOW, env={})
    rows = {r["destination"]: r for r in deliveries(con)}
    assert rows["slack"]["status"] == "pending"
    assert "environment variable ROLETRAIL_SLACK_WEBHOOK is not set" in rows["slack"]["last_error"]
    assert rows["email"]["status"] == "delivered"
    assert "ROLETRAIL_SLACK_WEBHOOK is not set" in summary.lines()[0]


# --------------------------------------------------------------------------- hostile session name

HOSTILE = "x\r\nBcc: evil@example.com\x1b[2J<b>&<@U123>"
SHOWN = "x\\r\\nBcc: evil@example.com\\x1b[2J<b>&<@U123>"  # control characters made visible


def test_hostile_session_name_reaches_slack_escaped(con, slack_webhook):
    insert_alert(con, "a1", session_name=HOSTILE)
    notify(con, config(slack=slack_cfg()), now=NOW, env={HOOK_ENV: slack_webhook.url()})
    raw = slack_webhook.requests[0].body
    text = all_block_text(json.loads(raw))
    (section,) = section_blocks(json.loads(raw))
    session = next(f["text"] for f in section["fields"] if f["text"].startswith("*Session name*"))
    assert session == "*Session name*\n`" + escape(SHOWN) + "`"
    assert "&lt;@U123&gt;" in session and "&lt;b&gt;&amp;" in session
    assert "<@U123>" not in text and "<b>" not in text  # cannot mention or format
    assert "\x1b" not in text and "\r" not in text and "Bcc: evil@example.com\n" not in text


def test_hostile_session_name_reaches_email_without_injection(con, smtp_server):
    insert_alert(con, "a1", session_name=HOSTILE)
    notify(con, config(email=email_cfg(smtp_server)), now=NOW, env={})
    (mail,) = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["secops@example.com"] and mail.message["Bcc"] is None
    assert b"\x1b" not in mail.data and b"evil@example.com" not in mail.data.split(b"\r\n\r\n", 1)[0]
    page, text = html_part(mail.message), text_part(mail.message)
    assert "<code>x\\r\\nBcc: evil@example.com\\x1b[2J&lt;b&gt;&amp;&lt;@U123&gt;</code>" in page
    assert "<b>" not in page and "<@U123>" not in page
    assert f"  Session name:             {SHOWN}" in text.splitlines()  # plain text: as it is, one line


# --------------------------------------------------------------------------- plaintext login


def test_plaintext_login_to_a_remote_host_is_refused(con):
    insert_alert(con, "a1")
    remote = EmailConfig(smtp_host="smtp.example.com", starttls=False, username_env="U", password_env="P",
                         to=["secops@example.com"], **{"from": "roletrail@example.com"})  # fmt: skip
    summary = notify(con, config(email=remote), now=NOW, env={"U": SMTP_USER, "P": SMTP_PASSWORD})
    result = summary.get("email")  # refused before connecting: smtp.example.com is never contacted
    assert result.misconfigured and summary.undelivered == ["email is misconfigured"]
    assert "password in clear text to smtp.example.com" in result.last_error
    assert "allow_plaintext_auth = true" in result.last_error and SMTP_PASSWORD not in result.last_error
    (row,) = deliveries(con)
    assert row["status"] == "pending" and row["attempts"] == 0


@pytest.mark.parametrize(
    "host, tls, allowed",
    [
        ("smtp.example.com", {}, False),
        ("10.0.0.1", {}, False),
        ("127.0.0.1.example.com", {}, False),
        ("smtp.example.com", {"allow_plaintext_auth": True}, True),
        ("smtp.example.com", {"starttls": True}, True),
        ("smtp.example.com", {"ssl": True}, True),
        ("127.0.0.1", {}, True),
        ("127.8.9.10", {}, True),
        ("::1", {}, True),
        ("[::1]", {}, True),
        ("LocalHost.", {}, True),
    ],
)
def test_plaintext_login_rule(host, tls, allowed):
    settings = {"starttls": False, **tls}
    cfg = EmailConfig(smtp_host=host, username_env="U", password_env="P", to=["secops@example.com"],
                      **{"from": "roletrail@example.com"}, **settings)  # fmt: skip
    notifier = EmailNotifier(cfg, {"U": SMTP_USER, "P": SMTP_PASSWORD})
    if allowed:
        notifier.check()
    else:
        with pytest.raises(Misconfigured, match="in clear text"):
            notifier.check()
    # without a password there is nothing to protect
    EmailNotifier(cfg.model_copy(update={"username_env": None, "password_env": None}), {}).check()


def test_retry_after_is_capped(con, slack_webhook):
    insert_alert(con, "a1")
    slack_webhook.fail_next(1, 429, retry_after=99999999)
    notify(con, config(slack=slack_cfg()), now=NOW, env={HOOK_ENV: slack_webhook.url()})
    assert deliveries(con)[0]["next_attempt_at"] == NOW + dt.timedelta(hours=1)


# --------------------------------------------------------------------------- the seam

SHARED_MODULES = ("__init__", "base", "digest", "http", "outbox", "secrets", "summary", "text")


@pytest.mark.parametrize("name", sorted(registry.DESTINATIONS))
def test_every_destination_keeps_the_contract(name):
    cls = registry.notifier_class(name)
    assert issubclass(cls.config_model, Strict)  # unknown keys in [notify.<name>] are errors
    assert registry.config_models()[name] is cls.config_model
    assert isinstance(cls(cls.config_model.model_construct(), {}), Notifier)
    assert name in Config.model_fields["notify"].annotation.model_fields  # the config section exists
    # every severity has its look in a destination that maps them
    module = importlib.import_module(cls.__module__)
    for table in ("EMOJI", "COLORS"):
        if hasattr(module, table):
            assert set(getattr(module, table)) == set(SEVERITIES)


def test_shared_code_names_no_destination():
    """Only registry.py and the destinations' own modules may name a destination."""
    package = Path(notify_pkg.__file__).parent
    for stem in SHARED_MODULES:
        tree = ast.parse((package / f"{stem}.py").read_text())
        named = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in registry.DESTINATIONS
        }
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} & {
            f"pipeline.notify.{d}" for d in registry.DESTINATIONS
        }
        assert not named and not imported, (stem, named, imported)
    assert set(SHARED_MODULES) | set(registry.DESTINATIONS) | {"registry"} == {
        p.stem for p in package.glob("*.py")
    }  # a new module is either shared (listed above) or a destination in the registry
