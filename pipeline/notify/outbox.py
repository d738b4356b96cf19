"""The outbox: enqueue, send one digest per destination, record, back off, give up.

* ``alert_deliveries`` holds one row per (alert, destination). Each run first enqueues a
  ``pending`` row for every ``open`` alert that has no row for a configured destination yet:
  an alert is enqueued once per destination and never again, so an alert that a later
  detection run updates is not re-sent; suppressed alerts are never enqueued, and a pending
  row whose alert became suppressed is not sent (it stays pending).
* Send, then record. The outcome is written (and committed) only after the destination
  answered, one destination at a time. A crash between the two leaves the rows pending, so
  the next run sends them once more: an alert can be duplicated, never lost.
* Failures. A failed attempt leaves the rows ``pending`` with ``attempts + 1``, ``last_error``
  and ``next_attempt_at``: exponential backoff (1, 2, 4 ... minutes, at most 1 hour, from the
  destination's consecutive failures), or the server's ``Retry-After`` (capped at 1 hour, so
  a hostile or broken header cannot silence a destination for a day). While any pending row
  of a destination waits for its retry time, the destination is not contacted at all (new
  alerts join the next attempt). A row that failed ``notify.max_attempts`` times becomes
  ``failed``; ``retry_failed`` makes those pending again and skips the backoff: it retries now.
* Misconfiguration (a missing environment variable, a bad URL or address) is checked on every
  run, alerts pending or not. Nothing is sent and no attempt is counted: the alerts wait, and
  the summary says the destination is misconfigured (the commands exit with status 3).
* Every error text is scrubbed of the destination's secrets before it is cut, stored or shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from detectors import registry as detector_registry
from detectors.base import SEVERITIES
from pipeline.notify import registry
from pipeline.notify.base import Alert, DeliveryError, Notifier
from pipeline.notify.digest import Digest, ordered
from pipeline.notify.secrets import Scrubber
from pipeline.notify.summary import DestinationResult, NotifySummary
from pipeline.notify.text import clean, utc_naive
from pipeline.store import ALERT_FIELDS

log = logging.getLogger("roletrail.notify")

BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
RETRY_AFTER_MAX_SECONDS = 3600
ERROR_LIMIT = 300  # characters of an error text stored and shown (cut after scrubbing)
DETAIL_LIMIT = 160  # of which what the server said


def notify(
    con,
    cfg,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    retry_failed: bool = False,
) -> NotifySummary:
    """Enqueue new open alerts for every configured destination and deliver what is due.

    `now` is the run's time (UTC; naive values are taken as UTC), `env` where secrets are
    read from (default os.environ). With `retry_failed`, deliveries that gave up are made
    pending again and the backoff is skipped. Delivery problems are reported in the
    summary, never raised; a database error is.
    """
    now = utc_naive(now)
    env = os.environ if env is None else env
    summary = NotifySummary(known=registry.names())
    configured = {
        name: section for name in registry.names() if (section := getattr(cfg.notify, name)) is not None
    }
    if not configured:
        return summary

    transaction(con, lambda: _prepare(con, list(configured), now, retry_failed, summary))
    runbooks = Runbooks()
    for name, section in configured.items():
        notifier = registry.create(name, section, env)
        summary.destinations.append(_deliver(con, name, notifier, cfg.notify.max_attempts, now, runbooks))
    return summary


def _prepare(con, destinations: list[str], now: dt.datetime, retry_failed: bool, summary) -> None:
    for dest in destinations:
        if retry_failed:
            con.execute(
                "update alert_deliveries set status = 'pending', attempts = 0 "
                "where destination = $dest and status = 'failed'",
                {"dest": dest},
            )
            con.execute(
                "update alert_deliveries set next_attempt_at = null where destination = $dest and status = 'pending'",
                {"dest": dest},
            )
        before = scalar(
            con, "select count(*) from alert_deliveries where destination = $dest", {"dest": dest}
        )
        con.execute(
            """
            insert into alert_deliveries (alert_id, destination, status, attempts, created_at)
            select a.alert_id, $dest, 'pending', 0, $now
            from alerts a
            where a.status = 'open'
              and not exists (
                select 1 from alert_deliveries d where d.alert_id = a.alert_id and d.destination = $dest)
            on conflict do nothing
            """,
            {"dest": dest, "now": now},
        )
        after = scalar(con, "select count(*) from alert_deliveries where destination = $dest", {"dest": dest})
        summary.enqueued += after - before


def pending(con, dest: str) -> list[Alert]:
    """The destination's pending rows of open alerts, oldest first."""
    columns = ", ".join(f"a.{c}" for c in ALERT_FIELDS)
    cur = con.execute(
        f"""
        select {columns}, d.attempts, d.next_attempt_at
        from alert_deliveries d join alerts a on a.alert_id = d.alert_id
        where d.destination = $dest and d.status = 'pending' and a.status = 'open'
        order by d.created_at, a.first_seen, a.alert_id
        """,
        {"dest": dest},
    )
    alerts = []
    for row in cur.fetchall():
        fields = dict(zip(ALERT_FIELDS, row[: len(ALERT_FIELDS)], strict=True))
        # an unknown severity (a hand-edited row) is shown as the least severe, not dropped
        fields["severity"] = fields["severity"] if fields["severity"] in SEVERITIES else SEVERITIES[-1]
        attempts, next_at = row[len(ALERT_FIELDS) :]
        alerts.append(Alert(fields, attempts or 0, next_at))
    return alerts


def _failed_rows(con, dest: str) -> tuple[int, str | None]:
    row = con.execute(
        """
        select count(*), max_by(d.last_error, d.next_attempt_at)
        from alert_deliveries d join alerts a on a.alert_id = d.alert_id
        where d.destination = $dest and d.status = 'failed' and a.status = 'open'
        """,
        {"dest": dest},
    ).fetchall()[0]
    return int(row[0]), row[1]


