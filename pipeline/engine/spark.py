"""The Spark engine: the views and detectors as Spark SQL on a SparkSession (local or a cluster's).

Queries are carried from DuckDB SQL by pipeline.engine.dialects, parameters as typed literals
in the syntax tree. The session runs in UTC with TIMESTAMP_NTZ as its timestamp type, so
CloudTrail times (UTC wall-clock, as DuckDB's TIMESTAMP) compare and come back unshifted.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pipeline.engine import dialects
from pipeline.errors import RoletrailError

# settings every roletrail session has; [spark] conf overrides them
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    # account ids are text: a partition value 012345678901 must not become a number
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # lake build rewrites only the day partitions it touched
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
# a local session's shuffles: the 200 default partitions cost more than the work on small sets
LOCAL_SHUFFLE_PARTITIONS = "4"


def session(master: str = "local[*]", conf: dict[str, str] | None = None):
    """A SparkSession for roletrail (the running one, if any, with roletrail's settings)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise RoletrailError("the Spark engine needs pyspark: pip install 'roletrail[spark]'") from None
    settings = dict(SESSION_CONF)
    if master.startswith("local"):
        settings["spark.sql.shuffle.partitions"] = LOCAL_SHUFFLE_PARTITIONS
    settings.update(conf or {})
    # the workers run this interpreter (and so find the pipeline package and its UDFs)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("roletrail")
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def session_from_config(cfg):
    return session(cfg.spark.master, dict(cfg.spark.conf))


def register_functions(spark) -> None:
    """roletrail's functions (the ip-in-network check, an address's network, a trust policy's
    principals) as Python UDFs of the session: the same Python as on DuckDB. A session name's shape
    is SQL, inlined into each query (pipeline.engine.rewrites.inline_session_shape)."""
    from pyspark.sql.types import StringType

    from pipeline.netcheck import ip_status, network_of
    from pipeline.trust_policy import SPARK_TYPE, principals

    spark.udf.register("roletrail_ip_status", ip_status, StringType())
    spark.udf.register("roletrail_network", network_of, StringType())
    spark.udf.register("roletrail_trust_principals", principals, SPARK_TYPE)


def own_session(spark):
    """A new session of `spark`'s context with its SQL settings (the cache is shared, the
    temporary views and functions are not)."""
    own = spark.newSession()
    for key, value in spark.conf.getAll.items():
        if key.startswith("spark.sql.") and own.conf.isModifiable(key):
            own.conf.set(key, value)
    return own


class SparkEngine:
    name = "spark"
    reads_store = False  # Spark reads a lake, never the DuckDB file

    def __init__(self, spark):
        # a session of its own over the caller's context: its temporary views (cloudtrail_logs,
        # the views, the parameter tables) are its own, so a lake build and an engine, or two
        # engines, in one process never read each other's tables
        self.spark = own_session(spark)
        register_functions(self.spark)

    @classmethod
    def open_lake(cls, lake: str, cfg) -> SparkEngine:
        from pipeline.lake import spark_engine

        return spark_engine(lake, session_from_config(cfg))

    def sql_text(self, sql: str, params: dict[str, Any] | None = None) -> str:
        return dialects.carry(sql, "spark", params)

    def _run(self, text: str):
        from pyspark.errors import PySparkException

        try:
            df = self.spark.sql(text)
            return df.columns, df.collect()
        except PySparkException as e:
            raise RoletrailError(f"spark: {str(e).strip().splitlines()[0]}") from e

    def query(self, sql: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        columns, rows = self._run(self.sql_text(sql, params))
        return columns, [tuple(_python(v) for v in r) for r in rows]

    def register_view(self, name: str, sql: str) -> None:
        self._run(f"create or replace temporary view {name} as {self.sql_text(sql)}")

    def register_table(self, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(c, StringType()) for c in columns])
        self.spark.createDataFrame([tuple(r) for r in rows], schema).createOrReplaceTempView(name)

    def register_dataframe(self, name: str, df) -> None:
        """A DataFrame of this engine's session (`engine.spark.read...`) as a table."""
        if df.sparkSession is not self.spark:
            raise RoletrailError(f"spark: {name} belongs to another session; read it with engine.spark")
        df.createOrReplaceTempView(name)

    def cache(self, name: str) -> None:
        """Keep a view's rows in memory once computed: the detectors all read the same one."""
        self.spark.catalog.cacheTable(name)

    def stage(self, name: str, since: Any) -> None:
        # the whole view, cached when first computed (a lake holds what it was built from)
        self.cache(name)

    def unstage(self, name: str) -> None:
        pass  # the cache lasts as long as the session's views

    def close(self) -> None:
        pass  # the session belongs to the caller (one per process: getOrCreate)


def _python(value):
    """A collected Spark value as the DuckDB engine returns it: structs as dicts, arrays as lists."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _python(v) for k, v in value.asDict().items()}
    if isinstance(value, list):
        return [_python(v) for v in value]
    return value
