"""Issue 15: a principal dependency answers the profile's 403/401 on any route, never
500 (principal_from through both middlewares, Flask's error handler), and the FastAPI
integration (whatsgate_auth.fastapi) declares its security scheme in OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from flask import Flask, request as flask_request

from whatsgate_auth import ASGIMiddleware, AuthError, Keyring, Principal, WSGIMiddleware, principal_from
from whatsgate_auth.fastapi import ACCESS_TOKEN_SCHEME, BEARER_SCHEME, AccessToken, Bearer, install
from whatsgate_auth.wsgi import Environ, StartResponse

from conftest import call_wsgi
from servers import request, uvicorn_server, waitress_server

METADATA = "https://api.example/.well-known/oauth-protected-resource"
REST_MISSING = b'{"message": "an Access-Token is required"}'
REST_INVALID = b'{"message": "invalid Access-Token"}'
MCP_MISSING = b'{"message": "a Bearer token is required"}'
MCP_INVALID = b'{"message": "invalid Bearer token"}'


def fastapi_app(keyring: Keyring) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ASGIMiddleware, keyring=keyring, prefixes=["/api"])

    def rest_principal(request: Request) -> Principal:
        return principal_from(request.scope)

    def mcp_principal(request: Request) -> Principal:
        return principal_from(request.scope, "mcp", resource_metadata=METADATA)

    @app.get("/api/me")
    def guarded(principal: Principal = Depends(rest_principal)) -> dict[str, str]:
        return {"account": principal.account}

    @app.get("/outside")
    def outside(principal: Principal = Depends(rest_principal)) -> dict[str, str]:
        return {"account": principal.account}

    @app.get("/outside-mcp")
    def outside_mcp(principal: Principal = Depends(mcp_principal)) -> dict[str, str]:
        return {"account": principal.account}

    @app.get("/broken")
    def broken() -> dict[str, str]:
        raise LookupError("a bug")

    return app


def test_principal_from_outside_the_prefixes_answers_403_or_401_over_asgi() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    with uvicorn_server(fastapi_app(keyring)) as port:
        ok = request(port, "/api/me", [("Access-Token", token.encode())])
        assert (ok.status, json.loads(ok.body)) == (200, {"account": "acct"})
        # Outside the prefixes the middleware did not authenticate: refused, even with a token.
        for headers in ([], [("Access-Token", token.encode())]):
            r = request(port, "/outside", headers)
            assert (r.status, r.body) == (403, REST_MISSING)
            assert r.header("content-type") == ["application/json"]
            assert r.header("content-length") == [str(len(REST_MISSING))]
        r = request(port, "/outside-mcp")
        assert (r.status, r.body) == (401, MCP_MISSING)
        assert r.header("www-authenticate") == [f'Bearer realm="whatsgate", resource_metadata="{METADATA}"']
        # Positive control: another exception in the app is still a 500 (the harness sees one).
        assert request(port, "/broken").status == 500


def test_principal_from_outside_the_prefixes_under_wsgi() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")

    def plain(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        account = principal_from(environ, "mcp").account
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [account.encode()]

    app = WSGIMiddleware(plain, keyring, prefixes=["/api"], profile="mcp")
    assert call_wsgi(app, {"PATH_INFO": "/api", "HTTP_AUTHORIZATION": "Bearer " + token})[0] == 200
    status, headers, body = call_wsgi(app, {"PATH_INFO": "/other", "HTTP_AUTHORIZATION": "Bearer " + token})
    assert (status, body) == (401, MCP_MISSING)
    assert ("WWW-Authenticate", 'Bearer realm="whatsgate"') in headers

    def flask_app(handler: bool) -> Flask:
        flask = Flask(__name__)
        flask.wsgi_app = WSGIMiddleware(flask.wsgi_app, keyring, prefixes=["/api"])  # type: ignore[method-assign]

        @flask.get("/api/me")
        @flask.get("/outside")
        def me() -> dict[str, str]:
            return {"account": principal_from(flask_request.environ).account}

        if handler:  # the README's

            @flask.errorhandler(AuthError)
            def refused(error: AuthError) -> tuple[bytes, int, list[tuple[str, str]]]:
                return error.body, error.status_code, error.headers

        return flask

    with waitress_server(flask_app(handler=False)) as port:
        # Without the README's error handler Flask answers its own 500: the handler is needed.
        assert request(port, "/outside").status == 500
    with waitress_server(flask_app(handler=True)) as port:
        assert request(port, "/api/me", [("Access-Token", token.encode())]).status == 200
        r = request(port, "/outside", [("Access-Token", token.encode())])
        assert (r.status, r.body) == (403, REST_MISSING)
        assert r.header("content-type") == ["application/json"]


def integration_app(keyring: Keyring, *, middleware: bool) -> FastAPI:
    app = FastAPI()
    install(app)
    if middleware:
        app.add_middleware(ASGIMiddleware, keyring=keyring, prefixes=["/api"])
    rest = AccessToken(keyring)
    mcp = Bearer(keyring, resource_metadata=METADATA)

    @app.get("/api/me")
    def guarded(principal: Principal = Depends(rest)) -> dict[str, str]:
        return {"account": principal.account, "token_id": principal.token_id}

    @app.get("/me")
    def anywhere(principal: Principal = Depends(rest)) -> dict[str, str]:
        return {"account": principal.account, "token_id": principal.token_id}

    @app.get("/mcp")
    def mcp_route(principal: Principal = Depends(mcp)) -> dict[str, str]:
        return {"account": principal.account, "token_id": principal.token_id}

    @app.get("/public")
    def public() -> dict[str, bool]:
        return {"public": True}

    return app


def test_openapi_declares_the_security_schemes() -> None:
    keyring = Keyring()
    spec: dict[str, Any] = integration_app(keyring, middleware=False).openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["AccessToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Access-Token",
        "description": ACCESS_TOKEN_SCHEME.model.description,
    }
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    assert BEARER_SCHEME.scheme_name == "Bearer"
    paths = spec["paths"]
    assert paths["/api/me"]["get"]["security"] == [{"AccessToken": []}]
    assert paths["/me"]["get"]["security"] == [{"AccessToken": []}]
    assert paths["/mcp"]["get"]["security"] == [{"Bearer": []}]
    assert "security" not in paths["/public"]["get"]  # positive control: only where it is used
    # Swagger UI is served and reads that document (its "Authorize" button comes from it).
    client = TestClient(integration_app(keyring, middleware=False))
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text


def test_requests_through_the_integration_authenticate() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct_42", name="FastAPI")
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    for middleware in (False, True):
        with uvicorn_server(integration_app(keyring, middleware=middleware)) as port:
            for path in ("/api/me", "/me"):
                ok = request(port, path, [("Access-Token", token.encode())])
                assert (ok.status, json.loads(ok.body)) == (200, {"account": "acct_42", "token_id": record.id})
                missing = request(port, path)
                assert (missing.status, missing.body) == (403, REST_MISSING), (middleware, path)
                assert missing.header("content-type") == ["application/json"]
                invalid = request(port, path, [("Access-Token", bad.encode())])
                assert (invalid.status, invalid.body) == (403, REST_INVALID)
                twice = request(port, path, [("Access-Token", token.encode())] * 2)
                assert (twice.status, twice.body) == (403, REST_INVALID)
            ok = request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())])
            assert ok.status == 200 and json.loads(ok.body)["token_id"] == record.id
            missing = request(port, "/mcp", [("Access-Token", token.encode())])
            assert (missing.status, missing.body) == (401, MCP_MISSING)
            assert missing.header("www-authenticate") == [f'Bearer realm="whatsgate", resource_metadata="{METADATA}"']
            invalid = request(port, "/mcp", [("Authorization", b"Bearer " + bad.encode())])
            assert (invalid.status, invalid.body) == (401, MCP_INVALID)
            assert invalid.header("www-authenticate") == [
                f'Bearer realm="whatsgate", error="invalid_token", resource_metadata="{METADATA}"'
            ]
            keyring.set_available(False)
            try:
                down = request(port, "/me", [("Access-Token", token.encode())])
                assert (down.status, down.header("retry-after")) == (503, ["1"])
            finally:
                keyring.set_available(True)
            assert request(port, "/public").status == 200


def test_the_middlewares_principal_is_reused() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    seen: list[Principal] = []
    app = FastAPI()
    app.add_middleware(ASGIMiddleware, keyring=keyring, prefixes=["/api"])
    rest = AccessToken(keyring)

    @app.get("/api/me")
    def me(request: Request, principal: Principal = Depends(rest)) -> dict[str, bool]:
        seen.append(principal)
        return {"same": principal is request.scope["whatsgate.principal"]}

    client = TestClient(app)
    assert client.get("/api/me", headers={"Access-Token": token}).json() == {"same": True}
    assert len(seen) == 1


def test_the_dependencies_require_a_scope_when_given() -> None:
    keyring = Keyring()
    sender, _ = keyring.create(account="acct", name="sender", scopes=["messages:send"])
    reader, _ = keyring.create(account="acct", name="reader", scopes=["messages:read"])
    full, _ = keyring.create(account="acct", name="full")
    app = FastAPI()
    install(app)
    send = AccessToken(keyring, scope="messages:send")
    send_mcp = Bearer(keyring, scope="messages:send", resource_metadata=METADATA)
    plain = AccessToken(keyring)

    @app.post("/send")
    def post(principal: Principal = Depends(send)) -> dict[str, str]:
        return {"name": principal.token_name}

    @app.post("/mcp/send")
    def post_mcp(principal: Principal = Depends(send_mcp)) -> dict[str, str]:
        return {"name": principal.token_name}

    @app.get("/any")
    def any_route(principal: Principal = Depends(plain)) -> dict[str, str]:
        return {"name": principal.token_name}

    client = TestClient(app)
    for token, name in ((sender, "sender"), (full, "full")):
        assert client.post("/send", headers={"Access-Token": token}).json() == {"name": name}
    denied = client.post("/send", headers={"Access-Token": reader})
    assert (denied.status_code, denied.content) == (403, b'{"message": "the token lacks the scope messages:send"}')
    assert "www-authenticate" not in denied.headers
    assert client.get("/any", headers={"Access-Token": reader}).status_code == 200  # control: no scope asked
    denied = client.post("/mcp/send", headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        f'Bearer realm="whatsgate", error="insufficient_scope", scope="messages:send", resource_metadata="{METADATA}"'
    )
    assert client.post("/send", headers={"Access-Token": "wgat_nope"}).content == REST_INVALID
    try:
        AccessToken(keyring, scope="messages")
    except ValueError as error:
        assert "is not a scope" in str(error)
    else:
        raise AssertionError("a bad scope name was accepted")
