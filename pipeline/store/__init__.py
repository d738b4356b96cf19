"""The DuckDB store: connection and lock, the tables, Athena macros and the views under sql/.

The names below are imported on first use, so a command that never opens the database
(`roletrail --help`, `roletrail detectors`) does not pay for importing DuckDB.
"""

from __future__ import annotations

import importlib

from pipeline.errors import Busy, RoletrailError

DEFAULT_DB = "roletrail.duckdb"  # the database when neither --db nor [database] path says

_WHERE = {
    "connect": "connection", "exclusive": "connection", "reader": "connection",
    "rows": "connection", "snapshot": "connection",
    "ALERT_COLUMNS": "tables", "ALERT_FIELDS": "tables", "TABLES": "tables",
    "create_views": "views", "init_db": "views", "sql_text": "views", "view_names": "views",
}  # fmt: skip

__all__ = ["DEFAULT_DB", "Busy", "RoletrailError", *_WHERE]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"pipeline.store.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeline.store' has no attribute {name!r}")
