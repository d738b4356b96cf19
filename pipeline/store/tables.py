"""The tables roletrail keeps besides the views: records, manifest, runs, alerts and deliveries."""

from __future__ import annotations

from detectors.base import OUTPUT_COLUMNS
from pipeline.store import schema

# every object seen by ingest, whatever became of it (status loaded / skipped / quarantined)
MANIFEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("uri", "VARCHAR PRIMARY KEY"), ("source", "VARCHAR"), ("etag", "VARCHAR"), ("size", "BIGINT"),
    ("last_modified", "TIMESTAMP"), ("status", "VARCHAR"), ("record_count", "INTEGER"),
    ("rows_loaded", "INTEGER"), ("duplicates", "INTEGER"), ("quarantined_records", "INTEGER"),
    ("reason", "VARCHAR"), ("quarantine_path", "VARCHAR"), ("run_id", "VARCHAR"), ("loaded_at", "TIMESTAMP"),
    ("shape", "VARCHAR"),  # the input shape (pipeline.ingest.shapes), NULL for files not read
    ("records_skipped", "INTEGER"),  # Insights records inside the file
)  # fmt: skip
# columns added after databases existed: init_db adds them to an existing table
ADDED_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest_manifest": tuple((c, t) for c, t in MANIFEST_COLUMNS if c in ("shape", "records_skipped")),
}

TABLES = {
    "cloudtrail_logs": ", ".join(f"{name} {typ}" for name, typ in schema.table_columns()),
    "ingest_manifest": ", ".join(f"{name} {typ}" for name, typ in MANIFEST_COLUMNS),
    "quarantined_records": """
        source_key VARCHAR, record_index INTEGER, reason VARCHAR, record VARCHAR, run_id VARCHAR,
        quarantined_at TIMESTAMP""",
    "ingest_runs": """
        run_id VARCHAR PRIMARY KEY, source VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        objects_listed INTEGER, objects_new INTEGER, objects_loaded INTEGER, objects_skipped INTEGER,
        objects_quarantined INTEGER, records_loaded BIGINT, records_quarantined BIGINT,
        duplicates_dropped BIGINT, id_collisions BIGINT, seconds DOUBLE""",
    # the outbox: one row per alert and destination
    "alert_deliveries": """
        alert_id VARCHAR, destination VARCHAR, status VARCHAR, attempts INTEGER, last_error VARCHAR,
        next_attempt_at TIMESTAMP, delivered_at TIMESTAMP, created_at TIMESTAMP,
        PRIMARY KEY (alert_id, destination)""",
    "detection_runs": """
        run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP, finished_at TIMESTAMP,
        watermark TIMESTAMP, events_new BIGINT, window_start TIMESTAMP, alerts_new INTEGER,
        alerts_updated INTEGER, alerts_suppressed INTEGER, seconds DOUBLE""",
}


# What an alert is beyond a detector's output row (dedup_key becomes alert_id): one list,
# from which the alerts table, the insert in pipeline.detect and every reader take their columns
ALERT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("alert_id", "VARCHAR PRIMARY KEY"),
    ("detector", "VARCHAR"),
    *((c, "INTEGER" if c == "event_count" else t) for c, t in OUTPUT_COLUMNS if c != "dedup_key"),
    ("status", "VARCHAR"),  # open | suppressed
    ("suppression_reason", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("updated_at", "TIMESTAMP"),
    ("run_id", "VARCHAR"),
)
ALERT_FIELDS: tuple[str, ...] = tuple(c for c, _ in ALERT_COLUMNS)
# every alert; alert_id is stable: a re-run over the same events updates, never duplicates
TABLES["alerts"] = ", ".join(f"{c} {t}" for c, t in ALERT_COLUMNS)
