"""The per-engine rewrites: each one a function from a syntax-tree node to a node, for a
construct sqlglot carries to the engine without an error but wrongly (or that the engine spells
differently). pipeline.engine.dialects applies them; each has a test in tests/test_portable.py."""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp

from pipeline import session_shape
from pipeline.errors import RoletrailError


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
    """A subscript as DuckDB wrote it (1-based). sqlglot moves a literal one to 0-based when it
    parses (DuckDB's [1] is 0 in the tree), and leaves a column (a lambda's `i`) as written; any
    other index is moved or not by the type sqlglot guessed for it, so it is refused."""
    if isinstance(index, exp.Literal) and index.is_int:
        return exp.Literal.number(int(index.this) + 1)
    if isinstance(index, exp.Column | exp.Identifier):  # a lambda's variable is an identifier
        return index.copy()
    raise RoletrailError(f"a subscript must be a number or a column, not `{index.sql('duckdb')}`")


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


# pipeline/netcheck.py's network_of in Trino SQL: the address's 16 bytes (Trino keeps an IPv4
# address as ::ffff:a.b.c.d, and prints it dotted) cut to the /24 or /48 and printed back
_TRINO_PART = "cast(split_part(trim(p), '%', 1) as ipaddress)"
_TRINO_CUT = (
    f"if(substr(cast({_TRINO_PART} as varbinary), 1, 12) = X'00000000000000000000FFFF', "
    f"cast(cast(concat(substr(cast({_TRINO_PART} as varbinary), 1, 15), X'00') as ipaddress) as varchar) || '/24', "
    f"cast(cast(concat(substr(cast({_TRINO_PART} as varbinary), 1, 6), X'00000000000000000000') as ipaddress) as varchar)"
    " || '/48')"
)
TRINO_NETWORK = f"""
case
    when __ip is null then null
    when regexp_like(trim(__ip), '^[a-z0-9-]+([.][a-z0-9-]+)*[.]amazonaws[.]com([.]cn)?$')
        or trim(__ip) in ('AWS Internal', '&AWS; Internal') then null
    when any_match(split(__ip, ','), p -> try_cast(split_part(trim(p), '%', 1) as ipaddress) is null)
        then null
    else array_join(array_sort(array_distinct(transform(split(__ip, ','), p -> {_TRINO_CUT}))), ', ')
end
"""


def trino_network(node):
    if isinstance(node, exp.Anonymous) and node.name.lower() == "roletrail_network":
        (ip,) = node.expressions
        return _template(TRINO_NETWORK, "trino", ip=ip)
    return node


def inline_session_shape(node):
    """roletrail_session_shape(x): its SQL definition (pipeline/session_shape.sql) in place, in
    DuckDB SQL still, so the rewrites after this one carry it like the rest of the query."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == session_shape.FUNCTION:
        (name,) = node.expressions
        return session_shape.expression(name)
    return node


def spark_empty_list_is_null(node):
    """`list(x) filter (where ...)` over no rows: NULL on DuckDB (and Trino), an empty array on
    Spark; NULL there too, so an alert's details leave the key out on every engine."""
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg):
        return _template("case when size(__l) > 0 then __l end", "spark", l=node)
    return node


def _json_cast(node) -> bool:
    return isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON)


def spark_json_text(node):
    """`try_cast(text as json)` (valid JSON, or NULL): sqlglot prints to_json, which on Spark
    takes a struct and fails; Spark keeps JSON as text, checked with try_parse_json."""
    if _json_cast(node):
        check = "try_parse_json" if isinstance(node, exp.TryCast) else "parse_json"
        return _template(f"case when {check}(__x) is not null then __x end", "spark", x=node.this)
    return node


def trino_json_parse(node):
    """`try_cast(text as json)`: on Trino a cast makes a JSON *string* of the text; json_parse reads it."""
    if _json_cast(node):
        parsed = exp.Anonymous(this="json_parse", expressions=[node.this.copy()])
        return exp.Anonymous(this="try", expressions=[parsed]) if isinstance(node, exp.TryCast) else parsed
    return node


Rewrite = Callable[[exp.Expression], exp.Expression]
REWRITES: dict[str, tuple[Rewrite, ...]] = {
    "duckdb": (),
    "spark": (
        inline_session_shape,
        spark_ordered_lists,
        spark_empty_list_is_null,
        spark_percentiles,
        spark_safe_subscript,
        spark_frame_units,
        arrays_overlap,
        spark_json_text,
    ),
    "trino": (
        inline_session_shape,
        arrays_overlap,
        trino_percentiles,
        trino_regexp_replace_all,
        trino_array_append,
        trino_safe_subscript,
        trino_ip_status,
        trino_network,
        trino_json_parse,
    ),
}
REWRITES["athena"] = REWRITES["trino"]  # Athena engine v3 is Trino
