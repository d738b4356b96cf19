"""Loopback stand-ins for Slack/webhook endpoints and an SMTP relay, recording what they receive.

`roletrail demo` delivers its alerts to them, and the tests' servers (tests/servers.py) build on
them. Both listen on 127.0.0.1 only, on a free port, and log nothing: a request line holds the
webhook's secret path.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes  # exactly as received

    def json(self):
        return json.loads(self.body)


class HttpRecorder:
    """A threaded HTTP server that records every request; ``answer`` decides the response
    (200 "ok" here; subclasses answer otherwise)."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's naming)
                self._handle()

            def do_GET(self):  # noqa: N802
                self._handle()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = ReceivedRequest(self.command, self.path, dict(self.headers.items()), body)
                with recorder._lock:
                    recorder.requests.append(req)
                    status, headers, answer = recorder.answer(req)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # the request line holds the secret path
                pass

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="http-recorder", daemon=True
        )

    def answer(self, req: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        """Status, extra headers and body for a request (called with the recorder's lock held)."""
        return 200, {}, b"ok"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def url(self, path: str = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def bodies(self) -> list[bytes]:
        return [r.body for r in self.requests]


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # exactly what came after DATA (dot-unstuffed)
    message: EmailMessage = field(repr=False)


class SmtpRecorder:
    """An aiosmtpd server on 127.0.0.1 that records every message it accepts.

    ``controller_options`` go to aiosmtpd's Controller (an authenticator, for instance)."""

    def __init__(self, **controller_options) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[ReceivedMail] = []
        self.host = LOOPBACK
        recorder = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802 (aiosmtpd's naming)
                data = envelope.original_content or b""
                recorder.messages.append(
                    ReceivedMail(
                        mail_from=envelope.mail_from,
                        rcpt_tos=list(envelope.rcpt_tos),
                        data=data,
                        message=email.message_from_bytes(data, policy=email.policy.default),
                    )
                )
                return "250 Message accepted for delivery"

        # aiosmtpd's Controller needs a concrete port (it connects to itself to start)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname=self.host, port=self.port, **controller_options)

    def start(self):
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The messages once there are n of them (or when timeout seconds have passed)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages
