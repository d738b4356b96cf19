"""The views under sql/ (one file each, file name = view name) and the schema set-up."""

from __future__ import annotations

import hashlib
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


def _stamp() -> str:
    """What the views are made of: their SQL and the tables' columns. A database whose views
    carry this stamp already has them as this code would create them."""
    text = repr((TABLES, ADDED_COLUMNS, [(name, sql_text(name)) for name in view_names()]))
    return "roletrail " + hashlib.sha256(text.encode()).hexdigest()[:16]


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the views, unless the database has this code's views already (each run would
    otherwise pay for binding every view: a tenth of a second, and the functions below)."""
    stamp = _stamp()
    names = view_names()
    current = dict(
        con.execute(
            "select view_name, comment from duckdb_views() where not internal and database_name = current_database()"
        ).fetchall()
    )
    if all(current.get(name) == stamp for name in names):
        return
    # a view may call roletrail's functions (trust_policy_statements reads policies in Python)
    from pipeline.engine.duck import register_functions

    register_functions(con)
    # views build on one another; create in dependency order by retrying the ones that failed
    pending = names
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
    for name in names:
        con.execute(f"comment on view {name} is '{stamp}'")
