"""`roletrail run` end to end: moto S3, the Slack stand-in and SMTP, all on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from conftest import FIXTURES, ct_key, log_bytes, roletrail
from outbox_kit import insert_alert, open_store

from pipeline import config as config_mod
from pipeline import store
from pipeline.job import StageLog, run_job

# fixtures slack_webhook, smtp_server (tests/servers.py)
pytest_plugins = ["servers"]

SECRET = "SECRETTOKEN0123456789"


def case_records(detector: str, name: str) -> list[dict]:
    return json.loads((FIXTURES / detector / f"{name}.json").read_text())["Records"]


def write_config(tmp_path: Path, bucket: str, smtp, db: str) -> Path:
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text(
        f"""
[database]
path = "{db}"

[source]
uri = "s3://{bucket}/AWSLogs/"
lookback_days = 0

[network]
known_cidrs = ["198.51.100.0/24", "2001:db8:1234::/48"]

[source_identity]
required = {{ "arn:aws:iam::*:role/PlatformDeploy" = "*@example.com" }}

[notify.slack]
webhook_url_env = "ROLETRAIL_SLACK_WEBHOOK"

[notify.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
starttls = false
from = "roletrail@example.com"
to = ["secops@example.com"]
"""
    )
    return cfg


def test_run_twice_delivers_every_alert_exactly_once(
    s3, bucket, slack_webhook, smtp_server, tmp_path, moto_server
):
    recs = case_records("unknown_source_ip", "ipv4_outside_known") + case_records(
        "missing_source_identity", "required_role_without_source_identity"
    )
    s3.put_object(Bucket=bucket, Key=ct_key(suffix="one"), Body=log_bytes(recs))
    db = str(tmp_path / "job.duckdb")
    cfg = write_config(tmp_path, bucket, smtp_server, db)
    env = {
        "AWS_ENDPOINT_URL": moto_server,
        "ROLETRAIL_SLACK_WEBHOOK": slack_webhook.url(f"/services/T0/B0/{SECRET}"),
    }
    slack_webhook.fail_next(1, status=500)

    first = roletrail("run", "--config", cfg, "--format", "jsonl", env=env)
    assert first.returncode == 0, first.stderr  # a failed delivery is retried, not a failed job
    stages = [json.loads(line) for line in first.stderr.splitlines()]
    assert [(s["stage"], s["status"]) for s in stages] == [
        ("ingest", "ok"),
        ("detect", "ok"),
        ("notify", "retrying"),
        ("summary", "ok"),
    ]
    assert stages[-1]["message"].startswith(f"{len(recs)} records loaded, 2 new alerts")
    alerts = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted(a["detector"] for a in alerts) == ["missing_source_identity", "unknown_source_ip"]
    for a in alerts:  # DESIGN.md's jsonl fields
        assert {"alert_id", "detector", "severity", "title", "role_arn", "account_id", "first_seen", "last_seen",
                "event_count", "event_ids", "details"} <= a.keys()  # fmt: skip
    assert len(slack_webhook.requests) == 1 and len(smtp_server.messages) == 1

    # cron's next run comes 15 minutes later: the 1-minute backoff has passed by then
    con = store.connect(db)
    con.execute("update alert_deliveries set next_attempt_at = next_attempt_at - interval 15 minute")
    con.close()
    second = roletrail("run", "--config", cfg, "--format", "jsonl", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""  # no new alerts
    third = roletrail("run", "--config", cfg, env=env)
    assert third.returncode == 0

    assert len(slack_webhook.requests) == 2  # the failed attempt, then one delivery
    delivered = slack_webhook.requests[1].json()
    text = json.dumps(delivered)
    for a in alerts:
        assert a["role_arn"] in text
    assert len(smtp_server.messages) == 1  # email worked the first time: never sent again
    con = store.connect(db, read_only=True)
    rows = con.execute(
        "select destination, status, count(*) from alert_deliveries group by 1, 2 order by 1"
    ).fetchall()
    assert rows == [("email", "delivered", 2), ("slack", "delivered", 2)]
    dump = "\n".join(str(r) for r in con.execute("select * from alert_deliveries").fetchall())
    con.close()
    for out in (first, second, third):
        assert SECRET not in out.stdout + out.stderr
    assert SECRET not in dump


def test_overlapping_run_exits_without_touching_the_database(tmp_path, bucket, smtp_server, moto_server):
    db = str(tmp_path / "job.duckdb")
    cfg = write_config(tmp_path, bucket, smtp_server, db)
    with store.exclusive(db):
        proc = roletrail("run", "--config", cfg, env={"AWS_ENDPOINT_URL": moto_server})
    assert proc.returncode == 75
    assert len(proc.stderr.strip().splitlines()) == 1 and "already working on" in proc.stderr
    assert not Path(db).exists()


def test_failed_stage_is_reported_and_later_stages_still_run(tmp_path, smtp_server):
    db = str(tmp_path / "job.duckdb")
    cfg = write_config(tmp_path, "no-such-bucket", smtp_server, db)
    # the webhook is configured (else notify reports a misconfiguration); no alert, so never contacted
    hook = "http://127.0.0.1:9/services/T0/B0/unused"
    proc = roletrail(
        "run",
        "--config",
        cfg,
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "ROLETRAIL_SLACK_WEBHOOK": hook},
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    stages = [json.loads(line) for line in lines[:-1]]
    assert [(s["stage"], s["status"]) for s in stages] == [
        ("ingest", "failed"),
        ("detect", "ok"),
        ("notify", "ok"),
        ("summary", "failed"),
    ]
    assert lines[-1] == "roletrail: stage failed: ingest"


def test_terminal_lines_are_sentences(tmp_path, slack_webhook, monkeypatch):
    db = tmp_path / "job.duckdb"
    con = open_store(db)
    insert_alert(con, "a1")
    con.close()
    cfg_path = tmp_path / "roletrail.toml"
    cfg_path.write_text('[notify.slack]\nwebhook_url_env = "ROLETRAIL_SLACK_WEBHOOK"\n')
    monkeypatch.setenv("ROLETRAIL_SLACK_WEBHOOK", slack_webhook.url())
    out = io.StringIO()
    run_job(config_mod.load(cfg_path), str(db), StageLog(out, machine=False))
    lines = out.getvalue().splitlines()
    assert [line.split(": ")[1] for line in lines] == ["ingest", "detect", "notify", "summary"]
    assert lines[0] == "run: ingest: skipped: no [source] uri in the config (0.0 s)"
    assert re.fullmatch(r"run: notify: ok: slack: 1 alert delivered in 1 message \(\d+\.\d s\)", lines[2])
    assert re.fullmatch(
        r"run: summary: ok: 0 records loaded, 0 new alerts, 1 delivery \(\d+\.\d s\)", lines[3]
    )
    assert not re.search(r"[{}=]|'\w+': ", out.getvalue())  # no Python dict, no key=value dump
