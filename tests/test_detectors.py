"""Detectors: the framework's promises, every fixture case, the benign gate and the real corpus."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import re
from pathlib import Path

import pytest
from conftest import CORPUS, FIXTURES, ct_key, log_bytes, write

from detectors.base import QUERY_COLUMNS, SEVERITIES
from detectors.registry import all_detectors
from pipeline import config as config_mod
from pipeline import detect, store
from pipeline.ingest import Progress, ingest
from pipeline.netcheck import ip_status

DETECTORS = all_detectors()
CASES = sorted(FIXTURES.glob("*/*.json"))
CASES = [p for p in CASES if p.parent.name in {d.id for d in DETECTORS}]
NOW = dt.datetime(2024, 6, 1)


def load_records(db: str, root: Path, records: list[dict], files: dict | None = None) -> None:
    """The records as one log file, and each of `files` (key -> records) as a file of its own."""
    if records:
        write(root, ct_key(suffix="case"), log_bytes(records))
    for key, recs in (files or {}).items():
        write(root, key, log_bytes(recs))
    con = store.connect(db)
    try:
        ingest(con, str(root), progress=Progress(enabled=False))
    finally:
        con.close()


def run_detect(db: str, cfg, full=False) -> detect.DetectSummary:
    con = store.connect(db)
    try:
        return detect.detect(con, cfg, now=NOW, full=full)
    finally:
        con.close()


def alerts(db: str, detector: str | None = None) -> list[dict]:
    con = store.connect(db, read_only=True)
    try:
        cur = con.execute(
            "select * from alerts where $d::varchar is null or detector = $d order by first_seen",
            {"d": detector},
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def matches(alert: dict, expected: dict) -> bool:
    for key, want in expected.items():
        if key.startswith("details."):
            got = json.loads(alert["details"])
            for part in key.split(".")[1:]:
                got = got.get(part) if isinstance(got, dict) else None
        else:
            got = alert[key]
        if got != want:
            return False
    return True


def test_metadata_is_complete_and_consistent():
    # every detector comes with its fixtures, and every fixture folder names a detector
    assert {d.id for d in DETECTORS} == {p.name for p in FIXTURES.iterdir() if p.is_dir()} - {"corpus"}
    for d in DETECTORS:
        assert re.sub(r"[^a-z0-9]+", "_", d.title.lower()) == d.id, d.id  # id, file names and title match
        assert d.severity in SEVERITIES
        assert d.attack and all(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in d.attack)
        assert d.description and d.runbook and d.false_positives
        assert d.sql.strip()
        # the defaults pass the detector's own config model, bounds included
        settings = d.params_model()()
        assert {p.name: getattr(settings, p.name) for p in d.params} == d.defaults()
        for p in d.params:
            assert p.doc


def test_every_detector_returns_the_same_columns(db):
    """Run each query on an empty database: the framework rejects any other column list."""
    con = store.connect(db)
    store.init_db(con)
    from pipeline.engine.duck import DuckDBEngine

    engine = DuckDBEngine(con)
    cfg = config_mod.Config()
    for d in DETECTORS:
        for name, (columns, rows) in detect.bind_tables(d, cfg).items():
            engine.register_table(name, columns, rows)
        cur = con.execute(d.sql, detect.bind_parameters(d, cfg, NOW))
        names = [c[0] for c in cur.description]
        # the fixed columns first; the rest are the details' keys
        assert names[: len(QUERY_COLUMNS)] == [c for c, _ in QUERY_COLUMNS], d.id
        assert "details" not in names, d.id
        assert detect.run_query(engine, d, cfg, NOW) == []
    con.close()


def test_parameters_are_bound_never_formatted():
    for d in DETECTORS:
        assert "{}" not in d.sql and "%s" not in d.sql, d.id
        # every config-dependent value is a $parameter
        # every parameter is used: in the query, or by name in the module of its postprocess step
        post = inspect.getsource(inspect.getmodule(d.postprocess)) if d.postprocess is not None else ""
        for p in d.params:
            assert f"${p.name}" in d.sql or f'params["{p.name}"]' in post, (d.id, p.name)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_case(path, tmp_path, db):
    doc = json.loads(path.read_text())
    cfg = config_mod.Config.model_validate(doc["config"])
    load_records(db, tmp_path / "src", doc["Records"], doc.get("Files"))
    run_detect(db, cfg)
    got = alerts(db, path.parent.name)
    expected = doc["expect"]
    assert len(got) == len(expected), f"{path.stem}: {[a['title'] for a in got]}"
    for want in expected:
        assert any(matches(a, want) for a in got), (want, got)


def test_rerun_updates_instead_of_duplicating(tmp_path, db):
    doc = json.loads((FIXTURES / "unknown_source_ip" / "ipv4_outside_known.json").read_text())
    cfg = config_mod.Config.model_validate(doc["config"])
    load_records(db, tmp_path / "src", doc["Records"])
    first = run_detect(db, cfg)
    assert len(first.new_alerts) == 1
    again = run_detect(db, cfg, full=True)
    assert (len(again.new_alerts), again.updated) == (0, 1)
    [a] = alerts(db)
    assert a["alert_id"] == first.new_alerts[0]["alert_id"] and a["event_count"] == 1
    # nothing new ingested: an incremental run does nothing
    assert run_detect(db, cfg).events_new == 0


def test_incremental_detection_finds_what_a_full_run_finds(tmp_path, db):
    doc = json.loads((FIXTURES / "novel_session_name" / "new_shape_after_history.json").read_text())
    cfg = config_mod.Config.model_validate(doc["config"])
    recs = doc["Records"]
    load_records(db, tmp_path / "a", recs[:-2])  # history first
    assert run_detect(db, cfg).new_alerts == []
    load_records(db, tmp_path / "b", recs[-2:])  # then the new hour's assume
    summary = run_detect(db, cfg)
    assert summary.events_new == 2
    assert [a["detector"] for a in summary.new_alerts] == ["novel_session_name"]
    # the window read is the new events plus the baseline lookback, not the whole history
    assert summary.window_start == dt.datetime(2024, 5, 12, 10, 0)


def test_a_view_several_detectors_read_is_staged_once_from_the_earliest_baseline(tmp_path, db):
    """assume_role_calls is computed once per run, from the longest lookback of the detectors
    that read it, and afterwards the view is the view again (every row, however old)."""
    from pipeline.engine.duck import DuckDBEngine

    doc = json.loads((FIXTURES / "novel_session_name" / "new_shape_after_history.json").read_text())
    cfg = config_mod.Config.model_validate(doc["config"])
    load_records(db, tmp_path / "src", doc["Records"])
    staged = []

    class Recording(DuckDBEngine):
        def stage(self, name, since):
            staged.append((name, since))
            super().stage(name, since)

    con = store.connect(db)
    try:
        summary = detect.detect(con, cfg, now=NOW, engine=Recording(con))
        readers = [d for d in detect.enabled(cfg) if "assume_role_calls" in d.sql]
        assert len(readers) >= 2
        assert staged == [("assume_role_calls", summary.window_start - max(d.lookback for d in readers))]
        temp = "select count(*) from duckdb_tables() where temporary and table_name = 'assume_role_calls'"
        assert con.execute(temp).fetchall() == [(0,)]
        # staged from a later time, the view shows only those rows; unstaged, every row again
        count = "select count(*), min(eventtime) from assume_role_calls"
        [(n, first)] = con.execute(count).fetchall()
        [(last,)] = con.execute("select max(eventtime) from assume_role_calls").fetchall()
        engine = DuckDBEngine(con)
        engine.stage("assume_role_calls", last)
        [(n_staged, first_staged)] = con.execute(count).fetchall()
        engine.unstage("assume_role_calls")
        assert (n_staged, first_staged) == (1, last) and n > 1
        assert con.execute(count).fetchall() == [(n, first)]
    finally:
        con.close()
    assert [a["detector"] for a in summary.new_alerts] == ["novel_session_name"]


def test_a_denied_burst_is_one_alert(tmp_path, db):
    """Every detector over the denied burst: access_denied_cluster reports it, nothing else does."""
    doc = json.loads(
        (FIXTURES / "assume_role_volume_spike" / "denied_burst_is_access_denied_clusters.json").read_text()
    )
    load_records(db, tmp_path / "src", doc["Records"])
    run_detect(db, config_mod.Config.model_validate(doc["config"]))
    assert [a["detector"] for a in alerts(db)] == ["access_denied_cluster"]


def test_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[detectors.novel_session_name]\nmin_history_assumes = 0\n")
    with pytest.raises(
        store.RoletrailError, match=r"min_history_assumes: .*greater than or equal to 1 \(got 0\)"
    ):
        config_mod.load(bad)
    bad.write_text('[detectors.novel_session_name]\nmin_history_assumes = "5"\n')
    with pytest.raises(store.RoletrailError, match=r"min_history_assumes: Input should be a valid integer"):
        config_mod.load(bad)
    bad.write_text("[detectors.no_such_detector]\nenabled = false\n")
    with pytest.raises(store.RoletrailError, match="detectors.no_such_detector: unknown key"):
        config_mod.load(bad)
    bad.write_text('[detectors.new_caller_account]\nexpected_pairs = ["garbage"]\n')
    with pytest.raises(store.RoletrailError, match=r"expected_pairs.0: String should match pattern"):
        config_mod.load(bad)
    bad.write_text('[[suppressions]]\ndetector = "no_such"\nreason = "because"\nexpires = 2030-01-01\n')
    with pytest.raises(store.RoletrailError, match="unknown detector 'no_such'"):
        config_mod.load(bad)
    bad.write_text('[network]\nknown_cidrs = ["10.0.0.0/33"]\n')
    with pytest.raises(store.RoletrailError, match="known_cidrs"):
        config_mod.load(bad)
    bad.write_text("[netwrok]\nknown_cidrs = []\n")
    with pytest.raises(store.RoletrailError, match="netwrok"):
        config_mod.load(bad)
    bad.write_text('[[suppressions]]\ndetector = "unknown_source_ip"\nexpires = 2030-01-01\n')
    with pytest.raises(store.RoletrailError, match="reason"):
        config_mod.load(bad)


def test_ip_status_never_crashes_on_real_world_strings():
    cidrs = ["198.51.100.0/24", "2001:db8:1234::/48"]
    cases = {
        "198.51.100.9": "known", "203.0.113.1": "unknown", "2001:db8:1234::1": "known",
        "2001:db8:ffff::1": "unknown", "::ffff:198.51.100.9": "known", "06.237.252.245": "malformed",
        "255.18.064.253": "malformed", "123.456.789.012": "malformed", "72.XX.XXX.XX": "malformed",
        "<Attacker source IP>": "malformed", "": "malformed", "events.amazonaws.com": "service",
        "AWS Internal": "service", "&AWS; Internal": "service", "81.2.69.142, 192.168.10.10": "unknown",
        "198.51.100.1, 198.51.100.2": "known", "fe80::1%eth0": "unknown",
    }  # fmt: skip
    assert {ip: ip_status(ip, cidrs) for ip in cases} == cases
    assert ip_status(None, cidrs) is None


def test_network_of_is_the_learned_key():
    from pipeline.netcheck import network_of

    cases = {
        "203.0.113.9": "203.0.113.0/24", "2001:db8:1234:ffff::9": "2001:db8:1234::/48",
        "2001:0db8:1234:0001:0:0:0:5": "2001:db8:1234::/48", "::ffff:198.51.100.9": "198.51.100.0/24",
        "81.2.69.142, 192.168.10.10": "192.168.10.0/24, 81.2.69.0/24", "06.237.252.245": None,
        "events.amazonaws.com": None, "AWS Internal": None, "<Attacker source IP>": None, None: None,
    }  # fmt: skip
    assert {ip: network_of(ip) for ip in cases} == cases


def test_benign_organization_raises_no_alert(tmp_path, db):
    """Four weeks of the synthetic organization's normal traffic: no detector may fire."""
    from pipeline import synth

    spec = synth.OrgSpec(days=28, seed=5, scale=0.5)
    synth.write_local(tmp_path / "src", spec)
    con = store.connect(db)
    ingest(con, str(tmp_path / "src"), progress=Progress(enabled=False))
    con.close()
    cfg = config_mod.Config.model_validate(
        {
            # the organization's own intent: its roles' sessions keep their [[roles]] expectations
            **synth.expectations(spec),
            "network": {"known_cidrs": list(synth.KNOWN_CIDRS)},
            "source_identity": {
                "required": {
                    "arn:aws:iam::*:role/PlatformDeploy": "*@example.com",
                    "arn:aws:iam::*:role/ExportRole": "exporter-svc",
                }
            },
        }
    )
    summary = run_detect(db, cfg)
    assert summary.events_new > 10_000
    assert [(a["detector"], a["title"]) for a in alerts(db)] == []


