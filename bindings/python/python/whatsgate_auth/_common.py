"""What the ASGI and WSGI middleware share: configuration checks and path matching.

The rules themselves are the Rust core's, called through ``_native``: profile
names and their headers, resource-metadata URLs, guarded path prefixes (how
one is checked and normalized, which paths it covers). What stays here is
about Python values: the types given, at least one prefix, and
``resource_metadata`` only with the ``mcp`` profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ._native import (
    Keyring,
    Principal,
    _check_profile,
    _check_resource_metadata,
    _missing,
    _PathGuard,
)

Profile = Literal["rest", "mcp"]

PRINCIPAL_KEY = "whatsgate.principal"
"""Where the middleware puts the ``Principal``: a key of the ASGI scope or the WSGI environ."""

_REASONS = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}


def check_config(
    keyring: Keyring,
    prefixes: Iterable[str],
    profile: str,
    resource_metadata: str | None,
) -> tuple[Keyring, _PathGuard, Profile, str | None]:
    """Checks a middleware's arguments, the same for ASGI and WSGI."""
    if not isinstance(keyring, Keyring):
        raise TypeError("keyring must be a whatsgate_auth.Keyring")
    checked = _check_profile(profile)
    return (
        keyring,
        check_prefixes(prefixes),
        checked,
        check_resource_metadata(resource_metadata, checked),
    )


def check_resource_metadata(url: str | None, profile: Profile) -> str | None:
    """Checks an RFC 9728 resource-metadata URL early (the core checks it again per request)."""
    if url is None:
        return None
    if profile != "mcp":
        raise ValueError('resource_metadata only applies to the "mcp" profile')
    if not isinstance(url, str):
        raise TypeError(f"resource_metadata is a URL (str) or None, not {type(url).__name__}")
    return _check_resource_metadata(url)


def check_prefixes(prefixes: Iterable[str]) -> _PathGuard:
    """The guard of these path prefixes ("/api/" is "/api"; the core checks each one)."""
    if isinstance(prefixes, str):
        raise TypeError('prefixes is a list of paths, such as ["/api"], not one string')
    listed = list(prefixes)
    for prefix in listed:
        if not isinstance(prefix, str):
            raise ValueError(f"a guarded path prefix starts with '/': {prefix!r}")
    if not listed:
        raise ValueError("give at least one path prefix to guard (use ['/'] for all paths)")
    return _PathGuard(listed)


def reason(status: int) -> str:
    return _REASONS.get(status, "Error")


def principal_from(
    carrier: Mapping[str, Any],
    profile: Profile = "rest",
    *,
    resource_metadata: str | None = None,
) -> Principal:
    """The ``Principal`` the middleware stored in an ASGI scope or a WSGI environ.

    A request the middleware did not authenticate (its path is outside the
    guarded prefixes, or no middleware ran) is refused: this raises
    ``MissingToken`` with ``profile``'s answer (403, or 401 with the
    challenge for ``"mcp"``), as the Rust extractor does. The middleware
    answers an ``AuthError`` its app raises before responding with exactly
    that response; Flask needs an error handler (see the README).
    """
    principal = carrier.get(PRINCIPAL_KEY)
    if isinstance(principal, Principal):
        return principal
    raise _missing(profile, resource_metadata)
