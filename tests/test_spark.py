"""Spark (pyspark local, one session for the module): the lake Spark builds, and every view and
detector on Spark giving DuckDB's rows and alerts, on the detector fixtures plus a small benign
organization with the demo's incidents. Every registered view and detector is compared."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from pathlib import Path

import pytest
from conftest import FIXTURES, ct_key, log_bytes, record, roletrail, write

from detectors.registry import all_detectors
from pipeline import config as config_mod
from pipeline import demo, detect, lake, lake_build, store, synth
from pipeline.engine import dialects
from pipeline.ingest import Progress, ingest

NOW = dt.datetime(2024, 6, 1)


@pytest.fixture(scope="module")
def spark():
    from pipeline.engine.spark import session

    s = session("local[2]", {"spark.sql.shuffle.partitions": "2"})
    yield s
    s.stop()


def _merge(into: dict, more: dict) -> dict:
    """Fixture configs together: lists and tables united, the first value of a setting kept."""
    for key, value in more.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        elif isinstance(value, list):
            into[key] = into.get(key, []) + [v for v in value if v not in into.get(key, [])]
        else:
            into.setdefault(key, value)
    return into


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return make_org(tmp_path_factory.mktemp("org"))


ID_KEYS = {"eventID", "sharedEventID", "accessKeyId", "requestID"}


def distinct_ids(value, tag: str):
    """A fixture case's records with its ids tagged: the cases reuse ids (same generator seeds),
    and two different records with one event id have no order any engine agrees on."""
    if isinstance(value, dict):
        return {
            k: f"{v}-{tag}" if k in ID_KEYS and isinstance(v, str) else distinct_ids(v, tag)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [distinct_ids(v, tag) for v in value]
    return value


def _no_id(n: int, extra: dict) -> dict:
    r = {**record(f"unused-{n}"), "requestID": f"noid-{n}", **extra}
    del r["eventID"]
    return r


NO_ID_RECORDS = [
    _no_id(n, extra)
    for n, extra in enumerate(
        [
            {},
            {"n": 1e5, "big": 12345678901234567890, "f": 1.5e-7, "g": 1e300},
            {"s": "a\u001bb\u2028c\u0000d", "emoji": "\U0001f600", "slash": "\\/"},
            {"eventID": None, "empty": {}, "list": []},
        ]
    )
]


def make_org(root: Path) -> dict:
    """One source folder: every detector fixture's records, and 3 days of a small organization
    with the demo's incidents; and the config all of them together ask for."""
    src = root / "src"
    cfg: dict = {"network": {"known_cidrs": list(synth.KNOWN_CIDRS)}}
    ids = {d.id for d in all_detectors()}
    for n, path in enumerate(sorted(FIXTURES.glob("*/*.json"))):
        if path.parent.name not in ids:
            continue
        doc = json.loads(path.read_text())
        write(src, ct_key(suffix=f"case{n}"), log_bytes(distinct_ids(doc["Records"], f"c{n}")))
        # a case's own log files (their keys matter: delivery times), in a folder of their own
        for key, recs in doc.get("Files", {}).items():
            write(src / f"case{n}", key, log_bytes(distinct_ids(recs, f"c{n}")))
        _merge(cfg, {k: v for k, v in doc["config"].items() if k != "suppressions"})
    # one file per account, region and day: Spark pays per file, and the volume is not the point
    spec = synth.OrgSpec(days=3, seed=7, scale=0.2, records_per_file=100_000)
    synth.write_local(src / "org", spec)
    for key, data in demo.incident_objects(spec, demo.incidents(spec)):
        write(src / "org", key, data)
    # bad input, as ingest sees it: a corrupt gzip, a document without Records, a bad record,
    # and a second delivery of a file (its records are duplicates)
    write(src, ct_key(suffix="corrupt"), b"\x1f\x8b\x08\x00 not gzip at all")
    write(src, ct_key(suffix="norecords"), gzip.compress(b'{"logFiles": []}'))
    good = record("11111111-2222-3333-4444-555555555555")
    write(src, ct_key(suffix="badrecord"), log_bytes([good, {"eventID": "x-no-time"}]))
    write(src, ct_key(suffix="again"), log_bytes([good]))
    # records without an eventID (hand-made exports): their derived id must not depend on the
    # engine, whatever their numbers and strings look like
    write(src, ct_key(suffix="noid"), log_bytes(NO_ID_RECORDS))
    db = str(root / "duck.duckdb")
    con = store.connect(db)
    ingest(con, str(src), progress=Progress(enabled=False))
    con.close()
    return {"root": root, "src": src, "db": db, "config": config_mod.Config.model_validate(cfg)}