def describe(error: DeliveryError, scrub: Scrubber) -> str:
    """The error as stored and shown: scrubbed whole first, then cleaned and cut."""
    text = clean(scrub(error.message), ERROR_LIMIT)
    if error.detail:
        text += ": " + clean(scrub(error.detail), DETAIL_LIMIT)
    return scrub(text)


def _deliver(
    con, dest: str, notifier: Notifier, max_attempts: int, now: dt.datetime, runbooks
) -> DestinationResult:
    res = DestinationResult(dest)
    alerts = pending(con, dest)
    res.failed, res.last_error = _failed_rows(con, dest)
    res.pending = len(alerts)
    problem: DeliveryError | None = None
    # checked before the backoff: a missing variable shows on every run, not only at retry time
    try:
        notifier.check()
    except DeliveryError as e:
        problem = e
    if problem is not None:
        res.misconfigured = True
        res.last_error = describe(problem, Scrubber(notifier.secrets()))
        if alerts:
            _record_waiting(con, dest, alerts, res.last_error)
        log.warning("%s: misconfigured: %s", dest, res.last_error)
        return res
    if not alerts:
        return res

    retry_at = max((a.next_attempt_at for a in alerts if a.next_attempt_at is not None), default=None)
    if retry_at is not None and retry_at > now:
        res.waiting, res.next_attempt_at = True, retry_at
        res.last_error = scalar(
            con,
            "select last_error from alert_deliveries where destination = $dest and status = 'pending' "
            "and last_error is not null order by next_attempt_at desc nulls last limit 1",
            {"dest": dest},
        )
        return res

    for a in alerts:
        a.runbook_step = runbooks.first_step(a.detector)
    warnings: list[str] = []
    try:
        warnings = notifier.send(notifier.format(Digest(dest, now, ordered(alerts))))
    except DeliveryError as e:
        problem = e
    except Exception as e:  # one destination's surprise must not stop the others, nor leak a secret
        problem = DeliveryError(f"unexpected error: {type(e).__name__}")
    # the secrets as read by check(): whatever the reply echoed is masked below
    scrub = Scrubber(notifier.secrets())
    if problem is None:
        _record_delivered(con, dest, alerts, now)
        res.alerts_sent, res.messages_sent, res.pending = len(alerts), 1, 0
        res.warnings = [clean(scrub(w), ERROR_LIMIT) for w in warnings]
        log.info("%s: %d alerts delivered in 1 message", dest, len(alerts))
        return res

    error = describe(problem, scrub)
    streak = max(a.attempts for a in alerts) + 1  # the destination's consecutive failures
    if problem.retry_after is not None:
        delay = min(max(problem.retry_after, 0.0), RETRY_AFTER_MAX_SECONDS)
    else:
        delay = backoff_seconds(streak)
    next_at = now + dt.timedelta(seconds=delay)
    _record_failure(con, dest, alerts, error, next_at, max_attempts)
    res.failures, res.last_error = 1, error
    res.newly_failed = sum(1 for a in alerts if a.attempts + 1 >= max_attempts)
    res.pending = len(alerts) - res.newly_failed
    res.failed += res.newly_failed
    res.next_attempt_at = next_at if res.pending else None
    log.warning("%s: delivery failed: %s", dest, error)
    return res


def _ids(alerts: list[Alert]) -> list[str]:
    return [a.alert_id for a in alerts]


def _record_delivered(con, dest: str, alerts: list[Alert], now: dt.datetime) -> None:
    sql = """
        update alert_deliveries
        set status = 'delivered', attempts = attempts + 1, delivered_at = $now, next_attempt_at = null
        where destination = $dest and status = 'pending' and list_contains($ids, alert_id)
    """
    transaction(con, lambda: con.execute(sql, {"dest": dest, "now": now, "ids": _ids(alerts)}))


def _record_failure(con, dest, alerts, error: str, next_at: dt.datetime, max_attempts: int) -> None:
    sql = """
        update alert_deliveries
        set attempts = attempts + 1,
            status = case when attempts + 1 >= $max then 'failed' else 'pending' end,
            last_error = $error, next_attempt_at = $next
        where destination = $dest and status = 'pending' and list_contains($ids, alert_id)
    """
    params = {"dest": dest, "max": max_attempts, "error": error, "next": next_at, "ids": _ids(alerts)}
    transaction(con, lambda: con.execute(sql, params))


def _record_waiting(con, dest: str, alerts: list[Alert], error: str) -> None:
    # a misconfiguration is not an attempt: only the reason is kept, for `roletrail sql`
    sql = """
        update alert_deliveries set last_error = $error
        where destination = $dest and status = 'pending' and list_contains($ids, alert_id)
    """
    transaction(con, lambda: con.execute(sql, {"dest": dest, "error": error, "ids": _ids(alerts)}))


def backoff_seconds(failures: int) -> float:
    """Delay after the n-th consecutive failure: 1 min, 2, 4 ... at most 1 hour."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS))


class Runbooks:
    """First runbook step per detector. An alert of a detector that no longer exists (removed
    since the alert was recorded) has none."""

    def __init__(self):
        self._known = {d.id: d for d in detector_registry.all_detectors()}

    def first_step(self, detector_id: str | None) -> str | None:
        det = self._known.get(detector_id or "")
        return str(det.runbook[0]) if det is not None and det.runbook else None


def scalar(con, sql: str, params: dict | None = None):
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0][0] if rows else None


def transaction(con, fn: Callable[[], Any]) -> None:
    con.begin()
    try:
        fn()
    except BaseException:
        con.rollback()
        raise
    con.commit()
