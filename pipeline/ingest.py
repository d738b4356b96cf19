"""Batch ingestion: list → fetch → parse → load, incremental and idempotent.

Objects are fetched and gunzipped in a thread pool and written straight into the next
batch's newline-delimited streams (`{"f": <file no>, "d": <document>}` per line) while
DuckDB, in its own thread, loads the previous batch. DuckDB's JSON reader splits the
documents into records; a first pass keeps each record's JSON text and the few fields
deduplication needs, a second parses the typed columns (`json_transform` with the explicit
schema in `pipeline.store.schema`) straight into the table. A batch's rows, quarantined records
and manifest entries commit in one transaction, so a killed run leaves nothing half-loaded
and the next run picks up exactly the objects that are not in the manifest yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from isal import igzip, isal_zlib

from pipeline.sources import ObjectRef, open_source, skip_reason
from pipeline.store import RoletrailError, init_db, schema

# A batch is one transaction. DuckDB writes a transaction's rows straight into the database
# file, compressed, once it holds at least a row group (122,880 rows); smaller ones go through
# the write-ahead log and are written a second time at the checkpoint (2-3x slower for bulk
# loads). A batch closes at about four row groups of records, so that each of DuckDB's two
# threads writes whole row groups in parallel, or earlier at the byte/file caps that keep
# memory flat (its records' JSON stays in memory while it loads: ~1.6 GB peak at the caps).
BATCH_RECORDS = 480_000
BATCH_BYTES = 384 * 1024 * 1024
BATCH_FILES = int(os.environ.get("ROLETRAIL_BATCH_FILES", "2500"))
LIST_CHUNK = 5000
STREAMS = max(2, min(8, os.cpu_count() or 2))
TASK_BYTES = 2 * 1024 * 1024  # compressed bytes one fetch task reads (~20 MB of JSON)
UTF8_BOM = b"\xef\xbb\xbf"
ONE_LINE = bytes.maketrans(b"\n\r", b"  ")


@dataclass
class Prepared:
    ref: ObjectRef
    doc: bytes | None = None  # the JSON document on one line
    error: str | None = None  # why the object is quarantined
    original: bytes | None = None  # the bytes as fetched, kept for a quarantined object
    fetch_error: str | None = None  # transient: not recorded, retried next run
    number: int | None = None  # its line in the batch's streams, once written there
    records: int = 0  # about how many records the document holds (for batch sizing only)


@dataclass
class IngestSummary:
    source: str
    run_id: str
    objects_listed: int = 0
    objects_new: int = 0
    objects_loaded: int = 0
    objects_skipped: int = 0
    objects_quarantined: int = 0
    objects_failed: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    duplicates_dropped: int = 0
    id_collisions: int = 0
    seconds: float = 0.0
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (uri, reason)
    record_reasons: dict[str, int] = field(default_factory=dict)
    fetch_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def records_per_second(self) -> float:
        return self.records_loaded / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        out = [
            f"objects: {self.objects_listed} listed, {self.objects_new} new, {self.objects_loaded} loaded, "
            f"{self.objects_skipped} skipped, {self.objects_quarantined} quarantined"
            + (f", {self.objects_failed} failed to fetch (retried next run)" if self.objects_failed else ""),
            f"records: {self.records_loaded} loaded, {self.duplicates_dropped} duplicates dropped, "
            f"{self.records_quarantined} quarantined, {self.id_collisions} event id collisions kept",
            f"time: {self.seconds:.2f} s, {self.records_per_second:,.0f} records/s",
        ]
        for uri, reason in self.quarantined[:20]:
            out.append(f"quarantined {uri}: {reason}")
        if len(self.quarantined) > 20:
            out.append(
                f"... and {len(self.quarantined) - 20} more quarantined objects (table ingest_manifest)"
            )
        for reason, n in sorted(self.record_reasons.items()):
            out.append(f"quarantined records: {n} x {reason} (table quarantined_records)")
        for uri, err in self.fetch_errors[:5]:
            out.append(f"fetch failed {uri}: {err}")
        return out


def decode(ref: ObjectRef, data: bytes) -> Prepared:
    """Bytes of one object -> a one-line JSON document, or the reason it cannot be one."""
    if not data:
        return Prepared(ref, error="empty file", original=data)
    raw = data
    if data[:2] == b"\x1f\x8b":
        try:
            data = igzip.decompress(data)
        except (OSError, EOFError, isal_zlib.error) as e:
            return Prepared(ref, error=f"corrupt gzip: {e}", original=raw)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if not data or data.isspace():
        return Prepared(ref, error="empty file (no JSON document)", original=raw)
    # a valid JSON document has no raw newlines inside strings, so replacing them keeps it one
    # line (CloudTrail writes one line already). DuckDB's reader rejects invalid UTF-8 and bad
    # JSON; diagnose() says which, for those files.
    if b"\n" in data or b"\r" in data:
        data = data.translate(ONE_LINE)
    return Prepared(ref, doc=data, original=raw, records=estimate_records(data))


def estimate_records(doc: bytes, sample: int = 65536) -> int:
    """About how many records a document holds, for sizing batches: every CloudTrail record
    has an eventVersion; counted in the first 64 KiB and scaled."""
    n = doc.count(b'"eventVersion"', 0, sample)
    return n if len(doc) <= sample else n * len(doc) // sample


def diagnose(doc: bytes) -> str | None:
    """Why a document gave no rows (only called for the rare such file); None: it has no records."""
    try:
        doc.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8: byte 0x{doc[e.start]:02x} at offset {e.start}"
    try:
        obj = json.loads(doc)
    except (ValueError, RecursionError) as e:
        return f"invalid JSON: {e}"
    if not isinstance(obj, dict):
        return f"not a CloudTrail log document: top level is a JSON {type(obj).__name__}, not an object"
    if "Records" not in obj:
        return "not a CloudTrail log document: no Records array"
    if not isinstance(obj["Records"], list):
        return "not a CloudTrail log document: Records is not an array"
    if not obj["Records"]:
        return None  # a valid, empty log file
    return "unreadable JSON document"


class Batch:
    """The objects of one transaction. Their documents go straight into newline-delimited
    streams on disk (`{"f": <number>, "d": <document>}` per line), one per DuckDB thread
    since read_json parallelises across files, not within one; Python keeps no document.

    The streams are filled one after the other, not in turn: objects come in listing order
    (account, region, day), so rows keep that order into the table and each row group
    spans a short stretch of time, which lets the detectors' time filters skip the rest."""

    def __init__(self, tmpdir: str, number: int):
        self.items: list[Prepared] = []
        self.docs: list[Prepared] = []  # the items written to the streams, by number
        self.skipped: list[ObjectRef] = []
        self.bytes = 0
        self.records = 0
        self.longest = 0
        self._paths = [Path(tmpdir) / f"batch{number}-{n}.ndjson" for n in range(STREAMS)]
        self._outs: list = [None] * STREAMS

    def add(self, p: Prepared) -> None:
        self.items.append(p)
        if p.doc is None:
            return
        n = min(STREAMS - 1, int(self.fill() * STREAMS))
        if self._outs[n] is None:
            self._outs[n] = open(self._paths[n], "wb")  # noqa: SIM115 (closed by close())
        p.number = len(self.docs)
        out = self._outs[n]
        out.write(b'{"f":%d,"d":' % p.number)
        out.write(p.doc)
        out.write(b"}\n")
        size = len(p.doc)
        self.bytes += size
        self.records += p.records
        self.longest = max(self.longest, size)
        self.docs.append(p)
        p.doc = None

    def __bool__(self) -> bool:
        return bool(self.items or self.skipped)

    def fill(self) -> float:
        """How full the batch is: 1.0 closes it."""
        return max(self.records / BATCH_RECORDS, self.bytes / BATCH_BYTES, len(self.items) / BATCH_FILES)

    @property
    def paths(self) -> list[Path]:
        return [path for path, out in zip(self._paths, self._outs, strict=True) if out is not None]

    def close(self) -> None:
        for out in self._outs:
            if out is not None:
                out.close()

    def remove(self) -> None:
        self.close()
        for path in self._paths:
            path.unlink(missing_ok=True)


