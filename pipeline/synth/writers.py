"""Files and writers: the records of ``generate(spec)`` cut into CloudTrail log objects under
CloudTrail's S3 key layout, encoded, and written to a folder or a bucket."""

from __future__ import annotations

import gc
import gzip
import json
import multiprocessing
import os
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .common import _ALNUM, _ts
from .org import OrgSpec, _Org


@dataclass
class LogFile:
    """One CloudTrail log object: its S3 key and records (sorted by eventTime)."""

    key: str
    account_id: str
    region: str
    start: datetime
    records: list[dict]


@dataclass
class Stats:
    """What a writer wrote: files, records and compressed bytes."""

    files: int = 0
    records: int = 0
    bytes: int = 0

    def add(self, files: int, records: int, size: int) -> None:
        self.files += files
        self.records += records
        self.bytes += size


# --------------------------------------------------------------------------- files and writers


def log_key(spec: OrgSpec, account: str, region: str, start: datetime, suffix: str) -> str:
    """CloudTrail's object key for a log file (organization trail or standard layout)."""
    base = f"AWSLogs/{spec.org_id}/{account}" if spec.layout == "org" else f"AWSLogs/{account}"
    return (
        f"{base}/CloudTrail/{region}/{start:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{start:%Y%m%dT%H%MZ}_{suffix}.json.gz"
    )


def _window_start(event_time: str) -> datetime:
    minute = int(event_time[14:16])
    return datetime(
        int(event_time[0:4]),
        int(event_time[5:7]),
        int(event_time[8:10]),
        int(event_time[11:13]),
        minute - minute % 5,
        tzinfo=UTC,
    )


def _event_time(rec: dict) -> str:
    return rec["eventTime"]


def _suffix(spec: OrgSpec, bucket: str, account: str, region: str, index: int) -> str:
    """The 16 random alphanumerics of a file name, drawn from an rng seeded by the file's identity
    (not from one shared stream), so any block of days can be generated on its own."""
    return "".join(random.Random(f"{spec.seed}|{bucket}|{account}|{region}|{index}").choices(_ALNUM, k=16))


def generate(spec: OrgSpec) -> Iterator[LogFile]:
    """The organization's logs as LogFiles, in time order, for [spec.start, spec.end).

    Each record goes to the file of its recipientAccountId and awsRegion. By default one file per
    account, region and 5-minute window that has records; with ``spec.records_per_file`` each
    account, region and day is cut into files of that many records. Records of one file are sorted
    by eventTime. Memory stays bounded by about one day of records.
    """
    return _generate_days(spec, 0, spec.days)


def _generate_days(spec: OrgSpec, first: int, last: int) -> Iterator[LogFile]:
    """The files of days [first, last); the concatenation over consecutive blocks equals generate().

    Activity started on one day may run past midnight (never by a whole day), so a block begins
    by regenerating the day before it and keeping only what spills into the block.
    """
    org = _Org(spec)
    packed = spec.records_per_file is not None
    end = _ts(spec.end)
    pending: dict[tuple[str, str, str], list[dict]] = defaultdict(list)

    def horizon(day: int) -> str:
        # bucket keys compare as strings: "YYYY-MM-DDTHH:M<0|5>" windows or "YYYY-MM-DD" days
        stamp = _ts(spec.start + timedelta(days=day))
        return stamp[:10] if packed else stamp[:16]

    def flush(before: str) -> Iterator[LogFile]:
        for k in sorted(k for k in pending if k[0] < before):
            records = pending.pop(k)
            records.sort(key=_event_time)
            bucket, account, region = k
            size = spec.records_per_file or len(records)
            for i in range(0, len(records), size):
                chunk = records[i : i + size] if packed else records
                start = _window_start(chunk[0]["eventTime"])
                key = log_key(spec, account, region, start, _suffix(spec, bucket, account, region, i))
                yield LogFile(key, account, region, start, chunk)

    lower = _ts(spec.start + timedelta(days=first))
    for d in range(max(0, first - 1), last):
        # The records hold no reference cycles; pausing the cyclic GC while a day is built saves
        # about a fifth of the time. It is restored before anything is yielded.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for rec in org.day(d):
                t = rec["eventTime"]
                if t >= end or t < lower:
                    continue
                # "2024-03-04T10:07:12Z" -> window "2024-03-04T10:05"
                bucket = t[:10] if packed else t[:15] + ("0" if t[15] < "5" else "5")
                pending[(bucket, rec["recipientAccountId"], rec["awsRegion"])].append(rec)
        finally:
            if gc_was_enabled:
                gc.enable()
        if d >= first:
            # later days only add records at or after their own midnight
            yield from flush(horizon(d + 1))
    if last >= spec.days:
        yield from flush("9999")
    # otherwise what is left spills into day `last`: the next block regenerates it


