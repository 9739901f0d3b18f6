"""The scopes routes need, declared on the ASGI and WSGI middleware: every matching
rule applies, method-specific rules (a GET rule covers HEAD), bad rules refused at
construction, and the core's exact 403 (mcp: the insufficient_scope challenge)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from whatsgate_auth import ASGIMiddleware, InsufficientScope, Keyring, Principal, WSGIMiddleware, principal_from
from whatsgate_auth.wsgi import Environ, StartResponse

from conftest import call_wsgi, run_asgi

METADATA = "https://api.example/.well-known/oauth-protected-resource"
RULES: dict[Any, Any] = {
    "/api/messages": "messages:send",
    ("POST", "/api/tokens"): "tokens:manage",
    ("GET", "/api/tokens"): "tokens:read",
    "/api/admin": ["admin:*", "tokens:manage"],
}


def denial_of(scope: str, profile: str = "rest", resource_metadata: str | None = None) -> InsufficientScope:
    """The core's answer for a missing scope, as ``Principal.require_scope`` raises it."""
    p = Principal(account="a", token_id="0123456789abcdef", token_name="n", scopes=[])
    with pytest.raises(InsufficientScope) as caught:
        p.require_scope(scope, profile, resource_metadata=resource_metadata)  # type: ignore[arg-type]
    return caught.value


@pytest.fixture()
def tokens() -> tuple[Keyring, dict[str, str]]:
    keyring = Keyring()
    made = {
        "full": keyring.create(account="acct", name="full")[0],
        "sender": keyring.create(account="acct", name="sender", scopes=["messages:send"])[0],
        "reader": keyring.create(account="acct", name="reader", scopes=["tokens:read", "messages:send"])[0],
        "manager": keyring.create(account="acct", name="manager", scopes=["tokens:*"])[0],
        "admin": keyring.create(account="acct", name="admin", scopes=["admin:*"])[0],
        "nothing": keyring.create(account="acct", name="nothing", scopes=[])[0],
    }
    return keyring, made


