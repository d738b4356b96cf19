"""`roletrail notify` and the scheduled job, `roletrail run`."""

from __future__ import annotations

import click

from pipeline import store
from pipeline.cli.options import config_mod, config_option, db_option, format_option, print_alerts
from pipeline.errors import RoletrailError

# alerts are not being delivered: a destination is misconfigured, or an alert was given up on
# in this run (distinct from 1, the command failed, and 75, another run holds the database)
EXIT_UNDELIVERED = 3


def _undelivered(reasons: list[str]) -> None:
    click.echo(f"roletrail: alerts not delivered: {'; '.join(reasons)}", err=True)
    raise SystemExit(EXIT_UNDELIVERED)


@click.command()
@db_option
@config_option
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Retry now: deliveries that gave up, and those waiting for their backoff.",
)
def notify(db, config_path, retry_failed):
    """Deliver alerts not yet delivered to each configured destination ([notify.<name>]).

    A failed delivery stays pending and is retried by the next run, with backoff. Exit
    status 3 when a destination is misconfigured or an alert was given up on in this run.

    Example: ROLETRAIL_SLACK_WEBHOOK=https://hooks.slack.com/services/... roletrail notify
    """
    from pipeline import notify as notify_mod

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "notify"):
        con = store.connect(db)
        try:
            store.init_db(con)
            summary = notify_mod.notify(con, cfg, retry_failed=retry_failed)
        finally:
            con.close()
    for line in summary.lines():
        click.echo(line if line.startswith("notify") else f"notify: {line}", err=True)
    if summary.undelivered:
        _undelivered(summary.undelivered)


@click.command()
@config_option
@db_option
@format_option
def run(config_path, db, fmt):
    """The scheduled job: ingest ([source] uri), detect, notify.

    One line per stage on stderr (JSON when not a terminal); the new alerts on stdout.
    Exit status 0 when the job did its work, alerts or not; 1 when a stage failed; 3 when
    alerts are not being delivered (a destination misconfigured, or alerts given up on in
    this run); 75 when another run still holds the database.

    Example: */15 * * * * roletrail run --config /etc/roletrail.toml
    """
    from pipeline.job import StageLog, run_job

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "run"):
        result = run_job(cfg, db, StageLog())
    print_alerts(result.new_alerts, fmt)
    if not result.ok:
        failed = [s["stage"] for s in result.stages if s["status"] == "failed"]
        raise RoletrailError(f"stage{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}")
    if result.undelivered:
        _undelivered(result.undelivered)


COMMANDS = [notify, run]
