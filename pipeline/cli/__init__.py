"""The `roletrail` command: a thin click layer over the pipeline modules.

Each module in this package holds a group of commands and lists them in COMMANDS; a new
command is a function in one of them (or a new module plus a line in COMMAND_MODULES).
"""

from __future__ import annotations

import importlib
import logging

import click

from pipeline.cli.options import Group

# the modules whose COMMANDS make up `roletrail`
COMMAND_MODULES = ("ingest", "query", "detection", "delivery", "showcase", "integrity", "lake")


@click.group(cls=Group)
@click.version_option(package_name="roletrail")
def main():
    """roletrail: who assumed which role, from where, and was that normal.

    CloudTrail logs from S3 into DuckDB, SQL views over AssumeRole, detectors and alerts.
    """
    # the commands print their own summaries; library log records would repeat them
    logging.getLogger("roletrail").addHandler(logging.NullHandler())


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"pipeline.cli.{_name}").COMMANDS:
        main.add_command(_command)
