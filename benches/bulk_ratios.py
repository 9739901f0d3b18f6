#!/usr/bin/env python3
"""Prints the ratios of one criterion run of benches/benches/bulk_load.rs.

Each way of loading a keyring, per record and in all, against the floor
measured in the same run: one `Keyring::replace` per record into a new
keyring (what a store follower did before the bulk load). Reads the
medians under CRITERION_HOME (default target/criterion); reports, asserts
nothing.
"""
import json
import os
import pathlib
import sys

home = pathlib.Path(
    sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CRITERION_HOME", "target/criterion")
)


def median_ns(group, name):
    path = home / group / name / "new" / "estimates.json"
    try:
        return json.loads(path.read_text())["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


print("| records | load | median | per record | ÷ per-record replace (floor) |")
print("|---:|---|---:|---:|---:|")
for group, n in (("bulk_load_100k", 100_000), ("bulk_load_1m", 1_000_000)):
    floor = median_ns(group, "per_record_replace")
    for name in ("per_record_replace", "per_record_insert", "from_records", "replace_all_unchanged"):
        ns = median_ns(group, name)
        if ns is None:
            continue
        ratio = f"{ns / floor:.2f}×" if floor else "n/a"
        print(f"| {n:,} | `{name}` | {ns / 1e6:.1f} ms | {ns / n:.0f} ns | {ratio} |")
