"""`make bench`, Spark section: lake build and detect --engine spark (local[2]) next to ingest and
detect on DuckDB, on the same generated set; wall time, peak memory of the whole process tree
(the JVM is a child of the Python command), and the ratios. Skipped with BENCH_SPARK=0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (the driver JVM, the Python workers)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def timed_tree(args, env) -> tuple[float, int, str]:
    with tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.1)
        wall = time.perf_counter() - t
        err.seek(0)
        text = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {text[-2000:]}")
    return wall, peak // 1024, text


def spark_section(root: Path, records: int, files: int, bin_dir: Path, env: dict, say, known_cidrs) -> None:
    if os.environ.get("BENCH_SPARK", "1") == "0":
        say("\n== spark: skipped (BENCH_SPARK=0) ==")
        return
    say(f"\n== spark (local[2]) vs DuckDB: {records:,} records in {files:,} files ==")
    work = root / "spark-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    cfg = work / "bench.toml"
    cfg.write_text(
        f"[network]\nknown_cidrs = {json.dumps(list(known_cidrs))}\n"
        '[spark]\nmaster = "local[2]"\nconf = { "spark.driver.memory" = "2g" }\n'
    )
    exe = str(bin_dir / "roletrail")
    src, db, lake = str(root / "src"), str(work / "duck.duckdb"), str(work / "lake")
    steps = [
        ("DuckDB: ingest", [exe, "ingest", src, "--db", db, "--config", str(cfg)]),
        ("DuckDB: detect (first run)", [exe, "detect", "--db", db, "--config", str(cfg)]),
        ("Spark: lake build", [exe, "lake", "build", src, "--lake", lake, "--config", str(cfg)]),
        ("Spark: detect --engine spark --lake",
         [exe, "detect", "--engine", "spark", "--lake", lake, "--db", str(work / "s.duckdb"), "--config", str(cfg)]),
        ("DuckDB: detect --lake (over Spark's Parquet)",
         [exe, "detect", "--lake", lake, "--db", str(work / "l.duckdb"), "--config", str(cfg)]),
    ]  # fmt: skip
    got = {}
    for label, args in steps:
        wall, peak, _ = timed_tree(args, env)
        got[label] = wall
        say(f"  {label:<46} {wall:8.1f} s  {records / wall:>9,.0f} rec/s  peak RSS {peak:,} MiB")
    # the same alerts from each engine (ids; the parity test compares every field)
    import duckdb

    alert_ids = {}
    for name, path in (
        ("duckdb", db),
        ("spark", str(work / "s.duckdb")),
        ("duckdb over the lake", str(work / "l.duckdb")),
    ):
        con = duckdb.connect(path, read_only=True)
        alert_ids[name] = {r[0] for r in con.execute("select alert_id from alerts").fetchall()}
        con.close()
    same = all(ids == alert_ids["duckdb"] for ids in alert_ids.values())
    say(
        f"  alerts: {', '.join(f'{k} {len(v)}' for k, v in alert_ids.items())}; "
        f"{'the same ids' if same else 'DIFFERENT ids'} on every engine"
    )
    say(f"  ratio lake build / ingest: {got['Spark: lake build'] / got['DuckDB: ingest']:.1f}x; "
        f"detect on Spark / on DuckDB: {got['Spark: detect --engine spark --lake'] / got['DuckDB: detect (first run)']:.1f}x; "
        f"DuckDB over the lake / over its file: {got['DuckDB: detect --lake (over Spark' + chr(39) + 's Parquet)'] / got['DuckDB: detect (first run)']:.1f}x")  # fmt: skip
