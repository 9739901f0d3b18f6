"""Records v2 in memory: scopes, expiry, disabled and description on records and
principals, ``Keyring.create``/``update``/``revoke_all``/``prune``, the lifetime
policy, and the verification paths (the fast path and the principal cache) refusing
an expired or disabled token and never hiding a change of scopes."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from whatsgate_auth import (
    InsufficientScope,
    InvalidToken,
    Keyring,
    Principal,
    TokenRecord,
    generate,
)

INVALID = b'{"message": "invalid Access-Token"}'
INVALID_BEARER = b'{"message": "invalid Bearer token"}'



def coarse_now() -> int:
    """A lower bound of the core's clock now: it reads the kernel's coarse
    clock (up to a tick, a few ms, behind `time.time()`), so just after a
    second begins it may still be in the one before."""
    return int(time.time()) - 1

def at(secs: int) -> datetime:
    return datetime.fromtimestamp(secs, UTC)


def refusal(run: Any) -> tuple[type, int, bytes, list[tuple[str, str]]]:
    """What a refused call raised: type, status, body, headers."""
    with pytest.raises(InvalidToken) as caught:
        run()
    e = caught.value
    return type(e), e.status_code, e.body, e.headers


# ---------------------------------------------------------------- records


def test_a_plain_record_has_the_defaults_and_format_1() -> None:
    _, record = generate(account="acct", name="plain")
    assert record.scopes is None
    assert record.expires_at is None
    assert record.disabled is False
    assert record.description is None
    assert record.is_active()
    assert record.to_dict()["format"] == 1
    assert "scopes" not in repr(record) and "disabled" not in repr(record)


def test_created_with_every_field_and_read_back_in_format_2() -> None:
    keyring = Keyring()
    now = int(time.time())
    _, record = keyring.create(
        account="acct",
        name="Sender",
        scopes=["messages:send", "devices:*", "messages:send"],
        expires_at=now + 3600,
        description="  sends order confirmations ",
    )
    assert record.scopes == ("devices:*", "messages:send")  # sorted, deduplicated
    assert record.expires_at == at(now + 3600)
    assert record.description == "sends order confirmations"  # trimmed
    d = record.to_dict()
    assert d["format"] == 2
    assert d["scopes"] == ["devices:*", "messages:send"]
    assert d["expires_at"] == now + 3600
    assert d["description"] == "sends order confirmations"
    assert "disabled" not in d  # omitted while false
    again = TokenRecord.from_dict(json.loads(json.dumps(d)))
    assert again == record and again.to_dict() == d
    assert pickle.loads(pickle.dumps(record)) == record
    assert "scopes=('devices:*', 'messages:send')" in repr(record)
    assert "description='sends order confirmations'" in repr(record)
    # Records that differ only in a new field are not equal.
    assert TokenRecord.from_dict({**d, "disabled": True}) != record
    assert TokenRecord.from_dict({**d, "scopes": ["devices:*"]}) != record


def test_scoped_to_nothing_is_not_full_access() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="nothing", scopes=[])
    assert record.scopes == ()
    assert record.to_dict()["scopes"] == []
    principal = keyring.verify_access_token(token)
    assert principal.scopes == ()
    assert not principal.has_scope("messages:send")


def test_expires_in_counts_from_now() -> None:
    keyring = Keyring()
    before = coarse_now()
    _, record = keyring.create(account="acct", name="a", expires_in=timedelta(hours=1))
    _, record2 = keyring.create(account="acct", name="b", expires_in=60)
    after = int(time.time())
    assert record.expires_at is not None and record2.expires_at is not None
    assert at(before + 3600) <= record.expires_at <= at(after + 3600)
    assert at(before + 60) <= record2.expires_at <= at(after + 60)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scopes": ["Messages:send"]}, ValueError, r'^"Messages:send" is not a scope: write resource:action'),
        ({"scopes": ["messages"]}, ValueError, "is not a scope"),
        ({"scopes": [f"r{i}:read" for i in range(65)]}, ValueError, "^65 scopes given; a token carries at most 64$"),
        ({"scopes": "messages:send"}, TypeError, "not one string"),
        ({"scopes": [b"messages:send"]}, TypeError, "a scope is a str"),
        ({"expires_at": 1}, ValueError, "^the expiry must be in the future$"),
        ({"expires_in": 0}, ValueError, "expires_in must be at least 1 second"),
        ({"expires_in": -5}, ValueError, "expires_in must be at least 1 second"),
        ({"expires_in": 1.5}, TypeError, "whole number of seconds"),
        ({"expires_in": True}, TypeError, "whole number of seconds"),
        ({"expires_in": 10**30}, ValueError, "too long"),
        ({"expires_at": 2_000_000_000, "expires_in": 60}, TypeError, "not both"),
        ({"description": "x" * 257}, ValueError, "^description is too long"),
        ({"description": "   "}, ValueError, "^description must not be empty$"),
        ({"description": "a\nb"}, ValueError, "control characters"),
    ],
)
def test_create_refuses_bad_fields_with_the_cores_message(kwargs: dict[str, Any], error: type, message: str) -> None:
    keyring = Keyring()
    with pytest.raises(error, match=message):
        keyring.create(account="acct", name="bad", **kwargs)
    with pytest.raises(error, match=message):
        generate(account="acct", name="bad", **kwargs)
    assert len(keyring) == 0


def test_64_scopes_are_allowed() -> None:
    _, record = generate(account="acct", name="many", scopes=[f"r{i}:read" for i in range(64)])
    assert record.scopes is not None and len(record.scopes) == 64


# ---------------------------------------------------------------- lifetime policy


def test_the_default_policy() -> None:
    keyring = Keyring()
    assert keyring.max_lifetime is None
    assert keyring.max_grace == timedelta(days=30)
    _, record = keyring.create(account="acct", name="forever")
    assert record.expires_at is None


def test_a_max_lifetime_bounds_and_gives_expiries() -> None:
    keyring = Keyring(max_lifetime=timedelta(days=7))
    assert keyring.max_lifetime == timedelta(days=7)
    before = coarse_now()
    _, record = keyring.create(account="acct", name="given")
    assert record.expires_at is not None
    assert at(before + 7 * 86400) <= record.expires_at <= at(int(time.time()) + 7 * 86400)
    _, shorter = keyring.create(account="acct", name="shorter", expires_in=3600)
    assert shorter.expires_at is not None and shorter.expires_at <= at(int(time.time()) + 3600)
    with pytest.raises(
        ValueError, match=r"^tokens may live at most 7 days \(the lifetime policy\); ask for an earlier expiry$"
    ):
        keyring.create(account="acct", name="too long", expires_in=timedelta(days=8))
    assert len(keyring) == 2
    assert Keyring(max_lifetime=90).max_lifetime == timedelta(seconds=90)


def test_the_grace_period_is_capped() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="rolling")
    now = int(time.time())
    with pytest.raises(ValueError, match=r"^a grace period may last at most 30 days \(the lifetime policy\)$"):
        keyring.regenerate(record.id, grace_until=now + 31 * 86400)
    # The example: a grace of 100000000000 days.
    with pytest.raises(ValueError, match="at most 30 days"):
        keyring.regenerate(record.id, grace_until=datetime(9999, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="^a grace period cannot be negative$"):
        keyring.regenerate(record.id, grace_until=now - 3600)
    # Refused regenerations changed nothing.
    assert keyring.verify_access_token(token).token_id == record.id
    _, rolled = keyring.regenerate(record.id, grace_until=now + 29 * 86400)
    assert rolled.rollover_until == at(now + 29 * 86400)

    short = Keyring(max_grace=timedelta(minutes=10))
    assert short.max_grace == timedelta(minutes=10)
    _, r = short.create(account="acct", name="x")
    with pytest.raises(ValueError, match=r"^a grace period may last at most 600 seconds"):
        short.regenerate(r.id, grace_until=int(time.time()) + 3600)
    none = Keyring(max_grace=0)
    _, r = none.create(account="acct", name="x")
    with pytest.raises(ValueError, match="at most 0 seconds"):
        none.regenerate(r.id, grace_until=int(time.time()) + 60)
    none.regenerate(r.id)  # no grace: allowed


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_lifetime": 0}, ValueError),
        ({"max_lifetime": -1}, ValueError),
        ({"max_lifetime": timedelta(seconds=-1)}, ValueError),
        ({"max_grace": -1}, ValueError),
        ({"max_lifetime": 1.5}, TypeError),
        ({"max_grace": "30d"}, TypeError),
        ({"max_grace": False}, TypeError),
        ({"max_lifetime": 10**20}, ValueError),
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        Keyring(**kwargs)


# ---------------------------------------------------------------- update


def test_update_changes_only_what_is_given() -> None:
    keyring = Keyring()
    _, record = keyring.create(account="acct", name="one", scopes=["messages:send"], description="first")
    renamed = keyring.update(record.id, name="uno")
    assert (renamed.name, renamed.scopes, renamed.description, renamed.disabled) == (
        "uno",
        ("messages:send",),
        "first",
        False,
    )
    described = keyring.update(record.id, description="second")
    assert (described.name, described.description) == ("uno", "second")
    removed = keyring.update(record.id, description=None)
    assert removed.description is None and removed.scopes == ("messages:send",)
    full = keyring.update(record.id, scopes=None)
    assert full.scopes is None
    rescoped = keyring.update(record.id, scopes=["tokens:manage"], disabled=True)
    assert rescoped.scopes == ("tokens:manage",) and rescoped.disabled
    assert keyring.get(record.id) == rescoped
    assert keyring.update(record.id, disabled=False).disabled is False


def test_update_errors() -> None:
    keyring = Keyring()
    _, a = keyring.create(account="acct", name="a")
    keyring.create(account="acct", name="b")
    with pytest.raises(KeyError):
        keyring.update("0123456789abcdef", disabled=True)
    with pytest.raises(ValueError, match="already has a token named"):
        keyring.update(a.id, name="b")
    with pytest.raises(TypeError, match="give at least one"):
        keyring.update(a.id)
    with pytest.raises(TypeError, match="a token always has a name"):
        keyring.update(a.id, name=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="True or False"):
        keyring.update(a.id, disabled=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="True or False"):
        keyring.update(a.id, disabled=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a scope"):
        keyring.update(a.id, scopes=["x"])
    with pytest.raises(ValueError, match="description is too long"):
        keyring.update(a.id, description="x" * 300)
    # A refused update changed nothing.
    assert keyring.get(a.id) == a


# ---------------------------------------------------------------- verification


def test_an_expired_token_gets_exactly_the_invalid_answer() -> None:
    keyring = Keyring()
    now = int(time.time())
    token, record = keyring.create(account="acct", name="short", expires_at=now + 100)
    wrong = generate(account="acct", name="other")[0]
    # Accepted until its expiry (exclusive), through every path, fast and full.
    assert keyring.verify_access_token(token).token_id == record.id
    assert keyring.verify_access_token(token, now=now + 99).token_id == record.id
    assert keyring.verify(token, now=now + 99).token_id == record.id
    for when in (now + 100, now + 10_000):
        got = refusal(lambda: keyring.verify_access_token(token, now=when))
        assert got == refusal(lambda: keyring.verify_access_token(wrong, now=when))
        assert got[1:3] == (403, INVALID)
        assert refusal(lambda: keyring.verify(token, now=when))[2] == INVALID
        assert refusal(lambda: keyring.verify_authorization("Bearer " + token, now=when))[1:3] == (401, INVALID_BEARER)
        headers = [("Access-Token", token)]
        assert refusal(lambda: keyring.authenticate(headers, now=when))[2] == INVALID
        assert not record.is_active(now=when)
    assert record.is_active(now=now + 99)


def test_a_disabled_token_is_refused_on_the_fast_path_and_comes_back_when_enabled() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="switch")
    first = keyring.verify_access_token(token)  # cached for this thread
    assert keyring.verify_access_token(token) is first  # positive control: the cache answers
    keyring.update(record.id, disabled=True)
    runs: list[Callable[[], Principal]] = [
        lambda: keyring.verify_access_token(token),  # the fast path's shape
        lambda: keyring.verify(token),
        lambda: keyring.verify_authorization(f"Bearer {token}"),
        lambda: keyring.authenticate([("access-token", token)]),
    ]
    for run in runs:
        with pytest.raises(InvalidToken):
            run()
    keyring.update(record.id, disabled=False)
    assert keyring.verify_access_token(token).token_id == record.id


def test_a_cached_principal_never_outlives_a_rescope_or_rename() -> None:
    keyring = Keyring()
    token, record = keyring.create(account="acct", name="cached", scopes=["messages:send"])
    first = keyring.verify_access_token(token)
    # Positive control: unchanged, the same object comes back (so the checks below can fail).
    assert keyring.verify_access_token(token) is first
    assert first.scopes == ("messages:send",)

    keyring.update(record.id, scopes=["messages:read"])
    after = keyring.verify_access_token(token)
    assert after is not first
    assert after.scopes == ("messages:read",)
    assert not after.has_scope("messages:send")
    assert keyring.verify(token).scopes == ("messages:read",)

    keyring.update(record.id, scopes=None)
    assert keyring.verify_access_token(token).scopes is None
    keyring.update(record.id, name="renamed")
    assert keyring.verify_access_token(token).token_name == "renamed"


# ---------------------------------------------------------------- principals


def test_principal_scopes_and_has_scope() -> None:
    full = Principal(account="acct", token_id="0123456789abcdef", token_name="full")
    assert full.scopes is None
    assert full.has_scope("messages:send") and full.has_scope("anything:*")
    some = Principal(
        account="acct", token_id="0123456789abcdef", token_name="some", scopes=["messages:send", "devices:*"]
    )
    assert some.scopes == ("devices:*", "messages:send")
    assert some.has_scope("messages:send")
    assert some.has_scope("devices:read")
    assert not some.has_scope("messages:read")
    assert not some.has_scope("devicesx:read")
    for bad in ("messages", "Messages:send", "messages.send", ""):
        with pytest.raises(ValueError, match="is not a scope"):
            full.has_scope(bad)  # a typo would otherwise pass for every full-access token
    with pytest.raises(ValueError, match="is not a scope"):
        Principal(account="acct", token_id="0123456789abcdef", token_name="x", scopes=["bad"])
    assert pickle.loads(pickle.dumps(some)) == some
    assert pickle.loads(pickle.dumps(full)) == full
    assert some != Principal(account="acct", token_id="0123456789abcdef", token_name="some")
    assert "scopes=('devices:*', 'messages:send')" in repr(some)
    assert "scopes" not in repr(full)


def test_require_scope_raises_the_cores_denial() -> None:
    some = Principal(account="acct", token_id="0123456789abcdef", token_name="some", scopes=["messages:send"])
    some.require_scope("messages:send")
    with pytest.raises(InsufficientScope) as rest:
        some.require_scope("tokens:manage")
    assert rest.value.status_code == 403
    assert rest.value.body == b'{"message": "the token lacks the scope tokens:manage"}'
    assert rest.value.headers == [("Content-Type", "application/json")]
    assert rest.value.scope == "tokens:manage"
    assert str(rest.value) == "the token lacks the scope tokens:manage"
    with pytest.raises(InsufficientScope) as mcp:
        some.require_scope("tokens:manage", "mcp")
    assert mcp.value.status_code == 403
    assert mcp.value.body == rest.value.body
    assert mcp.value.headers == [
        ("Content-Type", "application/json"),
        ("WWW-Authenticate", 'Bearer realm="whatsgate", error="insufficient_scope", scope="tokens:manage"'),
    ]
    with pytest.raises(ValueError):
        some.require_scope("tokens:manage", "soap")  # type: ignore[arg-type]


def test_authenticate_checks_the_required_scope_after_the_token() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="s", scopes=["messages:send"])
    headers = [("Access-Token", token)]
    assert keyring.authenticate(headers, required_scope="messages:send").scopes == ("messages:send",)
    with pytest.raises(InsufficientScope):
        keyring.authenticate(headers, required_scope="messages:read")
    # A bad token is invalid, whatever the route needs (the scope is checked after).
    with pytest.raises(InvalidToken):
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        keyring.authenticate([("Access-Token", tampered)], required_scope="messages:read")
    with pytest.raises(ValueError, match="is not a scope"):
        keyring.authenticate(headers, required_scope="messages")


# ---------------------------------------------------------------- revoke_all, prune


def test_revoke_all_deletes_every_token_of_one_account() -> None:
    keyring = Keyring()
    t1, _ = keyring.create(account="acct_a", name="one")
    t2, _ = keyring.create(account="acct_a", name="two")
    t3, other = keyring.create(account="acct_b", name="one")
    gone = keyring.revoke_all("acct_a")
    assert sorted(r.name for r in gone) == ["one", "two"]
    for token in (t1, t2):
        with pytest.raises(InvalidToken):
            keyring.verify_access_token(token)
    assert keyring.verify_access_token(t3).token_id == other.id
    assert keyring.revoke_all("acct_a") == []
    with pytest.raises(ValueError):
        keyring.revoke_all("")


def test_prune_deletes_the_expired_tokens_only() -> None:
    keyring = Keyring()
    now = int(time.time())
    _, soon = keyring.create(account="acct", name="soon", expires_at=now + 100)
    _, later = keyring.create(account="acct", name="later", expires_at=now + 1000)
    _, disabled = keyring.create(account="acct", name="disabled")
    keyring.update(disabled.id, disabled=True)
    _, forever = keyring.create(account="acct", name="forever")
    assert keyring.prune(now=now + 99) == []
    pruned = keyring.prune(now=now + 100)  # the expiry is exclusive: expired at that instant
    assert [r.id for r in pruned] == [soon.id]
    assert {r.id for r in keyring.list()} == {later.id, disabled.id, forever.id}
    assert keyring.prune() == []


def test_a_token_given_as_a_scope_never_appears_in_the_error() -> None:
    keyring = Keyring()
    token, _ = keyring.create(account="acct", name="t")
    principal = keyring.verify_access_token(token)
    calls: list[Callable[[], object]] = [
        lambda: keyring.create(account="acct", name="x", scopes=[token]),
        lambda: generate(account="acct", name="x", scopes=["messages:send", token]),
        lambda: principal.has_scope(token),
        lambda: principal.require_scope(token),
        lambda: keyring.authenticate([("access-token", token)], required_scope=token),
        lambda: keyring.create(account="acct", name="x", scopes=["a" * 70]),
    ]
    for call in calls:
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        assert token not in message and token[5:20] not in message and "a" * 70 not in message
        assert "(not shown)" in message  # the core's rule
    # Control: a short bad name, such as a typo, is shown.
    with pytest.raises(ValueError, match='"Messages:send" is not a scope'):
        principal.has_scope("Messages:send")
