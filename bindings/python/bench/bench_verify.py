"""Keyring.verify_access_token from Python, next to pure Python and the Rust core.

Run after installing a build with the Cargo feature ``bench`` (a release
build, as pip makes it; the published wheel lacks the Rust loop below):

    pip install -C maturin.build-args="--features bench" ./bindings/python
    python bindings/python/bench/bench_verify.py [--tokens 1000] [--rounds 60]

All verify the same valid token, as an ``Access-Token`` header value,
against a keyring of ``--tokens`` records, in one run:

- ``binding``: ``Keyring.verify_access_token(value)`` called from a Python
  loop (header trimming, parse, checksum, lookup, SHA-256, constant-time
  compare, the ``Principal`` object back);
- ``pure Python``: the same steps written with ``binascii`` (strict base64),
  ``zlib.crc32``, ``hashlib.sha256``, ``hmac.compare_digest`` and a dict;
- ``Rust core``, in a Rust loop (``_native._bench_core_verify``, in a
  ``bench`` build only), at ``Timestamp::now()`` per verification as the
  binding:
  ``Keyring::authenticate(Profile::Rest, [value], now)`` is the core doing
  the same work, the same bytes in and a principal out (owned, as a Rust
  caller keeps it: the binding's ``Principal`` object outlives the call
  too) — the target is measured against it; ``Keyring::authenticate_with``
  lends the principal and takes nothing out: the floor of the core;
- the cost of any call from a Python loop: an empty loop, and a loop
  calling ``len(value)`` (the cheapest C builtin, specialised by the
  interpreter), which the Rust loop does not pay.

Figures are the fastest of many short interleaved chunks, in ns per
verification. On a shared machine the Python side suffers more from other
load than the Rust loop (the interpreter is front-end bound), so compare
figures of one run only. Not a test.
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import hmac
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from typing import Protocol, cast

import whatsgate_auth
from whatsgate_auth import Keyring, _native

PREFIX = "wgat_"
TAG = b"wgat-v1-verifier"


class PurePythonKeyring:
    """The same verification in plain Python: what the binding replaces."""

    def __init__(self, records: list[whatsgate_auth.TokenRecord]) -> None:
        self.by_id: dict[bytes, tuple[bytes, str, str]] = {}
        for r in records:
            d = r.to_dict()
            self.by_id[bytes.fromhex(d["id"])] = (bytes.fromhex(d["verifier"]), d["account"], d["name"])

    def verify_access_token(self, value: str) -> tuple[str, str, str]:
        token = value.strip(" \t")
        if not token:
            raise LookupError("missing")
        if len(token) != 55 or not token.startswith(PREFIX):
            raise ValueError("invalid")
        try:
            payload = binascii.a2b_base64(token[5:].translate(_TO_STD) + "==", strict_mode=True)
        except binascii.Error:
            raise ValueError("invalid") from None
        if len(payload) != 37 or payload[0] != 1:
            raise ValueError("invalid")
        if zlib.crc32(payload[:33]).to_bytes(4, "big") != payload[33:]:
            raise ValueError("invalid")
        token_id = payload[1:9]
        record = self.by_id.get(token_id)
        if record is None:
            raise ValueError("invalid")
        presented = hashlib.sha256(TAG + token_id + payload[9:33]).digest()
        if not hmac.compare_digest(presented, record[0]):
            raise ValueError("invalid")
        return record[1], token_id.hex(), record[2]


_TO_STD = str.maketrans("-_", "+/")


class CoreVerify(Protocol):
    """``_native._bench_core_verify``: total ns of ``iterations`` verifications in a Rust loop."""

    def __call__(self, keyring: Keyring, value: str, iterations: int, lent: bool = False) -> int: ...


def core_verify() -> CoreVerify:
    """The Rust-loop helper, or exit saying how to build it in."""
    helper = getattr(_native, "_bench_core_verify", None)
    if helper is None:
        sys.exit(
            "bench_verify.py: this whatsgate_auth has no _native._bench_core_verify; install a build "
            'with the `bench` feature: pip install -C maturin.build-args="--features bench" ./bindings/python'
        )
    return cast(CoreVerify, helper)


def per_call_ns(fn: Callable[[str], object], value: str, calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn(value)
    return (time.perf_counter_ns() - start) / calls


def empty_loop_ns(calls: int) -> float:
    """An empty Python loop, per iteration."""
    start = time.perf_counter_ns()
    for _ in range(calls):
        pass
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1000, help="records in the keyring")
    parser.add_argument("--calls", type=int, default=20_000, help="verifications per timed chunk")
    parser.add_argument("--rounds", type=int, default=60, help="chunks per method, interleaved")
    args = parser.parse_args()
    core = core_verify()

    keyring = Keyring()
    issued = [keyring.create(account=f"acct_{i % 50}", name=f"token {i}") for i in range(args.tokens)]
    token, record = issued[len(issued) // 2]
    pure = PurePythonKeyring(keyring.list())
    assert pure.verify_access_token(token)[1] == record.id
    assert keyring.verify_access_token(token).token_id == record.id
    pure_calls = max(1, args.calls // 10)
    calls = args.calls

    # Short chunks, interleaved, many rounds: on a shared machine the fastest
    # chunk of each method is the one least disturbed by other processes.
    methods: dict[str, Callable[[], float]] = {
        "core": lambda: core(keyring, token, calls) / calls,
        "core_lent": lambda: core(keyring, token, calls, lent=True) / calls,
        "binding": lambda: per_call_ns(keyring.verify_access_token, token, calls),
        "empty": lambda: empty_loop_ns(calls),
        "len": lambda: per_call_ns(len, token, calls),
        "pure": lambda: per_call_ns(pure.verify_access_token, token, pure_calls),
    }
    results: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, method in methods.items():
            results[name].append(method())
    best = {k: min(v) for k, v in results.items()}
    median = {k: statistics.median(v) for k, v in results.items()}

    def row(label: str, key: str) -> str:
        return f"  {label:<52} {best[key]:8.1f}  [{median[key]:.1f}]"

    print(f"whatsgate-auth {whatsgate_auth.__version__}: verify one valid token, keyring of {args.tokens}")
    print(f"fastest of {args.rounds} interleaved chunks (median in brackets), ns per verification")
    print(row("Rust core, Keyring::authenticate (owned Principal)", "core"))
    print(row("Rust core, Keyring::authenticate_with (lent, floor)", "core_lent"))
    print(row("binding, Keyring.verify_access_token", "binding"))
    print(row("pure Python (hashlib + hmac + dict)", "pure"))
    print(row("Python loop, empty (per iteration)", "empty"))
    print(row("Python loop calling len(value)", "len"))
    print(f"binding is {best['pure'] / best['binding']:.1f}x faster than pure Python (target >= 8x)")
    above = best["binding"] - best["core"]
    print(f"binding is {above:.1f} ns above the core doing the same work (target <= 40 ns)")
    print(
        f"binding is {best['binding'] - best['core_lent']:.1f} ns above the core's floor; "
        f"a Python loop calling len() costs {best['len']:.1f} ns of that"
    )


if __name__ == "__main__":
    main()
