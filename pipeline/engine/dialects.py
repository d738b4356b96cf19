"""The views and detectors in another engine's SQL: sqlglot syntax-tree transforms, no text.

The queries are written in DuckDB SQL, restricted to what carries (CONTRIBUTING.md). Carrying
one is: parse it (DuckDB), put each `$name` parameter in as a typed literal (or as the
engine's placeholder, for export-sql), apply the engine's rewrites below, print it in the
engine's dialect with sqlglot's strict mode (anything it cannot carry raises). Each rewrite is
one function from a node to a node, for a construct sqlglot carries without error but wrongly.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from importlib import resources
from typing import Any

import sqlglot
from sqlglot import exp

from pipeline.engine.rewrites import REWRITES
from pipeline.errors import RoletrailError

# roletrail's own name for a dialect -> sqlglot's
SQLGLOT_DIALECTS = {"duckdb": "duckdb", "spark": "spark", "trino": "trino", "athena": "athena"}
# scalar functions roletrail registers itself on an engine (Python on DuckDB and Spark);
# roletrail_session_shape is SQL (pipeline/session_shape.sql), inlined for every other engine
UDFS = ("roletrail_ip_status", "roletrail_network", "roletrail_trust_principals")
# roletrail functions an engine has no spelling of yet, and what a user must supply instead;
# export-sql says so above every query that needs one (a test holds every other function to the
# list). None today: the only query that calls one (roletrail_trust_principals) is a lake table
# on Trino and Athena (NOT_PORTABLE below).
NO_SPELLING: dict[str, dict[str, str]] = {}

# views and detectors that do not carry to an engine yet, and why. Detection on that engine
# leaves them out and says so; export-sql gives a materialized view's lake table instead
# (pipeline.lake.MATERIALIZED); tests/test_portable.py checks each entry still fails to carry,
# so the list cannot outlive the gap it records.
NOT_PORTABLE = {
    "spark": {},  # every view and detector runs on Spark (tests/test_spark.py compares them all)
    "trino": {
        "view trust_policy_statements": "reads policies with roletrail_trust_principals (Python), "
        "which runs on Spark when roletrail lake build writes the table",
    },
}
NOT_PORTABLE["athena"] = NOT_PORTABLE["trino"]


def portable(kind: str, name: str, dialect: str) -> bool:
    """Whether view or detector `name` runs on `dialect` (kind: "view" or "detector")."""
    return f"{kind} {name}" not in NOT_PORTABLE.get(dialect, {})


def missing_functions(sql: str, dialect: str) -> dict[str, str]:
    """roletrail functions `sql` (in `dialect`) calls that the engine has no spelling of."""
    lacking = NO_SPELLING.get(dialect, {})
    return {f: lacking[f] for f in sorted(functions_used(sql, dialect)) if f in lacking}


def parse(sql: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(sql, read="duckdb", error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as e:
        raise RoletrailError(f"cannot parse query: {str(e).splitlines()[0]}") from None


# ---- parameters --------------------------------------------------------------------------------


def literal(value: Any) -> exp.Expression:
    """A Python value as a typed SQL literal node (the engine's printer quotes and escapes)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        # a bare 6.0 is a DECIMAL on Spark and Trino; the parameter is a double on DuckDB
        return exp.cast(exp.Literal.number(repr(value)), exp.DataType.Type.DOUBLE)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, list | tuple):
        items = [literal(v) for v in value]
        if not items:  # an empty array has no element type to infer from
            return exp.cast(exp.Array(expressions=[]), exp.DataType.build("array<varchar>"))
        return exp.Array(expressions=items)
    raise RoletrailError(f"cannot pass a {type(value).__name__} as a query parameter")


def bind(tree: exp.Expression, params: dict[str, Any] | None, placeholders: bool = False) -> exp.Expression:
    """Each `$name` as a typed literal of its value; with placeholders=True, as the printing
    engine's placeholder instead (`:name` on Spark, `?` on Trino and Athena)."""
    params = params or {}

    def swap(node):
        if isinstance(node, exp.Interval) and isinstance(node.this, exp.Paren):
            inner = node.this.this
            if isinstance(inner, exp.Placeholder):
                unit = node.args.get("unit")
                if placeholders:  # `interval ($n) day`: n days, spelled so every engine reads it
                    return exp.Mul(
                        this=inner.copy(), expression=exp.Interval(this=exp.Literal.string("1"), unit=unit)
                    )
                value = _value(inner, params)
                return exp.Interval(this=exp.Literal.string(str(value)), unit=unit)
        if isinstance(node, exp.Placeholder):
            return node if placeholders else literal(_value(node, params))
        return node

    return tree.transform(swap, copy=True)


def _value(node: exp.Placeholder, params: dict[str, Any]):
    name = node.name
    if name not in params:
        raise RoletrailError(f"query parameter ${name} has no value")
    return params[name]


