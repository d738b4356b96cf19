"""Secrets echoed back by a server never reach last_error, the summary, the log or stderr,
whole or as a prefix: every offset of a Slack 400 body and an SMTP 535 reply, every encoding."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
import urllib.parse

import pytest
from conftest import roletrail
from outbox_kit import NOW, config, deliveries, insert_alert, open_store

from pipeline.notify import notify
from pipeline.notify.email import EmailConfig
from pipeline.notify.secrets import Scrubber
from pipeline.notify.slack import SlackConfig

# fixtures slack_webhook, smtp_server_factory, no_proxy (tests/servers.py)
pytest_plugins = ["servers"]
pytestmark = [
    pytest.mark.usefixtures("no_proxy"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

TOKEN = "XOXSECRETTOKEN1abcdefgh"  # the secret part of the Slack webhook URL
USER, PASSWORD = "roletrail-bot", "pw-Very-Secret-42"
# the stored error keeps 160 characters of what the server said: offsets on both sides of the
# cut, every one for the main encoding of each secret, every 11th (all base64 alignments) for the others
OFFSETS = range(0, 175)
SOME_OFFSETS = range(0, 175, 11)
PREFIX = 8
B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}")


def leaks(text: str, secret: str) -> bool:
    """True when `text` holds, or decodes (URL-encoding, base64 at any offset) to, the secret
    or a prefix of it of PREFIX characters or more."""
    target = secret.encode()[:PREFIX]
    if target in text.encode() or target in urllib.parse.unquote(text).encode():
        return True
    for m in B64_RUN.finditer(text):
        run = m.group()
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) - (1 if len(chunk) % 4 == 1 else 0)]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    if target in decode(chunk + "=" * (-len(chunk) % 4)):
                        return True
                except ValueError:
                    pass
    return False


def test_the_leak_check_can_fail():
    blob = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert leaks(f"535 {blob[:32]}", PASSWORD) and leaks(f"x {PASSWORD[:8]}", PASSWORD)
    assert leaks(urllib.parse.quote(f"/B0/{TOKEN}", safe=""), TOKEN)
    assert not leaks(f"535 {blob[:20]}", PASSWORD)  # decodes to the user name only


@pytest.fixture
def con():
    # in memory: hundreds of notify runs; the outbox is the same code as on a file
    c = open_store(":memory:")
    yield c
    c.close()


def texts_of(con, summary, caplog) -> list[str]:
    """What this notify run stored, returned and logged."""
    rows = deliveries(con)
    logged = caplog.text
    caplog.clear()
    return [r["last_error"] or "" for r in rows] + [
        "\n".join(summary.lines()),
        json.dumps(summary.as_dict(), default=str),
        logged,
    ]


def slack_echoes(url: str) -> list[str]:
    return [url, urllib.parse.quote(url, safe=""), base64.b64encode(url.encode()).decode(), TOKEN]


def test_slack_400_echo_at_every_offset(con, slack_webhook, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    url = slack_webhook.url(f"/services/T0/B0/{TOKEN}")
    insert_alert(con, "a1")
    cfg = config(slack=SlackConfig(webhook_url_env="HOOK"), max_attempts=1000)
    now, checked = NOW, 0
    for i, echo in enumerate(slack_echoes(url)):
        for k in OFFSETS if i == 0 else SOME_OFFSETS:
            slack_webhook.fail_next(1, 400, body=("invalid_payload " + "-" * k + echo).encode())
            summary = notify(con, cfg, now=now, env={"HOOK": url})
            assert summary.get("slack").failures == 1
            for text in texts_of(con, summary, caplog):
                assert not leaks(text, TOKEN), (echo, k, text)
            now += dt.timedelta(hours=2)  # past the backoff
            checked += 1
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, TOKEN)
    assert checked == len(OFFSETS) + (len(slack_echoes(url)) - 1) * len(SOME_OFFSETS)
    assert len(slack_webhook.requests) == checked


def smtp_echoes() -> list:
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return [
        lambda login, pw: b64(b"\0" + login + b"\0" + pw),  # AUTH PLAIN's blob
        lambda login, pw: b64(pw),  # AUTH LOGIN's password line
        lambda login, pw: pw.decode(),
    ]


def test_smtp_535_echo_at_every_offset(con, smtp_server_factory, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    echo = {"form": None, "k": 0}

    def reply(mechanism, login, password):
        return f"535 5.7.8 {'-' * echo['k']}{echo['form'](login, password)}"

    server = smtp_server_factory(user=USER, password="the-right-one", reject_reply=reply)
    insert_alert(con, "a1")
    email = EmailConfig(smtp_host=server.host, smtp_port=server.port, starttls=False, to=["secops@example.com"],
                        username_env="U", password_env="P", **{"from": "roletrail@example.com"})  # fmt: skip
    cfg = config(email=email, max_attempts=1000)
    now = NOW
    for i, form in enumerate(smtp_echoes()):
        echo["form"] = form
        for k in OFFSETS if i == 0 else SOME_OFFSETS:
            echo["k"] = k
            summary = notify(con, cfg, now=now, env={"U": USER, "P": PASSWORD})
            assert "authentication failed: 535" in summary.get("email").last_error
            for text in texts_of(con, summary, caplog):
                assert not leaks(text, PASSWORD), (k, text)
            now += dt.timedelta(hours=2)
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, PASSWORD)
    assert server.messages == []


def test_stderr_of_the_command_holds_no_secret(tmp_path, slack_webhook, smtp_server_factory):
    """The same through `roletrail run`, with the secrets straddling the cut."""
    db = tmp_path / "job.duckdb"
    con = open_store(db)
    insert_alert(con, "a1")
    con.close()
    server = smtp_server_factory(
        user=USER,
        password="the-right-one",
        reject_reply=lambda m, login, pw: (
            "535 5.7.8 " + "-" * 150 + base64.b64encode(b"\0" + login + b"\0" + pw).decode()
        ),
    )
    url = slack_webhook.url(f"/services/T0/B0/{TOKEN}")
    slack_webhook.fail_next(1, 400, body=("invalid_payload " + "-" * 130 + url).encode())
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text(f"""
[database]
path = "{db}"

