"""sqs://: S3 event notifications on moto's SQS and S3 over HTTP, every message kind, garbage,
duplicates, a run killed between fetch and commit, an empty queue, `roletrail run` from a queue."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import ct_key, log_bytes, record, roletrail

from pipeline import store
from pipeline.ingest import Progress, ingest
from pipeline.sources import open_source
from pipeline.sources.notifications import NotANotification, parse
from pipeline.sources.sqs import SqsOptions, SqsSource


@pytest.fixture
def sqs(moto_server):
    import boto3

    return boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def queue(sqs):
    name = f"q-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    yield name, url
    sqs.delete_queue(QueueUrl=url)


def query(db, sql):
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def left_in(sqs, url) -> int:
    """Messages in the queue, visible or not."""
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def put_logs(s3, bucket, n, prefix="x", records=2) -> list[str]:
    keys = []
    for i in range(n):
        key = ct_key(stamp=f"20240501T10{i % 60:02d}Z", suffix=f"{prefix}{i:04d}")
        s3.put_object(
            Bucket=bucket, Key=key, Body=log_bytes([record(f"{prefix}{i}-{j}") for j in range(records)])
        )
        keys.append(key)
    return keys


def s3_event(bucket, key, s3=None, name="ObjectCreated:Put"):
    from urllib.parse import quote_plus

    obj = {"key": quote_plus(key, safe="/")}
    if s3 is not None:
        head = s3.head_object(Bucket=bucket, Key=key)
        obj.update(size=head["ContentLength"], eTag=head["ETag"].strip('"'))
    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": name,
                         "eventTime": "2024-05-01T10:05:00.000Z",
                         "s3": {"bucket": {"name": bucket}, "object": obj}}]}  # fmt: skip


def sns(message: dict) -> dict:
    return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Message": json.dumps(message)}  # fmt: skip


def send(sqs, url, *bodies):
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b if isinstance(b, str) else json.dumps(b))


def run(db, uri, **options):
    con = store.connect(db)
    try:
        opts = SqsOptions(wait_time_seconds=0, **options)
        return ingest(con, uri, progress=Progress(enabled=False), source_options=Section(opts))
    finally:
        con.close()


class Section:
    """A [source] section holding only [source.sqs]."""

    def __init__(self, sqs):
        self.sqs = sqs


def test_message_kinds_are_read_and_garbage_is_named():
    ev = parse(json.dumps(s3_event("b", "AWSLogs/a b+c.json.gz")))
    assert ev.kind == "s3" and [(n.bucket, n.key) for n in ev.objects] == [("b", "AWSLogs/a b+c.json.gz")]
    wrapped = parse(json.dumps(sns({"s3Bucket": "b", "s3ObjectKey": ["k1", "k2"]})))
    assert wrapped.kind == "sns/cloudtrail" and [n.key for n in wrapped.objects] == ["k1", "k2"]
    assert parse('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}').test
    removed = parse(json.dumps(s3_event("b", "k", name="ObjectRemoved:Delete")))
    assert removed.ignored == 1 and not removed.objects
    eb = parse(json.dumps({"source": "aws.s3", "detail-type": "Object Created", "time": "2024-05-01T10:00:00Z",
                           "detail": {"bucket": {"name": "b"}, "object": {"key": "a+b", "etag": "e", "size": 3}}}))  # fmt: skip
    assert (
        eb.kind == "eventbridge" and eb.objects[0].key == "a+b" and eb.objects[0].etag == "e"
    )  # not decoded
    for body, reason in [
        ("not json", "body is not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"hello": 1}', "not an S3, SNS, CloudTrail or EventBridge notification (keys: hello)"),
        (json.dumps({"Records": [record("e1")]}), "Records[0] is not an S3 event"),
        (json.dumps({"Type": "Notification", "TopicArn": "t", "Message": "{"}), "SNS Message is not JSON"),
        (json.dumps({"s3Bucket": "Bad Bucket!", "s3ObjectKey": ["k"]}), "bad bucket name"),
    ]:
        with pytest.raises(NotANotification, match=re.escape(reason)):
            parse(body)


def test_every_message_kind_loads_its_objects_and_is_deleted(moto_server, s3, bucket, sqs, queue, db):
    import boto3

    name, url = queue
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    keys = put_logs(s3, bucket, 5)
    # real notifications from moto: S3 -> SQS sends an s3:TestEvent, then one event per new object
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})  # fmt: skip
    direct = ct_key(stamp="20240501T1100Z", suffix="direct key")  # a space: URL-encoded as "+"
    s3.put_object(Bucket=bucket, Key=direct, Body=log_bytes([record("direct")]))
    topic = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    arn_t = topic.create_topic(Name=f"t-{name}")["TopicArn"]
    topic.subscribe(TopicArn=arn_t, Protocol="sqs", Endpoint=arn)
    # CloudTrail's own SNS notification, through SNS; an S3 event through SNS
    topic.publish(TopicArn=arn_t, Message=json.dumps({"s3Bucket": bucket, "s3ObjectKey": keys[:2]}))
    topic.publish(TopicArn=arn_t, Message=json.dumps(s3_event(bucket, keys[2], s3)))
    eb = {"version": "0", "source": "aws.s3", "detail-type": "Object Created", "time": "2024-05-01T10:05:00Z",
          "detail": {"bucket": {"name": bucket}, "object": {"key": keys[3]}}}  # fmt: skip
    digest = "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"
    send(sqs, url, eb, {"s3Bucket": bucket, "s3ObjectKey": [keys[4], digest]})
    s = run(db, f"sqs://{name}")
    assert (
        s.records_loaded == 11 and s.objects_loaded == 6 and s.objects_skipped == 1 and not s.objects_failed
    )
    assert query(
        db, "select count(*) from ingest_manifest where uri = 's3://" + bucket + "/" + direct + "'"
    ) == [(1,)]
    notes = [line for line in s.lines() if line.startswith("messages:")]
    assert notes == ["messages: 6 received, 6 deleted, 1 s3:TestEvent, 0 other S3 events ignored, "
                     "0 quarantined (table quarantined_messages)"]  # fmt: skip
    assert left_in(sqs, url) == 0


def test_garbage_is_kept_acknowledged_and_never_redelivered(s3, bucket, sqs, queue, db):
    name, url = queue
    [key] = put_logs(s3, bucket, 1)
    garbage = ["not json", '{"hello": "world", "\\u001b[2J": 1}', json.dumps({"Records": [record("e1")]})]
    # a partly bad message: its good object loads and the message is kept for the bad part
    partly = {"s3Bucket": bucket, "s3ObjectKey": [key, 7]}
    send(sqs, url, *garbage, partly)
    s = run(db, f"sqs://{name}", visibility_timeout=2)
    assert s.records_loaded == 2
    rows = query(db, "select body, reason, receive_count from quarantined_messages order by body")
    assert sorted(r[0] for r in rows) == sorted([*garbage, json.dumps(partly)])
    assert all(r[1] and r[2] == 1 for r in rows)
    assert any("s3ObjectKey[1]: bad object key" in r[1] for r in rows)
    text = "\n".join(s.lines())
    assert "4 quarantined" in text and "\x1b" not in text and "\\x1b[2J" in text  # made visible
    time.sleep(2.5)  # past the visibility timeout: nothing comes back
    assert left_in(sqs, url) == 0
    again = run(db, f"sqs://{name}")
    assert again.objects_listed == 0 and query(db, "select count(*) from quarantined_messages") == [(4,)]


def test_duplicate_notifications_load_nothing_twice(s3, bucket, sqs, queue, db):
    name, url = queue
    keys = put_logs(s3, bucket, 3)
    # loaded once by listing: its notification finds it in the manifest
    con = store.connect(db)
    ingest(con, f"s3://{bucket}/{keys[0]}", progress=Progress(enabled=False))
    con.close()
    events = [s3_event(bucket, k, s3) for k in keys]
    send(sqs, url, *events, events[1], sns(events[1]), {"s3Bucket": bucket, "s3ObjectKey": keys})
    s = run(db, f"sqs://{name}")
    assert (s.objects_listed, s.objects_new, s.records_loaded, s.duplicates_dropped) == (3, 2, 4, 0)
    assert left_in(sqs, url) == 0
    send(sqs, url, *events)  # delivered again in a later run
    again = run(db, f"sqs://{name}")
    assert again.objects_new == 0 and again.records_loaded == 0 and left_in(sqs, url) == 0
    assert query(db, "select count(*), count(distinct eventid) from cloudtrail_logs") == [(6, 6)]


def test_a_deleted_object_or_a_foreign_bucket_does_not_loop(s3, bucket, sqs, queue, db):
    name, url = queue
    [key] = put_logs(s3, bucket, 1)
    send(sqs, url, s3_event(bucket, "AWSLogs/gone.json.gz", None) | {},
         {"s3Bucket": bucket, "s3ObjectKey": ["AWSLogs/also-gone.json.gz"]}, s3_event("other-bucket", key))  # fmt: skip
    s = run(db, f"sqs://{name}", buckets=[bucket[:10] + "*"])
    reasons = sorted(r for (r,) in query(db, "select reason from quarantined_messages"))
    assert len(reasons) == 3 and "NoSuchKey" in reasons[0] + reasons[1]
    assert any("bucket 'other-bucket' is not in [source.sqs] buckets" in r for r in reasons)
    assert s.records_loaded == 0 and left_in(sqs, url) == 0


def test_empty_queue_ends_after_one_long_poll_and_max_messages_bounds_a_run(s3, bucket, sqs, queue, db):
    name, url = queue
    source = open_source(f"sqs://{name}", Section(SqsOptions(wait_time_seconds=1)))
    polls = []
    source.sqs.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage", lambda params, **kw: polls.append(params)
    )
    assert list(source.list(None, None)) == [] and len(polls) == 1 and polls[0]["WaitTimeSeconds"] == 1
    source.close()
    keys = put_logs(s3, bucket, 25, records=1)
    send(sqs, url, *(s3_event(bucket, k, s3) for k in keys))
    s = run(db, f"sqs://{name}", max_messages=12)
    assert s.objects_loaded == 12 and left_in(sqs, url) == 13
    cli = roletrail("ingest", f"sqs://{name}", "--db", db, "--max-messages", "20", check=True)
    assert "messages: 13 received, 13 deleted" in cli.stderr and left_in(sqs, url) == 0
    folder = roletrail("ingest", ".", "--db", db, "--max-messages", "5")
    assert folder.returncode == 1 and "--max-messages does not apply to file:// sources" in folder.stderr


def test_bad_queue_uris_are_one_line_errors(moto_server, db):
    env = {"AWS_ENDPOINT_URL": moto_server}
    missing = roletrail("ingest", "sqs://no-such-queue", "--db", db, env=env)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "cannot open queue no-such-queue" in missing.stderr
    bad = roletrail("ingest", "sqs://bad/name!", "--db", db, env=env)
    assert bad.returncode == 1 and "bad SQS URI" in bad.stderr and bad.stderr.count("\n") == 1


def test_a_queue_url_is_a_uri_and_a_long_batch_keeps_its_messages_invisible(s3, bucket, sqs, queue, db,
                                                                             monkeypatch):  # fmt: skip
    """The heartbeat: a batch that takes longer than the visibility timeout keeps its messages."""
    from pipeline.ingest import manifest

    name, url = queue
    keys = put_logs(s3, bucket, 2)
    send(sqs, url, *(s3_event(bucket, k, s3) for k in keys))
    seen = []
    written = manifest.write

    def slow_write(con, rows, source):
        written(con, rows, source)
        # inside the batch's transaction for three visibility timeouts: another consumer sees nothing
        for _ in range(6):
            seen.extend(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []))

    monkeypatch.setattr(manifest, "write", slow_write)
    s = run(db, f"sqs://{url}", visibility_timeout=2)
    assert s.objects_loaded == 2 and seen == [] and left_in(sqs, url) == 0


# Runs ingest from a queue with 3-object batches and stops it at a chosen point: inside the
# transaction of batch N (written, not committed), or after batch N committed but before its
# messages were deleted. Then says so, and waits to be killed.
KILLED_RUN = """
import sys, threading
from pipeline import store
from pipeline.ingest import IngestOptions, Progress, ingest, manifest
from pipeline.sources import sqs
from pipeline.sources.sqs import SqsOptions
uri, db, where, stop_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
written, committed, batches = manifest.write, sqs.SqsSource.committed, []

