"""Types of the native module (Rust, pyo3). Import the names from ``whatsgate_auth``."""

import builtins
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Final, Literal, Self, final

from typing_extensions import deprecated

__all__ = [
    "__version__",
    "TokenRecord",
    "Principal",
    "Keyring",
    "AuthError",
    "MissingToken",
    "InvalidToken",
    "StoreUnavailable",
    "InsufficientScope",
    "StoreError",
    "FollowerStats",
    "generate",
    # Private, for the middleware (_common.py); listed because the module
    # has no __all__ and so exports every name its stub declares.
    "_check_profile",
    "_header_name",
    "_check_resource_metadata",
    "_check_scope",
    "_missing",
    "_PathGuard",
    "_ScopeRules",
]

__version__: Final[str]

class AuthError(Exception):
    """A request was not authenticated.

    Send ``status_code``, ``headers`` and ``body`` (the exact JSON) as the
    response. ``str(error)`` says what happened, never with a secret.
    """

    status_code: int
    body: bytes
    headers: list[tuple[str, str]]

class MissingToken(AuthError):
    """No token was presented (no header, or an empty one)."""

class InvalidToken(AuthError):
    """A token was presented and refused, for whatever reason."""

class StoreUnavailable(AuthError):
    """A token was presented while the keyring cannot confirm it is current.

    Its token store is out of reach (an attached keyring past its
    ``stale_after``, a closed one, or ``Keyring.set_available(False)``): the
    token is neither accepted nor called invalid. 503 in both profiles,
    ``headers`` carry ``("Retry-After", "1")`` and no challenge.
    """

class InsufficientScope(AuthError):
    """A valid token that lacks the scope the route needs.

    403 in both profiles, ``body`` naming the scope
    (``{"message": "the token lacks the scope messages:send"}``), and for
    ``mcp`` the ``WWW-Authenticate: Bearer realm="whatsgate",
    error="insufficient_scope", scope="…"`` challenge: the core's answer.
    """

    scope: str

class StoreError(Exception):
    """The token store of an attached keyring could not do what was asked.

    It cannot be opened or reached, is locked, is not a token store, was
    written by a newer release, or holds a damaged row; the message says
    which and what to do, never with a password or a secret. (An unknown id
    is still ``KeyError`` and a taken name ``ValueError``, as in memory.)
    """

@final
class FollowerStats:
    """What the follower of an attached keyring has done; a snapshot. Immutable."""

    @property
    def seq(self) -> int: ...
    @property
    def applied(self) -> int: ...
    @property
    def bad_rows(self) -> int: ...
    @property
    def resyncs(self) -> int: ...
    @property
    def current(self) -> bool: ...
    @property
    def last_error(self) -> str | None: ...

