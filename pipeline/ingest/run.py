"""`ingest()`: list → fetch → decode → load, incremental and idempotent.

Objects are fetched and decoded in a thread pool (as many threads and objects per task as the
source asks for) and written straight into the next batch's newline-delimited streams while
DuckDB, in its own thread, loads the previous batch. A batch's rows, quarantined records and
manifest entries commit in one transaction, so a killed run leaves nothing half-loaded and the
next run picks up exactly the objects that are not in the manifest yet.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from pipeline.ingest import manifest
from pipeline.ingest.batch import Batch, chunks, sized_chunks
from pipeline.ingest.decode import Prepared, decode
from pipeline.ingest.loader import Loader, one_line
from pipeline.ingest.options import IngestOptions
from pipeline.ingest.progress import Progress
from pipeline.ingest.summary import IngestSummary
from pipeline.sources import ObjectRef, open_source, skip_reason
from pipeline.store import RoletrailError, init_db

LIST_CHUNK = 5000
TASK_BYTES = 2 * 1024 * 1024  # compressed bytes one fetch task reads (~20 MB of JSON)


@contextmanager
def settings(con, values: dict):
    """DuckDB settings for the duration, then back to what they were: they belong to the
    database instance, which the caller goes on using (`run` detects on it next)."""

    def current(name):
        return con.execute("select current_setting($n)", {"n": name}).fetchall()[0][0]

    before = {name: current(name) for name in values}
    try:
        for name, value in values.items():
            con.execute(f"set {name} = $value", {"value": value})
        yield
    finally:
        for name, value in before.items():
            # the default comes back exactly; another value as shown (e.g. '2.7 GiB': rounded)
            con.execute(f"reset {name}")
            if current(name) != value:
                con.execute(f"set {name} = $value", {"value": value})


def default_quarantine_dir(con) -> Path:
    from pipeline import config

    [(path,)] = con.execute(
        "select coalesce(path, ':memory:') from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    return config.quarantine_dir(config.config_model()(), path)


def ingest(
    con,
    source_uri: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    quarantine_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    options: IngestOptions | None = None,
    source_options=None,
) -> IngestSummary:
    """Load every new object of `source_uri` into `cloudtrail_logs`. The caller holds the lock.

    `options` is the config's [ingest] section, `source_options` its [source] section (each
    source's [source.<scheme>] options); `workers` overrides the source's own concurrency."""
    if since is not None and until is not None and since > until:
        raise RoletrailError(f"--since {since} is after --until {until}: that range holds no day")
    options = options or IngestOptions()
    source = open_source(source_uri, source_options)
    try:
        init_db(con)
        limits = {
            # a batch of more than a few MB is checkpointed at its commit instead of being written
            # to the write-ahead log and then again by a checkpoint: a 100k-record run is written
            # once (0.4 s less; the same at 1M records, make bench's scaling section). No vacuum
            # runs between batches: the final checkpoint below merges their partial row groups
            "checkpoint_threshold": "16MB",
            "max_vacuum_tasks": 0,
            "memory_limit": f"{options.memory_mb()}MB",
            "preserve_insertion_order": True,
        }
        with settings(con, limits):
            summary = _run(con, source, since, until, quarantine_dir or default_quarantine_dir(con), workers,
                           progress or Progress(), options)  # fmt: skip
            # one checkpoint at the end with vacuum back on: the batches' partial row groups are
            # merged here (about 3 s per 1M records), not by whichever command next closes the
            # database; and under ingest's memory_limit, or the merge takes what DuckDB's default
            # allows (4 GB at 5M records, 2.1 GB under the limit: make bench's scaling section)
            started = time.monotonic()
            con.execute("reset max_vacuum_tasks")
            con.execute("checkpoint")
            summary.seconds += time.monotonic() - started
    finally:
        source.close()
    summary.notes += source.report()
    return summary


def _run(con, source, since, until, quarantine_dir, workers, progress, options) -> IngestSummary:
    started = time.monotonic()
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    summary = IngestSummary(source=source.uri, run_id=run_id)
    workers = workers or source.workers
    max_document = options.max_document_mb * 1024 * 1024
    # the loader has its own connection and thread: DuckDB loads one batch while the next is read
    loader = Loader(con.cursor(), run_id, summary, quarantine_dir, source, progress, options)
    source.begin(con.cursor(), run_id)

    def prepare(refs: list[ObjectRef]) -> list[Prepared]:
        out = []
        for ref in refs:
            try:
                data = source.fetch(ref)
            except Exception as e:  # network, permissions: not the file's fault, retried next run
                out.append(Prepared(ref, fetch_error=f"{type(e).__name__}: {one_line(e)}"))
                continue
            out.append(decode(ref, data, max_document))
        return out

    batches = itertools.count()
    batch = Batch(loader.tmpdir, f"batch{next(batches)}", options)
    loading: Future | None = None  # the batch DuckDB is loading

    def take(p: Prepared) -> None:
        if p.fetch_error is not None:
            summary.objects_failed += 1
            summary.fetch_errors.append((p.ref.uri, p.fetch_error))
            return
        if not batch.fits(p):
            flush()
        batch.add(p)
        if batch.fill() >= 1.0:
            flush()

    def flush() -> None:
        nonlocal batch, loading
        if not batch:
            return
        batch.close()
        if loading is not None:
            loading.result()
        loading = load_pool.submit(loader.load, batch)
        batch = Batch(loader.tmpdir, f"batch{next(batches)}", options)

    load_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roletrail-load")
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            inflight: deque = deque()
            for chunk in chunks(source.list(since, until), LIST_CHUNK):
                summary.objects_listed += len(chunk)
                fresh = manifest.new_objects(con, chunk)
                summary.objects_new += len(fresh)
                wanted = {r.uri for r in fresh}
                source.committed([r for r in chunk if r.uri not in wanted])  # already recorded
                todo = []
                for ref in fresh:
                    (batch.skipped if skip_reason(ref.key) else todo).append(ref)
                for task in sized_chunks(todo, source.task_objects, TASK_BYTES):
                    inflight.append(pool.submit(prepare, task))
                    # bounded read-ahead: memory does not grow with the number of objects
                    while len(inflight) > workers * 2:
                        for p in inflight.popleft().result():
                            take(p)
            while inflight:
                for p in inflight.popleft().result():
                    take(p)
            flush()
            if loading is not None:
                loading.result()
    finally:
        load_pool.shutdown(wait=True)  # a batch being loaded commits or rolls back first
        batch.remove()
        loader.close()
        progress.close()
    summary.seconds = time.monotonic() - started
    _record_run(con, summary)
    if summary.objects_failed and summary.objects_failed == summary.objects_new - summary.objects_skipped:
        first = summary.fetch_errors[0]
        raise RoletrailError(f"could not fetch any of {summary.objects_failed} new objects: {first[1]}")
    return summary


def _record_run(con, summary: IngestSummary) -> None:
    now = manifest.utcnow()
    con.execute(
        "insert or replace into ingest_runs values ($run, $source, $start, $end, $listed, $new, $loaded, "
        "$skipped, $quarantined, $records, $rq, $dups, $coll, $secs)",
        {
            "run": summary.run_id,
            "source": summary.source,
            "start": now - dt.timedelta(seconds=summary.seconds),
            "end": now,
            "listed": summary.objects_listed,
            "new": summary.objects_new,
            "loaded": summary.objects_loaded,
            "skipped": summary.objects_skipped,
            "quarantined": summary.objects_quarantined,
            "records": summary.records_loaded,
            "rq": summary.records_quarantined,
            "dups": summary.duplicates_dropped,
            "coll": summary.id_collisions,
            "secs": summary.seconds,
        },
    )
