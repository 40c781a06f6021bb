"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 in a thread."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes


@dataclass
class Receiver:
    """What the server got; ``statuses`` are answered in turn (the last one repeats)."""

    url: str
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            if len(self.statuses) > 1:
                return self.statuses.pop(0)
            return self.statuses[0]


def verify_signature(*, secret: str, headers: Message, body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of "<timestamp>.<body>" and compare."""
    timestamp = headers["X-ATOC-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers["X-ATOC-Signature"], f"sha256={expected}")


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.lock:
                receiver.requests.append(Received(path=self.path, headers=self.headers, body=body))
            status = receiver.next_status()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/atoc"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return receiver, server
