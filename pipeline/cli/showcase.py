"""`roletrail report` and `roletrail demo`."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline import store
from pipeline.cli.options import config_mod, config_option, db_option


@click.command()
@db_option
@config_option
@click.option(
    "--out",
    "out",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the HTML file.",
)
def report(db, config_path, out):
    """Write a self-contained HTML report: alerts, role volume, chains, ingestion.

    Example: roletrail report --out /var/www/roletrail/index.html
    """
    from pipeline import report as report_mod

    cfg = config_mod.load(config_path)
    with store.reader(config_mod.db_path(db, cfg)) as con:
        path = report_mod.write_report(con, out)
    click.echo(f"report: wrote {path}", err=True)


@click.command()
@click.option(
    "--out",
    "out",
    default="demo-output",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the database, the report and the captured notifications.",
)
def demo(out):
    """Run the whole job on an embedded organization: no AWS account, nothing leaves 127.0.0.1.

    Starts a local S3 endpoint with three weeks of a synthetic organization's logs and a few
    injected incidents, runs ingest, detect and notify (to local Slack and email sinks), prints
    the alerts and the chain of the most severe one, and writes report.html.

    Example: roletrail demo --out /tmp/roletrail-demo
    """
    from pipeline import demo as demo_mod

    demo_mod.run(Path(out), echo=click.echo)


COMMANDS = [report, demo]
