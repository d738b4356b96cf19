"""`roletrail detect`: run every enabled detector over the events new since the last detection.

New events are the rows ingested after the previous run's watermark (`ingested_at`). Each
detector reads from the earliest new event minus its baseline lookback, so an incremental run
costs in proportion to the new data and the baselines' windows, not to the whole history.
Each finding becomes an alert with a stable id (detector + the query's dedup key): running
again over the same events updates the alert instead of adding a second one.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fnmatch
import hashlib
import ipaddress
import json
import re
import time
import uuid
from dataclasses import dataclass, field

from detectors.base import DETAILS_NESTING, OUTPUT_COLUMNS, QUERY_COLUMNS, Detector, severity_rank
from detectors.registry import all_detectors
from pipeline import expectations
from pipeline.config import Suppression
from pipeline.engine.base import Engine
from pipeline.store import ALERT_FIELDS, RoletrailError, init_db

OUTPUT_NAMES = [c for c, _ in OUTPUT_COLUMNS]
QUERY_NAMES = [c for c, _ in QUERY_COLUMNS]
PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
MAX_EVENT_IDS = 200
# views that several detectors read: computed once per run, over the window they share
STAGED_VIEWS = ("assume_role_calls",)
DETAILS_LIST_MAX = 20  # a list in an alert's details keeps its first (sorted) 20 values


def settings(det: Detector, cfg):
    """The [detectors.<id>] section, validated when the config was loaded (defaults if absent)."""
    return getattr(cfg.detectors, det.id, None) or det.params_model()()


def detector_params(det: Detector, cfg) -> dict:
    s = settings(det, cfg)
    return {p.name: getattr(s, p.name) for p in det.params}


def enabled(cfg) -> list[Detector]:
    return [d for d in all_detectors() if settings(d, cfg).enabled]


def bind_parameters(det: Detector, cfg, window_start: dt.datetime) -> dict:
    """The `$name` values a detector's query uses: the window, config values and its parameters."""
    params = detector_params(det, cfg)
    required = cfg.source_identity.required
    bind = {
        "window_start": window_start,
        "baseline_start": window_start - det.lookback,
        "lookback_days": det.lookback.days,
        "known_cidrs": list(cfg.network.known_cidrs),
        "required_role_globs": list(required.keys()),
        "required_identity_globs": list(required.values()),
        "organization_accounts": list(cfg.organization.accounts),
        **{k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
    }
    used = set(PARAM.findall(det.sql))
    missing = used - bind.keys()
    if missing:
        raise RoletrailError(f"detector {det.id} uses unknown parameters {sorted(missing)}")
    return {k: v for k, v in bind.items() if k in used}


def glob_pattern(glob: str) -> str:
    """A glob (`*` any text, `?` one character) as an anchored regular expression that RE2
    (DuckDB), Java (Spark) and Trino read alike: metacharacters go in brackets, no backslashes."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in ".+()[]{}|$^\\":
            out.append("[" + ch + "]" if ch not in "]^\\" else "\\" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


# config lists that a query joins with reach it as small tables: name -> (columns, rows from cfg)
PARAM_TABLES = {
    # [source_identity] required and the [[roles]] entries' source_identity
    "source_identity_required": (
        ("role_glob", "role_pattern", "identity_glob", "identity_pattern"),
        expectations.required_rows,
    ),
    "role_expectations": (expectations.ROLE_COLUMNS, expectations.role_rows),
    "role_tag_rules": (expectations.TAG_COLUMNS, expectations.tag_rows),
    "role_subject_rules": (("role_pattern",), expectations.subject_role_rows),
}


def names_relation(sql: str, name: str) -> bool:
    """Whether a query names table or view `name`."""
    return re.search(rf"\b{name}\b", sql) is not None


def bind_tables(det: Detector, cfg) -> dict[str, tuple[tuple[str, ...], list[tuple]]]:
    """The PARAM_TABLES a detector's query reads, with their rows from the config."""
    return {
        name: (columns, rows(cfg))
        for name, (columns, rows) in PARAM_TABLES.items()
        if names_relation(det.sql, name)
    }


def details_of(names: list[str], values) -> dict:
    """The details columns of one finding as a JSON-ready object: `a__b` nests, lists are
    sorted and capped, decimals become numbers; a null stays a null whatever the engine."""
    details: dict = {}
    for name, value in zip(names, values, strict=True):
        *path, key = name.split(DETAILS_NESTING)
        node = details
        for part in path:
            node = node.setdefault(part, {})
        if isinstance(value, list | tuple):
            value = sorted(value, key=lambda v: (v is None, str(v)))[:DETAILS_LIST_MAX]
        elif isinstance(value, decimal.Decimal):
            value = float(value)
        node[key] = value
    return details


def run_query(engine: Engine, det: Detector, cfg, window_start: dt.datetime) -> list[dict]:
    """One detector's findings (OUTPUT_COLUMNS as dicts) for events from window_start on."""
    for name, (columns, rows) in bind_tables(det, cfg).items():
        engine.register_table(name, columns, rows)
    columns, result = engine.query(det.sql, bind_parameters(det, cfg, window_start))
    fixed = len(QUERY_NAMES)
    if columns[:fixed] != QUERY_NAMES or "details" in columns:
        raise RoletrailError(
            f"detector {det.id} returns {columns}, not the output columns {QUERY_NAMES} then its details"
        )
    extra = columns[fixed:]
    rows = []
    for r in result:
        row = dict(zip(QUERY_NAMES, r[:fixed], strict=True))
        row["event_ids"] = list(dict.fromkeys(row["event_ids"] or []))
        row["details"] = json.dumps(details_of(extra, r[fixed:]), default=str)
        rows.append(row)
    # engines return rows in no particular order; a model fitted on them must see one order
    rows.sort(key=lambda r: r["dedup_key"] or "")
    if det.postprocess is not None:
        rows = det.postprocess(rows, detector_params(det, cfg))
    return rows


def stage_views(engine: Engine, detectors: list[Detector], window_start: dt.datetime) -> list[str]:
    """Stage each of STAGED_VIEWS that two or more of `detectors` read, from the earliest of
    their baseline starts: each reads it from its own (`eventtime >= $baseline_start`), so the
    staged rows are all any of them reads (on the bench's 90 days, +1 hour: 7 detectors each
    computed 30 days of assume_role_calls, 0.24 s a time). Returns the staged views' names."""
    staged = []
    for name in STAGED_VIEWS:
        readers = [d for d in detectors if names_relation(d.sql, name)]
        if len(readers) >= 2:
            engine.stage(name, window_start - max(d.lookback for d in readers))
            staged.append(name)
    return staged


def alert_id(detector_id: str, dedup_key: str) -> str:
    return hashlib.sha256(f"{detector_id}\x00{dedup_key}".encode()).hexdigest()[:20]


def suppression_for(det_id: str, row: dict, rules: list[Suppression], today: dt.date) -> Suppression | None:
    for s in rules:
        if s.detector != det_id or s.expires < today:
            continue
        if s.role_arn and not fnmatch.fnmatchcase(row.get("role_arn") or "", s.role_arn):
            continue
        if s.account and s.account not in (row.get("account_id"), row.get("caller_account")):
            continue
        if s.session_name and not fnmatch.fnmatchcase(row.get("session_name") or "", s.session_name):
            continue
        if s.source_ip:
            net = ipaddress.ip_network(s.source_ip, strict=False)
            ips = [p.strip() for p in (row.get("source_ip") or "").split(",")]
            try:
                if not ips or not all(ipaddress.ip_address(ip) in net for ip in ips):
                    continue
            except ValueError:
                continue
        return s
    return None


@dataclass
class DetectSummary:
    run_id: str
    events_new: int = 0
    window_start: dt.datetime | None = None
    new_alerts: list[dict] = field(default_factory=list)
    updated: int = 0
    suppressed: int = 0
    per_detector: dict[str, int] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)  # enabled, but not portable to the engine
    seconds: float = 0.0

    def lines(self) -> list[str]:
        if not self.events_new:
            return ["no new events since the last detection"]
        opened = [a for a in self.new_alerts if a["status"] == "open"]
        return (
            [
                f"{self.events_new} new events from {self.window_start:%Y-%m-%d %H:%M}; "
                f"{len(opened)} new alerts, {self.updated} updated, {self.suppressed} suppressed "
                f"in {self.seconds:.2f} s"
            ]
            + [f"  {d}: {n} findings" for d, n in sorted(self.per_detector.items()) if n]
            + [f"  {d}: not run (not carried to this engine yet)" for d in self.not_run]
        )