def stop():
    print("stopped", where, stop_at, flush=True)
    threading.Event().wait()

def write(con, rows, source):
    written(con, rows, source)
    if where == "transaction" and len(batches) == stop_at:
        stop()
    batches.append(len(rows))

def told(self, refs):
    if where == "acknowledge" and len(batches) == stop_at + 1:
        stop()
    committed(self, refs)

manifest.write, sqs.SqsSource.committed = write, told
section = type("S", (), {"sqs": SqsOptions(wait_time_seconds=0, visibility_timeout=2)})()
ingest(store.connect(db), uri, progress=Progress(enabled=False), options=IngestOptions(batch_files=3),
       source_options=section)
print("finished", flush=True)
"""


@pytest.mark.parametrize(("where", "stop_at"), [("transaction", 0), ("transaction", 2), ("acknowledge", 1)])
def test_kill_9_between_fetch_and_commit_loses_nothing(s3, bucket, sqs, queue, tmp_path, moto_server, where,
                                                       stop_at):  # fmt: skip
    name, url = queue
    keys = put_logs(s3, bucket, 12)
    send(sqs, url, *(s3_event(bucket, k, s3) for k in keys))
    db = str(tmp_path / "killed.duckdb")
    env = {"AWS_ENDPOINT_URL": moto_server}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, f"sqs://{name}", db, where, str(stop_at)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, **env})  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("stopped"), (line, proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    committed = 3 * (stop_at + (where == "acknowledge"))
    assert query(db, "select count(*) from ingest_manifest") == [(committed,)]
    assert left_in(sqs, url) == 12 - 3 * stop_at  # deleted: exactly the acknowledged batches' messages
    time.sleep(2.5)  # the killed run's messages come back after the visibility timeout
    rerun = roletrail("ingest", f"sqs://{name}", "--db", db, env=env, check=True)
    assert f"objects: {12 - 3 * stop_at} listed, {12 - committed} new" in rerun.stderr
    assert query(db, "select count(*), count(distinct eventid) from cloudtrail_logs") == [(24, 24)]
    assert left_in(sqs, url) == 0


def test_roletrail_run_from_a_queue(s3, bucket, sqs, queue, tmp_path, moto_server):
    name, url = queue
    keys = put_logs(s3, bucket, 4)
    send(sqs, url, *(s3_event(bucket, k, s3) for k in keys), "garbage")
    cfg = tmp_path / "roletrail.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "run.duckdb"}"\n[source]\nuri = "sqs://{name}"\n'
                   "[source.sqs]\nwait_time_seconds = 1\nmax_seconds = 60\nvisibility_timeout = 30\n")  # fmt: skip
    proc = roletrail("run", "--config", cfg, env={"AWS_ENDPOINT_URL": moto_server})
    assert proc.returncode == 0, proc.stderr
    stages = {r["stage"]: r for r in map(json.loads, proc.stderr.splitlines())}
    assert stages["ingest"]["status"] == "ok" and stages["ingest"]["records_loaded"] == 8
    assert left_in(sqs, url) == 0
    assert query(str(tmp_path / "run.duckdb"), "select body from quarantined_messages") == [("garbage",)]
    cfg.write_text(cfg.read_text() + "max_mesages = 3\n")
    typo = roletrail("run", "--config", cfg)
    assert typo.returncode == 1 and "source.sqs.max_mesages: unknown key" in typo.stderr


def test_options_are_bounded():
    with pytest.raises(ValueError):
        SqsOptions(wait_time_seconds=21)
    with pytest.raises(ValueError):
        SqsOptions(visibility_timeout=1)
    assert SqsSource.Options is SqsOptions
