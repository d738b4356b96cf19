"""`roletrail report --out FILE`: one self-contained HTML page about the database.

The page has the alerts by severity (with their details, runbook and false positives), each
alerted role's hourly AssumeRole volume with its baseline and the alerted hours marked (inline
SVG), each alert's role chain from the origin identity to the last hop, and the ingestion
summary (runs, quarantined files and records).

Self-contained means: inline CSS, inline SVG, no JavaScript, no fonts, images, scripts or
stylesheets from anywhere else, so the file can be mailed, attached to a ticket or opened
offline. Every value that comes from the logs or the database goes through `esc`
(html.escape with quote=True): session names, user agents, ARNs and detail values are
attacker-controlled text.

The connection may be read-only: the report only reads.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from detectors.base import SEVERITIES, SEVERITY_RANK
from detectors.registry import get as get_detector
from pipeline import chain as chain_mod

MAX_ALERTS = 200  # alerts shown in full; the rest are counted
MAX_ROLES = 25  # volume charts
MAX_CHAINS = 60
MAX_LIST_ITEMS = 30  # items of a list inside an alert's details
MAX_MARKED_ROWS = 12  # alerted hours listed under a chart
MAX_QUARANTINED = 200
MAX_RUNS = 20
CHART_DAYS = 14  # hours shown before the role's last alert
CHART_MAX_DAYS = 30
BASELINE_DAYS = 14  # the trailing window of the drawn baseline (as the volume detector's)


# --------------------------------------------------------------------------------------------
# small HTML helpers


def esc(value) -> str:
    """Text for HTML (body or attribute): every value from the logs or database goes here."""
    if value is None:
        return ""
    return html.escape(value if isinstance(value, str) else _text(value), quote=True)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return fmt_time(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) >= 1e-3 else f"{value:.3g}"
    return str(value)


def fmt_time(value, seconds: bool = True) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        parsed = _parse_time(value)
        if parsed is None:
            return value
        value = parsed
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " UTC"


def _parse_time(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def _day(value) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, dt.datetime) else _text(value)


def val(value, empty: str = "—") -> str:
    """An escaped value, or a muted dash for a missing one."""
    if value is None or value == "":
        return f'<span class="muted">{empty}</span>'
    return esc(value)


def mono(value, empty: str = "—") -> str:
    if value is None or value == "":
        return f'<span class="muted">{empty}</span>'
    return f'<span class="mono">{esc(value)}</span>'


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def sev_badge(severity: str | None) -> str:
    sev = severity if severity in SEVERITY_RANK else "info"
    return f'<span class="badge sev-{sev}">{esc(severity or "info")}</span>'


def with_code(text: str) -> str:
    """Escape text, then show `backticked` spans as code (the runbooks use them)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def anchor(prefix: str, key: str) -> str:
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_-]+", "-", key)[:80]


def field_html(label: str, body: str, wide: bool = False) -> str:
    cls = "field wide" if wide else "field"
    return f'<div class="{cls}"><div class="label">{esc(label)}</div><div class="value">{body}</div></div>'


def table(
    headers: list[str], rows: list[list[str]], cls: str = "grid", numeric: set[int] | None = None
) -> str:
    """Headers are plain text (escaped here); cells are HTML already escaped by the caller."""
    numeric = numeric or set()
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


# --------------------------------------------------------------------------------------------
# database access


def _rows(con, sql: str, params: dict | None = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _one(con, sql: str, params: dict | None = None) -> dict:
    rows = _rows(con, sql, params)
    return rows[0] if rows else {}


@contextmanager
def _materialized(con, names: list[str], relations: set[str]):
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
                quoted = '"' + db.replace('"', '""') + '"'
                con.execute(f"create temp table {name} as select * from {quoted}.main.{name}")
                made.append(name)
        yield
    finally:
        for name in made:
            con.execute(f"drop table if exists temp.main.{name}")


def _relations(con) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = current_schema()"
    ).fetchall()
    return {r[0] for r in rows}


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
            if isinstance(hour, str) and _parse_time(hour):
                return _parse_time(hour).replace(minute=0, second=0, microsecond=0)
        first = self.row.get("first_seen")
        return first.replace(minute=0, second=0, microsecond=0) if first else None


@dataclass
class Data:
    relations: set[str]
    summary: dict = field(default_factory=dict)
    accounts: list[dict] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    alert_total: int = 0
    by_severity: dict = field(default_factory=dict)  # severity -> {status: n}
    by_detector: list[dict] = field(default_factory=list)


def _load_alerts(con, limit: int) -> tuple[list[Alert], int]:
    order = " ".join(f"when '{s}' then {i}" for i, s in enumerate(SEVERITIES))
    total = con.execute("select count(*) from alerts").fetchall()[0][0]
    rows = _rows(
        con,
        f"""select * from alerts
            order by case severity {order} else {len(SEVERITIES)} end,
                     case when status = 'suppressed' then 1 else 0 end,
                     last_seen desc, alert_id
            limit $n""",
        {"n": limit},
    )
    alerts = []
    for r in rows:
        details = r.get("details")
        if isinstance(details, str):
            try:
                details = json.loads(details)
            except ValueError:
                pass
        try:
            det = get_detector(r.get("detector"))
        except KeyError:
            det = None
        alerts.append(Alert(r, details, det))
    return alerts, total


def load(con, max_alerts: int = MAX_ALERTS) -> Data:
    data = Data(_relations(con))
    if "cloudtrail_logs" in data.relations:
        data.summary = _one(
            con,
            """select count(*) as events, min(eventtime) as first_event, max(eventtime) as last_event,
                      count(distinct recipientaccountid) as accounts,
                      count(distinct awsregion) as regions
               from cloudtrail_logs""",
        )
        data.accounts = _rows(
            con,
            """select recipientaccountid as account, count(*) as events
               from cloudtrail_logs group by recipientaccountid order by events desc, account limit 50""",
        )
    if "assume_role_events" in data.relations:
        data.summary |= _one(
            con,
            """select count(*) as assumes, count(*) filter (where is_cross_account) as cross_account,
                      count(*) filter (where not succeeded) as denied
               from assume_role_events""",
        )
    if "detection_runs" in data.relations:
        data.summary |= _one(
            con, "select max(finished_at) as last_detection, count(*) as detection_runs from detection_runs"
        )
    if "alerts" in data.relations:
        data.alerts, data.alert_total = _load_alerts(con, max_alerts)
        for r in _rows(con, "select severity, status, count(*) as n from alerts group by all"):
            data.by_severity.setdefault(r["severity"], {})[r["status"]] = r["n"]
        data.by_detector = _rows(
            con,
            """select detector, count(*) filter (where status = 'open') as open,
                      count(*) filter (where status <> 'open') as suppressed, max(last_seen) as last_seen
               from alerts group by detector order by detector""",
        )
    return data


