"""The shared path cases (testdata/path-cases.json), which the core's PathPrefix
and the tower layer run too, through the ASGI and the WSGI middleware:
every prefix through both constructors, every (prefix, path) pair through a
request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from whatsgate_auth import PRINCIPAL_KEY, ASGIMiddleware, Keyring, WSGIMiddleware, principal_from
from whatsgate_auth.asgi import Message
from whatsgate_auth.wsgi import Environ, StartResponse

from conftest import call_wsgi, load_json, run_asgi

CASES = load_json("path-cases.json")
PREFIXES: list[dict[str, Any]] = CASES["prefixes"]
COVERS: list[dict[str, Any]] = CASES["covers"]

KEYRING = Keyring()
TOKEN, RECORD = KEYRING.create(account="acct_paths", name="paths")


def prefix_id(case: dict[str, Any]) -> str:
    return repr(case["prefix"])


def covers_id(case: dict[str, Any]) -> str:
    return f"{case['prefix']!r} {case['path']!r}"


def token_id_in(carrier: Mapping[str, Any]) -> bytes:
    """The id of the token the middleware let in, or nothing if it did not look."""
    return principal_from(carrier).token_id.encode() if PRINCIPAL_KEY in carrier else b""


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """204, with the principal's token id (if any) as the body."""
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": token_id_in(scope)})


def wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """As ``asgi_app``."""
    start_response("204 No Content", [])
    return [token_id_in(environ)]


def asgi_call(prefix: str, path: str, token: str | None) -> tuple[int, bytes]:
    middleware = ASGIMiddleware(asgi_app, KEYRING, prefixes=[prefix])
    headers = [] if token is None else [(b"access-token", token.encode())]
    sent: list[Message] = run_asgi(middleware, {"type": "http", "path": path, "headers": headers})
    return sent[0]["status"], sent[1]["body"]


def wsgi_call(prefix: str, path: str, token: str | None) -> tuple[int, bytes]:
    middleware = WSGIMiddleware(wsgi_app, KEYRING, prefixes=[prefix])
    environ: Environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path}
    if token is not None:
        environ["HTTP_ACCESS_TOKEN"] = token
    status, _, body = call_wsgi(middleware, environ)
    return status, body


CALLS = {"asgi": asgi_call, "wsgi": wsgi_call}
MIDDLEWARE: dict[str, Any] = {"asgi": (ASGIMiddleware, asgi_app), "wsgi": (WSGIMiddleware, wsgi_app)}


def test_the_corpus_has_both_answers() -> None:
    assert {c["normal"] is None for c in PREFIXES} == {True, False}
    assert {c["covered"] for c in COVERS} == {True, False}


@pytest.mark.parametrize("surface", sorted(MIDDLEWARE))
@pytest.mark.parametrize("case", PREFIXES, ids=prefix_id)
def test_prefix_through_the_constructor(surface: str, case: dict[str, Any]) -> None:
    middleware, app = MIDDLEWARE[surface]
    if case["normal"] is None:
        with pytest.raises(ValueError, match="path prefix") as refused:
            middleware(app, KEYRING, prefixes=[case["prefix"]])
        assert repr(case["prefix"]) in str(refused.value), "the message shows the refused prefix"
        return
    guarded = middleware(app, KEYRING, prefixes=[case["prefix"]])
    assert guarded.prefixes == (case["normal"],)
    # The normalized prefix is itself guarded, whatever the form it was given in.
    assert CALLS[surface](case["prefix"], case["normal"], None)[0] == 403


@pytest.mark.parametrize("surface", sorted(CALLS))
@pytest.mark.parametrize("case", COVERS, ids=covers_id)
def test_path_through_a_request(surface: str, case: dict[str, Any]) -> None:
    call = CALLS[surface]
    no_token = call(case["prefix"], case["path"], None)
    with_token = call(case["prefix"], case["path"], TOKEN)
    if case["covered"]:
        assert no_token[0] == 403, "a guarded path needs a token"
        assert with_token == (204, RECORD.id.encode()), "the app gets the principal"
    else:
        assert no_token == (204, b""), "a path no prefix covers passes to the app untouched"
        assert with_token == (204, b""), "and without a principal, token or not"


@pytest.mark.parametrize("surface", sorted(CALLS))
def test_a_path_with_no_utf8_form_is_matched_not_raised(surface: str) -> None:
    # Lone surrogates (a server that decodes with surrogateescape) match
    # no prefix character, as any other non-ASCII character.
    call = CALLS[surface]
    assert call("/api", "/api/\udcff", None)[0] == 403
    assert call("/api", "/api\udcff", None) == (204, b"")
    assert call("/api", "/\udcff/api", None) == (204, b"")
