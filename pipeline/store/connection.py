"""Opening the DuckDB file; one writer at a time; readers that never hold the writer up.

DuckDB lets one process write a database file, or several read it, never both: a
read-only connection in another process makes the writer's open fail. An analyst's long
`roletrail sql` would then make cron's `roletrail run` exit 75 ("busy") for as long as
the query runs. So readers (sql, chain, report) do not query the live file: they copy it
to a snapshot beside it while no writer is at work, and query the copy. Two lock files:

* `<db>.lock`   held exclusively by the writer for its whole run; a second writer fails
                at once (exit 75: cron tries again next time).
* `<db>.access` held exclusively by the writer, shared by a reader while it copies. A
                writer that finds readers there waits for them (the copy is short),
                at most `wait_seconds`; a reader that finds a writer uses the last snapshot
                (consistent, and says how old it is) or waits for the writer to finish.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.errors import Busy, RoletrailError

WRITER_WAIT_SECONDS = 120.0  # how long a writer waits for readers' snapshot copies
POLL_SECONDS = 0.05


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = str(path)
    if read_only and path != ":memory:" and not Path(path).exists():
        raise RoletrailError(f"no database at {path}: run `roletrail ingest` first")
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise Busy(f"database {path} is in use by another process; try again when it finishes") from None
        raise RoletrailError(f"cannot open database {path}: {e}") from None
    # CloudTrail times are UTC; comparisons with current_timestamp must be too
    con.execute("set TimeZone = 'UTC'")
    return con


def rows(con, sql: str, params: dict | None = None) -> list[dict]:
    """A query's rows as dicts keyed by column name."""
    cur = con.execute(sql, params or None)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _open_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _flock(fd: int, mode: int, wait: float) -> bool:
    """flock with a deadline (flock itself can only block forever or not at all)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)


@contextmanager
def exclusive(db_path: str | os.PathLike, what: str = "roletrail", wait_seconds: float = WRITER_WAIT_SECONDS):
    """Hold the database as its one writer (ingest, detect, notify, run) for the duration."""
    if str(db_path) == ":memory:":
        yield
        return
    writer_fd = _open_lock(Path(f"{db_path}.lock"))
    access_fd = None
    try:
        if not _flock(writer_fd, fcntl.LOCK_EX, 0):
            holder = os.pread(writer_fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Busy(
                f"another roletrail process ({holder}) is already working on {db_path}; {what} not started"
            )
        os.ftruncate(writer_fd, 0)
        os.pwrite(writer_fd, f"pid {os.getpid()} {what}".encode(), 0)
        access_fd = _open_lock(Path(f"{db_path}.access"))
        if not _flock(access_fd, fcntl.LOCK_EX, wait_seconds):
            raise Busy(
                f"{db_path} is still being copied for a reader after {wait_seconds:g} s; {what} not started"
            )
        yield
    finally:
        if access_fd is not None:
            os.close(access_fd)
        os.close(writer_fd)


@dataclass
class Snapshot:
    path: Path
    copied: bool  # False: an existing snapshot was still current, or a writer was at work
    stale: bool  # a writer was at work: the snapshot is the state before its run
    taken_at: float  # when the copied state was current (epoch seconds)


def _stamp(db: Path) -> str:
    parts = []
    for p in (db, Path(f"{db}.wal")):
        try:
            st = p.stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
        except FileNotFoundError:
            parts.append("-")
    return "|".join(parts)


def snapshot(db_path: str | os.PathLike, wait_seconds: float = 30.0) -> Snapshot:
    """A consistent copy of the database to read, made while no writer is at work.

    The copy (`<db>.snapshot`, plus its write-ahead log) is kept and reused while the
    database has not changed, so only the first read after a write pays for it."""
    db = Path(db_path)
    if not db.exists():
        raise RoletrailError(f"no database at {db}: run `roletrail ingest` first")
    snap = Path(f"{db}.snapshot")
    stamp_file = Path(f"{db}.snapshot.stamp")
    fd = _open_lock(Path(f"{db}.access"))
    try:
        if not _flock(fd, fcntl.LOCK_SH, 0):
            # a writer is at work: its committed state is not consistent on disk until it ends
            if snap.exists():
                return Snapshot(snap, copied=False, stale=True, taken_at=snap.stat().st_mtime)
            if not _flock(fd, fcntl.LOCK_SH, wait_seconds):
                raise Busy(f"{db} is being written and has no snapshot yet; try again when the run ends")
        current = _stamp(db)
        if snap.exists() and stamp_file.exists() and stamp_file.read_text() == current:
            return Snapshot(snap, copied=False, stale=False, taken_at=snap.stat().st_mtime)
        tmp = Path(f"{snap}.tmp-{os.getpid()}")
        try:
            shutil.copyfile(db, tmp)
            wal = Path(f"{db}.wal")
            if wal.exists():
                shutil.copyfile(wal, Path(f"{tmp}.wal"))
                os.replace(Path(f"{tmp}.wal"), Path(f"{snap}.wal"))
            else:
                Path(f"{snap}.wal").unlink(missing_ok=True)
            os.replace(tmp, snap)  # readers with the old copy open keep reading it
        finally:
            tmp.unlink(missing_ok=True)
        stamp_file.write_text(current)
        return Snapshot(snap, copied=True, stale=False, taken_at=time.time())
    finally:
        os.close(fd)


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """An investigation console over security data reads the database and nothing else:
    no files, no network, no extensions, and no way to turn that back on."""
    con.execute("set enable_external_access = false")
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    con.execute("set lock_configuration = true")


@contextmanager
def reader(db_path: str | os.PathLike, locked: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection for investigation (sql, chain, report) on a snapshot of the
    database, so it never holds up the scheduled job; `locked`: no files, network or
    extensions either."""
    if str(db_path) == ":memory:":
        raise RoletrailError("an in-memory database has nothing to read: give --db PATH")
    snap = snapshot(db_path)
    if snap.stale:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(snap.taken_at))
        print(f"roletrail: a run is writing {db_path}; reading its state as of {when}", file=sys.stderr)
    con = connect(snap.path, read_only=True)
    try:
        # the views call roletrail's functions (trust_policy_statements reads policies in Python)
        from pipeline.engine.duck import register_functions

        register_functions(con)
        if locked:
            lock_down(con)
        yield con
    finally:
        con.close()
