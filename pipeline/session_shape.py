"""A RoleSessionName's shape: what stays when its random parts are one placeholder.

Automation names its sessions from a template (deploy-<run>, export-<uuid>, botocore-session-
<epoch>); the shape is the template. Every random id is the same `{id}`, whatever it is made
of: digits, hex of any length (a chunk of letters only, like `fefb`, next to another id is hex
too, and so is a run of 8 or more), uuid fragments, base32/64 runs, timestamps; ids joined by
separators are one `{id}`. E-mail addresses are `{email}`. Words stay, so a hand-typed
`manual-debug-session` is its own shape.

The definition is one SQL expression, session_shape.sql, so every engine computes the same
shape with its own functions: a temporary macro `roletrail_session_shape(name)` on DuckDB, and
the expression inlined into the query on Spark and Trino (pipeline.engine.rewrites), where no
Python runs beside the engine.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

FUNCTION = "roletrail_session_shape"
PARAMETER = "__name"


@cache
def definition() -> str:
    """The expression's DuckDB SQL, as the file has it."""
    return resources.files("pipeline").joinpath("session_shape.sql").read_text()


@cache
def _tree() -> exp.Expression:
    import sqlglot

    tree = sqlglot.parse_one(definition(), read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    for node in tree.walk():
        node.comments = None  # the file's comments explain it; a printed query does not need them
    return tree


def expression(name: exp.Expression) -> exp.Expression:
    """The shape of `name` (a node of a DuckDB-SQL tree) as a new DuckDB-SQL tree."""
    from sqlglot import exp

    def fill(node):
        if isinstance(node, exp.Column) and not node.table and node.name == PARAMETER:
            return name.copy()
        return node

    return _tree().transform(fill)


def duckdb_macro() -> str:
    """The statement that defines roletrail_session_shape on a DuckDB connection (temporary:
    nothing lands in the database file, and a read-only connection takes it too)."""
    return f"create or replace temp macro {FUNCTION}({PARAMETER}) as\n{definition()}"


@cache
def _connection():
    import duckdb

    con = duckdb.connect()
    con.execute(duckdb_macro())
    return con


_lock = threading.Lock()


def session_shapes(names: list[str | None]) -> list[str | None]:
    """Each name's shape, in order (an in-memory DuckDB of this process runs the definition)."""
    with _lock:
        rows = (
            _connection()
            .execute(
                f"select {FUNCTION}(n) from unnest($names) with ordinality as t(n, k) order by k",
                {"names": list(names)},
            )
            .fetchall()
        )
    return [r[0] for r in rows]


def session_shape(name: str | None) -> str | None:
    return session_shapes([name])[0]