[notify.slack]
webhook_url_env = "HOOK"

[notify.email]
smtp_host = "127.0.0.1"
smtp_port = {server.port}
starttls = false
from = "roletrail@example.com"
to = ["secops@example.com"]
username_env = "U"
password_env = "P"
""")
    proc = roletrail("run", "--config", cfg, env={"HOOK": url, "U": USER, "P": PASSWORD})
    assert proc.returncode == 0, proc.stderr  # failures to be retried: the job did its work
    notify_stage = next(json.loads(line) for line in proc.stderr.splitlines() if '"notify"' in line)
    assert notify_stage["status"] == "retrying" and "535" in notify_stage["message"]
    assert not leaks(proc.stderr + proc.stdout, TOKEN) and not leaks(proc.stderr + proc.stdout, PASSWORD)
    con = open_store(db)
    stored = [r["last_error"] for r in deliveries(con)]
    con.close()
    assert all(stored) and not any(leaks(e, TOKEN) or leaks(e, PASSWORD) for e in stored)


def test_scrubber_masks_pieces_in_every_encoding():
    scrub = Scrubber([PASSWORD, f"\0{USER}\0{PASSWORD}"])
    blob = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    for text in (PASSWORD, PASSWORD[:9], PASSWORD[5:], blob, blob[:24], blob[12:],
                 urllib.parse.quote(PASSWORD, safe=""), json.dumps(PASSWORD)):  # fmt: skip
        masked = scrub(f"before {text} after")
        assert masked.startswith("before ") and masked.endswith(" after") and "***" in masked
        assert not leaks(masked, PASSWORD)
    assert (
        scrub("535 5.7.8 Authentication credentials invalid")
        == "535 5.7.8 Authentication credentials invalid"
    )
