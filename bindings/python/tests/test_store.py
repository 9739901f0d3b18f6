"""A keyring attached to a token store (``Keyring.open``): writes through one keyring
seen by another, deletions refused at once by the writer and soon by the others, the
middleware on an attached keyring, fail-closed (503) and recovery, last use, closing.

Every case that does not stop a server runs on a SQLite file and, when
``WGAUTH_TEST_PG_URL`` is set, on a PostgreSQL database of its own (the ``url``
fixture); the cases that stop the server are in test_store_postgres.py."""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from whatsgate_auth import (
    ASGIMiddleware,
    FollowerStats,
    InvalidToken,
    Keyring,
    StoreError,
    StoreUnavailable,
    WSGIMiddleware,
)

from conftest import call_wsgi, run_asgi
from servers import request, uvicorn_server, waitress_server
from stores import SqliteProcess, accepts, eventually, pg_database, sqlite_url
from test_asgi import starlette_app
from test_wsgi import flask_app

UNAVAILABLE = b'{"message": "the token store cannot be reached; retry later"}'
INVALID = b'{"message": "invalid Access-Token"}'


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty token store: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return pg_database()


# A short poll: closing waits for the follower's current wait, up to one poll.
POLL = 0.25


@pytest.fixture()
def writer(url: str) -> Iterator[Keyring]:
    with Keyring.open(url, create=True, poll=POLL) as keyring:
        yield keyring


@pytest.fixture()
def reader(url: str, writer: Keyring) -> Iterator[Keyring]:
    """A second keyring on the same store (in this process: another follower, as another host has)."""
    with Keyring.open(url, poll=POLL) as keyring:
        yield keyring


def test_open_needs_a_store_unless_asked_to_create_one(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with pytest.raises(StoreError, match=r"no token store at .*create=True"):
        Keyring.open(url)
    assert not (tmp_path / "tokens.db").exists()
    with Keyring.open(url, create=True) as keyring:
        assert (tmp_path / "tokens.db").exists()
        assert len(keyring) == 0 and keyring.is_available
        assert repr(keyring) == f"Keyring(tokens=0, store={url!r})"
        stats = keyring.stats
        assert isinstance(stats, FollowerStats)
        assert (stats.seq, stats.applied, stats.bad_rows, stats.resyncs, stats.current, stats.last_error) == (
            0,
            0,
            0,
            1,
            True,
            None,
        )
        assert repr(stats) == (
            "FollowerStats(seq=0, applied=0, bad_rows=0, resyncs=1, current=True, last_error=None)"
        )
    # A path object is a SQLite file, whatever its text.
    with Keyring.open(tmp_path / "other.db", create=True) as keyring:
        assert repr(keyring) == f"Keyring(tokens=0, store={'sqlite:' + str(tmp_path / 'other.db')!r})"


def test_store_urls_that_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="mysql:// is not a token store"):
        Keyring.open("mysql://db/tokens")
    with pytest.raises(StoreError, match="empty"):
        Keyring.open("")
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("hello, this is not SQLite at all " * 100)
    with pytest.raises(StoreError):
        Keyring.open(not_a_store)
    with pytest.raises(TypeError, match="url is a str"):
        Keyring.open(42)  # type: ignore[arg-type]
    # A server that is not there: the message names it, never with its password.
    with pytest.raises(StoreError) as unreachable:
        Keyring.open("postgresql://wgauth:s3cr3t-pw@127.0.0.1:1/tokens?password=s3cr3t-pw", timeout=0.5)
    message = str(unreachable.value)
    assert "127.0.0.1:1" in message and "s3cr3t" not in message, message


