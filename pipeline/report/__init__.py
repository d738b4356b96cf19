"""`roletrail report --out FILE`: one self-contained HTML page about the database.

The page has the alerts by severity (with their details, runbook and false positives), each
alerted role's hourly AssumeRole volume with its baseline and the alerted hours marked (inline
SVG), each alert's role chain from the origin identity to the last hop, and the ingestion
summary (runs, quarantined files and records).

Self-contained means: inline CSS (report.css), inline SVG, no JavaScript, no fonts, images,
scripts or stylesheets from anywhere else, so the file can be mailed, attached to a ticket or
opened offline. The page is built from Jinja2 templates (templates/) with autoescape on: session
names, user agents, ARNs and detail values are attacker-controlled text, shown as text, with
their control characters made visible (pipeline.text.visible).

The package: data.py (the queries), charts.py (volume charts and their geometry), chains.py,
fmt.py (values as text), render.py (the templates' environment and the page). The connection
may be read-only: the report only reads.
"""

from pipeline.report.chains import ChainView, build_chains
from pipeline.report.charts import RoleChart, build_charts
from pipeline.report.data import Alert, Data, load
from pipeline.report.render import render_details, render_report, write_report

__all__ = [
    "Alert", "ChainView", "Data", "RoleChart", "build_chains", "build_charts", "load", "render_details",
    "render_report", "write_report",
]  # fmt: skip