class Loader:
    """Loads batches of prepared objects into the database, one transaction per batch."""

    def __init__(self, con, run_id: str, summary: IngestSummary, quarantine_dir: Path, source: str, progress):
        self.con = con
        self.progress = progress
        self.run_id = run_id
        self.summary = summary
        self.quarantine_dir = quarantine_dir
        self.source = source
        self.tmpdir = tempfile.mkdtemp(prefix="roletrail-")
        self.paths = list(schema.CHECKED_OBJECTS)
        self.known = [sorted(v) for v in schema.CHECKED_OBJECTS.values()]
        self.columns = schema.column_expressions("s")
        self.columns["eventid"] = "eventid"  # computed in pass 1: derived when the record has none

    def close(self):
        self.con.close()  # its own connection (a cursor): the batch's temp tables go with it
        for p in Path(self.tmpdir).glob("*"):
            p.unlink()
        os.rmdir(self.tmpdir)

    def keep(self, p: Prepared) -> str | None:
        """Store a quarantined object's bytes for inspection; returns the path."""
        if p.original is None:
            return None
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(p.ref.uri.encode()).hexdigest()[:12]
        path = self.quarantine_dir / f"{digest}_{Path(p.ref.key).name or 'object'}"
        path.write_bytes(p.original)
        return str(path)

    def load(self, batch: Batch) -> None:
        con = self.con
        con.execute("set preserve_insertion_order = true")  # see Batch
        con.execute("begin transaction")
        try:
            per_file = self._load_stream(batch) if batch.docs else {}
            self._write_manifest(batch, per_file)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            batch.remove()
        self.progress.update(self.summary, len(batch.items))

    def _load_stream(self, batch: Batch) -> dict[int, tuple]:
        con = self.con
        uris = [p.ref.uri for p in batch.docs]
        # Pass 1 reads and splits the documents and keeps, per record, its JSON text and the
        # few fields deduplication needs (one json_extract_string of three paths). A file that
        # yields no rows (an empty Records array, or a document DuckDB could not read) is
        # diagnosed in Python.
        con.execute(
            """create or replace temp table _recs as
            with recs as (
                select f, unnest(d."Records") as rec, unnest(range(len(d."Records"))) as idx
                from read_json($stream, format = 'newline_delimited', records = true, ignore_errors = true,
                               maximum_object_size = $max_line,
                               columns = {'f': 'INTEGER', 'd': 'STRUCT("Records" JSON[])'})
                where f is not null
            ),
            parsed as (
                select f, idx, rec, hash(rec) as h,
                    json_extract_string(rec, ['$.eventID', '$.eventTime', '$.recipientAccountId']) as k,
                    -- the record's shape: which keys its checked objects have
                    hash(json_keys(rec, $paths)) as shape
                from recs
            ),
            named as (
                select f, idx, rec, h, shape, k[1] as event_id, k[2] as event_time, k[3] as recipientaccountid
                from parsed
            ),
            timed as (
                select *, try_cast(event_time as timestamptz)::timestamp as ts from named
            )
            select f, idx, rec, h, shape, ts, event_time, recipientaccountid, event_id is null as derived,
                -- a record without an event id gets one derived from its content
                coalesce(event_id, regexp_replace(md5(rec),
                    '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5')) as eventid,
                case
                    when rec is null or left(rec, 1) <> '{' then 'not a JSON object'
                    when event_time is null then 'no eventTime'
                    when ts is null then 'eventTime cannot be parsed'
                end as reason,
                -- the typed columns cannot reproduce a missing event id or a time in another format
                event_id is null or event_time <> strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as needs_raw
            from timed""",
            {
                "stream": [str(p) for p in batch.paths],
                "paths": self.paths,
                # the reader allocates buffers of this size: the longest line, not a fixed 2 GB
                "max_line": max(16 << 20, 2 * batch.longest + 1024),
            },
        )
        # Records of one shape have the same keys: each shape is checked once, on one of its
        # records, for keys the typed columns do not cover (such records keep their JSON)
        con.execute(
            """create or replace temp table _shapes as
            with examples as (
                select shape, json_keys(any_value(rec), $paths) as ks from _recs
                where reason is null group by shape
            )
            select shape, not (
                    list_has_all($known[1], ks[1])
                    and list_has_all($known[2], coalesce(ks[2], []))
                    and list_has_all($known[3], coalesce(ks[3], []))
                    and list_has_all($known[4], coalesce(ks[4], []))
                    and list_has_all($known[5], coalesce(ks[5], []))
                    and list_has_all($known[6], coalesce(ks[6], []))
                ) as unknown_keys
            from examples""",
            {"paths": self.paths, "known": self.known},
        )
        con.execute(
            """create or replace temp table _cand as
            with good as (
                select f, idx, h, ts, derived, eventid, recipientaccountid from _recs where reason is null
            ),
            ranked as (
                select *, row_number() over (partition by h, eventid order by f, idx) as copy_no
                from good
            )
            select r.* exclude (copy_no), copy_no = 1 and not exists (
                    select 1 from cloudtrail_logs t
                    where t.record_hash = r.h and t.eventid = r.eventid and t.eventtime = r.ts
                      and t.recipientaccountid is not distinct from r.recipientaccountid
                ) as is_new
            from ranked r"""
        )
        # different records sharing an event id: kept, and counted (hand-edited samples do this)
        collisions = con.execute(
            """with new as (select * from _cand where is_new and not derived)
            select count(*) from (
                select eventid, h, row_number() over (partition by eventid order by f, idx) as n from new
            ) x
            where n > 1 or exists (select 1 from cloudtrail_logs t where t.eventid = x.eventid)"""
        ).fetchall()[0][0]
        # Pass 2: the full typed parse, straight into the table (struct fields are matched to the
        # table's lowercase ones by name). Each thread takes whole row groups of _recs, in
        # order, and writes its own: rows stay in listing order row group by row group.
        con.execute("set preserve_insertion_order = false")
        cols = ", ".join(self.columns)
        exprs = ", ".join(self.columns.values())
        con.execute(
            f"""insert into cloudtrail_logs ({cols}, eventtime, raw_record, source_key, record_index,
                    record_hash, eventid_derived, ingested_at)
            with new as (
                select r.f, r.idx, r.rec, r.h, r.ts, r.needs_raw or sh.unknown_keys as needs_raw,
                    r.eventid, r.derived, roletrail_parse_record(r.rec) as s
                from _recs r join _shapes sh using (shape)
                -- duplicates are few: leave them out rather than join every row with its verdict
                where r.reason is null
                  and (r.f, r.idx) not in (select (f, idx) from _cand where not is_new)
            )
            select {exprs}, ts, case when needs_raw then rec end, $uris[f + 1], idx, h, derived, $now
            from new
            """,
            {"uris": uris, "now": _utcnow()},
        )
        con.execute(
            """insert into quarantined_records
            select $uris[f + 1], idx, reason || coalesce(': ' || event_time, ''), rec, $run, $now
            from _recs where reason is not null""",
            {"uris": uris, "run": self.run_id, "now": _utcnow()},
        )
        rows = con.execute(
            """with files as (
                select f, count(*) as n, count(reason) as bad from _recs group by f
            ),
            cand as (
                select f, count(*) filter (where is_new) as loaded, count(*) filter (where not is_new) as dups
                from _cand group by f
            )
            select files.f, files.n, coalesce(cand.loaded, 0), coalesce(cand.dups, 0), files.bad
            from files left join cand on cand.f = files.f"""
        ).fetchall()
        reasons = con.execute(
            "select reason, count(*) from _recs where reason is not null group by 1"
        ).fetchall()
        for reason, n in reasons:
            self.summary.record_reasons[reason] = self.summary.record_reasons.get(reason, 0) + n
        self.summary.id_collisions += collisions
        return {r[0]: r[1:] for r in rows}

    def _write_manifest(self, batch: Batch, per_file: dict[int, tuple]) -> None:
        s = self.summary
        now = _utcnow()
        rows = []
        for p in batch.items:
            counts = per_file.get(p.number) if p.number is not None else None
            if p.error is None and counts is None:
                # no rows: the document is decoded again (it is not kept) and diagnosed
                doc = decode(p.ref, p.original).doc if p.original is not None else None
                p.error = diagnose(doc) if doc is not None else "unreadable"
                counts = (0, 0, 0, 0)
            if p.error is not None:
                path = self.keep(p)
                s.objects_quarantined += 1
                s.quarantined.append((p.ref.uri, p.error))
                rows.append(
                    _manifest_row(p.ref, "quarantined", None, 0, 0, 0, p.error, path, self.run_id, now)
                )
                continue
            total, loaded, dups, bad = counts
            s.objects_loaded += 1
            s.records_loaded += loaded
            s.duplicates_dropped += dups
            s.records_quarantined += bad
            rows.append(
                _manifest_row(p.ref, "loaded", total, loaded, dups, bad, None, None, self.run_id, now)
            )
        for ref in batch.skipped:
            s.objects_skipped += 1
            rows.append(
                _manifest_row(ref, "skipped", None, 0, 0, 0, skip_reason(ref.key), None, self.run_id, now)
            )
        if not rows:
            return
        # plain lists as parameters: no pyarrow or pandas import for a few thousand rows
        columns = {name: [r[name] for r in rows] for name in MANIFEST_COLUMNS}
        select = ", ".join(f"unnest(${name}) as {name}" for name in MANIFEST_COLUMNS)
        self.con.execute(
            f"insert or replace into ingest_manifest by name select {select}, $source as source",
            {**columns, "source": self.source},
        )


