"""The verify methods' fast path (src/fast.rs) answers exactly as PyO3's method.

Calls of the shapes the methods are made for (one ``str``, ``bytes`` or
``None``, at most ``now=None`` or ``now=<int>``) are answered by a plain C
function; every other call goes to PyO3's method. These tests make both
kinds of call and check the answers, errors and reference counts.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from whatsgate_auth import AuthError, InvalidToken, Keyring, MissingToken, Principal, StoreUnavailable

METHODS = ("verify_access_token", "verify_authorization", "verify")


class Str(str):
    pass


class Bytes(bytes):
    pass


class Int(int):
    """An int subclass: the fast path declines it, so PyO3's method answers."""


def test_names_signatures_and_docs_are_kept() -> None:
    for name in METHODS:
        method = getattr(Keyring, name)
        first = "token" if name == "verify" else "value"
        assert str(inspect.signature(method)) == f"(self, {first}, /, *, now=None)"
        assert method.__name__ == name and method.__qualname__ == f"Keyring.{name}"
        assert method.__doc__ is not None and method.__doc__.startswith("Verifies ")


def test_self_is_checked() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    for name in METHODS:
        with pytest.raises(TypeError):
            getattr(Keyring, name)(object(), token)
    assert Keyring.verify_access_token(keyring, token).account == "acct"


def test_every_value_shape_answers_as_before() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="one")
    bearer = "Bearer " + token
    now = int(time.time())
    shapes: list[Callable[[str], str | bytes]] = [str, Str, str.encode, lambda s: Bytes(s.encode())]
    for make in shapes:
        # The first call of each shape may take the full path (nothing
        # cached yet); the second takes the fast one when it can.
        for _ in range(2):
            assert keyring.verify_access_token(make(token)).token_id == record.id
            assert keyring.verify_authorization(make(bearer)).token_id == record.id
            assert keyring.verify(make(token)).token_id == record.id
            assert keyring.verify_access_token(make(token), now=now).token_id == record.id
            assert keyring.verify(make(token), now=None).token_id == record.id
            with pytest.raises(InvalidToken):
                keyring.verify_access_token(make(token[:-1] + ("A" if token[-1] != "A" else "B")))
            with pytest.raises(InvalidToken):
                keyring.verify(make(" " + token))  # a bare token is not trimmed
            with pytest.raises(MissingToken):
                keyring.verify_access_token(make(" "))
            with pytest.raises(MissingToken):
                keyring.verify_authorization(make(token))  # no Bearer scheme
    with pytest.raises(MissingToken):
        keyring.verify_access_token(None)
    with pytest.raises(TypeError, match="str or bytes"):
        keyring.verify(None)  # type: ignore[arg-type]


def test_call_shapes_are_checked_by_the_full_method() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    calls: list[Callable[[], object]] = [
        lambda: keyring.verify_access_token(),  # type: ignore[call-arg]
        lambda: keyring.verify_access_token(token, token),  # type: ignore[call-arg, arg-type]
        lambda: keyring.verify_access_token(value=token),  # type: ignore[call-arg]
        lambda: keyring.verify_access_token(token, later=1),  # type: ignore[call-arg]
        lambda: keyring.verify_access_token(token, now="soon"),  # type: ignore[arg-type]
        lambda: keyring.verify_access_token(token, now=True),
        lambda: keyring.verify_authorization(bytearray(token.encode())),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(TypeError):
            call()
    # Instants out of range: the full method's ValueError, from both paths.
    for now in (-1, 2**64, 253_402_300_800, float("nan"), float("inf"), -0.5):
        for name in METHODS:
            with pytest.raises(ValueError, match="now must be between 1970-01-01 and 9999-12-31"):
                getattr(keyring, name)(token, now=now)
    with pytest.raises(ValueError, match="naive datetime"):
        keyring.verify(token, now=datetime(2030, 1, 1))
    with pytest.raises(TypeError, match="Keyring.verify_access_token"):
        keyring.verify_access_token(token, later=1)  # type: ignore[call-arg]


def test_now_in_every_form_gives_the_same_answer() -> None:
    """An int ``now`` takes the fast path; a float or an aware datetime takes PyO3's
    method: the instant is the same whole second either way (floats floored)."""
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="rolling")
    grace = int(time.time()) + 3600
    new_token, _ = keyring.regenerate(record.id, grace_until=grace)
    utc_grace = datetime.fromtimestamp(grace, timezone.utc)
    before = [grace - 1, float(grace - 1), grace - 0.001, utc_grace - timedelta(microseconds=1), Int(grace - 1)]
    at_or_after = [grace, float(grace), grace + 0.999, utc_grace, utc_grace.astimezone(timezone(timedelta(hours=-5)))]
    for name, value in (("verify_access_token", token), ("verify", token), ("verify_authorization", "Bearer " + token)):
        method = getattr(keyring, name)
        for now in before:
            assert method(value, now=now).token_id == record.id, (name, now)
        for now in at_or_after:
            with pytest.raises(InvalidToken):
                method(value, now=now)
        assert method(value.replace(token, new_token), now=utc_grace).token_id == record.id


