"""`python -m bench.sqs`: ingest from S3 event notifications on SQS against the endpoint's own rate.

500 small log files in a moto server process (the one `make bench` uses), one S3 event
notification each. Side by side: the endpoint's own receive + GET + delete (8 threads, 10
messages per call), `roletrail ingest sqs://` (the whole command, a fresh database each run)
and `roletrail ingest s3://` over the same objects. Figures are printed, never asserted.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.__main__ import BIN, ENV, REPEAT, Moto, say, timed_cmd

OBJECTS = int(sys.argv[1]) if len(sys.argv) > 1 else 500


def log_file(i: int) -> bytes:
    import gzip

    records = [{"eventVersion": "1.08", "eventTime": "2024-05-01T10:00:00Z", "eventID": f"e{i}-{j}",
                "eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "awsRegion": "us-east-1",
                "recipientAccountId": "111111111111",
                "userIdentity": {"type": "IAMUser", "accountId": "111111111111"}} for j in range(3)]  # fmt: skip
    return gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)


def key(i: int) -> str:
    return (f"AWSLogs/111111111111/CloudTrail/us-east-1/2024/05/01/"
            f"111111111111_CloudTrail_us-east-1_20240501T1000Z_{i:05d}.json.gz")  # fmt: skip


def fill(sqs, url: str, bucket: str, heads: dict) -> None:
    bodies = [json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                       "eventTime": "2024-05-01T10:05:00.000Z",
                                       "s3": {"bucket": {"name": bucket},
                                              "object": {"key": k, "size": s, "eTag": e}}}]})
              for k, (s, e) in heads.items()]  # fmt: skip
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": b}
                                                       for n, b in enumerate(bodies[i : i + 10])])  # fmt: skip


def drain(moto: Moto, sqs, url: str, bucket: str, workers: int = 8) -> tuple[float, int]:
    """The endpoint's own rate: receive 10, GET each object, delete the 10, until empty."""
    t = time.perf_counter()

    def worker():
        n = 0
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in msgs:
                obj = json.loads(m["Body"])["Records"][0]["s3"]["object"]
                moto.s3.get_object(Bucket=bucket, Key=obj["key"])["Body"].read()
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(msgs)])  # fmt: skip
            n += len(msgs)
        return n

    with ThreadPoolExecutor(workers) as ex:
        n = sum(ex.map(lambda _: worker(), range(workers)))
    return time.perf_counter() - t, n


def hold_then_delete(moto: Moto, sqs, url: str, bucket: str, workers: int = 16) -> tuple[float, int]:
    """roletrail's pattern: receive until empty (messages held in flight), GET in threads, then
    delete. moto scans its in-flight messages on every receive, so holding them costs there."""
    t = time.perf_counter()
    held = []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
        "Messages", []
    ):
        held += msgs
    keys = [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in held]
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda k: moto.s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys))
    for i in range(0, len(held), 10):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for n, m in enumerate(held[i : i + 10])])  # fmt: skip
    return time.perf_counter() - t, len(held)


def main():
    import boto3
    from botocore.config import Config

    moto = Moto()
    try:
        sqs = boto3.client("sqs", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id="bench",
                           aws_secret_access_key="bench", config=Config(max_pool_connections=32))  # fmt: skip
        bucket = "bench-sqs"
        moto.s3.create_bucket(Bucket=bucket)
        with ThreadPoolExecutor(16) as ex:
            list(
                ex.map(
                    lambda i: moto.s3.put_object(Bucket=bucket, Key=key(i), Body=log_file(i)), range(OBJECTS)
                )
            )
        heads = {}
        for i in range(OBJECTS):
            h = moto.s3.head_object(Bucket=bucket, Key=key(i))
            heads[key(i)] = (h["ContentLength"], h["ETag"].strip('"'))
        env = {**ENV, "AWS_ENDPOINT_URL": moto.url}
        own, held, ours, listed = [], [], [], []
        for run in range(REPEAT):
            url = sqs.create_queue(QueueName=f"own-{run}")["QueueUrl"]
            fill(sqs, url, bucket, heads)
            own.append(drain(moto, sqs, url, bucket))
            url = sqs.create_queue(QueueName=f"held-{run}")["QueueUrl"]
            fill(sqs, url, bucket, heads)
            held.append(hold_then_delete(moto, sqs, url, bucket))
            url = sqs.create_queue(QueueName=f"ours-{run}")["QueueUrl"]
            fill(sqs, url, bucket, heads)
            with tempfile.TemporaryDirectory() as tmp:
                cfg = Path(tmp) / "roletrail.toml"
                cfg.write_text("[source.sqs]\nwait_time_seconds = 0\n")
                wall, peak, proc = timed_cmd([str(BIN / "roletrail"), "ingest", f"sqs://ours-{run}", "--db",
                                              f"{tmp}/q.duckdb", "--config", str(cfg)], env)  # fmt: skip
                ours.append((wall, peak, proc.stderr))
                wall, _, _ = timed_cmd([str(BIN / "roletrail"), "ingest", f"s3://{bucket}/AWSLogs/", "--db",
                                        f"{tmp}/l.duckdb"], env)  # fmt: skip
                listed.append(wall)
        t_own = statistics.median(t for t, _ in own)
        t_held = statistics.median(t for t, _ in held)
        t_ours = statistics.median(t for t, _, _ in ours)
        t_list = statistics.median(listed)
        say(f"SQS ingest, {OBJECTS} small objects, one S3 event notification each (median of {REPEAT}):")
        say(
            f"  endpoint's own receive + GET + delete (8 threads)  {t_own:6.2f} s {OBJECTS / t_own:7.0f} objects/s"
        )
        say(
            f"  endpoint's own, receive all, then GET + delete      {t_held:6.2f} s {OBJECTS / t_held:7.0f} objects/s"
        )
        say(f"  roletrail ingest sqs:// (whole command)            {t_ours:6.2f} s {OBJECTS / t_ours:7.0f} objects/s"
            f"  ({t_own / t_ours:.0%} of the endpoint's rate, peak RSS {ours[0][1]} MiB)")  # fmt: skip
        say(
            f"  roletrail ingest s3:// of the same objects         {t_list:6.2f} s {OBJECTS / t_list:7.0f} objects/s"
        )
        for line in ours[-1][2].splitlines():
            say(f"    {line}")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
