"""`roletrail detect` and `roletrail detectors`."""

from __future__ import annotations

import click

from pipeline import store
from pipeline.cli.options import config_mod, config_option, db_option, format_option, output, print_alerts
from pipeline.engine import ENGINES, engine_class
from pipeline.errors import RoletrailError


@click.command()
@db_option
@config_option
@format_option
@click.option("--all", "full", is_flag=True, help="Re-run over every event, not only the new ones.")
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(sorted(ENGINES)),
    default=None,
    help="Where the views and detectors run (default duckdb). Alerts stay in --db whatever the engine.",
)
@click.option(
    "--lake", "lake_path", metavar="LAKE", help="Detect over the Parquet lake (roletrail lake build)."
)
def detect(db, config_path, fmt, full, engine_name, lake_path):
    """Run every enabled detector over the new events; record and print the new alerts.

    With --lake, the events are the lake's (DuckDB reads its Parquet; --engine spark runs the
    views and detectors on Spark, [spark] master).

    Example: roletrail detect --format jsonl
    """
    from pipeline import detect as detect_mod

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    engine_cls = engine_class(engine_name or "duckdb")
    if not lake_path and not engine_cls.reads_store:
        raise RoletrailError(f"--engine {engine_name} reads a lake: give --lake LAKE (roletrail lake build)")
    with store.exclusive(db, "detect"):
        engine = engine_cls.open_lake(lake_path, cfg) if lake_path else None
        con = store.connect(db)
        try:
            summary = detect_mod.detect(con, cfg, full=full, engine=engine)
        finally:
            con.close()
            if engine is not None:
                engine.close()
    print_alerts([a for a in summary.new_alerts if a["status"] == "open"], fmt)
    for line in summary.lines():
        click.echo(f"detect: {line}", err=True)


@click.command("detectors")
@format_option
def list_detectors(fmt):
    """List the detectors: id, severity, ATT&CK techniques, description, parameters.

    Each parameter is shown with its default and bounds; set it in the config under
    [detectors.<id>] (and `enabled = false` turns a detector off).

    Example: roletrail detectors --format json
    """
    from detectors.registry import all_detectors

    def params(d):
        return [
            {"name": p.name, "default": list(p.default) if isinstance(p.default, tuple) else p.default,
             "low": p.low, "high": p.high, "doc": p.doc}
            for p in d.params
        ]  # fmt: skip

    dets = all_detectors()
    if fmt != "table":
        rows = [(d.id, d.severity, ", ".join(d.attack), d.title, d.description, params(d)) for d in dets]
        output.write_rows(["id", "severity", "attack", "title", "description", "parameters"], rows, fmt)
        return
    rows = [(d.id, d.severity, ", ".join(d.attack), d.title, d.description) for d in dets]
    output.write_rows(["id", "severity", "attack", "title", "description"], rows, fmt, max_width=70)
    click.echo("\nparameters ([detectors.<id>] in the config; every detector also takes enabled = false):")
    for d in dets:
        for p in params(d):
            bounds = f", {p['low']:g} to {p['high']:g}" if p["low"] is not None else ""
            click.echo(f"  {d.id}.{p['name']} = {p['default']!r}{bounds}: {p['doc']}")


COMMANDS = [detect, list_detectors]
