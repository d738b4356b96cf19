"""`make bench`, scaling section: how ingest and detect grow with the work.

At 100k, 1M and 5M records (generated once and cached under bench-data/): a first ingest into a
new database, DuckDB's bare read_json of the same files into a file (the baseline), the first
detect, then one more hour of logs ingested and detected (the scheduled run), each as a whole
command with its wall time, records/s and peak RSS. Then where ingest's time goes at 100k
records, step by step, in-process. Skipped with BENCH_SCALING=0.
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

from bench.common import (
    BIN,
    bare_read_json,
    dataset,
    detect_config,
    next_hour,
    remove_database,
    say,
    timed_cmd,
)
from pipeline import synth

# about 100k records in 200 files (the small-batch regime), 1M (the ingest section's set), 5M
SIZES = (
    ("100k", "scale_100k", synth.OrgSpec(days=3, seed=11, scale=11.0, records_per_file=500)),
    ("1M", "large_files", synth.OrgSpec(days=28, seed=8, scale=12.0, records_per_file=1000)),
    ("5M", "scale_5m", synth.OrgSpec(days=28, seed=12, scale=60.0, records_per_file=5000)),
)


def _one_size(label: str, name: str, spec) -> dict:
    root, files, records = dataset(name, spec)
    db = root / "scaling.duckdb"
    remove_database(db)
    roletrail = str(BIN / "roletrail")
    out = {"label": label, "records": records, "files": len(files)}
    out["ingest"], out["ingest_rss"], _ = timed_cmd([roletrail, "ingest", str(root / "src"), "--db", str(db)])
    bare = root / "bare.duckdb"
    remove_database(bare)
    out["bare"], _ = bare_read_json(files, str(bare), typed=True)
    remove_database(bare)
    cfg = detect_config(root)
    out["detect"], out["detect_rss"], _ = timed_cmd(
        [roletrail, "detect", "--db", str(db), "--config", str(cfg)]
    )
    _, out["hour_records"] = next_hour(spec, root / "scaling-next-hour")
    out["hour_ingest"], _, _ = timed_cmd(
        [roletrail, "ingest", str(root / "scaling-next-hour"), "--db", str(db)]
    )
    out["hour_detect"], _, _ = timed_cmd([roletrail, "detect", "--db", str(db), "--config", str(cfg)])
    out["db_mb"] = sum(p.stat().st_size for p in root.glob("scaling.duckdb*") if p.is_file()) / 1e6
    remove_database(db)
    return out


def step_profile(src: Path, db: Path) -> None:
    """Ingest in this process with each SQL statement timed (the loader's and the run's): where
    the time goes."""
    from pipeline import store
    from pipeline.ingest import Progress, ingest
    from pipeline.ingest import loader as loader_mod

    spent: dict[str, float] = collections.defaultdict(float)

    class Timed:
        def __init__(self, con):
            self._con = con

        def execute(self, query, *args, **kwargs):
            started = time.perf_counter()
            try:
                return self._con.execute(query, *args, **kwargs)
            finally:
                spent[query.strip().splitlines()[0].removeprefix("-- ")[:60]] += time.perf_counter() - started

        def __getattr__(self, attr):
            return getattr(self._con, attr)

    original = loader_mod.Loader.__init__

    def timed_init(self, con, *args, **kwargs):
        original(self, Timed(con), *args, **kwargs)

    remove_database(db)
    loader_mod.Loader.__init__ = timed_init
    try:
        con = store.connect(str(db))
        started = time.perf_counter()
        summary = ingest(Timed(con), str(src), progress=Progress(enabled=False))
        total = time.perf_counter() - started
        con.close()
    finally:
        loader_mod.Loader.__init__ = original
        remove_database(db)
    say(f"  in-process ingest of {summary.records_loaded:,} records: {total:.2f} s (a new database)")
    for what, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:8]:
        say(f"    {seconds:6.2f} s  {what}")
    sql = sum(spent.values())
    say(
        f"    {total - sql:6.2f} s  the rest (Python): listing, decoding, the batch files, the views' functions"
    )


def scaling_section() -> None:
    if os.environ.get("BENCH_SCALING") == "0":
        return
    say("\n== scaling: ingest and detect at 100k, 1M and 5M records (whole commands, a new database) ==")
    rows = [_one_size(*size) for size in SIZES]
    say(f"  {'size':>5} {'records':>10} {'files':>6} | {'ingest':>8} {'rec/s':>8} {'RSS':>7} | "
        f"{'bare':>7} {'speed':>6} | {'detect':>7} {'RSS':>7} | {'+1 h':>6} {'ingest':>7} {'detect':>7} | {'db':>6}")  # fmt: skip
    for r in rows:
        say(f"  {r['label']:>5} {r['records']:>10,} {r['files']:>6,} | {r['ingest']:>6.2f} s "
            f"{r['records'] / r['ingest']:>8,.0f} {r['ingest_rss']:>4} MiB | {r['bare']:>5.2f} s "
            f"{r['bare'] / r['ingest']:>5.2f}x | {r['detect']:>5.2f} s {r['detect_rss']:>4} MiB | "
            f"{r['hour_records']:>6,} {r['hour_ingest']:>5.2f} s {r['hour_detect']:>5.2f} s | "
            f"{r['db_mb']:>4.0f} MB")  # fmt: skip
    say("  speed: bare read_json (full typed schema, into a file) / roletrail ingest; +1 h: one more hour "
        "of 5-minute files ingested, then detected")  # fmt: skip
    first, last = rows[0], rows[-1]
    growth = last["records"] / first["records"]
    say(f"  from {first['label']} to {last['label']} ({growth:.0f}x the records): ingest "
        f"{last['ingest'] / first['ingest']:.1f}x the time, {last['ingest_rss'] / first['ingest_rss']:.1f}x the "
        f"memory; detect {last['detect'] / first['detect']:.1f}x, {last['detect_rss'] / first['detect_rss']:.1f}x; "
        f"the hour's ingest {last['hour_ingest'] / first['hour_ingest']:.1f}x, its detect "
        f"{last['hour_detect'] / first['hour_detect']:.1f}x")  # fmt: skip
    root, _, _ = dataset(SIZES[0][1], SIZES[0][2])
    step_profile(root / "src", root / "profile.duckdb")
