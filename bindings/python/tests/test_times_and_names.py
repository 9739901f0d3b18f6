"""Issue 15: instants as aware datetimes both ways, one vocabulary (create, keywords
only, deprecated aliases), and TokenRecord.from_dict refusing unknown keys."""

from __future__ import annotations

import json
import math
import pickle
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from whatsgate_auth import InvalidToken, Keyring, Principal, TokenRecord, generate

UTC = timezone.utc
EST = timezone(timedelta(hours=-5))


def test_record_instants_are_aware_utc_datetimes() -> None:
    keyring = Keyring()
    before = datetime.now(UTC).replace(microsecond=0)
    token, record = keyring.create(account="acct", name="one")
    assert isinstance(record.created_at, datetime) and record.created_at.tzinfo is UTC
    assert before <= record.created_at <= datetime.now(UTC)
    assert record.last_used_at is None and record.rollover_until is None
    keyring.verify_access_token(token, now=1_800_000_000)
    used = keyring.get(record.id)
    assert used is not None and used.last_used_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert used.last_used_at.tzinfo is UTC
    # The wire form keeps ints (shared with Rust, C and the store).
    d = used.to_dict()
    assert d["last_used_at"] == 1_800_000_000 and isinstance(d["created_at"], int)
    assert repr(used).endswith("last_used_at='2027-01-15T08:00:00+00:00')")


def test_grace_until_takes_datetimes_ints_and_floats() -> None:
    keyring = Keyring()
    _, record = keyring.create(account="acct", name="rolling")
    now = int(time.time())
    target = datetime.fromtimestamp(now + 3600, UTC)
    for given in (now + 3600, now + 3600.0, now + 3600.999, target, target.astimezone(EST), target + timedelta(microseconds=999_999)):
        _, rolled = keyring.regenerate(record.id, grace_until=given)
        assert rolled.rollover_until == target, given
    # Floats are floored, not rounded: positive control with a value that rounds up.
    _, rolled = keyring.regenerate(record.id, grace_until=now + 3600.6)
    assert rolled.rollover_until == target != datetime.fromtimestamp(round(now + 3600.6), UTC)
    assert math.floor(now + 3600.6) == now + 3600
    # The README's call: a float from time.time() (it used to raise TypeError).
    old, rolled = keyring.regenerate(record.id)
    new, rolled = keyring.regenerate(record.id, grace_until=time.time() + 3600)
    assert keyring.verify_access_token(old).token_id == record.id
    assert keyring.verify_access_token(new).token_id == record.id
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(old, now=time.time() + 3601)


def test_bad_instants_are_refused_with_a_clear_error() -> None:
    keyring = Keyring()
    _, record = keyring.create(account="acct", name="rolling")
    with pytest.raises(ValueError, match=r"grace_until is a naive datetime \(no tzinfo\)"):
        keyring.regenerate(record.id, grace_until=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        keyring.verify(f"wgat_{'A' * 50}", now=datetime.now())
    for wrong_type in ("2030-01-01", True, timedelta(hours=1), b"1"):
        with pytest.raises(TypeError, match="grace_until is an aware datetime or Unix seconds"):
            keyring.regenerate(record.id, grace_until=wrong_type)  # type: ignore[arg-type]
    for out_of_range in (-1, -0.1, float("nan"), float("-inf"), 10**30, datetime(1969, 12, 31, tzinfo=UTC)):
        with pytest.raises(ValueError, match="grace_until must be between 1970-01-01 and 9999-12-31"):
            keyring.regenerate(record.id, grace_until=out_of_range)
    # Nothing changed: every call above was refused before the keyring was touched.
    got = keyring.get(record.id)
    assert got is not None and got.rollover_until is None
    assert got.to_dict()["verifier"] == record.to_dict()["verifier"]


def test_an_attached_keyring_takes_the_same_instants(tmp_path: Path) -> None:
    with Keyring.open(f"sqlite:{tmp_path / 'tokens.db'}", create=True) as keyring:
        _, record = keyring.create(account="acct", name="stored")
        when = datetime.now(EST) + timedelta(hours=2)
        _, rolled = keyring.regenerate(record.id, grace_until=when)
        expected = datetime.fromtimestamp(math.floor(when.timestamp()), UTC)
        assert rolled.rollover_until == expected
        (stored,) = keyring.list()
        assert stored.rollover_until == expected and stored.created_at.tzinfo is UTC


def test_create_takes_keywords_only() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct_1", name="Production API")
    assert (record.account, record.name) == ("acct_1", "Production API")
    with pytest.raises(TypeError):
        keyring.create("acct_1", "Other")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        keyring.create(account="acct_1")  # type: ignore[call-arg]


def test_issue_is_a_deprecated_alias_in_its_old_order() -> None:
    keyring = Keyring()
    with pytest.warns(DeprecationWarning, match=r"Keyring.create\(account=..., name=...\)") as caught:
        token, record = keyring.issue("Production API", "acct_1")  # type: ignore[deprecated]
    assert caught[0].filename == __file__  # points at the caller's line
    assert (record.name, record.account) == ("Production API", "acct_1")
    assert keyring.verify_access_token(token).account == "acct_1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keyring.create(account="acct_2", name="No warning")  # positive control: create is silent
        with pytest.raises(DeprecationWarning):
            keyring.issue("Again", "acct_1")  # type: ignore[deprecated]


def test_grace_until_is_a_deprecated_alias_of_rollover_until() -> None:
    keyring = Keyring()
    _, plain = keyring.create(account="acct_1", name="plain")
    until_secs = int(time.time()) + 3600
    _, rolled = keyring.regenerate(plain.id, grace_until=until_secs)
    for record, until in [(plain, None), (rolled, datetime.fromtimestamp(until_secs, UTC))]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # rollover_until itself is silent
            assert record.rollover_until == until
        with pytest.warns(DeprecationWarning, match=r"read TokenRecord\.rollover_until") as caught:
            old = record.grace_until  # type: ignore[deprecated]
        assert caught[0].filename == __file__  # points at the caller's line
        assert old == record.rollover_until
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeprecationWarning):  # positive control: the filter catches the alias
            _ = rolled.grace_until  # type: ignore[deprecated]


