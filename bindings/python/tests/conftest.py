"""Shared fixtures: the project's test vectors and small helpers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from whatsgate_auth import Keyring, TokenRecord

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
    so that the corpus's ``now`` is the real clock (for code that reads the clock)."""
    shift = int(time.time()) - int(corpus["now"]) if shift_to_now else 0
    keyring = Keyring()
    for raw in corpus["records"]:
        record = dict(raw)
        if shift and "rollover" in record:
            record["rollover"] = dict(record["rollover"], until=record["rollover"]["until"] + shift)
        keyring.add(TokenRecord.from_dict(record))
    return keyring


def case_headers(case: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), bytes.fromhex(value)) for name, value in case["headers"]]


@pytest.fixture()
def keyring() -> Keyring:
    return Keyring()
