"""`roletrail lake build` and `roletrail export-sql`: roletrail's SQL where the data already is."""

from __future__ import annotations

import click

from pipeline.cli.options import config_mod, config_option


@click.group()
def lake():
    """The Parquet lake Spark builds (Athena's CloudTrail partition layout).

    Example: roletrail lake build s3://org-trail-bucket/AWSLogs/ --lake s3://my-lake/roletrail
    """


@lake.command("build")
@click.argument("source")
@click.option("--lake", "lake_path", required=True, metavar="LAKE", help="Lake folder or s3:// prefix.")
@config_option
def build(source, lake_path, config_path):
    """Read new CloudTrail files of SOURCE with Spark and add them to LAKE.

    Incremental (a manifest in the lake); the same duplicate and quarantine rules as ingest.
    Spark runs where [spark] master says (default local[*]).

    Example: roletrail lake build ./downloaded-logs/ --lake ./lake
    """
    from pipeline.engine.spark import session_from_config
    from pipeline.lake_build import build as build_lake

    cfg = config_mod.load(config_path)
    spark = session_from_config(cfg)
    summary = build_lake(spark, source, lake_path)
    for line in summary.lines():
        click.echo(f"lake build: {line}", err=True)


@click.command("export-sql")
@click.option("--dialect", type=click.Choice(["athena", "trino", "spark"]), required=True)
@click.option(
    "--location",
    default="s3://your-lake",
    show_default=True,
    metavar="URI",
    help="The lake's location (Trino, Spark).",
)
def export_sql(dialect, location):
    """Print the table DDL and every view and detector query in DIALECT, ready to paste.

    Parameters appear as the engine's placeholders (`?` on Athena and Trino, `:name` on Spark).

    Example: roletrail export-sql --dialect athena > roletrail-athena.sql
    """
    from pipeline.lake_export import render

    click.echo(render(dialect, location), nl=False)


COMMANDS = [lake, export_sql]
