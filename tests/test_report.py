"""`roletrail report`: one self-contained HTML page, built from a real ingest and detection run."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import unicodedata
from html.parser import HTMLParser
from importlib import resources

import pytest
from conftest import FIXTURES, ct_key, log_bytes, write

from detectors.base import severity_rank
from pipeline import config as config_mod
from pipeline import detect, report, store
from pipeline.ingest import Progress, ingest
from pipeline.text import visible

NOW = dt.datetime(2024, 6, 1)
# terminal escapes (clear screen, colour, window title, BEL), forged lines, a bidi override, markup
CONTROL = '\x1b[2J\x1b[31mRED\x1b]0;pwned-title\x07 & "q" \u202eevil\r\nforged'
HOSTILE = "<script>alert(1)</script> <!channel> <http://evil.example|click> " + CONTROL
HOSTILE_AGENT = '"><img src=x onerror=alert(2)> ' + CONTROL
HOSTILE_IDENTITY = "<b>x</b>@example.com\r\nBcc: evil@example.com " + CONTROL
# every element the templates write: a log value that became markup would add another
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2", "h3", "h4", "section",
    "nav", "a", "span", "table", "thead", "tbody", "tr", "th", "td", "p", "code", "article", "ol", "ul", "li",
    "b", "footer", "svg", "line", "text", "g", "rect", "path",
}  # fmt: skip


class Page(HTMLParser):
    """The page as a browser parses it: elements with their attributes, and the text it shows."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.texts: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def attribute_values(self) -> list[str]:
        return [v or "" for _, attrs in self.tags for v in attrs.values()]


