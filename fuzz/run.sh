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
targets=${TARGETS:-"parse roundtrip headers keyring c_api store_apply"}

# Executions a target must reach to count as having run. store_apply opens a
# SQLite store and starts a follower per input: its floor is lower.
min_execs() {
  case $1 in
    store_apply) echo "${MIN_EXECS_STORE:-100}" ;;
    *) echo "${MIN_EXECS:-1000}" ;;
  esac
}
# libFuzzer options of one target. store_apply reads a byte, then 3 per op: long
# inputs from the start (48 ops), or it spends its time on 1- and 2-op runs.
target_args() {
  case $1 in
    store_apply) echo "-max_len=145 -len_control=0" ;;
  esac
}

python3 seed.py
cargo +nightly fuzz build -O
for target in $targets; do
  mkdir -p "corpus/$target" "artifacts/$target"
  echo "==> fuzz $target for ${seconds} s"
  log="artifacts/$target/last-run.log"
  # shellcheck disable=SC2046 # target_args is a list of options
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -dict=whatsgate.dict -max_total_time="$seconds" -print_final_stats=1 \
      $(target_args "$target") "$@" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: target $target FAILED (log: fuzz/$log)" >&2
    exit 1
  fi
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1)
  # A target that barely ran proves nothing (e.g. an input it rejects at once).
  if [ "${execs:-0}" -lt "$(min_execs "$target")" ]; then
    tail -n 20 "$log"
    echo "fuzz: target $target ran only ${execs:-0} executions" >&2
    exit 1
  fi
  echo "    $target: $execs executions, no crash"
done
