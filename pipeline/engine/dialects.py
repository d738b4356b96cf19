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
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import sqlglot
from sqlglot import exp

from pipeline.errors import RoletrailError

# roletrail's own name for a dialect -> sqlglot's
SQLGLOT_DIALECTS = {"duckdb": "duckdb", "spark": "spark", "trino": "trino", "athena": "athena"}
# scalar functions roletrail registers itself on an engine (Python on DuckDB and Spark)
UDFS = ("roletrail_ip_status", "roletrail_network", "roletrail_session_shape")
# roletrail functions an engine has no spelling of yet, and what a user must supply instead;
# export-sql says so above every query that needs one (a test holds every other function to the list)
NO_SPELLING = {
    "trino": {
        "roletrail_network": "an address's /24 or /48 (pipeline.netcheck.network_of): a UDF of your own",
        "roletrail_session_shape": "a session name's template (pipeline.session_shape): a UDF of your own",
    },
}
NO_SPELLING["athena"] = NO_SPELLING["trino"]  # e.g. as Lambda functions (USING EXTERNAL FUNCTION)

# views and detectors that do not carry to an engine yet, and why. Detection on that engine
# leaves them out and says so; tests/test_portable.py checks each entry still fails to carry,
# so the list cannot outlive the gap it records.
_TRUST_JSON = "walks policy JSON with json_type/json_keys, which Spark (json_type) and Trino lack"
NOT_PORTABLE = {
    "spark": {
        "view trust_policy_versions": "at run time: to_json of a JSON string (Spark's to_json takes a struct)",
        "view trust_policy_statements": _TRUST_JSON,
        "detector trust_policy_weakened": "reads trust_policy_statements",
        "detector role_expectation_violated": "at run time: runs, but one alert's details differ from DuckDB's",
    },
    "trino": {
        "view trust_policy_statements": _TRUST_JSON + "; unnest() as a function",
        "detector trust_policy_weakened": "reads trust_policy_statements; unnest() as a function",
        "detector role_expectation_violated": "unnest() as a function (Trino: cross join unnest)",
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


def _template(sql: str, dialect: str, **nodes: exp.Expression) -> exp.Expression:
    """A fixed expression in the target dialect whose `__name` columns are replaced by nodes."""
    tree = sqlglot.parse_one(sql, read=dialect)

    def fill(node):
        if isinstance(node, exp.Column) and not node.table and node.name.startswith("__"):
            return nodes[node.name[2:]].copy()
        return node

    return tree.transform(fill)


def _ordered_list(agg: exp.ArrayAgg) -> exp.Expression | None:
    """`list(x order by a, b)` on Spark: collect_list drops the order silently, so collect
    structs (a, b, x), sort them and keep x."""
    order = agg.this
    if not isinstance(order, exp.Order):
        return None
    keys = order.expressions
    if any(k.args.get("desc") for k in keys):
        raise RoletrailError("Spark: list(... order by ... desc) is not carried; order ascending")
    fields = ", ".join(f"'k{i}', __k{i}" for i in range(len(keys)))
    return _template(
        f"transform(array_sort(collect_list(named_struct({fields}, 'v', __v))), e_ -> e_.v)",
        "spark",
        v=order.this,
        **{f"k{i}": k.this for i, k in enumerate(keys)},
    )


def spark_ordered_lists(node):
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg):
        rewritten = _ordered_list(node.this)
        if rewritten is not None:
            # the FILTER belongs to the aggregate inside the rewrite, not to its result
            agg = rewritten.find(exp.ArrayAgg)
            agg.replace(exp.Filter(this=agg.copy(), expression=node.expression.copy()))
            return rewritten
    if isinstance(node, exp.ArrayAgg) and not isinstance(node.parent, exp.Filter):
        return _ordered_list(node) or node
    return node


SECONDS = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60, "SECOND": 1}


def spark_frame_units(node):
    """A frame `interval '14' day preceding and interval '1' hour preceding`: Spark wants both
    bounds of one interval type, so both are given in the finer unit (336 hours and 1 hour)."""
    if not isinstance(node, exp.WindowSpec):
        return node
    bounds = [node.args.get("start"), node.args.get("end")]
    intervals = [b for b in bounds if isinstance(b, exp.Interval) and b.this.is_string]
    units = {b.unit.name.upper() for b in intervals if b.unit is not None}
    if len(intervals) < 2 or len(units) < 2 or not units <= SECONDS.keys():
        return node
    finest = min(units, key=SECONDS.get)
    node = node.copy()
    for key in ("start", "end"):
        b = node.args[key]
        amount = int(b.this.name) * SECONDS[b.unit.name.upper()] // SECONDS[finest]
        node.set(key, exp.Interval(this=exp.Literal.string(str(amount)), unit=exp.var(finest)))
    return node


