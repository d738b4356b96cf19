"""What the report reads from the database: the summary, the alerts, the ingestion history.

The connection may be read-only: nothing here writes to the database file (temp tables live in
the connection's own temp schema and are dropped again).
"""

from __future__ import annotations

import datetime as dt
import json
from contextlib import contextmanager
from dataclasses import dataclass, field

from detectors.base import SEVERITIES, severity_rank
from detectors.registry import get as get_detector
from pipeline.store import rows

MAX_ALERTS = 200  # alerts shown in full; the rest are counted
MAX_QUARANTINED = 200
MAX_RUNS = 20


def one(con, sql: str, params: dict | None = None) -> dict:
    found = rows(con, sql, params or {})
    return found[0] if found else {}


def parse_time(text: str) -> dt.datetime | None:
    """An ISO time (CloudTrail's "Z" included) as naive UTC, or None when it is not one."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


@contextmanager
def materialized(con, names: list[str], relations: set[str]):
    """Shadow views with temp tables of their rows while the report is built.

    `pipeline.chain.find` asks role_sessions and assume_role_events a few questions per alert;
    each would recompute the view over every record (12 ms each on 50k records, 0.7 ms on the
    temp table). Temp tables work on a read-only connection and are dropped afterwards.
    """
    db = con.execute("select current_database()").fetchall()[0][0]
    temps = {r[0] for r in con.execute("select table_name from duckdb_tables() where temporary").fetchall()}
    made = []
    try:
        for name in names:
            if name in relations and name not in temps:
                # identifiers cannot be bound: the names are our own view names, the database is quoted
                quoted = '"' + db.replace('"', '""') + '"'
                con.execute(f"create temp table {name} as select * from {quoted}.main.{name}")
                made.append(name)
        yield
    finally:
        for name in made:
            con.execute(f"drop table if exists temp.main.{name}")


def relations(con) -> set[str]:
    found = con.execute(
        "select table_name from information_schema.tables where table_schema = current_schema()"
    ).fetchall()
    return {r[0] for r in found}


@dataclass
class Alert:
    row: dict
    details: object
    detector: object | None  # detectors.base.Detector, or None for an unknown id

    def __getitem__(self, key):
        return self.row.get(key)

    @property
    def first_event(self) -> str | None:
        ids = self.row.get("event_ids") or []
        return ids[0] if ids else None

    @property
    def alerted_hour(self) -> dt.datetime | None:
        """The hour the alert marks on its role's volume chart."""
        if self.row.get("detector") == "assume_role_volume_spike" and isinstance(self.details, dict):
            hour = self.details.get("hour")
            if isinstance(hour, str) and parse_time(hour):
                return parse_time(hour).replace(minute=0, second=0, microsecond=0)
        first = self.row.get("first_seen")
        return first.replace(minute=0, second=0, microsecond=0) if first else None

    @property
    def volume_baseline(self) -> dict | None:
        """The volume detector's baseline from its details (its "assumes" a dict), for spike alerts."""
        if self.row.get("detector") != "assume_role_volume_spike" or not isinstance(self.details, dict):
            return None
        b = self.details.get("baseline")
        b = b if isinstance(b, dict) else {}
        st = b.get("assumes")
        return {**b, "assumes": st if isinstance(st, dict) else {}}

    @property
    def explanation(self) -> str | None:
        if isinstance(self.details, dict) and self.details.get("explanation"):
            return self.details["explanation"]
        return None


@dataclass
class Data:
    relations: set[str]
    summary: dict = field(default_factory=dict)
    accounts: list[dict] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alert_total: int = 0
    by_severity: dict = field(default_factory=dict)  # severity -> {status: n}
    by_detector: list[dict] = field(default_factory=list)

    def by_severity_tiles(self) -> list[tuple[str, dict]]:
        """(severity, {"open": n, "other": suppressed or None}) for every severity, most severe first."""
        tiles = []
        for sev in SEVERITIES:
            counts = self.by_severity.get(sev, {})
            other = [n for status, n in counts.items() if status != "open"]
            tiles.append((sev, {"open": counts.get("open", 0), "other": sum(other) if other else None}))
        return tiles

    def alert_groups(self) -> list[tuple[str, list[Alert]]]:
        """(severity, alerts) most severe first; an unknown severity goes to "other" at the end."""
        groups: dict[str, list[Alert]] = {}
        for a in self.alerts:
            sev = a["severity"] if a["severity"] in SEVERITIES else "other"
            groups.setdefault(sev, []).append(a)
        return [(s, groups[s]) for s in (*SEVERITIES, "other") if s in groups]


