"""The page: Jinja2 templates with autoescape on, and the filters they use.

Escaping is not opt-in: every ``{{ value }}`` goes through ``_finalize`` (numbers, times and
log values as text, control characters made visible) and then through autoescape. Markup comes
only from the templates and their macros; no Python code here marks anything safe.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from detectors.base import SEVERITY_RANK
from pipeline.report import chains as chains_mod
from pipeline.report import charts as charts_mod
from pipeline.report import data as data_mod
from pipeline.report.fmt import day, fmt_time, text
from pipeline.text import visible

MAX_LIST_ITEMS = 30  # items of a list inside an alert's details


def _finalize(value):
    if hasattr(value, "__html__"):  # markup from a macro or caller(): escaped when it was built
        return value
    return text(value)


def _code_spans(s: str) -> list[tuple[bool, str]]:
    """Runbook text split into (is_code, part): `backticked` spans are code."""
    parts = re.split(r"`([^`]+)`", s)
    return [(i % 2 == 1, part) for i, part in enumerate(parts) if part]


def _anchor(key: str, prefix: str) -> str:
    return prefix + "-" + re.sub(r"[^A-Za-z0-9_-]+", "-", key)[:80]


def _clip(value, limit: int, mark: str = "…") -> str:
    s = "" if value is None else str(value)
    return visible(s[:limit]) + (mark if len(s) > limit else "")


def _shell(value) -> str:
    """A log value as one shell word, so a copied command cannot run anything else."""
    return shlex.quote(visible(value))


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [PackageLoader("pipeline.report", "templates"), PackageLoader("pipeline.report", ".")]
        ),
        autoescape=True,
        finalize=_finalize,
        # a misspelt name is an error, not an empty cell that hides a missing value
        undefined=StrictUndefined,
        # block tags on their own lines leave no blank lines; whitespace inside a line is kept as written
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.filters.update(
        time=fmt_time,
        sevclass=lambda s: s if s in SEVERITY_RANK else "info",
        anchor=_anchor,
        code_spans=_code_spans,
        clip=_clip,
        shell=_shell,
        geometry=charts_mod.geometry,
    )
    env.tests["scalar"] = lambda v: not isinstance(v, dict | list | tuple)
    env.globals.update(
        max_list_items=MAX_LIST_ITEMS,
        max_marked_rows=charts_mod.MAX_MARKED_ROWS,
        baseline_days=charts_mod.BASELINE_DAYS,
        max_chain_alerts=chains_mod.MAX_CHAIN_ALERTS,
        max_actions=chains_mod.MAX_ACTIONS,
        ua_clip=chains_mod.UA_CLIP,
    )
    return env


ENV = _environment()


def _stats(data: data_mod.Data) -> list[tuple[str, object]]:
    s = data.summary
    if not s.get("events"):
        return [("events", 0), ("alerts", data.alert_total)]
    return [
        ("events", s["events"]),
        ("time range (UTC)", f"{day(s['first_event'])} → {day(s['last_event'])}"),
        ("accounts", s.get("accounts")),
        ("regions", s.get("regions")),
        ("AssumeRole calls", s.get("assumes", 0)),
        ("cross-account", s.get("cross_account", 0)),
        ("denied assumes", s.get("denied", 0)),
        ("alerts", data.alert_total),
    ]


def render_report(
    con,
    title: str = "roletrail report",
    now: dt.datetime | None = None,
    max_alerts: int = data_mod.MAX_ALERTS,
) -> str:
    """The whole page as one string."""
    now = now or dt.datetime.now(dt.UTC)
    data = data_mod.load(con, max_alerts)
    charts = charts_mod.build_charts(con, data)
    total_roles = len({a["role_arn"] for a in data.alerts if a["role_arn"]})
    # chain.find reads these views a few times per alert; session_actions is cheap by key
    shadow = ["role_sessions", "assume_role_events"] if any(a.first_event for a in data.alerts) else []
    with data_mod.materialized(con, shadow, data.relations):
        chains = chains_mod.build_chains(con, data)
    role_ids = {c.role_arn: f"role-{i + 1}" for i, c in enumerate(charts)}
    chain_ids = [f"chain-{i + 1}" for i in range(len(chains))]
    links = {
        "roles": role_ids,
        "chain_ids": chain_ids,
        "chains": {a["alert_id"]: cid for v, cid in zip(chains, chain_ids, strict=True) for a in v.alerts},
    }
    return ENV.get_template("page.html").render(
        title=title,
        now=now,
        data=data,
        stats=_stats(data),
        charts=charts,
        total_roles=total_roles,
        chains=chains,
        links=links,
        ingestion=data_mod.load_ingestion(con, data.relations),
    )


def render_details(value) -> str:
    """An alert's details JSON as the page shows it (nested key/value tables), for tests and reuse."""
    return ENV.from_string('{% from "macros.html" import details %}{{ details(value) }}').render(value=value)


def write_report(
    con,
    out_path,
    title: str = "roletrail report",
    now: dt.datetime | None = None,
    max_alerts: int = data_mod.MAX_ALERTS,
) -> Path:
    """Write the report to out_path (atomically: a temporary file, then a rename) and return its path."""
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text_ = render_report(con, title=title, now=now, max_alerts=max_alerts)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text_, encoding="utf-8")
    tmp.replace(out)
    return out
