#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 30), seeded from the
# shared vectors, and fails on the first crash. Extra arguments go to
# libFuzzer, e.g. `fuzz/run.sh 600 -jobs=2` or a target list via TARGETS.
#   fuzz/run.sh [seconds] [libFuzzer args...]
# Crashes land in fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-…
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=${TARGETS:-"parse roundtrip headers keyring c_api"}

python3 seed.py
cargo +nightly fuzz build -O
for target in $targets; do
  mkdir -p "corpus/$target" "artifacts/$target"
  echo "==> fuzz $target for ${seconds} s"
  log="artifacts/$target/last-run.log"
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -dict=whatsgate.dict -max_total_time="$seconds" -print_final_stats=1 "$@" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: target $target FAILED (log: fuzz/$log)" >&2
    exit 1
  fi
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1)
  # A target that barely ran proves nothing (e.g. an input it rejects at once).
  if [ "${execs:-0}" -lt "${MIN_EXECS:-1000}" ]; then
    tail -n 20 "$log"
    echo "fuzz: target $target ran only ${execs:-0} executions" >&2
    exit 1
  fi
  echo "    $target: $execs executions, no crash"
done
