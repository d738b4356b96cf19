"""Opening the DuckDB file, and the lock that keeps to one writer at a time."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipeline.errors import Busy, RoletrailError

DEFAULT_DB = "roletrail.duckdb"


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


@contextmanager
def exclusive(db_path: str | os.PathLike, what: str = "roletrail"):
    """Hold `<db>.lock` for the duration: one writer (ingest, detect, notify, run) at a time."""
    if str(db_path) == ":memory:":
        yield
        return
    lock_path = Path(f"{db_path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Busy(
                f"another roletrail process ({holder}) is already working on {db_path}; {what} not started"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
