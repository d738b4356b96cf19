"""The DuckDB store: connection and lock, the tables, Athena macros and the views under sql/."""

from pipeline.errors import Busy, RoletrailError
from pipeline.store.connection import DEFAULT_DB, connect, exclusive, reader, rows, snapshot
from pipeline.store.tables import ALERT_COLUMNS, ALERT_FIELDS, TABLES
from pipeline.store.views import create_views, init_db, sql_text, view_names

__all__ = [
    "ALERT_COLUMNS", "ALERT_FIELDS", "DEFAULT_DB", "TABLES", "Busy", "RoletrailError", "connect",
    "create_views", "exclusive", "reader", "rows", "snapshot", "init_db", "sql_text", "view_names",
]  # fmt: skip
