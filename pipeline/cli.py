"""The `roletrail` command: a thin click layer over the pipeline modules."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

import click

from pipeline import config as config_mod
from pipeline import output, store
from pipeline.store import RoletrailError

EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the database; cron simply tries again later


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


db_option = click.option(
    "--db", "db", metavar="PATH", help="DuckDB file (default: [database] path, then ./roletrail.duckdb)."
)
config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="Config file (default: ./roletrail.toml when present).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(output.FORMATS), default="table", show_default=True
)


class Group(click.Group):
    """Turns roletrail's own errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except store.Busy as e:
            click.echo(f"roletrail: {e}", err=True)
            sys.exit(EXIT_BUSY)
        except RoletrailError as e:
            click.echo(f"roletrail: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("roletrail: interrupted; the next run finishes the work", err=True)
            sys.exit(130)


@click.group(cls=Group)
@click.version_option(package_name="roletrail")
def main():
    """roletrail: who assumed which role, from where, and was that normal.

    CloudTrail logs from S3 into DuckDB, SQL views over AssumeRole, detectors and alerts.
    """
    # the commands print their own summaries; library log records would repeat them
    logging.getLogger("roletrail").addHandler(logging.NullHandler())


@main.command()
@click.argument("source")
@db_option
@config_option
@click.option("--since", callback=_date, metavar="DATE", help="First day to load (YYYY-MM-DD, UTC).")
@click.option("--until", callback=_date, metavar="DATE", help="Last day to load (YYYY-MM-DD, UTC).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Concurrent fetches (default 16 for S3, 1 for a local folder).",
)
def ingest(source, db, config_path, since, until, workers):
    """Load new CloudTrail log files from SOURCE into the database.

    SOURCE is s3://bucket[/prefix], a local folder or one file. Objects already in
    the manifest are not loaded again; bad files are quarantined with their reason.

    Example: roletrail ingest s3://org-trail-bucket/AWSLogs/ --since 2026-11-01
    """
    from pipeline.ingest import ingest as run_ingest

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "ingest"):
        con = store.connect(db)
        try:
            summary = run_ingest(con, source, since, until, config_mod.quarantine_dir(cfg, db), workers)
        finally:
            con.close()
    for line in summary.lines():
        click.echo(f"ingest: {line}", err=True)


@main.command()
@click.argument("query")
@db_option
@config_option
@format_option
@click.option(
    "-p", "--param", "params", nargs=2, multiple=True, metavar="NAME VALUE", help="Bind $NAME to VALUE."
)
def sql(query, db, config_path, fmt, params):
    """Run a read-only SQL QUERY over the database ("-" reads it from stdin).

    Athena's CloudTrail functions (json_extract_scalar, from_iso8601_timestamp, ...) work.

    Example: roletrail sql "select eventname, count(*) from cloudtrail_logs group by 1 order by 2 desc"
    """
    import duckdb

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    if query == "-":
        query = sys.stdin.read()
    con = store.connect(db, read_only=True)
    try:
        cur = con.execute(query, dict(params) if params else None)
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if columns else []
    except duckdb.Error as e:
        raise RoletrailError(str(e).splitlines()[0]) from None
    finally:
        con.close()
    output.write_rows(columns, rows, fmt)


@main.command()
@click.argument("ident", metavar="ID")
@db_option
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def chain(ident, db, config_path, fmt):
    """Show who really acted: the chain from the origin identity to ID.

    ID is an event id, a sharedEventID or an access key id. Prints each hop (time, caller
    account -> role, session name, source identity, source IP, user agent, error) and what
    the last session did.

    Example: roletrail chain ASIAEXAMPLEKEY123456
    """
    import json

    from pipeline import chain as chain_mod

    cfg = config_mod.load(config_path)
    con = store.connect(config_mod.db_path(db, cfg), read_only=True)
    try:
        found = chain_mod.find(con, ident)
    finally:
        con.close()
    if found is None:
        raise RoletrailError(f"no event, sharedEventID or access key id {ident!r} in the database")
    if fmt == "json":
        click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(chain_mod.render(found))


def _print_alerts(alerts: list[dict], fmt: str) -> None:
    """New alerts on stdout; the table shows the first columns, the other formats all of them."""
    from pipeline.detect import alert_rows

    cols, rows = alert_rows(alerts)
    if fmt == "table":
        cols, rows = cols[:9], [r[:9] for r in rows]
    if rows or fmt == "json":
        output.write_rows(cols, rows, fmt)


@main.command()
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
    _print_alerts([a for a in summary.new_alerts if a["status"] == "open"], fmt)
    for line in summary.lines():
        click.echo(f"detect: {line}", err=True)


@main.command()
@db_option
@config_option
@click.option("--retry-failed", is_flag=True, help="Give deliveries that gave up another chance.")
def notify(db, config_path, retry_failed):
    """Deliver alerts not yet delivered to each configured destination (Slack, email).

    A failed delivery stays pending and is retried by the next run, with backoff.

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


@main.command()
@config_option
@db_option
@format_option
def run(config_path, db, fmt):
    """The scheduled job: ingest ([source] uri), detect, notify.

    One line per stage on stderr (JSON when not a terminal); the new alerts on stdout.
    Exit status 0 when the job did its work, alerts or not; 1 when a stage failed; 75 when
    another run still holds the database.

    Example: */15 * * * * roletrail run --config /etc/roletrail.toml
    """
    from pipeline.job import StageLog, run_job

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    with store.exclusive(db, "run"):
        result = run_job(cfg, db, StageLog())
    _print_alerts(result.new_alerts, fmt)
    if not result.ok:
        failed = [s["stage"] for s in result.stages if s["status"] == "failed"]
        raise RoletrailError(f"stage{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}")


@main.command()
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
    con = store.connect(config_mod.db_path(db, cfg), read_only=True)
    try:
        path = report_mod.write_report(con, out)
    finally:
        con.close()
    click.echo(f"report: wrote {path}", err=True)


@main.command()
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


@main.command("detectors")
@format_option
def list_detectors(fmt):
    """List the detectors: id, severity, ATT&CK techniques, description.

    Example: roletrail detectors --format json
    """
    from detectors.registry import all_detectors

    rows = [(d.id, d.severity, ", ".join(d.attack), d.title, d.description) for d in all_detectors()]
    output.write_rows(["id", "severity", "attack", "title", "description"], rows, fmt, max_width=70)


if __name__ == "__main__":
    main()
