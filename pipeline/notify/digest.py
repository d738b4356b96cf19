"""The digest: one message per destination and run, covering every pending alert.

The alerts are ordered most severe first, then oldest. A destination shows the first
`cap` of them in full (its `max_alerts_per_message`) and the rest as a count with the
`roletrail sql` command that lists them: every alert of a digest is marked delivered with
the same `delivered_at`, which is what that command selects on. The command binds its
values as `$name` parameters and quotes every word for the shell.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections import Counter
from dataclasses import dataclass, replace

from detectors.base import SEVERITIES, severity_rank
from pipeline.notify.base import Alert
from pipeline.notify.text import fmt_time, plural, shell_word

REST_QUERY = (
    "select a.* from alerts a join alert_deliveries d on d.alert_id = a.alert_id "
    "where d.destination = $destination and d.delivered_at = cast($delivered_at as timestamp) "
    "order by a.first_seen"
)


def ordered(alerts: list[Alert]) -> tuple[Alert, ...]:
    # an alert without a first_seen (a hand-made row) sorts after the dated ones
    far_future = dt.datetime.max
    return tuple(
        sorted(alerts, key=lambda a: (severity_rank(a.severity), a.first_seen or far_future, a.alert_id))
    )


@dataclass(frozen=True)
class Digest:
    destination: str
    now: dt.datetime  # the run's time: the alerts' delivered_at
    alerts: tuple[Alert, ...]  # every alert the message covers, in order
    cap: int | None = None  # how many are shown in full (None: all)

    def capped(self, cap: int) -> Digest:
        return replace(self, cap=cap)

    @property
    def shown(self) -> tuple[Alert, ...]:
        return self.alerts if self.cap is None else self.alerts[: self.cap]

    @property
    def rest(self) -> int:
        return len(self.alerts) - len(self.shown)

    def counts(self) -> str:
        """Alerts per severity, most severe first: "1 high, 2 medium"."""
        counts = Counter(a.severity for a in self.alerts)
        return ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])

    def headline(self) -> str:
        return plural(len(self.alerts), "new alert")

    def summary(self) -> str:
        return f"{self.headline()} ({self.counts()})"

    def rest_command(self) -> str:
        """The command that lists every alert of this digest (after it was delivered)."""
        words = ["roletrail", "sql", "-p", "destination", self.destination]
        words += ["-p", "delivered_at", self.now.isoformat(sep=" "), REST_QUERY]
        return shlex.join(words)

    def rest_intro(self) -> str:
        return f"… and {self.rest} more {'alert' if self.rest == 1 else 'alerts'}:"

    def rest_line(self) -> str:
        return f"{self.rest_intro()} {self.rest_command()}"


def chain_command(a: Alert) -> str | None:
    """Where an investigation starts: the chain of the alert's first event."""
    eid = a.first_event_id
    return f"roletrail chain {shell_word(eid)}" if eid else None


def seen(a: Alert) -> str:
    first, last = fmt_time(a.first_seen), fmt_time(a.last_seen)
    span = first if first == last or a.last_seen is None else f"{first} – {last}"
    if a.event_count:
        span += f" ({plural(a.event_count, 'event')})"
    return span
