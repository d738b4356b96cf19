"""Ingest under limits: batches that do not fit in memory, oversized documents, DuckDB settings
left as they were, the default quarantine folder, and kill -9 at a chosen point of a run."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ct_key, log_bytes, record, roletrail, write

from pipeline import store
from pipeline.ingest import IngestOptions, Progress, ingest
from pipeline.ingest.options import default_memory_limit_mb, machine_memory_mb


def load(db, source, **kw):
    con = store.connect(db)
    try:
        con.execute("set threads = 2")  # DuckDB's memory use grows with its threads
        return ingest(con, str(source), progress=Progress(enabled=False), **kw)
    finally:
        con.close()


def query(db, sql):
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def big_document(n: int, tag: str = "big") -> bytes:
    """~1.4 KB a record: 5,000 records are a 6.8 MB document (128-160 MB of DuckDB memory to
    load), 20,000 a 27 MB one (~300 MB)."""
    recs = [
        record(f"{tag}-{i}", userAgent="x" * 400, requestParameters={"k": "v" * 300, "i": i})
        for i in range(n)
    ]
    return gzip.compress(json.dumps({"Records": recs}).encode(), 1)


def test_a_batch_that_does_not_fit_is_split_and_a_document_that_never_fits_is_quarantined(
    tmp_path, db, monkeypatch
):
    """One batch of small files and one large document at a memory_limit the large one cannot load
    under: the batch is split until the small files load and the large one is quarantined with
    its reason. No batch can stop ingestion for good (issue 14)."""
    # let every file into one batch, so that the load itself runs out of memory
    monkeypatch.setattr(IngestOptions, "memory_budget", lambda self: 1 << 40)
    src = tmp_path / "src"
    for i in range(3):
        write(
            src,
            ct_key(stamp=f"20240501T100{i}Z", suffix="small"),
            log_bytes([record(f"a{i}-{j}") for j in range(50)]),
        )
    write(src, ct_key(stamp="20240501T1003Z", suffix="large"), big_document(20_000))
    write(
        src, ct_key(stamp="20240501T1004Z", suffix="small"), log_bytes([record(f"z-{j}") for j in range(50)])
    )
    s = load(db, src, options=IngestOptions(memory_limit_mb=128), quarantine_dir=tmp_path / "q")
    assert (s.objects_loaded, s.objects_quarantined, s.records_loaded) == (4, 1, 200)
    assert s.batches_split >= 1
    [(uri, reason, path)] = query(
        db, "select uri, reason, quarantine_path from ingest_manifest where status = 'quarantined'"
    )
    assert (
        uri.endswith("_large.json.gz")
        and "does not fit in memory_limit (128 MB)" in reason
        and "\n" not in reason
    )
    assert Path(path).read_bytes() == (src / ct_key(stamp="20240501T1003Z", suffix="large")).read_bytes()
    # the next run does not try it again, and ingest goes on
    assert load(db, src, options=IngestOptions(memory_limit_mb=128)).objects_new == 0


def test_batches_are_sized_by_bytes_and_by_the_longest_document(tmp_path, db):
    """Three 6.8 MB documents need more than 160 MB together and less alone: sized to the memory
    limit, each is a batch of its own and nothing has to be split."""
    src = tmp_path / "src"
    for i in range(3):
        write(src, ct_key(stamp=f"20240501T100{i}Z", suffix=f"b{i}"), big_document(5_000, f"b{i}"))
    s = load(db, src, options=IngestOptions(memory_limit_mb=192))
    assert (s.records_loaded, s.batches_split) == (15_000, 0)
    assert query(db, "select count(distinct loaded_at) from ingest_manifest") == [(3,)]


def test_a_document_over_max_document_mb_is_quarantined_without_expanding_it(tmp_path, db):
    src = tmp_path / "src"
    # 3 KB of gzip that expands to one 40 MB line
    bomb = gzip.compress(b'{"Records": [{"userAgent": "' + b" " * (40 << 20) + b'"}]}')
    write(src, ct_key(suffix="bomb"), bomb)
    write(src, "plain.json", json.dumps({"Records": [record("p1")], "pad": "x" * (2 << 20)}).encode())
    write(src, ct_key(suffix="ok"), log_bytes([record("ok")]))
    s = load(db, src, options=IngestOptions(max_document_mb=1))
    assert (s.objects_loaded, s.objects_quarantined, s.records_loaded) == (1, 2, 1)
    reasons = sorted(
        r for (r,) in query(db, "select reason from ingest_manifest where status = 'quarantined'")
    )
    assert all("larger than max_document_mb (1 MB)" in r for r in reasons), reasons


def test_ingest_leaves_the_connections_settings_as_they_were(tmp_path, db):
    write(tmp_path / "src", ct_key(suffix="a"), log_bytes([record("e1")]))
    names = ("memory_limit", "checkpoint_threshold", "max_vacuum_tasks", "preserve_insertion_order")
    con = store.connect(db)

    def current():
        return [con.execute("select current_setting($n)", {"n": n}).fetchall()[0][0] for n in names]

    try:
        for given in (None, "2GiB"):  # DuckDB's defaults, then a limit someone set
            if given:
                con.execute("set memory_limit = $v", {"v": given})
            before = current()
            ingest(con, str(tmp_path / "src"), progress=Progress(enabled=False),
                   options=IngestOptions(memory_limit_mb=700))  # fmt: skip
            assert current() == before
    finally:
        con.close()


def test_the_default_memory_limit_comes_from_the_machine():
    assert default_memory_limit_mb() == max(512, min(2048, machine_memory_mb() // 2))
    assert IngestOptions(memory_limit_mb=900).memory_mb() == 900


def test_quarantined_bytes_go_next_to_the_database_by_default(tmp_path, db):
    write(tmp_path / "src", ct_key(suffix="bad"), b"not json at all")
    con = store.connect(db)
    try:
        s = ingest(con, str(tmp_path / "src"), progress=Progress(enabled=False))
    finally:
        con.close()
    assert s.objects_quarantined == 1
    [(path,)] = query(db, "select quarantine_path from ingest_manifest")
    assert Path(path).parent == Path(f"{db}.quarantine") and Path(path).read_bytes() == b"not json at all"


# Runs ingest with 20-file batches and stops it inside the transaction of batch number N (after
# N commits: its rows and manifest entries are written, not committed), then says so.
KILLED_RUN = """
import sys, threading
from pipeline import store
from pipeline.ingest import IngestOptions, Progress, ingest, manifest
src, db, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
written = manifest.write
batches = []

