"""An S3 bucket (boto3): `s3://bucket[/prefix]`.

With a date range, the CloudTrail layout (AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/)
is discovered with delimiter listings once, then each region's root is listed once from
`StartAfter=<root>YYYY/MM/DD/` of --since until the first key past --until: keys sort by day
within a root, so the calls grow with objects and with accounts x regions, never with days.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from pydantic import Field

from pipeline.errors import RoletrailError
from pipeline.sources.base import BaseSource, ObjectRef, Options, in_range

ACCOUNT = re.compile(r"^\d{12}$")
ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
# what botocore accepts as a bucket name (legacy us-east-1 names allow capitals and underscores)
BUCKET = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")


class S3Options(Options):
    # many concurrent GETs hide the latency of each; a task of a few objects keeps them all busy
    workers: int = Field(default=16, ge=1, le=64)
    task_objects: int = Field(default=4, ge=1, le=1000)
    page_size: int = Field(default=1000, ge=1, le=1000)  # keys per LIST call (S3's maximum is 1000)


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


def one_line(e: Exception) -> str:
    """botocore's messages can span lines (a parameter's regex, a dump of the request)."""
    return " ".join(str(e).split())


class S3Source(BaseSource):
    Options = S3Options

    def __init__(self, uri: str, options: S3Options | None = None):
        options = options or S3Options()
        rest = uri[len("s3://") :]
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise RoletrailError(f"bad S3 URI {uri!r}: expected s3://bucket[/prefix]")
        if not BUCKET.match(self.bucket):
            raise RoletrailError(
                f"bad S3 bucket name {self.bucket!r} in {uri!r}: letters, digits, '.', '-' and '_' only"
            )
        self.prefix = prefix
        self.uri = uri.rstrip("/")
        self.workers = max(options.workers, 1)
        self.task_objects = options.task_objects
        self.page_size = options.page_size
        self.client = s3_client(max(32, self.workers * 2))

    def _ref(self, obj) -> ObjectRef:
        modified = obj.get("LastModified")
        return ObjectRef(
            uri=f"s3://{self.bucket}/{obj['Key']}",
            key=obj["Key"],
            etag=obj.get("ETag", "").strip('"'),
            size=obj.get("Size", 0),
            last_modified=modified.astimezone(dt.UTC).replace(tzinfo=None) if modified else None,
        )

    def _pages(self, prefix: str, **params) -> Iterator[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}, **params
        )
        try:
            yield from pages
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            raise RoletrailError(f"cannot list s3://{self.bucket}/{prefix}: {code or one_line(e)}") from None
        except BotoCoreError as e:
            raise RoletrailError(f"cannot list s3://{self.bucket}/{prefix}: {one_line(e)}") from None

    def _children(self, prefix: str) -> list[str]:
        """Common prefixes one level below `prefix` (a delimiter listing)."""
        return [
            p["Prefix"] for page in self._pages(prefix, Delimiter="/") for p in page.get("CommonPrefixes", [])
        ]

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
            for page in self._pages(prefix):
                for obj in page.get("Contents", []):
                    if in_range(obj["Key"], since, until):
                        yield self._ref(obj)
            return
        for root in self.region_roots(prefix):
            yield from self._list_root(root, since, until)

    def _list_root(self, root: str, since, until) -> Iterator[ObjectRef]:
        # every key of day `since` sorts after "<root>YYYY/MM/DD/", every earlier day's before it
        params = {"StartAfter": f"{root}{since:%Y/%m/%d}/"} if since else {}
        last = f"{root}{until:%Y/%m/%d}/" if until else None
        for page in self._pages(root, **params):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if last is not None and key > last and not key.startswith(last):
                    return  # past --until: so is every later key of this root (no more LIST calls)
                if in_range(key, since, until):
                    yield self._ref(obj)

    def fetch(self, ref: ObjectRef) -> bytes:
        key = ref.uri[len(f"s3://{self.bucket}/") :]
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
