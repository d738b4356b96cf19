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
}


def engine_class(name: str):
    try:
        module, _, cls = ENGINES[name].partition(":")
    except KeyError:
        raise RoletrailError(f"unknown engine {name!r} (known: {', '.join(sorted(ENGINES))})") from None
    return getattr(importlib.import_module(module), cls)