# --------------------------------------------------------------------------------------------
# page sections


def section_header(data: Data, title: str, now: dt.datetime) -> str:
    s = data.summary
    if s.get("events"):
        stats = [
            ("events", esc(s["events"])),
            (
                "time range (UTC)",
                f"{esc(_day(s['first_event']))} → {esc(_day(s['last_event']))}",
            ),
            ("accounts", esc(s.get("accounts"))),
            ("regions", esc(s.get("regions"))),
            ("AssumeRole calls", esc(s.get("assumes", 0))),
            ("cross-account", esc(s.get("cross_account", 0))),
            ("denied assumes", esc(s.get("denied", 0))),
            ("alerts", esc(data.alert_total)),
        ]
    else:
        stats = [("events", "0"), ("alerts", esc(data.alert_total))]
    tiles = "".join(
        f'<div class="stat"><div class="num">{v}</div><div class="label">{esc(k)}</div></div>'
        for k, v in stats
    )
    sev_tiles = "".join(
        f'<div class="sevcount"><span class="badge sev-{sev}">{esc(sev)}</span>'
        f'<span class="n">{esc(data.by_severity.get(sev, {}).get("open", 0))}</span> open'
        + (
            f' <span class="muted">· {esc(sum(n for st, n in data.by_severity[sev].items() if st != "open"))} suppressed</span>'
            if any(st != "open" for st in data.by_severity.get(sev, {}))
            else ""
        )
        + "</div>"
        for sev in SEVERITIES
    )
    accounts = ""
    if data.accounts:
        chips = "".join(
            f'<span class="chip"><span class="mono">{esc(a["account"])}</span> '
            f'<span class="muted">{esc(a["events"])}</span></span>'
            for a in data.accounts
        )
        more = ""
        if s.get("accounts", 0) > len(data.accounts):
            more = f' <span class="muted">and {esc(s["accounts"] - len(data.accounts))} more</span>'
        accounts = f'<div class="accounts"><span class="label">accounts (events)</span> {chips}{more}</div>'
    last_det = ""
    if s.get("last_detection"):
        last_det = f" · last detection run {esc(fmt_time(s['last_detection']))}"
    return (
        f'<header class="top"><div class="wrap"><h1>{esc(title)}</h1>'
        f'<div class="sub">generated {esc(fmt_time(now))}{last_det}</div></div></header>'
        f'<div class="wrap"><section class="card summary"><div class="stats">{tiles}</div>'
        f'<div class="sevcounts">{sev_tiles}</div>{accounts}</section>'
    )


def section_nav(counts: dict) -> str:
    items = [
        ("alerts", f"Alerts ({counts['alerts']})"),
        ("volume", f"Role volume ({counts['roles']})"),
        ("chains", f"Chains ({counts['chains']})"),
        ("ingestion", "Ingestion"),
    ]
    return '<nav class="toc">' + "".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in items) + "</nav>"


