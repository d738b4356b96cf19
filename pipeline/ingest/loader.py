"""Loads batches into the database, one transaction per batch; the SQL passes are the .sql files here.

Pass 1 (pass1_records.sql) reads and splits the documents and keeps each record's JSON text,
hash and shape and the few fields deduplication needs; pass 2 (pass2_insert.sql) parses the
typed columns straight into the table. A batch that does not fit in DuckDB's memory_limit is
rolled back and loaded in halves, down to one document, which is quarantined with its reason
if it still does not fit: no batch can stop ingestion for good.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from pipeline.ingest import eventid, manifest
from pipeline.ingest.batch import Batch
from pipeline.ingest.decode import Prepared, decode, diagnose
from pipeline.ingest.options import IngestOptions
from pipeline.ingest.summary import IngestSummary
from pipeline.sources import skip_reason
from pipeline.store import schema


@cache
def sql(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sql").read_text()


ROW_GROUP_ROWS = 122_880  # DuckDB's rows per row group: a table scan gives each thread whole ones


def typed_paths(node: dict = schema.RECORD, path: str = "$") -> list[tuple[str, str]]:
    """(JSON path, the JSON type it must hold) of every struct and list column in the schema."""
    out = []
    for key, value in node.items():
        if isinstance(value, dict):
            out += [(f"{path}.{key}", "OBJECT"), *typed_paths(value, f"{path}.{key}")]
        elif isinstance(value, list):
            out.append((f"{path}.{key}", "ARRAY"))
    return out


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


class Loader:
    """Loads batches of prepared objects into the database, one transaction per batch."""

    def __init__(self, con, run_id: str, summary: IngestSummary, quarantine_dir: Path, source, progress,
                 options: IngestOptions):  # fmt: skip
        self.con = con
        self.progress = progress
        self.run_id = run_id
        self.summary = summary
        self.quarantine_dir = quarantine_dir
        self.source = source
        self.options = options
        self.max_document = options.max_document_mb * 1024 * 1024
        self.tmpdir = tempfile.mkdtemp(prefix="roletrail-")
        typed = typed_paths()
        checked = list(schema.CHECKED_OBJECTS)
        # json_keys of every struct column (and of the first resource) gives the shape its types
        structs = [p for p, kind in typed if kind == "OBJECT"]
        paths = checked + [p for p in structs if p not in checked] + ["$.resources[0]"]
        self.params = {"paths": paths}
        self.pass1 = sql("pass1_records").replace("{derived_id}", eventid.expression("rec"))
        self.shape_params = {
            "paths": paths,
            "known": [sorted(v) for v in schema.CHECKED_OBJECTS.values()],
            "typed_keys": [paths.index(p) + 1 for p in structs],
            "first_resource": len(paths),
        }
        self.typed = {"typed_paths": [p for p, _ in typed], "typed_kinds": [kind for _, kind in typed]}
        columns = schema.column_expressions("s")
        columns["eventid"] = "eventid"  # computed in pass 1: derived when the record has none
        # the part's select gives the schema's columns, then eventtime and roletrail's own
        self.insert_columns = ", ".join([*columns, "eventtime", *(c for c, _ in schema.EXTRA_COLUMNS)])
        self.part = sql("pass2_insert").replace("{expressions}", ", ".join(columns.values()))
        [(threads,)] = con.execute("select current_setting('threads')").fetchall()
        self.threads = max(1, int(threads))

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

    def redecode(self, p: Prepared) -> Prepared:
        return decode(p.ref, p.original, self.max_document)

    def load(self, batch: Batch) -> None:
        """Commit `batch`, in halves if it does not fit in memory; then tell the source."""
        try:
            delta, again = self._transaction(batch)
        except duckdb.OutOfMemoryException as e:
            self._split(batch, e)
            return
        self.summary.merge(delta)
        later = {id(p) for p, _ in again}
        done = [p for p in batch.items if id(p) not in later]
        self.source.committed([p.ref for p in done] + batch.skipped)
        self.progress.update(self.summary, len(done))
        if again:
            # documents DuckDB's reader refused, shaped again with their bad records left out
            retry = Batch(self.tmpdir, f"{batch.name}r", self.options)
            for _, p in again:
                retry.add(p)
            retry.close()
            self.load(retry)

    def _split(self, batch: Batch, error: BaseException) -> None:
        if len(batch.docs) > 1:
            self.summary.batches_split += 1
            for half in batch.halves(self.redecode):
                self.load(half)
            return
        # one document that does not fit alone: quarantined, so the files after it still load
        p = batch.docs[0]
        p.error = (
            f"does not fit in memory_limit ({self.options.memory_mb()} MB) even alone: {one_line(error)}"
        )
        p.number = None
        batch.docs = []
        self.load(batch)

    def _transaction(self, batch: Batch) -> tuple[IngestSummary, list[tuple[Prepared, Prepared]]]:
        con = self.con
        delta = IngestSummary(self.summary.source, self.run_id)
        con.execute("set preserve_insertion_order = true")  # see Batch
        con.execute("begin transaction")
        try:
            per_file = self._load_stream(batch, delta) if batch.docs else {}
            rows, again = self._manifest_rows(batch, per_file, delta)
            manifest.write(con, rows, self.source.uri)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            batch.remove()
        return delta, again

    def _load_stream(self, batch: Batch, delta: IngestSummary) -> dict[int, tuple]:
        con = self.con
        uris = [p.ref.uri for p in batch.docs]
        con.execute(
            self.pass1,
            {
                "stream": [str(p) for p in batch.paths],
                **self.params,
                # the reader allocates buffers of this size: the longest line, not a fixed 2 GB
                "max_line": max(16 << 20, 2 * batch.longest + 1024),
            },
        )
        con.execute(sql("pass1_shapes"), self.shape_params)
        first, last = con.execute("select min(ts), max(ts) from _recs where keep").fetchall()[0]
        con.execute(sql("candidates"), {"first": first, "last": last})
        delta.id_collisions += con.execute(sql("collisions")).fetchall()[0][0]
        # pass 2 may write row groups in parallel, each thread its own (see pass2_insert.sql)
        con.execute("set preserve_insertion_order = false")
        self._insert(batch, uris)
        rejects = [(p.number, *r) for p in batch.docs for r in p.rejects]
        con.execute(
            sql("bad_records"),
            {
                "reject_f": [r[0] for r in rejects],
                "reject_idx": [r[1] for r in rejects],
                "reject_reason": [r[2] for r in rejects],
                "reject_text": [r[3] for r in rejects],
            },
        )
        con.execute(
            "insert into quarantined_records select $uris[f + 1], idx, reason, record, $run, $now from _bad",
            {"uris": uris, "run": self.run_id, "now": manifest.utcnow()},
        )
        for kind, n in con.execute("select kind, count(*) from _bad group by 1").fetchall():
            delta.record_reasons[kind] = delta.record_reasons.get(kind, 0) + n
        return {r[0]: r[1:] for r in con.execute(sql("per_file")).fetchall()}

    def _insert(self, batch: Batch, uris: list[str]) -> None:
        """Pass 2 (pass2_insert.sql). A batch of fewer row groups than DuckDB has threads is
        parsed in as many parts as threads, ranges of documents of about equal records; a
        larger one in one part, whose row groups the threads share (measured on 2 threads:
        100k records, one row group: 0.55 -> 0.36 s; 1M records in batches of ~250k, each
        in two parts: 8-20 % slower than in one)."""
        con = self.con
        counts = con.execute("select f, count(*) from _recs where keep group by f order by f").fetchall()
        total = sum(n for _, n in counts)
        parts = self.threads if total < self.threads * ROW_GROUP_ROWS else 1
        bounds, seen = [0], 0
        for f, n in counts:
            if len(bounds) < parts and seen >= total * len(bounds) / parts:
                bounds.append(f)
            seen += n
        bounds.append(len(batch.docs))
        ranges = {}
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            ranges[f"lo{i}"], ranges[f"hi{i}"] = lo, hi
        selects = [self.part.replace("{part}", str(i)) for i in range(len(bounds) - 1)]
        con.execute(
            f"-- Pass 2: the full typed parse, in {len(selects)} part(s)\n"
            f"insert into cloudtrail_logs ({self.insert_columns})\n" + "\nunion all\n".join(selects),
            {"uris": uris, "now": manifest.utcnow(), **self.typed, **ranges},
        )

    def _manifest_rows(self, batch: Batch, per_file: dict[int, tuple], s: IngestSummary):
        """The manifest rows of the batch, and the documents to load again (not in the rows)."""
        now = manifest.utcnow()
        rows, again = [], []
        for p in batch.items:
            counts = per_file.get(p.number) if p.number is not None else None
            if p.error is None and counts is None:
                # no rows: the document is decoded again (it is not kept), parsed in Python, and
                # either loaded again without the records that made DuckDB refuse it, or diagnosed
                retry = decode(p.ref, p.original, self.max_document, thorough=True) if p.original else None
                if retry is not None and retry.rejects and not p.thorough:
                    again.append((p, retry))
                    continue
                p.error = diagnose(retry.doc) if retry is not None and retry.doc is not None else "unreadable"
                counts = (0, 0, 0, 0, 0)
            total, loaded, dups, bad, skipped = counts if p.error is None else (0, 0, 0, 0, 0)
            s.records_quarantined += bad
            if p.error is None and bad and bad + skipped == total:
                p.error = f"every record quarantined ({bad}, table quarantined_records)"
            if p.error is not None:
                s.objects_quarantined += 1
                s.quarantined.append((p.ref.uri, p.error))
                rows.append(manifest.row(p.ref, "quarantined", self.run_id, now, reason=p.error, shape=p.shape,
                                         quarantine_path=self.keep(p), record_count=total or None,
                                         quarantined_records=bad))  # fmt: skip
                continue
            s.records_skipped += skipped
            if total and skipped == total:
                s.objects_skipped += 1
                rows.append(manifest.row(p.ref, "skipped", self.run_id, now, reason="Insights records only",
                                         shape=p.shape, record_count=total, records_skipped=skipped))  # fmt: skip
                continue
            s.objects_loaded += 1
            s.records_loaded += loaded
            s.duplicates_dropped += dups
            rows.append(manifest.row(p.ref, "loaded", self.run_id, now, shape=p.shape, record_count=total,
                                     rows_loaded=loaded, duplicates=dups, quarantined_records=bad,
                                     records_skipped=skipped))  # fmt: skip
        for ref in batch.skipped:
            s.objects_skipped += 1
            rows.append(manifest.row(ref, "skipped", self.run_id, now, reason=skip_reason(ref.key)))
        return rows, again
