"""`roletrail ingest`: load CloudTrail log files."""

from __future__ import annotations

import click

from pipeline import store
from pipeline.cli.options import _date, _OnFirstUse, config_mod, config_option, db_option
from pipeline.errors import RoletrailError

sources = _OnFirstUse("pipeline.sources")


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
@click.option(
    "--max-messages",
    type=click.IntRange(1, 1_000_000),
    help="sqs://: stop after receiving this many messages ([source.sqs] max_messages).",
)
@click.option(
    "--max-seconds",
    type=click.IntRange(1, 43_200),
    help="sqs://: stop receiving after this many seconds ([source.sqs] max_seconds).",
)
def ingest(source, db, config_path, since, until, workers, max_messages, max_seconds):
    """Load new CloudTrail log files from SOURCE into the database.

    SOURCE is s3://bucket[/prefix], a local folder or one file: CloudTrail log files, or
    exports (one record per line, EventBridge events, `aws cloudtrail lookup-events` output).
    Or sqs://QUEUE (a queue name, or sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE)
    of S3 event notifications naming the objects to load.
    Objects already in the manifest are not loaded again; bad files are quarantined with
    their reason.

    Example: roletrail ingest s3://org-trail-bucket/AWSLogs/ --since 2026-11-01
    """
    from pipeline.ingest import ingest as run_ingest

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    overrides = {"max_messages": max_messages, "max_seconds": max_seconds}
    section = source_section(cfg.source, source, {k: v for k, v in overrides.items() if v is not None})
    with store.exclusive(db, "ingest"):
        con = store.connect(db)
        try:
            summary = run_ingest(
                con, source, since, until, config_mod.quarantine_dir(cfg, db), workers,
                options=cfg.ingest, source_options=section,
            )  # fmt: skip
        finally:
            con.close()
    for line in summary.lines():
        click.echo(f"ingest: {line}", err=True)


def source_section(section, uri: str, overrides: dict):
    """The config's [source] section with the command line's options for SOURCE's scheme; an
    option its source does not take is an error (--max-messages means nothing to a folder)."""
    if not overrides:
        return section
    scheme = sources.scheme_of(uri)
    model = sources.source_class(scheme).Options
    unknown = sorted(set(overrides) - set(model.model_fields))
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise RoletrailError(f"{flags} does not apply to {scheme}:// sources")
    current = getattr(section, scheme, None)
    given = current.model_dump(exclude_unset=True) if current is not None else {}
    return section.model_copy(update={scheme: model.model_validate({**given, **overrides})})


COMMANDS = [ingest]
