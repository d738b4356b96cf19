"""`[notify.email]`: an SMTP digest, multipart/alternative (plain text and HTML).

Both parts are Jinja2 templates (templates/email.txt.j2, templates/email.html.j2); the HTML
environment autoescapes, so a value from the logs is escaped unless someone marks it
otherwise. Every value passes through `clean()` first (one line, control characters
visible). Headers are built only from our own words and counts plus the configured
addresses, and the message uses `email.policy.SMTP`, which refuses CR/LF in header values.

The password never goes over the wire in clear: without `ssl` or `starttls`, logging in is
refused unless the host is loopback or `allow_plaintext_auth = true` says it is intended.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import ipaddress
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from functools import cache
from typing import Any

from pydantic import Field

from pipeline.config import Strict
from pipeline.notify.base import Alert, DeliveryError, Misconfigured
from pipeline.notify.digest import Digest, chain_command, seen
from pipeline.notify.http import describe_oserror
from pipeline.notify.secrets import from_env
from pipeline.notify.text import clean, fmt_time, has_control

COLORS = {"critical": "#8b0000", "high": "#d32f2f", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"}


class EmailConfig(Strict):
    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    # log in without TLS to a host that is not loopback (the password crosses the network in clear)
    allow_plaintext_auth: bool = False
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    max_alerts_per_message: int = Field(default=100, ge=1, le=1000)


class EmailNotifier:
    config_model = EmailConfig

    def __init__(self, config: EmailConfig, env: Mapping[str, str]):
        self.config, self.env = config, env
        self.creds: tuple[str, str] | None = None
        self.sender, self.recipients = "", []

    def check(self) -> None:
        cfg = self.config
        self.sender, self.recipients = addresses(cfg)
        self.creds = credentials(cfg, self.env)
        if self.creds and not (cfg.ssl or cfg.starttls) and not cfg.allow_plaintext_auth:
            if not is_loopback(cfg.smtp_host):
                raise Misconfigured(
                    f"[notify.email] would send the SMTP password in clear text to {clean(cfg.smtp_host, 100)} "
                    "(starttls = false, ssl = false): enable starttls or ssl, "
                    "or set allow_plaintext_auth = true if the network is trusted"
                )

    def secrets(self) -> list[str]:
        if not self.creds:
            return []
        user, password = self.creds
        # AUTH PLAIN sends base64("\0user\0password"); the scrubber derives the encodings
        return [user, password, f"\0{user}\0{password}"]

    def format(self, digest: Digest) -> EmailMessage:
        return message(digest.capped(self.config.max_alerts_per_message), self.config, self.sender)

    def send(self, msg: EmailMessage) -> list[str]:
        return send(msg, self.config, self.sender, self.recipients, self.creds)


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def addresses(cfg: EmailConfig) -> tuple[str, list[str]]:
    """The envelope sender and recipients. A configured address that holds a control
    character (CR/LF: a header injection) or is not an address refuses delivery."""

    def one(value: str, where: str) -> str:
        if has_control(value):
            raise Misconfigured(f"[notify.email] {where} contains a control character (CR/LF?)")
        addr = email.utils.parseaddr(value.strip())[1]
        if "@" not in addr:
            raise Misconfigured(f"[notify.email] {where} is not an email address")
        return addr

    return one(cfg.from_, "from"), [one(t, f"to[{i}]") for i, t in enumerate(cfg.to)]


def credentials(cfg: EmailConfig, env: Mapping[str, str]) -> tuple[str, str] | None:
    if not cfg.username_env and not cfg.password_env:
        return None
    if not (cfg.username_env and cfg.password_env):
        raise Misconfigured("[notify.email] needs both username_env and password_env for SMTP login")
    # a password is taken as it is: spaces may be part of it
    return from_env(env, cfg.username_env, "SMTP user name"), from_env(
        env, cfg.password_env, "SMTP password", strip=False
    )


@cache
def _templates(html: bool):
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.notify", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def message(digest: Digest, cfg: EmailConfig, sender: str) -> EmailMessage:
    """A multipart/alternative digest. Headers hold only our words, counts and config addresses."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = f"[roletrail] {digest.headline()}: {digest.counts()}"
    msg["From"] = cfg.from_.strip()
    msg["To"] = ", ".join(t.strip() for t in cfg.to)
    msg["Date"] = email.utils.format_datetime(digest.now.replace(tzinfo=dt.UTC))
    # the sender's domain, not make_msgid's default (this host's name, looked up by DNS)
    msg["Message-ID"] = email.utils.make_msgid("roletrail", domain=sender.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    view = _view(digest)
    msg.set_content(_templates(False).get_template("email.txt.j2").render(view), charset="utf-8")
    msg.add_alternative(
        _templates(True).get_template("email.html.j2").render(view), subtype="html", charset="utf-8"
    )
    return msg


def _view(digest: Digest) -> dict[str, Any]:
    return {
        "headline": digest.headline(),
        "counts": digest.counts(),
        "now": fmt_time(digest.now),
        "alerts": [
            {
                "severity": a.severity,
                "color": COLORS[a.severity],
                "title": clean(a.title or a.detector or "alert", 200),
                "rows": _rows(a),
            }
            for a in digest.shown
        ],
        "rest": digest.rest_line() if digest.rest else None,
    }


def _rows(a: Alert) -> list[dict[str, Any]]:
    caller, target = clean(a.caller_account, 64) or "—", clean(a.account_id, 64) or "—"
    rows = [
        ("Detector", clean(a.detector, 100), True),
        ("Role", clean(a.role_arn), True),
        ("Caller account → target", f"{caller} → {target}", True),
        ("Caller", clean(a.caller_arn), True),
        ("Source IP", clean(a.source_ip, 100), True),
        ("Session name", clean(a.session_name), True),
        ("Source identity", clean(a.source_identity), True),
        ("User agent", clean(a.user_agent), True),
        ("Seen", seen(a), False),
        ("Runbook", clean(a.runbook_step, 500), False),
        ("Investigate", chain_command(a) or "", True),
    ]
    return [{"name": name, "value": value, "code": code} for name, value, code in rows]


def send(
    msg: EmailMessage, cfg: EmailConfig, sender: str, recipients: list[str], creds: tuple[str, str] | None
) -> list[str]:
    """Send over SMTP. Returns warnings (recipients refused); raises DeliveryError on failure,
    with the server's reply as the error's detail (scrubbed before it is stored)."""
    # loading the CA certificates takes ~0.1 s: only when TLS is used
    context = ssl.create_default_context() if cfg.ssl or cfg.starttls else None
    where = f"SMTP {clean(cfg.smtp_host, 100)}:{cfg.smtp_port}"
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
            f"{where}: authentication failed", detail=_reply(e.smtp_code, e.smtp_error)
        ) from None
    except smtplib.SMTPRecipientsRefused as e:
        codes = "; ".join(f"{r}: {_reply(*v)}" for r, v in list(e.recipients.items())[:5])
        raise DeliveryError(f"{where}: all recipients refused", detail=codes) from None
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(
            f"{where}: the server does not support a requested extension (STARTTLS or AUTH)"
        ) from None
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(
            f"{where}: {type(e).__name__}", detail=_reply(e.smtp_code, e.smtp_error)
        ) from None
    except smtplib.SMTPServerDisconnected:
        raise DeliveryError(f"{where}: server disconnected") from None
    except smtplib.SMTPException as e:
        raise DeliveryError(f"{where}: {type(e).__name__}") from None
    except Exception as e:
        raise DeliveryError(f"{where}: {describe_oserror(e, cfg.timeout_seconds)}") from None
    return [f"recipient {r} refused: {_reply(*v)}" for r, v in refused.items()]


def _reply(code: Any, text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()
