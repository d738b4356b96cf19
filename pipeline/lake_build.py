"""`roletrail lake build SOURCE --lake LAKE`: CloudTrail files -> the lake's Parquet, on Spark.

The driver lists the source and keeps the objects not in the lake's manifest (or whose etag
changed). The executors fetch and decode them with ingest's own rules (pipeline.ingest.decode
and diagnose: a corrupt gzip, invalid JSON, a document without Records is quarantined with its
reason; a record that is not an object, has no eventTime or an unparseable one is a
quarantined record) and split the documents into records; Spark parses the typed columns
(from_json with pipeline.store.schema's explicit schema), drops exact duplicates (same
recipient account, event id, time and content, within the run and against the lake's days)
and appends the rest in the Athena partition layout. The prefiltered assume_role_events of the
touched days are then rewritten, session_actions and trust_policy_statements recomputed, and
the manifest appended last:
a run killed before it reads the same objects again, and the duplicate rule drops what had
already been written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass

from pipeline import lake as layout
from pipeline.errors import RoletrailError
from pipeline.ingest.eventid import derived_ids
from pipeline.ingest.summary import ObjectCounts
from pipeline.store import schema
from pipeline.times import parse_utc as _event_time

CANONICAL_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class LakeSummary(ObjectCounts):
    lake: str
    run_id: str

    def lines(self) -> list[str]:
        out = [
            f"objects: {self.objects_listed} listed, {self.objects_new} new, {self.objects_loaded} loaded, "
            f"{self.objects_skipped} skipped, {self.objects_quarantined} quarantined",
            f"records: {self.records_loaded} written, {self.duplicates_dropped} duplicates dropped, "
            f"{self.records_quarantined} quarantined",
            f"time: {self.seconds:.2f} s; lake {self.lake}",
        ]
        out += [f"quarantined {uri}: {reason}" for uri, reason in self.quarantined[:20]]
        return out


# ---- on the executors ---------------------------------------------------------------------------


def _unknown_keys(rec: dict) -> bool:
    """Whether a record has fields the typed columns do not cover (it then keeps its JSON)."""
    for path, known in schema.CHECKED_OBJECTS.items():
        node = rec
        for part in path.split(".")[1:]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and not node.keys() <= known.keys():
            return True
    return False


def records_of(source_uri: str, refs: list[tuple]) -> list[tuple]:
    """Fetch and decode objects; one ("file", ...) row per object, and per record a ("rec", ...)
    or a ("bad", ...) row. Runs on an executor (refs: uri, key, etag, size)."""
    from pipeline.ingest.decode import decode, diagnose
    from pipeline.ingest.options import IngestOptions
    from pipeline.sources import ObjectRef, open_source

    source = open_source(source_uri)
    max_document = IngestOptions().max_document_mb * 1024 * 1024  # ingest's default cap
    out, underived = [], []
    for uri, key, etag, size in refs:
        ref = ObjectRef(uri, key, etag, size, None)
        try:
            prepared = decode(ref, source.fetch(ref), max_document)
        except Exception as e:  # network, permissions: not the file's fault, retried next run
            out.append(("failed", uri, None, None, None, None, f"{type(e).__name__}: {e}"))
            continue
        if prepared.error is not None:
            out.append(("file", uri, None, None, None, None, prepared.error))
            continue
        try:
            doc = json.loads(prepared.doc)
            reason = (
                None
                if isinstance(doc, dict) and isinstance(doc.get("Records"), list)
                else diagnose(prepared.doc)
            )
        except (ValueError, RecursionError):
            doc, reason = None, diagnose(prepared.doc)
        if reason is not None or doc is None:
            out.append(("file", uri, None, None, None, None, reason or "unreadable JSON document"))
            continue
        records = doc["Records"]
        out.append(("file", uri, len(records), None, None, None, None))
        for idx, rec in enumerate(records):
            text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
            when = _event_time(rec.get("eventTime")) if isinstance(rec, dict) else None
            if not isinstance(rec, dict):
                out.append(("bad", uri, idx, text, None, None, "not a JSON object"))
            elif rec.get("eventTime") is None:
                out.append(("bad", uri, idx, text, None, None, "no eventTime"))
            elif when is None:
                out.append(
                    ("bad", uri, idx, text, None, None, f"eventTime cannot be parsed: {rec['eventTime']}")
                )
            else:
                event_id = rec.get("eventID")  # as ingest: only a missing or null id is derived
                derived = event_id is None
                digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
                needs_raw = derived or rec["eventTime"] != when.strftime(CANONICAL_TIME) or _unknown_keys(rec)
                if derived:
                    underived.append(len(out))
                out.append(("rec", uri, idx, text, when, int.from_bytes(digest, "big", signed=True),
                            [event_id, derived, needs_raw]))  # fmt: skip
    # records without an eventID get ingest's derived id (pipeline.ingest.eventid), in one query
    for i, eventid in zip(underived, derived_ids([out[i][3] for i in underived]), strict=True):
        out[i][6][0] = eventid
    return [row[:6] + (json.dumps(row[6]),) if row[0] == "rec" else row for row in out]


# ---- on the driver ------------------------------------------------------------------------------


def spark_type(node, lower: bool = True):
    """A pipeline.store.schema node as a Spark type (JSON fields as their text)."""
    from pyspark.sql.types import ArrayType, StringType, StructField, StructType

    if isinstance(node, str):
        return StringType()
    if isinstance(node, list):
        return ArrayType(spark_type(node[0], lower))
    return StructType([StructField(k.lower() if lower else k, spark_type(v, lower)) for k, v in node.items()])


def _existing_manifest(spark, lake: str) -> dict[str, tuple[str, str]]:
    if not layout.has_table(lake, layout.MANIFEST):
        return {}
    try:
        rows = (
            spark.read.parquet(layout.table_path(lake, layout.MANIFEST))
            .select("uri", "etag", "status")
            .collect()
        )
    except Exception:  # a remote lake without a manifest yet
        return {}
    return {r.uri: (r.etag, r.status) for r in rows}


def build(spark, source_uri: str, lake: str, since=None, until=None) -> LakeSummary:
    """Add the source's new objects to the lake; see the module docstring."""
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType, TimestampNTZType

    from pipeline.sources import open_source, skip_reason

    started = time.monotonic()
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    summary = LakeSummary(lake, run_id)
    source = open_source(source_uri)
    seen = _existing_manifest(spark, lake)
    fresh, skipped = [], []
    for ref in source.list(since, until):
        summary.objects_listed += 1
        old = seen.get(ref.uri)
        if old is not None and (old[0] == ref.etag or old[1] == "skipped"):
            continue
        (skipped if skip_reason(ref.key) else fresh).append(ref)
    summary.objects_new = len(fresh) + len(skipped)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    manifest = [(r.uri, r.etag, r.size, "skipped", None, 0, 0, 0, skip_reason(r.key)) for r in skipped]
    summary.objects_skipped = len(skipped)
    if fresh:
        parts = max(1, min(len(fresh), spark.sparkContext.defaultParallelism * 4))
        refs = [(r.uri, r.key, r.etag, r.size) for r in fresh]
        rows = spark.sparkContext.parallelize(refs, parts).mapPartitions(
            lambda it, uri=source.uri: records_of(uri, list(it))
        )
        staged = StructType(
            [
                StructField("kind", StringType()),
                StructField("source_key", StringType()),
                StructField("record_index", IntegerType()),
                StructField("text", StringType()),
                StructField("eventtime", TimestampNTZType()),
                StructField("record_hash", LongType()),
                StructField("meta", StringType()),
            ]
        )
        staged_df = spark.createDataFrame(rows, staged).persist()
        try:
            manifest += _load(spark, staged_df, lake, run_id, now, summary, {r.uri: r for r in fresh})
        finally:
            staged_df.unpersist()
    if manifest:
        _append_manifest(spark, lake, manifest, run_id, now)
    summary.seconds = time.monotonic() - started
    return summary


