"""The WSGI middleware: a real Flask app served by waitress over loopback, and every
shared header case through the middleware in-process."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pytest
from flask import Flask, request as flask_request

from whatsgate_auth import Keyring, Principal, WSGIMiddleware, principal_from
from whatsgate_auth.wsgi import Environ, StartResponse

from conftest import call_wsgi, case_headers, case_keyring, case_path, case_principal, case_scope_rules
from servers import request, sendable, tamper, waitress_server

METADATA = "https://api.example/.well-known/oauth-protected-resource"


def principal_json(p: Principal) -> dict[str, Any]:
    return case_principal(p)


def flask_app(keyring: Keyring) -> Flask:
    app = Flask(__name__)

    @app.get("/api/me")
    def me() -> dict[str, str]:
        return principal_json(principal_from(flask_request.environ))

    @app.get("/mcp")
    def mcp() -> dict[str, str]:
        return principal_json(principal_from(flask_request.environ))

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"public": True, "principal": "whatsgate.principal" in flask_request.environ}

    inner = WSGIMiddleware(app.wsgi_app, keyring, prefixes=["/mcp"], profile="mcp", resource_metadata=METADATA)
    app.wsgi_app = WSGIMiddleware(inner, keyring, prefixes=["/api"])  # type: ignore[method-assign]
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[int, Keyring, str, str]]:
    keyring = Keyring()
    token, record = keyring.create(account="acct_42", name="Production API")
    with waitress_server(flask_app(keyring)) as port:
        yield port, keyring, token, record.id


def test_guarded_path_needs_a_token(served: tuple[int, Keyring, str, str]) -> None:
    port, _, token, token_id = served
    ok = request(port, "/api/me", [("Access-Token", token.encode())])
    assert ok.status == 200
    assert json.loads(ok.body) == {"account": "acct_42", "token_id": token_id, "token_name": "Production API"}

    missing = request(port, "/api/me")
    assert (missing.status, missing.body) == (403, b'{"message": "an Access-Token is required"}')
    assert missing.header("content-type") == ["application/json"]
    assert missing.header("content-length") == [str(len(missing.body))]
    assert missing.header("www-authenticate") == []
    invalid = request(port, "/api/me", [("Access-Token", tamper(token).encode())])
    assert (invalid.status, invalid.body) == (403, b'{"message": "invalid Access-Token"}')
    # The server joins repeated headers with commas: never a valid token.
    twice = request(port, "/api/me", [("Access-Token", token.encode()), ("Access-Token", token.encode())])
    assert (twice.status, twice.body) == (403, b'{"message": "invalid Access-Token"}')
    one_empty = request(port, "/api/me", [("Access-Token", token.encode()), ("Access-Token", b"")])
    assert one_empty.status == 403
    assert request(port, "/health").status == 200


def test_mcp_profile(served: tuple[int, Keyring, str, str]) -> None:
    port, _, token, token_id = served
    ok = request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())])
    assert ok.status == 200 and json.loads(ok.body)["token_id"] == token_id
    missing = request(port, "/mcp")
    assert (missing.status, missing.body) == (401, b'{"message": "a Bearer token is required"}')
    assert missing.header("www-authenticate") == [f'Bearer realm="whatsgate", resource_metadata="{METADATA}"']
    twice = request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())] * 2)
    assert (twice.status, twice.body) == (401, b'{"message": "invalid Bearer token"}')
    assert twice.header("www-authenticate") == [
        f'Bearer realm="whatsgate", error="invalid_token", resource_metadata="{METADATA}"'
    ]


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
            assert r.header("www-authenticate") == []
        missing = request(port, "/api/me")
        assert (missing.status, missing.body) == (403, b'{"message": "an Access-Token is required"}')
        assert missing.header("retry-after") == []
        missing = request(port, "/mcp")
        assert missing.status == 401 and missing.header("retry-after") == []
        assert request(port, "/health").status == 200
    finally:
        keyring.set_available(True)
    ok = request(port, "/api/me", [("Access-Token", token.encode())])
    assert ok.status == 200 and json.loads(ok.body)["token_id"] == token_id
    assert request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())]).status == 200
    assert request(port, "/api/me", [("Access-Token", tamper(token).encode())]).status == 403


def test_an_unavailable_keyring_in_process() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    cases: list[tuple[Literal["rest", "mcp"], str, str]] = [
        ("rest", "HTTP_ACCESS_TOKEN", token),
        ("mcp", "HTTP_AUTHORIZATION", "Bearer " + token),
    ]
    for profile, key, value in cases:
        app = WSGIMiddleware(echo_app, keyring, profile=profile)
        got: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            got.append((status, headers))
            return lambda data: None

        keyring.set_available(False)
        body = b"".join(app({"PATH_INFO": "/x", key: value}, start_response))
        assert got == [
            (
                "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Retry-After", "1"),
                    ("Content-Length", str(len(UNAVAILABLE))),
                ],
            )
        ]
        assert body == UNAVAILABLE
        keyring.set_available(True)
        status, _, body = call_wsgi(app, {"PATH_INFO": "/x", key: value})
        assert status == 200 and json.loads(body)["account"] == "acct"


def test_shared_header_cases_over_the_network(header_cases: dict[str, Any]) -> None:
    keyring = case_keyring(header_cases, shift_to_now=True)
    apps = {
        p: WSGIMiddleware(echo_app, keyring, profile=p, scopes=case_scope_rules(header_cases, f"/{p}"))
        for p in ("rest", "mcp")
    }

    def both(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        profile = "mcp" if environ["PATH_INFO"].startswith("/mcp") else "rest"
        return apps[profile](environ, start_response)

    sent = 0
    with waitress_server(both) as port:
        for case in header_cases["cases"]:
            headers = case_headers(case)
            if len(headers) > 1 or not all(sendable(v) for _, v in headers):
                continue  # repeated headers: see test_repeated_headers_in_process
            r = request(port, case_path(case, f"/{case['profile']}"), [(n.decode("latin-1"), v) for n, v in headers])
            check_response(case, r.status, r.body, r.header("www-authenticate"))
            sent += 1
    assert sent >= len(header_cases["cases"]) // 2


def echo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = json.dumps(principal_json(principal_from(environ))).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def check_response(case: dict[str, Any], status: int, body: bytes, challenge: list[str]) -> None:
    assert status == case["status"], case["name"]
    if case["expect"] == "ok":
        assert json.loads(body) == case["principal"], case["name"]
    else:
        assert body == case["body"].encode(), case["name"]
        assert challenge == ([] if case["www_authenticate"] is None else [case["www_authenticate"]]), case["name"]


def environ_for(case: dict[str, Any]) -> Environ:
    """The environ a server builds: repeated headers joined with ',' (PEP 3333, as wsgiref does)."""
    environ: Environ = {"REQUEST_METHOD": "GET", "PATH_INFO": case_path(case), "SCRIPT_NAME": ""}
    for name, value in case_headers(case):
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    return environ


# With the headers joined into one value, one case gets another answer than the
# corpus: "Basic …,Bearer …" reads as the Basic scheme, so the token is missing
# (401, the missing body) rather than invalid. The request is refused all the same.
JOINED_DIFFERS = {"mcp: Bearer and Basic headers"}
# The corpus's `wsgi_indistinguishable` cases: the WSGI environ names a header by
# HTTP_ + its name upper-cased with "-" made "_", so an underscore name alone is the
# token header there (the caveat the module and the README document). wsgiref builds
# exactly this environ; waitress drops such names (test_hardening.py).


def test_every_shared_header_case_in_process(header_cases: dict[str, Any]) -> None:
    keyring = case_keyring(header_cases, shift_to_now=True)
    differs: list[str] = []
    indistinguishable: list[str] = []
    for case in header_cases["cases"]:
        app = WSGIMiddleware(echo_app, keyring, profile=case["profile"], scopes=case_scope_rules(header_cases))
        status, headers, body = call_wsgi(app, environ_for(case))
        challenge = [v for k, v in headers if k.lower() == "www-authenticate"]
        if case["name"] in JOINED_DIFFERS:
            assert status == case["status"] and case["expect"] != "ok"
            differs.append(case["name"])
            continue
        if case.get("wsgi_indistinguishable"):
            assert case["expect"] == "missing" and status == 200, case["name"]
            indistinguishable.append(case["name"])
            continue
        check_response(case, status, body, challenge)
        if case["expect"] != "ok":
            assert ("Content-Type", "application/json") in headers
            assert ("Content-Length", str(len(body))) in headers
    assert sorted(differs) == sorted(JOINED_DIFFERS)
    assert len(indistinguishable) >= 2  # the corpus has underscore cases


def test_unguarded_paths_and_prefix_boundaries() -> None:
    def open_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("204 No Content", [])
        return []

    app = WSGIMiddleware(open_app, Keyring(), prefixes=["/api", "/admin/"])

    def status_of(path: str) -> int:
        return call_wsgi(app, {"PATH_INFO": path})[0]

    assert status_of("/api") == 403
    assert status_of("/api/") == 403
    assert status_of("/api/x/y") == 403
    assert status_of("/admin") == 403
    assert status_of("/apix") == 204
    assert status_of("/") == 204
    assert status_of("/public/api") == 204
    assert status_of("//api/x") == 403
    assert status_of("/admin//x") == 403


def test_bytes_that_are_not_latin1_never_crash() -> None:
    keyring = Keyring()
    app = WSGIMiddleware(echo_app, keyring)
    status, _, body = call_wsgi(app, {"PATH_INFO": "/x", "HTTP_ACCESS_TOKEN": "wgat_\u20ac\udcff"})
    assert (status, body) == (403, b'{"message": "invalid Access-Token"}')
    status, _, _ = call_wsgi(app, {"PATH_INFO": "/\u00e4\u00bd", "HTTP_ACCESS_TOKEN": ""})
    assert status == 403
