"""Engines run the views and the detectors' queries: DuckDB here, Spark on a cluster.

An engine is a module in this package with a class that implements `Engine`
(pipeline/engine/base.py), plus one line in ENGINES. Detection (pipeline.detect) talks to
the engine only through that interface; alert state always stays in the DuckDB store.
"""

from __future__ import annotations

import importlib

from pipeline.errors import RoletrailError

# engine name -> "module:class"
ENGINES = {
    "duckdb": "pipeline.engine.duck:DuckDBEngine",
    "spark": "pipeline.engine.spark:SparkEngine",
}


def engine_class(name: str):
    try:
        module, _, cls = ENGINES[name].partition(":")
    except KeyError:
        raise RoletrailError(f"unknown engine {name!r} (known: {', '.join(sorted(ENGINES))})") from None
    return getattr(importlib.import_module(module), cls)


def _reads(names: list[str], text) -> dict[str, set[str]]:
    """The tables and views each query names (from the syntax tree), less its own CTEs."""
    from sqlglot import exp

    from pipeline.engine.dialects import parse

    deps = {}
    for name in names:
        tree = parse(text(name))
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        deps[name] = {t.name for t in tree.find_all(exp.Table)} - ctes - {name}
    return deps


def view_order(names: list[str], text) -> list[str]:
    """The views in an order that creates each after the views it reads."""
    deps = _reads(names, text)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and deps[n] & set(names) <= set(ordered)]
        if not ready:
            raise RoletrailError(
                f"views depend on one another in a cycle: {sorted(set(names) - set(ordered))}"
            )
        ordered += sorted(ready)
    return ordered


def create_views(engine, provided: set[str] = frozenset(), only: tuple[str, ...] = ()) -> list[str]:
    """Create every sql/ view on `engine`, except those the engine already has as tables; with
    `only`, just those views and the views they read."""
    from pipeline.engine.dialects import portable
    from pipeline.store import sql_text, view_names

    names = [n for n in view_names() if n not in provided and portable("view", n, engine.name)]
    if only:
        deps, wanted, todo = _reads(names, sql_text), set(), list(only)
        while todo:
            name = todo.pop()
            if name in deps and name not in wanted:
                wanted.add(name)
                todo += deps[name]
        names = [n for n in names if n in wanted]
    order = view_order(names, sql_text)
    for name in order:
        engine.register_view(name, sql_text(name))
    return order
