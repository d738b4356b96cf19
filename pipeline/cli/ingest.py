"""`roletrail ingest`: load CloudTrail log files."""

from __future__ import annotations

import click

from pipeline import config as config_mod
from pipeline import store
from pipeline.cli.options import _date, config_option, db_option


@click.command()
@click.argument("source")
@db_option
@config_option
@click.option("--since", callback=_date, metavar="DATE", help="First day to load (YYYY-MM-DD, UTC).")
@click.option("--until", callback=_date, metavar="DATE", help="Last day to load (YYYY-MM-DD, UTC).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Concurrent fetches (default: the source's own, [source.<scheme>] workers: 16 for S3, 1 for a folder).",
)
def ingest(source, db, config_path, since, until, workers):
    """Load new CloudTrail log files from SOURCE into the database.

    SOURCE is s3://bucket[/prefix], a local folder or one file: CloudTrail log files, or
    exports (one record per line, EventBridge events, `aws cloudtrail lookup-events` output).
    Objects already in the manifest are not loaded again; bad files are quarantined with
    their reason.

    Example: roletrail ingest s3://org-trail-bucket/AWSLogs/ --since 2026-11-01
    """
    from pipeline.ingest import ingest as run_ingest

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "ingest"):
        con = store.connect(db)
        try:
            summary = run_ingest(
                con, source, since, until, config_mod.quarantine_dir(cfg, db), workers,
                # [ingest] exists once pipeline/config.py carries IngestOptions (see pipeline/ingest/options.py)
                options=cfg.ingest, source_options=cfg.source,
            )  # fmt: skip
        finally:
            con.close()
    for line in summary.lines():
        click.echo(f"ingest: {line}", err=True)


COMMANDS = [ingest]
