"""One Keyring used from many threads while another thread deletes tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest

from whatsgate_auth import InvalidToken, Keyring, _native

CoreVerify = Callable[[Keyring, str, int], int]


@pytest.fixture()
def core_verify() -> CoreVerify:
    """``_native._bench_core_verify``: verifies in Rust with the GIL released.
    Only a build with the ``bench`` feature has it (scripts/test-python makes one)."""
    helper = getattr(_native, "_bench_core_verify", None)
    if helper is None:
        pytest.skip("needs the native module built with the `bench` feature")
    return cast(CoreVerify, helper)


def test_verifying_threads_never_accept_a_token_deleted_before_they_started() -> None:
    race_verification_against_deletion(None)


def test_nor_with_a_thread_verifying_outside_the_gil(core_verify: CoreVerify) -> None:
    # Python threads take turns on the GIL; this one verifies in Rust with the
    # GIL released, so the keyring is also read truly in parallel with the writes.
    race_verification_against_deletion(core_verify)


def race_verification_against_deletion(outside_gil: CoreVerify | None) -> None:
    keyring = Keyring()
    tokens = [keyring.create(account=f"acct_{i % 7}", name=f"token {i}") for i in range(200)]
    deleted: set[str] = set()  # ids whose delete() has returned
    lock = threading.Lock()
    stop = threading.Event()
    started = threading.Barrier(5)

    def verify_loop(worker: int) -> tuple[int, int, list[str]]:
        accepted = refused = 0
        violations: list[str] = []
        started.wait()
        rounds = 0
        while not stop.is_set() or rounds < 2:
            rounds += 1
            for token, record in tokens[worker::4] + tokens[: 50]:
                with lock:
                    gone_before = record.id in deleted
                try:
                    principal = keyring.verify_access_token(token)
                except InvalidToken:
                    refused += 1
                    continue
                accepted += 1
                if gone_before:
                    violations.append(record.id)
                if principal.token_id != record.id:
                    violations.append("wrong principal " + record.id)
        return accepted, refused, violations

    def delete_all() -> None:
        started.wait()
        for i, (_, record) in enumerate(tokens):
            if i % 2 == 0:
                keyring.delete(record.id)
            else:
                keyring.regenerate(record.id)
            with lock:
                deleted.add(record.id)
            time.sleep(0.0002)  # let the verifiers run between deletions
        stop.set()

    kept_token, _ = keyring.create(account="acct_kept", name="kept")
    parallel = None
    if outside_gil is not None:
        parallel = threading.Thread(target=outside_gil, args=(keyring, kept_token, 300_000))

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(verify_loop, w) for w in range(4)]
        if parallel is not None:
            parallel.start()
        deleter = threading.Thread(target=delete_all)
        deleter.start()
        deleter.join(timeout=60)
        assert not deleter.is_alive()
        results = [f.result(timeout=60) for f in futures]
        if parallel is not None:
            parallel.join(timeout=60)
            assert not parallel.is_alive()

    accepted = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    violations = [v for r in results for v in r[2]]
    assert violations == []
    # Both outcomes happened: the test did race verification against deletion.
    assert accepted > 0 and refused > 0
    assert len(keyring) == 101
    assert keyring.verify_access_token(kept_token).account == "acct_kept"
    for token, _ in tokens:
        try:
            keyring.verify_access_token(token)
        except InvalidToken:
            continue
        raise AssertionError("a deleted or regenerated token still verifies")


def test_concurrent_issue_keeps_names_unique() -> None:
    keyring = Keyring()

    def issue(i: int) -> str | None:
        try:
            return keyring.create(account="acct", name=f"name {i % 10}")[1].id
        except ValueError:
            return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [i for i in pool.map(issue, range(200)) if i is not None]
    assert len(ids) == 10 == len(keyring)


def test_verifying_threads_never_see_a_token_as_it_was_before_a_disable_or_rescope_returned() -> None:
    """Each thread keeps its own Principal cache: a disable or rescope that returned is seen by
    every verification that starts afterwards, on every thread (no stale cached principal)."""
    keyring = Keyring()
    tokens = [keyring.create(account="acct", name=f"token {i}", scopes=["old:read"]) for i in range(120)]
    changed: dict[str, str] = {}  # id -> "disabled" | "rescoped", once update() returned
    lock = threading.Lock()
    stop = threading.Event()
    started = threading.Barrier(4)

    def verify_loop(worker: int) -> tuple[int, int, int, list[str]]:
        old = new = refused = 0
        violations: list[str] = []
        started.wait()
        rounds = 0
        while not stop.is_set() or rounds < 2:
            rounds += 1
            for token, record in tokens[worker::3] + tokens[:30]:
                with lock:
                    before = changed.get(record.id)
                try:
                    principal = keyring.verify_access_token(token)
                except InvalidToken:
                    refused += 1
                    continue
                if principal.scopes == ("old:read",):
                    old += 1
                    if before is not None:
                        violations.append(f"{record.id}: the old scopes after {before}")
                else:
                    new += 1
                    if before == "disabled":
                        violations.append(f"{record.id}: accepted after it was disabled")
        return old, new, refused, violations

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(verify_loop, w) for w in range(3)]
        started.wait()
        for i, (_, record) in enumerate(tokens):
            if i % 2:
                keyring.update(record.id, disabled=True)
                what = "disabled"
            else:
                keyring.update(record.id, scopes=["new:read"])
                what = "rescoped"
            with lock:
                changed[record.id] = what
            time.sleep(0.0005)
        stop.set()
        results = [f.result() for f in futures]
    assert [v for r in results for v in r[3]] == []
    # Every outcome happened: the verifications did race the changes.
    old, new, refused = (sum(counts) for counts in zip(*(r[:3] for r in results), strict=True))
    assert old > 0 and new > 0 and refused > 0
