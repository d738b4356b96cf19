"""A local folder (walked in sorted order) or one file: `roletrail ingest ./logs/`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from pipeline.errors import RoletrailError
from pipeline.sources.base import BaseSource, ObjectRef, Options, in_range


class LocalOptions(Options):
    # per-file work is GIL-bound: one reader thread is fastest, and it overlaps with DuckDB,
    # which releases the GIL while it loads the previous batch
    workers: int = Field(default=1, ge=1, le=64)
    task_objects: int = Field(default=256, ge=1, le=10_000)


class LocalSource(BaseSource):
    Options = LocalOptions

    def __init__(self, uri: str, options: LocalOptions | None = None):
        options = options or LocalOptions()
        path = Path(uri.removeprefix("file://")).expanduser()
        if not path.exists():
            raise RoletrailError(f"source {uri} does not exist")
        self.root = path.resolve()
        self.uri = str(self.root)
        self.workers = options.workers
        self.task_objects = options.task_objects

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