def test_records_is_a_deprecated_alias_of_list() -> None:
    keyring = Keyring()
    _, a = keyring.create(account="acct_1", name="a")
    keyring.create(account="acct_2", name="b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # list itself is silent
        assert [r.id for r in keyring.list("acct_1")] == [a.id]
        everything = keyring.list()
    with pytest.warns(DeprecationWarning, match=r"call Keyring\.list\(account\)") as caught:
        old = keyring.records("acct_1")  # type: ignore[deprecated]
    assert caught[0].filename == __file__  # points at the caller's line
    assert old == keyring.list("acct_1")
    with pytest.warns(DeprecationWarning):
        assert keyring.records() == everything  # type: ignore[deprecated]


def test_generate_takes_keywords_and_warns_for_the_old_order() -> None:
    token, record = generate(account="acct_1", name="Production API")
    assert (record.account, record.name) == ("acct_1", "Production API")
    with pytest.warns(DeprecationWarning, match=r"generate\(account=..., name=...\)"):
        _, old = generate("Production API", "acct_1")  # type: ignore[call-arg]
    assert (old.name, old.account) == ("Production API", "acct_1")
    bad_calls: list[Any] = [
        lambda: generate("Production API", account="acct_1"),  # type: ignore[call-arg, misc]
        lambda: generate(account="acct_1"),  # type: ignore[call-arg]
        lambda: generate("only one"),  # type: ignore[call-arg]
        lambda: generate("a", "b", "c"),  # type: ignore[call-arg]
    ]
    for call in bad_calls:
        with pytest.raises(TypeError, match="generate"):
            call()


def test_principal_takes_keywords_and_warns_for_the_old_order() -> None:
    built = Principal(account="acct", token_id="0123456789abcdef", token_name="Production API")
    assert (built.account, built.token_name) == ("acct", "Production API")
    with pytest.warns(DeprecationWarning, match=r"Principal\(account=..., token_id=..., token_name=...\)"):
        old = Principal("acct", "0123456789abcdef", "Production API")  # type: ignore[call-arg]
    assert old == built
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pickling uses the keyword form: no warning
        assert pickle.loads(pickle.dumps(built)) == built
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            assert pickle.loads(pickle.dumps(built, protocol)) == built
    bad_calls: list[Any] = [
        lambda: Principal("acct", token_id="0123456789abcdef", token_name="n"),  # type: ignore[call-arg]
        lambda: Principal(account="acct", token_id="0123456789abcdef"),  # type: ignore[call-arg]
        lambda: Principal("acct", "0123456789abcdef"),  # type: ignore[call-arg]
    ]
    for call in bad_calls:
        with pytest.raises(TypeError, match="Principal"):
            call()


def full_record() -> TokenRecord:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="full")
    keyring.verify_access_token(token)
    keyring.regenerate(record.id, grace_until=time.time() + 60)
    got = keyring.get(record.id)
    assert got is not None and got.last_used_at is not None and got.rollover_until is not None
    return got


def test_from_dict_refuses_unknown_keys_naming_them() -> None:
    record = full_record()
    d = record.to_dict()
    assert TokenRecord.from_dict(json.loads(json.dumps(d))) == record  # every known key is accepted
    with pytest.raises(ValueError, match=r"unknown key 'expires'; a record has format, id, account, name, verifier, created_at, last_used_at, rollover"):
        TokenRecord.from_dict({**d, "expires": 1})
    with pytest.raises(ValueError, match=r"unknown key 'verifer'"):  # a typo
        TokenRecord.from_dict({**d, "verifer": d["verifier"]})
    with pytest.raises(ValueError, match=r"unknown key 'since' in rollover; a record has verifier, until"):
        TokenRecord.from_dict({**d, "rollover": {**d["rollover"], "since": 1}})
    with pytest.raises(ValueError, match="unknown key of type int"):
        TokenRecord.from_dict({**d, 7: 1})  # type: ignore[dict-item]
    # A long key is not shown: it may be a token pasted in the wrong place.
    token, _ = generate(account="acct", name="pasted")
    with pytest.raises(ValueError, match="more than 32 characters") as caught:
        TokenRecord.from_dict({**d, token: "oops"})
    assert token not in str(caught.value) and token[5:25] not in str(caught.value)
    # Values are never shown either (a bad verifier is not echoed).
    with pytest.raises(ValueError) as bad_verifier:
        TokenRecord.from_dict({**d, "verifier": "zz" + d["verifier"][2:]})
    assert d["verifier"][2:] not in str(bad_verifier.value)


def test_from_dict_refuses_instants_past_the_year_9999() -> None:
    d = full_record().to_dict()
    with pytest.raises(ValueError, match="created_at is past the year 9999"):
        TokenRecord.from_dict({**d, "created_at": 253_402_300_800})
    assert TokenRecord.from_dict({**d, "created_at": 253_402_300_799}).created_at.year == 9999
