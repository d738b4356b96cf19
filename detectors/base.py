"""What a detector is: one SQL query (`<id>.sql`) and this frozen metadata (`<id>.py`).

Every detector's query returns QUERY_COLUMNS first, so downstream code never special-cases
one; every column after them is a key of the alert's JSON `details` (`a__b` nests: key b of
object a), assembled in Python so that no engine's to_json decides what a null looks like.
Parameters and config values reach the query as bound `$name` parameters, never as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first: the one order
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def severity_rank(severity: str | None) -> int:
    """Sort key: most severe first, an unknown severity after every known one."""
    return SEVERITY_RANK.get(severity or "", len(SEVERITIES))


# (column, DuckDB type) of every detector finding, in this order: the query returns all but
# `details` (QUERY_COLUMNS), then its details columns
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
QUERY_COLUMNS = OUTPUT_COLUMNS[:-1]
DETAILS_NESTING = "__"  # a details column `baseline__hours` is details["baseline"]["hours"]


@dataclass(frozen=True)
class Param:
    """One tunable value of a detector: its default (whose type is the parameter's), bounds
    for numbers, and for lists of strings an optional pattern every item must match."""

    name: str
    default: float | int | str | bool | tuple
    doc: str
    low: float | None = None
    high: float | None = None
    item_pattern: str | None = None  # a regex each list item must match in full

    def annotation(self):
        """The pydantic type of this parameter: strict (no "5" for 5), with its bounds."""
        from typing import Annotated

        from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

        kind = type(self.default)
        if kind is tuple:
            item = (
                Annotated[StrictStr, Field(pattern=f"^(?:{self.item_pattern})$")]
                if self.item_pattern
                else StrictStr
            )
            return tuple[item, ...]
        base = {bool: StrictBool, int: StrictInt, float: StrictFloat | StrictInt, str: StrictStr}[kind]
        if kind in (int, float):
            return Annotated[base, Field(ge=self.low, le=self.high)]
        return base


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
    # optional: (rows as dicts, params) -> rows; for work SQL is not for (a model); engine-neutral
    postprocess: Callable | None = field(default=None, compare=False)

    @property
    def sql(self) -> str:
        return resources.files("detectors").joinpath(f"{self.id}.sql").read_text()

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def params_model(self):
        """[detectors.<id>] as a pydantic model: `enabled` and every parameter with its bounds."""
        return _params_model(self)


@cache
def _params_model(det: Detector):
    from pydantic import ConfigDict, Field, StrictBool, create_model

    fields = {p.name: (p.annotation(), Field(default=p.default, description=p.doc)) for p in det.params}
    return create_model(
        f"{det.id}_settings",
        __config__=ConfigDict(extra="forbid"),
        enabled=(StrictBool, True),
        **fields,
    )
