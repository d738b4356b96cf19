"""The destinations: `[notify.<name>]` section -> the class that delivers to it.

This is the only place a destination is named. A new one is a module in this package with a
config model and a `Notifier` class (pipeline/notify/base.py), plus one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from pipeline.notify.base import Notifier

DESTINATIONS = {
    "slack": "pipeline.notify.slack:SlackNotifier",
    "email": "pipeline.notify.email:EmailNotifier",
    "webhook": "pipeline.notify.webhook:WebhookNotifier",
}


@cache
def notifier_class(name: str) -> type[Notifier]:
    # "module:Class" strings: the registry names a destination without importing it
    module, _, attr = DESTINATIONS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not isinstance(cls, type) or not hasattr(cls, "config_model"):
        raise RuntimeError(f"{DESTINATIONS[name]} is not a Notifier class with a config_model")
    return cls


def names() -> tuple[str, ...]:
    return tuple(DESTINATIONS)


def config_models() -> dict[str, type]:
    """[notify.<name>] -> the destination's config model (pipeline.config builds the section from it)."""
    return {name: notifier_class(name).config_model for name in DESTINATIONS}


def create(name: str, config: Any, env: Mapping[str, str]) -> Notifier:
    return notifier_class(name)(config, env)
