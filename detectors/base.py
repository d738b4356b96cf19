"""What a detector is: one SQL query (`<id>.sql`) and this frozen metadata (`<id>.py`).

Every detector's query returns OUTPUT_COLUMNS, so downstream code never special-cases one.
Parameters and config values reach the query as bound `$name` parameters, never as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

SEVERITIES = ("critical", "high", "medium", "low", "info")

# (column, DuckDB type) every detector query returns, in this order
OUTPUT_COLUMNS = (
    ("dedup_key", "VARCHAR"),  # what makes two findings the same alert (with the detector id)
    ("severity", "VARCHAR"),
    ("title", "VARCHAR"),
    ("role_arn", "VARCHAR"),
    ("account_id", "VARCHAR"),  # the role's (target) account
    ("caller_account", "VARCHAR"),
    ("caller_arn", "VARCHAR"),
    ("source_ip", "VARCHAR"),
    ("session_name", "VARCHAR"),
    ("source_identity", "VARCHAR"),
    ("user_agent", "VARCHAR"),
    ("first_seen", "TIMESTAMP"),
    ("last_seen", "TIMESTAMP"),
    ("event_count", "BIGINT"),
    ("event_ids", "VARCHAR[]"),
    ("details", "JSON"),
)


@dataclass(frozen=True)
class Param:
    name: str
    default: float | int | str | bool | tuple
    doc: str
    low: float | None = None
    high: float | None = None

    def validate(self, value):
        kind = type(self.default)
        if kind is tuple:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{self.name} must be a list of strings")
            return tuple(value)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false")
        elif kind in (int, float):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (kind is int and value != int(value))
            ):
                raise ValueError(f"{self.name} must be a{'n integer' if kind is int else ' number'}")
            value = kind(value)
            if self.low is not None and value < self.low or self.high is not None and value > self.high:
                raise ValueError(f"{self.name} = {value} is outside [{self.low}, {self.high}]")
        elif not isinstance(value, kind):
            raise ValueError(f"{self.name} must be a {kind.__name__}")
        return value


@dataclass(frozen=True)
class Detector:
    id: str
    title: str
    severity: str  # the default; a query may set a row's severity itself
    attack: tuple[str, ...]  # MITRE ATT&CK technique ids
    description: str
    runbook: tuple[str, ...]
    false_positives: tuple[str, ...]
    params: tuple[Param, ...] = ()
    # how far before the new events the query must read (its baseline window)
    lookback: dt.timedelta = dt.timedelta(0)
    baseline: str = ""  # the window and key a learned baseline uses, said in every alert's details
    # optional: (connection, rows as dicts, params) -> rows; for work SQL is not for (a model)
    postprocess: Callable | None = field(default=None, compare=False)

    @property
    def sql(self) -> str:
        return resources.files("detectors").joinpath(f"{self.id}.sql").read_text()

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}
