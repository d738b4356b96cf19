"""What the bench's sections share: the cached data sets, timing a whole command with its peak
memory, a figures row, and DuckDB's bare read_json as the baseline."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
BIN = Path(sys.executable).parent
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
sys.path.insert(0, str(ROOT))

from pipeline import synth  # noqa: E402
from pipeline.store import schema  # noqa: E402

ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
}
ENV.pop("AWS_PROFILE", None)
# the commands are timed as a user runs them: with Python's cached bytecode (a machine that
# sets PYTHONDONTWRITEBYTECODE would otherwise compile roletrail's modules at every start)
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def say(line=""):
    print(line, flush=True)


def remove_database(db: Path) -> None:
    """A DuckDB file and everything beside it that carries its name (WAL, lock, snapshot)."""
    for p in db.parent.glob(db.name + "*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def files_of(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.json.gz"))


def dataset(name: str, spec) -> tuple[Path, list[str], int]:
    root = DATA / name
    marker = root / ".complete"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        stats = synth.write_local(root / "src", spec)
        marker.write_text(json.dumps({"records": stats.records, "files": stats.files}))
        say(
            f"  generated {name}: {stats.files:,} files, {stats.records:,} records in {time.perf_counter() - t:.1f} s"
        )
    meta = json.loads(marker.read_text())
    return root, files_of(root / "src"), meta["records"]


def timed_cmd(args, env=None) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall time and peak RSS (MiB) of one command. The peak is the child's own VmHWM, polled:
    rusage's maxrss of a forked child starts from this (large) bench process's RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, env=env or ENV)
        peak_kb = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(args, proc.returncode, out.read(), err.read())
    if result.returncode != 0:
        raise SystemExit(f"{args} failed: {result.stderr}")
    return wall, peak_kb // 1024, result


def row(label, seconds, records, files, extra=""):
    say(
        f"  {label:<44} {seconds:7.2f} s {records / seconds:>11,.0f} rec/s {files / seconds:>9,.0f} files/s  {extra}"
    )


def bare_read_json(files: list[str], db: str | None, typed: bool = True) -> tuple[float, int]:
    """DuckDB's read_json over the file list with an explicit schema and records=true: the full
    typed record schema roletrail uses, or (typed=False) each record as one JSON value."""
    import duckdb

    cols = {
        k: ("JSON" if v == "JSON" else schema.duck_type(v, lower=False)) for k, v in schema.RECORD.items()
    }
    struct = "STRUCT(" + ", ".join(f'"{k}" {t}' for k, t in cols.items()) + ")[]" if typed else "JSON[]"
    con = duckdb.connect(db or ":memory:")
    con.execute("set enable_progress_bar = false")  # figures only in the bench's output
    t = time.perf_counter()
    con.execute(
        f"create table t as select unnest(Records{', max_depth := 2' if typed else ''}) "
        f"from read_json(?, columns = {{'Records': '{struct}'}}, records = true, maximum_object_size = 268435456)",
        [files],
    )
    n = con.execute("select count(*) from t").fetchall()[0][0]
    took = time.perf_counter() - t
    con.close()
    return took, n


def detect_config(folder: Path) -> Path:
    """The detect sections' config: the generator's known networks and a source identity rule."""
    cfg = folder / "bench.toml"
    cfg.write_text(
        f"[network]\nknown_cidrs = {json.dumps(list(synth.KNOWN_CIDRS))}\n"
        '[source_identity]\nrequired = { "arn:aws:iam::*:role/PlatformDeploy" = "*@example.com" }\n'
    )
    return cfg


def next_hour(spec, folder: Path) -> tuple[object, int]:
    """One more hour of the organization's logs (9:00 to 10:00 of the day after), in CloudTrail's
    5-minute files, written to `folder`: what a scheduled run finds. Returns its spec and records."""
    shutil.rmtree(folder, ignore_errors=True)
    nxt = synth.OrgSpec(start=spec.end, days=1, seed=spec.seed + 1, scale=spec.scale)
    n_rec = 0
    for lf in synth.generate(nxt):
        if lf.start >= nxt.start + dt.timedelta(hours=10):
            break
        if lf.start < nxt.start + dt.timedelta(hours=9):
            continue
        path = folder / lf.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(synth.encode(lf.records))
        n_rec += len(lf.records)
    return nxt, n_rec
