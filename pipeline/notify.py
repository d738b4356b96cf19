"""Alert delivery: an outbox in the database, Slack incoming webhooks and SMTP email.

How delivery works
------------------
* Outbox. ``alert_deliveries`` holds one row per (alert, destination). Each run first
  enqueues a ``pending`` row for every ``open`` alert that has no row for a configured
  destination yet. An alert is enqueued once per destination and never again, so an alert
  that a later detection run updates is not re-sent; suppressed alerts are never enqueued,
  and a pending row whose alert became suppressed is not sent (it stays pending).
* One digest per destination and run. Every pending row of a destination is covered by a
  single message: the first ``max_alerts_per_message`` alerts (most severe first, then
  oldest) are shown in full, the rest as a count with the ``roletrail sql`` query that
  lists them. When the message is accepted all covered rows are marked ``delivered``
  (with the same ``delivered_at``, which is how that query finds them). Nothing is held
  back for later runs: a burst of alerts produces one message, not a trickle of them.
* Send, then record. The outcome is written (and committed) only after the destination
  answered, one destination at a time. A crash between the two leaves the rows pending,
  so the next run sends them once more: an alert can be duplicated, never lost.
* Failures. A failed attempt leaves the rows ``pending`` with ``attempts + 1``,
  ``last_error`` and ``next_attempt_at``: exponential backoff (1, 2, 4 ... minutes, at most
  1 hour, from the destination's consecutive failures), or the ``Retry-After`` of an HTTP
  429. The backoff is per destination: while any pending row of a destination waits for
  its retry time, the destination is not contacted at all (new alerts join the next
  attempt), so Slack's rate limit is honoured. A row that failed ``notify.max_attempts``
  times becomes ``failed`` and is reported by every run until it is retried
  (``notify(..., retry_failed=True)``).
* Secrets. The webhook URL and the SMTP user name and password are read only from the
  environment variables the config names. They never appear in an exception, a log line,
  ``last_error`` or the summary: error texts are built here from status codes and
  exception class names, and every stored or printed error is scrubbed of the secret
  values as well.
* Hostile input. Session names, source identities, user agents and the like are chosen
  by whoever calls AWS. In Slack mrkdwn every such value has ``&``, ``<``, ``>`` escaped
  and is shown as inline code (backticks inside replaced), so it cannot mention, link or
  format; in HTML email every value goes through ``html.escape``; control characters
  (CR/LF included) are shown as ``\\r``-style escapes. Email headers are built only from
  our own words and counts plus the configured addresses, and the message uses
  ``email.policy.SMTP``, which refuses CR/LF in header values.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import email.utils
import html
import json
import logging
import os
import smtplib
import ssl
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from pydantic import Field

from detectors.base import SEVERITIES, SEVERITY_RANK
from pipeline.config import Strict


class Slack(Strict):
    webhook_url_env: str = "ROLETRAIL_SLACK_WEBHOOK"
    max_alerts_per_message: int = Field(default=20, ge=1, le=45)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class Email(Strict):
    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    max_alerts_per_message: int = Field(default=100, ge=1, le=1000)


def config_models() -> dict:
    """[notify.<name>] -> the destination's config model."""
    return {"slack": Slack, "email": Email}


log = logging.getLogger("roletrail.notify")

DESTINATIONS = ("slack", "email")
SLACK_EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
    "info": ":information_source:",
}
SLACK_MAX_BLOCKS = 50  # Slack's limit per message
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
RETRY_AFTER_MAX_SECONDS = 86400
VALUE_LIMIT = 300  # characters of one log value shown (before escaping)


# --------------------------------------------------------------------------- results


@dataclass
class DestinationResult:
    destination: str
    alerts_sent: int = 0  # alerts covered by a message accepted in this run
    messages_sent: int = 0
    failures: int = 0  # failed attempts in this run (0 or 1)
    pending: int = 0  # still pending after this run
    failed: int = 0  # rows that gave up (status 'failed'), for open alerts
    newly_failed: int = 0  # of which gave up in this run
    last_error: str | None = None
    next_attempt_at: dt.datetime | None = None
    waiting: bool = False  # not contacted: still in backoff from an earlier failure
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if self.next_attempt_at is not None:
            d["next_attempt_at"] = _fmt_time(self.next_attempt_at)
        d["warnings"] = list(self.warnings)
        return d


