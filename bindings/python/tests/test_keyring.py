"""The Python API: lifecycle, records, errors, and that no secret leaks."""

from __future__ import annotations

import copy
import json
import pickle
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import whatsgate_auth
from whatsgate_auth import (
    AuthError,
    InvalidToken,
    Keyring,
    MissingToken,
    Principal,
    StoreUnavailable,
    TokenRecord,
    generate,
)

REST_MISSING = b'{"message": "an Access-Token is required"}'
REST_INVALID = b'{"message": "invalid Access-Token"}'
MCP_MISSING = b'{"message": "a Bearer token is required"}'
MCP_INVALID = b'{"message": "invalid Bearer token"}'
UNAVAILABLE = b'{"message": "the token store cannot be reached; retry later"}'
UNAVAILABLE_HEADERS = [("Content-Type", "application/json"), ("Retry-After", "1")]


def secret_part(token: str) -> str:
    """The part of a token that must never appear in a repr or message."""
    assert token.startswith("wgat_") and len(token) == 55
    return token[5:]


def test_version_and_public_names() -> None:
    assert whatsgate_auth.__version__ == "0.1.0"
    # The suite tests an installed wheel, not the source tree.
    assert "site-packages" in Path(whatsgate_auth._native.__file__).parts
    for name in whatsgate_auth.__all__:
        assert hasattr(whatsgate_auth, name), name
    assert issubclass(MissingToken, AuthError) and issubclass(InvalidToken, AuthError)
    assert issubclass(StoreUnavailable, AuthError)
    assert issubclass(AuthError, Exception)
    assert not issubclass(MissingToken, InvalidToken)
    # A client must not read a 503 as "your token is bad": not an InvalidToken.
    assert not issubclass(StoreUnavailable, (InvalidToken, MissingToken))
    assert "StoreUnavailable" in whatsgate_auth.__all__
    assert whatsgate_auth.StoreUnavailable is whatsgate_auth._native.StoreUnavailable


def test_generate_returns_a_token_and_its_record_only() -> None:
    # The core reads the coarse clock (a tick behind): a second's margin.
    before = int(time.time()) - 1
    token, record = generate(account="acct_42", name="Production API")
    assert token.startswith("wgat_") and len(token) == 55
    assert (record.name, record.account) == ("Production API", "acct_42")
    assert record.created_at.tzinfo is timezone.utc
    assert before <= record.created_at.timestamp() <= time.time()
    assert record.last_used_at is None and record.rollover_until is None
    assert len(record.id) == 16 and int(record.id, 16) >= 0
    keyring = Keyring()
    with pytest.raises(InvalidToken):  # not in any keyring yet
        keyring.verify_access_token(token)
    keyring.add(record)
    principal = keyring.verify_access_token(token)
    assert principal == Principal(account="acct_42", token_id=record.id, token_name="Production API")
    # Two tokens never share an id or a secret.
    token2, record2 = generate(account="acct_42", name="Production API")
    assert token2 != token and record2.id != record.id


def test_names_and_accounts_are_checked() -> None:
    with pytest.raises(ValueError, match="name"):
        generate(account="acct", name="")
    with pytest.raises(ValueError, match="name"):
        generate(account="acct", name="x" * 65)
    with pytest.raises(ValueError, match="name"):
        generate(account="acct", name="bad\nname")
    with pytest.raises(ValueError, match="account"):
        generate(account=" acct", name="ok")
    with pytest.raises(ValueError, match="account"):
        generate(account="", name="ok")
    token, record = generate(account="acct", name="  Trimmed  ")
    assert record.name == "Trimmed"
    assert generate(account="a" * 128, name="x" * 64)[1].name == "x" * 64


def test_issue_delete_regenerate(keyring: Keyring) -> None:
    token, record = keyring.create(account="acct_1", name="Production API")
    assert len(keyring) == 1
    assert keyring.verify_access_token(token).token_name == "Production API"
    with pytest.raises(ValueError, match="already has a token named"):
        keyring.create(account="acct_1", name="Production API")
    other_token, _ = keyring.create(account="acct_2", name="Production API")  # same name, other account

    new_token, new_record = keyring.regenerate(record.id)
    assert (new_record.id, new_record.name, new_record.account) == (record.id, record.name, record.account)
    assert new_token != token
    assert keyring.verify_access_token(new_token).token_id == record.id
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token)  # refused at once without a grace period

    deleted = keyring.delete(record.id)
    assert deleted is not None and deleted.id == record.id
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(new_token)
    with pytest.raises(KeyError):
        keyring.delete(record.id)
    with pytest.raises(KeyError):
        keyring.regenerate(record.id)
    with pytest.raises(ValueError, match="16 hexadecimal digits"):
        keyring.delete("not-an-id")
    assert keyring.verify_access_token(other_token).account == "acct_2"
    assert keyring.get(record.id) is None
    # The name is free again after deletion.
    keyring.create(account="acct_1", name="Production API")


