"""Investigation commands: `roletrail sql` and `roletrail chain`."""

from __future__ import annotations

import sys

import click

from pipeline import store
from pipeline.cli.options import config_mod, config_option, db_option, format_option, output
from pipeline.errors import RoletrailError
from pipeline.text import visible


@click.command()
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
    The query reads a snapshot of the database, so a long investigation never holds up the
    scheduled job, and it can read nothing else: no files, no network, no extensions.

    Example: roletrail sql "select eventname, count(*) from cloudtrail_logs group by 1 order by 2 desc"
    """
    import duckdb

    cfg = config_mod.load(config_path)
    db = config_mod.db_path(db, cfg)
    if query == "-":
        query = sys.stdin.read()
    if not query.strip() or not query.strip().strip(";").strip():
        raise RoletrailError("the query is empty")
    with store.reader(db) as con:
        try:
            cur = con.execute(query, dict(params) if params else None)
            columns = [d[0] for d in cur.description] if cur.description else []
            rows = cur.fetchall() if columns else []
        except duckdb.Error as e:
            raise RoletrailError(str(e).splitlines()[0]) from None
    output.write_rows(columns, rows, fmt)


@click.command()
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
    with store.reader(config_mod.db_path(db, cfg)) as con:
        found = chain_mod.find(con, ident)
    if found is None:
        raise RoletrailError(
            f"no event, sharedEventID or access key id {visible(ident, 100)!r} in the database"
        )
    if fmt == "json":
        click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(chain_mod.render(found))


COMMANDS = [sql, chain]
