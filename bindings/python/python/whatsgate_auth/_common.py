"""What the ASGI and WSGI middleware share: configuration checks and path matching.

The rules themselves are the Rust core's, called through ``_native``: profile
names and their headers, resource-metadata URLs, guarded path prefixes (how
one is checked and normalized, which paths it covers), scope names and the
answer to a token that lacks one. What stays here is about Python values:
the types given, at least one prefix, ``resource_metadata`` only with the
``mcp`` profile, the shapes a host may write its scope rules in, and that
every rule lies under a guarded prefix.
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
    _ScopeRules,
)

Profile = Literal["rest", "mcp"]

ScopeRule = tuple[str, str] | tuple[str, str, str]
"""A scope rule: ``(prefix, scope)``, or ``(method, prefix, scope)`` for one method only."""

_Needs = str | Iterable[str]
# Mapping is invariant in its key: a dict of paths only, of (method, path) keys
# only, or of both, each its own type.
ScopeRules = (
    Mapping[str, _Needs] | Mapping[tuple[str, str], _Needs] | Mapping[str | tuple[str, str], _Needs] | Iterable[ScopeRule]
)
"""What routes need: ``{"/api/messages": "messages:send", ("POST", "/api/tokens"): "tokens:manage"}``
(a key is a prefix or ``(method, prefix)``, a value one scope or several), or a list of
``ScopeRule``. Every rule that matches a request applies."""

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


def check_scope_rules(
    rules: ScopeRules | None, guard: _PathGuard, profile: Profile, resource_metadata: str | None = None
) -> _ScopeRules | None:
    """The middleware's scope rules, checked by the core; each must lie under a guarded prefix
    (a request outside them has no principal to check)."""
    if rules is None:
        return None
    if isinstance(rules, str):
        raise TypeError('scopes is a dict such as {"/api/messages": "messages:send"} or a list of rules')
    triples: list[tuple[str | None, str, str]] = []
    if isinstance(rules, Mapping):
        for key, needed in rules.items():
            method, prefix = (None, key) if isinstance(key, str) else _method_and_prefix(key)
            for scope in [needed] if isinstance(needed, str) else list(needed):
                triples.append((method, prefix, _text("scope", scope)))
    else:
        for rule in rules:
            if not isinstance(rule, tuple) or len(rule) not in (2, 3):
                raise TypeError(f"a scope rule is (prefix, scope) or (method, prefix, scope), not {rule!r}")
            if len(rule) == 2:
                triples.append((None, _text("path prefix", rule[0]), _text("scope", rule[1])))
            else:
                triples.append((_text("method", rule[0]), _text("path prefix", rule[1]), _text("scope", rule[2])))
    checked = _ScopeRules(triples, profile, resource_metadata)
    for prefix in checked.prefixes:
        if not guard.covers(prefix):
            raise ValueError(
                f"the scope rule for {prefix!r} lies outside the guarded prefixes {list(guard.prefixes)}: "
                "a request there is not authenticated, so no scope can be checked"
            )
    return checked


def _method_and_prefix(key: object) -> tuple[str, str]:
    if not isinstance(key, tuple) or len(key) != 2:
        raise TypeError(f"a scope rule's key is a path prefix or (method, prefix), not {key!r}")
    return _text("method", key[0]), _text("path prefix", key[1])


def _text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a scope rule's {what} is a str, not {type(value).__name__}")
    return value


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