def test_durations_take_seconds_or_timedelta_and_refuse_nonsense(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    for name in ("stale_after", "poll", "timeout", "flush_every"):
        for bad in (-1, -0.5, 0, 0.0, float("nan"), float("inf"), 10**400, datetime.timedelta(seconds=-3)):
            bad_value: dict[str, Any] = {name: bad}
            with pytest.raises(ValueError, match=name):
                Keyring.open(url, create=True, **bad_value)
        for wrong in ("1", True, None, [1]):
            wrong_type: dict[str, Any] = {name: wrong}
            with pytest.raises(TypeError, match=f"{name} is a number of seconds"):
                Keyring.open(url, create=True, **wrong_type)
    with pytest.raises(ValueError, match=r"poll \(5 s\) must be shorter than stale_after \(5 s\)"):
        Keyring.open(url, create=True, poll=5)
    assert not (tmp_path / "tokens.db").exists()  # checked before anything is opened
    with Keyring.open(
        url, create=True, stale_after=datetime.timedelta(seconds=3), poll=0.25, timeout=1, flush_every=60
    ) as keyring:
        assert keyring.is_available


def test_writes_through_one_keyring_are_seen_by_another(writer: Keyring, reader: Keyring) -> None:
    token, record = writer.create(account="acct_42", name="Production API")
    # The writer answers from its own keyring as soon as the write returns.
    assert writer.get(record.id) == record
    assert writer.verify_access_token(token).token_id == record.id
    eventually(lambda: accepts(reader, token), "the other keyring accepts a new token")
    principal = reader.verify_access_token(token)
    assert (principal.account, principal.token_name) == ("acct_42", "Production API")
    assert [r.id for r in reader.list()] == [record.id]
    assert [r.id for r in writer.list("acct_42")] == [record.id] and writer.list("acct_7") == []

    new_token, new_record = writer.regenerate(record.id)
    assert (new_record.id, new_record.name) == (record.id, record.name)
    with pytest.raises(InvalidToken):
        writer.verify_access_token(token)  # refused at once by the writer
    eventually(lambda: not accepts(reader, token), "the other keyring refuses a regenerated token")
    assert reader.verify_access_token(new_token).token_id == record.id

    deleted = writer.delete(record.id)
    assert deleted is not None and deleted.id == record.id
    with pytest.raises(InvalidToken):
        writer.verify_access_token(new_token)  # refused at once by the writer
    eventually(lambda: not accepts(reader, new_token), "the other keyring refuses a deleted token")
    assert len(reader) == 0 and reader.list() == []

    # Writes go both ways: the reader deletes what the writer issued.
    other, other_record = writer.create(account="acct_42", name="Testing")
    eventually(lambda: accepts(reader, other), "the other keyring accepts a new token")
    reader.delete(other_record.id)
    with pytest.raises(InvalidToken):
        reader.verify_access_token(other)
    eventually(lambda: not accepts(writer, other), "the first keyring refuses a token the other deleted")
    stats = reader.stats
    assert stats is not None and stats.applied >= 4 and stats.current and stats.bad_rows == 0


def test_lifecycle_errors_are_those_of_a_keyring_in_memory(writer: Keyring, reader: Keyring) -> None:
    token, record = writer.create(account="acct_42", name="Production API")
    with pytest.raises(ValueError, match="already has a token named"):
        writer.create(account="acct_42", name="Production API")
    with pytest.raises(ValueError, match="token name"):
        writer.create(account="acct_42", name="")
    writer.create(account="acct_43", name="Production API")  # the same name in another account
    with pytest.raises(KeyError):
        writer.delete("0123456789abcdef")
    with pytest.raises(KeyError):
        writer.regenerate("0123456789abcdef")
    with pytest.raises(ValueError, match="16 hexadecimal digits"):
        writer.delete("not-an-id")
    # Regeneration with a grace period: the old token keeps working until then, everywhere.
    new_token, new_record = writer.regenerate(record.id, grace_until=int(time.time()) + 3600)
    assert new_record.rollover_until is not None
    eventually(lambda: accepts(reader, new_token), "the other keyring accepts the new secret")
    assert accepts(reader, token) and accepts(writer, token)


def test_records_v2_through_the_store_are_seen_by_another(writer: Keyring, reader: Keyring) -> None:
    """Scopes, expiry, description and disabled written through one keyring: the other
    node refuses a disabled token and sees a rescope (its cached principal included)."""
    now = int(time.time())
    token, record = writer.create(
        account="acct", name="Sender", scopes=["messages:send"], expires_at=now + 3600, description="orders"
    )
    assert (record.scopes, record.description) == (("messages:send",), "orders")
    assert record.expires_at == datetime.datetime.fromtimestamp(now + 3600, datetime.UTC)
    eventually(lambda: accepts(reader, token), "the other keyring accepts a new scoped token")
    (listed,) = reader.list("acct")  # read from the store: every field came back
    assert listed == record
    first = reader.verify_access_token(token)
    assert first.scopes == ("messages:send",) and reader.verify_access_token(token) is first

    updated = writer.update(record.id, scopes=["messages:read"], description=None)
    assert (updated.scopes, updated.description) == (("messages:read",), None)
    eventually(lambda: reader.verify_access_token(token).scopes == ("messages:read",), "the rescope reaches the other node")
    assert reader.verify_access_token(token) is not first

    writer.update(record.id, disabled=True)
    with pytest.raises(InvalidToken):
        writer.verify_access_token(token)  # refused at once by the writer
    eventually(lambda: not accepts(reader, token), "the other keyring refuses a disabled token")
    with pytest.raises(InvalidToken) as caught:
        reader.verify_access_token(token)
    assert caught.value.body == INVALID
    writer.update(record.id, disabled=False)
    eventually(lambda: accepts(reader, token), "the other keyring accepts it again once enabled")
    assert reader.verify_access_token(token, now=now + 3599).token_id == record.id
    # An expired token is refused, and prune deletes it from the store.
    with pytest.raises(InvalidToken):
        reader.verify_access_token(token, now=now + 3600)
    assert [r.id for r in writer.prune(now=now + 3599)] == []
    assert [r.id for r in writer.prune(now=now + 3600)] == [record.id]
    eventually(lambda: not accepts(reader, token), "the other keyring drops a pruned token")
    assert writer.list() == []


def test_store_update_revoke_all_and_policy_errors(url: str, writer: Keyring, reader: Keyring) -> None:
    t1, a = writer.create(account="acct_a", name="one")
    t2, _ = writer.create(account="acct_a", name="two")
    t3, other = writer.create(account="acct_b", name="one")
    with pytest.raises(KeyError):
        writer.update("0123456789abcdef", disabled=True)
    with pytest.raises(ValueError, match="already has a token named"):
        writer.update(a.id, name="two")
    with pytest.raises(ValueError, match="is not a scope"):
        writer.create(account="acct_a", name="bad", scopes=["nope"])
    with pytest.raises(ValueError, match="^the expiry must be in the future"):
        writer.create(account="acct_a", name="late", expires_at=1)
    with pytest.raises(ValueError, match=r"^a grace period may last at most 30 days \(the lifetime policy\)"):
        writer.regenerate(a.id, grace_until=int(time.time()) + 31 * 86400)
    with pytest.raises(ValueError, match="^a grace period cannot be negative"):
        writer.regenerate(a.id, grace_until=int(time.time()) - 3600)
    assert accepts(writer, t1)  # the refused calls changed nothing
    # The other node holds all three first, so that its refusals below mean something.
    eventually(lambda: all(accepts(reader, t) for t in (t1, t2, t3)), "the other keyring accepts the new tokens")

    gone = writer.revoke_all("acct_a")
    assert sorted(r.name for r in gone) == ["one", "two"]
    assert not accepts(writer, t1) and not accepts(writer, t2)
    eventually(lambda: not accepts(reader, t1) and not accepts(reader, t2), "the other keyring refuses revoked tokens")
    assert accepts(reader, t3) and [r.id for r in reader.list()] == [other.id]
    assert writer.revoke_all("acct_a") == []

    # The lifetime policy given to open() applies to that keyring's writes.
    with Keyring.open(url, poll=POLL, max_lifetime=datetime.timedelta(days=1), max_grace=60) as strict:
        assert (strict.max_lifetime, strict.max_grace) == (datetime.timedelta(days=1), datetime.timedelta(minutes=1))
        _, bounded = strict.create(account="acct_b", name="bounded")
        assert bounded.expires_at is not None
        with pytest.raises(ValueError, match=r"^tokens may live at most 1 day"):
            strict.create(account="acct_b", name="long", expires_in=2 * 86400)
        with pytest.raises(ValueError, match="at most 60 seconds"):
            strict.regenerate(bounded.id, grace_until=int(time.time()) + 3600)
    _, unbounded = writer.create(account="acct_b", name="unbounded")
    assert unbounded.expires_at is None  # the writer's own policy is the default


def test_writes_are_audited_under_the_actor_given(url: str, writer: Keyring) -> None:
    with Keyring.open(url, poll=POLL, actor="billing-service") as billing:
        token, record = billing.create(account="acct", name="one", scopes=["messages:send"])
        billing.update(record.id, disabled=True)
        new_token, _ = billing.regenerate(record.id)
        billing.revoke_all("acct")
        entries = billing.audit("acct")
    assert [e["action"] for e in entries] == ["token.revoke_all", "token.regenerate", "token.update", "token.create"]
    assert {e["actor"] for e in entries} == {"billing-service"}
    assert {e["token_id"] for e in entries} == {record.id}
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    assert all(e["at"].tzinfo is datetime.UTC and e["account"] == "acct" for e in entries)
    for e in entries:  # what changed, never a secret
        assert token not in e["detail"] and new_token not in e["detail"]
        assert token[5:] not in e["detail"] and new_token[5:] not in e["detail"]
    assert "messages:send" in entries[-1]["detail"]
    # The default actor (control: the name above came from actor=).
    writer.create(account="acct_2", name="two")
    (latest,) = writer.audit("acct_2")
    assert latest["actor"] != "billing-service" and latest["action"] == "token.create"
    assert len(writer.audit(limit=2)) == 2 and writer.audit("nobody") == []
    with pytest.raises(ValueError, match="attached to a token store"):
        Keyring().audit()


def test_methods_of_a_keyring_in_memory_only(writer: Keyring) -> None:
    token, record = writer.create(account="acct", name="one")
    for call in (
        lambda: writer.add(record),
        lambda: writer.sync([record]),
        lambda: writer.take_last_used(),
        lambda: writer.set_available(False),
    ):
        with pytest.raises(ValueError, match="attached to a token store"):
            call()
    assert writer.is_available and accepts(writer, token)
    memory = Keyring()
    assert memory.stats is None
    with pytest.raises(ValueError, match="take_last_used"):
        memory.flush_last_used()
    with memory as same:  # closing a keyring in memory does nothing
        assert same is memory
    memory.close()
    token, _ = memory.create(account="acct", name="one")
    assert accepts(memory, token) and repr(memory) == "Keyring(tokens=1)"


def test_closing_stops_following_and_fails_closed(url: str, writer: Keyring) -> None:
    token, record = writer.create(account="acct", name="one")
    keyring = Keyring.open(url)
    with keyring as entered:
        assert entered is keyring and accepts(keyring, token)
    assert repr(keyring).endswith(", closed)")
    assert keyring.stats is None and not keyring.is_available
    # It no longer knows whether it is current: 503, never "accepted", never "invalid".
    with pytest.raises(StoreUnavailable) as unavailable:
        keyring.verify_access_token(token)
    assert unavailable.value.status_code == 503 and unavailable.value.body == UNAVAILABLE
    for call in (
        lambda: keyring.create(account="acct", name="two"),
        lambda: keyring.delete(record.id),
        lambda: keyring.regenerate(record.id),
        lambda: keyring.list(),
        lambda: keyring.flush_last_used(),
    ):
        with pytest.raises(ValueError, match="this keyring was closed"):
            call()
    keyring.close()  # again: nothing
    assert accepts(writer, token)  # the other keyring on the store is not affected


def test_last_use_reaches_the_store(url: str, writer: Keyring) -> None:
    token, record = writer.create(account="acct", name="one")
    assert writer.list()[0].last_used_at is None
    before = int(time.time()) - 1  # the core reads the coarse clock, a tick behind
    writer.verify_access_token(token)
    got = writer.get(record.id)
    assert got is not None and got.last_used_at is not None  # in memory at once
    writer.flush_last_used()
    stored = writer.list()[0].last_used_at  # list() reads the store
    assert stored is not None and stored.timestamp() >= before

    def stored_last_use(token_id: str) -> datetime.datetime | None:
        (found,) = [r for r in writer.list() if r.id == token_id]
        return found.last_used_at

    # Written every flush_every seconds without being asked, and by close().
    other_token, other_record = writer.create(account="acct", name="two")
    with Keyring.open(url, flush_every=0.05) as periodic:
        periodic.verify_access_token(other_token)
        eventually(lambda: stored_last_use(other_record.id) is not None, "last use written within flush_every")
    third_token, third_record = writer.create(account="acct", name="three")
    closing = Keyring.open(url, flush_every=3600)
    closing.verify_access_token(third_token)
    time.sleep(0.2)
    assert stored_last_use(third_record.id) is None
    closing.close()
    assert stored_last_use(third_record.id) is not None


def test_a_damaged_row_is_refused_counted_and_still_deletable(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with Keyring.open(url, create=True) as keyring:
        good, _ = keyring.create(account="acct", name="good")
        bad, bad_record = keyring.create(account="acct", name="bad")
        # Another program writes a name no valid record has (a trailing space), and logs it.
        with SqliteProcess(tmp_path / "tokens.db") as db:
            db.run("BEGIN IMMEDIATE")
            db.run(f"UPDATE tokens SET name = name || ' ' WHERE id = '{bad_record.id}'")
            db.run(f"INSERT INTO changes (token_id, at) VALUES ('{bad_record.id}', 0)")
            db.run("COMMIT")
        eventually(lambda: not accepts(keyring, bad), "a damaged row's token is refused")
        stats = keyring.stats
        assert stats is not None and stats.bad_rows == 1 and stats.current
        assert accepts(keyring, good)
        with pytest.raises(StoreError, match="damaged"):
            keyring.list()
        assert keyring.delete(bad_record.id) is None  # no valid record to return, deleted all the same
        assert [r.name for r in keyring.list()] == ["good"]


def test_store_calls_release_the_gil(tmp_path: Path) -> None:
    """A write waiting for the store's lock lets the other Python threads run."""
    url = sqlite_url(tmp_path)
    with Keyring.open(url, create=True, timeout=10) as keyring:
        lock = SqliteProcess(tmp_path / "tokens.db")  # another program holds the write lock
        lock.run("BEGIN IMMEDIATE")
        issued: list[str] = []
        thread = threading.Thread(target=lambda: issued.append(keyring.create(account="acct", name="waits")[0]))
        thread.start()
        spins = 0
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            spins += 1
        assert thread.is_alive() and not issued  # still waiting for the lock...
        assert spins > 10_000  # ...and this thread ran all the while
        lock.run("COMMIT")
        lock.close()
        thread.join(timeout=10)
        assert len(issued) == 1 and accepts(keyring, issued[0])


def test_the_middleware_on_an_attached_keyring(url: str, writer: Keyring, reader: Keyring) -> None:
    """ASGI (uvicorn) and WSGI (waitress) apps verify with one keyring; tokens are
    written through the other."""
    token, record = writer.create(account="acct_42", name="Production API")
    eventually(lambda: accepts(reader, token), "the serving keyring accepts a new token")
    with uvicorn_server(starlette_app(reader)) as asgi_port, waitress_server(flask_app(reader)) as wsgi_port:
        for port in (asgi_port, wsgi_port):
            ok = request(port, "/api/me", [("Access-Token", token.encode())])
            assert ok.status == 200 and json.loads(ok.body)["token_id"] == record.id
            mcp = request(port, "/mcp", [("Authorization", b"Bearer " + token.encode())])
            assert mcp.status == 200
            assert request(port, "/api/me").status == 403
        writer.delete(record.id)
        for port in (asgi_port, wsgi_port):
            eventually(
                lambda: request(port, "/api/me", [("Access-Token", token.encode())]).status == 403,
                "the served app refuses a token deleted through the other keyring",
            )
            refused = request(port, "/api/me", [("Access-Token", token.encode())])
            assert refused.body == INVALID


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def echo_wsgi(environ: Any, start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return [b""]


def answers(keyring: Keyring, token: str) -> tuple[tuple[int, bytes, bool], tuple[int, bytes, bool]]:
    """(status, body, has Retry-After) from the ASGI and the WSGI middleware, in process."""
    sent = run_asgi(
        ASGIMiddleware(echo_app, keyring),
        {"type": "http", "path": "/x", "headers": [(b"access-token", token.encode())]},
    )
    body = sent[1].get("body", b"")
    asgi = (sent[0]["status"], body, (b"retry-after", b"1") in sent[0]["headers"])
    status, headers, wsgi_body = call_wsgi(
        WSGIMiddleware(echo_wsgi, keyring), {"PATH_INFO": "/x", "HTTP_ACCESS_TOKEN": token}
    )
    return asgi, (status, wsgi_body, ("Retry-After", "1") in headers)


def test_fail_closed_while_the_change_log_cannot_be_read_then_recovers(tmp_path: Path) -> None:
    """SQLite has no server to stop; another program hiding the change log makes the
    store unreadable all the same (test_store_postgres.py stops a real server)."""
    url = sqlite_url(tmp_path)
    with Keyring.open(url, create=True) as writer, Keyring.open(url, stale_after=0.5, poll=0.1, timeout=0.5) as node:
        token, _ = writer.create(account="acct", name="kept")
        doomed, doomed_record = writer.create(account="acct", name="doomed")
        eventually(
            lambda: accepts(node, doomed) and answers(node, token) == ((204, b"", False), (204, b"", False)),
            "the node accepts the new tokens",
        )
        db = SqliteProcess(tmp_path / "tokens.db")  # another program
        db.run("ALTER TABLE changes RENAME TO changes_hidden")
        eventually(lambda: not node.is_available, "the node stops answering tokens")
        for token_given in (token, doomed, "wgat_not-even-a-token"):
            assert answers(node, token_given) == ((503, UNAVAILABLE, True), (503, UNAVAILABLE, True))
        # No token: the seed's answer, which needs no store.
        sent = run_asgi(ASGIMiddleware(echo_app, node), {"type": "http", "path": "/x", "headers": []})
        assert sent[0]["status"] == 403
        stats = node.stats
        assert stats is not None and not stats.current and "no such table" in (stats.last_error or "")
        with pytest.raises(StoreError, match="no such table"):
            writer.delete(doomed_record.id)  # nothing is written while the log is gone
        db.run("ALTER TABLE changes_hidden RENAME TO changes")
        db.close()
        writer.delete(doomed_record.id)
        # (Each check waits: on a loaded machine a starved follower can miss its
        # bound for a moment, and then rightly answers 503 again.)
        eventually(lambda: node.is_available, "the node recovers")
        eventually(
            lambda: answers(node, token) == ((204, b"", False), (204, b"", False))
            and answers(node, doomed) == ((403, INVALID, False), (403, INVALID, False)),
            "the node accepts the kept token and refuses the one deleted meanwhile",
        )
        stats = node.stats
        assert stats is not None and stats.resyncs >= 2


def test_the_readme_attach_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Attach to a store", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Keyring.open("sqlite:tokens.db"' in block
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    keyring: Keyring = namespace["keyring"]
    try:
        token, record = keyring.create(account="acct_42", name="Production API")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/me",
            "raw_path": b"/api/me",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"access-token", token.encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        sent = run_asgi(namespace["app"], scope)
        assert sent[0]["status"] == 200
        assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {"account": "acct_42"}
        assert os.path.exists(tmp_path / "tokens.db")
        keyring.delete(record.id)
        assert run_asgi(namespace["app"], scope)[0]["status"] == 403
    finally:
        keyring.close()
