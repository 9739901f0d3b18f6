"""WhatsGate API token authentication, verified by the Rust core.

>>> from whatsgate_auth import Keyring
>>> keyring = Keyring()
>>> token, record = keyring.create(account="acct_42", name="Production API")
>>> keyring.verify_access_token(token).account
'acct_42'

``Keyring.open(url)`` attaches to a token store (a SQLite file or
PostgreSQL) instead: the keyring stays current with every host's writes, and
its own ``create``, ``delete`` and ``regenerate`` go to the store.
``generate`` makes a token and its record without a keyring; records go to
any database as ``record.to_dict()`` and come back with
``TokenRecord.from_dict``. A token may be restricted to ``scopes``, expire,
be disabled (``Keyring.update``); ``ASGIMiddleware`` and ``WSGIMiddleware``
guard the paths of a web app and check the scopes its routes need; ``whatsgate_auth.fastapi`` (the ``fastapi`` extra)
has dependencies that OpenAPI documents. Instants are aware ``datetime``
objects (UTC); arguments also take Unix seconds.
"""

from ._common import PRINCIPAL_KEY, principal_from
from ._native import (
    AuthError,
    FollowerStats,
    InsufficientScope,
    InvalidToken,
    Keyring,
    MissingToken,
    Principal,
    StoreError,
    StoreUnavailable,
    TokenRecord,
    __version__,
    generate,
)
from .asgi import ASGIMiddleware
from .wsgi import WSGIMiddleware

__all__ = [
    "PRINCIPAL_KEY",
    "ASGIMiddleware",
    "AuthError",
    "FollowerStats",
    "InsufficientScope",
    "InvalidToken",
    "Keyring",
    "MissingToken",
    "Principal",
    "StoreError",
    "StoreUnavailable",
    "TokenRecord",
    "WSGIMiddleware",
    "__version__",
    "generate",
    "principal_from",
]