def render_details(value) -> str:
    """An alert's details JSON as nested key/value tables; every key and value escaped."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">{}</span>'
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{render_details(v)}</td></tr>" for k, v in value.items())
        return f'<table class="kv">{rows}</table>'
    if isinstance(value, list):
        if not value:
            return '<span class="muted">[]</span>'
        shown = value[:MAX_LIST_ITEMS]
        more = (
            f'<span class="muted"> … {esc(len(value) - len(shown))} more</span>'
            if len(value) > len(shown)
            else ""
        )
        if all(not isinstance(v, dict | list) for v in shown):
            return (
                '<span class="chips">'
                + "".join(f'<span class="chip">{val(v, "null")}</span>' for v in shown)
                + more
                + "</span>"
            )
        return (
            '<ol class="nested">' + "".join(f"<li>{render_details(v)}</li>" for v in shown) + f"</ol>{more}"
        )
    if value is None:
        return '<span class="muted">null</span>'
    if isinstance(value, bool):
        return f'<span class="mono">{esc(value)}</span>'
    return esc(value)


def alert_card(a: Alert, links: dict) -> str:
    det = a.detector
    sev = a["severity"] or "info"
    status = a["status"] or "open"
    status_html = badge(status, "st-open" if status == "open" else "st-suppressed")
    suppression = ""
    if status != "open":
        reason = val(a["suppression_reason"], "no reason recorded")
        suppression = f'<div class="suppressed-note">{esc(status)}: {reason}</div>'
    det_html = (
        f'{esc(det.title)} <span class="muted mono">{esc(det.id)}</span>'
        + "".join(f' <span class="chip attack">{esc(t)}</span>' for t in det.attack)
        if det
        else mono(a["detector"])
    )
    caller_acct, target_acct = a["caller_account"], a["account_id"]
    accounts = f"{mono(caller_acct)} → {mono(target_acct)}"
    if caller_acct and target_acct and caller_acct != target_acct:
        accounts += ' <span class="chip">cross-account</span>'
    fields = [
        field_html("detector", det_html, wide=True),
        field_html("role", mono(a["role_arn"]), wide=True),
        field_html("caller account → target account", accounts),
        field_html("caller", mono(a["caller_arn"])),
        field_html("source IP", mono(a["source_ip"])),
        field_html("session name", mono(a["session_name"])),
        field_html("source identity", mono(a["source_identity"])),
        field_html("user agent", val(a["user_agent"])),
        field_html("first seen", val(a["first_seen"])),
        field_html("last seen", val(a["last_seen"])),
        field_html("events", val(a["event_count"])),
    ]
    runbook = fps = ""
    if det:
        runbook = (
            '<h4>Runbook</h4><ol class="runbook">'
            + "".join(f"<li>{with_code(s)}</li>" for s in det.runbook)
            + "</ol>"
        )
        fps = (
            "<h4>Known false positives</h4><ul>"
            + "".join(f"<li>{with_code(s)}</li>" for s in det.false_positives)
            + "</ul>"
        )
    explanation = ""
    if isinstance(a.details, dict) and a.details.get("explanation"):
        explanation = f'<p class="explanation">{esc(a.details["explanation"])}</p>'
    investigate = ""
    if a.first_event:
        investigate = (
            f'<div class="investigate"><span class="label">investigate</span>'
            f"<code>roletrail chain {esc(a.first_event)}</code></div>"
        )
    jump = []
    if a["role_arn"] and a["role_arn"] in links.get("roles", {}):
        jump.append(f'<a href="#{links["roles"][a["role_arn"]]}">volume chart</a>')
    if a["alert_id"] in links.get("chains", {}):
        jump.append(f'<a href="#{links["chains"][a["alert_id"]]}">chain</a>')
    jump_html = f'<div class="jump">{" · ".join(jump)}</div>' if jump else ""
    return (
        f'<article class="alert sev-border-{esc(sev if sev in SEVERITY_RANK else "info")}'
        f'{" is-suppressed" if status != "open" else ""}" id="{anchor("alert", a["alert_id"] or "")}">'
        f'<div class="alert-head">{sev_badge(sev)} {status_html}<h3>{esc(a["title"])}</h3>'
        f'<span class="alert-id mono">{esc(a["alert_id"])}</span></div>'
        f"{suppression}{explanation}"
        f'<div class="fields">{"".join(fields)}</div>'
        f'<div class="two"><div><h4>Details</h4>{render_details(a.details)}</div>'
        f"<div>{runbook}{fps}</div></div>"
        f'<div class="alert-foot">{investigate}{jump_html}</div>'
        "</article>"
    )


def section_alerts(data: Data, links: dict) -> str:
    parts = ['<section id="alerts"><h2>Alerts</h2>']
    if not data.alerts:
        parts.append('<p class="empty">No alerts in the database.</p>')
    if data.by_detector:
        rows = []
        for d in data.by_detector:
            try:
                det = get_detector(d["detector"])
                name = f'{esc(det.title)} <span class="muted mono">{esc(det.id)}</span>'
                sev = sev_badge(det.severity)
                attack = " ".join(f'<span class="chip attack">{esc(t)}</span>' for t in det.attack)
            except KeyError:
                name, sev, attack = mono(d["detector"]), "", ""
            rows.append([name, sev, attack, esc(d["open"]), esc(d["suppressed"]), val(d["last_seen"])])
        parts.append(
            table(
                ["detector", "default severity", "ATT&CK", "open", "suppressed", "last seen"],
                rows,
                numeric={3, 4},
            )
        )
    for sev in SEVERITIES + ("other",):
        group = [
            a
            for a in data.alerts
            if (a["severity"] == sev if sev != "other" else a["severity"] not in SEVERITY_RANK)
        ]
        if not group:
            continue
        parts.append(
            f'<h3 class="sev-heading">{sev_badge(sev)} '
            f"{esc(len(group))} alert{'s' if len(group) != 1 else ''}</h3>"
        )
        parts.extend(alert_card(a, links) for a in group)
    if data.alert_total > len(data.alerts):
        parts.append(
            f'<p class="note">{esc(data.alert_total - len(data.alerts))} more alerts are not shown in full '
            f"(the page shows the {esc(len(data.alerts))} most severe). List them with "
            '<code>roletrail sql "select * from alerts order by last_seen desc"</code>.</p>'
        )
    parts.append("</section>")
    return "".join(parts)


# ---- role volume charts


VOLUME_SQL = """
with calls as (
    select
        date_trunc('hour', eventtime) as hour,
        count(*) as calls,
        count(error_code) as errors
    from roletrail_report_calls
    where role_arn = $role
      and eventtime >= $baseline_start
      and eventtime < $end
    group by date_trunc('hour', eventtime)
),

hours as (
    select unnest(generate_series($start, $end - interval 1 hour, interval 1 hour)) as hour
),

baseline as (
    select
        h.hour,
        median(c.calls) as baseline_median,
        count(c.hour) as baseline_hours
    from hours as h
    left join calls as c
        on c.hour >= h.hour - to_days($baseline_days)
       and c.hour < h.hour
    group by h.hour
)

select
    h.hour,
    coalesce(c.calls, 0) as calls,
    coalesce(c.errors, 0) as errors,
    b.baseline_median,
    b.baseline_hours
from hours as h
left join calls as c
    on c.hour = h.hour
inner join baseline as b
    on b.hour = h.hour
order by h.hour
"""

# the alerted roles' calls, read once (assume_role_calls is a view over every record)
CALLS_SQL = """
create or replace temp table roletrail_report_calls as
select role_arn, eventtime, error_code
from assume_role_calls
where role_arn in (select unnest($roles::varchar[]))
  and eventtime >= $since