def case(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def hostile_records() -> list[dict]:
    """ipv4_outside_known (an unknown_source_ip alert) with a hostile session name and agent."""
    recs = case("unknown_source_ip/ipv4_outside_known")["Records"]
    for r in recs:
        r["requestParameters"]["roleSessionName"] = HOSTILE
        r["requestParameters"]["sourceIdentity"] = HOSTILE_IDENTITY
        r["responseElements"]["sourceIdentity"] = HOSTILE_IDENTITY
        r["userAgent"] = HOSTILE_AGENT
    return recs


def chain_records() -> list[dict]:
    """A two-hop chain (alice -> ReadOnlyAudit -> PlatformDeploy) whose inherited source identity
    does not match PlatformDeploy's required pattern: a missing_source_identity alert on hop 2."""
    recs = case("missing_source_identity/source_identity_inherited_through_chain")["Records"]
    head, chain = recs[:-3], recs[-3:]
    chain = json.loads(json.dumps(chain).replace("alice@example.com", "alice@contractor.example"))
    return head + chain


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    src = root / "src"
    spike = case("assume_role_volume_spike/spike_hour")
    for i, records in enumerate([spike["Records"], hostile_records(), chain_records()]):
        write(src, ct_key(suffix=f"case{i}"), log_bytes(records))
    write(src, ct_key(suffix="broken"), b"\x1f\x8b\x08\x00 this is not gzip")
    db = str(root / "report.duckdb")
    con = store.connect(db)
    ingest(con, str(src), quarantine_dir=root / "quarantine", progress=Progress(enabled=False))
    detect.detect(con, config_mod.Config.model_validate(spike["config"]), now=NOW)
    con.close()
    con = store.connect(db, read_only=True)
    cur = con.execute("select * from alerts")
    cols = [c[0] for c in cur.description]
    alerts = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    page = report.render_report(con, now=NOW)
    yield {"db": db, "con": con, "alerts": alerts, "page": page, "root": root}
    con.close()


def section(page: str, name: str) -> str:
    start = page.index(f'<section id="{name}">')
    return page[start : page.index("</section>", start)]


def by_detector(alerts: list[dict], detector: str) -> list[dict]:
    return [a for a in alerts if a["detector"] == detector]


def test_the_cases_alert(built):
    detectors = {a["detector"] for a in built["alerts"]}
    assert {"assume_role_volume_spike", "unknown_source_ip", "missing_source_identity"} <= detectors


def test_every_alert_is_in_the_report(built):
    page = built["page"]
    alerts_html = section(page, "alerts")
    for a in built["alerts"]:
        assert f'id="alert-{a["alert_id"]}"' in alerts_html
        assert html.escape(a["title"], quote=True) in alerts_html
        assert f"roletrail chain {a['event_ids'][0]}" in alerts_html
    # grouped by severity, most severe first
    ranks = [
        severity_rank(s) for s in re.findall(r'<h3 class="sev-heading"><span class="badge sev-(\w+)"', page)
    ]
    assert ranks == sorted(ranks) and ranks


def test_runbook_and_false_positives_are_shown(built):
    from detectors.registry import get

    alerts_html = section(built["page"], "alerts")
    det = get("unknown_source_ip")
    shown = Page(alerts_html).text
    for step in det.runbook + det.false_positives:
        assert step.replace("`", "") in shown
    code = re.findall(r"`([^`]+)`", " ".join(det.runbook))
    assert code and all(f"<code>{html.escape(c, quote=False)}</code>" in alerts_html for c in code)
    assert all(t in alerts_html for t in det.attack)


def test_hostile_values_are_shown_as_text(built):
    page = built["page"]
    [alert] = [
        a for a in by_detector(built["alerts"], "unknown_source_ip") if HOSTILE in (a["session_name"] or "")
    ]
    assert alert["user_agent"] == HOSTILE_AGENT and alert["source_identity"] == HOSTILE_IDENTITY
    parsed = Page(page)
    # no value became an element or an event handler ...
    assert {tag for tag, _ in parsed.tags} <= TEMPLATE_TAGS
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    # ... each is on the page as text, with its control characters made visible
    for value in (HOSTILE, HOSTILE_AGENT, HOSTILE_IDENTITY):
        assert visible(value) in parsed.text, value
    assert "\\x1b[2J" in page and "\\u202eevil\\r\\nforged" in page
    assert alert["alert_id"] in page


def test_no_control_characters_reach_the_page(built):
    """A raw ESC, BEL, CR or bidi override would act on a terminal that shows the file (cat,
    less -r) and reorder or hide what a reader sees; the page's own newlines are its only ones."""
    page = built["page"]
    raw = {
        ch
        for ch in page
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") and ch != "\u200d"
    }
    assert not raw, sorted(map(hex, map(ord, raw)))
    assert CONTROL not in Page(page).text  # the raw value is nowhere, not even decoded


def test_no_network_fetches(built):
    page = built["page"]
    low = page.lower()
    # no resource reference to another host, in any attribute or CSS
    remote = re.compile(
        r"""(?:\b(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//)"""
    )
    assert not remote.findall(low)
    assert not re.search(r"url\(\s*['\"]?\s*(?:[a-z]+:)?//", low)
    assert "@import" not in low
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "<base"):
        assert tag not in low, tag
    # every href is an in-page anchor
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert "default-src 'none'" in page  # and the browser is told so


def test_volume_chart_marks_the_spike_hour(built):
    [spike] = by_detector(built["alerts"], "assume_role_volume_spike")
    volume = section(built["page"], "volume")
    start = volume.index(f'<h3 class="mono">{html.escape(spike["role_arn"])}</h3>')
    card = volume[start : volume.index("</article>", start)]
    svg = card[card.index("<svg") : card.index("</svg>")]
    alerted = re.findall(r'<g class="alerted"><title>([^<]*)</title>', svg)
    assert any(t.startswith("2024-05-15 11:00 UTC: 200 AssumeRole calls") for t in alerted), alerted
    assert 'class="bar anomalous"' in svg and 'class="baseline"' in svg
    # ordinary hours are drawn too, with their baseline median from SQL
    assert len(re.findall(r'<g class="hour">', svg)) > 50
    # the alerted-hours table shows the detector's baseline next to the SQL one
    assert "detector baseline: median 4" in card
    assert f'href="#alert-{spike["alert_id"]}"' in card