def spark_percentiles(node):
    """quantile_cont / median: Spark's exact `percentile(x, p)`, which also runs over a frame."""
    if isinstance(node, exp.PercentileCont):
        return exp.Anonymous(this="percentile", expressions=[node.this.copy(), node.expression.copy()])
    if isinstance(node, exp.Median):
        return exp.Anonymous(this="percentile", expressions=[node.this.copy(), exp.Literal.number("0.5")])
    return node


def _one_based(index: exp.Expression) -> exp.Expression:
    # sqlglot keeps a parsed subscript 0-based (DuckDB's [1] is 0 in the tree)
    if isinstance(index, exp.Literal) and index.is_int:
        return exp.Literal.number(int(index.this) + 1)
    return exp.Add(this=index.copy(), expression=exp.Literal.number(1))


def spark_safe_subscript(node):
    """`resources[1]` (DuckDB, 1-based, NULL past the end): try_element_at on Spark, where an
    index past the end raises in ANSI mode (Spark 4's default)."""
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        return exp.Anonymous(
            this="try_element_at", expressions=[node.this.copy(), _one_based(node.expressions[0])]
        )
    return node


def arrays_overlap(node):
    """`list_has_any(a, b)`: sqlglot prints `a && b` for Spark and Trino, which neither reads;
    both have arrays_overlap."""
    if isinstance(node, exp.ArrayOverlaps):
        return exp.Anonymous(this="arrays_overlap", expressions=[node.this.copy(), node.expression.copy()])
    return node


def trino_safe_subscript(node):
    """`resources[1]`: element_at on Trino, where a subscript past the end raises."""
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        return exp.Anonymous(
            this="element_at", expressions=[node.this.copy(), _one_based(node.expressions[0])]
        )
    return node


def trino_percentiles(node):
    """Trino has no exact percentile: approx_percentile (a t-digest; close, not identical)."""
    if isinstance(node, exp.PercentileCont):
        return exp.Anonymous(this="approx_percentile", expressions=[node.this.copy(), node.expression.copy()])
    if isinstance(node, exp.Median):
        return exp.Anonymous(
            this="approx_percentile", expressions=[node.this.copy(), exp.Literal.number("0.5")]
        )
    return node


def trino_regexp_replace_all(node):
    """DuckDB needs the 'g' option to replace every match; Trino always does and has no option."""
    if isinstance(node, exp.RegexpReplace) and node.args.get("modifiers") is not None:
        node = node.copy()
        node.set("modifiers", None)
    return node


def trino_array_append(node):
    """list_append(l, x): Trino has no array_append; concat(l, array[x])."""
    if isinstance(node, exp.ArrayAppend):
        return exp.ArrayConcat(
            this=node.this.copy(), expressions=[exp.Array(expressions=[node.expression.copy()])]
        )
    return node


# pipeline/netcheck.py's ip_status in Trino SQL: contains(network, address) per listed address
TRINO_IP_STATUS = r"""
case
    when __ip is null then null
    when regexp_like(trim(__ip), '^[a-z0-9-]+([.][a-z0-9-]+)*[.]amazonaws[.]com([.]cn)?$')
        or trim(__ip) in ('AWS Internal', '&AWS; Internal') then 'service'
    when any_match(split(__ip, ','), p -> try_cast(split_part(trim(p), '%', 1) as ipaddress) is null)
        then 'malformed'
    when all_match(
        split(__ip, ','),
        p -> any_match(__cidrs, c -> contains(c, cast(split_part(trim(p), '%', 1) as ipaddress)))
    ) then 'known'
    else 'unknown'
end
"""


def trino_ip_status(node):
    if isinstance(node, exp.Anonymous) and node.name.lower() == "roletrail_ip_status":
        ip, cidrs = node.expressions
        return _template(TRINO_IP_STATUS, "trino", ip=ip, cidrs=cidrs)
    return node


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


Rewrite = Callable[[exp.Expression], exp.Expression]
REWRITES: dict[str, tuple[Rewrite, ...]] = {
    "duckdb": (),
    "spark": (
        spark_ordered_lists,
        spark_percentiles,
        spark_safe_subscript,
        spark_frame_units,
        arrays_overlap,
    ),
    "trino": (
        arrays_overlap,
        trino_percentiles,
        trino_regexp_replace_all,
        trino_array_append,
        trino_safe_subscript,
        trino_ip_status,
    ),
}
REWRITES["athena"] = REWRITES["trino"]  # Athena engine v3 is Trino


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
        tree = tree.transform(rewrite, copy=False)
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
        if isinstance(node, exp.Anonymous):
            names.add(node.name.lower())
            continue
        # the name the dialect prints for this node: the text before its parenthesis
        text = node.sql(dialect=SQLGLOT_DIALECTS[dialect])
        head = text.split("(", 1)[0].strip().lower()
        if head.isidentifier():
            names.add(head)
    return names
