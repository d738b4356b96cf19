"""Reading a trail's objects for `verify`: an S3 bucket through boto3, or a local copy of one.

Self-contained on purpose (the ingest sources are being reworked); each class lists keys,
reads an object with its metadata, and maps the S3 names inside a digest to its own keys.
A local copy has no S3 metadata: a digest's signature is read from a sidecar file next to it,
`<digest>.json.gz.signature`, holding the hex of `x-amz-meta-signature`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RoletrailError
from pipeline.verify.digest import day_of

SIDECAR = ".signature"
ACCOUNT_OR_ORG = re.compile(r"^(\d{12}|o-[a-z0-9]{10,32})$")


@dataclass(frozen=True)
class Blob:
    body: bytes
    metadata: dict


def in_range(key: str, since: dt.date | None, until: dt.date | None) -> bool:
    day = day_of(key)
    if day is None:
        return since is None and until is None
    return (since is None or day >= since) and (until is None or day <= until)


def open_objects(uri: str):
    if uri.startswith("s3://"):
        return S3Objects(uri)
    path = Path(uri).expanduser()
    if not path.is_dir():
        raise RoletrailError(f"{uri} is not a folder or an s3:// URI")
    return LocalObjects(path)


class LocalObjects:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.label = str(self.root)

    def list(self, since=None, until=None) -> Iterator[str]:
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            rel = Path(folder).relative_to(self.root).as_posix()
            for name in sorted(files):
                key = name if rel == "." else f"{rel}/{name}"
                if in_range(key, since, until):
                    yield key

    def read(self, key: str) -> Blob | None:
        path = self.root / key
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise RoletrailError(f"cannot read {path}: {e.strerror or e}") from None
        # a missing sidecar is an unsigned digest, reported as such, not an error here
        try:
            signature = Path(f"{path}{SIDECAR}").read_text().strip()
        except (OSError, UnicodeDecodeError):
            signature = None
        return Blob(body, {"signature": signature} if signature else {})

    @staticmethod
    def claims(key: str, bucket: str, s3_object: str) -> bool:
        """Whether the digest found at `key` says it lives there (the folder may hold any
        part of the bucket, so its key is a suffix of the S3 key; the bucket is unknown)."""
        return s3_object == key or s3_object.endswith("/" + key)

    @staticmethod
    def locate(digest_key: str, digest_object: str, bucket: str, s3_object: str) -> str | None:
        """This folder's key for an S3 object a digest names, or None if outside the folder."""
        above = digest_object[: len(digest_object) - len(digest_key)]  # the bucket part above the folder
        return s3_object[len(above) :] if s3_object.startswith(above) else None


class S3Objects:
    def __init__(self, uri: str):
        self.bucket, _, self.prefix = uri[len("s3://") :].partition("/")
        if not self.bucket:
            raise RoletrailError(f"bad S3 URI {uri!r}: expected s3://bucket[/prefix]")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        if re.search(r"(^|/)CloudTrail(-Digest)?/", self.prefix):
            raise RoletrailError(
                f"{uri} is inside one kind of file: give a prefix at or above AWSLogs/<account>/ "
                "so that both the log files and the digests are under it"
            )
        self.label = f"s3://{self.bucket}/{self.prefix}"
        self.client = _client()

    def _pages(self, **kw) -> Iterator[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield from self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **kw)
        except (ClientError, BotoCoreError) as e:
            raise RoletrailError(
                f"cannot list s3://{self.bucket}/{kw.get('Prefix', '')}: {_why(e)}"
            ) from None

    def roots(self, prefix: str, above_awslogs: bool = True) -> Iterator[str]:
        """Every `<account>/CloudTrail[-Digest]/<region>/` prefix below `prefix`, found with
        delimiter listings (never a listing of every object)."""
        last = prefix.rstrip("/").rsplit("/", 1)[-1]
        for page in self._pages(Prefix=prefix, Delimiter="/"):
            for child in (p["Prefix"] for p in page.get("CommonPrefixes", [])):
                name = child.rstrip("/").rsplit("/", 1)[-1]
                if last in ("CloudTrail", "CloudTrail-Digest"):
                    yield child
                elif name == "AWSLogs":
                    yield from self.roots(child, above_awslogs=False)
                elif name in ("CloudTrail", "CloudTrail-Digest") or ACCOUNT_OR_ORG.match(name):
                    yield from self.roots(child, above_awslogs=False)
                elif above_awslogs:  # a trail's own key prefix above AWSLogs/
                    yield from self.roots(child)

    def list(self, since=None, until=None) -> Iterator[str]:
        if since is None and until is None:
            for page in self._pages(Prefix=self.prefix):
                yield from (o["Key"] for o in page.get("Contents", []))
            return
        for root in self.roots(self.prefix):
            # keys sort by day under a region root: start at --since, stop past --until
            start = {"StartAfter": f"{root}{since:%Y/%m/%d}"} if since else {}
            for page in self._pages(Prefix=root, **start):
                for o in page.get("Contents", []):
                    day = day_of(o["Key"])
                    if until is not None and day is not None and day > until:
                        break
                    if in_range(o["Key"], since, until):
                        yield o["Key"]
                else:
                    continue
                break

    def read(self, key: str) -> Blob | None:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, name = key[5:].split("/", 1) if key.startswith("s3://") else (self.bucket, key)
        try:
            obj = self.client.get_object(Bucket=bucket, Key=name)
            return Blob(obj["Body"].read(), obj.get("Metadata") or {})
        except ClientError as e:
            # absent is an answer (a deleted file); anything else (AccessDenied) stops the run
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise RoletrailError(f"cannot read s3://{bucket}/{name}: {_why(e)}") from None
        except BotoCoreError as e:
            raise RoletrailError(f"cannot read s3://{bucket}/{name}: {e}") from None

    def claims(self, key: str, bucket: str, s3_object: str) -> bool:
        return bucket == self.bucket and s3_object == key

    def locate(self, digest_key: str, digest_object: str, bucket: str, s3_object: str) -> str | None:
        return s3_object if bucket == self.bucket else f"s3://{bucket}/{s3_object}"


def _why(e) -> str:
    err = getattr(e, "response", {}).get("Error", {})
    return err.get("Code") or str(e)


def _client():
    import boto3
    from botocore.config import Config

    # boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, AWS_PROFILE and AWS_REGION itself
    cfg = Config(max_pool_connections=32, retries={"max_attempts": 5, "mode": "adaptive"})
    return boto3.session.Session().client("s3", config=cfg)