def _load(spark, staged, lake, run_id, now, summary: LakeSummary, refs) -> list[tuple]:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    files = (
        staged.where("kind in ('file', 'failed')")
        .select("kind", "source_key", "record_index", "meta")
        .collect()
    )
    recs = staged.where("kind = 'rec'").select(
        "source_key",
        "record_index",
        "text",
        "eventtime",
        "record_hash",
        F.get_json_object("meta", "$[0]").alias("eventid"),
        F.get_json_object("meta", "$[1]").cast("boolean").alias("eventid_derived"),
        F.get_json_object("meta", "$[2]").cast("boolean").alias("needs_raw"),
    )
    parsed = recs.withColumn("r", F.from_json("text", _record_schema()))
    columns = []
    for key, node in schema.RECORD.items():
        name = schema.column_name(key)
        if key == "eventTime":
            columns.append(F.col("eventtime"))
        elif key == "eventID":
            columns.append(F.col("eventid"))
        elif isinstance(node, str):
            columns.append(F.col(f"r.{key}").alias(name))
        else:  # structs and arrays: the table's lowercase field names (a cast renames by position)
            columns.append(F.col(f"r.{key}").cast(spark_type(node)).alias(name))
    typed = parsed.select(
        *columns,
        F.when(F.col("needs_raw"), F.col("text")).alias("raw_record"),
        "source_key",
        "record_index",
        "record_hash",
        "eventid_derived",
        F.lit(now).cast("timestamp_ntz").alias("ingested_at"),
    )
    # exact duplicates: within the run (the first copy in listing order stays) ...
    key = ["record_hash", "eventid", "eventtime", "recipientaccountid"]
    first = Window.partitionBy(*key).orderBy("source_key", "record_index")
    typed = typed.withColumn("_copy", F.row_number().over(first))
    typed = typed.withColumn("day", F.date_format("eventtime", "yyyy-MM-dd"))
    # ... and against what the lake already holds for the same days
    if layout.has_table(lake, layout.TABLE):
        days = [r.day for r in typed.select("day").distinct().collect()]
        old = (
            spark.read.parquet(layout.table_path(lake, layout.TABLE))
            .where(F.col("day").isin(days))
            .select(*key)
            .withColumn("_old", F.lit(True))
        )
        typed = typed.join(old, key, "left").withColumn(
            "_dup", (F.col("_copy") > 1) | F.col("_old").isNotNull()
        )
    else:
        typed = typed.withColumn("_dup", F.col("_copy") > 1)
    typed = typed.persist()
    try:
        counts = {
            r.source_key: (r.n, r.dups)
            for r in typed.groupBy("source_key")
            .agg(F.count("*").alias("n"), F.sum(F.col("_dup").cast("int")).alias("dups"))
            .collect()
        }
        new = typed.where(~F.col("_dup")).drop("_copy", "_old", "_dup")
        new = new.withColumn("account", F.coalesce("recipientaccountid", F.lit("unknown")))
        new = new.withColumn("region", F.coalesce("awsregion", F.lit("unknown")))
        # the days before the write: after it, the rows just written are in the lake, and a
        # `new` computed again (a cache partition lost) would find each one a duplicate of itself
        touched = [r.day for r in new.select("day").distinct().collect()]
        new.write.mode("append").partitionBy(*layout.PARTITIONS).parquet(
            layout.table_path(lake, layout.TABLE)
        )
    finally:
        typed.unpersist()
    bad = staged.where("kind = 'bad'").select(
        "source_key", "record_index", F.col("meta").alias("reason"), F.col("text").alias("record"),
        F.lit(run_id).alias("run_id"), F.lit(now).cast("timestamp_ntz").alias("quarantined_at"),
    )  # fmt: skip
    bad_counts = {r.source_key: r.n for r in bad.groupBy("source_key").agg(F.count("*").alias("n")).collect()}
    if bad_counts:
        bad.write.mode("append").parquet(layout.table_path(lake, layout.QUARANTINED))
    if touched:
        _refresh_views(spark, lake, touched)
    manifest = []
    for f in files:
        ref = refs[f.source_key]
        if f.kind == "failed":
            continue  # not recorded: fetched again next run
        if f.meta is not None:  # the whole object is quarantined
            summary.objects_quarantined += 1
            summary.quarantined.append((f.source_key, f.meta))
            manifest.append((ref.uri, ref.etag, ref.size, "quarantined", None, 0, 0, 0, f.meta))
            continue
        n, dups = counts.get(f.source_key, (0, 0))
        nbad = bad_counts.get(f.source_key, 0)
        summary.objects_loaded += 1
        summary.records_loaded += n - dups
        summary.duplicates_dropped += dups
        summary.records_quarantined += nbad
        manifest.append((ref.uri, ref.etag, ref.size, "loaded", f.record_index, n - dups, dups, nbad, None))
    return manifest


