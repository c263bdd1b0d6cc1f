"""A real HTTP receiver on loopback for webhook tests: it records what it is sent and
answers as a test tells it (a status, a redirect, no answer at all)."""

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer: int  # the sender's port: one per connection


@dataclass
class Receiver:
    """What the handler answers: `statuses` in turn (the last one repeats), or nothing
    while `hang` is set; over HTTP/1.1 connections kept alive if `keep_alive`, else one
    HTTP/1.0 connection per request."""

    port: int = 0
    tls: ssl.SSLContext | None = None  # HTTPS, with this context's certificate
    statuses: list[int] = field(default_factory=lambda: [200])
    location: str | None = None
    keep_alive: bool = False
    hang: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hooks"

    def status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        """The first `count` requests, once that many arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received[:count])
            time.sleep(0.02)
        pytest.fail(f"the receiver got {len(self.received)} requests, not {count}")

    def of_type(self, event_type: str) -> list[Received]:
        import json

        with self.lock:
            return [r for r in self.received if json.loads(r.body)["type"] == event_type]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            found = Received(self.path, dict(self.headers), body, self.client_address[1])
            with receiver.lock:
                receiver.received.append(found)
            while receiver.hang.is_set():
                time.sleep(0.05)
            status = receiver.status()
            self.send_response(status)
            if receiver.location is not None and 300 <= status < 400:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(port: int = 0, **options: Any) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (on `port`, or a free one) for the block."""
    receiver = Receiver(**options)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    if receiver.tls is not None:
        server.socket = receiver.tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.hang.clear()
        server.shutdown()
        server.server_close()
