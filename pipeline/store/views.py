"""The views under sql/ (one file each, file name = view name) and the schema set-up."""

from __future__ import annotations

from importlib import resources

import duckdb

from pipeline.errors import RoletrailError
from pipeline.store import schema
from pipeline.store.macros import ATHENA_MACROS
from pipeline.store.tables import ADDED_COLUMNS, TABLES


def sql_text(name: str) -> str:
    return resources.files("sql").joinpath(f"{name}.sql").read_text()


def view_names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files("sql").iterdir() if p.name.endswith(".sql"))


def init_db(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, (re)create macros and views. Idempotent."""
    for name, cols in TABLES.items():
        con.execute(f"create table if not exists {name} ({cols})")
    for name, added in ADDED_COLUMNS.items():
        for column, typ in added:
            con.execute(f"alter table {name} add column if not exists {column} {typ}")
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