@dataclass
class NotifySummary:
    destinations: list[DestinationResult] = field(default_factory=list)
    enqueued: int = 0  # outbox rows created in this run

    @property
    def ok(self) -> bool:
        """True when no delivery attempt failed in this run and nothing has given up."""
        return all(d.failures == 0 and d.failed == 0 for d in self.destinations)

    @property
    def alerts_sent(self) -> int:
        return sum(d.alerts_sent for d in self.destinations)

    def get(self, destination: str) -> DestinationResult | None:
        return next((d for d in self.destinations if d.destination == destination), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "enqueued": self.enqueued,
            "ok": self.ok,
            "destinations": {d.destination: d.as_dict() for d in self.destinations},
        }

    def lines(self) -> list[str]:
        if not self.destinations:
            return ["notify: no destination configured (add [notify.slack] or [notify.email] to the config)"]
        out = []
        for d in self.destinations:
            name = d.destination
            if d.messages_sent:
                out.append(
                    f"{name}: {_n(d.alerts_sent, 'alert')} delivered in {_n(d.messages_sent, 'message')}"
                )
            elif d.failures:
                out.append(
                    f"{name}: delivery failed: {d.last_error}; {_n(d.pending, 'alert')} pending, "
                    f"next attempt at {_fmt_time(d.next_attempt_at)}"
                    if d.pending
                    else f"{name}: delivery failed: {d.last_error}"
                )
            elif d.waiting:
                out.append(
                    f"{name}: {_n(d.pending, 'alert')} pending, next attempt at "
                    f"{_fmt_time(d.next_attempt_at)} (last error: {d.last_error})"
                )
            else:
                out.append(f"{name}: nothing new to deliver")
            if d.failed:
                out.append(
                    f"{name}: {_n(d.failed, 'alert')} not delivered, gave up after repeated failures "
                    f"(alert_deliveries.status = 'failed'; last error: {d.last_error})"
                )
            out.extend(f"{name}: warning: {w}" for w in d.warnings)
        return out


class DeliveryError(Exception):
    """A failed delivery attempt. The message is built by us and must be secret-free."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


# --------------------------------------------------------------------------- entry point


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
    pending again first. Delivery problems are reported in the summary, never raised; a
    database error is.
    """
    now = _utc_naive(now)
    env = os.environ if env is None else env
    summary = NotifySummary()
    destinations = [d for d in DESTINATIONS if getattr(cfg.notify, d) is not None]
    if not destinations:
        return summary

    _transaction(con, lambda: _prepare(con, destinations, now, retry_failed, summary))
    runbooks = _Runbooks()
    for dest in destinations:
        summary.destinations.append(_deliver(con, dest, cfg, now, env, runbooks))
    return summary


