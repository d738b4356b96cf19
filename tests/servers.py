"""Real servers on 127.0.0.1 standing in for Slack and an SMTP relay, and their pytest fixtures.

Use them from a test module with::

    from servers import slack_webhook, smtp_server, smtp_server_factory  # noqa: F401  (fixtures)

* ``slack_webhook`` -> WebhookServer: ``.url(path)`` gives a webhook URL on the server,
  ``.requests`` every request received (method, path, headers, exact body bytes),
  ``.fail_next(n, status=500, retry_after=None, body=...)`` answers the next n requests
  with that status (429 + ``Retry-After`` for rate limiting), afterwards 200 "ok".
* ``smtp_server`` -> SmtpServer (aiosmtpd, no login): ``.host``, ``.port``, ``.messages``
  (mail_from, rcpt_tos, exact ``data`` bytes, ``.message`` parsed), ``.wait_for(n)``.
* ``smtp_server_factory(user=..., password=...)`` -> an SmtpServer that requires
  AUTH LOGIN/PLAIN with those credentials (over plain TCP: ``auth_require_tls=False``);
  ``.auth_attempts`` records (mechanism, login, success) — never the password.
  ``reject_reply=f`` answers a failed login with ``f(mechanism, login, password)`` (bytes
  in, one reply line such as "535 ..." out): a server that echoes what it was sent.
* ``webhook_server``: the same recorder as ``slack_webhook``, for destinations other than Slack.
* ``no_proxy``: removes the ``*_proxy`` variables urllib honours, so requests stay on loopback.

Servers log nothing to stdout/stderr (a request line would contain the webhook's token).
"""

from __future__ import annotations

import logging
import threading

import pytest

from pipeline.sinks import HttpRecorder, ReceivedMail, ReceivedRequest, SmtpRecorder, free_port

__all__ = ["ReceivedMail", "ReceivedRequest", "SmtpServer", "WebhookServer", "free_port"]

# --------------------------------------------------------------------------- Slack webhook


@pytest.fixture
def no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


class WebhookServer(HttpRecorder):
    """pipeline.sinks.HttpRecorder that can be told to fail the next requests."""

    def __init__(self):
        super().__init__()
        self._failures: list[tuple[int, str | None, bytes]] = []
        self._fail_lock = threading.Lock()

    def fail_next(
        self, n: int, status: int = 500, retry_after: str | int | None = None, body: bytes = b""
    ) -> None:
        """Answer the next n requests with `status` (and a Retry-After header when given)."""
        ra = None if retry_after is None else str(retry_after)
        with self._fail_lock:
            self._failures.extend([(status, ra, body or f"error {status}".encode())] * n)

    def answer(self, req: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        with self._fail_lock:
            if self._failures:
                status, retry_after, body = self._failures.pop(0)
                return status, ({"Retry-After": retry_after} if retry_after is not None else {}), body
        return super().answer(req)


@pytest.fixture
def slack_webhook():
    server = WebhookServer().start()
    try:
        yield server
    finally:
        server.stop()


# the same recorder, for any destination that POSTs (a generic JSON webhook)
webhook_server = slack_webhook


# --------------------------------------------------------------------------- SMTP


class SmtpServer(SmtpRecorder):
    """pipeline.sinks.SmtpRecorder that, given a user and password, requires AUTH LOGIN/PLAIN."""

    def __init__(self, user: str | None = None, password: str | None = None, reject_reply=None):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.auth_attempts: list[tuple[str, str, bool]] = []
        self.user, self.password = user, password
        server = self

        def authenticator(smtp, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode(errors="replace") == user
                and auth_data.password.decode(errors="replace") == password
            )
            login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else "?"
            server.auth_attempts.append((mechanism, login, ok))
            if not ok and reject_reply is not None and isinstance(auth_data, LoginPassword):
                reply = reject_reply(mechanism, auth_data.login, auth_data.password)
                return AuthResult(success=False, handled=False, message=reply)
            # handled=False: aiosmtpd itself answers 535 on failure
            return AuthResult(success=ok, handled=False)

        kwargs = {}
        if user is not None:
            kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
        super().__init__(**kwargs)

    def start(self) -> SmtpServer:
        # aiosmtpd warns once that AUTH without TLS is insecure; on loopback in tests it is intended
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        return super().start()


@pytest.fixture
def smtp_server_factory():
    started: list[SmtpServer] = []

    def make(user: str | None = None, password: str | None = None, reject_reply=None) -> SmtpServer:
        server = SmtpServer(user, password, reject_reply).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for s in started:
            s.stop()


@pytest.fixture
def smtp_server(smtp_server_factory) -> SmtpServer:
    return smtp_server_factory()
