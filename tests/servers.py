"""Real servers on 127.0.0.1 standing in for Slack and an SMTP relay, and their pytest fixtures.

Use them from a test module with::

    from servers import slack_webhook, smtp_server, smtp_server_factory  # noqa: F401  (fixtures)

* ``slack_webhook`` -> WebhookServer: ``.url(path)`` gives a webhook URL on the server,
  ``.requests`` every request received (method, path, headers, exact body bytes),
  ``.fail_next(n, status=500, retry_after=None, body=...)`` answers the next n requests
  with that status (429 + ``Retry-After`` for rate limiting), afterwards 200 "ok".
* ``webhook_server``: the same, under a name for destinations other than Slack.
* ``smtp_server`` -> SmtpServer (aiosmtpd, no login): ``.host``, ``.port``, ``.messages``
  (mail_from, rcpt_tos, exact ``data`` bytes, ``.message`` parsed), ``.wait_for(n)``.
* ``smtp_server_factory(user=..., password=...)`` -> an SmtpServer that requires
  AUTH LOGIN/PLAIN with those credentials (over plain TCP: ``auth_require_tls=False``);
  ``.auth_attempts`` records (mechanism, login, success) — never the password.
  ``reject_reply=f`` answers a failed login with ``f(mechanism, login, password)`` (bytes
  in, one reply line such as "535 ..." out): a server that echoes what it was sent.
* ``no_proxy``: removes the ``*_proxy`` variables urllib honours, so requests stay on loopback.

Servers log nothing to stdout/stderr (a request line would contain the webhook's token).
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# --------------------------------------------------------------------------- Slack webhook


@pytest.fixture
def no_proxy(monkeypatch):
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)


class WebhookServer:
    """A threaded HTTP server that records every request and answers as told."""

    def __init__(self):
        self.requests: list[ReceivedRequest] = []
        self._failures: list[tuple[int, str | None, bytes]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self._handle()

            def do_GET(self):
                self._handle()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, retry_after, answer = server._record(
                    ReceivedRequest(self.command, self.path, dict(self.headers.items()), body)
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # the request line holds the secret path
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook", daemon=True
        )

    def start(self) -> WebhookServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def url(self, path: str = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(
        self, n: int, status: int = 500, retry_after: str | int | None = None, body: bytes = b""
    ) -> None:
        """Answer the next n requests with `status` (and a Retry-After header when given)."""
        ra = None if retry_after is None else str(retry_after)
        with self._lock:
            self._failures.extend([(status, ra, body or f"error {status}".encode())] * n)

    def _record(self, req: ReceivedRequest) -> tuple[int, str | None, bytes]:
        with self._lock:
            self.requests.append(req)
            if self._failures:
                return self._failures.pop(0)
        return 200, None, b"ok"

    @property
    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]


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


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # exactly what came after DATA (dot-unstuffed)
    message: EmailMessage = field(repr=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that records every message it accepts."""

    def __init__(self, user: str | None = None, password: str | None = None, reject_reply=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[ReceivedMail] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []
        self.host = "127.0.0.1"
        self.user, self.password = user, password
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                data = envelope.original_content or b""
                server.messages.append(
                    ReceivedMail(
                        mail_from=envelope.mail_from,
                        rcpt_tos=list(envelope.rcpt_tos),
                        data=data,
                        message=email.message_from_bytes(data, policy=email.policy.default),
                    )
                )
                return "250 Message accepted for delivery"

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
        # aiosmtpd's Controller needs a concrete port (it connects to itself to start)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname=self.host, port=self.port, **kwargs)

    def start(self) -> SmtpServer:
        # aiosmtpd warns once that AUTH without TLS is insecure; on loopback in tests it is intended
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages


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