# the ingest_manifest columns a batch writes (the insert casts each list to the column's type)
MANIFEST_COLUMNS = (
    "uri", "etag", "size", "last_modified", "status", "record_count", "rows_loaded", "duplicates",
    "quarantined_records", "reason", "quarantine_path", "run_id", "loaded_at",
)  # fmt: skip


def _manifest_row(ref, status, total, loaded, dups, bad, reason, path, run_id, now) -> dict:
    return {
        "uri": ref.uri,
        "etag": ref.etag,
        "size": ref.size,
        "last_modified": ref.last_modified,
        "status": status,
        "record_count": total,
        "rows_loaded": loaded,
        "duplicates": dups,
        "quarantined_records": bad,
        "reason": reason,
        "quarantine_path": path,
        "run_id": run_id,
        "loaded_at": now,
    }


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_objects(con, refs: list[ObjectRef]) -> list[ObjectRef]:
    """The refs not yet in the manifest, or whose etag changed since (skipped ones stay skipped)."""
    if not refs:
        return []
    keep = con.execute(
        """with listed as (select unnest($uris) as uri, unnest($etags)::varchar as etag)
        select l.uri from listed l left join ingest_manifest m on m.uri = l.uri
        where m.uri is null or (m.etag is distinct from l.etag and m.status <> 'skipped')""",
        {"uris": [r.uri for r in refs], "etags": [r.etag for r in refs]},
    ).fetchall()
    wanted = {u for (u,) in keep}
    return [r for r in refs if r.uri in wanted]