def test_regenerate_with_a_grace_period(keyring: Keyring) -> None:
    token, record = keyring.create(account="acct", name="Rolling")
    now = int(time.time())
    new_token, new_record = keyring.regenerate(record.id, grace_until=now + 3600)
    assert new_record.rollover_until == datetime.fromtimestamp(now + 3600, timezone.utc)
    assert new_record.rollover_until is not None and new_record.rollover_until.tzinfo is timezone.utc
    assert keyring.verify_access_token(token).token_id == record.id
    assert keyring.verify_access_token(new_token).token_id == record.id
    # The old token stops at the end of the grace period.
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token, now=now + 3600)
    assert keyring.verify_access_token(new_token, now=now + 3600).token_id == record.id
    # A grace period that ends in the past is refused (the lifetime policy), changing nothing.
    with pytest.raises(ValueError, match="^a grace period cannot be negative$"):
        keyring.regenerate(record.id, grace_until=now - 3600)
    assert keyring.verify_access_token(new_token).token_id == record.id
    # Without one, the old secret stops at once.
    newest, newest_record = keyring.regenerate(record.id)
    assert newest_record.rollover_until is None
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(new_token)


def test_duplicate_records_are_refused(keyring: Keyring) -> None:
    _, record = generate(account="acct", name="A")
    keyring.add(record)
    with pytest.raises(ValueError, match="already exists"):
        keyring.add(record)
    _, same_name = generate(account="acct", name="A")
    with pytest.raises(ValueError, match="already has a token named"):
        keyring.add(same_name)
    with pytest.raises(TypeError):
        keyring.add({"id": record.id})  # type: ignore[arg-type]


def test_records_listing_and_filter(keyring: Keyring) -> None:
    _, b1 = keyring.create(account="acct_b", name="one")
    _, a1 = keyring.create(account="acct_a", name="one")
    _, a2 = keyring.create(account="acct_a", name="two")
    all_records = keyring.list()
    assert [r.account for r in all_records] == ["acct_a", "acct_a", "acct_b"]
    assert {r.id for r in keyring.list("acct_a")} == {a1.id, a2.id}
    assert keyring.list(account="acct_b") == [b1]
    assert keyring.list("nobody") == []
    assert keyring.get(a1.id) == a1


def test_sync_follows_a_database(keyring: Keyring) -> None:
    t1, r1 = keyring.create(account="acct", name="one")
    t2, r2 = generate(account="acct", name="two")
    keyring.sync([r2])
    assert [r.id for r in keyring.list()] == [r2.id]
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(t1)
    assert keyring.verify_access_token(t2).token_id == r2.id
    _, clash = generate(account="acct", name="two")
    with pytest.raises(ValueError):
        keyring.sync([r2, clash])
    assert [r.id for r in keyring.list()] == [r2.id]  # unchanged


def test_last_use_is_batched(keyring: Keyring) -> None:
    token, record = keyring.create(account="acct", name="one")
    assert keyring.take_last_used() == []
    keyring.verify_access_token(token, now=2_000_000_000)
    at = datetime(2033, 5, 18, 3, 33, 20, tzinfo=timezone.utc)
    assert at.timestamp() == 2_000_000_000
    assert keyring.take_last_used() == [(record.id, at)]
    assert keyring.take_last_used() == []
    record_now = keyring.get(record.id)
    assert record_now is not None and record_now.last_used_at == at


def test_keyring_from_records() -> None:
    t1, r1 = generate(account="acct", name="one")
    t2, r2 = generate(account="acct", name="two")
    keyring = Keyring([r1, r2])
    assert len(keyring) == 2 and repr(keyring) == "Keyring(tokens=2)"
    assert keyring.verify_access_token(t2).token_id == r2.id