def test_real_corpus_findings_are_the_expected_ones(db):
    """Every detector over the real corpus; each finding is explained here."""
    con = store.connect(db)
    ingest(con, str(CORPUS / "events"), progress=Progress(enabled=False))
    con.close()
    cfg = config_mod.Config.model_validate({"network": {"known_cidrs": ["198.51.100.0/24"]}})
    run_detect(db, cfg)
    found = sorted(
        ((a["detector"], a["role_arn"], a["source_ip"]) for a in alerts(db)),
        key=lambda f: tuple(x or "" for x in f),
    )
    assert found == [
        # trail_tampering: each sample of a trail being stopped, deleted or narrowed, successful;
        # the failed and coverage-keeping samples next to them (Panther's negatives, denied
        # attempts) and the lifecycle samples (no trail_buckets configured here) stay quiet.
        # Stratus Red Team's stopped, deleted and selector-narrowed trails (no session issuer):
        ("trail_tampering", None, "08.1.250.216"),
        ("trail_tampering", None, "10.0.0.1"),  # Panther: UpdateTrail isMultiRegionTrail false
        ("trail_tampering", None, "221.254.191.250"),
        ("trail_tampering", None, "86.245.153.234"),
        # Panther: DeleteTrail, StopLogging, PutEventSelectors without management events
        (
            "trail_tampering",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/SampleRole",
            "1.2.3.4",
        ),
        ("trail_tampering", "arn:aws:iam::123456789012:role/example-role", "111.111.111.111"),
        ("trail_tampering", "arn:aws:iam::123456789012:role/tester", "111.111.111.111"),
        # the CloudTrail user guide's CreateRole example trusts arn:aws:iam::210987654321:root, an
        # account with no records in the corpus (no [organization] given: the trail's accounts
        # are the organization), without sts:ExternalId
        ("trust_policy_weakened", "arn:aws:iam::123456789012:role/TestRole", "127.0.0.1"),
        # Stratus Red Team's iam-create-backdoor-role and iam-backdoor-role detonations: a new role,
        # and an existing one updated, that trust the attacker's 193672423079:root without an
        # external id. Panther's backdoor example (Principal "*" with sts:ExternalId) narrows,
        # and its records that name no role are no version.
        (
            "trust_policy_weakened",
            "arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role",
            "209.209.254.254",
        ),
        (
            "trust_policy_weakened",
            "arn:aws:iam::751203476945:role/stratus-red-team-backdoor-r-role",
            "225.178.039.250",
        ),
        # the IAM user guide's cross-account example pair (JohnDoe, 777788889999 -> 111122223333)
        # comes from 192.0.2.101, outside the known CIDRs given here: both copies make one alert
        ("unknown_source_ip", "arn:aws:iam::111122223333:role/EC2-dev", "192.0.2.101"),
    ]