def _record_schema():
    return spark_type(schema.RECORD, lower=False)


def _refresh_views(spark, lake: str, days: list[str]) -> None:
    """Rewrite assume_role_events for the touched days (dynamic partition overwrite) and the
    whole-history views (session_actions, trust_policy_statements) whole, from the lake's
    cloudtrail_logs, with the views' own SQL."""
    from pyspark.sql import functions as F

    from pipeline.engine import create_views
    from pipeline.engine.spark import SparkEngine
    from pipeline.store import sql_text

    engine = SparkEngine(spark)  # its own session: the caller's temporary views stay as they are
    logs = engine.spark.read.parquet(layout.table_path(lake, layout.TABLE))
    engine.register_dataframe(layout.TABLE, logs.where(F.col("day").isin(days)))
    events = engine.spark.sql(engine.sql_text(sql_text("assume_role_events")))
    events = events.withColumn("day", F.date_format("eventtime", "yyyy-MM-dd"))
    events.repartition("day").write.mode("overwrite").partitionBy("day").parquet(
        layout.table_path(lake, "assume_role_events")
    )
    # a whole view is rewritten when the touched days hold any of its rows (its own SQL over
    # them says: a build of CloudTrail files without a trust policy change leaves that table)
    # or the lake has none of it yet
    create_views(engine, {layout.TABLE}, only=layout.WHOLE)
    stale = [
        n for n in layout.WHOLE if not layout.has_table(lake, n) or engine.spark.table(n).limit(1).count()
    ]
    engine.register_dataframe(layout.TABLE, logs)
    create_views(engine, {layout.TABLE}, only=layout.WHOLE)  # over the whole history now
    for name in stale:
        # read whole before it is replaced: write to a new folder, then swap it in
        target = layout.table_path(lake, name)
        engine.spark.table(name).coalesce(1).write.mode("overwrite").parquet(target + ".next")
        _swap(spark, target + ".next", target)


def _swap(spark, new: str, target: str) -> None:
    """Replace folder `target` with `new` (Hadoop FileSystem: local, HDFS or S3)."""
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(target)
    fs = path.getFileSystem(conf)
    if fs.exists(path):
        fs.delete(path, True)
    if not fs.rename(jvm.org.apache.hadoop.fs.Path(new), path):
        raise RoletrailError(f"cannot move {new} to {target}")


def _append_manifest(spark, lake: str, rows: list[tuple], run_id: str, now: dt.datetime) -> None:
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType, TimestampNTZType

    cols = StructType(
        [
            StructField("uri", StringType()),
            StructField("etag", StringType()),
            StructField("size", LongType()),
            StructField("status", StringType()),
            StructField("record_count", IntegerType()),
            StructField("rows_loaded", IntegerType()),
            StructField("duplicates", IntegerType()),
            StructField("quarantined_records", IntegerType()),
            StructField("reason", StringType()),
            StructField("run_id", StringType()),
            StructField("loaded_at", TimestampNTZType()),
        ]
    )
    data = [(*r, run_id, now) for r in rows]
    spark.createDataFrame(data, cols).coalesce(1).write.mode("append").parquet(
        layout.table_path(lake, layout.MANIFEST)
    )
