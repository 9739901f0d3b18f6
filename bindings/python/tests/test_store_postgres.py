"""Fail closed on PostgreSQL: the server stops under an attached keyring, which answers
503 with Retry-After past its ``stale_after``, then the server comes back and the
keyring recovers with a deletion made meanwhile applied.

Needs ``WGAUTH_TEST_PG_URL`` and ``WGAUTH_TEST_PG_DIR`` (scripts/test-python starts a
throwaway server with ``scripts/pg start``); skipped otherwise."""

from __future__ import annotations

import time
from typing import Any

import pytest

from whatsgate_auth import ASGIMiddleware, InvalidToken, Keyring, StoreError, WSGIMiddleware

from conftest import call_wsgi, run_asgi
from stores import NO_PG, NO_PG_DIR, PG_DIR, PG_URL, accepts, eventually, pg_database, pg_server

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason=NO_PG),
    pytest.mark.skipif(not PG_DIR, reason=NO_PG_DIR),
]

UNAVAILABLE = b'{"message": "the token store cannot be reached; retry later"}'
INVALID = b'{"message": "invalid Access-Token"}'
STALE_AFTER = 1.0


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def echo_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return [b""]


def answers(keyring: Keyring, token: str) -> list[tuple[int, bytes, bool]]:
    """(status, body, has Retry-After) from the ASGI and the WSGI middleware, in process."""
    sent = run_asgi(
        ASGIMiddleware(echo_app, keyring),
        {"type": "http", "path": "/api", "headers": [(b"access-token", token.encode())]},
    )
    asgi = (sent[0]["status"], sent[1].get("body", b""), (b"retry-after", b"1") in sent[0]["headers"])
    status, headers, body = call_wsgi(
        WSGIMiddleware(echo_wsgi, keyring), {"PATH_INFO": "/api", "HTTP_ACCESS_TOKEN": token}
    )
    return [asgi, (status, body, ("Retry-After", "1") in headers)]


def open_when_back(url: str) -> Keyring:
    """Keyring.open, retried while the restarted server still refuses (a server that
    has just started, on a loaded machine, can reset a connection or two)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return Keyring.open(url, poll=0.2)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


OK = [(204, b"", False)] * 2
REFUSED = [(403, INVALID, False)] * 2
STALE = [(503, UNAVAILABLE, True)] * 2


@pytest.mark.parametrize("mode", ["fast", "kill"])
def test_server_down_503_then_back_with_the_deletion_made_meanwhile(mode: str) -> None:
    url = pg_database()
    with Keyring.open(url, create=True) as setup:
        token, _ = setup.create(account="acct", name="kept")
        doomed, doomed_record = setup.create(account="acct", name="doomed")
    node = Keyring.open(url, stale_after=STALE_AFTER, poll=0.2, timeout=1.0)
    try:
        eventually(lambda: answers(node, token) == OK and answers(node, doomed) == OK, "the node answers")
        pg_server("down", mode)
        try:
            eventually(lambda: not node.is_available, "503 past stale_after", timeout=STALE_AFTER + 10)
            for presented in (token, doomed, "wgat_" + "A" * 40):
                assert answers(node, presented) == STALE
            with pytest.raises(StoreError, match="cannot reach the token store"):
                node.delete(doomed_record.id)
            stats = node.stats
            assert stats is not None and not stats.current and stats.last_error
            assert "wgauth@127.0.0.1" in stats.last_error or "127.0.0.1" in stats.last_error
        finally:
            pg_server("up")
        # A second writer, after the restart, deletes a token the node still holds.
        with open_when_back(url) as writer:
            writer.delete(doomed_record.id)
            with pytest.raises(InvalidToken):
                writer.verify_access_token(doomed)
        # (Each check waits: on a loaded machine a starved follower can miss its
        # bound for a moment, and then rightly answers 503 again.)
        eventually(lambda: node.is_available, "the node recovers once the server is back", timeout=20)
        eventually(
            lambda: answers(node, token) == OK and answers(node, doomed) == REFUSED,
            "the node accepts the kept token and refuses the one deleted meanwhile",
        )
        stats = node.stats
        assert stats is not None and stats.resyncs >= 2
        # Writes go through the node again.
        fresh, fresh_record = node.create(account="acct", name="fresh")
        eventually(lambda: answers(node, fresh) == OK, "the node accepts a token it issued")
        assert node.delete(fresh_record.id) is not None
        with pytest.raises(InvalidToken):
            node.verify_access_token(fresh)
    finally:
        node.close()


def test_a_password_never_shows() -> None:
    """The test server trusts local users, so any password connects: it must show nowhere."""
    url = pg_database().replace("postgresql://wgauth@", "postgresql://wgauth:pa55-w0rd@", 1)
    assert "pa55-w0rd" in url
    with Keyring.open(url, create=True, stale_after=STALE_AFTER, poll=0.2) as keyring:
        token, record = keyring.create(account="acct", name="one")
        assert "pa55-w0rd" not in repr(keyring) and "wgauth:***@" in repr(keyring)
        pg_server("down", "fast")
        try:
            eventually(lambda: not keyring.is_available, "503 past stale_after", timeout=STALE_AFTER + 10)
            with pytest.raises(StoreError) as error:
                keyring.delete(record.id)
            stats = keyring.stats
            assert stats is not None and stats.last_error
            for shown in (str(error.value), stats.last_error, repr(stats), repr(keyring)):
                assert "pa55-w0rd" not in shown, shown
        finally:
            pg_server("up")
        eventually(lambda: accepts(keyring, token), "the keyring recovers", timeout=20)
