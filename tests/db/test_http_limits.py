"""What `reflexe serve` refuses on the wire: oversized heads and bodies, unread bodies."""

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.db.servers import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'limits.db'}"
    env = {"REFLEXE_MAX_HEADER_BYTES": "16384", "REFLEXE_SECRET_KEY": "s" * 40}
    with running_server(url, env=env) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(
    address: tuple[str, int], *parts: bytes, timeout: float = 5, pause: float = 0
) -> bytes:
    """Send `parts` on a new connection (`pause` seconds apart, so that the server reads
    them apart) and read what the server answers until it closes."""
    with socket.create_connection(address, timeout=timeout) as connection:
        for part in parts:
            try:
                connection.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused while sending: read what came back
            time.sleep(pause)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict[str, object]:
    body: dict[str, object] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return body


def test_a_head_over_the_limit_is_431(server: tuple[str, int]) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100_000 + b"\r\n\r\n"

    answer = exchange(server, head[:40_000], head[40_000:])

    assert status_of(answer) == 431
    assert body_of(answer)["status"] == 431
    assert b"application/problem+json" in answer


def test_a_head_within_the_limit_is_served(server: tuple[str, int]) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Padding: "
    answer = exchange(server, head + b"a" * 8000 + b"\r\n\r\n")

    assert status_of(answer) == 200


def test_many_headers_over_the_limit_are_431(server: tuple[str, int]) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(1000))

    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")

    assert status_of(answer) == 431


def test_an_unauthenticated_chunked_body_is_refused_before_it_ends(
    server: tuple[str, int],
) -> None:
    # From loopback, development mode lets keyless callers in: send a bad key instead.
    head = (
        b"POST /evaluate/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (1000, b" " * 1000)

    # The body never ends: an answer can only come before it is read.
    answer = exchange(server, head, chunk, timeout=3)

    assert status_of(answer) == 401


def test_a_streamed_body_over_the_limit_is_a_413_problem(server: tuple[str, int]) -> None:
    head = (
        b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunks = [b"%x\r\n%s\r\n" % (16384, b" " * 16384) for _ in range(8)]

    answer = exchange(server, head, *chunks, b"0\r\n\r\n")

    assert status_of(answer) == 413
    assert "65536 bytes" in str(body_of(answer)["detail"])


def test_the_server_keeps_serving_afterwards(server: tuple[str, int], tmp_path: Path) -> None:
    answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    assert status_of(answer) == 200


def test_large_bodies_on_a_kept_alive_connection_are_not_taken_for_heads(
    server: tuple[str, int],
) -> None:
    body = json.dumps({"attributes": {"note": "n" * 60_000}, "dry_run": True}).encode()
    request = (
        b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    last = request.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")

    answer = exchange(server, request, request, last)

    assert answer.count(b"HTTP/1.1 200 OK") == 3


def test_a_request_line_over_the_limit_is_431(server: tuple[str, int]) -> None:
    answer = exchange(server, b"GET /healthz?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")

    assert status_of(answer) == 431


def test_a_body_read_apart_from_its_head_is_not_taken_for_head(server: tuple[str, int]) -> None:
    body = json.dumps({"attributes": {"note": "n" * 20_000}, "dry_run": True}).encode()
    head = b"POST /evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    first = head + b"Content-Length: 2\r\n\r\n{}"
    second = head + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)

    answer = exchange(server, first, second, body, pause=0.2)

    assert answer.count(b"HTTP/1.1 201 Created") + answer.count(b"HTTP/1.1 200 OK") == 2
