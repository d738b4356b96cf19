"""Alert delivery: an outbox in the database and one module per destination.

Where things are:

* registry.py  -- the destinations by `[notify.<name>]` section (the only place they are named)
* base.py      -- the `Notifier` protocol a destination implements, its errors, the alert it formats
* outbox.py    -- enqueue, send one digest per destination, record, backoff, give-up, retry-failed
* digest.py    -- which alerts a message covers, their order, the cap and "and N more"
* secrets.py   -- reading secrets from the environment and scrubbing every text of them
* text.py      -- log values as one visible line (`clean`), times, plurals
* http.py      -- POST for the destinations that are webhooks
* one module per destination, as registry.py lists them (email's templates under templates/)
"""

from pipeline.notify.base import DeliveryError, Misconfigured, Notifier
from pipeline.notify.outbox import backoff_seconds, notify
from pipeline.notify.registry import DESTINATIONS, config_models
from pipeline.notify.summary import DestinationResult, NotifySummary
from pipeline.notify.text import clean

__all__ = [
    "DESTINATIONS", "DeliveryError", "DestinationResult", "Misconfigured", "Notifier", "NotifySummary",
    "backoff_seconds", "clean", "config_models", "notify",
]  # fmt: skip