def sized_chunks(refs: list[ObjectRef], n: int, max_bytes: int) -> Iterator[list[ObjectRef]]:
    """Groups of at most n objects and about max_bytes (compressed) each."""
    buf: list[ObjectRef] = []
    size = 0
    for r in refs:
        if buf and (len(buf) >= n or size + r.size > max_bytes):
            yield buf
            buf, size = [], 0
        buf.append(r)
        size += r.size
    if buf:
        yield buf


def chunks(it: Iterable, n: int) -> Iterator[list]:
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


class Progress:
    """A tqdm bar on a terminal; a log line every 10 s otherwise (cron)."""

    def __init__(self, enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        tty = self.stream.isatty() if enabled is None else enabled
        self.bar = None
        self.last = time.monotonic()
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(unit=" objects", file=self.stream, dynamic_ncols=True, leave=False)

    def update(self, summary: IngestSummary, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix(records=summary.records_loaded, refresh=False)
        elif time.monotonic() - self.last >= 10:
            self.last = time.monotonic()
            print(
                f"roletrail ingest: {summary.objects_loaded + summary.objects_quarantined} objects, "
                f"{summary.records_loaded} records so far",
                file=self.stream,
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def ingest(
    con,
    source_uri: str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    quarantine_dir: Path | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Load every new object of `source_uri` into `cloudtrail_logs`. The caller holds the lock."""
    started = time.monotonic()
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    source = open_source(source_uri)
    summary = IngestSummary(source=source.uri, run_id=run_id)
    init_db(con)
    con.execute("set checkpoint_threshold = '1GB'")
    con.execute("set max_vacuum_tasks = 0")
    con.execute("set memory_limit = '1500MB'")  # peak memory stays flat whatever the batch and history
    quarantine_dir = quarantine_dir or Path(tempfile.gettempdir()) / "roletrail-quarantine"
    remote = source_uri.startswith("s3://")
    # S3: many concurrent GETs hide latency. Local: one reader thread is fastest (per-file work
    # is GIL-bound); it overlaps with DuckDB, which releases the GIL while it loads a batch.
    workers = workers or (16 if remote else 1)
    per_task = 4 if remote else 256
    progress = progress or Progress()
    # the loader has its own connection and thread: DuckDB loads one batch while the next is read
    loader = Loader(con.cursor(), run_id, summary, quarantine_dir, source.uri, progress)

    def prepare(refs: list[ObjectRef]) -> list[Prepared]:
        out = []
        for ref in refs:
            try:
                data = source.fetch(ref)
            except Exception as e:  # network, permissions: not the file's fault, retried next run
                out.append(Prepared(ref, fetch_error=f"{type(e).__name__}: {e}"))
                continue
            out.append(decode(ref, data))
        return out

    batches = itertools.count()
    batch = Batch(loader.tmpdir, next(batches))
    loading: Future | None = None  # the batch DuckDB is loading

    def take(p: Prepared) -> None:
        if p.fetch_error is not None:
            summary.objects_failed += 1
            summary.fetch_errors.append((p.ref.uri, p.fetch_error))
        else:
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
        batch = Batch(loader.tmpdir, next(batches))

    load_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roletrail-load")
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            inflight: deque = deque()
            for chunk in chunks(source.list(since, until), LIST_CHUNK):
                summary.objects_listed += len(chunk)
                fresh = new_objects(con, chunk)
                summary.objects_new += len(fresh)
                wanted = []
                for ref in fresh:
                    (batch.skipped if skip_reason(ref.key) else wanted).append(ref)
                for task in sized_chunks(wanted, per_task, TASK_BYTES):
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
    # small batches commit to the write-ahead log: one checkpoint at the end, not one per batch
    con.execute("checkpoint")
    summary.seconds = time.monotonic() - started
    con.execute(
        "insert or replace into ingest_runs values ($run, $source, $start, $end, $listed, $new, $loaded, "
        "$skipped, $quarantined, $records, $rq, $dups, $coll, $secs)",
        {
            "run": run_id,
            "source": source.uri,
            "start": _utcnow() - dt.timedelta(seconds=summary.seconds),
            "end": _utcnow(),
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
    if summary.objects_failed and summary.objects_failed == summary.objects_new - summary.objects_skipped:
        first = summary.fetch_errors[0]
        raise RoletrailError(f"could not fetch any of {summary.objects_failed} new objects: {first[1]}")
    return summary