def detect(
    con, cfg, now: dt.datetime | None = None, full: bool = False, engine: Engine | None = None
) -> DetectSummary:
    """Run the enabled detectors over new events (all events with full=True). Caller holds the lock.

    `con` is the DuckDB store (alerts, runs); `engine` runs the queries, by default DuckDB on
    that same connection."""
    started = time.monotonic()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    init_db(con)
    if engine is None:
        from pipeline.engine.duck import DuckDBEngine

        engine = DuckDBEngine(con)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    summary = DetectSummary(run_id)
    (watermark,) = con.execute("select max(watermark) from detection_runs").fetchall()[0]
    if full:
        watermark = None
    _, window = engine.query(
        """select min(eventtime), count(*), max(ingested_at) from cloudtrail_logs
           where cast($wm as timestamp) is null or ingested_at > $wm""",
        {"wm": watermark},
    )
    window_start, events_new, new_watermark = window[0]
    summary.events_new = events_new
    summary.window_start = window_start
    findings: list[tuple[Detector, dict]] = []
    if events_new:
        from pipeline.engine.dialects import portable

        detectors = []
        for det in enabled(cfg):
            if portable("detector", det.id, engine.name):
                detectors.append(det)
            else:
                summary.not_run.append(det.id)  # not carried to this engine yet (dialects.NOT_PORTABLE)
        staged = stage_views(engine, detectors, window_start)
        try:
            for det in detectors:
                rows = run_query(engine, det, cfg, window_start)
                summary.per_detector[det.id] = len(rows)
                findings += [(det, r) for r in rows]
        finally:
            for name in staged:
                engine.unstage(name)
    con.execute("begin transaction")
    try:
        _record(con, findings, cfg, summary, now)
        summary.seconds = time.monotonic() - started
        con.execute(
            "insert into detection_runs values ($run, $start, $now, $wm, $n, $ws, $new, $upd, $sup, $secs)",
            {
                "run": run_id,
                "start": now,
                "now": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "wm": new_watermark or watermark,
                "n": events_new,
                "ws": window_start,
                "new": sum(1 for a in summary.new_alerts if a["status"] == "open"),
                "upd": summary.updated,
                "sup": summary.suppressed,
                "secs": summary.seconds,
            },
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return summary


def _record(con, findings, cfg, summary: DetectSummary, now: dt.datetime) -> None:
    if not findings:
        return
    by_id: dict[str, tuple[Detector, dict]] = {}
    for det, row in findings:
        by_id[alert_id(det.id, row["dedup_key"])] = (det, row)
    existing = {
        r[0]: r
        for r in con.execute(
            "select alert_id, event_ids, event_count, first_seen, last_seen, status from alerts "
            "where list_contains($ids, alert_id)",
            {"ids": list(by_id)},
        ).fetchall()
    }
    today = now.date()
    for aid, (det, row) in by_id.items():
        ids = list(row["event_ids"] or [])
        details = row["details"]
        if det.baseline:
            d = json.loads(details) if isinstance(details, str) else dict(details or {})
            d.setdefault("baseline_description", det.baseline)
            details = json.dumps(d, default=str)
        rule = suppression_for(det.id, row, cfg.suppressions, today)
        if aid in existing:
            _, old_ids, old_count, first, last, status = existing[aid]
            if rule is not None and status == "open":
                # a suppression added since the alert opened covers its later events too
                con.execute(
                    "update alerts set status = 'suppressed', suppression_reason = $reason where alert_id = $id",
                    {"reason": rule.reason, "id": aid},
                )
                summary.suppressed += 1
            merged = list(dict.fromkeys(list(old_ids or []) + ids))[:MAX_EVENT_IDS]
            con.execute(
                """update alerts set event_ids = $ids, event_count = $count, first_seen = $first,
                   last_seen = $last, details = $details, severity = $severity, title = $title,
                   updated_at = $now where alert_id = $id""",
                {
                    "ids": merged,
                    "count": max(old_count or 0, row["event_count"] or 0, len(merged)),
                    "first": min(first, row["first_seen"]),
                    "last": max(last, row["last_seen"]),
                    "details": details,
                    "severity": row["severity"] or det.severity,
                    "title": row["title"],
                    "now": now,
                    "id": aid,
                },
            )
            summary.updated += 1
            continue
        alert = {
            "alert_id": aid,
            "detector": det.id,
            "severity": row["severity"] or det.severity,
            **{k: row[k] for k in OUTPUT_NAMES if k not in ("dedup_key", "severity", "details", "event_ids")},
            "event_ids": ids[:MAX_EVENT_IDS],
            "details": details,
            "status": "suppressed" if rule else "open",
            "suppression_reason": rule.reason if rule else None,
            "created_at": now,
            "updated_at": now,
            "run_id": summary.run_id,
        }
        con.execute(
            f"insert into alerts ({', '.join(ALERT_FIELDS)}) values ({', '.join('$' + f for f in ALERT_FIELDS)})",
            alert,
        )
        summary.suppressed += bool(rule)
        summary.new_alerts.append(alert)


def alert_rows(alerts: list[dict]) -> tuple[list[str], list[tuple]]:
    """Alerts as printable rows (DESIGN.md's jsonl fields first)."""
    cols = [
        "alert_id", "detector", "severity", "title", "role_arn", "account_id", "first_seen", "last_seen",
        "event_count", "event_ids", "details", "caller_account", "caller_arn", "source_ip", "session_name",
        "source_identity", "status",
    ]  # fmt: skip
    ordered = sorted(alerts, key=lambda a: (severity_rank(a["severity"]), a["first_seen"]))
    rows = []
    for a in ordered:
        d = a["details"]
        rows.append(tuple(json.loads(d) if c == "details" and isinstance(d, str) else a.get(c) for c in cols))
    return cols, rows
