"""Shared fixtures: real servers on 127.0.0.1 (moto S3), paths, and a CLI runner."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.sinks import free_port  # noqa: F401  (re-exported for the test modules)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = FIXTURES / "corpus"

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server access log


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch):
    # never reach a real AWS endpoint: fake credentials, and no profile from the host
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def moto_server():
    """A moto S3 server over HTTP on 127.0.0.1, reached through its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto_server, monkeypatch):
    """A boto3 S3 client on the moto server, with AWS_ENDPOINT_URL set for roletrail."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    return client


@pytest.fixture
def bucket(s3, request):
    name = "trail-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def db(tmp_path) -> str:
    (tmp_path / "db").mkdir()
    return str(tmp_path / "db" / "test.duckdb")


def log_bytes(records, compress: bool = True) -> bytes:
    data = json.dumps({"Records": records}).encode()
    return gzip.compress(data, mtime=0) if compress else data


def record(event_id: str, when: str = "2024-05-01T10:00:00Z", account: str = "111111111111", **extra) -> dict:
    r = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/alice",
            "accountId": account,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "alice",
        },
        "eventTime": when,
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"maxResults": 5},
        "responseElements": None,
        "requestID": "req-" + event_id,
        "eventID": event_id,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    r.update(extra)
    return r


def ct_key(
    account="111111111111",
    region="us-east-1",
    day="2024/05/01",
    stamp="20240501T1000Z",
    suffix="abc",
    org=None,
):
    base = f"AWSLogs/{org}/{account}" if org else f"AWSLogs/{account}"
    return f"{base}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"


def write(root: Path, key: str, data: bytes) -> Path:
    p = root / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def roletrail(*args, env=None, input=None, check=False, timeout=120) -> subprocess.CompletedProcess:
    """Run the real console script in a subprocess."""
    exe = Path(sys.executable).parent / "roletrail"
    proc = subprocess.run(
        [str(exe), *map(str, args)],
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"roletrail {args} failed ({proc.returncode}): {proc.stderr}")
    return proc
