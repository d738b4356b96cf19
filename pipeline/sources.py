"""Where CloudTrail log files come from: an S3 bucket (boto3) or a local folder or file.

A source lists `ObjectRef`s and fetches their bytes. With a date range, S3 listing walks
the CloudTrail key layout (AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/) with
delimiter listings and then lists only the matching day prefixes, never the whole bucket.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.store import RoletrailError

ACCOUNT = re.compile(r"^\d{12}$")
ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
DAY_IN_KEY = re.compile(r"/CloudTrail/[^/]+/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class ObjectRef:
    uri: str  # s3://bucket/key or an absolute local path
    key: str  # the key (or path relative to the source root), used for layout checks
    etag: str
    size: int
    last_modified: dt.datetime | None


def skip_reason(key: str) -> str | None:
    """Why an object is not a CloudTrail log file to load, or None if it is one."""
    if "/CloudTrail-Digest/" in f"/{key}":
        return "digest file (CloudTrail-Digest)"
    if "/CloudTrail-Insight/" in f"/{key}":
        return "insights file (CloudTrail-Insight)"
    if not (key.endswith(".json.gz") or key.endswith(".json")):
        return "not a .json.gz or .json file"
    return None


def day_of_key(key: str) -> dt.date | None:
    m = DAY_IN_KEY.search("/" + key)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def in_range(key: str, since: dt.date | None, until: dt.date | None) -> bool:
    if since is None and until is None:
        return True
    day = day_of_key(key)
    if day is None:  # not in the dated layout: the range cannot exclude it
        return True
    return (since is None or day >= since) and (until is None or day <= until)


def days(since: dt.date, until: dt.date) -> Iterator[dt.date]:
    d = since
    while d <= until:
        yield d
        d += dt.timedelta(days=1)


def option_models() -> dict:
    """[source.<scheme>] -> the source's options model."""
    return {}


def open_source(uri: str):
    if uri.startswith("s3://"):
        return S3Source(uri)
    path = Path(uri).expanduser()
    if not path.exists():
        raise RoletrailError(f"source {uri} does not exist")
    return LocalSource(path)


class LocalSource:
    def __init__(self, path: Path):
        self.root = path.resolve()
        self.uri = str(self.root)

    def list(self, since=None, until=None) -> Iterator[ObjectRef]:
        if self.root.is_file():
            yield self._ref(str(self.root), self.root.name, os.stat(self.root))
            return
        base = str(self.root)
        for folder, dirs, _ in os.walk(base):
            dirs.sort()
            rel = os.path.relpath(folder, base)
            with os.scandir(folder) as entries:
                files = sorted((e for e in entries if e.is_file()), key=lambda e: e.name)
            for e in files:
                key = e.name if rel == "." else f"{rel}/{e.name}"
                if in_range(key, since, until):
                    yield self._ref(e.path, key, e.stat())

    @staticmethod
    def _ref(path: str, key: str, st: os.stat_result) -> ObjectRef:
        return ObjectRef(
            uri=path,
            key=key,
            etag=f"{st.st_size}-{st.st_mtime_ns}",
            size=st.st_size,
            last_modified=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).replace(tzinfo=None),
        )

    def fetch(self, ref: ObjectRef) -> bytes:
        return Path(ref.uri).read_bytes()


def s3_client(max_pool: int = 32):
    import boto3
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, AWS_PROFILE and AWS_REGION itself
    session = boto3.session.Session()
    cfg = Config(
        max_pool_connections=max_pool,
        retries={"max_attempts": 5, "mode": "adaptive"},
        connect_timeout=10,
        read_timeout=60,
    )
    return session.client("s3", config=cfg)


class S3Source:
    def __init__(self, uri: str):
        rest = uri[len("s3://") :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise RoletrailError(f"bad S3 URI {uri!r}: expected s3://bucket[/prefix]")
        self.prefix = prefix
        self.uri = uri.rstrip("/")
        self.client = s3_client()

    def _ref(self, obj) -> ObjectRef:
        return ObjectRef(
            uri=f"s3://{self.bucket}/{obj['Key']}",
            key=obj["Key"],
            etag=obj.get("ETag", "").strip('"'),
            size=obj.get("Size", 0),
            last_modified=obj["LastModified"].astimezone(dt.UTC).replace(tzinfo=None)
            if obj.get("LastModified")
            else None,
        )

    def _list_prefix(self, prefix: str) -> Iterator[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                yield from page.get("Contents", [])
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            raise RoletrailError(f"cannot list s3://{self.bucket}/{prefix}: {code or e}") from None
        except BotoCoreError as e:
            raise RoletrailError(f"cannot list s3://{self.bucket}/{prefix}: {e}") from None

    def _children(self, prefix: str) -> list[str]:
        """Common prefixes one level below `prefix` (a delimiter listing)."""
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            ):
                out += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        except (ClientError, BotoCoreError) as e:
            raise RoletrailError(f"cannot list s3://{self.bucket}/{prefix}: {e}") from None
        return out

    def region_roots(self, prefix: str) -> Iterator[str]:
        """Every `.../CloudTrail/<region>/` prefix at or below `prefix`, found by delimiter listings."""
        parts = [p for p in prefix.split("/") if p]
        if len(parts) >= 2 and parts[-2] == "CloudTrail":
            yield prefix
            return
        for child in self._children(prefix):
            name = child.rstrip("/").rsplit("/", 1)[-1]
            if name in ("AWSLogs", "CloudTrail") or ACCOUNT.match(name) or ORG.match(name) or not parts:
                yield from self.region_roots(child)
            elif parts and parts[-1] == "CloudTrail":
                yield child  # a region folder

    def list(self, since=None, until=None) -> Iterator[ObjectRef]:
        prefix = self.prefix
        if prefix and not prefix.endswith(("/", ".json", ".json.gz")):
            prefix += "/"
        parts = [p for p in prefix.split("/") if p]
        dated = since is not None or until is not None
        # a prefix already inside a region's dated folders is listed as it is
        if not dated or (len(parts) >= 3 and "CloudTrail" in parts[:-2]):
            for obj in self._list_prefix(prefix):
                if in_range(obj["Key"], since, until):
                    yield self._ref(obj)
            return
        until = until or dt.datetime.now(dt.UTC).date()
        if since is None:
            raise RoletrailError("--until without --since would list every day since 1970: give --since too")
        for root in self.region_roots(prefix):
            for day in days(since, until):
                for obj in self._list_prefix(f"{root}{day:%Y/%m/%d}/"):
                    yield self._ref(obj)

    def fetch(self, ref: ObjectRef) -> bytes:
        key = ref.uri[len(f"s3://{self.bucket}/") :]
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