def _prepare(con, destinations, now, retry_failed, summary) -> None:
    for dest in destinations:
        if retry_failed:
            con.execute(
                "update alert_deliveries set status = 'pending', attempts = 0, next_attempt_at = null "
                "where destination = $dest and status = 'failed'",
                {"dest": dest},
            )
        before = _scalar(
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
        after = _scalar(
            con, "select count(*) from alert_deliveries where destination = $dest", {"dest": dest}
        )
        summary.enqueued += after - before


@dataclass
class _Alert:
    alert_id: str
    detector: str | None
    severity: str
    title: str | None
    role_arn: str | None
    account_id: str | None
    caller_account: str | None
    caller_arn: str | None
    source_ip: str | None
    session_name: str | None
    source_identity: str | None
    user_agent: str | None
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    event_count: int | None
    event_ids: list[str] | None
    attempts: int
    next_attempt_at: dt.datetime | None
    runbook_step: str | None = None

    @property
    def first_event_id(self) -> str | None:
        return next((e for e in self.event_ids or [] if e), None)


_ALERT_COLUMNS = (
    "a.alert_id, a.detector, a.severity, a.title, a.role_arn, a.account_id, a.caller_account, "
    "a.caller_arn, a.source_ip, a.session_name, a.source_identity, a.user_agent, a.first_seen, "
    "a.last_seen, a.event_count, a.event_ids, d.attempts, d.next_attempt_at"
)


def _pending(con, dest: str) -> list[_Alert]:
    rows = con.execute(
        f"""
        select {_ALERT_COLUMNS}
        from alert_deliveries d join alerts a on a.alert_id = d.alert_id
        where d.destination = $dest and d.status = 'pending' and a.status = 'open'
        order by d.created_at, a.first_seen, a.alert_id
        """,
        {"dest": dest},
    ).fetchall()
    alerts = []
    for r in rows:
        a = _Alert(*r)
        a.severity = a.severity if a.severity in SEVERITY_RANK else "info"
        a.attempts = a.attempts or 0
        alerts.append(a)
    return alerts


def _deliver(con, dest: str, cfg, now: dt.datetime, env: Mapping[str, str], runbooks) -> DestinationResult:
    res = DestinationResult(dest)
    alerts = _pending(con, dest)
    res.failed, last_failed_error = _failed_rows(con, dest)
    if not alerts:
        res.last_error = last_failed_error
        return res

    retry_at = max((a.next_attempt_at for a in alerts if a.next_attempt_at is not None), default=None)
    if retry_at is not None and retry_at > now:
        res.waiting = True
        res.pending = len(alerts)
        res.next_attempt_at = retry_at
        res.last_error = _scalar(
            con,
            "select last_error from alert_deliveries where destination = $dest and status = 'pending' "
            "and last_error is not null order by next_attempt_at desc nulls last limit 1",
            {"dest": dest},
        )
        return res

    for a in alerts:
        a.runbook_step = runbooks.first_step(a.detector)
    shown = sorted(alerts, key=lambda a: (SEVERITY_RANK[a.severity], a.first_seen or now, a.alert_id))
    ids = [a.alert_id for a in alerts]
    secrets: list[str] = []
    warnings: list[str] = []
    try:
        if dest == "slack":
            url = _secret(env, cfg.notify.slack.webhook_url_env, "Slack webhook URL")
            secrets.append(url)
            secrets.extend(_url_secret_parts(url))
            payload = slack_payload(shown, cfg.notify.slack, now)
            send_slack(url, payload, cfg.notify.slack.timeout_seconds)
        else:
            creds = _smtp_credentials(cfg.notify.email, env)
            if creds:
                secrets.extend(creds)
                secrets.extend(_smtp_secret_forms(*creds))
            msg = email_message(shown, cfg.notify.email, now)
            warnings = send_email(msg, cfg.notify.email, creds)
    except DeliveryError as e:
        error, retry_after = str(e), e.retry_after
    except Exception as e:  # never let one destination's surprise stop the others, nor leak a secret
        error, retry_after = f"unexpected error: {type(e).__name__}", None
    else:
        error, retry_after = None, None
    scrub = _Scrubber(secrets)

    if error is None:
        _transaction(
            con,
            lambda: con.execute(
                """
                update alert_deliveries
                set status = 'delivered', attempts = attempts + 1, delivered_at = $now, next_attempt_at = null
                where destination = $dest and status = 'pending' and list_contains($ids, alert_id)
                """,
                {"dest": dest, "now": now, "ids": ids},
            ),
        )
        res.alerts_sent, res.messages_sent = len(alerts), 1
        res.warnings = [scrub(w) for w in warnings]
        log.info("%s: %d alerts delivered in 1 message", dest, len(alerts))
        return res

    error = scrub(error)
    streak = max(a.attempts for a in alerts) + 1  # the destination's consecutive failures
    if retry_after is not None:
        delay = min(max(retry_after, 0.0), RETRY_AFTER_MAX_SECONDS)
    else:
        delay = backoff_seconds(streak)
    next_at = now + dt.timedelta(seconds=delay)
    max_attempts = cfg.notify.max_attempts

    def record_failure():
        con.execute(
            """
            update alert_deliveries
            set attempts = attempts + 1,
                status = case when attempts + 1 >= $max then 'failed' else 'pending' end,
                last_error = $error, next_attempt_at = $next
            where destination = $dest and status = 'pending' and list_contains($ids, alert_id)
            """,
            {"dest": dest, "max": max_attempts, "error": error, "next": next_at, "ids": ids},
        )

    _transaction(con, record_failure)
    res.failures = 1
    res.last_error = error
    res.newly_failed = sum(1 for a in alerts if a.attempts + 1 >= max_attempts)
    res.pending = len(alerts) - res.newly_failed
    res.failed += res.newly_failed
    res.next_attempt_at = next_at if res.pending else None
    log.warning("%s: delivery failed: %s", dest, error)
    return res


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


def backoff_seconds(failures: int) -> float:
    """Delay after the n-th consecutive failure: 1 min, 2, 4 ... at most 1 hour."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS))


# --------------------------------------------------------------------------- secrets


def _secret(env: Mapping[str, str], var: str | None, what: str) -> str:
    if not var:
        raise DeliveryError(f"no environment variable configured for the {what}")
    value = env.get(var)
    if value is None:
        raise DeliveryError(f"environment variable {var} is not set ({what})")
    if not value.strip():
        raise DeliveryError(f"environment variable {var} is empty ({what})")
    return value.strip()


def _smtp_credentials(cfg: Email, env: Mapping[str, str]) -> tuple[str, str] | None:
    if not cfg.username_env and not cfg.password_env:
        return None
    if not (cfg.username_env and cfg.password_env):
        raise DeliveryError("[notify.email] needs both username_env and password_env for SMTP login")
    user = _secret(env, cfg.username_env, "SMTP user name")
    password = env.get(cfg.password_env)
    if password is None:
        raise DeliveryError(f"environment variable {cfg.password_env} is not set (SMTP password)")
    if password == "":
        raise DeliveryError(f"environment variable {cfg.password_env} is empty (SMTP password)")
    return user, password


def _url_secret_parts(url: str) -> list[str]:
    """The parts of a webhook URL that carry its token: path, query, long path segments."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return []
    out = [p for p in (parts.path, parts.query, parts.password or "") if len(p) > 1]
    # token-like segments (Slack: /services/T…/B…/<token>), not plain words such as "services"
    out += [s for s in parts.path.split("/") if len(s) >= 16 or (len(s) >= 6 and not s.isalpha())]
    out += [urllib.parse.unquote(p) for p in out]
    return out


def _smtp_secret_forms(user: str, password: str) -> list[str]:
    """What an SMTP server could echo back: the AUTH PLAIN / LOGIN base64 forms."""
    forms = []
    for raw in (f"\0{user}\0{password}", user, password):
        try:
            forms.append(base64.b64encode(raw.encode()).decode())
        except UnicodeError:
            pass
    return forms


class _Scrubber:
    def __init__(self, secrets: list[str]):
        # longest first, so a secret containing another is replaced whole
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for s in self.secrets:
            text = text.replace(s, "***")
        return text


# --------------------------------------------------------------------------- value cleaning


def clean(value: Any, limit: int = VALUE_LIMIT) -> str:
    """A log value as one line of text: control and invisible formatting characters
    (CR, LF, bidi overrides, ...) shown as escapes, long values cut."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200d":
            code = ord(ch)
            named = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}.get(ch)
            out.append(named or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(ch)
    return "".join(out)


def slack_escape(text: str) -> str:
    """Slack's three control characters: after this a value cannot mention, link or ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_value(value: Any, limit: int = VALUE_LIMIT) -> str:
    text = clean(value, limit)
    if not text:
        return "—"
    # inline code: no bold/italic/strike/auto-formatting; a backtick would end it early
    return "`" + slack_escape(text.replace("`", "ˋ")) + "`"


def email_addresses(cfg: Email) -> tuple[str, list[str]]:
    """The envelope sender and recipients. A configured address that holds a control
    character (CR/LF: a header injection) or is not an address refuses delivery."""

    def one(value: str, where: str) -> str:
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
            raise DeliveryError(f"[notify.email] {where} contains a control character (CR/LF?)")
        addr = email.utils.parseaddr(value.strip())[1]
        if "@" not in addr:
            raise DeliveryError(f"[notify.email] {where} is not an email address")
        return addr

    return one(cfg.from_, "from"), [one(t, f"to[{i}]") for i, t in enumerate(cfg.to)]


# --------------------------------------------------------------------------- message text


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _fmt_time(t: dt.datetime | None) -> str:
    if t is None:
        return "—"
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc_naive(t: dt.datetime | None) -> dt.datetime:
    if t is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if t.tzinfo is not None:
        return t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def severity_counts(alerts: list[_Alert]) -> str:
    counts = Counter(a.severity for a in alerts)
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])


