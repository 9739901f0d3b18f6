"""A WSGI middleware (Flask, Django, any WSGI app).

Requests whose ``PATH_INFO`` is under a guarded prefix must carry a valid
token; others pass untouched. A refused request gets exactly the status,
JSON body and headers of the profile; an accepted one reaches the app with
the ``Principal`` in ``environ["whatsgate.principal"]`` (Django:
``request.META``, Flask: ``request.environ``). With ``scopes``, a route's
rules apply once the token is accepted: a token that lacks a scope gets the
core's 403 naming it, and the app is not called.

WSGI servers join repeated headers with commas, which never forms a valid
token, so a request with two token headers is refused.

Header names with an underscore: the environ has one key per header,
``HTTP_`` and the name upper-cased with ``-`` turned into ``_``, so
``Access_Token`` and ``Access-Token`` both become ``HTTP_ACCESS_TOKEN``
and nothing in the environ tells them apart. What is detectable is a
request carrying both spellings on a server that joins them into one value
with a comma (wsgiref): that value is refused as invalid, like any repeated
token header. Servers that drop underscore names (waitress and
the Werkzeug development server) never pass ``Access_Token`` on; a server
that keeps one spelling of the two, or maps ``Access_Token`` alone (wsgiref),
cannot be caught here: a proxy that filters headers by name must filter both
spellings, or run the API behind one of those servers.

An ``AuthError`` that the app raises before it has started its response
(``principal_from`` outside the guarded prefixes) is answered with that
error's exact response. Flask and Django turn exceptions into their own 500
before this middleware sees them: register a handler (see the README).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol

from ._common import PRINCIPAL_KEY, Profile, ScopeRules, check_config, check_scope_rules, reason
from ._native import AuthError, Keyring, _header_name

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class StartResponse(Protocol):
    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class WSGIMiddleware:
    """Guards path prefixes of a WSGI app with a ``Keyring``.

    ``profile="rest"`` reads ``Access-Token`` and answers 403;
    ``profile="mcp"`` reads ``Authorization: Bearer`` and answers 401 with a
    ``WWW-Authenticate`` challenge (with ``resource_metadata="…"`` when given).
    While the keyring is unavailable (``Keyring.set_available(False)``), a
    request with a token is answered 503 with ``Retry-After`` in either
    profile.

    ``scopes`` says what routes need, as for ``ASGIMiddleware``: a dict such as
    ``{"/api/messages": "messages:send", ("POST", "/api/tokens"): "tokens:manage"}``
    or a list of ``(prefix, scope)`` and ``(method, prefix, scope)`` rules; every
    matching rule applies.
    """

    def __init__(
        self,
        app: WSGIApp,
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
        self._name = _header_name(self.profile)
        self._environ_key = "HTTP_" + self._name.upper().replace("-", "_")

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The guarded path prefixes, normalized (``"/api/"`` is ``"/api"``)."""
        return self._prefixes

    @property
    def scope_rules(self) -> list[tuple[str | None, str, str]]:
        """The scope rules, normalized: ``(method or None, prefix, scope)``."""
        return [] if self._rules is None else self._rules.rules

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = _path(environ)
        if not self._covers(path):
            return self._answering_auth_errors(environ, start_response)
        raw = environ.get(self._environ_key)
        headers = [] if raw is None else [(self._name, _raw_value(raw))]
        try:
            principal = self.keyring.authenticate(
                headers, self.profile, resource_metadata=self.resource_metadata
            )
        except AuthError as error:
            return _refuse(start_response, error)
        if self._rules is not None:
            denial = self._rules.denial(principal, str(environ.get("REQUEST_METHOD") or "GET"), path)
            if denial is not None:
                return _refuse(start_response, denial)
        environ[PRINCIPAL_KEY] = principal
        return self._answering_auth_errors(environ, start_response)

    def _answering_auth_errors(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except AuthError as error:
            # PEP 3333: start_response may be called again with exc_info
            # until the headers are sent; it raises again if they were.
            return _refuse(start_response, error, sys.exc_info())


def _refuse(start_response: StartResponse, error: AuthError, exc_info: ExcInfo | None = None) -> list[bytes]:
    headers = list(error.headers)
    headers.append(("Content-Length", str(len(error.body))))
    status = f"{error.status_code} {reason(error.status_code)}"
    if exc_info is None:
        start_response(status, headers)
    else:
        start_response(status, headers, exc_info)
    return [error.body]


def _path(environ: Environ) -> str:
    """``PATH_INFO`` as text: WSGI hands it over as bytes decoded as latin-1."""
    path = environ.get("PATH_INFO") or "/"
    try:
        return str(path).encode("latin-1").decode("utf-8")
    except UnicodeError:
        return str(path)


def _raw_value(value: object) -> bytes | str:
    """The header's raw bytes (PEP 3333: a str holding latin-1 decoded bytes).

    Text that is not latin-1 (a server that decoded otherwise, lone
    surrogates) goes to the core as text: it is never a valid token, and
    the binding refuses it as invalid, not missing.
    """
    if isinstance(value, bytes):
        return value
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text
