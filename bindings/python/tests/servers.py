"""Real servers on loopback for the middleware tests, and a raw HTTP client."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from waitress.server import create_server


def loopback_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 at a free port chosen by the OS."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def uvicorn_server(app: Any) -> Iterator[int]:
    sock = loopback_socket()
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@contextmanager
def waitress_server(app: Any) -> Iterator[int]:
    # Any: the stubs type the server's trigger as an int.
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=4)
    port = int(server.effective_port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        # Closed in the server's own loop thread, through its trigger: closing
        # its sockets from this thread while that one waits in select() made
        # it fail with EBADF now and then (an unhandled thread exception,
        # which filterwarnings = error turns into a failed test: about one
        # run in 40 of the middleware tests).
        try:
            server.trigger.pull_trigger(server.close)
        except OSError:
            # EBADF: the trigger is closed already, so the loop has closed
            # the server and ended on its own (seen twice in one run of
            # the suite, at a test's exit, after its requests all passed).
            pass
        thread.join(timeout=20)
        server.task_dispatcher.shutdown()


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def request(port: int, path: str, headers: list[tuple[str, bytes]] = []) -> Response:  # noqa: B006
    """GET with exactly these headers (repeats kept, in order), over loopback."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.putrequest("GET", path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        return Response(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def sendable(value: bytes) -> bool:
    """Whether a header value reaches the app unchanged over HTTP/1.1.

    NUL, CR and LF cannot be sent; huge values hit the server's limits; and
    servers drop the whitespace around a value (RFC 9110 §5.5), which turns
    "4097 bytes of spaces around a token" into a bare token. The in-process
    tests cover those cases.
    """
    return (
        len(value) <= 4096
        and value == value.strip(b" \t")
        and not any(b in value for b in (0, 10, 13))
    )


def tamper(token: str) -> str:
    """The token with one secret character changed: well-formed text, wrong token."""
    i = 30
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]
