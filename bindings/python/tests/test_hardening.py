"""Issue 16: unencodable text is an invalid token on every path, odd ASGI scope types
on guarded paths are refused, and what WSGI can tell of underscore header names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from whatsgate_auth import ASGIMiddleware, AuthError, InvalidToken, Keyring, MissingToken, WSGIMiddleware, principal_from
from whatsgate_auth.asgi import UnsupportedScope
from whatsgate_auth.wsgi import Environ, StartResponse

from conftest import call_wsgi, run_asgi
from servers import request, waitress_server

INVALID_CHALLENGE = ("WWW-Authenticate", 'Bearer realm="whatsgate", error="invalid_token"')


class Int(int):
    """``now`` of this type is declined by the fast path: PyO3's method answers."""


def answer(call: Callable[[], object]) -> tuple[str, int, bytes, list[tuple[str, str]]]:
    try:
        call()
    except AuthError as error:
        return type(error).__name__, error.status_code, error.body, error.headers
    return "accepted", 200, b"", []


def test_unencodable_text_is_an_invalid_token_on_every_method() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="one")
    now = int(datetime.now(timezone.utc).timestamp())
    # (method, value without the bad text, the same with it)
    cases: list[tuple[str, str, str]] = []
    for bad in ("\udc80", "\ud800", "\udfff\ud800"):
        cases += [
            ("verify_access_token", token, token + bad),
            ("verify_access_token", token, token[:20] + bad + token[20:]),
            ("verify_access_token", token, bad),
            ("verify_authorization", "Bearer " + token, "Bearer " + token + bad),
            ("verify_authorization", "Bearer " + token, "Bearer " + token[:9] + bad + token[9:]),
            ("verify_authorization", "Bearer " + token, "Bearer " + bad),
            ("verify", token, token + bad),
            ("verify", token, bad),
        ]
    for name, good, bad_value in cases:
        method = getattr(keyring, name)
        for kwargs in ({}, {"now": now}, {"now": Int(now)}, {"now": float(now)}):  # fast path and PyO3's
            # Positive control: without the unencodable text, the value is accepted.
            assert method(good, **kwargs).token_id == record.id
            got = answer(lambda: method(bad_value, **kwargs))
            profile_mcp = name == "verify_authorization"
            expected_body = b'{"message": "invalid Bearer token"}' if profile_mcp else b'{"message": "invalid Access-Token"}'
            assert got[:3] == ("InvalidToken", 401 if profile_mcp else 403, expected_body), (name, ascii(bad_value))
            if profile_mcp:
                assert INVALID_CHALLENGE in got[3]
            # The same text as the bytes a server would hand over gets the same answer.
            as_bytes = bad_value.encode("utf-8", "surrogatepass")
            assert answer(lambda: method(as_bytes, **kwargs)) == got
    # authenticate() (what both middlewares call) reads str pairs the same way.
    with pytest.raises(InvalidToken) as caught:
        keyring.authenticate([("Authorization", "Bearer " + token + "\udc80")], "mcp")
    assert INVALID_CHALLENGE in caught.value.headers
    with pytest.raises(InvalidToken):
        keyring.authenticate([("Access-Token", "\ud800" + token)])
    # A header *name* with no UTF-8 form names no header: the token is missing.
    with pytest.raises(MissingToken):
        keyring.authenticate([("Access-Token\udc80", token)])


def test_unencodable_text_through_the_middlewares() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("204 No Content", [])
        return []

    for profile, name, good in (("rest", "access-token", token), ("mcp", "authorization", "Bearer " + token)):
        asgi = ASGIMiddleware(asgi_app, keyring, profile=profile)  # type: ignore[arg-type]
        wsgi = WSGIMiddleware(wsgi_app, keyring, profile=profile)  # type: ignore[arg-type]
        key = "HTTP_" + name.upper().replace("-", "_")
        status = 401 if profile == "mcp" else 403
        # Positive controls, then the value with a lone surrogate (str header values:
        # not what an ASGI server sends, but what a WSGI server could decode to).
        assert run_asgi(asgi, {"type": "http", "path": "/", "headers": [(name, good)]})[0]["status"] == 204
        assert call_wsgi(wsgi, {"PATH_INFO": "/", key: good})[0] == 204
        for bad in (good + "\udc80", good + "\ud800", good[:12] + "\udfff" + good[12:]):
            sent = run_asgi(asgi, {"type": "http", "path": "/", "headers": [(name, bad)]})
            assert sent[0]["status"] == status and b"invalid" in sent[1]["body"]
            code, headers, body = call_wsgi(wsgi, {"PATH_INFO": "/", key: bad})
            assert code == status and b"invalid" in body
            if profile == "mcp":
                assert INVALID_CHALLENGE in headers


def test_odd_asgi_scope_types_on_guarded_paths_are_refused() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    mw = ASGIMiddleware(app, keyring, prefixes=["/api"])
    for kind in ("webtransport", "http.request", "custom", ""):
        for scope in (
            {"type": kind, "path": "/api/x", "headers": [(b"access-token", token.encode())]},
            {"type": kind},  # no path: counted as guarded
        ):
            with pytest.raises(UnsupportedScope, match="only 'http' and 'websocket'"):
                run_asgi(mw, scope, [])
        run_asgi(mw, {"type": kind, "path": "/public"}, [])  # unguarded: passed on deliberately
    assert reached == ["webtransport", "http.request", "custom", ""]
    reached.clear()
    run_asgi(mw, {"type": "lifespan"}, [])
    # Positive control: an http scope on the same path gets the profile's answer.
    sent = run_asgi(mw, {"type": "http", "path": "/api/x", "headers": []})
    assert sent[0]["status"] == 403 and reached == ["lifespan"]
    assert run_asgi(mw, {"type": "http", "path": "/api/x", "headers": [(b"access-token", token.encode())]}) == []
    assert reached == ["lifespan", "http"]
    # A long scope type is cut short in the message.
    with pytest.raises(UnsupportedScope) as caught:
        run_asgi(mw, {"type": "x" * 500, "path": "/api"}, [])
    assert len(str(caught.value)) < 300


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def wsgiref_server(app: Any) -> Iterator[int]:
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=20)
        server.server_close()


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    principal = principal_from(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [principal.account.encode()]


def test_underscore_header_names_under_real_servers() -> None:
    """What a WSGI app can and cannot tell: wsgiref maps Access_Token to the token
    header and joins both spellings (refused: a comma is never in a token);
    waitress drops the underscore name."""
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    app = WSGIMiddleware(echo, keyring)
    value = token.encode()
    with wsgiref_server(app) as port:
        assert request(port, "/x", [("Access-Token", value)]).status == 200  # positive control
        both = request(port, "/x", [("Access-Token", value), ("Access_Token", value)])
        assert (both.status, both.body) == (403, b'{"message": "invalid Access-Token"}')
        reversed_order = request(port, "/x", [("Access_Token", value), ("Access-Token", value)])
        assert reversed_order.status == 403
        # The documented caveat: alone, the underscore spelling is indistinguishable.
        assert request(port, "/x", [("Access_Token", value)]).status == 200
    with waitress_server(app) as port:
        assert request(port, "/x", [("Access-Token", value)]).status == 200
        alone = request(port, "/x", [("Access_Token", value)])
        assert (alone.status, alone.body) == (403, b'{"message": "an Access-Token is required"}')
        # Dropped, so only the real header is read.
        assert request(port, "/x", [("Access_Token", b"wgat_other"), ("Access-Token", value)]).status == 200
