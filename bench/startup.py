"""`make bench`, start-up section: what a command costs before it has work to do.

`roletrail --help`, and an incremental run that finds nothing new over the small-files set
(6,244 objects already in the database): `roletrail ingest` and the scheduled `roletrail run`
(ingest, detect, notify). Whole commands, the median of several runs; the issue's targets
beside them.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.common import BIN, say, timed_cmd

RUNS = 7


def _median(args: list[str]) -> tuple[float, list[float]]:
    walls = [timed_cmd(args)[0] for _ in range(RUNS)]
    return statistics.median(walls), walls


def startup_section(src: Path, db: Path) -> None:
    """`db` holds every object of `src` already (the small-files ingest section's database)."""
    roletrail = str(BIN / "roletrail")
    cfg = db.parent / "startup.toml"
    cfg.write_text(f'[source]\nuri = "{src}"\n[database]\npath = "{db}"\n')
    timed_cmd([roletrail, "run", "--config", str(cfg)])  # the first run detects; the next ones find nothing
    n_files = sum(1 for _ in src.rglob("*.json.gz"))
    say(f"\n== start-up: whole commands with nothing to do (median of {RUNS}) ==")
    # (what, the command, the target in seconds)
    for what, args, target in (
        ("roletrail --help", [roletrail, "--help"], 0.3),
        (
            f"roletrail ingest, {n_files:,} objects, none new",
            [roletrail, "ingest", str(src), "--db", str(db)],
            0.5,
        ),
        (
            "roletrail run (ingest, detect, notify), nothing new",
            [roletrail, "run", "--config", str(cfg)],
            0.5,
        ),
    ):
        wall, walls = _median(args)
        say(f"  {what:<52} {wall:6.2f} s  (target {target} s: {'met' if wall <= target else 'NOT met'}; "
            f"runs {min(walls):.2f}-{max(walls):.2f} s)")  # fmt: skip