def test_chart_baseline_is_the_detectors(built):
    """The SQL baseline drawn for the spike hour is the median the detector used."""
    [spike] = by_detector(built["alerts"], "assume_role_volume_spike")
    data = report.load(built["con"])
    charts = report.build_charts(built["con"], data)
    [chart] = [c for c in charts if c.role_arn == spike["role_arn"]]
    hour = dt.datetime(2024, 5, 15, 11)
    [row] = [h for h in chart.hours if h["hour"] == hour]
    details = json.loads(spike["details"])
    assert row["calls"] == 200
    assert float(row["baseline_median"]) == details["baseline"]["assumes"]["median"]
    assert row["baseline_hours"] == details["baseline"]["hours"]
    assert hour in chart.marks


def test_chain_from_origin_to_last_hop(built):
    [alert] = [
        a
        for a in by_detector(built["alerts"], "missing_source_identity")
        if "contractor" in (a["source_identity"] or "")
    ]
    chains = section(built["page"], "chains")
    start = chains.index(f'href="#alert-{alert["alert_id"]}"')
    card = chains[chains.rindex("<article", 0, start) : chains.index("</article>", start)]
    assert "arn:aws:iam::111111111111:user/alice" in card  # the origin identity
    assert card.index("origin") < card.index(">ReadOnlyAudit<") < card.index(">PlatformDeploy<")
    assert "2 hops" in card and "alice-deploy" in card and "alice@contractor.example" in card
    # the hostile session's chain is drawn as text
    assert visible(HOSTILE) in Page(chains).text
    assert visible(HOSTILE_AGENT, 140) in Page(chains).text


def test_ingestion_lists_the_quarantined_file(built):
    ing = section(built["page"], "ingestion")
    assert "_broken.json.gz" in ing
    assert "corrupt gzip" in ing
    assert "Quarantined files (1)" in ing


def test_report_leaves_the_connection_as_it_was(built):
    con = built["con"]
    assert con.execute("select count(*) from duckdb_tables() where temporary").fetchall()[0][0] == 0
    # the views are views again
    assert con.execute("select count(*) from role_sessions").fetchall()[0][0] > 0


def test_alerts_beyond_the_cap_are_counted(built):
    page = report.render_report(built["con"], now=NOW, max_alerts=1)
    assert page.count('<article class="alert ') == 1
    assert f"{len(built['alerts']) - 1} more alerts are not shown in full" in page


def test_write_report(built, tmp_path):
    out = report.write_report(built["con"], tmp_path / "out" / "report.html", title="<b>weekly</b>", now=NOW)
    text = out.read_text()
    assert out.name == "report.html" and text.startswith("<!DOCTYPE html>")
    assert "<title>&lt;b&gt;weekly&lt;/b&gt;</title>" in text
    # the stylesheet is the package's file, inlined as it is (no template syntax mangled it)
    css = resources.files("pipeline.report").joinpath("report.css").read_text()
    assert f"<style>{css}</style>" in text
    assert not list(out.parent.glob(".*tmp"))


def test_empty_database(tmp_path):
    con = store.connect(str(tmp_path / "empty.duckdb"))
    store.init_db(con)
    page = report.render_report(con, now=NOW)
    assert "No alerts in the database." in page and "No quarantined files." in page
    con.close()


def test_details_render_nested_and_escaped():
    out = report.render_details(
        {
            "<k>": ["<v>", {"x": "<y>"}],
            "n": 1.5,
            "none": None,
            "many": list(range(100)),
            "ok": True,
            "\x1b": "\x07",
        }
    )
    assert "<k>" not in out and "<v>" not in out and "<y>" not in out
    assert "&lt;k&gt;" in out and "&lt;y&gt;" in out
    assert "70 more" in out and "null" in out and "true" in out
    assert "\x1b" not in out and "\x07" not in out and "<th>\\x1b</th>" in out
    assert {tag for tag, _ in Page(out).tags} == {"table", "tr", "th", "td", "span", "ol", "li"}


def test_investigate_commands_are_one_shell_word():
    """A copied `roletrail chain ID` runs nothing else, whatever the event id holds."""
    from pipeline.report.render import ENV

    out = ENV.from_string("{{ v|shell }}").render(v="x; rm -rf ~ $(id)\x1b")
    assert html.unescape(out) == "'x; rm -rf ~ $(id)\\x1b'"