"""


@dataclass
class RoleChart:
    role_arn: str
    alerts: list[Alert]
    start: dt.datetime
    end: dt.datetime
    hours: list[dict] = field(default_factory=list)
    marks: dict = field(default_factory=dict)  # hour -> [Alert]

    @property
    def severity(self) -> str:
        return min((a["severity"] for a in self.alerts), key=lambda s: SEVERITY_RANK.get(s, 99))


def _hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0, tzinfo=None)


def build_charts(con, data: Data) -> list[RoleChart]:
    if "assume_role_calls" not in data.relations:
        return []
    by_role: dict[str, list[Alert]] = {}
    for a in data.alerts:
        if a["role_arn"] and a["first_seen"]:
            by_role.setdefault(a["role_arn"], []).append(a)
    data_start = data.summary.get("first_event")
    data_end = data.summary.get("last_event")
    charts = []
    for role, alerts in by_role.items():
        last = max(a["last_seen"] or a["first_seen"] for a in alerts)
        first = min(a.alerted_hour or a["first_seen"] for a in alerts)
        end = _hour(last) + dt.timedelta(hours=1)
        if data_end:
            # a little context after the last alert, as far as there is data
            end = max(end, min(end + dt.timedelta(hours=12), _hour(data_end) + dt.timedelta(hours=1)))
        start = end - dt.timedelta(days=CHART_DAYS)
        if first < start:
            start = max(_hour(first) - dt.timedelta(days=1), end - dt.timedelta(days=CHART_MAX_DAYS))
        if data_start:
            start = max(start, _hour(data_start))
        charts.append(RoleChart(role, alerts, start, end))
    charts.sort(key=lambda c: (SEVERITY_RANK.get(c.severity, 99), -len(c.alerts), c.role_arn))
    charts = charts[:MAX_ROLES]
    if not charts:
        return []
    since = min(c.start for c in charts) - dt.timedelta(days=BASELINE_DAYS)
    con.execute(CALLS_SQL, {"roles": [c.role_arn for c in charts], "since": since})
    try:
        for c in charts:
            c.hours = _rows(
                con,
                VOLUME_SQL,
                {
                    "role": c.role_arn,
                    "start": c.start,
                    "end": c.end,
                    "baseline_start": c.start - dt.timedelta(days=BASELINE_DAYS),
                    "baseline_days": BASELINE_DAYS,
                },
            )
    finally:
        con.execute("drop table if exists temp.main.roletrail_report_calls")
    for c in charts:
        for a in c.alerts:
            h = a.alerted_hour
            if h is not None and c.start <= h < c.end:
                c.marks.setdefault(h, []).append(a)
    return charts


def _nice_ceiling(v: float) -> float:
    if v <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp + 1e-9:
            return m * exp
    return 10 * exp


def _alert_label(a: Alert) -> str:
    if isinstance(a.details, dict) and a.details.get("explanation"):
        return f"{a['severity']} {a['detector']}: {a.details['explanation']}"
    return f"{a['severity']}: {a['title']}"


class Scale:
    """Calls per hour to a height. Square-root when a spike would flatten everything else to
    nothing (the page says so on the axis); linear otherwise."""

    def __init__(self, hours: list[dict]):
        active = sorted(h["calls"] for h in hours if h["calls"])
        peak = max([h["calls"] for h in hours] + [float(h["baseline_median"] or 0) for h in hours] + [1])
        typical = active[len(active) // 2] if active else 1
        self.sqrt = peak > 12 * max(typical, 1) and peak >= 20
        self.max = _nice_ceiling(peak) if peak > 5 else math.ceil(peak)

    def frac(self, v: float) -> float:
        f = max(v, 0) / self.max
        return math.sqrt(f) if self.sqrt else f

    def ticks(self) -> list[float]:
        if not self.sqrt:
            step = max(_nice_ceiling(self.max / 4), 1)
            return [i * step for i in range(int(self.max / step) + 1)]
        out, last = [0.0], 0.0
        exp = 1
        candidates = []
        while exp <= self.max:
            candidates += [exp, 2 * exp, 5 * exp]
            exp *= 10
        for v in sorted(set(candidates)):
            pos = self.frac(v)
            if v <= self.max and pos - last >= 0.12 and (1 - pos >= 0.1 or v == self.max):
                out.append(float(v))
                last = pos
        if out[-1] != self.max:
            out.append(float(self.max))
        return out


def volume_svg(c: RoleChart) -> str:
    W, H = 1100, 230
    left, right, top, bottom = 52, 14, 20, 34
    pw, ph = W - left - right, H - top - bottom
    n = max(len(c.hours), 1)
    bw = pw / n
    scale = Scale(c.hours)

    def y(v: float) -> float:
        return top + ph - scale.frac(v) * ph

    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="hourly AssumeRole calls for {esc(c.role_arn)}">'
    ]
    for v in scale.ticks():
        yy = y(v)
        out.append(f'<line class="grid" x1="{left}" x2="{W - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        out.append(
            f'<text class="axis" x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{esc(_text(v))}</text>'
        )
    unit = "calls/hour" + (" (√ scale)" if scale.sqrt else "")
    out.append(
        f'<text class="axis" transform="translate(12,{top + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{esc(unit)}</text>'
    )
    # day boundaries on the x axis
    days = (c.end - c.start).days or 1
    every = 1 if days <= 16 else 2 if days <= 32 else 7
    for i, h in enumerate(c.hours):
        t = h["hour"]
        if t.hour == 0:
            x = left + i * bw
            out.append(f'<line class="day" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}"/>')
            if (t - dt.datetime(2000, 1, 1)).days % every == 0 and x + 40 < W - right:
                out.append(
                    f'<text class="axis" x="{x + 2:.1f}" y="{H - 12}">{esc(t.strftime("%b %d"))}</text>'
                )
    # bars: successful and failed calls; alerted hours in their own colour with a marker
    for i, h in enumerate(c.hours):
        calls, errors = h["calls"], h["errors"]
        marked = h["hour"] in c.marks
        if not calls and not marked:
            continue
        x = left + i * bw
        tip = f"{fmt_time(h['hour'], False)}: {calls} AssumeRole call{'s' if calls != 1 else ''}"
        if errors:
            tip += f" ({errors} failed)"
        if h["baseline_median"] is not None:
            tip += f"; baseline median {_text(float(h['baseline_median']))} over {h['baseline_hours']} active hours"
        if marked:
            tip += "".join("\nALERT " + _alert_label(a) for a in c.marks[h["hour"]])
        w = max(bw - (0.6 if bw > 2 else 0), 0.8)
        out.append(f'<g class="{"alerted" if marked else "hour"}"><title>{esc(tip)}</title>')
        if marked:
            cx = x + w / 2
            out.append(
                f'<rect class="hit" x="{cx - max(w, 4) / 2:.2f}" y="{top}" width="{max(w, 4):.2f}" height="{ph}"/>'
                f'<rect class="bar anomalous" x="{cx - max(w, 2.5) / 2:.2f}" y="{y(calls):.2f}" '
                f'width="{max(w, 2.5):.2f}" height="{top + ph - y(calls):.2f}"/>'
                f'<path class="marker" d="M{cx - 6:.1f},{top - 10} h12 l-6,9 z"/>'
            )
        else:
            if calls > errors:
                out.append(
                    f'<rect class="bar" x="{x:.2f}" y="{y(calls):.2f}" width="{w:.2f}" '
                    f'height="{y(errors) - y(calls):.2f}"/>'
                )
            if errors:
                out.append(
                    f'<rect class="bar failed" x="{x:.2f}" y="{y(errors):.2f}" width="{w:.2f}" '
                    f'height="{top + ph - y(errors):.2f}"/>'
                )
        out.append("</g>")
    # baseline: a step line of the trailing median
    path, prev = [], None
    for i, h in enumerate(c.hours):
        m = h["baseline_median"]
        x0, x1 = left + i * bw, left + (i + 1) * bw
        if m is None:
            prev = None
            continue
        yy = y(float(m))
        if prev is None:
            path.append(f"M{x0:.1f},{yy:.1f}")
        elif abs(prev - yy) > 0.01:
            path.append(f"V{yy:.1f}")
        path.append(f"H{x1:.1f}")
        prev = yy
    if path:
        out.append(
            f'<path class="baseline" d="{" ".join(path)}"><title>baseline: trailing {BASELINE_DAYS}-day '
            "median of the role's active hours</title></path>"
        )
    out.append(f'<line class="axisline" x1="{left}" x2="{W - right}" y1="{top + ph}" y2="{top + ph}"/>')
    out.append("</svg>")
    return "".join(out)


def chart_card(c: RoleChart, cid: str) -> str:
    total = sum(h["calls"] for h in c.hours)
    failed = sum(h["errors"] for h in c.hours)
    by_hour = {h["hour"]: h for h in c.hours}
    rows = []
    for hour in sorted(c.marks)[:MAX_MARKED_ROWS]:
        h = by_hour.get(hour, {})
        base = h.get("baseline_median")
        base_html = esc(float(base)) if base is not None else '<span class="muted">none yet</span>'
        alerts = []
        for a in c.marks[hour]:
            extra = ""
            if a["detector"] == "assume_role_volume_spike" and isinstance(a.details, dict):
                b = a.details.get("baseline") or {}
                st = b.get("assumes") or {}
                extra = (
                    f'<div class="muted small">detector baseline: median {esc(st.get("median"))}, '
                    f"IQR {esc(st.get('iqr'))}, busiest hour {esc(st.get('max'))} over "
                    f"{esc(b.get('hours'))} active hours in {esc(b.get('window_days'))} days</div>"
                )
            alerts.append(
                f'<div>{sev_badge(a["severity"])} <a href="#{anchor("alert", a["alert_id"] or "")}">'
                f"{esc(a['title'])}</a>{extra}</div>"
            )
        rows.append(
            [
                f'<span class="nowrap">{esc(fmt_time(hour, False))}</span>',
                esc(h.get("calls", 0)),
                base_html,
                "".join(alerts),
            ]
        )
    more_hours = ""
    if len(c.marks) > MAX_MARKED_ROWS:
        more_hours = (
            f'<p class="note">{esc(len(c.marks) - MAX_MARKED_ROWS)} more alerted hours are marked on the '
            "chart and listed under Alerts.</p>"
        )
    not_shown = [a for a in c.alerts if a.alerted_hour is None or not (c.start <= a.alerted_hour < c.end)]
    note = ""
    if not_shown:
        note = f'<p class="note">{esc(len(not_shown))} older alert(s) of this role fall before the chart window.</p>'
    scale_note = " (square-root scale)" if Scale(c.hours).sqrt else ""
    return (
        f'<article class="card role" id="{cid}"><div class="role-head">{sev_badge(c.severity)} '
        f'<h3 class="mono">{esc(c.role_arn)}</h3></div>'
        f'<div class="muted small">{esc(fmt_time(c.start, False))} → {esc(fmt_time(c.end, False))} · '
        f"{esc(total)} AssumeRole calls ({esc(failed)} failed) · {esc(len(c.alerts))} alert(s)</div>"
        f"{volume_svg(c)}"
        f'<div class="legend"><span class="sw bar"></span>calls per hour{esc(scale_note)}'
        '<span class="sw failed"></span>failed<span class="sw anomalous"></span>alerted hour'
        f'<span class="sw baseline"></span>baseline: trailing {BASELINE_DAYS}-day median of active hours</div>'
        + (
            table(
                ["alerted hour", "calls", "baseline median", "alerts"],
                rows,
                cls="grid compact",
                numeric={1, 2},
            )
            if rows
            else ""
        )
        + more_hours
        + note
        + "</article>"
    )


def section_volume(charts: list[RoleChart], role_ids: dict, total_roles: int) -> str:
    parts = ['<section id="volume"><h2>Role volume</h2>']
    if not charts:
        parts.append('<p class="empty">No alerted roles to chart.</p>')
    else:
        parts.append(
            '<p class="intro">Hourly AssumeRole calls to each role with an alert (both accounts\' records '
            "of a cross-account call counted once). Hover a bar for its numbers.</p>"
        )
    parts.extend(chart_card(c, role_ids[c.role_arn]) for c in charts)
    if total_roles > len(charts):
        parts.append(
            f'<p class="note">{esc(total_roles - len(charts))} more alerted roles are not charted.</p>'
        )
    parts.append("</section>")
    return "".join(parts)


# ---- chains


@dataclass
class ChainView:
    chain: object  # pipeline.chain.Chain
    alerts: list[Alert]


def build_chains(con, data: Data) -> list[ChainView]:
    if "role_sessions" not in data.relations:
        return []
    views: dict[tuple, ChainView] = {}
    for a in data.alerts:
        if len(views) >= MAX_CHAINS:
            break
        if not a.first_event:
            continue
        ch = chain_mod.find(con, a.first_event)
        if ch is None or not (ch.hops or ch.failed_hop):
            continue
        key = tuple(h.get("issuing_eventid") for h in ch.hops) + (
            (ch.failed_hop or {}).get("issuing_eventid"),
        )
        if key in views:
            views[key].alerts.append(a)
        else:
            views[key] = ChainView(ch, [a])
    return list(views.values())


def _role_name(arn: str | None) -> str:
    if not arn:
        return ""
    return arn.rsplit("/", 1)[-1]


def hop_box(i: int, h: dict, denied: bool) -> str:
    rows = [
        ("account", mono(h.get("role_account"))),
        ("session", mono(h.get("role_session_name"))),
        ("source identity", mono(h.get("source_identity"))),
        ("source IP", mono(h.get("source_ip"))),
        ("time", f'<span class="nowrap">{val(h.get("issued_at"))}</span>'),
    ]
    body = "".join(
        f'<div class="kvline"><span class="k">{esc(k)}</span><span class="v">{v}</span></div>'
        for k, v in rows
    )
    ua = h.get("user_agent")
    if ua:
        clipped = ua[:140] + ("…" if len(ua) > 140 else "")
        body += f'<div class="ua small muted" title="{esc(ua[:1000])}">{esc(clipped)}</div>'
    if denied:
        status = (
            f'<div class="denied-msg"><b>DENIED</b> {esc(h.get("error_code") or "")}'
            f'<div class="small">{esc(h.get("error_message") or "")}</div></div>'
        )
    else:
        status = f'<div class="small muted">issued key <span class="mono">{esc(h.get("access_key_id"))}</span></div>'
    return (
        f'<div class="box hop{" denied" if denied else ""}"><div class="box-head">hop {esc(i)} · '
        f"{esc(h.get('eventname') or 'AssumeRole')}{' · denied' if denied else ''}</div>"
        f'<div class="box-title">{esc(_role_name(h.get("role_arn")))}</div>'
        f'<div class="mono small arn">{esc(h.get("role_arn"))}</div>{body}{status}</div>'
    )


def arrow(h: dict) -> str:
    cross = (
        h.get("caller_account") and h.get("role_account") and h.get("caller_account") != h.get("role_account")
    )
    label = "cross-account" if cross else "same account"
    return f'<div class="arrow"><span class="small">{esc(label)}</span><span class="glyph">→</span></div>'


def chain_card(v: ChainView, cid: str) -> str:
    ch = v.chain
    o = ch.origin
    note = "" if o.get("complete") else '<div class="small warn">its issuing assume was not ingested</div>'
    origin = (
        f'<div class="box origin"><div class="box-head">origin · {esc(o.get("type"))}</div>'
        f'<div class="box-title mono small arn">{esc(o.get("identity"))}</div>'
        f'<div class="kvline"><span class="k">account</span><span class="v">{mono(o.get("account"))}</span></div>'
        f'<div class="kvline"><span class="k">source IP</span><span class="v">{mono(o.get("source_ip"))}</span></div>'
        f"{note}</div>"
    )
    parts = [origin]
    hops = list(ch.hops)
    for i, h in enumerate(hops, 1):
        parts.append(arrow(h))
        parts.append(hop_box(i, h, denied=False))
    if ch.failed_hop:
        parts.append(arrow(ch.failed_hop))
        parts.append(hop_box(len(hops) + 1, ch.failed_hop, denied=True))
    if ch.actions:
        acts = "".join(
            f'<li><span class="mono">{esc(a["eventsource"])} {esc(a["eventname"])}</span> ×{esc(a["calls"])}'
            + (f' <span class="warn">{esc(a["errors"])} errors</span>' if a["errors"] else "")
            + "</li>"
            for a in ch.actions[:15]
        )
        more = f'<li class="muted">… {esc(len(ch.actions) - 15)} more</li>' if len(ch.actions) > 15 else ""
        parts.append(
            '<div class="arrow"><span class="small">used key</span><span class="glyph">→</span></div>'
        )
        parts.append(
            f'<div class="box actions"><div class="box-head">what the last session did</div><ul>{acts}{more}</ul></div>'
        )
    alerts = " ".join(
        f'{sev_badge(a["severity"])} <a href="#{anchor("alert", a["alert_id"] or "")}">{esc(a["title"])}</a>'
        for a in v.alerts[:5]
    )
    if len(v.alerts) > 5:
        alerts += f' <span class="muted">and {esc(len(v.alerts) - 5)} more</span>'
    depth = len(hops) + (1 if ch.failed_hop else 0)
    return (
        f'<article class="card chain" id="{cid}"><div class="chain-head">'
        f'<span class="label">{esc(depth)} hop{"s" if depth != 1 else ""}</span> {alerts}</div>'
        f'<div class="flow">{"".join(parts)}</div>'
        f'<div class="small muted">roletrail chain <span class="mono">{esc(ch.query)}</span></div></article>'
    )


def section_chains(views: list[ChainView], chain_ids: list[str]) -> str:
    parts = ['<section id="chains"><h2>Chains</h2>']
    if not views:
        parts.append('<p class="empty">No alert belongs to a role session chain.</p>')
    else:
        parts.append(
            '<p class="intro">Who really acted: from the origin identity through every role hop to the '
            "alert's call. Alerts on the same chain share one drawing.</p>"
        )
    parts.extend(chain_card(v, cid) for v, cid in zip(views, chain_ids, strict=True))
    parts.append("</section>")
    return "".join(parts)


# ---- ingestion


def section_ingestion(con, data: Data) -> str:
    parts = ['<section id="ingestion"><h2>Ingestion</h2>']
    rel = data.relations
    if "ingest_runs" in rel:
        tot = _one(
            con,
            """select count(*) as runs, sum(objects_listed) as listed, sum(objects_loaded) as loaded,
                      sum(objects_skipped) as skipped, sum(objects_quarantined) as quarantined,
                      sum(records_loaded) as records, sum(records_quarantined) as records_quarantined,
                      sum(duplicates_dropped) as duplicates, sum(id_collisions) as collisions
               from ingest_runs""",
        )
        tiles = [
            ("runs", tot.get("runs")),
            ("files listed", tot.get("listed")),
            ("files loaded", tot.get("loaded")),
            ("files skipped", tot.get("skipped")),
            ("files quarantined", tot.get("quarantined")),
            ("records loaded", tot.get("records")),
            ("records quarantined", tot.get("records_quarantined")),
            ("duplicates dropped", tot.get("duplicates")),
            ("event id collisions", tot.get("collisions")),
        ]
        parts.append(
            '<div class="card"><div class="stats">'
            + "".join(
                f'<div class="stat{" bad" if k.endswith("quarantined") and v else ""}"><div class="num">'
                f'{esc(v or 0)}</div><div class="label">{esc(k)}</div></div>'
                for k, v in tiles
            )
            + "</div>"
        )
        runs = _rows(con, "select * from ingest_runs order by started_at desc limit $n", {"n": MAX_RUNS})
        if runs:
            parts.append(
                table(
                    ["started", "source", "listed", "new", "loaded", "skipped", "quarantined", "records",
                     "bad records", "duplicates", "seconds"],
                    [
                        [
                            val(r["started_at"]), mono(r["source"]), esc(r["objects_listed"] or 0),
                            esc(r["objects_new"] or 0), esc(r["objects_loaded"] or 0), esc(r["objects_skipped"] or 0),
                            esc(r["objects_quarantined"] or 0), esc(r["records_loaded"] or 0),
                            esc(r["records_quarantined"] or 0), esc(r["duplicates_dropped"] or 0),
                            esc(round(r["seconds"] or 0, 2)),
                        ]
                        for r in runs
                    ],
                    numeric=set(range(2, 11)),
                )
            )  # fmt: skip
            if tot.get("runs", 0) > len(runs):
                parts.append(f'<p class="note">latest {esc(len(runs))} of {esc(tot["runs"])} runs</p>')
        parts.append("</div>")
    if "ingest_manifest" in rel:
        total_q = con.execute("select count(*) from ingest_manifest where status = 'quarantined'").fetchall()[
            0
        ][0]
        parts.append(f"<h3>Quarantined files ({esc(total_q)})</h3>")
        if total_q:
            files = _rows(
                con,
                """select uri, reason, size, loaded_at, quarantine_path from ingest_manifest
                   where status = 'quarantined' order by loaded_at desc, uri limit $n""",
                {"n": MAX_QUARANTINED},
            )
            parts.append(
                table(
                    ["file", "reason", "bytes", "seen", "kept at"],
                    [
                        [
                            mono(f["uri"]),
                            val(f["reason"]),
                            esc(f["size"]),
                            val(f["loaded_at"]),
                            mono(f["quarantine_path"]),
                        ]
                        for f in files
                    ],
                    numeric={2},
                )
            )
            if total_q > len(files):
                parts.append(f'<p class="note">{esc(total_q - len(files))} more quarantined files.</p>')
        else:
            parts.append('<p class="empty">No quarantined files.</p>')
    if "quarantined_records" in rel:
        reasons = _rows(
            con,
            """select reason, count(*) as records, count(distinct source_key) as files,
                      min(source_key) as example_file
               from quarantined_records group by reason order by records desc, reason limit 100""",
        )
        parts.append(f"<h3>Quarantined records ({esc(sum(r['records'] for r in reasons))})</h3>")
        if reasons:
            parts.append(
                table(
                    ["reason", "records", "files", "example file"],
                    [
                        [val(r["reason"]), esc(r["records"]), esc(r["files"]), mono(r["example_file"])]
                        for r in reasons
                    ],
                    numeric={1, 2},
                )
            )
        else:
            parts.append('<p class="empty">No quarantined records.</p>')
    if not rel & {"ingest_runs", "ingest_manifest", "quarantined_records"}:
        parts.append('<p class="empty">Nothing ingested yet.</p>')
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------

CSS = """
:root{--bg:#f4f5f7;--card:#fff;--ink:#1f2328;--muted:#667085;--line:#e3e6ea;--accent:#1864ab;
--critical:#a51d2d;--high:#d9480f;--medium:#e8a400;--low:#1971c2;--info:#6c757d;--bar:#4c7fbf;--fail:#f08c00;--hit:#d6336c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
.mono{overflow-wrap:anywhere}
code{background:#eef1f4;border-radius:4px;padding:1px 5px;overflow-wrap:anywhere}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.wrap{max-width:1280px;margin:0 auto;padding:0 24px}
header.top{background:#1f2937;color:#fff;padding:18px 0 16px}
header.top h1{margin:0;font-size:22px;font-weight:650;letter-spacing:.2px}
header.top .sub{color:#cbd5e1;font-size:13px;margin-top:2px}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(244,245,247,.96);border-bottom:1px solid var(--line);
padding:8px 0;margin:0 -24px 8px;padding-left:24px}
nav.toc a{margin-right:18px;font-weight:550}
h2{font-size:19px;margin:28px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:16px 0 8px}h4{font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);margin:10px 0 6px}
.card,.alert{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:12px 0;
box-shadow:0 1px 2px rgba(16,24,40,.05)}
.summary{margin-top:16px}
.stats{display:flex;flex-wrap:wrap;gap:10px}
.stat{min-width:96px;padding:6px 10px;border:1px solid var(--line);border-radius:6px;background:#fafbfc}
.stat .num{font-size:18px;font-weight:650;white-space:nowrap}.stat .label,.label{color:var(--muted);font-size:12px}
.stat.bad{border-color:#f5c2c7;background:#fff5f5}.stat.bad .num{color:var(--critical)}
.sevcounts{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}
.sevcount{padding:6px 10px;border-radius:6px;border:1px solid var(--line);background:#fafbfc}
.sevcount .n{font-weight:700;margin:0 2px 0 6px}
.accounts{margin-top:10px}.accounts .label{margin-right:6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11.5px;font-weight:650;text-transform:uppercase;
letter-spacing:.4px;color:#fff;background:var(--info);vertical-align:middle;white-space:nowrap}
.sev-critical{background:var(--critical)}.sev-high{background:var(--high)}.sev-medium{background:var(--medium);color:#2b2100}
.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.st-open{background:#fff;color:var(--critical);border:1px solid currentColor}
.st-suppressed{background:#e9ecef;color:#495057}
.chip{display:inline-block;background:#eef1f4;border-radius:4px;padding:0 6px;margin:1px 3px 1px 0;font-size:12px;overflow-wrap:anywhere}
.chip.attack{background:#e7f0fb;color:#1c4f8a;font-family:ui-monospace,Menlo,Consolas,monospace}
.muted{color:var(--muted)}.small{font-size:12px}.warn{color:var(--high)}
.alert{border-left:5px solid var(--info)}
.sev-border-critical{border-left-color:var(--critical)}.sev-border-high{border-left-color:var(--high)}
.sev-border-medium{border-left-color:var(--medium)}.sev-border-low{border-left-color:var(--low)}
.alert-head{display:flex;align-items:center;gap:8px;flex-wrap:wrap}
.alert-head h3{margin:0;flex:1 1 400px;font-size:15px;overflow-wrap:anywhere}
.alert-id{color:var(--muted);font-size:11.5px}
.sev-heading{display:flex;align-items:center;gap:8px;margin-top:22px}
.alert.is-suppressed{background:#fbfbfc}.alert.is-suppressed h3{color:#495057}
.suppressed-note{margin-top:6px;padding:4px 8px;background:#f1f3f5;border-radius:4px;color:#495057;font-size:13px}
.explanation{margin:8px 0 0;font-weight:550}
.fields{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:8px 18px;margin:12px 0 4px}
.field.wide{grid-column:span 2}
.field .value{overflow-wrap:anywhere}
.two{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:22px;border-top:1px solid var(--line);margin-top:10px}
.runbook li,.two ul li{margin:3px 0}
.two ol,.two ul{padding-left:20px;margin:4px 0}
table.kv{border-collapse:collapse;font-size:12.5px;width:100%}
table.kv th{text-align:left;vertical-align:top;color:#475467;font-weight:550;padding:2px 10px 2px 0;white-space:nowrap;width:1%}
table.kv td{padding:2px 0;overflow-wrap:anywhere}
table.kv table.kv{border-left:2px solid var(--line);padding-left:8px}
table.kv table.kv th,table.kv table.kv td{padding-left:6px}
ol.nested{margin:0;padding-left:18px}
.alert-foot{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:8px;margin-top:10px;
border-top:1px solid var(--line);padding-top:8px}
.investigate .label{margin-right:8px}
.table-wrap{overflow-x:auto}
table.grid{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0;background:var(--card)}
table.grid th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:6px 8px;
background:#fafbfc}
table.grid td{border-bottom:1px solid #eef0f2;padding:5px 8px;vertical-align:top;overflow-wrap:anywhere}
table.grid .num{text-align:right;white-space:nowrap}
table.compact td,table.compact th{padding:3px 8px}
.role-head{display:flex;align-items:center;gap:8px}.role-head h3{margin:0;font-size:14px}
svg.chart{width:100%;height:auto;display:block;margin-top:6px}
svg .grid{stroke:#eef0f2;stroke-width:1}svg .day{stroke:#e3e6ea;stroke-dasharray:2 3}
svg .axisline{stroke:#98a2b3}svg .axis{fill:#667085;font-size:11px;font-family:system-ui,sans-serif}
svg .bar{fill:var(--bar)}svg .bar.failed{fill:var(--fail)}svg .bar.anomalous{fill:var(--hit)}
svg .hit{fill:var(--hit);opacity:.12}svg .marker{fill:var(--hit)}
svg .baseline{fill:none;stroke:#12b886;stroke-width:2;stroke-dasharray:6 3}
svg g:hover .bar{opacity:.75}
.legend{font-size:12px;color:var(--muted);margin:4px 0 6px}
.legend .sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 12px;vertical-align:-1px;border-radius:2px}
.legend .sw:first-child{margin-left:0}
.sw.bar{background:var(--bar)}.sw.failed{background:var(--fail)}.sw.anomalous{background:var(--hit)}
.sw.baseline{height:0;border-top:2px dashed #12b886;border-radius:0}
.flow{display:flex;flex-wrap:wrap;align-items:center;row-gap:10px;margin:10px 0 6px}
.box{border:1px solid #cfd6de;border-radius:8px;padding:8px 10px;width:284px;background:#fbfcfd;font-size:12px}
.box .mono{font-size:12px}
.box.origin{background:#f3f0ff;border-color:#d0bfff;width:220px}
.box.denied{background:#fff5f5;border-color:#e03131;border-width:2px}
.box.actions{background:#f8f9fa;width:230px}.box.actions ul{margin:4px 0 0;padding-left:16px}
.box-head{font-size:11px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);margin-bottom:2px}
.box.denied .box-head{color:#c92a2a;font-weight:650}
.box-title{font-weight:650;font-size:14px;margin-bottom:2px;overflow-wrap:anywhere}
.arn{color:#475467;margin-bottom:4px;overflow-wrap:anywhere}
.kvline{display:flex;gap:6px}.box.origin .kvline .k{width:64px}.kvline .k{color:var(--muted);width:100px;flex:none}.kvline .v{overflow-wrap:anywhere;min-width:0}
.ua{margin-top:3px;overflow-wrap:anywhere}
.denied-msg{margin-top:6px;color:#c92a2a;overflow-wrap:anywhere}
.arrow{display:flex;flex-direction:column;justify-content:center;align-items:center;width:56px;color:#98a2b3;text-align:center}
.arrow .glyph{font-size:26px;line-height:1}
.nowrap{white-space:nowrap}
.chain-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.intro,.note{color:var(--muted);margin:4px 0 8px}.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:24px 0 40px}
@media (max-width:800px){.two{grid-template-columns:1fr}.field.wide{grid-column:auto}}
@media print{nav.toc{display:none}.alert,.card{break-inside:avoid;box-shadow:none}}
"""


def render_report(
    con, title: str = "roletrail report", now: dt.datetime | None = None, max_alerts: int = MAX_ALERTS
) -> str:
    """The whole page as one string."""
    now = now or dt.datetime.now(dt.UTC)
    data = load(con, max_alerts)
    charts = build_charts(con, data)
    total_roles = len({a["role_arn"] for a in data.alerts if a["role_arn"]})
    # chain.find reads these views a few times per alert; session_actions is cheap by key
    shadow = ["role_sessions", "assume_role_events"] if any(a.first_event for a in data.alerts) else []
    with _materialized(con, shadow, data.relations):
        views = build_chains(con, data)
    role_ids = {c.role_arn: f"role-{i + 1}" for i, c in enumerate(charts)}
    chain_ids = [f"chain-{i + 1}" for i in range(len(views))]
    links = {
        "roles": role_ids,
        "chains": {a["alert_id"]: cid for v, cid in zip(views, chain_ids, strict=True) for a in v.alerts},
    }
    body = [
        section_header(data, title, now),
        section_nav({"alerts": data.alert_total, "roles": len(charts), "chains": len(views)}),
        section_alerts(data, links),
        section_volume(charts, role_ids, total_roles),
        section_chains(views, chain_ids),
        section_ingestion(con, data),
        f"<footer>roletrail · generated {esc(fmt_time(now))} · every value on this page comes from "
        "CloudTrail records and is shown as text</footer></div>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # no network: nothing on this page may load anything from anywhere
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )


def write_report(
    con,
    out_path,
    title: str = "roletrail report",
    now: dt.datetime | None = None,
    max_alerts: int = MAX_ALERTS,
) -> Path:
    """Write the report to out_path (atomically: a temporary file, then a rename) and return its path."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = render_report(con, title=title, now=now, max_alerts=max_alerts)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
