"""What the delivery tests share: a database with alerts in it, the outbox rows, a config.

Plain functions, no fixtures: ``from outbox_kit import NOW, config, deliveries, insert_alert``.
"""

from __future__ import annotations

import datetime as dt
import json

from pipeline import store
from pipeline.config import Config

NOW = dt.datetime(2024, 5, 1, 12, 0, 0)


def open_store(path):
    c = store.connect(path)
    store.init_db(c)
    return c


def insert_alert(con, alert_id: str, **fields) -> None:
    """An alert row as the detectors would write it; any column can be overridden."""
    row = {
        "alert_id": alert_id,
        "detector": "new_caller_account",
        "severity": "high",
        "title": "New caller account for role",
        "role_arn": "arn:aws:iam::222222222222:role/Deploy",
        "account_id": "222222222222",
        "caller_account": "111111111111",
        "caller_arn": "arn:aws:iam::111111111111:user/alice",
        "source_ip": "203.0.113.9",
        "session_name": "alice-session",
        "source_identity": "alice@example.com",
        "user_agent": "aws-cli/2.15.0",
        "first_seen": dt.datetime(2024, 5, 1, 10, 0, 0),
        "last_seen": dt.datetime(2024, 5, 1, 10, 5, 0),
        "event_count": 2,
        "event_ids": [f"ev-{alert_id}-1", f"ev-{alert_id}-2"],
        "details": json.dumps({"why": "test"}),
        "status": "open",
        "suppression_reason": None,
        "created_at": dt.datetime(2024, 5, 1, 11, 0, 0),
        "updated_at": dt.datetime(2024, 5, 1, 11, 0, 0),
        "run_id": "run-1",
    }
    row.update(fields)
    cols = ", ".join(row)
    con.execute(f"insert into alerts ({cols}) values ({', '.join('$' + k for k in row)})", row)


def deliveries(con, destination=None) -> list[dict]:
    sql = "select * from alert_deliveries"
    params = {}
    if destination:
        sql += " where destination = $d"
        params = {"d": destination}
    cur = con.execute(sql + " order by destination, alert_id", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def config(max_attempts: int = 20, **destinations) -> Config:
    """A config whose [notify] holds the given destinations' sections (models or None)."""
    notify_section = Config.model_fields["notify"].annotation(max_attempts=max_attempts, **destinations)
    return Config().model_copy(update={"notify": notify_section})