def test_delivery_gap_is_one_alert_from_open_to_closed(tmp_path, db):
    """A stream falls silent (an open gap), stays silent over the next run, then delivers again:
    one alert throughout, its end moving with each run."""
    doc = json.loads(
        (FIXTURES / "trail_delivery_gap" / "stream_silent_while_others_deliver.json").read_text()
    )
    cfg = config_mod.Config.model_validate(doc["config"])
    files = doc["Files"]
    cut = "20240509T1600Z"  # day 8, 16:00

    def stamp(key):
        return re.search(r"_(\d{8}T\d{4}Z)_", key)[1]

    load_records(db, tmp_path / "a", [], {k: v for k, v in files.items() if stamp(k) < cut})
    [first] = run_detect(db, cfg).new_alerts
    assert json.loads(first["details"])["still_open"] and first["last_seen"] == dt.datetime(2024, 5, 9, 14, 0)
    load_records(db, tmp_path / "b", [], {k: v for k, v in files.items() if stamp(k) >= cut})
    assert run_detect(db, cfg).new_alerts == []
    # the silent stream delivers again at 23:00, an hour after the other stream's last file
    silent = sorted(k for k in files if "/eu-west-1/" in k)[-1]
    back = silent.replace(stamp(silent), "20240509T2300Z")
    rec = dict(files[silent][0], eventTime="2024-05-09T23:01:00Z", eventID="back-again")
    load_records(db, tmp_path / "c", [], {back: [rec]})
    assert run_detect(db, cfg).new_alerts == []
    [alert] = alerts(db, "trail_delivery_gap")
    details = json.loads(alert["details"])
    assert alert["alert_id"] == first["alert_id"] and not details["still_open"]
    assert alert["last_seen"] == dt.datetime(2024, 5, 9, 23, 0) and details["next_file"].endswith(back)
