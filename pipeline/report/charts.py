"""Role volume charts: each alerted role's hourly AssumeRole calls with its trailing baseline.

``build_charts`` reads the numbers; ``geometry`` turns one chart into coordinates and labels
(all of them strings) that templates/chart.html draws as inline SVG. Nothing here writes markup.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from detectors.base import severity_rank
from pipeline.report.data import Alert, Data, rows
from pipeline.report.fmt import fmt_time, text

MAX_ROLES = 25  # volume charts
MAX_MARKED_ROWS = 12  # alerted hours listed under a chart
CHART_DAYS = 14  # hours shown before the role's last alert
CHART_MAX_DAYS = 30
BASELINE_DAYS = 14  # the trailing window of the drawn baseline (as the volume detector's)

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
        return min((a["severity"] for a in self.alerts), key=severity_rank)

    @property
    def total(self) -> int:
        return sum(h["calls"] for h in self.hours)

    @property
    def failed(self) -> int:
        return sum(h["errors"] for h in self.hours)

    @property
    def sqrt_scale(self) -> bool:
        return Scale(self.hours).sqrt

    def marked_rows(self) -> list[tuple[dt.datetime, dict, list[Alert]]]:
        """(hour, its numbers, its alerts) for the table under the chart, oldest first."""
        by_hour = {h["hour"]: h for h in self.hours}
        return [
            (hour, by_hour.get(hour, {}), self.marks[hour]) for hour in sorted(self.marks)[:MAX_MARKED_ROWS]
        ]

    def not_shown(self) -> list[Alert]:
        """The role's alerts whose hour falls outside the chart window."""
        return [
            a for a in self.alerts if a.alerted_hour is None or not (self.start <= a.alerted_hour < self.end)
        ]


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
    charts.sort(key=lambda c: (severity_rank(c.severity), -len(c.alerts), c.role_arn))
    charts = charts[:MAX_ROLES]
    if not charts:
        return []
    since = min(c.start for c in charts) - dt.timedelta(days=BASELINE_DAYS)
    con.execute(CALLS_SQL, {"roles": [c.role_arn for c in charts], "since": since})
    try:
        for c in charts:
            c.hours = rows(
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
    if a.explanation:
        return f"{a['severity']} {a['detector']}: {a.explanation}"
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


W, H = 1100, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 20, 34


def _bar(c: RoleChart, i: int, h: dict, bw: float, y) -> dict | None:
    """One hour's bar: successful and failed calls, or an alerted hour with its highlight and marker."""
    calls, errors = h["calls"], h["errors"]
    marked = h["hour"] in c.marks
    if not calls and not marked:
        return None
    ph = H - TOP - BOTTOM
    x = LEFT + i * bw
    tip = f"{fmt_time(h['hour'], False)}: {calls} AssumeRole call{'s' if calls != 1 else ''}"
    if errors:
        tip += f" ({errors} failed)"
    if h["baseline_median"] is not None:
        tip += (
            f"; baseline median {text(float(h['baseline_median']))} over {h['baseline_hours']} active hours"
        )
    # the tooltip's lines; an alert's label carries log values and is made visible by the page
    tips = [tip] + ["ALERT " + _alert_label(a) for a in c.marks.get(h["hour"], [])]
    w = max(bw - (0.6 if bw > 2 else 0), 0.8)
    bar = {"cls": "alerted" if marked else "hour", "tips": tips, "rects": [], "marker": None}
    if marked:
        cx = x + w / 2
        bar["rects"] = [
            ("hit", f"{cx - max(w, 4) / 2:.2f}", f"{TOP}", f"{max(w, 4):.2f}", f"{ph}"),
            (
                "bar anomalous",
                f"{cx - max(w, 2.5) / 2:.2f}",
                f"{y(calls):.2f}",
                f"{max(w, 2.5):.2f}",
                f"{TOP + ph - y(calls):.2f}",
            ),
        ]
        bar["marker"] = f"M{cx - 6:.1f},{TOP - 10} h12 l-6,9 z"
        return bar
    if calls > errors:
        bar["rects"].append(("bar", f"{x:.2f}", f"{y(calls):.2f}", f"{w:.2f}", f"{y(errors) - y(calls):.2f}"))
    if errors:
        bar["rects"].append(
            ("bar failed", f"{x:.2f}", f"{y(errors):.2f}", f"{w:.2f}", f"{TOP + ph - y(errors):.2f}")
        )
    return bar


def geometry(c: RoleChart) -> dict:
    """Everything templates/chart.html draws, as strings: ticks, day lines, bars, the baseline."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(c.hours), 1)
    bw = pw / n
    scale = Scale(c.hours)

    def y(v: float) -> float:
        return TOP + ph - scale.frac(v) * ph

    ticks = [(f"{y(v):.1f}", f"{y(v) + 4:.1f}", text(v)) for v in scale.ticks()]
    # day boundaries on the x axis, labelled every day (or every other / seventh on long charts)
    days_shown = (c.end - c.start).days or 1
    every = 1 if days_shown <= 16 else 2 if days_shown <= 32 else 7
    days = []
    for i, h in enumerate(c.hours):
        t = h["hour"]
        if t.hour == 0:
            x = LEFT + i * bw
            label = None
            if (t - dt.datetime(2000, 1, 1)).days % every == 0 and x + 40 < W - RIGHT:
                label = (f"{x + 2:.1f}", t.strftime("%b %d"))
            days.append((f"{x:.1f}", label))
    bars = [b for i, h in enumerate(c.hours) if (b := _bar(c, i, h, bw, y)) is not None]
    # baseline: a step line of the trailing median
    path, prev = [], None
    for i, h in enumerate(c.hours):
        m = h["baseline_median"]
        x0, x1 = LEFT + i * bw, LEFT + (i + 1) * bw
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
    return {
        "viewbox": f"0 0 {W} {H}",
        "left": f"{LEFT}",
        "right_x": f"{W - RIGHT}",
        "top": f"{TOP}",
        "bottom_y": f"{TOP + ph}",
        "tick_x": f"{LEFT - 6}",
        "unit": "calls/hour" + (" (√ scale)" if scale.sqrt else ""),
        "unit_transform": f"translate(12,{TOP + ph / 2:.0f}) rotate(-90)",
        "label_y": f"{H - 12}",
        "ticks": ticks,
        "days": days,
        "bars": bars,
        "baseline": " ".join(path),
        "baseline_days": BASELINE_DAYS,
    }
