"""`roletrail demo`: each injected incident raises its alert and nothing else fires; repeatable."""

from __future__ import annotations

import json

import pytest

from pipeline import demo, store


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return demo.run(out, echo=lambda *a, **k: None)


def test_each_incident_raises_its_alert_and_nothing_else(first_run):
    got = sorted(a["detector"] for a in first_run.alerts)
    assert got == sorted(i.detector for i in first_run.incidents)
    assert len(set(got)) == 6  # one of each detector
    assert first_run.slack_messages == 1 and first_run.emails == 1
    con = store.connect(str(first_run.db), read_only=True)
    (n,) = con.execute("select count(*) from alerts").fetchall()[0]
    delivered = con.execute("select destination, count(*) from alert_deliveries where status = 'delivered' group by 1 "
                            "order by 1").fetchall()  # fmt: skip
    con.close()
    assert n == 6 and delivered == [("email", 6), ("slack", 6)]


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


def test_report_has_every_alert_and_escapes_hostile_values(first_run):
    html = first_run.report.read_text()
    for a in first_run.alerts:
        assert a["alert_id"] in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;probe&#x27;)&lt;/script&gt;" in html


def test_notifications_escape_the_hostile_session_name(first_run):
    slack = json.loads((first_run.db.parent / "captured" / "slack-1.json").read_text())
    text = json.dumps(slack)
    assert "<script>" not in text


def test_second_demo_gives_the_same_alerts(first_run, tmp_path):
    again = demo.run(tmp_path, echo=lambda *a, **k: None)
    key = lambda alerts: sorted((a["alert_id"], a["detector"], a["event_count"]) for a in alerts)  # noqa: E731
    assert key(again.alerts) == key(first_run.alerts)