def asgi_call(mw: ASGIMiddleware, method: str, path: str, token: str, header: str = "access-token") -> tuple[int, dict[bytes, bytes], bytes, list[Principal]]:
    reached: list[Principal] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(principal_from(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw.app = app
    scope = {"type": "http", "method": method, "path": path, "headers": [(header.encode(), token.encode())]}
    sent = run_asgi(mw, scope)
    body = sent[1]["body"] if len(sent) > 1 else b""
    return sent[0]["status"], dict(sent[0]["headers"]), body, reached


def wsgi_call(mw: WSGIMiddleware, method: str, path: str, token: str, key: str = "HTTP_ACCESS_TOKEN") -> tuple[int, list[tuple[str, str]], bytes, list[Principal]]:
    reached: list[Principal] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        reached.append(principal_from(environ))
        start_response("204 No Content", [])
        return []

    mw.app = app
    status, headers, body = call_wsgi(mw, {"REQUEST_METHOD": method, "PATH_INFO": path, key: token})
    return status, headers, body, reached


# (method, path, token name, the scope it lacks or None)
CASES = [
    ("GET", "/api/messages", "sender", None),
    ("POST", "/api/messages/42", "sender", None),
    ("GET", "/api/messages", "nothing", "messages:send"),
    ("GET", "/api/messagesx", "nothing", None),  # a prefix covers whole segments only
    ("GET", "//api//messages", "nothing", "messages:send"),  # doubled slashes do not walk around a rule
    ("GET", "/api/other", "nothing", None),  # no rule: authentication only
    ("POST", "/api/tokens", "reader", "tokens:manage"),  # method-specific
    ("GET", "/api/tokens", "reader", None),
    ("HEAD", "/api/tokens", "reader", None),
    ("HEAD", "/api/tokens", "sender", "tokens:read"),  # a GET rule covers HEAD
    ("get", "/api/tokens", "sender", "tokens:read"),  # methods compared ignoring case
    ("DELETE", "/api/tokens", "sender", None),  # no rule for DELETE
    ("POST", "/api/tokens/x", "manager", None),  # tokens:* covers tokens:manage
    ("GET", "/api/tokens", "manager", None),
    ("GET", "/api/admin", "admin", "tokens:manage"),  # every matching rule applies
    ("GET", "/api/admin", "manager", "admin:*"),  # the first one missing is named
    ("GET", "/api/admin/x", "full", None),  # full access has every scope
    ("POST", "/api/tokens", "full", None),
]


@pytest.mark.parametrize(("method", "path", "who", "lacks"), CASES)
def test_asgi_rules(tokens: tuple[Keyring, dict[str, str]], method: str, path: str, who: str, lacks: str | None) -> None:
    keyring, made = tokens
    mw = ASGIMiddleware(lambda s, r, x: None, keyring, scopes=RULES)  # type: ignore[arg-type, return-value]
    status, headers, body, reached = asgi_call(mw, method, path, made[who])
    if lacks is None:
        assert (status, len(reached)) == (204, 1)
        assert reached[0].token_name == who
    else:
        expected = denial_of(lacks)
        assert status == 403 and reached == []  # the app never ran
        assert body == expected.body == f'{{"message": "the token lacks the scope {lacks}"}}'.encode()
        assert headers[b"content-type"] == b"application/json"
        assert b"www-authenticate" not in headers


@pytest.mark.parametrize(("method", "path", "who", "lacks"), CASES)
def test_wsgi_rules(tokens: tuple[Keyring, dict[str, str]], method: str, path: str, who: str, lacks: str | None) -> None:
    keyring, made = tokens
    mw = WSGIMiddleware(lambda e, s: [], keyring, scopes=list(rules_as_list()))
    status, headers, body, reached = wsgi_call(mw, method, path, made[who])
    if lacks is None:
        assert (status, len(reached)) == (204, 1)
    else:
        assert (status, reached) == (403, [])
        assert body == denial_of(lacks).body
        assert ("Content-Type", "application/json") in headers
        assert ("Content-Length", str(len(body))) in headers


def rules_as_list() -> Iterable[tuple[str, str] | tuple[str, str, str]]:
    """``RULES`` in the list form: the same rules."""
    for key, needed in RULES.items():
        for scope in [needed] if isinstance(needed, str) else needed:
            yield (key, scope) if isinstance(key, str) else (key[0], key[1], scope)


def test_the_two_forms_give_the_same_rules(tokens: tuple[Keyring, dict[str, str]]) -> None:
    keyring, _ = tokens
    a = ASGIMiddleware(lambda s, r, x: None, keyring, scopes=RULES)  # type: ignore[arg-type, return-value]
    w = WSGIMiddleware(lambda e, s: [], keyring, scopes=list(rules_as_list()))
    assert a.scope_rules == w.scope_rules == [
        (None, "/api/messages", "messages:send"),
        ("POST", "/api/tokens", "tokens:manage"),
        ("GET", "/api/tokens", "tokens:read"),
        (None, "/api/admin", "admin:*"),
        (None, "/api/admin", "tokens:manage"),
    ]
    assert ASGIMiddleware(lambda s, r, x: None, keyring).scope_rules == []  # type: ignore[arg-type, return-value]


def test_without_the_rules_the_same_requests_pass(tokens: tuple[Keyring, dict[str, str]]) -> None:
    """Positive control: the 403s above come from the rules, not from authentication."""
    keyring, made = tokens
    asgi = ASGIMiddleware(lambda s, r, x: None, keyring)  # type: ignore[arg-type, return-value]
    wsgi = WSGIMiddleware(lambda e, s: [], keyring)
    for method, path, who, lacks in CASES:
        if lacks is not None:
            assert asgi_call(asgi, method, path, made[who])[0] == 204
            assert wsgi_call(wsgi, method, path, made[who])[0] == 204


def test_mcp_denials_carry_the_insufficient_scope_challenge(tokens: tuple[Keyring, dict[str, str]]) -> None:
    keyring, made = tokens
    bearer = "Bearer " + made["sender"]
    challenge = 'Bearer realm="whatsgate", error="insufficient_scope", scope="tokens:manage"'
    assert denial_of("tokens:manage", "mcp").headers[-1] == ("WWW-Authenticate", challenge)

    asgi = ASGIMiddleware(lambda s, r, x: None, keyring, profile="mcp", scopes={"/mcp": "tokens:manage"})  # type: ignore[arg-type, return-value]
    status, headers, body, reached = asgi_call(asgi, "POST", "/mcp", bearer, header="authorization")
    assert (status, reached) == (403, [])
    assert headers[b"www-authenticate"] == challenge.encode()
    assert body == b'{"message": "the token lacks the scope tokens:manage"}'

    wsgi = WSGIMiddleware(lambda e, s: [], keyring, profile="mcp", scopes={"/mcp": "tokens:manage"})
    status, wheaders, body, _ = wsgi_call(wsgi, "POST", "/mcp", bearer, key="HTTP_AUTHORIZATION")
    assert status == 403 and ("WWW-Authenticate", challenge) in wheaders

    # With resource_metadata, the 403's challenge carries it as the 401's does.
    with_url = WSGIMiddleware(
        lambda e, s: [], keyring, profile="mcp", resource_metadata=METADATA, scopes={"/mcp": "tokens:manage"}
    )
    status, wheaders, _, _ = wsgi_call(with_url, "POST", "/mcp", bearer, key="HTTP_AUTHORIZATION")
    expected = f'{challenge}, resource_metadata="{METADATA}"'
    assert status == 403 and ("WWW-Authenticate", expected) in wheaders
    assert denial_of("tokens:manage", "mcp", METADATA).headers[-1] == ("WWW-Authenticate", expected)
    status, wheaders, _, _ = wsgi_call(with_url, "POST", "/mcp", "Bearer wgat_nope", key="HTTP_AUTHORIZATION")
    assert status == 401 and any(v.endswith(f'resource_metadata="{METADATA}"') for k, v in wheaders)


def test_a_websocket_handshake_without_the_scope_is_refused(tokens: tuple[Keyring, dict[str, str]]) -> None:
    keyring, made = tokens
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    mw = ASGIMiddleware(app, keyring, scopes={("GET", "/ws"): "messages:read"})
    headers = [(b"access-token", made["sender"].encode())]
    connect = [{"type": "websocket.connect"}]
    closed = run_asgi(mw, {"type": "websocket", "path": "/ws", "headers": headers}, connect)  # type: ignore[arg-type]
    assert closed == [{"type": "websocket.close", "code": 1008}] and reached == []
    scope = {"type": "websocket", "path": "/ws", "headers": headers, "extensions": {"websocket.http.response": {}}}
    answered = run_asgi(mw, scope, [{"type": "websocket.connect"}])
    assert answered[0]["status"] == 403 and answered[1]["body"] == denial_of("messages:read").body
    assert reached == []
    good = [(b"access-token", made["full"].encode())]
    run_asgi(mw, {"type": "websocket", "path": "/ws", "headers": good}, [{"type": "websocket.connect"}])
    assert reached == ["websocket"]


@pytest.mark.parametrize(
    ("scopes", "error", "message"),
    [
        ({"/api": "messages"}, ValueError, "is not a scope"),
        ({"/api": "Messages:send"}, ValueError, "is not a scope"),
        ({"/api": ["messages:send", "bad"]}, ValueError, "is not a scope"),
        ({"api": "messages:send"}, ValueError, "scope rule path prefix 'api'"),
        ({"/a?b": "messages:send"}, ValueError, "scope rule path prefix"),
        ({("PO ST", "/api"): "messages:send"}, ValueError, "scope rule method"),
        ({("", "/api"): "messages:send"}, ValueError, "scope rule method"),
        ({("POST",): "messages:send"}, TypeError, "key is a path prefix or"),
        ({"/api": 3}, TypeError, "not iterable"),
        ({"/api": [3]}, TypeError, "scope is a str, not int"),
        ([("/api",)], TypeError, "a scope rule is"),
        ([("/api", "messages:send", "x", "y")], TypeError, "a scope rule is"),
        ("/api", TypeError, "scopes is a dict"),
        ({"/public": "messages:send"}, ValueError, "outside the guarded prefixes"),
        ({"/": "messages:send"}, ValueError, "outside the guarded prefixes"),
    ],
)
def test_bad_rules_are_refused_at_construction(scopes: Any, error: type, message: str) -> None:
    for middleware in (ASGIMiddleware, WSGIMiddleware):
        with pytest.raises(error, match=message):
            middleware(lambda *a: None, Keyring(), prefixes=["/api"], scopes=scopes)  # type: ignore[arg-type]
    # Control: a good rule under the guard is accepted.
    ASGIMiddleware(lambda *a: None, Keyring(), prefixes=["/api"], scopes={"/api/x": "messages:send"})  # type: ignore[arg-type]