@pytest.fixture(scope="module")
def built(org, spark):
    summary = lake_build.build(spark, str(org["src"]), str(org["root"] / "lake"))
    path = str(org["root"] / "lake")
    # one engine for the module: its views are registered once
    return {"lake": path, "summary": summary, "spark": lake.spark_engine(path, spark)}


def test_lake_build_applies_ingests_rules(org, built):
    s = built["summary"]
    con = store.connect(org["db"], read_only=True)
    (runs,) = con.execute(
        "select sum(objects_loaded), sum(objects_quarantined), sum(records_loaded), sum(duplicates_dropped), "
        "sum(records_quarantined) from ingest_runs"
    ).fetchall()
    reasons = dict(
        con.execute("select uri, reason from ingest_manifest where status = 'quarantined'").fetchall()
    )
    con.close()
    assert (s.objects_loaded, s.objects_quarantined, s.records_loaded, s.duplicates_dropped,
            s.records_quarantined) == tuple(runs)  # fmt: skip
    assert s.duplicates_dropped >= 1 and s.records_quarantined == 1 and s.objects_quarantined == 2
    assert dict(s.quarantined) == reasons
    # Athena's layout: account, region and day as hive partitions
    days = {p.name for p in Path(built["lake"], "cloudtrail_logs").glob("account=*/region=*/day=*")}
    assert days and all(len(d) == len("day=2024-05-01") for d in days)


def test_a_second_build_reads_only_new_files(org, built, spark, tmp_path):
    _, (before,) = built["spark"].query("select count(*), max(eventid) from cloudtrail_logs")
    lake_path = tmp_path / "lake"
    src = tmp_path / "src"
    write(src, ct_key(suffix="a"), log_bytes([record("a-1"), record("a-2")]))
    first = lake_build.build(spark, str(src), str(lake_path))
    again = lake_build.build(spark, str(src), str(lake_path))
    write(src, ct_key(suffix="b", stamp="20240501T1005Z"), log_bytes([record("b-1"), record("a-1")]))
    third = lake_build.build(spark, str(src), str(lake_path))
    assert (first.objects_new, first.records_loaded) == (1, 2)
    assert (again.objects_new, again.records_loaded) == (0, 0)
    # only the new object is read; its copy of a-1 is a duplicate of what the lake holds
    assert (third.objects_new, third.records_loaded, third.duplicates_dropped) == (1, 1, 1)
    engine = lake.duckdb_engine(str(lake_path))
    _, rows = engine.query("select eventid from cloudtrail_logs order by 1")
    engine.close()
    assert [r[0] for r in rows] == ["a-1", "a-2", "b-1"]
    # each build and each engine has a session of its own: the module's engine, on the same
    # Spark context, still reads the module's lake, not the lake just built
    _, (after,) = built["spark"].query("select count(*), max(eventid) from cloudtrail_logs")
    assert after == before


def _policy_change(event_id: str, when: str, principal: str) -> dict:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return record(event_id, when, eventSource="iam.amazonaws.com", eventName="UpdateAssumeRolePolicy",
                  requestParameters={"roleName": "Deploy", "policyDocument": document}, readOnly=False)  # fmt: skip


def test_a_build_rewrites_trust_policy_statements_when_a_policy_changed(spark, tmp_path):
    """A whole view is rewritten when the days a build touched hold rows of it; a day without a
    policy change leaves trust_policy_statements as it was."""
    lake_path, src = tmp_path / "lake", tmp_path / "src"
    table = lake_path / "trust_policy_statements"
    write(src, ct_key(suffix="a"), log_bytes([_policy_change("p-1", "2024-05-01T10:00:00Z", "222222222222")]))
    lake_build.build(spark, str(src), str(lake_path))
    written = sorted(table.glob("*.parquet"))
    # a day without a policy change (a rewrite is decided by day: the days a build touched)
    write(src, ct_key(day="2024/05/03", stamp="20240503T1000Z", suffix="b"),
          log_bytes([record("b-1", "2024-05-03T10:00:00Z")]))  # fmt: skip
    lake_build.build(spark, str(src), str(lake_path))
    assert sorted(table.glob("*.parquet")) == written
    write(src, ct_key(day="2024/05/02", stamp="20240502T1000Z", suffix="c"),
          log_bytes([_policy_change("p-2", "2024-05-02T10:00:00Z", "*")]))  # fmt: skip
    lake_build.build(spark, str(src), str(lake_path))
    engine = lake.duckdb_engine(str(lake_path))
    _, rows = engine.query(
        "select version_id, principal, is_wildcard from trust_policy_statements order by 1"
    )
    engine.close()
    # a later build refreshes the views too (it once found its own rows duplicates and did not)
    assert rows == [("p-1", "222222222222", False), ("p-2", "*", True)]


