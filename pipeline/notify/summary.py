"""What a notify run did, per destination: for the command's lines, `run`'s JSON and the exit status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pipeline.notify.text import fmt_time, plural


@dataclass
class DestinationResult:
    destination: str
    alerts_sent: int = 0  # alerts covered by a message accepted in this run
    messages_sent: int = 0
    failures: int = 0  # failed attempts in this run (0 or 1)
    pending: int = 0  # still pending after this run
    failed: int = 0  # rows that gave up (status 'failed'), for open alerts
    newly_failed: int = 0  # of which gave up in this run
    misconfigured: bool = False  # not usable as configured: nothing sent, nothing counted
    last_error: str | None = None
    next_attempt_at: dt.datetime | None = None
    waiting: bool = False  # not contacted: still in backoff from an earlier failure
    warnings: list[str] = field(default_factory=list)

    @property
    def undelivered(self) -> str | None:
        """Why alerts of this destination are not being delivered, when a person must act."""
        if self.misconfigured:
            return f"{self.destination} is misconfigured"
        if self.newly_failed:
            return f"{self.destination} gave up on {plural(self.newly_failed, 'alert')}"
        return None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["next_attempt_at"] = fmt_time(self.next_attempt_at) if self.next_attempt_at else None
        d["warnings"] = list(self.warnings)
        return d

    def lines(self) -> list[str]:
        name = self.destination
        out = []
        if self.misconfigured:
            waiting = f"; {plural(self.pending, 'alert')} waiting until it is fixed" if self.pending else ""
            out.append(f"{name}: misconfigured, nothing sent: {self.last_error}{waiting}")
        elif self.messages_sent:
            out.append(
                f"{name}: {plural(self.alerts_sent, 'alert')} delivered in {plural(self.messages_sent, 'message')}"
            )
        elif self.failures:
            out.append(
                f"{name}: delivery failed: {self.last_error}; {plural(self.pending, 'alert')} pending, "
                f"next attempt at {fmt_time(self.next_attempt_at)}"
                if self.pending
                else f"{name}: delivery failed: {self.last_error}"
            )
        elif self.waiting:
            out.append(
                f"{name}: {plural(self.pending, 'alert')} pending, next attempt at "
                f"{fmt_time(self.next_attempt_at)} (last error: {self.last_error})"
            )
        else:
            out.append(f"{name}: nothing new to deliver")
        if self.failed:
            out.append(
                f"{name}: {plural(self.failed, 'alert')} not delivered, gave up after repeated failures "
                f"(alert_deliveries.status = 'failed'; `roletrail notify --retry-failed` tries again; "
                f"last error: {self.last_error})"
            )
        out.extend(f"{name}: warning: {w}" for w in self.warnings)
        return out


@dataclass
class NotifySummary:
    destinations: list[DestinationResult] = field(default_factory=list)
    enqueued: int = 0  # outbox rows created in this run
    known: tuple[str, ...] = ()  # the registered destinations, for the hint when none is configured

    @property
    def ok(self) -> bool:
        """True when no delivery attempt failed in this run and nothing has given up."""
        return all(d.failures == 0 and d.failed == 0 and not d.misconfigured for d in self.destinations)

    @property
    def undelivered(self) -> list[str]:
        """Reasons for the "alerts not delivered" exit status: a misconfigured destination, or
        alerts given up on in this run. A failure that will be retried is not one."""
        # a transient failure is retried by the next run on its own: no one needs to be woken
        return [r for d in self.destinations if (r := d.undelivered)]

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
            sections = ", ".join(f"[notify.{name}]" for name in self.known)
            return [f"notify: no destination configured (add one of {sections} to the config)"]
        return [line for d in self.destinations for line in d.lines()]
