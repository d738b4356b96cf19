"""What every source is: it lists objects, fetches their bytes, and hears when they are committed.

A source is keyed by its URI scheme (pipeline.sources.SOURCES). Ingest knows no scheme: a
source says how many fetches it wants in flight and how many objects one fetch task takes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

DAY_IN_KEY = re.compile(r"/CloudTrail/[^/]+/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class ObjectRef:
    uri: str  # s3://bucket/key or an absolute local path
    key: str  # the key (or path relative to the source root), used for layout checks
    etag: str
    size: int
    last_modified: dt.datetime | None


class Options(BaseModel):
    """A source's `[source.<scheme>]` options; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Source(Protocol):
    uri: str
    workers: int  # concurrent fetches it prefers (the CLI's --workers overrides)
    task_objects: int  # objects one fetch task takes (small for remote latency, large for local files)

    def list(self, since: dt.date | None, until: dt.date | None) -> Iterator[ObjectRef]: ...

    def fetch(self, ref: ObjectRef) -> bytes: ...

    def committed(self, refs: Sequence[ObjectRef]) -> None:
        """These objects are durably recorded (loaded, quarantined, skipped, or already in the
        manifest): an event-driven source acknowledges their messages now, never earlier.
        Called from the listing thread and from the loader's thread (after each commit)."""

    def close(self) -> None: ...


class BaseSource:
    """Defaults for the parts of the protocol most sources do not need."""

    Options: ClassVar[type[Options]] = Options
    workers = 1
    task_objects = 64

    def committed(self, refs: Sequence[ObjectRef]) -> None:
        return None

    def close(self) -> None:
        return None


def skip_reason(key: str) -> str | None:
    """Why an object is not a CloudTrail log file to load, or None if it is one."""
    if "/CloudTrail-Digest/" in f"/{key}":
        return "digest file (CloudTrail-Digest)"
    if "/CloudTrail-Insight/" in f"/{key}":
        return "insights file (CloudTrail-Insight)"
    if not key.endswith((".json.gz", ".json", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        return "not a .json(.gz), .jsonl or .ndjson file"
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