def test_value_types() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="one")
    assert keyring.verify_access_token(token.encode()).token_id == record.id
    assert keyring.verify_access_token("  " + token + "\t").token_id == record.id
    for missing in (None, "", b"", " \t "):
        with pytest.raises(MissingToken):
            keyring.verify_access_token(missing)
    with pytest.raises(InvalidToken):
        keyring.verify_access_token("\ud800" + token)  # lone surrogate: refused, not a crash
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token + "é")
    with pytest.raises(TypeError, match="str or bytes"):
        keyring.verify_access_token(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keyring.verify_access_token(bytearray(token.encode()))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        keyring.authenticate([("access-token",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        keyring.authenticate(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="profile must be .*, not 'basic'"):
        keyring.authenticate([], "basic")  # type: ignore[arg-type]
    # Every pair is read, the other headers too (the core picks the token header).
    with pytest.raises(TypeError, match="str or bytes"):
        keyring.authenticate([("x-count", 5), ("access-token", token)])  # type: ignore[list-item]
    assert keyring.authenticate([("X-Other", b"1"), ["ACCESS-TOKEN", token]]).token_id == record.id


def test_exceptions_carry_the_exact_response() -> None:
    keyring = Keyring()
    cases: list[tuple[Any, type[AuthError], int, bytes, list[tuple[str, str]]]] = [
        (lambda: keyring.verify_access_token(None), MissingToken, 403, REST_MISSING, []),
        (lambda: keyring.verify_access_token("nope"), InvalidToken, 403, REST_INVALID, []),
        (
            lambda: keyring.verify_authorization(None),
            MissingToken,
            401,
            MCP_MISSING,
            [("WWW-Authenticate", 'Bearer realm="whatsgate"')],
        ),
        (
            lambda: keyring.verify_authorization("Bearer nope"),
            InvalidToken,
            401,
            MCP_INVALID,
            [("WWW-Authenticate", 'Bearer realm="whatsgate", error="invalid_token"')],
        ),
        (
            lambda: keyring.authenticate(
                [], "mcp", resource_metadata="https://api.example/.well-known/oauth-protected-resource"
            ),
            MissingToken,
            401,
            MCP_MISSING,
            [
                (
                    "WWW-Authenticate",
                    'Bearer realm="whatsgate", '
                    'resource_metadata="https://api.example/.well-known/oauth-protected-resource"',
                )
            ],
        ),
    ]
    for run, kind, status, body, extra in cases:
        with pytest.raises(kind) as caught:
            run()
        assert caught.value.status_code == status
        assert caught.value.body == body
        assert json.loads(body)["message"]
        assert caught.value.headers == [("Content-Type", "application/json"), *extra]
    with pytest.raises(ValueError, match="resource_metadata URL .*, not 'bad\"url'"):
        keyring.authenticate([], "mcp", resource_metadata='bad"url')


def check_unavailable(error: AuthError) -> None:
    assert type(error) is StoreUnavailable
    assert error.status_code == 503
    assert error.body == UNAVAILABLE
    assert json.loads(error.body) == {"message": "the token store cannot be reached; retry later"}
    assert error.headers == UNAVAILABLE_HEADERS  # no WWW-Authenticate, in either profile


def test_an_unavailable_keyring_answers_503_to_every_token() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct_42", name="Production API")
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    metadata = "https://api.example/.well-known/oauth-protected-resource"
    assert keyring.is_available is True
    # Positive control: every call below is accepted while the keyring is current.
    assert keyring.authenticate([("Access-Token", token)]).token_id == record.id
    assert keyring.verify(token).token_id == record.id
    assert [token_id for token_id, _ in keyring.take_last_used()] == [record.id]

    keyring.set_available(False)
    assert keyring.is_available is False
    calls: list[Any] = [
        lambda t: keyring.authenticate([("Access-Token", t)]),
        lambda t: keyring.authenticate([("Access-Token", t)], "rest"),
        lambda t: keyring.authenticate([(b"authorization", b"Bearer " + t.encode())], "mcp"),
        lambda t: keyring.authenticate([("Authorization", "Bearer " + t)], "mcp", resource_metadata=metadata),
        lambda t: keyring.verify_access_token(t),
        lambda t: keyring.verify_access_token(t.encode(), now=2_000_000_000),
        lambda t: keyring.verify_authorization("Bearer " + t),
        lambda t: keyring.verify(t),
        lambda t: keyring.verify(t.encode()),
    ]
    for call in calls:
        for presented in (token, bad, "x"):
            with pytest.raises(StoreUnavailable) as caught:
                call(presented)
            check_unavailable(caught.value)
    with pytest.raises(StoreUnavailable):
        keyring.verify("")  # a bare token is always "presented"

    # No token: the seed's answer, which needs no store.
    with pytest.raises(MissingToken) as missing:
        keyring.authenticate([])
    assert (missing.value.status_code, missing.value.body) == (403, REST_MISSING)
    with pytest.raises(MissingToken) as missing:
        keyring.authenticate([("Authorization", "Basic abc")], "mcp")
    assert (missing.value.status_code, missing.value.body) == (401, MCP_MISSING)
    for value in (None, "", " \t"):
        with pytest.raises(MissingToken):
            keyring.verify_access_token(value)
    with pytest.raises(MissingToken):
        keyring.verify_authorization(None)
    # A header malformed whatever the store holds is invalid, as in the core.
    with pytest.raises(InvalidToken):
        keyring.authenticate([("Access-Token", token), ("access-token", token)])
    with pytest.raises(InvalidToken):
        keyring.verify_authorization("Bearer")

    # Lifecycle calls still work while unavailable.
    other, other_record = keyring.create(account="acct_42", name="second")
    assert keyring.get(other_record.id) == other_record and len(keyring) == 2
    keyring.delete(other_record.id)
    keyring.add(other_record)
    keyring.sync(keyring.list())
    with pytest.raises(StoreUnavailable):
        keyring.verify_access_token(other)
    assert keyring.take_last_used() == []  # nothing was accepted

    # Recovery: every usual answer is back.
    keyring.set_available(True)
    assert keyring.is_available is True
    assert keyring.authenticate([("Access-Token", token)]).token_id == record.id
    assert keyring.authenticate([("Authorization", "Bearer " + token)], "mcp").token_id == record.id
    assert keyring.verify_access_token(other).token_id == other_record.id
    assert keyring.verify(token).token_id == record.id
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(bad)
    with pytest.raises(InvalidToken):
        keyring.verify(bad)


def test_set_available_takes_a_bool_and_is_available_is_read_only() -> None:
    keyring = Keyring()
    for wrong in (0, 1, None, "false"):
        with pytest.raises(TypeError):
            keyring.set_available(wrong)  # type: ignore[arg-type]
    assert keyring.is_available is True
    with pytest.raises(AttributeError):
        keyring.is_available = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        keyring.set_available(available=False)  # type: ignore[call-arg]
    keyring.set_available(False)
    keyring.set_available(False)
    assert keyring.is_available is False
    assert Keyring().is_available is True  # per keyring


def test_no_secret_in_any_repr_str_or_message() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct_42", name="Production API")
    secret = secret_part(token)
    principal = keyring.verify_access_token(token)
    texts = [repr(record), str(record), repr(principal), str(principal), repr(keyring), str(record.to_dict())]
    wrong = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for value in (wrong, token + "x", "Bearer " + token):
        for method in (keyring.verify_access_token, keyring.verify_authorization, keyring.verify):
            try:
                method(value)
            except AuthError as error:
                texts += [repr(error), str(error), repr(error.args), repr(error.headers), repr(error.body)]
    keyring.set_available(False)
    for method in (keyring.verify_access_token, keyring.verify):
        try:
            method(token)
        except StoreUnavailable as error:
            texts += [repr(error), str(error), repr(error.args), repr(error.headers), repr(error.body)]
    keyring.set_available(True)
    keyring.delete(record.id)
    try:
        keyring.verify_access_token(token)
    except AuthError as error:
        texts += [repr(error), str(error)]
    assert len(texts) > 20
    for text in texts:
        assert secret not in text and secret[:20] not in text, text
    assert repr(principal) == f"Principal(account='acct_42', token_id='{record.id}', token_name='Production API')"
    assert repr(record).startswith(f"TokenRecord(id='{record.id}', name='Production API', account='acct_42'")
    # Positive control: the check above does see a secret when one is there.
    assert secret in token


def test_objects_are_frozen() -> None:
    _, record = generate(account="acct", name="one")
    principal = Principal(account="acct", token_id=record.id, token_name="one")
    with pytest.raises(AttributeError):
        record.name = "two"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        principal.account = "other"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        record.extra = 1  # type: ignore[attr-defined]
    assert hash(principal) == hash(Principal(account="acct", token_id=record.id, token_name="one"))
    assert principal != Principal(account="acct", token_id=record.id, token_name="two")
    assert principal != "acct"
    assert {record: 1}[copy.copy(record)] == 1
    assert pickle.loads(pickle.dumps(principal)) == principal


def test_principal_constructor_checks_its_fields() -> None:
    with pytest.raises(ValueError):
        Principal(account="acct", token_id="xyz", token_name="name")
    with pytest.raises(ValueError):
        Principal(account="", token_id="0123456789abcdef", token_name="name")
    assert Principal(account="acct", token_id="0123456789ABCDEF", token_name="name").token_id == "0123456789abcdef"


def test_record_dicts_are_json_safe_and_strict() -> None:
    _, record = generate(account="acct_42", name="Production API")
    d = record.to_dict()
    assert set(d) == {"format", "id", "account", "name", "verifier", "created_at", "last_used_at"}
    assert d["format"] == 1
    again = TokenRecord.from_dict(json.loads(json.dumps(d)))
    assert again == record and again.to_dict() == d
    assert pickle.loads(pickle.dumps(record)) == record
    keyring = Keyring()
    token, rec = keyring.create(account="acct", name="rolled")
    _, rolled = keyring.regenerate(rec.id, grace_until=int(time.time()) + 60)
    rd = rolled.to_dict()
    assert set(rd["rollover"]) == {"verifier", "until"}
    assert TokenRecord.from_dict(json.loads(json.dumps(rd))) == rolled

    bad: list[dict[str, Any]] = [
        {**d, "format": 3},
        {**d, "format": 0},
        # Format 1 cannot carry the fields of format 2 (an older reader would ignore them).
        {**d, "scopes": ["messages:send"]},
        {**d, "disabled": True},
        {**d, "expires_at": 1},
        {**d, "description": "x"},
        {**d, "format": 2, "scopes": ["Messages:send"]},
        {**d, "format": 2, "scopes": "messages:send"},
        {**d, "format": 2, "scopes": [f"r{i}:read" for i in range(65)]},
        {**d, "format": 2, "description": "x" * 257},
        {**d, "format": 2, "description": ""},
        {**d, "format": 2, "expires_at": 253_402_300_800},
        {**d, "format": 2, "disabled": "yes"},
        {**d, "verifier": "00"},
        {**d, "verifier": "zz" * 32},
        {**d, "id": "123"},
        {**d, "name": ""},
        {**d, "account": " acct"},
        {**d, "created_at": -1},
        {**d, "created_at": "yesterday"},
        {k: v for k, v in d.items() if k != "verifier"},
        {**d, "rollover": {"verifier": "00", "until": 1}},
    ]
    for b in bad:
        with pytest.raises(ValueError, match="not a valid token record"):
            TokenRecord.from_dict(b)
    with pytest.raises(TypeError):
        TokenRecord.from_dict([("id", "x")])  # type: ignore[arg-type]


def test_a_changed_verifier_refuses_the_token() -> None:
    """Positive control for verification: the stored verifier is what decides."""
    token, record = generate(account="acct", name="one")
    d = record.to_dict()
    flipped = dict(d, verifier=("0" if d["verifier"][0] != "0" else "1") + d["verifier"][1:])
    keyring = Keyring([TokenRecord.from_dict(flipped)])
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token)
    keyring.sync([record])
    assert keyring.verify_access_token(token).token_id == record.id


def test_principal_always_reflects_the_current_record() -> None:
    """Principal objects are reused between verifications; a changed record shows at once."""
    keyring = Keyring()
    token, record = keyring.create(account="acct_1", name="Old name")
    first = keyring.verify_access_token(token)
    assert keyring.verify_access_token(token) == first
    renamed = TokenRecord.from_dict(dict(record.to_dict(), name="New name", account="acct_2"))
    keyring.sync([renamed])
    p = keyring.verify_access_token(token)
    assert (p.account, p.token_name) == ("acct_2", "New name")
    assert first.token_name == "Old name"  # the earlier object is unchanged
    keyring.delete(record.id)
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token)
    keyring.add(record)
    assert keyring.verify_access_token(token) == first
    other = Keyring([renamed])
    assert other.verify_access_token(token).token_name == "New name"
    assert keyring.verify_access_token(token).token_name == "Old name"


def test_the_readme_example_runs() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "Keyring()" in block
    exec(compile(block, "README.md", "exec"), {})