def test_a_record_without_an_event_id_gets_ingests_derived_id(org, built):
    con = store.connect(org["db"], read_only=True)
    duck = con.execute(
        "select requestid, eventid, eventid_derived from cloudtrail_logs where requestid like 'noid-%' order by 1"
    ).fetchall()
    con.close()
    _, spark_rows = built["spark"].query(
        "select requestid, eventid, eventid_derived from cloudtrail_logs where requestid like 'noid-%' order by 1"
    )
    assert len(duck) == len(NO_ID_RECORDS) and all(derived for _, _, derived in duck)
    assert [tuple(r) for r in spark_rows] == duck


def _normal(value):
    """A value compared across engines: JSON text parsed, floats rounded, structs by field."""
    if isinstance(value, float):
        return round(value, 9) if math.isfinite(value) else value
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _normal(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def _rows(engine, name: str, columns: list[str]) -> list:
    _, rows = engine.query(f"select {', '.join(columns)} from {name}")
    return sorted((_normal(list(r)) for r in rows), key=repr)


@pytest.mark.parametrize("view", store.view_names())
def test_every_view_gives_duckdbs_rows_on_spark_over_the_lake(org, built, spark, view):
    from pipeline.engine.duck import DuckDBEngine

    if not dialects.portable("view", view, "spark"):
        pytest.skip(f"declared not portable to Spark: {dialects.NOT_PORTABLE['spark'][f'view {view}']}")
    con = store.connect(org["db"], read_only=True)
    duck = DuckDBEngine(con)  # the store's own views
    columns = [d[0] for d in con.execute(f"select * from {view} limit 0").description]
    expected = _rows(duck, view, columns)
    con.close()
    assert expected, f"view {view} has no rows on the test organization: the comparison would prove nothing"
    assert _rows(built["spark"], view, columns) == expected
    over_lake = lake.duckdb_engine(built["lake"])
    assert _rows(over_lake, view, columns) == expected
    over_lake.close()


def _alerts(db: str) -> dict:
    con = store.connect(db, read_only=True)
    rows = con.execute(
        "select alert_id, detector, severity, event_count, event_ids, details from alerts"
    ).fetchall()
    con.close()
    return {a: (d, s, n, list(ids), _normal(json.loads(details))) for a, d, s, n, ids, details in rows}


def test_every_detector_gives_duckdbs_alerts_on_spark(org, built, spark, tmp_path):
    cfg = org["config"]
    con = store.connect(org["db"])
    detect.detect(con, cfg, now=NOW, full=True)
    con.close()
    expected = _alerts(org["db"])
    fired = {v[0] for v in expected.values()}
    # every detector with a fixture that expects an alert fires on the merged organization
    ids = {d.id for d in all_detectors()}
    wanted = {
        p.parent.name
        for p in FIXTURES.glob("*/*.json")
        if p.parent.name in ids and json.loads(p.read_text())["expect"]
    }
    # new_caller_account's "first time" cannot survive the merge: other cases' records give the
    # same accounts a history; it has its own fixtures on DuckDB and is compared here all the same
    assert wanted - fired <= {"new_caller_account"}, wanted - fired
    assert len(fired) >= len(wanted) - 1
    for name, engine in (("spark", built["spark"]), ("duckdb", lake.duckdb_engine(built["lake"]))):
        db = str(tmp_path / f"{name}.duckdb")
        con = store.connect(db)
        detect.detect(con, cfg, now=NOW, full=True, engine=engine)
        con.close()
        engine.close()
        got = _alerts(db)
        # detectors not carried to the engine yet are left out there, and only there
        want_here = {a: v for a, v in expected.items() if dialects.portable("detector", v[0], engine.name)}
        assert got.keys() == want_here.keys(), name
        for alert_id, want in want_here.items():
            # detector, severity, event count, event ids in order, details
            assert got[alert_id] == want, f"{name} {alert_id}:\n got {got[alert_id]}\nwant {want}"


def test_the_lake_holds_the_whole_views_with_the_columns_export_sql_declares(built, spark):
    from pipeline import lake_export

    for name in lake.WHOLE:
        assert lake.has_table(built["lake"], name), name
    for name, columns in lake_export.LAKE_VIEW_COLUMNS.items():
        df = spark.read.parquet(lake.table_path(built["lake"], name))
        assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == list(columns)
        assert df.count() > 0


def test_spark_function_list_is_the_sessions(spark):
    live = {r.function for r in spark.sql("show functions").collect()}
    assert dialects.spark_functions() <= live


def _shape_corpus(n: int = 4000) -> list[str | None]:
    """Every family of generated names, and strings made of the pieces a shape turns on (ids,
    hex letters, camel case, dates, e-mail, separators, braces, non-ASCII)."""
    import random
    import string

    from test_session_shapes import FAMILIES

    rng = random.Random(20261202)
    names = [make() for make in FAMILIES.values() for _ in range(100)]
    alphabet = string.ascii_letters + string.digits + "+=,.@-_{} é"
    pieces = ["deploy", "cafe", "fefb", "{id}", "{email}", "a@b.c", "2024-01-02T03:04:05Z", "ABCdef",
              "-", "..", "Role2", "AAAAAAAAAAAAAAAAA", "MyRoleSessionNameIsLong", "abCDEfgHIjkLMnoPQ"]  # fmt: skip
    for _ in range(n):
        if rng.random() < 0.4:
            names.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 64))))
        else:
            k = rng.randrange(1, 8)
            names.append(
                "".join(rng.choice([*pieces, rng.choice(alphabet) * rng.randrange(1, 20)]) for _ in range(k))
            )
    return [*names, "", None]


