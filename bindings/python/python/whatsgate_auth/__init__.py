"""WhatsGate API token authentication, verified by the Rust core.

>>> from whatsgate_auth import Keyring
>>> keyring = Keyring()
>>> token, record = keyring.issue("Production API", "acct_42")
>>> keyring.verify_access_token(token).account
'acct_42'

``generate`` makes a token and its record without a keyring; records go to
any database as ``record.to_dict()`` and come back with
``TokenRecord.from_dict``. ``ASGIMiddleware`` and ``WSGIMiddleware`` guard
the paths of a web app.
"""

from ._common import PRINCIPAL_KEY, principal_from
from ._native import (
    AuthError,
    InvalidToken,
    Keyring,
    MissingToken,
    Principal,
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
    "InvalidToken",
    "Keyring",
    "MissingToken",
    "Principal",
    "StoreUnavailable",
    "TokenRecord",
    "WSGIMiddleware",
    "__version__",
    "generate",
    "principal_from",
]