def test_the_same_principal_object_is_returned_and_counted() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="one")
    first = keyring.verify_access_token(token)
    assert isinstance(first, Principal)
    assert keyring.verify_access_token(token) is first
    assert keyring.verify(token) is first
    assert keyring.verify_authorization("Bearer " + token) is first
    refs = sys.getrefcount(first), sys.getrefcount(token), sys.getrefcount(keyring)
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    for _ in range(1000):
        keyring.verify_access_token(token)
        keyring.verify(token.encode())
        try:
            keyring.verify_access_token(bad)
        except AuthError:
            pass
    assert (sys.getrefcount(first), sys.getrefcount(token), sys.getrefcount(keyring)) == refs
    keyring.delete(record.id)
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token)


def test_an_unavailable_keyring_gets_the_same_answers_on_both_paths() -> None:
    """Calls the fast path answers and calls it hands to PyO3's method (``now`` an
    ``int`` subclass) raise the same StoreUnavailable, with the same response."""
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="one")
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    now = int(time.time())
    values = {
        "verify_access_token": (token, bad),
        "verify_authorization": ("Bearer " + token, "Bearer " + bad),
        "verify": (token, bad),
    }
    shapes: list[Callable[[str], str | bytes]] = [str, Str, str.encode, lambda s: Bytes(s.encode())]

    def answers() -> list[tuple[str, int, bytes, list[tuple[str, str]]]]:
        got: list[tuple[str, int, bytes, list[tuple[str, str]]]] = []
        for name, presented in values.items():
            method = getattr(keyring, name)
            for value in presented:
                for make in shapes:
                    for kwargs in ({}, {"now": None}, {"now": now}, {"now": Int(now)}):
                        try:
                            result = method(make(value), **kwargs)
                            got.append((name, 200, result.token_id.encode(), []))
                        except AuthError as error:
                            got.append((type(error).__name__, error.status_code, error.body, error.headers))
        return got

    available = answers()
    assert {(a[0], a[1]) for a in available} == {
        ("verify_access_token", 200),
        ("verify_authorization", 200),
        ("verify", 200),
        ("InvalidToken", 403),
        ("InvalidToken", 401),
    }
    keyring.set_available(False)
    unavailable = answers()
    assert len(unavailable) == len(available) == 3 * 2 * 4 * 4
    expected = (
        "StoreUnavailable",
        503,
        b'{"message": "the token store cannot be reached; retry later"}',
        [("Content-Type", "application/json"), ("Retry-After", "1")],
    )
    assert all(answer == expected for answer in unavailable), unavailable
    with pytest.raises(MissingToken):
        keyring.verify_access_token(None)
    with pytest.raises(MissingToken):
        keyring.verify_authorization(None, now=Int(now))
    with pytest.raises(TypeError, match="str or bytes"):
        keyring.verify(None)  # type: ignore[arg-type]
    keyring.set_available(True)
    assert answers() == available
    assert keyring.verify(token).token_id == record.id


def test_store_unavailable_leaks_no_reference() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="one")
    keyring.set_available(False)
    for _ in range(10):
        with pytest.raises(StoreUnavailable):
            keyring.verify_access_token(token)
    refs = sys.getrefcount(token), sys.getrefcount(keyring)
    for _ in range(1000):
        try:
            keyring.verify_access_token(token)
        except StoreUnavailable:
            pass
        try:
            keyring.verify(token)
        except StoreUnavailable:
            pass
    assert (sys.getrefcount(token), sys.getrefcount(keyring)) == refs
