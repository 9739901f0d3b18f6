"""What the ASGI and WSGI middleware share: configuration checks and path matching."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ._native import Keyring, Principal

Profile = Literal["rest", "mcp"]

PRINCIPAL_KEY = "whatsgate.principal"
"""Where the middleware puts the ``Principal``: a key of the ASGI scope or the WSGI environ."""

_SLASHES = re.compile("/{2,}")

_REASONS = {401: "Unauthorized", 403: "Forbidden"}

_HEADER_NAMES: dict[str, str] = {"rest": "access-token", "mcp": "authorization"}


def check_config(
    keyring: Keyring,
    prefixes: Iterable[str],
    profile: str,
    resource_metadata: str | None,
) -> tuple[Keyring, tuple[str, ...], Profile, str | None]:
    """Checks a middleware's arguments, the same for ASGI and WSGI."""
    if not isinstance(keyring, Keyring):
        raise TypeError("keyring must be a whatsgate_auth.Keyring")
    checked = check_profile(profile)
    return (
        keyring,
        check_prefixes(prefixes),
        checked,
        check_resource_metadata(resource_metadata, checked),
    )


def check_profile(profile: str) -> Profile:
    if profile == "rest":
        return "rest"
    if profile == "mcp":
        return "mcp"
    raise ValueError(
        f'profile must be "rest" (Access-Token header) or "mcp" '
        f"(Authorization: Bearer), not {profile!r}"
    )


def check_resource_metadata(url: str | None, profile: Profile) -> str | None:
    """Checks an RFC 9728 resource-metadata URL early (the core checks it again)."""
    if url is None:
        return None
    if profile != "mcp":
        raise ValueError('resource_metadata only applies to the "mcp" profile')
    if not url or any(not ("!" <= c <= "~") or c in '"\\' for c in url):
        raise ValueError(
            "a resource_metadata URL must be non-empty visible ASCII without '\"' or '\\'"
        )
    return url


def check_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Normalises guarded path prefixes: each starts with '/', none ends with one but '/'."""
    if isinstance(prefixes, str):
        raise TypeError('prefixes is a list of paths, such as ["/api"], not one string')
    out = []
    for prefix in prefixes:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError(f"a guarded path prefix starts with '/': {prefix!r}")
        out.append(prefix.rstrip("/") or "/")
    if not out:
        raise ValueError("give at least one path prefix to guard (use ['/'] for all paths)")
    return tuple(out)


def is_guarded(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a path is under a prefix: "/api" guards "/api" and "/api/…", not "/apix".

    Runs of slashes count as one ("//api" is guarded by "/api"), as some
    routers merge them.
    """
    if "//" in path:
        path = _SLASHES.sub("/", path)
    for prefix in prefixes:
        if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
            return True
    return False


def reason(status: int) -> str:
    return _REASONS.get(status, "Error")


def header_name(profile: Profile) -> str:
    return _HEADER_NAMES[profile]


def principal_from(carrier: Mapping[str, Any]) -> Principal:
    """The ``Principal`` the middleware stored in an ASGI scope or a WSGI environ.

    Raises ``LookupError`` if the request did not pass through the middleware
    (its path is not guarded).
    """
    principal = carrier.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise LookupError(
            "no whatsgate principal here: the request's path is not guarded by the middleware"
        )
    return principal
