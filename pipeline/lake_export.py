"""`roletrail export-sql --dialect athena|trino|spark`: the table DDL and every view and detector
query in that engine's SQL, ready to paste, parameters as the engine's placeholders.

Athena's DDL is the AWS-documented CloudTrail table over the trail's own JSON files, with
partition projection for the standard (AWSLogs/<account>/CloudTrail/<region>/<day>) or the
organization-trail (AWSLogs/<org id>/<account>/...) layout; Trino and Spark get the lake's
Parquet table (`roletrail lake build`). A view whose SQL an engine cannot run (it calls a Python
function) is the lake's table of it there: `lake build` writes it with that Python on Spark.
"""

from __future__ import annotations

from pipeline import lake, trust_policy
from pipeline.engine import dialects, view_order
from pipeline.store import schema, sql_text, view_names

DIALECTS = ("athena", "trino", "spark")
# the lake's tables of views, by column: (name, Spark type)
LAKE_VIEW_COLUMNS = {"trust_policy_statements": trust_policy.COLUMNS}
# a Spark (Parquet) type as each dialect's DDL spells it (Spark's own: as it is)
DDL_TYPES = {
    "athena": {"timestamp_ntz": "timestamp"},
    "trino": {"string": "varchar", "int": "integer", "bigint": "bigint", "boolean": "boolean",
              "timestamp_ntz": "timestamp(6)", "array<string>": "array(varchar)"},
}  # fmt: skip


def ddl_type(spark_type: str, dialect: str) -> str:
    types = DDL_TYPES.get(dialect, {})
    return types[spark_type] if dialect == "trino" else types.get(spark_type, spark_type)


def hive_type(node) -> str:
    """A schema node as Hive DDL type text (Athena and Spark: struct<...>, array<...>, string)."""
    if isinstance(node, str):
        return "string"
    if isinstance(node, list):
        return f"array<{hive_type(node[0])}>"
    return "struct<" + ",".join(f"{k.lower()}:{hive_type(v)}" for k, v in node.items()) + ">"


def trino_type(node) -> str:
    if isinstance(node, str):
        return "varchar"
    if isinstance(node, list):
        return f"array({trino_type(node[0])})"
    return "row(" + ", ".join(f"{k.lower()} {trino_type(v)}" for k, v in node.items()) + ")"


def _columns(typer, time_type: str) -> list[str]:
    cols = []
    for key, node in schema.RECORD.items():
        name = schema.column_name(key)
        cols.append(f"    {name} {time_type if key == 'eventTime' else typer(node)}")
    return cols


def athena_ddl(bucket_prefix: str, org: bool) -> str:
    """The CloudTrail table over the trail's JSON with partition projection, as AWS documents
    it (eventtime is the record's ISO text there); `cloudtrail_logs` is a view that types it."""
    layout = "o-EXAMPLE/${account}" if org else "${account}"
    name = "cloudtrail_raw_org" if org else "cloudtrail_raw"
    cols = ",\n".join(_columns(hive_type, "string"))
    return f"""-- Replace {bucket_prefix} and the account, region and date ranges with your trail's.
create external table {name} (
{cols}
)
partitioned by (account string, region string, day string)
row format serde 'org.apache.hive.hcatalog.data.JsonSerDe'
stored as inputformat 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
outputformat 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
location '{bucket_prefix}AWSLogs/{"o-EXAMPLE/" if org else ""}'
tblproperties (
    'projection.enabled' = 'true',
    'projection.account.type' = 'enum',
    'projection.account.values' = '111111111111,222222222222',
    'projection.region.type' = 'enum',
    'projection.region.values' = 'us-east-1,eu-west-1',
    'projection.day.type' = 'date',
    'projection.day.range' = '2024/01/01,NOW',
    'projection.day.format' = 'yyyy/MM/dd',
    'projection.day.interval' = '1',
    'projection.day.interval.unit' = 'DAYS',
    'storage.location.template' = '{bucket_prefix}AWSLogs/{layout}/CloudTrail/${{region}}/${{day}}'
);"""


def athena_typed_view(raw: str) -> str:
    """cloudtrail_logs over a raw table: eventtime as a timestamp, the rest as they are."""
    cols = []
    for key in schema.RECORD:
        name = schema.column_name(key)
        if key == "eventTime":
            cols.append(f"    cast(from_iso8601_timestamp({name}) as timestamp) as {name}")
        else:
            cols.append(f"    {name}")
    body = ",\n".join([*cols, "    account", "    region", "    day"])
    return f"create or replace view cloudtrail_logs as\nselect\n{body}\nfrom {raw};"


def lake_ddl(dialect: str, location: str) -> str:
    if dialect == "spark":
        cols = ",\n".join(_columns(hive_type, "timestamp_ntz") + _extra("spark"))
        return f"""-- Spark: the lake's cloudtrail_logs (roletrail lake build), hive partitions.
create table if not exists cloudtrail_logs (
{cols},
    account string, region string, day string
)
using parquet
partitioned by (account, region, day)
location '{location}/cloudtrail_logs';
msck repair table cloudtrail_logs;"""
    cols = ",\n".join(_columns(trino_type, "timestamp(6)") + _extra("trino"))
    return f"""-- Trino (Hive connector): the lake's cloudtrail_logs (roletrail lake build).
create table cloudtrail_logs (
{cols},
    account varchar, region varchar, day varchar
)
with (format = 'PARQUET', partitioned_by = array['account', 'region', 'day'],
      external_location = '{location}/cloudtrail_logs');
call system.sync_partition_metadata(current_schema, 'cloudtrail_logs', 'FULL');"""


