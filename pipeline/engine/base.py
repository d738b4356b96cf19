"""What detection needs from an engine: bound queries, views, rows."""

from __future__ import annotations

from typing import Any, Protocol


class Engine(Protocol):
    """Runs the SQL of sql/ and detectors/ over `cloudtrail_logs`.

    Parameters are `$name` values bound by the engine (never formatted into the text);
    rows come back as tuples of Python values (datetime for TIMESTAMP, list for arrays)."""

    name: str
    reads_store: bool  # whether it can run on the DuckDB store itself (else only on a lake)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one query; returns the column names and every row."""
        ...

    def register_view(self, name: str, sql: str) -> None:
        """Create (or replace) view `name` as `sql`."""
        ...

    def register_table(self, name: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Create (or replace) a small temporary table of text columns: a config list a query joins."""
        ...

    def stage(self, name: str, since: Any) -> None:
        """Compute view `name` once for the queries that follow, from `since` on (its rows
        with eventtime >= since): the detectors that read it each filter from their own
        baseline start, all at or after `since`. Ends with unstage."""
        ...

    def unstage(self, name: str) -> None:
        """The view `name` as it was before stage."""
        ...

    def close(self) -> None: ...
