"""The DuckDB engine: the store's own connection runs the views and detectors."""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.errors import RoletrailError


class DuckDBEngine:
    name = "duckdb"
    reads_store = True  # runs on the store's own connection when no lake is given

    def __init__(self, con: duckdb.DuckDBPyConnection, owns: bool = False):
        self.con = con
        self.owns = owns  # a lake's in-memory connection is the engine's to close
        register_functions(con)

    @classmethod
    def open_lake(cls, lake: str, cfg) -> DuckDBEngine:
        from pipeline.lake import duckdb_engine

        return duckdb_engine(lake)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        try:
            cur = self.con.execute(sql, params or None)
        except duckdb.Error as e:
            raise RoletrailError(f"duckdb: {str(e).splitlines()[0]}") from e
        return [d[0] for d in cur.description or []], cur.fetchall()

    def register_view(self, name: str, sql: str) -> None:
        self.con.execute(f"create or replace view {name} as {sql}")

    def register_table(self, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        # a temp table lives with this connection only: nothing of the config lands in the file
        self.con.execute(
            f"create or replace temp table {name} ({', '.join(f'{c} varchar' for c in columns)})"
        )
        if rows:
            marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
            self.con.executemany(f"insert into {name} values ({marks})", [list(r) for r in rows])

    def stage(self, name: str, since: Any) -> None:
        # a temp table of the view's name: unqualified names find the temp catalog first, so
        # the detectors' own SQL reads it; the view itself is named in full
        [(catalog, schema)] = self.con.execute(
            "select database_name, schema_name from duckdb_views() where view_name = $name and not temporary",
            {"name": name},
        ).fetchall()
        self.con.execute(
            f'create or replace temp table {name} as select * from "{catalog}"."{schema}".{name} '
            "where eventtime >= $since",
            {"since": since},
        )

    def unstage(self, name: str) -> None:
        self.con.execute(f"drop table if exists temp.main.{name}")

    def close(self) -> None:
        if self.owns:
            self.con.close()  # otherwise the connection belongs to the caller


def register_functions(con) -> None:
    """roletrail's functions on a DuckDB connection: the ip-in-network check, an address's
    network, a trust policy's principals (the same Python as on Spark), and a session name's
    shape (the same SQL as on every engine, as a temporary macro)."""
    from duckdb.sqltypes import VARCHAR

    from pipeline.netcheck import ip_status, network_of
    from pipeline.session_shape import duckdb_macro
    from pipeline.trust_policy import DUCKDB_TYPE, principals

    con.execute(duckdb_macro())

    # "special": the function itself sees NULLs and may return NULL (no network of a service)
    for name, fn, args, returns, nulls in (
        ("roletrail_ip_status", ip_status, [VARCHAR, "VARCHAR[]"], VARCHAR, "default"),
        ("roletrail_network", network_of, [VARCHAR], VARCHAR, "special"),
        ("roletrail_trust_principals", principals, [VARCHAR], DUCKDB_TYPE, "default"),
    ):
        try:
            con.create_function(name, fn, args, returns, null_handling=nulls)
        except Exception as e:  # already registered on this connection
            if "already" not in str(e).lower():
                raise