def test_session_shapes_are_duckdbs_on_spark(spark):
    """The shape is one SQL definition: Spark runs it inlined, DuckDB as a macro, same shapes."""
    from pipeline.engine.spark import own_session
    from pipeline.session_shape import session_shapes

    names = _shape_corpus()
    session = own_session(spark)
    session.createDataFrame([(i, n) for i, n in enumerate(names)], "i int, n string").createOrReplaceTempView(
        "t"
    )
    query = dialects.carry("select i, roletrail_session_shape(n) as shape from t", "spark")
    got = [r.shape for r in sorted(session.sql(query).collect())]
    want = session_shapes(names)
    assert sum(s is not None and "{id}" in s for s in want) > len(names) // 4  # the ids are there
    assert [(n, g) for n, g, w in zip(names, got, want, strict=True) if g != w] == []


def test_detect_over_a_lake_from_the_command_line(org, built, tmp_path):
    db = tmp_path / "cli.duckdb"
    proc = roletrail("detect", "--lake", built["lake"], "--db", db, "--format", "jsonl", check=True)
    assert proc.stdout.strip() and all(json.loads(line)["alert_id"] for line in proc.stdout.splitlines())
    proc = roletrail("detect", "--engine", "spark", "--db", db)
    assert proc.returncode == 1 and "give --lake LAKE" in proc.stderr
    proc = roletrail("detect", "--lake", tmp_path / "nothing", "--db", db)
    assert proc.returncode == 1 and "no lake at" in proc.stderr


# an organization unlike the module's: another seed, the standard layout, three regions, people
# denied now and then; with the demo's incidents and config (source identity rules, role
# expectations, known networks). `make bench` compares more of them (bench/spark.py).
OTHER_ORGS = {
    "standard-3-regions": dict(
        seed=20261202,
        layout="standard",
        failure_rate=0.1,
        regions=("us-east-1", "eu-west-1", "ap-southeast-2"),
    ),
}


@pytest.mark.parametrize("name", sorted(OTHER_ORGS))
def test_spark_gives_duckdbs_alerts_on_other_generated_organizations(spark, tmp_path, name):
    spec = synth.OrgSpec(**{"days": 3, "scale": 0.1, "records_per_file": 100_000, **OTHER_ORGS[name]})
    src = tmp_path / "src"
    synth.write_local(src, spec)
    for key, data in demo.incident_objects(spec, demo.incidents(spec)):
        write(src, key, data)
    cfg_text = demo.CONFIG.format(db=tmp_path / "x.duckdb", bucket="b", cidrs=json.dumps(list(synth.KNOWN_CIDRS)),
                                  slack_env="UNUSED", smtp_port=1, expectations=synth.expectations_toml(spec))  # fmt: skip
    (tmp_path / "roletrail.toml").write_text(cfg_text)
    cfg = config_mod.load(tmp_path / "roletrail.toml")
    now = spec.end + dt.timedelta(hours=1)
    results = {}
    built_lake = str(tmp_path / "lake")
    lake_build.build(spark, str(src), built_lake)
    for engine_name in ("duckdb", "spark", "duckdb-over-lake"):
        db = str(tmp_path / f"{engine_name}.duckdb")
        con = store.connect(db)
        if engine_name == "duckdb":
            ingest(con, str(src), progress=Progress(enabled=False))
            engine = None
        else:
            engine = (
                lake.spark_engine(built_lake, spark)
                if engine_name == "spark"
                else lake.duckdb_engine(built_lake)
            )
        detect.detect(con, cfg, now=now.replace(tzinfo=None), full=True, engine=engine)
        con.close()
        if engine is not None:
            engine.close()
        results[engine_name] = _alerts(db)
    expected = results["duckdb"]
    # the incidents fire: the comparison is over real alerts, not two empty sets
    assert len({v[0] for v in expected.values()}) >= 5, sorted({v[0] for v in expected.values()})
    for engine_name in ("spark", "duckdb-over-lake"):
        assert results[engine_name] == expected, engine_name
