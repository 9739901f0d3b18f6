"""A pure ASGI middleware (Starlette, FastAPI, any ASGI 3 app).

HTTP requests and WebSocket handshakes whose path is under a guarded prefix
must carry a valid token; others reach the app without a principal. A
refused HTTP request gets exactly the status, JSON body and headers of the
profile; an accepted one reaches the app with the ``Principal`` in
``scope["whatsgate.principal"]``. A refused WebSocket handshake is closed
(HTTP 403 from the server, or the exact response where the server supports
the ``websocket.http.response`` extension). With ``scopes``, a route's
rules apply once the token is accepted: a token that lacks a scope gets the
core's 403 naming it (for ``mcp`` with the ``insufficient_scope``
challenge), and the app is not called. ``lifespan`` passes; any other
scope type on a guarded path (or with no path) is refused by raising
``UnsupportedScope`` before the app is called, as ASGI asks of an app that
does not understand a scope: only HTTP requests and WebSocket handshakes
carry a header this middleware can check. An ``AuthError`` that the app
raises before it starts its response (``principal_from`` on a route outside
the prefixes) is answered with that error's exact response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from ._common import PRINCIPAL_KEY, Profile, ScopeRules, check_config, check_scope_rules
from ._native import AuthError, Keyring

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class UnsupportedScope(RuntimeError):
    """An ASGI scope type other than http, websocket or lifespan reached a guarded path."""


class ASGIMiddleware:
    """Guards path prefixes of an ASGI app with a ``Keyring``.

    ``profile="rest"`` reads ``Access-Token`` and answers 403;
    ``profile="mcp"`` reads ``Authorization: Bearer`` and answers 401 with a
    ``WWW-Authenticate`` challenge (with ``resource_metadata="…"`` when
    given). Every value of the token header is checked, so a request with two
    token headers is refused. While the keyring is unavailable
    (``Keyring.set_available(False)``), a request with a token is answered
    503 with ``Retry-After`` in either profile.

    ``scopes`` says what routes need, e.g. ``{"/api/messages": "messages:send",
    ("POST", "/api/tokens"): "tokens:manage"}`` or a list of ``(prefix, scope)`` and
    ``(method, prefix, scope)`` rules; every rule whose prefix (and method) matches
    a request applies. Bad names raise ``ValueError`` here, as does a rule outside
    the guarded prefixes.
    """

    def __init__(
        self,
        app: ASGIApp,
        keyring: Keyring,
        *,
        prefixes: Iterable[str] = ("/",),
        profile: Profile = "rest",
        resource_metadata: str | None = None,
        scopes: ScopeRules | None = None,
    ) -> None:
        self.app = app
        self.keyring, guard, self.profile, self.resource_metadata = check_config(
            keyring, prefixes, profile, resource_metadata
        )
        self._covers = guard.covers
        self._prefixes = guard.prefixes
        self._rules = check_scope_rules(scopes, guard, self.profile, self.resource_metadata)

    @property
    def scope_rules(self) -> list[tuple[str | None, str, str]]:
        """The scope rules, normalized: ``(method or None, prefix, scope)``."""
        return [] if self._rules is None else self._rules.rules

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The guarded path prefixes, normalized (``"/api/"`` is ``"/api"``)."""
        return self._prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        guarded = "path" not in scope or self._covers(_route_path(scope))
        if kind not in ("http", "websocket"):
            if guarded:
                shown = repr(kind)[:40]
                raise UnsupportedScope(
                    f"whatsgate_auth.ASGIMiddleware refused an ASGI scope of type {shown} on a "
                    "guarded path: only 'http' and 'websocket' scopes carry a token header it can "
                    "check ('lifespan' passes)"
                )
            await self.app(scope, receive, send)
            return
        if guarded:
            try:
                principal = self.keyring.authenticate(
                    scope.get("headers") or (),
                    self.profile,
                    resource_metadata=self.resource_metadata,
                )
            except AuthError as error:
                if kind == "http":
                    await _send_error(send, error, "http.response")
                else:
                    await _refuse_websocket(scope, receive, send, error)
                return
            if self._rules is not None:
                # A WebSocket handshake is a GET.
                denial = self._rules.denial(principal, scope.get("method", "GET"), _route_path(scope))
                if denial is not None:
                    if kind == "http":
                        await _send_error(send, denial, "http.response")
                    else:
                        await _refuse_websocket(scope, receive, send, denial)
                    return
            scope = dict(scope)
            scope[PRINCIPAL_KEY] = principal
        await _answering_auth_errors(self.app, scope, receive, send, kind)


async def _answering_auth_errors(app: ASGIApp, scope: Scope, receive: Receive, send: Send, kind: str) -> None:
    """Runs the app; an ``AuthError`` it raises before its response started is answered exactly."""
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await app(scope, receive, tracked)
    except AuthError as error:
        if started:
            raise
        if kind == "http":
            await _send_error(send, error, "http.response")
        elif "websocket.http.response" in (scope.get("extensions") or {}):
            await _send_error(send, error, "websocket.http.response")
        else:
            await send({"type": "websocket.close", "code": 1008})


def _route_path(scope: Scope) -> str:
    """The path the app routes on: ``path`` without ``root_path`` (as Starlette does)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


async def _send_error(send: Send, error: AuthError, prefix: str) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]
    headers.append((b"content-length", str(len(error.body)).encode("ascii")))
    await send({"type": prefix + ".start", "status": error.status_code, "headers": headers})
    await send({"type": prefix + ".body", "body": error.body, "more_body": False})


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send, error: AuthError) -> None:
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await _send_error(send, error, "websocket.http.response")
    else:
        await send({"type": "websocket.close", "code": 1008})