def generate_records(spec: OrgSpec) -> Iterator[dict]:
    """All records of ``generate(spec)``, file after file."""
    for f in generate(spec):
        yield from f.records


def encode(records: Iterable[dict], compresslevel: int = 6) -> bytes:
    """A CloudTrail log object: gzip (mtime 0, so deterministic) of compact {"Records": [...]}."""
    body = json.dumps({"Records": list(records)}, separators=(",", ":"), check_circular=False).encode()
    return gzip.compress(body, compresslevel=compresslevel, mtime=0)


def _store(files: Iterable[LogFile], put: Callable[[str, bytes], None], threads: int) -> Stats:
    """Encode each file and hand it to put(key, data) on a thread pool (gzip and I/O release the GIL).

    At most a few files per thread are in flight, so memory stays bounded by generate()'s.
    """

    def one(f: LogFile) -> tuple[int, int]:
        data = encode(f.records)
        put(f.key, data)
        return len(f.records), len(data)

    stats = Stats()
    inflight: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f in files:
            inflight.append(pool.submit(one, f))
            if len(inflight) >= threads * 4:
                stats.add(1, *inflight.popleft().result())
        while inflight:
            stats.add(1, *inflight.popleft().result())
    return stats


def _day_blocks(days: int, n: int) -> list[tuple[int, int]]:
    """Split range(days) into n contiguous, nearly equal (first, last) blocks."""
    n = max(1, min(n, days))
    cuts = [round(i * days / n) for i in range(n + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(n)]


def _write_block(root: str, spec: OrgSpec, first: int, last: int) -> Stats:
    """Write the files of days [first, last) under root."""
    made: set[str] = set()

    def put(key: str, data: bytes) -> None:
        path = os.path.join(root, key)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as fh:
            fh.write(data)

    return _store(_generate_days(spec, first, last), put, threads=2)


def write_local(root: str | os.PathLike, spec: OrgSpec, *, processes: int | None = None) -> Stats:
    """Write every log file of ``spec`` under ``root`` (keys become relative paths).

    JSON encoding holds the GIL, so the days are split into contiguous blocks written by
    ``processes`` worker processes (default: one per CPU; 1 = in this process). The files are
    the same whatever the number of processes.
    """
    root = os.fspath(root)
    n = processes if processes is not None else (os.cpu_count() or 1)
    blocks = _day_blocks(spec.days, n)
    if len(blocks) <= 1:
        return _write_block(root, spec, 0, spec.days)
    total = Stats()
    # fork where there is one: spawn re-runs the caller's __main__, which breaks unguarded scripts.
    # The workers only compute and write files, so threads of the parent (a moto server) are harmless.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(len(blocks), mp_context=ctx) as pool:
        futures = [pool.submit(_write_block, root, spec, first, last) for first, last in blocks]
        for future in futures:
            part = future.result()
            total.add(part.files, part.records, part.bytes)
    return total


def write_s3(s3_client: Any, bucket: str, spec: OrgSpec, prefix: str = "", *, threads: int = 16) -> Stats:
    """Upload every log file of ``spec`` to ``bucket`` (keys under ``prefix``) with put_object."""
    prefix = prefix.strip("/")

    def put(key: str, data: bytes) -> None:
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}/{key}" if prefix else key, Body=data)

    return _store(generate(spec), put, threads)