def _seen(a: _Alert) -> str:
    first, last = _fmt_time(a.first_seen), _fmt_time(a.last_seen)
    span = first if first == last or a.last_seen is None else f"{first} – {last}"
    if a.event_count:
        span += f" ({_n(a.event_count, 'event')})"
    return span


def _chain_command(a: _Alert) -> str | None:
    eid = a.first_event_id
    return f"roletrail chain {clean(eid, 200)}" if eid else None


def _rest_query(dest: str, now: dt.datetime) -> str:
    stamp = now.isoformat(sep=" ")
    return (
        'roletrail sql "select a.* from alerts a join alert_deliveries d on d.alert_id = a.alert_id '
        f"where d.destination = '{dest}' and d.delivered_at = '{stamp}' order by a.first_seen\""
    )


def _rest_line(rest: int, dest: str, now: dt.datetime) -> str:
    return f"… and {rest} more {'alert' if rest == 1 else 'alerts'}: {_rest_query(dest, now)}"


def _summary_text(alerts: list[_Alert]) -> str:
    return f"{_n(len(alerts), 'new alert')} ({severity_counts(alerts)})"


# --------------------------------------------------------------------------- Slack


def slack_payload(alerts: list[_Alert], cfg: Slack, now: dt.datetime) -> dict[str, Any]:
    """The webhook JSON: a summary `text` (our words only) and Block Kit blocks (at most 50)."""
    text = f"roletrail: {_summary_text(alerts)}"
    shown = min(len(alerts), cfg.max_alerts_per_message)
    while True:
        for dividers in (True, False):
            blocks = _slack_blocks(alerts, shown, dividers, now)
            if len(blocks) <= SLACK_MAX_BLOCKS:
                return {"text": text, "blocks": blocks}
        shown -= 1


