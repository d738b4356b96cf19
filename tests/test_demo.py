"""`roletrail demo`: each injected incident raises its alert and nothing else fires; repeatable."""

from __future__ import annotations

import email
import email.policy
import json
import shlex

import pytest
from conftest import roletrail

from detectors.registry import all_detectors
from pipeline import demo, store
from pipeline.text import visible


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    result = demo.run(out, echo=lambda *a, **k: lines.append(" ".join(map(str, a))))
    result.printed = "\n".join(lines)
    return result


def test_each_incident_raises_its_alert_and_nothing_else(first_run):
    incidents = first_run.incidents
    registered = {d.id for d in all_detectors()}
    assert {i.detector for i in incidents} <= registered  # each incident names a real detector
    # one alert per incident, from the detector it names, and no other alert
    assert sorted(a["detector"] for a in first_run.alerts) == sorted(i.detector for i in incidents)
    assert len({i.detector for i in incidents}) == len(incidents)
    assert first_run.slack_messages == 1 and first_run.emails == 1
    con = store.connect(str(first_run.db), read_only=True)
    (n,) = con.execute("select count(*) from alerts").fetchall()[0]
    delivered = con.execute("select destination, count(*) from alert_deliveries where status = 'delivered' group by 1 "
                            "order by 1").fetchall()  # fmt: skip
    con.close()
    assert n == len(incidents) and delivered == [("email", n), ("slack", n)]


def test_the_chain_ends_in_the_incident(first_run):
    from pipeline import chain

    [alert] = [a for a in first_run.alerts if a["detector"] == "unknown_source_ip"]
    con = store.connect(str(first_run.db), read_only=True)
    c = chain.find(con, alert["event_ids"][0])
    con.close()
    assert len(c.hops) == 3 and c.origin["type"] == "SAMLUser"
    assert c.hops[-1]["source_ip"] == demo.ATTACKER_IP
    assert [a["eventname"] for a in c.actions] == [
        "ListSecrets",
        "ListBuckets",
        "ListRoles",
        "DescribeInstances",
    ]


def hostile_alert(run) -> dict:
    [alert] = [a for a in run.alerts if a["session_name"] == demo.HOSTILE_SESSION]
    return alert


def test_report_has_every_alert_and_shows_hostile_values_as_text(first_run):
    html = first_run.report.read_text()
    for a in first_run.alerts:
        assert a["alert_id"] in html
    assert "<script" not in html
    hostile_alert(first_run)  # the hostile session name is an alert's, so it is on the page
    assert "&lt;script&gt;alert(&#39;probe&#39;)&lt;/script&gt;" in html


def test_notifications_carry_the_hostile_session_name_escaped(first_run):
    """The hostile session name reaches Slack and the email, as text: never as markup."""
    hostile_alert(first_run)
    captured = first_run.db.parent / "captured"
    slack = json.dumps(json.loads((captured / "slack-1.json").read_text()))
    assert "<script" not in slack
    assert "&lt;script&gt;alert('probe')&lt;/script&gt;" in slack
    msg = email.message_from_bytes((captured / "email-1.eml").read_bytes(), policy=email.policy.default)
    html_part = msg.get_body(("html",)).get_content()
    text_part = msg.get_body(("plain",)).get_content()
    assert "<script" not in html_part and "&lt;script&gt;alert(" in html_part
    assert visible(demo.HOSTILE_SESSION) in text_part  # plain text shows it as it is


def test_suggested_queries_bind_their_values_and_run(first_run):
    """The printed `roletrail sql` commands run as printed; values are -p parameters, not SQL text."""
    commands = [
        line.strip() for line in first_run.printed.splitlines() if line.strip().startswith("roletrail sql")
    ]
    assert len(commands) == len(demo.QUERIES)
    for command, (_, query, params) in zip(commands, demo.QUERIES, strict=True):
        for value in params.values():
            assert value not in query
        args = shlex.split(command)[1:]
        proc = roletrail(*args, "--format", "json", check=True)
        assert json.loads(proc.stdout), command
    # the unknown network's session did exactly the incident's calls
    last = json.loads(roletrail(*shlex.split(commands[-1])[1:], "--format", "json", check=True).stdout)
    assert sorted(r["eventname"] for r in last) == [
        "DescribeInstances",
        "ListBuckets",
        "ListRoles",
        "ListSecrets",
    ]


def test_second_demo_gives_the_same_alerts(first_run, tmp_path):
    again = demo.run(tmp_path, echo=lambda *a, **k: None)
    key = lambda alerts: sorted((a["alert_id"], a["detector"], a["event_count"]) for a in alerts)  # noqa: E731
    assert key(again.alerts) == key(first_run.alerts)
