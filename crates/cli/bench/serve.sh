#!/usr/bin/env bash
# Benchmark (not a test): authenticated requests per second through
# `wgauth serve` over loopback, next to the same server with authentication
# switched off (the hidden `serve --no-auth` flag: same routes, same
# handler, no AuthLayer). Runs wrk (Debian's package) against the seed's
# example request, `POST /api/send/text` with its JSON body, alternating the
# two servers ROUNDS times, and reports medians and their ratio.
#
#   crates/cli/bench/serve.sh                 # 7 rounds of 2 s runs
#   ROUNDS=11 SECONDS_EACH=3 crates/cli/bench/serve.sh
#
# Loopback only, bounded: ROUNDS x 3 runs of SECONDS_EACH seconds.
set -euo pipefail
cd "$(dirname "$0")/../../.."

rounds=${ROUNDS:-7}
seconds=${SECONDS_EACH:-2}
connections=${CONNECTIONS:-32}
threads=${THREADS:-1}

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1
fi
cargo build --release -q -p whatsgate-auth-cli
bin="${CARGO_TARGET_DIR:-target}/release/wgauth"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

db="$tmp/bench.db"
export TOKEN
TOKEN=$("$bin" --db "$db" token create --account bench --name bench 2>/dev/null)
# Realistic keyring size: the token under test among 999 others.
for i in $(seq 1 999); do
  "$bin" --db "$db" token create --account "acct_$((i % 50))" --name "t$i" >/dev/null 2>&1
done

cat > "$tmp/seed.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/api/send/text"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if os.getenv("SEND_TOKEN") == "1" then wrk.headers["Access-Token"] = token end
wrk.body = '{\n    "sender_device": "123456789",\n    "phone": "987654321",\n    "message": "Hello, this is a test message"\n}'
LUA

# start VAR ARGS...: starts a server, sets VAR to its address.
start() {
  local var=$1 log="$tmp/err.$1" addr=
  shift
  "$bin" --db "$db" serve --listen 127.0.0.1:0 "$@" 2>"$log" >/dev/null &
  pids+=($!)
  for _ in $(seq 100); do
    addr=$(grep -o 'serving http://[0-9.:]*' "$log" | head -1 | sed 's|serving http://||') || true
    if [[ -n "$addr" ]]; then printf -v "$var" '%s' "$addr"; return 0; fi
    sleep 0.1
  done
  echo "server did not start: $(cat "$log")" >&2
  exit 1
}

# run LABEL ADDR SEND_TOKEN EXPECT -> prints requests/s
run() {
  local out
  out=$(SEND_TOKEN=$3 wrk -t"$threads" -c"$connections" -d"${seconds}s" -s "$tmp/seed.lua" "http://$2")
  if [[ $4 == ok ]] && grep -q "Non-2xx" <<<"$out"; then
    echo "$1: unexpected non-2xx responses:" >&2; echo "$out" >&2; exit 1
  fi
  if [[ $4 == refused ]] && ! grep -q "Non-2xx" <<<"$out"; then
    echo "$1: expected 403s, got none" >&2; exit 1
  fi
  awk '/Requests\/sec/ {print int($2)}' <<<"$out"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Both servers run throughout (an idle one costs nothing); the runs alternate,
# so drifting load on the machine hits both alike.
start plain --no-auth
start guarded
noauth=() auth=() refused=() ratios=()
for r in $(seq "$rounds"); do
  noauth+=("$(run no-auth "$plain" 0 ok)")
  auth+=("$(run authenticated "$guarded" 1 ok)")
  refused+=("$(run refused "$guarded" 0 refused)")
  ratios+=("$(awk -v a="${auth[-1]}" -v n="${noauth[-1]}" 'BEGIN {printf "%.3f", a / n}')")
  echo "round $r: no-auth ${noauth[-1]}/s, authenticated ${auth[-1]}/s (ratio ${ratios[-1]}), refused (no token) ${refused[-1]}/s"
done
n=$(printf '%s\n' "${noauth[@]}" | median)
a=$(printf '%s\n' "${auth[@]}" | median)
f=$(printf '%s\n' "${refused[@]}" | median)
echo "median over $rounds rounds ($seconds s each, $connections connections, wrk -t$threads, 1000 tokens):"
echo "  no authentication (floor):   $n requests/s"
echo "  authenticated (200):         $a requests/s"
echo "  refused, no token (403):     $f requests/s"
awk -v a="$a" -v n="$n" 'BEGIN {printf "  ratio of the medians, authenticated / no-auth: %.3f\n", a / n}'
echo "  median of the per-round ratios:               $(printf '%s\n' "${ratios[@]}" | median)"
