"""Shared fixtures: the project's test vectors and small helpers."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from whatsgate_auth import Keyring, Principal, TokenRecord
from whatsgate_auth.asgi import Message
from whatsgate_auth.wsgi import Environ

TESTDATA = Path(os.environ.get("WHATSGATE_TESTDATA", Path(__file__).resolve().parents[3] / "testdata"))


def load_json(name: str) -> dict[str, Any]:
    with open(TESTDATA / name, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="session")
def token_vectors() -> dict[str, Any]:
    return load_json("token-vectors.json")


@pytest.fixture(scope="session")
def header_cases() -> dict[str, Any]:
    return load_json("header-cases.json")


def case_keyring(corpus: dict[str, Any], *, shift_to_now: bool = False) -> Keyring:
    """A keyring of the corpus records; with ``shift_to_now`` every instant is moved
    so that the corpus's ``now`` is the real clock (for code that reads the clock).
    An expiry still ahead of ``now`` moves an hour further, so that a slow run never
    crosses it (the one-second margin is the in-process runners' to check)."""
    now = int(corpus["now"])
    shift = int(time.time()) - now if shift_to_now else 0
    keyring = Keyring()
    for raw in corpus["records"]:
        record = dict(raw)
        if shift and "rollover" in record:
            record["rollover"] = dict(record["rollover"], until=record["rollover"]["until"] + shift)
        if shift and "expires_at" in record:
            ahead = 3600 if record["expires_at"] > now else 0
            record["expires_at"] += shift + ahead
        keyring.add(TokenRecord.from_dict(record))
    return keyring


def case_principal(p: Principal) -> dict[str, Any]:
    """A principal as the corpus writes it: ``scopes`` only for a restricted token."""
    out: dict[str, Any] = {"account": p.account, "token_id": p.token_id, "token_name": p.token_name}
    if p.scopes is not None:
        out["scopes"] = list(p.scopes)
    return out


def case_path(case: dict[str, Any], prefix: str = "") -> str:
    """The request path of a case: under ``/need/SCOPE`` when it needs a scope (see ``case_scope_rules``)."""
    scope = case.get("required_scope")
    return f"{prefix}/need/{scope}" if scope else f"{prefix}/x"


def case_scope_rules(corpus: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Middleware scope rules under which ``case_path`` needs each case's ``required_scope``."""
    needed = {c["required_scope"] for c in corpus["cases"] if c.get("required_scope")}
    return {f"{prefix}/need/{scope}": scope for scope in sorted(needed)}


def case_headers(case: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), bytes.fromhex(value)) for name, value in case["headers"]]


@pytest.fixture()
def keyring() -> Keyring:
    return Keyring()


def run_asgi(app: Any, scope: dict[str, Any], incoming: list[Message] | None = None) -> list[Message]:
    """Runs one ASGI call in-process; returns the messages the app sent."""
    sent: list[Message] = []
    queue = list(incoming or [{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> Message:
        return queue.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def call_wsgi(app: Any, environ: Environ) -> tuple[int, list[tuple[str, str]], bytes]:
    """Runs one WSGI call in-process; returns the status code, headers and body."""
    got: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.append((int(status.split()[0]), headers))
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return got[0][0], got[0][1], body