def lake_view_ddl(dialect: str, name: str, location: str) -> str:
    """The lake's table of view `name` (whole, no partitions), for an engine that cannot run
    the view's SQL: Athena and Trino read what `lake build` wrote."""
    path = f"{location}/{name}"
    cols = ",\n".join(f"    {c} {ddl_type(t, dialect)}" for c, t in LAKE_VIEW_COLUMNS[name])
    if dialect == "athena":
        return f"""-- The lake's {name} (roletrail lake build writes it; replace {location}).
create external table {name} (
{cols}
)
stored as parquet
location '{path}/';"""
    return f"""-- Trino (Hive connector): the lake's {name} (roletrail lake build writes it).
create table {name} (
{cols}
)
with (format = 'PARQUET', external_location = '{path}');"""


def _lake_views(dialect: str) -> list[str]:
    """The views `dialect` reads as the lake's tables: the materialized ones it cannot run."""
    return [n for n in lake.MATERIALIZED if not dialects.portable("view", n, dialect)]


# the lake's columns beyond the record's (pipeline.store.schema.EXTRA_COLUMNS), as Spark types
EXTRA_TYPES = {"raw_record": "string", "source_key": "string", "record_index": "int",
               "record_hash": "bigint", "eventid_derived": "boolean", "ingested_at": "timestamp_ntz"}  # fmt: skip


def _extra(dialect: str) -> list[str]:
    return [f"    {name} {ddl_type(EXTRA_TYPES[name], dialect)}" for name, _ in schema.EXTRA_COLUMNS]


def statements(dialect: str, location: str = "s3://your-lake") -> list[tuple[str, str]]:
    """(title, SQL) for the DDL, then every view (dependency order) and detector query."""
    from detectors.registry import all_detectors
    from pipeline.detect import PARAM_TABLES

    out = []
    if dialect == "athena":
        out.append(
            ("table cloudtrail_raw (standard layout)", athena_ddl("s3://your-trail-bucket/", org=False))
        )
        out.append(
            (
                "table cloudtrail_raw_org (organization-trail layout)",
                athena_ddl("s3://your-trail-bucket/", org=True),
            )
        )
        out.append(("view cloudtrail_logs (use cloudtrail_raw_org for an organization trail)",
                    athena_typed_view("cloudtrail_raw")))  # fmt: skip
    else:
        out.append(("table cloudtrail_logs (the lake)", lake_ddl(dialect, location.rstrip("/"))))
    for name in _lake_views(dialect):
        out.append((f"table {name} (the lake's)", lake_view_ddl(dialect, name, location.rstrip("/"))))
    for name, (columns, _) in PARAM_TABLES.items():
        text = "string" if dialect == "spark" else "varchar"
        cols = ", ".join(f"{c} {text}" for c in columns)
        out.append((f"table {name} (from the config)", f"create table {name} ({cols});"))
    for name in view_order(view_names(), sql_text):
        if not dialects.portable("view", name, dialect):
            continue  # listed in the header (render)
        body = dialects.carry(sql_text(name), dialect, placeholders=True)
        out.append((f"view {name}", f"create or replace view {name} as\n{body};"))
    for det in all_detectors():
        if not dialects.portable("detector", det.id, dialect):
            continue
        body = dialects.carry(det.sql, dialect, placeholders=True)
        params = dialects.parameter_order(det.sql, dialect)
        note = "".join(
            f"-- needs {name}: {why}\n" for name, why in dialects.missing_functions(body, dialect).items()
        )
        if params and dialect in ("athena", "trino"):
            note += f"-- parameters (?), in order: {', '.join(params)}\n"
        elif params:
            note += f"-- parameters: {', '.join(sorted(set(params)))} (spark.sql(query, args={{...}}))\n"
        out.append((f"detector {det.id}", f"{note}{body};"))
    return out


def render(dialect: str, location: str = "s3://your-lake") -> str:
    header = f"-- roletrail export-sql --dialect {dialect}: the table, the views and the detectors.\n"
    if dialect == "spark":
        header += (
            f"-- {', '.join(dialects.UDFS)} are Python UDFs: register them with "
            "pipeline.engine.spark.register_functions(spark).\n"
        )
    header += f"-- Partitions of the lake: {', '.join(lake.PARTITIONS)}.\n"
    for name, why in dialects.NOT_PORTABLE.get(dialect, {}).items():
        if name.removeprefix("view ") in _lake_views(dialect):
            header += f"-- {name} is the lake's table here (its SQL {why}).\n"
        else:
            header += f"-- Not exported (not carried to {dialect} yet): {name}: {why}.\n"
    return header + "\n\n".join(f"-- {title}\n{sql}" for title, sql in statements(dialect, location)) + "\n"
