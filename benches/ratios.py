#!/usr/bin/env python3
"""Prints the ratio table of one criterion run of benches/benches/verify.rs.

Reads the medians criterion wrote under CRITERION_HOME (default
target/criterion) and prints one Markdown table: ours / floor (one SHA-256
compression), peer / ours (our hot verify), and the 2-thread speed-up, each
with its target. The latency floors (a hash waiting for the previous one, a
load waiting for the previous one) are context for reading the ratios, not
units of them. Exits 0 even when a target is missed: it reports, the
reader judges (the machine is shared and noisy).
"""
import json
import os
import pathlib
import platform
import sys

home = pathlib.Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CRITERION_HOME", "target/criterion")
)


def median_ns(group: str, name: str):
    path = home / group / name / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def fmt_time(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.2f}×"


sha = median_ns("floor", "sha256_block")
hot = median_ns("ours", "verify_hot_valid")
rows = []
missed = []


def row(label, ns, ratio, unit, target=None, ok=None):
    verdict = "" if ok is None else ("met" if ok else "**missed**")
    if ok is False:
        missed.append(label)
    rows.append((label, fmt_time(ns), fmt_ratio(ratio), unit, target or "", verdict))


def vs_sha(name, label, limit=None):
    ns = median_ns("ours", name)
    r = ns / sha if ns is not None and sha else None
    target = f"≤ {limit}× SHA block" if limit else None
    ok = (r <= limit) if (limit and r is not None) else None
    row(label, ns, r, "of SHA-256 block", target, ok)


row("SHA-256, one block (sha2 `compress256`)", sha, 1.0 if sha else None, "floor")


def floor_row(name, label):
    ns = median_ns("floor", name)
    row(label, ns, ns / sha if ns and sha else None, "of SHA-256 block")


floor_row("hashmap_100k_lookup", "std `HashMap` lookup, 100k entries, random order")
floor_row("sha256_block_latency", "SHA-256, one block, waiting for the previous one (latency)")
for mib in (1, 8, 16, 64, 128):
    floor_row(f"dependent_load_{mib}mib", f"one load waiting for the previous one, {mib} MiB working set")
gen = median_ns("ours", "generate_os_rng")
row("generate (OS RNG)", gen, gen / sha if gen and sha else None, "of SHA-256 block", "≤ 2 µs", gen <= 2000 if gen else None)
vs_sha("generate_chacha20", "generate (ChaCha20 RNG)")
vs_sha("parse", "parse (ct base64url + ct CRC-32)")
vs_sha("verify_hot_valid", "`Keyring::verify`, valid, hot")
vs_sha("verify_with_hot_valid", "`Keyring::verify_with` (principal lent; the bindings' path), valid, hot", 2.0)
vs_sha("verify_wrong_secret", "`Keyring::verify`, wrong secret")
vs_sha("verify_bad_checksum", "`Keyring::verify`, bad checksum")
vs_sha("verify_garbage", "`Keyring::verify`, garbage (wrong length)")
vs_sha("authenticate_mcp_hot", "`Keyring::authenticate`, mcp header, hot")
vs_sha("record_accepts_hot_valid", "`parse` + `TokenRecord::accepts` (host keeps the records), valid, hot")
vs_sha("verify_cycle_1k", "verify cycling over 1k records")
vs_sha("verify_cycle_100k", "verify cycling over 100k records")
vs_sha("verify_cycle_1m", "verify cycling over 1M records")


def beyond_hot(name, label, floor_mib, limit):
    """(cycling − hot) in units of one dependent DRAM load (a chase over
    128 MiB, far beyond the cache): what the records cost beyond the hash."""
    ns = median_ns("ours", name)
    load = median_ns("floor", f"dependent_load_{floor_mib}mib")
    r = (ns - hot) / load if ns and hot and load else None
    row(label, ns - hot if ns and hot else None, r,
        f"dependent loads ({floor_mib} MiB) beyond hot verify",
        f"≤ {limit}", r <= limit if r is not None else None)


beyond_hot("verify_cycle_100k", "verify cycling over 100k records, beyond hot verify", 128, 1.2)
beyond_hot("verify_cycle_1m", "verify cycling over 1M records, beyond hot verify", 128, 1.2)
t1 = median_ns("threads", "verify_100k_1_thread")
t2 = median_ns("threads", "verify_100k_2_threads")
speedup = t1 / t2 if t1 and t2 else None
row("throughput, 100k records, 1 thread (time per verify)", t1, t1 / sha if t1 and sha else None, "of SHA-256 block")
row("throughput, 100k records, 2 threads (time per verify)", t2, speedup, "speed-up over 1 thread", "≥ 1.8×", speedup >= 1.8 if speedup else None)
s1 = median_ns("threads", "verify_same_token_1_thread")
s2 = median_ns("threads", "verify_same_token_2_threads")
same = s1 / s2 if s1 and s2 else None
row("throughput, one token verified by every thread, 1 thread (owned principal)", s1, s1 / sha if s1 and sha else None, "of SHA-256 block")
row("throughput, one token verified by every thread, 2 threads", s2, same, "speed-up over 1 thread", "≥ 1.8×", same >= 1.8 if same else None)
for name, label in [
    ("naive_hot_valid", "naive (table base64 + CRC, SipHash map, `==`), valid"),
    ("naive_wrong_secret", "naive, wrong secret"),
    ("prefixed_api_key_hot_valid", "`prefixed-api-key` 0.3 `check_hash`, valid"),
    ("argon2id_hot_valid", "Argon2id (19 MiB, t=2) key hash, valid"),
]:
    ns = median_ns("peer", name)
    row(label, ns, ns / hot if ns and hot else None, "of our hot verify")

cpu = "unknown CPU"
flags = ""
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and cpu == "unknown CPU":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line
except OSError:
    pass
sha_ni = "SHA-NI" if " sha_ni" in flags else "no SHA-NI"
load = " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
kernels = os.environ.get("WHATSGATE_KERNELS", "kernels not reported")
print(f"Machine: {cpu}, {os.cpu_count()} CPUs, {sha_ni}, {platform.system()} {platform.release()}; load average {load}; {kernels}")
print()
print("| measurement | median | ratio | unit | target | |")
print("|---|---:|---:|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("Targets missed: " + (", ".join(missed) if missed else "none"))
