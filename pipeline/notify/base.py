"""What a destination is: the `Notifier` protocol, the alert it formats and the errors it raises.

A destination is one module with a config model (its `[notify.<name>]` section) and a class
that checks its configuration, formats a digest, sends it and names the secrets it handles.
Everything else (outbox, backoff, digests, scrubbing) is shared and knows no destination.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from pipeline.notify.digest import Digest


class DeliveryError(Exception):
    """A failed delivery attempt.

    `message` is built from our own words, codes and class names. `detail` is what the other
    side said (an HTTP body, an SMTP reply): it may echo a secret, so it is kept whole here
    and scrubbed before it is cut (pipeline.notify.outbox), never cut first."""

    def __init__(self, message: str, detail: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.retry_after = retry_after


class Misconfigured(DeliveryError):
    """The destination cannot be used as configured (a missing environment variable, a bad
    URL or address, a password that would go in clear): nothing is sent, no attempt counted."""


@dataclass
class Alert:
    """One alert of a digest: the stored columns (pipeline.store.ALERT_FIELDS) by name, and
    the state of its delivery to this destination."""

    fields: dict[str, Any]
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    runbook_step: str | None = None

    def __getattr__(self, name: str) -> Any:
        # a.role_arn, a.session_name, ...: the alert's columns read as attributes
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def first_event_id(self) -> str | None:
        return next((e for e in self.fields.get("event_ids") or [] if e), None)


@runtime_checkable
class Notifier(Protocol):
    """A destination. Constructed with its validated `[notify.<name>]` section and the
    environment its secrets are read from; raises DeliveryError (Misconfigured for
    configuration problems) with secret-free messages."""

    config_model: ClassVar[type[BaseModel]]

    def __init__(self, config: Any, env: Mapping[str, str]) -> None: ...

    def check(self) -> None:
        """Read the secrets and validate what can be validated without sending."""

    def secrets(self) -> list[str]:
        """Every secret value read so far; the scrubber derives their encodings."""

    def format(self, digest: Digest) -> Any:
        """The message for a digest of pending alerts."""

    def send(self, message: Any) -> list[str]:
        """Deliver the message; returns warnings (a recipient refused, ...)."""
