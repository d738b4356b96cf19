"""Options and error handling every `roletrail` command shares."""

from __future__ import annotations

import datetime as dt
import sys

import click

from pipeline import output
from pipeline.errors import Busy, RoletrailError


class _OnFirstUse:
    """A module imported when a command first uses it: `roletrail --help` and commands that
    need neither stay clear of pydantic and DuckDB (each costs a few hundred ms to import)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


config_mod = _OnFirstUse("pipeline.config")

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
        except Busy as e:
            click.echo(f"roletrail: {e}", err=True)
            sys.exit(EXIT_BUSY)
        except RoletrailError as e:
            click.echo(f"roletrail: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("roletrail: interrupted; the next run finishes the work", err=True)
            sys.exit(130)


def print_alerts(alerts: list[dict], fmt: str) -> None:
    """New alerts on stdout; the table shows the first columns, the other formats all of them."""
    from pipeline.detect import alert_rows

    cols, rows = alert_rows(alerts)
    if fmt == "table":
        cols, rows = cols[:9], [r[:9] for r in rows]
    if rows or fmt == "json":
        output.write_rows(cols, rows, fmt)
