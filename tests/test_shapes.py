"""Input shapes: every shape loads exactly the rows its records load from a Records document."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import ct_key, log_bytes, record, write

from pipeline import store
from pipeline.ingest import Progress, ingest
from pipeline.ingest.shapes import SHAPES

# the rows as loaded, minus what names the file and the time of loading
COMPARED = "select * exclude (source_key, record_index, ingested_at) from cloudtrail_logs order by eventid"


def records() -> list[dict]:
    assume = record(
        "ar1",
        "2024-05-01T11:00:00Z",
        account="222222222222",
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        requestParameters={"roleArn": "arn:aws:iam::111111111111:role/Deploy", "roleSessionName": "s"},
        responseElements={"credentials": {"accessKeyId": "ASIAEXAMPLE"}},
        sharedEventID="shared-1",
    )
    odd = record("odd", userAgent="caf\u00e9 \u2603", brandNewField={"n": [1, 2.5]})  # keeps its JSON
    odd["userIdentity"]["sessionContext"] = {
        "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/r"}
    }
    no_id = record("tmp", when="2024-06-02 20:16:32.000000000")
    del no_id["eventID"]
    return [record("e1"), assume, odd, no_id]


def envelope(rec: dict) -> dict:
    return {
        "version": "0",
        "id": "6f3e3c1a-0000-0000-0000-000000000000",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": rec["recipientAccountId"],
        "time": rec["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": rec,
    }


def dumps(v) -> str:
    return json.dumps(v, indent=None)


def as_shape(shape: str, recs: list[dict]) -> bytes:
    """`recs` as a file of `shape`, the way the tools that write it do."""
    text = {
        "records": lambda: dumps({"Records": recs}),
        "ndjson": lambda: "\n".join(dumps(r) for r in recs) + "\n",
        "eventbridge": lambda: "\n".join(dumps(envelope(r)) for r in recs),
        "lookup-events": lambda: json.dumps(
            {
                "Events": [
                    {"EventId": r.get("eventID"), "EventName": r["eventName"], "CloudTrailEvent": dumps(r)}
                    for r in recs
                ],
                "NextToken": "x",
            },
            indent=4,
        ),
        "array": lambda: json.dumps(recs, indent=2),
    }[shape]()
    return text.encode()


def load(db, source, **kw):
    con = store.connect(db)
    try:
        return ingest(con, str(source), progress=Progress(enabled=False), **kw)
    finally:
        con.close()


def rows(db, sql=COMPARED):
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("baseline")
    write(root / "src", ct_key(suffix="base"), log_bytes(records()))
    db = str(root / "base.duckdb")
    assert load(db, root / "src").records_loaded == len(records())
    return rows(db)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_loads_the_rows_of_a_records_document(tmp_path, baseline, shape, compress):
    data = as_shape(shape, records())
    # a name that says nothing: the shape is found from the content
    name = "export.json.gz" if compress else "export.json"
    write(tmp_path / "src", name, gzip.compress(data) if compress else data)
    db = str(tmp_path / "x.duckdb")
    s = load(db, tmp_path / "src")
    assert (s.objects_loaded, s.records_loaded, s.records_quarantined) == (1, len(records()), 0)
    assert rows(db) == baseline
    assert rows(db, "select shape, status from ingest_manifest") == [(shape, "loaded")]


def test_a_single_eventbridge_event_and_a_single_record_line(tmp_path, db):
    rec = records()[1]
    write(tmp_path / "src", "a.json", json.dumps(envelope(rec), indent=2).encode())
    write(tmp_path / "src", "b.json", json.dumps(records()[0]).encode())
    s = load(db, tmp_path / "src")
    assert s.records_loaded == 2
    assert rows(db, "select shape from ingest_manifest order by uri") == [("eventbridge",), ("ndjson",)]


def test_concatenated_log_files_load_every_record(tmp_path, db):
    recs = records()
    text = "\n".join(dumps({"Records": part}) for part in (recs[:2], recs[2:]))
    write(tmp_path / "src", "cat.json", text.encode())
    s = load(db, tmp_path / "src")
    assert (s.records_loaded, s.records_quarantined) == (len(recs), 0)
    assert rows(db, "select shape from ingest_manifest") == [("records",)]


def test_s3_objects_are_shaped_too(s3, bucket, db):
    s3.put_object(
        Bucket=bucket, Key="exports/lake.json.gz", Body=gzip.compress(as_shape("ndjson", records()))
    )
    s = load(db, f"s3://{bucket}/exports/")
    assert s.records_loaded == len(records())
    assert rows(db, "select shape from ingest_manifest") == [("ndjson",)]


def test_a_bad_line_or_entry_is_quarantined_alone(tmp_path, db):
    good = [record("n1"), record("n2")]
    lines = [dumps(good[0]), '{"eventID": "broken", ', dumps(good[1])]
    write(tmp_path / "src", "lines.jsonl", "\n".join(lines).encode())
    lookup = {
        "Events": [{"CloudTrailEvent": dumps(record("l1"))}, {"CloudTrailEvent": "{nope"}, {"EventId": "x"}]
    }
    write(tmp_path / "src", "lookup.json", json.dumps(lookup).encode())
    s = load(db, tmp_path / "src")
    assert (s.records_loaded, s.records_quarantined) == (3, 3)
    bad = rows(db, "select regexp_extract(source_key, '[a-z]+\\.jsonl?$'), record_index, reason, record "
                   "from quarantined_records order by 1, 2")  # fmt: skip
    assert [(b[0], b[1]) for b in bad] == [("lines.jsonl", 1), ("lookup.json", 1), ("lookup.json", 2)]
    assert bad[0][2].startswith("invalid JSON line") and bad[0][3] == lines[1]
    assert bad[1][2].startswith("CloudTrailEvent is not valid JSON") and bad[1][3] == "{nope"
    assert bad[2][2] == "lookup-events entry without a CloudTrailEvent string"


def test_a_lone_surrogate_quarantines_its_record_not_its_file(tmp_path, db):
    recs = [record("s1"), record("s2", userAgent="x\ud800y"), record("s3", userAgent="\ud83d\ude00 ok")]
    # json.dumps writes the lone surrogate as the escape \ud800, as a hostile or broken writer would
    write(tmp_path / "src", ct_key(suffix="sur"), log_bytes(recs))
    s = load(db, tmp_path / "src")
    assert (s.objects_loaded, s.records_loaded, s.records_quarantined) == (1, 2, 1)
    assert rows(db, "select eventid, useragent from cloudtrail_logs order by 1") == [
        ("s1", "aws-cli/2.15.0"),
        ("s3", "\U0001f600 ok"),
    ]
    [(index, reason, text)] = rows(db, "select record_index, reason, record from quarantined_records")
    assert (
        index == 1
        and "lone surrogate" in reason
        and "\\ud800" in text
        and json.loads(text)["eventID"] == "s2"
    )


def test_insights_records_are_skipped_and_counted(tmp_path, db):
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-01T10:00:00Z",
        "awsRegion": "us-east-1",
        "eventID": "ins-1",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "111111111111",
        "sharedEventID": "x",
        "insightDetails": {
            "state": "Start",
            "eventName": "AttachUserPolicy",
            "insightType": "ApiCallRateInsight",
        },
        "eventCategory": "Insight",
    }
    write(tmp_path / "src", ct_key(suffix="mixed"), log_bytes([record("e1"), insight]))
    write(tmp_path / "src", ct_key(suffix="only"), log_bytes([dict(insight, eventID="ins-2")]))
    s = load(db, tmp_path / "src")
    assert (s.records_loaded, s.records_skipped, s.records_quarantined) == (1, 2, 0)
    assert (s.objects_loaded, s.objects_skipped) == (1, 1)
    assert rows(db, "select eventid from cloudtrail_logs") == [("e1",)]
    assert rows(db, "select status, records_skipped, reason from ingest_manifest order by uri") == [
        ("loaded", 1, None),
        ("skipped", 1, "Insights records only"),
    ]


def test_a_file_whose_records_all_went_to_quarantine_is_quarantined(tmp_path, db):
    no_time = record("nt")
    del no_time["eventTime"]
    write(tmp_path / "src", ct_key(suffix="bad"), log_bytes([no_time, record("bt", when="yesterday")]))
    s = load(db, tmp_path / "src", quarantine_dir=tmp_path / "q")
    assert (s.objects_loaded, s.objects_quarantined, s.records_quarantined) == (0, 1, 2)
    [(status, reason, n, path)] = rows(db, "select status, reason, quarantined_records, quarantine_path "
                                           "from ingest_manifest")  # fmt: skip
    assert (status, n) == ("quarantined", 2) and "every record quarantined" in reason
    assert rows(db, "select count(*) from quarantined_records") == [(2,)] and (tmp_path / "q").exists()


def test_a_value_that_does_not_fit_its_column_keeps_the_record(tmp_path, db):
    odd = record("str-identity")
    odd["userIdentity"] = "arn:aws:iam::111111111111:user/alice"
    listy = record("str-resources", resources="arn:aws:s3:::bucket")
    # an IAM user's session: CloudTrail writes an empty sessionIssuer, which fits its column
    empty = record("empty-issuer", resources=[])
    empty["userIdentity"]["sessionContext"] = {
        "sessionIssuer": {},
        "attributes": {"mfaAuthenticated": "false"},
    }
    string_issuer = record("str-issuer")
    string_issuer["userIdentity"]["sessionContext"] = {
        "sessionIssuer": "Role",
        "attributes": {"mfaAuthenticated": "false"},
    }
    recs = [record("plain"), odd, listy, empty, string_issuer]
    write(tmp_path / "src", ct_key(suffix="a"), log_bytes(recs))
    load(db, tmp_path / "src")
    kept = dict(rows(db, "select eventid, raw_record from cloudtrail_logs"))
    assert kept["plain"] is None and kept["empty-issuer"] is None
    assert json.loads(kept["str-issuer"]) == string_issuer
    assert json.loads(kept["str-identity"])["userIdentity"] == odd["userIdentity"]
    assert json.loads(kept["str-resources"])["resources"] == "arn:aws:s3:::bucket"


def test_an_old_manifest_gets_the_new_columns(tmp_path):
    db = str(tmp_path / "old.duckdb")
    con = store.connect(db)
    con.execute("create table ingest_manifest (uri VARCHAR PRIMARY KEY, source VARCHAR, status VARCHAR)")
    con.execute("insert into ingest_manifest values ('s3://b/k', 's3://b', 'loaded')")
    store.init_db(con)
    assert con.execute("select uri, shape, records_skipped from ingest_manifest").fetchall() == [
        ("s3://b/k", None, None)
    ]
    con.close()