def _slack_blocks(alerts: list[_Alert], shown: int, dividers: bool, now: dt.datetime) -> list[dict]:
    header = f"roletrail: {_n(len(alerts), 'new alert')}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{severity_counts(alerts)} · {_fmt_time(now)}"}],
        },
    ]
    for i, a in enumerate(alerts[:shown]):
        if dividers and i:
            blocks.append({"type": "divider"})
        blocks.append(_slack_section(a))
    rest = len(alerts) - shown
    if rest > 0:
        if dividers:
            blocks.append({"type": "divider"})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _rest_line(rest, "slack", now)}})
    return blocks


def _slack_section(a: _Alert) -> dict:
    title = slack_escape(clean(a.title or a.detector or "alert", 200)).replace("*", "∗")
    chain = _chain_command(a)
    fields = [
        ("Detector", _slack_value(a.detector, 100)),
        ("Role", _slack_value(a.role_arn)),
        (
            "Caller account → target account",
            f"{_slack_value(a.caller_account, 64)} → {_slack_value(a.account_id, 64)}",
        ),
        ("Source IP", _slack_value(a.source_ip, 100)),
        ("Session name", _slack_value(a.session_name)),
        ("Source identity", _slack_value(a.source_identity)),
        ("User agent", _slack_value(a.user_agent)),
        ("Seen", slack_escape(_seen(a))),
        ("Runbook", slack_escape(clean(a.runbook_step, 500)) if a.runbook_step else "—"),
        ("Investigate", _slack_value(chain, 250) if chain else "—"),
    ]
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"{SLACK_EMOJI[a.severity]} *{a.severity.upper()}* · *{title}*"},
        "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook does not redirect; following one would send the alerts elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def send_slack(url: str, payload: dict[str, Any], timeout: float) -> None:
    """POST the payload. Raises DeliveryError with a secret-free message on any failure."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise DeliveryError("the Slack webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("the Slack webhook URL is not an http(s) URL")
    body = json.dumps(payload).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    status, reason, detail, retry_after = None, "", "", None
    try:
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "roletrail"},
        )
        with opener.open(req, timeout=timeout) as resp:
            resp.read(4096)
            return
    except urllib.error.HTTPError as e:
        status, reason = e.code, str(e.reason or "")
        retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
        try:
            detail = e.read(200).decode("utf-8", "replace")
        except Exception:
            detail = ""
        finally:
            e.close()
    except urllib.error.URLError as e:
        raise DeliveryError(f"Slack webhook: {_describe_oserror(e.reason, timeout)}") from None
    except TimeoutError:
        raise DeliveryError(f"Slack webhook: timed out after {timeout:g} s") from None
    except Exception as e:
        raise DeliveryError(f"Slack webhook: {_describe_oserror(e, timeout)}") from None

    msg = f"Slack webhook: HTTP {status}"
    if reason:
        msg += f" {clean(reason, 60)}"
    if detail.strip():
        msg += f": {clean(detail.strip(), 100)}"
    if status == 429:
        raise DeliveryError(msg + " (rate limited)", retry_after=retry_after)
    raise DeliveryError(msg)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def _describe_oserror(err: Any, timeout: float) -> str:
    """An exception as a secret-free phrase: its class and errno text, never its str()."""
    if isinstance(err, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({clean(err.verify_message, 80)})"
    if isinstance(err, ssl.SSLError):
        return f"TLS error ({clean(err.reason or type(err).__name__, 80)})"
    if isinstance(err, OSError) and err.strerror:
        return f"{type(err).__name__} ({clean(err.strerror, 80)})"
    if isinstance(err, BaseException):
        return type(err).__name__
    return "connection error"


# --------------------------------------------------------------------------- email


def email_message(alerts: list[_Alert], cfg: Email, now: dt.datetime) -> EmailMessage:
    """A multipart/alternative digest. Headers hold only our words, counts and config addresses."""
    shown = alerts[: cfg.max_alerts_per_message]
    rest = len(alerts) - len(shown)
    counts = severity_counts(alerts)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = f"[roletrail] {_n(len(alerts), 'new alert')}: {counts}"
    sender, recipients = email_addresses(cfg)
    msg["From"] = cfg.from_.strip()
    msg["To"] = ", ".join(t.strip() for t in cfg.to)
    msg["Date"] = email.utils.format_datetime(now.replace(tzinfo=dt.UTC))
    msg["Message-ID"] = email.utils.make_msgid("roletrail", domain=sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(_email_text(shown, rest, counts, now), charset="utf-8")
    msg.add_alternative(_email_html(shown, rest, counts, now), subtype="html", charset="utf-8")
    return msg


def _email_rows(a: _Alert) -> list[tuple[str, str]]:
    chain = _chain_command(a)
    return [
        ("Detector", clean(a.detector, 100)),
        ("Role", clean(a.role_arn)),
        (
            "Caller account → target",
            f"{clean(a.caller_account, 64) or '—'} → {clean(a.account_id, 64) or '—'}",
        ),
        ("Caller", clean(a.caller_arn)),
        ("Source IP", clean(a.source_ip, 100)),
        ("Session name", clean(a.session_name)),
        ("Source identity", clean(a.source_identity)),
        ("User agent", clean(a.user_agent)),
        ("Seen", _seen(a)),
        ("Runbook", clean(a.runbook_step, 500)),
        ("Investigate", chain or ""),
    ]


def _email_text(alerts: list[_Alert], rest: int, counts: str, now: dt.datetime) -> str:
    lines = [f"roletrail: {_n(len(alerts) + rest, 'new alert')} ({counts}) at {_fmt_time(now)}", ""]
    for a in alerts:
        lines.append(f"[{a.severity.upper()}] {clean(a.title or a.detector or 'alert', 200)}")
        for name, value in _email_rows(a):
            lines.append(f"  {name + ':':<26}{value or '—'}")
        lines.append("")
    if rest > 0:
        lines.append(_rest_line(rest, "email", now))
    return "\n".join(lines) + "\n"


def _email_html(alerts: list[_Alert], rest: int, counts: str, now: dt.datetime) -> str:
    e = html.escape
    colors = {
        "critical": "#8b0000",
        "high": "#d32f2f",
        "medium": "#ef6c00",
        "low": "#f9a825",
        "info": "#607d8b",
    }
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head><body style="font-family: sans-serif">',
        f"<h2>roletrail: {e(_n(len(alerts) + rest, 'new alert'))}</h2>",
        f"<p>{e(counts)} &middot; {e(_fmt_time(now))}</p>",
    ]
    for a in alerts:
        parts.append(
            f'<h3><span style="color: {colors[a.severity]}">{e(a.severity.upper())}</span> '
            f"{e(clean(a.title or a.detector or 'alert', 200))}</h3>"
        )
        parts.append('<table cellpadding="3" style="border-collapse: collapse">')
        for name, value in _email_rows(a):
            cell = (
                f"<code>{e(value)}</code>" if value and name not in ("Seen", "Runbook") else e(value or "—")
            )
            parts.append(f'<tr><th align="left" valign="top">{e(name)}</th><td>{cell}</td></tr>')
        parts.append("</table>")
    if rest > 0:
        parts.append(f"<p>{e(_rest_line(rest, 'email', now))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def send_email(msg: EmailMessage, cfg: Email, creds: tuple[str, str] | None) -> list[str]:
    """Send over SMTP. Returns warnings (recipients refused); raises DeliveryError on failure."""
    context = ssl.create_default_context()
    sender, recipients = email_addresses(cfg)
    where = f"SMTP {cfg.smtp_host}:{cfg.smtp_port}"
    try:
        if cfg.ssl:
            client = smtplib.SMTP_SSL(
                cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_seconds)
        with client:
            client.ehlo()
            if cfg.starttls and not cfg.ssl:
                client.starttls(context=context)
                client.ehlo()
            if creds:
                client.login(*creds)
            refused = client.send_message(msg, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(
            f"{where}: authentication failed ({_smtp_reply(e.smtp_code, e.smtp_error)})"
        ) from None
    except smtplib.SMTPRecipientsRefused as e:
        codes = ", ".join(f"{clean(r, 100)}: {_smtp_reply(*v)}" for r, v in list(e.recipients.items())[:5])
        raise DeliveryError(f"{where}: all recipients refused ({codes})") from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(
            f"{where}: the server does not support a requested extension (STARTTLS or AUTH)"
        ) from None
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(
            f"{where}: {type(e).__name__} ({_smtp_reply(e.smtp_code, e.smtp_error)})"
        ) from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError(f"{where}: server disconnected") from None
    except smtplib.SMTPException as e:
        raise DeliveryError(f"{where}: {type(e).__name__}") from None
    except TimeoutError:
        raise DeliveryError(f"{where}: timed out after {cfg.timeout_seconds:g} s") from None
    except Exception as e:
        raise DeliveryError(f"{where}: {_describe_oserror(e, cfg.timeout_seconds)}") from None
    return [f"recipient {clean(r, 100)} refused ({_smtp_reply(*v)})" for r, v in refused.items()]


def _smtp_reply(code: Any, text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {clean(text, 120)}".strip()


# --------------------------------------------------------------------------- helpers


class _Runbooks:
    """First runbook step per detector, from detectors.registry when it is there."""

    def __init__(self):
        self._cache: dict[str | None, str | None] = {}

    def first_step(self, detector_id: str | None) -> str | None:
        if detector_id not in self._cache:
            self._cache[detector_id] = self._lookup(detector_id)
        return self._cache[detector_id]

    @staticmethod
    def _lookup(detector_id: str | None) -> str | None:
        if not detector_id:
            return None
        try:
            from detectors import registry  # optional: tests and partial installs run without it

            steps = getattr(registry.get(detector_id), "runbook", None) or ()
            return str(steps[0]) if steps else None
        except Exception:
            return None


def _scalar(con, sql: str, params: dict | None = None):
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0][0] if rows else None


def _transaction(con, fn: Callable[[], Any]) -> None:
    con.begin()
    try:
        fn()
    except BaseException:
        con.rollback()
        raise
    con.commit()
