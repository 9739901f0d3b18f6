"""FastAPI integration: principal dependencies that OpenAPI documents.

Needs the ``fastapi`` extra (``pip install 'whatsgate-auth[fastapi]'``).

``AccessToken(keyring)`` (the ``rest`` profile) and ``Bearer(keyring)``
(``mcp``) are dependencies that return the request's ``Principal``. They
declare the ``Access-Token`` API-key header, or HTTP Bearer, as the
route's security scheme, so the OpenAPI document lists it and Swagger UI
shows "Authorize". Where ``ASGIMiddleware`` already authenticated the
request, its principal is returned; elsewhere (a route outside its
prefixes, or no middleware at all) the dependency authenticates the request
itself with the core's rules (every header of the request, so two token
headers are invalid). A refusal raises the ``AuthError``; ``install(app)``
registers the handler that answers it with its exact status, JSON body and
headers (``ASGIMiddleware`` answers it too, when installed).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response

from ._common import PRINCIPAL_KEY, Profile, check_config
from ._native import AuthError, Keyring, Principal, _check_scope

__all__ = ["ACCESS_TOKEN_SCHEME", "BEARER_SCHEME", "AccessToken", "Bearer", "error_response", "install"]

ACCESS_TOKEN_SCHEME = APIKeyHeader(
    name="Access-Token",
    scheme_name="AccessToken",
    description="A WhatsGate API token: `Access-Token: wgat_…`",
    auto_error=False,
)
"""The ``rest`` profile's security scheme (OpenAPI ``apiKey`` in the ``Access-Token`` header)."""

BEARER_SCHEME = HTTPBearer(
    scheme_name="Bearer",
    description="A WhatsGate API token: `Authorization: Bearer wgat_…`",
    auto_error=False,
)
"""The ``mcp`` profile's security scheme (OpenAPI ``http`` ``bearer``)."""


class _TokenAuth:
    _profile: Profile

    def __init__(
        self, keyring: Keyring, *, scope: str | None = None, resource_metadata: str | None = None
    ) -> None:
        self.keyring, _, _, self.resource_metadata = check_config(
            keyring, ["/"], self._profile, resource_metadata
        )
        # A bad name is refused here, not at the first request.
        self.scope = None if scope is None else _check_scope(scope)

    def principal(self, request: StarletteRequest) -> Principal:
        """The principal of ``request``: the middleware's, or authenticated here (raises ``AuthError``),
        holding ``scope`` if one was given (else ``InsufficientScope``)."""
        found = request.scope.get(PRINCIPAL_KEY)
        if isinstance(found, Principal):
            principal = found
        else:
            principal = self.keyring.authenticate(
                request.scope.get("headers") or (), self._profile, resource_metadata=self.resource_metadata
            )
        if self.scope is not None:
            principal.require_scope(self.scope, self._profile, resource_metadata=self.resource_metadata)
        return principal


class AccessToken(_TokenAuth):
    """A dependency: the ``Principal`` of a request's ``Access-Token`` header (``rest``: 403),
    holding ``scope`` when one is given."""

    _profile: Profile = "rest"

    def __init__(self, keyring: Keyring, *, scope: str | None = None) -> None:
        super().__init__(keyring, scope=scope)

    async def __call__(
        self,
        request: Request,
        # Declares the scheme for OpenAPI; the value is read again, with the
        # core's rules, from every header of the request.
        _access_token: str | None = Security(ACCESS_TOKEN_SCHEME),
    ) -> Principal:
        return self.principal(request)


class Bearer(_TokenAuth):
    """A dependency: the ``Principal`` of ``Authorization: Bearer`` (``mcp``: 401 with a challenge),
    holding ``scope`` when one is given (403 with the ``insufficient_scope`` challenge)."""

    _profile: Profile = "mcp"

    async def __call__(
        self,
        request: Request,
        _credentials: HTTPAuthorizationCredentials | None = Security(BEARER_SCHEME),
    ) -> Principal:
        return self.principal(request)


async def error_response(request: StarletteRequest, error: Exception) -> Response:
    """An ``AuthError`` as its exact response (an exception handler)."""
    if not isinstance(error, AuthError):
        raise error
    return Response(
        content=error.body,
        status_code=error.status_code,
        headers=dict(error.headers),
    )


def install(app: FastAPI) -> None:
    """Answers every ``AuthError`` raised in ``app`` with its exact status, JSON body and headers."""
    app.add_exception_handler(AuthError, error_response)
