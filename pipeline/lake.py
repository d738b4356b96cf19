"""The lake: `cloudtrail_logs` as Parquet in Athena's partition layout, written by Spark
(`roletrail lake build`, pipeline/lake_build.py), read by Spark or by DuckDB for detection.

    LAKE/cloudtrail_logs/account=<id>/region=<region>/day=<YYYY-MM-DD>/part-*.parquet
    LAKE/assume_role_events/day=<YYYY-MM-DD>/part-*.parquet   (the view, prefiltered)
    LAKE/session_actions/part-*.parquet                        (the view, whole)
    LAKE/trust_policy_statements/part-*.parquet                (the view, whole)
    LAKE/quarantined_records/part-*.parquet
    LAKE/manifest/part-*.parquet                               (every object seen, as ingest_manifest)

Partition values are text (an account id keeps its leading zero). Every file of a day
partition holds one day, so a time filter skips the rest from the Parquet statistics too.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import RoletrailError

TABLE = "cloudtrail_logs"
PARTITIONS = ("account", "region", "day")
# views the lake holds materialized: detection reads them instead of deriving them again.
# assume_role_events is rewritten for the days a build touched, the others whole. On Trino and
# Athena, trust_policy_statements is only the lake's table: its SQL calls a Python function.
WHOLE = ("session_actions", "trust_policy_statements")
MATERIALIZED = ("assume_role_events", *WHOLE)
MANIFEST = "manifest"
# lake tables detection reads under the store's name (a detector over delivered files reads
# ingest_manifest: the lake's manifest has its uri column)
AS_STORE_TABLE = {MANIFEST: "ingest_manifest"}
QUARANTINED = "quarantined_records"


def table_path(lake: str, name: str) -> str:
    return f"{lake.rstrip('/')}/{name}"


def is_remote(lake: str) -> bool:
    return "://" in lake and not lake.startswith("file://")


def has_table(lake: str, name: str) -> bool:
    """Whether the lake holds `name` (always assumed for a remote lake: Spark says otherwise)."""
    if is_remote(lake):
        return True
    root = Path(lake.removeprefix("file://")) / name
    return root.is_dir() and any(root.rglob("*.parquet"))


def require(lake: str) -> None:
    if not has_table(lake, TABLE):
        raise RoletrailError(
            f"no lake at {lake} (no {TABLE} Parquet): run `roletrail lake build SOURCE --lake {lake}`"
        )


def spark_engine(lake: str, spark):
    """A SparkEngine whose cloudtrail_logs and materialized views are the lake's tables, and
    the other views derived from them."""
    from pipeline.engine import create_views
    from pipeline.engine.spark import SparkEngine

    require(lake)
    engine = SparkEngine(spark)
    provided = set()
    for name in (TABLE, *MATERIALIZED, *AS_STORE_TABLE):
        if has_table(lake, name):
            engine.register_dataframe(
                AS_STORE_TABLE.get(name, name), engine.spark.read.parquet(table_path(lake, name))
            )
            provided.add(name)
    create_views(engine, provided)
    return engine


def duckdb_engine(lake: str):
    """A DuckDB engine (its own in-memory connection) over the lake's Parquet: hive partitions
    as text columns, and the views derived from the lake's tables."""
    import duckdb

    from pipeline.engine import create_views
    from pipeline.engine.duck import DuckDBEngine
    from pipeline.store.macros import ATHENA_MACROS

    require(lake)
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    for name, body in ATHENA_MACROS.items():
        con.execute(f"create or replace macro {name}{body}")
    provided = set()
    for name in (TABLE, *MATERIALIZED, *AS_STORE_TABLE):
        if has_table(lake, name):
            # the path reaches the view as a bound variable, not as text in it
            con.execute(
                f"set variable lake_{name} = $path", {"path": f"{table_path(lake, name)}/**/*.parquet"}
            )
            con.execute(
                f"create view {AS_STORE_TABLE.get(name, name)} as select * from read_parquet(getvariable('lake_{name}'), "
                "hive_partitioning = true, hive_types_autocast = false)"
            )
            provided.add(name)
    engine = DuckDBEngine(con, owns=True)
    create_views(engine, provided)
    return engine