# most severe first (the severity order is bound, from detectors/base.py), suppressed after open
ALERTS_SQL = """
with ranked as (
    select
        *,
        list_position($severities, severity) as severity_position,
        case when status = 'suppressed' then 1 else 0 end as suppressed_last
    from alerts
)

select * exclude (severity_position, suppressed_last)
from ranked
order by coalesce(severity_position, $unknown), suppressed_last, last_seen desc, alert_id
limit $n
"""


def _load_alerts(con, limit: int) -> tuple[list[Alert], int]:
    total = con.execute("select count(*) from alerts").fetchall()[0][0]
    found = rows(
        con, ALERTS_SQL, {"severities": list(SEVERITIES), "unknown": severity_rank(None) + 1, "n": limit}
    )
    alerts = []
    for r in found:
        details = r.get("details")
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                pass
        try:
            det = get_detector(r.get("detector"))
        except KeyError:  # an alert of a detector that was removed since: shown without its metadata
            det = None
        alerts.append(Alert(r, details, det))
    return alerts, total


def load(con, max_alerts: int = MAX_ALERTS) -> Data:
    data = Data(relations(con))
    if "cloudtrail_logs" in data.relations:
        data.summary = one(
            con,
            """select count(*) as events, min(eventtime) as first_event, max(eventtime) as last_event,
                      count(distinct recipientaccountid) as accounts,
                      count(distinct awsregion) as regions
               from cloudtrail_logs""",
        )
        data.accounts = rows(
            con,
            """select recipientaccountid as account, count(*) as events
               from cloudtrail_logs group by recipientaccountid order by events desc, account limit 50""",
            {},
        )
    if "assume_role_events" in data.relations:
        data.summary |= one(
            con,
            """select count(*) as assumes, count(*) filter (where is_cross_account) as cross_account,
                      count(*) filter (where not succeeded) as denied
               from assume_role_events""",
        )
    if "detection_runs" in data.relations:
        data.summary |= one(
            con, "select max(finished_at) as last_detection, count(*) as detection_runs from detection_runs"
        )
    if "alerts" in data.relations:
        data.alerts, data.alert_total = _load_alerts(con, max_alerts)
        for r in rows(con, "select severity, status, count(*) as n from alerts group by all", {}):
            data.by_severity.setdefault(r["severity"], {})[r["status"]] = r["n"]
        data.by_detector = rows(
            con,
            """select detector, count(*) filter (where status = 'open') as open,
                      count(*) filter (where status <> 'open') as suppressed, max(last_seen) as last_seen
               from alerts group by detector order by detector""",
            {},
        )
        for d in data.by_detector:
            try:
                d["meta"] = get_detector(d["detector"])
            except KeyError:
                d["meta"] = None
    return data


@dataclass
class Ingestion:
    """The ingestion section's numbers; a part is None when its table does not exist."""

    totals: dict | None = None
    runs: list[dict] = field(default_factory=list)
    quarantined_total: int | None = None
    quarantined_files: list[dict] = field(default_factory=list)
    record_reasons: list[dict] | None = None


def load_ingestion(con, rel: set[str]) -> Ingestion:
    ing = Ingestion()
    if "ingest_runs" in rel:
        ing.totals = one(
            con,
            """select count(*) as runs, sum(objects_listed) as listed, sum(objects_loaded) as loaded,
                      sum(objects_skipped) as skipped, sum(objects_quarantined) as quarantined,
                      sum(records_loaded) as records, sum(records_quarantined) as records_quarantined,
                      sum(duplicates_dropped) as duplicates, sum(id_collisions) as collisions
               from ingest_runs""",
        )
        ing.runs = rows(con, "select * from ingest_runs order by started_at desc limit $n", {"n": MAX_RUNS})
    if "ingest_manifest" in rel:
        ing.quarantined_total = one(
            con, "select count(*) as n from ingest_manifest where status = 'quarantined'"
        )["n"]
        ing.quarantined_files = rows(
            con,
            """select uri, reason, size, loaded_at, quarantine_path from ingest_manifest
               where status = 'quarantined' order by loaded_at desc, uri limit $n""",
            {"n": MAX_QUARANTINED},
        )
    if "quarantined_records" in rel:
        ing.record_reasons = rows(
            con,
            """select reason, count(*) as records, count(distinct source_key) as files,
                      min(source_key) as example_file
               from quarantined_records group by reason order by records desc, reason limit 100""",
            {},
        )
    return ing
