"""`roletrail sql` and `roletrail chain`: read-only, locked down, safe on a terminal, and never
in the way of the scheduled job."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time

import pytest
from conftest import ct_key, log_bytes, record, roletrail, write

from pipeline import store
from pipeline.errors import Busy

HOSTILE = "x\r\nBcc: evil@example.com\x1b[2J\x1b[31mRED\x1b]0;pwned-title\x07\u202eoverride"


def hostile_assume(event_id: str, **extra) -> dict:
    r = record(
        event_id,
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        userAgent=HOSTILE,
        requestParameters={
            "roleArn": "arn:aws:iam::222222222222:role/Deploy",
            "roleSessionName": "s\x1b[2Jname",
            "sourceIdentity": HOSTILE,
        },
        responseElements={
            "credentials": {"accessKeyId": "ASIAHOSTILE000000001", "expiration": "May 1, 2024, 11:00:00 AM"},
            "assumedRoleUser": {
                "arn": "arn:aws:sts::222222222222:assumed-role/Deploy/s",
                "assumedRoleId": "A:s",
            },
            "sourceIdentity": HOSTILE,
        },
        **extra,
    )
    r["userIdentity"]["accountId"] = "111111111111"
    return r


@pytest.fixture
def hostile_db(tmp_path):
    write(tmp_path / "src", ct_key(suffix="q"), log_bytes([hostile_assume("ev-hostile-1")]))
    db = tmp_path / "q.duckdb"
    roletrail("ingest", tmp_path / "src", "--db", db, check=True)
    return db


def raw_controls(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 0x20 and ch != "\n") or ord(ch) == 0x7F or ch == "\u202e"]


def test_table_output_shows_control_characters_json_and_csv_stay_exact(hostile_db):
    q = "select useragent from cloudtrail_logs"
    table = roletrail("sql", "--db", hostile_db, q, check=True).stdout
    assert raw_controls(table) == []
    assert "\\x1b[2J" in table and "\\r\\n" in table and "\\u202e" in table
    [row] = json.loads(roletrail("sql", "--db", hostile_db, "--format", "json", q, check=True).stdout)
    assert row["useragent"] == HOSTILE
    [line] = roletrail("sql", "--db", hostile_db, "--format", "jsonl", q, check=True).stdout.splitlines()
    assert json.loads(line)["useragent"] == HOSTILE


def test_chain_text_makes_log_values_visible_and_json_exact(hostile_db):
    text = roletrail("chain", "--db", hostile_db, "ASIAHOSTILE000000001", check=True).stdout
    assert raw_controls(text) == []
    assert "\\x1b]0;pwned-title\\x07" in text
    # a forged line cannot start: the CR/LF of the value is shown, not obeyed
    assert not any(line.startswith("Bcc:") for line in text.splitlines())
    out = json.loads(
        roletrail("chain", "--db", hostile_db, "--format", "json", "ASIAHOSTILE000000001").stdout
    )
    assert out["hops"][0]["source_identity"] == HOSTILE


def test_chain_clips_long_values_and_says_when_values_are_missing(tmp_path):
    long_agent = "A" * 100_000
    deep = record("deep1", userAgent=long_agent)
    deep["userIdentity"] = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    deep.pop("eventSource")
    deep.pop("eventName")
    write(tmp_path / "src", ct_key(suffix="d"), log_bytes([deep]))
    db = tmp_path / "d.duckdb"
    roletrail("ingest", tmp_path / "src", "--db", db, check=True)
    text = roletrail("chain", "--db", db, "deep1", check=True).stdout
    assert "None" not in text
    assert "event   2024-05-01T10:00:00Z - - by AWSService" in text


def test_chain_reports_every_record_an_id_matches(tmp_path):
    # three records claim to have issued the same access key: the logs disagree, say so
    recs = [hostile_assume(f"ev-dup-{i}", eventTime=f"2024-05-01T10:0{i}:00Z") for i in range(3)]
    write(tmp_path / "src", ct_key(suffix="m"), log_bytes(recs))
    db = tmp_path / "m.duckdb"
    roletrail("ingest", tmp_path / "src", "--db", db, check=True)
    text = roletrail("chain", "--db", db, "ASIAHOSTILE000000001", check=True).stdout
    assert "3 records match: ev-dup-0, ev-dup-1, ev-dup-2; following the first" in text
    out = json.loads(roletrail("chain", "--db", db, "--format", "json", "ASIAHOSTILE000000001").stdout)
    assert out["candidates"] == ["ev-dup-0", "ev-dup-1", "ev-dup-2"]


@pytest.mark.parametrize(
    "query",
    [
        "copy (select 1) to '{dir}/out.csv'",
        "export database '{dir}/export'",
        "select * from read_text('/etc/hostname')",
        "select * from read_csv('/etc/passwd')",
        "attach '{dir}/other.duckdb' as other",
        "install httpfs",
        "set enable_external_access = true",
        "create table t (x int)",
    ],
)
def test_sql_cannot_write_read_files_or_reach_the_network(hostile_db, tmp_path, query):
    proc = roletrail("sql", "--db", hostile_db, query.format(dir=tmp_path))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and proc.stdout == ""
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "export").exists()
    assert not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize("query", ["", "   ", " ;\n"])
def test_empty_query_is_a_one_line_error(hostile_db, query):
    proc = roletrail("sql", "--db", hostile_db, "-", input=query)
    assert proc.returncode == 1 and proc.stderr == "roletrail: the query is empty\n"


def test_a_long_investigation_does_not_hold_up_the_scheduled_job(hostile_db, tmp_path):
    with store.reader(hostile_db) as con:
        # an analyst's query is open on the database the whole time
        assert con.execute("select count(*) from cloudtrail_logs").fetchall() == [(1,)]
        write(tmp_path / "more", ct_key(suffix="more"), log_bytes([record("ev-later")]))
        proc = roletrail("ingest", tmp_path / "more", "--db", hostile_db)
        assert proc.returncode == 0, proc.stderr
        # it keeps reading the state it started with
        assert con.execute("select count(*) from cloudtrail_logs").fetchall() == [(1,)]
    out = roletrail("sql", "--db", hostile_db, "--format", "csv", "select count(*) as n from cloudtrail_logs")
    assert out.stdout.splitlines() == ["n", "2"]


def test_a_reader_during_a_run_reads_the_last_committed_state(hostile_db):
    roletrail("sql", "--db", hostile_db, "select 1", check=True)  # a snapshot exists
    with store.exclusive(hostile_db, "run"):
        proc = roletrail(
            "sql", "--db", hostile_db, "--format", "csv", "select count(*) as n from cloudtrail_logs"
        )
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["n", "1"]
    assert "a run is writing" in proc.stderr and "reading its state as of" in proc.stderr


def test_a_writer_waits_for_a_readers_copy_and_a_second_writer_does_not(hostile_db):
    open(f"{hostile_db}.lock", "w").close()  # forget the fixture's ingest
    fd = os.open(f"{hostile_db}.access", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)  # a reader copying the file
    got = []

    def writer():
        with store.exclusive(hostile_db, "ingest", wait_seconds=30):
            got.append("writer")

    t = threading.Thread(target=writer)
    t.start()
    # the writer holds the writer lock (it says so in the lock file) and waits for the copy
    lock_text = ""
    for _ in range(1000):
        lock_text = open(f"{hostile_db}.lock").read()
        if "ingest" in lock_text:
            break
        time.sleep(0.01)
    assert lock_text == f"pid {os.getpid()} ingest"
    with pytest.raises(Busy, match=r"already working .*; run not started"):
        with store.exclusive(hostile_db, "run", wait_seconds=0):
            pass
    assert got == []
    os.close(fd)  # the copy is done
    t.join(timeout=30)
    assert got == ["writer"]


def test_detect_table_makes_a_hostile_role_arn_visible(tmp_path):
    denied = record(
        "ev-denied",
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        sourceIPAddress="203.0.113.9",
        errorCode="AccessDenied",
        requestParameters={
            "roleArn": "arn:aws:iam::222222222222:role/\x1b[2J\x1b]0;pwned\x07",
            "roleSessionName": "s",
        },
        recipientAccountId="111111111111",
    )
    write(tmp_path / "src", ct_key(suffix="dn"), log_bytes([denied]))
    db = tmp_path / "dn.duckdb"
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text('[network]\nknown_cidrs = ["198.51.100.0/24"]\n')
    roletrail("ingest", tmp_path / "src", "--db", db, check=True)
    out = roletrail("detect", "--db", db, "--config", cfg, check=True).stdout
    assert "unknown_source_ip" in out and raw_controls(out) == []
    assert "\\x1b]0;pwned\\x07" in out
