"""roletrail.toml: one model assembled from the registered parts, checked by every command."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ct_key, log_bytes, record, roletrail, write

from detectors.registry import all_detectors
from pipeline import config as config_mod
from pipeline import detect, store
from pipeline.errors import RoletrailError


@pytest.mark.parametrize("command", ["ingest", "detect", "notify", "run", "sql", "chain", "report"])
def test_every_command_rejects_an_unknown_detector_section(tmp_path, command):
    bad = tmp_path / "bad.toml"
    bad.write_text("[detectors.no_such]\nenabled = false\n")
    args = {"ingest": [tmp_path], "sql": ["select 1"], "chain": ["x"]}.get(command, [])
    proc = roletrail(command, *args, "--config", bad, "--db", tmp_path / "x.duckdb")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"roletrail: config file {bad}: detectors.no_such: unknown key\n"


def test_the_config_has_a_section_for_every_registered_detector():
    fields = config_mod.Config.model_fields["detectors"].annotation.model_fields
    assert set(fields) == {d.id for d in all_detectors()}


def test_a_suppression_must_say_what_it_matches(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[suppressions]]\ndetector = "unknown_source_ip"\nreason = "vendor"\nexpires = 2030-01-01\n'
    )
    with pytest.raises(RoletrailError, match="needs role_arn, account, source_ip or session_name"):
        config_mod.load(path)
    path.write_text(path.read_text() + "all = true\n")
    assert config_mod.load(path).suppressions[0].all is True
    path.write_text(path.read_text() + 'account = "111111111111"\n')
    with pytest.raises(RoletrailError, match="takes no role_arn"):
        config_mod.load(path)


def test_a_suppression_added_later_also_covers_an_open_alert(tmp_path):
    """An alert opened before the suppression existed is suppressed when its events recur."""
    db = str(tmp_path / "s.duckdb")
    assume = record(
        "ev-1",
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        sourceIPAddress="203.0.113.9",
        requestParameters={"roleArn": "arn:aws:iam::222222222222:role/Vendor", "roleSessionName": "v"},
        recipientAccountId="222222222222",
    )
    cfg = {"network": {"known_cidrs": ["198.51.100.0/24"]}}
    write(tmp_path / "a", ct_key(suffix="a"), log_bytes([assume]))
    roletrail("ingest", tmp_path / "a", "--db", db, check=True)
    con = store.connect(db)
    now = dt.datetime(2024, 5, 2)
    first = detect.detect(con, config_mod.Config.model_validate(cfg), now=now)
    assert [a["status"] for a in first.new_alerts] == ["open"]
    cfg["suppressions"] = [
        {"detector": "unknown_source_ip", "source_ip": "203.0.113.0/24", "reason": "vendor VPN",
         "expires": dt.date(2030, 1, 1)}
    ]  # fmt: skip
    detect.detect(con, config_mod.Config.model_validate(cfg), now=now, full=True)
    assert con.execute("select status, suppression_reason from alerts").fetchall() == [
        ("suppressed", "vendor VPN")
    ]
    con.close()