def write(con, rows, source):
    written(con, rows, source)
    if len(batches) == stop_at:
        print("inside the transaction of batch", stop_at, flush=True)
        threading.Event().wait()
    batches.append(len(rows))

manifest.write = write
ingest(store.connect(db), src, progress=Progress(enabled=False), options=IngestOptions(batch_files=20))
print("finished", flush=True)
"""


def _many_files(root: Path, n: int) -> int:
    total = 0
    for i in range(n):
        recs = [
            record(f"f{i}-r{j}", f"2024-05-01T{(i // 60) % 24:02d}:{i % 60:02d}:{j:02d}Z") for j in range(20)
        ]
        total += len(recs)
        write(
            root,
            ct_key(stamp=f"20240501T{(i // 60) % 24:02d}{i % 60:02d}Z", suffix=f"{i:05d}"),
            log_bytes(recs),
        )
    return total


@pytest.mark.parametrize("after_commits", [0, 1, 4])
def test_killed_run_is_finished_by_the_next_without_duplicates(tmp_path, after_commits):
    """kill -9 inside a batch's transaction (before the first commit, and after some), then run again."""
    src = tmp_path / "src"
    total = _many_files(src, 200)
    db = str(tmp_path / "killed.duckdb")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(src), db, str(after_commits)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()  # blocks until the run is where it should be killed
        assert line.startswith("inside the transaction"), (line, proc.stderr.read() if proc.poll() else "")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    # exactly the committed batches are there: the killed one left nothing
    assert query(db, "select count(*) from ingest_manifest") == [(20 * after_commits,)]
    assert query(db, "select count(*) from cloudtrail_logs") == [(20 * 20 * after_commits,)]
    roletrail("ingest", src, "--db", db, check=True)
    assert query(db, "select count(*), count(distinct eventid) from cloudtrail_logs") == [(total, total)]
    assert query(db, "select count(*), count(*) filter (where status = 'loaded') from ingest_manifest") == [
        (200, 200)
    ]


def test_the_readmes_ingest_block_is_valid():
    import re
    import tomllib

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"```toml\n(\[ingest\].*?)```", readme, re.S).group(1)
    options = IngestOptions.model_validate(tomllib.loads(block)["ingest"])
    assert options == IngestOptions()  # the README shows the defaults
