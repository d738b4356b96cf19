"""`roletrail detect` and `roletrail detectors`."""

from __future__ import annotations

import click

from pipeline import config as config_mod
from pipeline import output, store
from pipeline.cli.options import config_option, db_option, format_option, print_alerts


@click.command()
@db_option
@config_option
@format_option
@click.option("--all", "full", is_flag=True, help="Re-run over every event, not only the new ones.")
def detect(db, config_path, fmt, full):
    """Run every enabled detector over the new events; record and print the new alerts.

    Example: roletrail detect --format jsonl
    """
    from pipeline import detect as detect_mod

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "detect"):
        con = store.connect(db)
        try:
            summary = detect_mod.detect(con, cfg, full=full)
        finally:
            con.close()
    print_alerts([a for a in summary.new_alerts if a["status"] == "open"], fmt)
    for line in summary.lines():
        click.echo(f"detect: {line}", err=True)


@click.command("detectors")
@format_option
def list_detectors(fmt):
    """List the detectors: id, severity, ATT&CK techniques, description.

    Example: roletrail detectors --format json
    """
    from detectors.registry import all_detectors

    rows = [(d.id, d.severity, ", ".join(d.attack), d.title, d.description) for d in all_detectors()]
    output.write_rows(["id", "severity", "attack", "title", "description"], rows, fmt, max_width=70)


COMMANDS = [detect, list_detectors]