@final
class TokenRecord:
    """A stored token record: the verifier, never the token. Immutable."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def created_at(self) -> datetime:
        """When the token was created (aware, UTC)."""
    @property
    def last_used_at(self) -> datetime | None:
        """When the token last authenticated a request (aware, UTC), or None."""
    @property
    def rollover_until(self) -> datetime | None:
        """Until when the previous secret is still accepted (aware, UTC), or None."""
    @property
    def scopes(self) -> tuple[str, ...] | None:
        """What the token may do: None for full access, else its scopes, sorted."""
    @property
    def expires_at(self) -> datetime | None:
        """From when the token is refused (aware, UTC), or None (never)."""
    @property
    def disabled(self) -> bool: ...
    @property
    def description(self) -> str | None: ...
    def is_active(self, now: _Instant | None = None) -> bool:
        """Neither disabled nor expired at ``now`` (the clock by default)."""
    @property
    @deprecated("TokenRecord.grace_until is deprecated: read TokenRecord.rollover_until")
    def grace_until(self) -> datetime | None: ...
    def to_dict(self) -> dict[str, Any]:
        """The core's wire form (``"format": 1``, or ``2`` with scopes, expiry, disabled or
        description): instants are Unix seconds (int) there."""
    @staticmethod
    def from_dict(d: dict[str, Any]) -> TokenRecord: ...
    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Principal:
    """Who a request was authenticated as. Never the secret. Immutable."""

    # Keywords only; the deprecated positional form still runs, with a
    # DeprecationWarning, but is not typed.
    def __new__(
        cls, *, account: str, token_id: str, token_name: str, scopes: Iterable[str] | None = None
    ) -> Principal: ...
    def __getnewargs_ex__(self) -> tuple[tuple[()], dict[str, Any]]: ...
    @property
    def account(self) -> str: ...
    @property
    def token_id(self) -> str: ...
    @property
    def token_name(self) -> str: ...
    @property
    def scopes(self) -> tuple[str, ...] | None:
        """What the token may do: None for full access, else its scopes, sorted."""
    def has_scope(self, scope: str, /) -> bool:
        """Whether the token may use a route that needs ``scope`` (ValueError for a bad name)."""
    def require_scope(
        self, scope: str, /, profile: Literal["rest", "mcp"] = "rest", *, resource_metadata: str | None = None
    ) -> None:
        """Raises ``InsufficientScope`` (the profile's exact 403) unless ``has_scope(scope)``."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

_HeaderValue = str | bytes
_Seconds = float | timedelta
# An instant: an aware datetime, or Unix seconds (int or float, floored to
# the second). A naive datetime raises ValueError.
_Instant = datetime | float
# A length of time for a lifetime policy or an expiry: whole seconds or a timedelta.
_Length = int | timedelta

@final
class Keyring:
    """Token records, verified from many threads at once.

    In memory (``Keyring()``), or attached to a token store
    (``Keyring.open(url)``): a follower keeps it current, and ``create``,
    ``update``, ``delete``, ``regenerate``, ``revoke_all``, ``prune`` and
    ``list`` go to the store.
    """

    def __new__(
        cls,
        records: Iterable[TokenRecord] | None = None,
        *,
        max_lifetime: _Length | None = None,
        max_grace: _Length | None = None,
    ) -> Keyring: ...
    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str],
        *,
        create: bool = False,
        stale_after: _Seconds = 5.0,
        poll: _Seconds = 1.0,
        timeout: _Seconds = 2.0,
        flush_every: _Seconds = 5.0,
        max_lifetime: _Length | None = None,
        max_grace: _Length | None = None,
        actor: str | None = None,
    ) -> Keyring: ...
    @property
    def max_lifetime(self) -> timedelta | None: ...
    @property
    def max_grace(self) -> timedelta: ...
    def add(self, record: TokenRecord) -> None: ...
    def create(
        self,
        *,
        account: str,
        name: str,
        scopes: Iterable[str] | None = None,
        expires_at: _Instant | None = None,
        expires_in: _Length | None = None,
        description: str | None = None,
    ) -> tuple[str, TokenRecord]: ...
    def update(
        self,
        token_id: str,
        *,
        name: str = ...,
        description: str | None = ...,
        scopes: Iterable[str] | None = ...,
        disabled: bool = ...,
    ) -> TokenRecord:
        """Only the fields given change; ``description=None`` removes it, ``scopes=None`` is full access."""
    def revoke_all(self, account: str) -> builtins.list[TokenRecord]: ...
    def prune(self, *, now: _Instant | None = None) -> builtins.list[TokenRecord]: ...
    @deprecated("Keyring.issue(name, account) is deprecated: call Keyring.create(account=..., name=...)")
    def issue(self, name: str, account: str) -> tuple[str, TokenRecord]: ...
    def delete(self, token_id: str) -> TokenRecord | None: ...
    def regenerate(
        self, token_id: str, grace_until: _Instant | None = None
    ) -> tuple[str, TokenRecord]: ...
    def get(self, token_id: str) -> TokenRecord | None: ...
    # `builtins.list`: in this class body, `list` is the method below.
    def list(self, account: str | None = None) -> builtins.list[TokenRecord]: ...
    @deprecated("Keyring.records(account) is deprecated: call Keyring.list(account)")
    def records(self, account: str | None = None) -> builtins.list[TokenRecord]: ...
    def sync(self, records: Iterable[TokenRecord]) -> None: ...
    def take_last_used(self) -> builtins.list[tuple[str, datetime]]: ...
    def set_available(self, available: bool, /) -> None: ...
    @property
    def is_available(self) -> bool: ...
    def verify(self, token: _HeaderValue, /, *, now: _Instant | None = None) -> Principal: ...
    def verify_access_token(
        self, value: _HeaderValue | None, /, *, now: _Instant | None = None
    ) -> Principal: ...
    def verify_authorization(
        self, value: _HeaderValue | None, /, *, now: _Instant | None = None
    ) -> Principal: ...
    def authenticate(
        self,
        headers: Iterable[tuple[_HeaderValue, _HeaderValue] | builtins.list[_HeaderValue]],
        /,
        profile: Literal["rest", "mcp"] = "rest",
        *,
        resource_metadata: str | None = None,
        required_scope: str | None = None,
        now: _Instant | None = None,
    ) -> Principal: ...
    def audit(self, account: str | None = None, *, limit: int = 100) -> builtins.list[dict[str, Any]]:
        """Attached only: the store's audit entries, newest first (seq, at, actor, action,
        token_id, account, detail)."""
    def flush_last_used(self) -> None: ...
    @property
    def stats(self) -> FollowerStats | None: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> None: ...
    def __len__(self) -> int: ...

# The deprecated positional form generate(name, account) still runs (with a
# DeprecationWarning) but is not typed: type checkers point callers to this one.
def generate(
    *,
    account: str,
    name: str,
    scopes: Iterable[str] | None = None,
    expires_at: _Instant | None = None,
    expires_in: _Length | None = None,
    description: str | None = None,
) -> tuple[str, TokenRecord]: ...

# Private: the core's rules that the ASGI and WSGI middleware call (_common.py).

def _check_profile(profile: object, /) -> Literal["rest", "mcp"]: ...
def _header_name(profile: object, /) -> Literal["access-token", "authorization"]: ...
def _check_resource_metadata(url: str, /) -> str: ...
def _check_scope(scope: str, /) -> str: ...
def _missing(profile: object, /, resource_metadata: str | None = None) -> MissingToken: ...
@final
class _PathGuard:
    """Guarded path prefixes, checked and normalized by the core."""

    def __new__(cls, prefixes: Sequence[str], /) -> _PathGuard: ...
    @property
    def prefixes(self) -> tuple[str, ...]: ...
    def covers(self, path: str, /) -> bool: ...

@final
class _ScopeRules:
    """What routes need: (method or None, prefix, scope) rules, checked by the core."""

    def __new__(
        cls,
        rules: Sequence[tuple[str | None, str, str]],
        profile: object,
        /,
        resource_metadata: str | None = None,
    ) -> _ScopeRules: ...
    @property
    def rules(self) -> builtins.list[tuple[str | None, str, str]]: ...
    @property
    def prefixes(self) -> builtins.list[str]: ...
    def denial(self, principal: Principal, method: str, path: str, /) -> InsufficientScope | None: ...

# A build with the Cargo feature `bench` also has `_bench_core_verify`, a
# benchmark helper (bench/bench_verify.py); the published wheel does not.
