"""`roletrail verify`: are the log files the ones CloudTrail wrote."""

from __future__ import annotations

import json
import sys

import click

from pipeline.cli.options import _date


@click.command()
@click.argument("source")
@click.option(
    "--public-keys",
    "public_keys",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSON from `aws cloudtrail list-public-keys` covering the period.",
)
@click.option("--since", callback=_date, metavar="DATE", help="First day to verify (YYYY-MM-DD, UTC).")
@click.option("--until", callback=_date, metavar="DATE", help="Last day to verify (YYYY-MM-DD, UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=16, show_default=True, help="Concurrent reads."
)
def verify(source, public_keys, since, until, fmt, workers):
    """Check log-file integrity from the CloudTrail digest files (what `aws cloudtrail
    validate-logs` checks, without calling AWS): exit 0 when everything checks, 1 when a log
    file is modified, missing or in no digest, or a digest is missing, unsigned or out of chain.

    SOURCE is s3://bucket[/prefix] or a local copy of the bucket; a local copy keeps each
    digest's signature in `<digest>.json.gz.signature` (the hex of x-amz-meta-signature).

    Example: roletrail verify s3://org-trail-bucket/AWSLogs/ --public-keys keys.json --since 2026-11-01
    """
    from pipeline import output
    from pipeline.errors import RoletrailError
    from pipeline.text import visible
    from pipeline.verify import keys as keys_mod
    from pipeline.verify import verify as run_verify

    if since and until and since > until:
        raise RoletrailError(f"--since {since} is after --until {until}")
    report = run_verify(source, keys_mod.load(public_keys), since, until, workers)
    if fmt == "json":
        click.echo(json.dumps(report.as_json(), indent=2))
    elif report.problems:
        # the table makes control characters visible: keys are chosen by whoever can write the bucket
        rows = [(p.key, p.problem, p.detail) for p in report.problems]
        output.write_rows(["key", "problem", "detail"], rows, "table", max_width=200)
    for line in report.lines():
        click.echo(f"verify: {visible(line)}", err=True)
    sys.exit(0 if report.ok else 1)


COMMANDS = [verify]
