"""The ASGI middleware: a real Starlette and FastAPI app served by uvicorn over loopback,
and every shared header case through the middleware in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from whatsgate_auth import ASGIMiddleware, Keyring, Principal, principal_from
from whatsgate_auth.asgi import Message

from conftest import case_headers, case_keyring, case_path, case_principal, case_scope_rules, run_asgi
from servers import request, sendable, tamper, uvicorn_server

METADATA = "https://api.example/.well-known/oauth-protected-resource"


def principal_json(p: Principal) -> dict[str, Any]:
    return case_principal(p)


def starlette_app(keyring: Keyring) -> Starlette:
    async def me(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(principal_json(principal_from(request.scope)))

    async def public(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"public": True, "principal": "whatsgate.principal" in request.scope})

    return Starlette(
        routes=[
            Route("/api/me", me),
            Route("/api", me),
            Route("/apix", public),
            Route("/health", public),
            Route("/mcp", me),
        ],
        middleware=[
            Middleware(ASGIMiddleware, keyring=keyring, prefixes=["/api/"]),
            Middleware(
                ASGIMiddleware, keyring=keyring, prefixes=["/mcp"], profile="mcp", resource_metadata=METADATA
            ),
        ],
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, Keyring, str, str]]:
    keyring = Keyring()
    token, record = keyring.create(account="acct_42", name="Production API")
    with uvicorn_server(starlette_app(keyring)) as port:
        yield port, keyring, token, record.id


def test_guarded_path_needs_a_token(served: tuple[int, Keyring, str, str]) -> None:
    port, _, token, token_id = served
    ok = request(port, "/api/me", [("Access-Token", token.encode())])
    assert ok.status == 200
    assert json.loads(ok.body) == {"account": "acct_42", "token_id": token_id, "token_name": "Production API"}
    assert request(port, "/api", [("access-token", b"  " + token.encode())]).status == 200

    missing = request(port, "/api/me")
    assert missing.status == 403
    assert missing.body == b'{"message": "an Access-Token is required"}'
    assert missing.header("content-type") == ["application/json"]
    assert missing.header("content-length") == [str(len(missing.body))]
    assert missing.header("www-authenticate") == []

    invalid = request(port, "/api/me", [("Access-Token", tamper(token).encode())])
    assert (invalid.status, invalid.body) == (403, b'{"message": "invalid Access-Token"}')
    # Two token headers are invalid, even when both carry the valid token.
    twice = request(port, "/api/me", [("Access-Token", token.encode()), ("access-token", token.encode())])
    assert (twice.status, twice.body) == (403, b'{"message": "invalid Access-Token"}')
    # The MCP header does not count in the rest profile.
    assert request(port, "/api/me", [("Authorization", b"Bearer " + token.encode())]).status == 403


def test_unguarded_paths_pass(served: tuple[int, Keyring, str, str]) -> None:
    port, *_ = served
    for path in ("/health", "/apix"):
        r = request(port, path)
        assert (r.status, json.loads(r.body)) == (200, {"public": True, "principal": False})


def test_mcp_profile(served: tuple[int, Keyring, str, str]) -> None:
    port, _, token, token_id = served
    ok = request(port, "/mcp", [("Authorization", b"bearer   " + token.encode())])
    assert ok.status == 200 and json.loads(ok.body)["token_id"] == token_id
    missing = request(port, "/mcp", [("Access-Token", token.encode())])
    assert (missing.status, missing.body) == (401, b'{"message": "a Bearer token is required"}')
    assert missing.header("www-authenticate") == [f'Bearer realm="whatsgate", resource_metadata="{METADATA}"']
    invalid = request(port, "/mcp", [("Authorization", b"Bearer wgat_nope")])
    assert (invalid.status, invalid.body) == (401, b'{"message": "invalid Bearer token"}')
    assert invalid.header("www-authenticate") == [
        f'Bearer realm="whatsgate", error="invalid_token", resource_metadata="{METADATA}"'
    ]


def test_deletion_takes_effect_on_the_next_request(served: tuple[int, Keyring, str, str]) -> None:
    port, keyring, _, _ = served
    token, record = keyring.create(account="acct_42", name="Short-lived")
    assert request(port, "/api/me", [("Access-Token", token.encode())]).status == 200
    keyring.delete(record.id)
    assert request(port, "/api/me", [("Access-Token", token.encode())]).status == 403


UNAVAILABLE = b'{"message": "the token store cannot be reached; retry later"}'


def test_an_unavailable_keyring_answers_503_over_the_network(served: tuple[int, Keyring, str, str]) -> None:
    port, keyring, token, token_id = served
    presented = [
        ("/api/me", "Access-Token", token.encode()),
        ("/api/me", "Access-Token", tamper(token).encode()),
        ("/mcp", "Authorization", b"Bearer " + token.encode()),
        ("/mcp", "Authorization", b"Bearer wgat_nope"),
    ]
    keyring.set_available(False)
    try:
        for path, name, value in presented:
            r = request(port, path, [(name, value)])
            assert (r.status, r.body) == (503, UNAVAILABLE), (path, value)
            assert r.header("content-type") == ["application/json"]
            assert r.header("content-length") == [str(len(UNAVAILABLE))]
            assert r.header("retry-after") == ["1"]
            assert r.header("www-authenticate") == []  # no challenge, even with resource_metadata
        # No token: the seed's answers, which need no store.
        missing = request(port, "/api/me")
        assert (missing.status, missing.body) == (403, b'{"message": "an Access-Token is required"}')
        assert missing.header("retry-after") == []
        missing = request(port, "/mcp")
        assert missing.status == 401 and missing.header("retry-after") == []
        assert missing.header("www-authenticate") == [f'Bearer realm="whatsgate", resource_metadata="{METADATA}"']
        assert request(port, "/health").status == 200  # unguarded paths are not affected
    finally:
        keyring.set_available(True)
    ok = request(port, "/api/me", [("Access-Token", token.encode())])
    assert ok.status == 200 and json.loads(ok.body)["token_id"] == token_id
    assert ok.header("retry-after") == []
    assert request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())]).status == 200
    assert request(port, "/api/me", [("Access-Token", tamper(token).encode())]).status == 403


def test_an_unavailable_keyring_in_process() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="ws")
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    keyring.set_available(False)
    cases: list[tuple[Literal["rest", "mcp"], bytes]] = [
        ("rest", token.encode()),
        ("mcp", b"Bearer " + token.encode()),
    ]
    for profile, value in cases:
        name = b"access-token" if profile == "rest" else b"authorization"
        mw = ASGIMiddleware(app, keyring, profile=profile)
        sent = run_asgi(mw, {"type": "http", "path": "/x", "headers": [(name, value)]})
        assert sent[0] == {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", b"1"),
                (b"content-length", str(len(UNAVAILABLE)).encode()),
            ],
        }
        assert sent[1] == {"type": "http.response.body", "body": UNAVAILABLE, "more_body": False}
        # A WebSocket handshake gets the same 503 where the server can send it.
        ws = run_asgi(
            mw,
            {
                "type": "websocket",
                "path": "/x",
                "headers": [(name, value)],
                "extensions": {"websocket.http.response": {}},
            },
            [{"type": "websocket.connect"}],
        )
        assert ws[0]["type"] == "websocket.http.response.start" and ws[0]["status"] == 503
        assert (b"retry-after", b"1") in ws[0]["headers"]
        assert ws[1]["body"] == UNAVAILABLE
    assert reached == []
    keyring.set_available(True)
    scope = {"type": "http", "path": "/x", "headers": [(b"access-token", token.encode())]}
    sent = run_asgi(ASGIMiddleware(app, keyring), scope)
    assert sent[0]["status"] == 204 and reached == ["http"]


def test_shared_header_cases_over_the_network(header_cases: dict[str, Any]) -> None:
    keyring = case_keyring(header_cases, shift_to_now=True)

    async def echo(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps(principal_json(principal_from(scope))).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    apps = {
        p: ASGIMiddleware(echo, keyring, profile=p, scopes=case_scope_rules(header_cases, f"/{p}"))
        for p in ("rest", "mcp")
    }

    async def both(scope: Any, receive: Any, send: Any) -> None:
        profile = "mcp" if scope.get("path", "").startswith("/mcp") else "rest"
        await apps[profile](scope, receive, send)

    sent = 0
    with uvicorn_server(both) as port:
        for case in header_cases["cases"]:
            headers = case_headers(case)
            if not all(sendable(v) for _, v in headers):
                continue
            path = case_path(case, f"/{case['profile']}")
            r = request(port, path, [(n.decode("latin-1"), v) for n, v in headers])
            assert r.status == case["status"], case["name"]
            if case["expect"] == "ok":
                assert json.loads(r.body) == case["principal"], case["name"]
            else:
                assert r.body == case["body"].encode(), case["name"]
                expected = [] if case["www_authenticate"] is None else [case["www_authenticate"]]
                assert r.header("www-authenticate") == expected, case["name"]
            sent += 1
    assert sent >= len(header_cases["cases"]) * 2 // 3


def test_every_shared_header_case_in_process(header_cases: dict[str, Any]) -> None:
    keyring = case_keyring(header_cases, shift_to_now=True)
    seen: list[Principal] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(principal_from(scope))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    for case in header_cases["cases"]:
        middleware = ASGIMiddleware(app, keyring, profile=case["profile"], scopes=case_scope_rules(header_cases))
        scope = {"type": "http", "method": "GET", "path": case_path(case), "headers": case_headers(case)}
        messages = run_asgi(middleware, scope)
        assert messages[0]["status"] == case["status"], case["name"]
        if case["expect"] == "ok":
            assert case_principal(seen[-1]) == case["principal"]
            assert "whatsgate.principal" not in scope  # the caller's scope is not modified
        else:
            assert messages[1]["body"] == case["body"].encode(), case["name"]
            headers = dict(messages[0]["headers"])
            assert headers[b"content-type"] == b"application/json"
            challenge = headers.get(b"www-authenticate")
            expected = None if case["www_authenticate"] is None else case["www_authenticate"].encode()
            assert challenge == expected, case["name"]


def test_fastapi_dependency_over_the_network() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct_fast", name="FastAPI")
    app = FastAPI()
    app.add_middleware(ASGIMiddleware, keyring=keyring, prefixes=["/v1"])

    def current_principal(request: Request) -> Principal:
        return principal_from(request.scope)

    @app.get("/v1/whoami")
    def whoami(principal: Principal = Depends(current_principal)) -> dict[str, Any]:
        return principal_json(principal)

    @app.get("/open")
    def open_route() -> dict[str, bool]:
        return {"open": True}

    with uvicorn_server(app) as port:
        ok = request(port, "/v1/whoami", [("Access-Token", token.encode())])
        assert (ok.status, json.loads(ok.body)["token_id"]) == (200, record.id)
        denied = request(port, "/v1/whoami")
        assert (denied.status, denied.body) == (403, b'{"message": "an Access-Token is required"}')
        assert request(port, "/open").status == 200


def test_websocket_and_lifespan_scopes() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="ws")
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    mw = ASGIMiddleware(app, keyring, prefixes=["/ws"])
    connect: list[Message] = [{"type": "websocket.connect"}]
    closed = run_asgi(mw, {"type": "websocket", "path": "/ws", "headers": []}, connect)
    assert closed == [{"type": "websocket.close", "code": 1008}] and reached == []
    denied = run_asgi(
        mw,
        {"type": "websocket", "path": "/ws", "headers": [], "extensions": {"websocket.http.response": {}}},
        [{"type": "websocket.connect"}],
    )
    assert denied[0]["type"] == "websocket.http.response.start" and denied[0]["status"] == 403
    assert denied[1]["body"] == b'{"message": "an Access-Token is required"}'
    run_asgi(mw, {"type": "websocket", "path": "/ws", "headers": [(b"access-token", token.encode())]}, [])
    run_asgi(mw, {"type": "lifespan"}, [])
    assert reached == ["websocket", "lifespan"]


def test_root_path_is_taken_off_before_matching() -> None:
    keyring = Keyring()
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = ASGIMiddleware(app, keyring, prefixes=["/api"])
    assert run_asgi(mw, {"type": "http", "path": "/base/api/x", "root_path": "/base", "headers": []})[0]["status"] == 403
    assert run_asgi(mw, {"type": "http", "path": "/base/apix", "root_path": "/base", "headers": []})[0]["status"] == 204
    assert run_asgi(mw, {"type": "http", "path": "/api/x", "headers": []})[0]["status"] == 403
    assert run_asgi(mw, {"type": "http", "path": "//api/x", "headers": []})[0]["status"] == 403


def test_configuration_errors() -> None:
    keyring = Keyring()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(ValueError, match="profile must be .*, not 'basic'"):
        ASGIMiddleware(app, keyring, profile="basic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile must be .*, not None"):
        ASGIMiddleware(app, keyring, profile=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="starts with '/'"):
        ASGIMiddleware(app, keyring, prefixes=["api"])
    with pytest.raises(ValueError, match="'/api v1'"):
        ASGIMiddleware(app, keyring, prefixes=["/api", "/api v1"])
    with pytest.raises(ValueError, match="starts with '/': 42"):
        ASGIMiddleware(app, keyring, prefixes=["/api", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        ASGIMiddleware(app, keyring, prefixes="/api")
    with pytest.raises(ValueError, match="at least one"):
        ASGIMiddleware(app, keyring, prefixes=[])
    with pytest.raises(ValueError, match="resource_metadata URL .*, not 'has space'"):
        ASGIMiddleware(app, keyring, profile="mcp", resource_metadata="has space")
    with pytest.raises(TypeError, match="resource_metadata"):
        ASGIMiddleware(app, keyring, profile="mcp", resource_metadata=b"https://x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mcp"):
        ASGIMiddleware(app, keyring, resource_metadata=METADATA)
    with pytest.raises(TypeError, match="Keyring"):
        ASGIMiddleware(app, object())  # type: ignore[arg-type]
