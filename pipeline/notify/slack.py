"""`[notify.slack]`: a Slack incoming webhook, one Block Kit message per digest.

In Slack mrkdwn every value from the logs has `&`, `<`, `>` escaped and is shown as inline
code (backticks inside replaced), so it cannot mention, link or format. The summary `text`
(what notifications show) holds only our words and counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from pipeline.config import Strict
from pipeline.notify import http
from pipeline.notify.base import Alert
from pipeline.notify.digest import Digest, chain_command, seen
from pipeline.notify.secrets import from_env, url_parts
from pipeline.notify.text import VALUE_LIMIT, clean, fmt_time

EMOJI = {
    "critical": ":rotating_light:",
    "high": ":red_circle:",
    "medium": ":large_orange_circle:",
    "low": ":large_yellow_circle:",
    "info": ":information_source:",
}
MAX_BLOCKS = 50  # Slack's limit per message


class SlackConfig(Strict):
    webhook_url_env: str = "ROLETRAIL_SLACK_WEBHOOK"
    max_alerts_per_message: int = Field(default=20, ge=1, le=45)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class SlackNotifier:
    config_model = SlackConfig

    def __init__(self, config: SlackConfig, env: Mapping[str, str]):
        self.config, self.env = config, env
        self.url: str | None = None

    def check(self) -> None:
        self.url = from_env(self.env, self.config.webhook_url_env, "Slack webhook URL")
        http.check_url(self.url, "Slack webhook URL")

    def secrets(self) -> list[str]:
        return url_parts(self.url) if self.url else []

    def format(self, digest: Digest) -> dict[str, Any]:
        return payload(digest.capped(self.config.max_alerts_per_message))

    def send(self, message: dict[str, Any]) -> list[str]:
        body = json.dumps(message).encode()
        http.post(
            self.url, body, {"Content-Type": "application/json"}, self.config.timeout_seconds, "Slack webhook"
        )
        return []


def escape(text: str) -> str:
    """Slack's three control characters: after this a value cannot mention, link or ping."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def value(v: Any, limit: int = VALUE_LIMIT) -> str:
    text = clean(v, limit)
    if not text:
        return "—"
    # inline code: no bold/italic/strike/auto-formatting; a backtick would end it early
    return "`" + escape(text.replace("`", "ˋ")) + "`"


def payload(digest: Digest) -> dict[str, Any]:
    """The webhook JSON: a summary `text` and Block Kit blocks (at most 50: fewer alerts
    shown in full, dividers dropped first, when the cap would exceed it)."""
    text = f"roletrail: {digest.summary()}"
    # Slack rejects a message of more than 50 blocks (HTTP 400): shrink until it fits
    while True:
        for dividers in (True, False):
            blocks = _blocks(digest, dividers)
            if len(blocks) <= MAX_BLOCKS:
                return {"text": text, "blocks": blocks}
        digest = digest.capped(len(digest.shown) - 1)


def _blocks(digest: Digest, dividers: bool) -> list[dict]:
    header = f"roletrail: {digest.headline()}"
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{digest.counts()} · {fmt_time(digest.now)}"}],
        },
    ]
    for i, a in enumerate(digest.shown):
        if dividers and i:
            blocks.append({"type": "divider"})
        blocks.append(_section(a))
    if digest.rest > 0:
        if dividers:
            blocks.append({"type": "divider"})
        # inline code: mrkdwn would read the query's `*` and `_` as formatting
        rest = f"{escape(digest.rest_intro())} `{escape(digest.rest_command())}`"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": rest}})
    return blocks


def _section(a: Alert) -> dict:
    title = escape(clean(a.title or a.detector or "alert", 200)).replace("*", "∗")
    chain = chain_command(a)
    fields = [
        ("Detector", value(a.detector, 100)),
        ("Role", value(a.role_arn)),
        ("Caller account → target account", f"{value(a.caller_account, 64)} → {value(a.account_id, 64)}"),
        ("Source IP", value(a.source_ip, 100)),
        ("Session name", value(a.session_name)),
        ("Source identity", value(a.source_identity)),
        ("User agent", value(a.user_agent)),
        ("Seen", escape(seen(a))),
        ("Runbook", escape(clean(a.runbook_step, 500)) if a.runbook_step else "—"),
        ("Investigate", value(chain, 250) if chain else "—"),
    ]
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"{EMOJI[a.severity]} *{a.severity.upper()}* · *{title}*"},
        "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{text}"} for name, text in fields],
    }