def parameter_order(sql: str, dialect: str) -> list[str]:
    """The `$name` parameters of a query in the order the printed `dialect` SQL uses them: what
    Trino's and Athena's positional `?` stand for (from the tokens: text order, strings skipped)."""
    from sqlglot.tokens import TokenType

    named = carry(sql, "spark" if dialect == "spark" else "trino", placeholders=True, named=True)
    tokens = sqlglot.tokenize(named, read="spark" if dialect == "spark" else "trino")
    names = []
    for colon, word in zip(tokens, tokens[1:], strict=False):
        if colon.token_type == TokenType.COLON and word.start == colon.end + 1 and word.text.isidentifier():
            names.append(word.text)
    return names


# ---- rewrites ----------------------------------------------------------------------------------


def refuse_unportable(tree: exp.Expression) -> None:
    """DuckDB constructs that sqlglot prints for another engine without an error but that the
    engine rejects or reads differently: refused here, with what to write instead."""
    for node in tree.walk():
        reason = None
        if isinstance(node, exp.Glob):
            reason = "glob is DuckDB's: compile the pattern (detect.glob_pattern) and use regexp_matches"
        elif isinstance(node, exp.AnyValue) and isinstance(node.this, exp.Order):
            reason = "any_value(x order by y): use min_by(x, y)"
        elif isinstance(node, exp.Union) and node.args.get("by_name"):
            reason = "union all by name: list the same columns on both sides"
        elif isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")):
            reason = "* exclude / * replace: list the columns"
        elif isinstance(node, exp.Bracket) and any(isinstance(e, exp.Slice) for e in node.expressions):
            reason = "list slices l[a:b]: cap lists in Python"
        elif isinstance(node, exp.TimeToStr) and re.search(
            r"(^|[^%])[A-Za-z]", node.text("format").replace("%%", "")
        ):
            reason = "a letter inside a date format (Spark reads it as a pattern): concatenate it outside"
        if reason:
            raise RoletrailError(f"not portable: {reason} (in `{node.sql('duckdb')[:60]}`)")


def _bottom_up(tree: exp.Expression, rewrite) -> exp.Expression:
    """`rewrite` applied to every node of the tree once, children before their parent, so a
    construct inside one that is rewritten (a subscript of a subscript) is rewritten too; the
    nodes a rewrite returns are not visited again."""
    for node in reversed(list(tree.walk(bfs=True))):
        new = rewrite(node)
        if new is node:
            continue
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree


def carry(
    sql: str,
    dialect: str,
    params: dict[str, Any] | None = None,
    placeholders: bool = False,
    named: bool = False,
) -> str:
    """`sql` (DuckDB) in `dialect`: parameters bound as literals (or placeholders), rewrites applied,
    printed in sqlglot's strict mode."""
    if dialect not in REWRITES:
        raise RoletrailError(f"unknown dialect {dialect!r} (known: {', '.join(sorted(REWRITES))})")
    tree = parse(sql)
    if dialect != "duckdb":
        refuse_unportable(tree)
    tree = bind(tree, params, placeholders=placeholders)
    for rewrite in REWRITES[dialect]:
        tree = _bottom_up(tree, rewrite)
    if placeholders and not named and dialect in ("trino", "athena"):
        # Trino and Athena prepared statements take positional `?` (EXECUTE ... USING, in order)
        tree = tree.transform(
            lambda n: exp.Placeholder() if isinstance(n, exp.Placeholder) else n, copy=False
        )
    try:
        return tree.sql(
            dialect=SQLGLOT_DIALECTS[dialect], unsupported_level=sqlglot.ErrorLevel.RAISE, pretty=True
        )
    except sqlglot.errors.UnsupportedError as e:
        raise RoletrailError(f"{dialect}: {str(e).splitlines()[0]}") from None


# ---- what each engine has ----------------------------------------------------------------------


def _function_list(name: str) -> frozenset[str]:
    text = resources.files("pipeline.engine").joinpath(name).read_text()
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


@cache
def trino_functions() -> frozenset[str]:
    return _function_list("trino_functions.txt")


@cache
def spark_functions() -> frozenset[str]:
    return _function_list("spark_functions.txt")


def functions_used(sql: str, dialect: str) -> set[str]:
    """The function names a query in `dialect` calls, as that engine will read them."""
    tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECTS[dialect])
    names = set()
    for node in tree.find_all(exp.Func):
        if isinstance(node, exp.Exists | exp.Cast):  # syntax (EXISTS, CAST, TRY_CAST), not functions
            continue
        if isinstance(node, exp.Unnest) and isinstance(node.parent, exp.From | exp.Join):
            continue  # `cross join unnest(...) as t(x)`: a table, which every engine has as syntax
        if isinstance(node, exp.Anonymous):
            names.add(node.name.lower())
            continue
        # the name the dialect prints for this node: the text before its parenthesis
        text = node.sql(dialect=SQLGLOT_DIALECTS[dialect])
        head = text.split("(", 1)[0].strip().lower()
        if head.isidentifier():
            names.add(head)
    return names
