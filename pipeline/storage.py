"""The DuckDB database: tables, Athena-compatible macros, the views under sql/, and locking."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from pipeline import schema

DEFAULT_DB = "roletrail.duckdb"


class RoletrailError(Exception):
    """An error the CLI reports as one line (no traceback)."""


class Busy(RoletrailError):
    """Another roletrail process holds the database."""


TABLES = {
    "cloudtrail_logs": ", ".join(f"{name} {typ}" for name, typ in schema.table_columns()),
    # every object seen by ingest, whatever became of it
    "ingest_manifest": """
        uri VARCHAR PRIMARY KEY, source VARCHAR, etag VARCHAR, size BIGINT, last_modified TIMESTAMP,
        status VARCHAR, record_count INTEGER, rows_loaded INTEGER, duplicates INTEGER,
        quarantined_records INTEGER, reason VARCHAR, quarantine_path VARCHAR, run_id VARCHAR,
        loaded_at TIMESTAMP""",
    "quarantined_records": """
        source_key VARCHAR, record_index INTEGER, reason VARCHAR, record VARCHAR, run_id VARCHAR,
        quarantined_at TIMESTAMP""",
    "ingest_runs": """
        run_id VARCHAR PRIMARY KEY, source VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        objects_listed INTEGER, objects_new INTEGER, objects_loaded INTEGER, objects_skipped INTEGER,
        objects_quarantined INTEGER, records_loaded BIGINT, records_quarantined BIGINT,
        duplicates_dropped BIGINT, id_collisions BIGINT, seconds DOUBLE""",
    # every alert; alert_id is stable: a re-run over the same events updates, never duplicates
    "alerts": """
        alert_id VARCHAR PRIMARY KEY, detector VARCHAR, severity VARCHAR, title VARCHAR,
        role_arn VARCHAR, account_id VARCHAR, caller_account VARCHAR, caller_arn VARCHAR,
        source_ip VARCHAR, session_name VARCHAR, source_identity VARCHAR, user_agent VARCHAR,
        first_seen TIMESTAMP, last_seen TIMESTAMP, event_count INTEGER, event_ids VARCHAR[],
        details JSON, status VARCHAR, suppression_reason VARCHAR,
        created_at TIMESTAMP, updated_at TIMESTAMP, run_id VARCHAR""",
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

# Presto/Trino (Athena) functions that CloudTrail queries use, so they run unchanged.
ATHENA_MACROS = {
    # Athena returns NULL for a non-scalar; json_extract_string would return its JSON text
    "json_extract_scalar": "(j, p) as case when json_type(j::json, p) in ('OBJECT', 'ARRAY') then null "
    "else json_extract_string(j::json, p) end",
    "json_parse": "(s) as s::json",
    "json_format": "(j) as j::varchar",
    "json_array_contains": "(j, v) as list_contains(from_json(j::json, '[\"VARCHAR\"]'), v::varchar)",
    "json_size": "(j, p) as json_array_length(j::json, p)",
    "from_iso8601_timestamp": "(s) as cast(s as timestamptz)",
    "from_iso8601_date": "(s) as cast(s as date)",
    "to_iso8601": "(t) as strftime(t::timestamp, '%Y-%m-%dT%H:%M:%S.%gZ')",
    "from_unixtime": "(x) as to_timestamp(x)",
    "to_unixtime": "(t) as epoch(t)",
    "regexp_like": "(s, p) as regexp_matches(s, p)",
    "approx_distinct": "(x) as approx_count_distinct(x)",
    "cardinality": "(l) as len(l)",
}


def sql_text(name: str) -> str:
    return resources.files("sql").joinpath(f"{name}.sql").read_text()


def view_names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files("sql").iterdir() if p.name.endswith(".sql"))


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = str(path)
    if read_only and path != ":memory:" and not Path(path).exists():
        raise RoletrailError(f"no database at {path}: run `roletrail ingest` first")
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise Busy(f"database {path} is in use by another process; try again when it finishes") from None
        raise RoletrailError(f"cannot open database {path}: {e}") from None
    # CloudTrail times are UTC; comparisons with current_timestamp must be too
    con.execute("set TimeZone = 'UTC'")
    return con


def init_db(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, (re)create macros and views. Idempotent."""
    for name, cols in TABLES.items():
        con.execute(f"create table if not exists {name} ({cols})")
    for name, body in ATHENA_MACROS.items():
        con.execute(f"create or replace macro {name}{body}")
    # the loader's parser: json_transform with the explicit schema (a literal: as a bound
    # parameter the schema is re-read per chunk, 3x slower)
    con.execute(
        f"create or replace macro roletrail_parse_record(rec) as json_transform(rec, '{schema.transform_schema()}')"
    )
    create_views(con)


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    # views build on one another; create in dependency order by retrying the ones that failed
    pending = view_names()
    while pending:
        failed, last_error = [], None
        for name in pending:
            try:
                con.execute(f"create or replace view {name} as {sql_text(name)}")
            except duckdb.CatalogException as e:
                failed.append(name)
                last_error = e
        if len(failed) == len(pending):
            raise RoletrailError(f"cannot create views {failed}: {last_error}")
        pending = failed


@contextmanager
def exclusive(db_path: str | os.PathLike, what: str = "roletrail"):
    """Hold `<db>.lock` for the duration: one writer (ingest, detect, notify, run) at a time."""
    if str(db_path) == ":memory:":
        yield
        return
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Busy(
                f"another roletrail process ({holder}) is already working on {db_path}; {what} not started"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
