#!/usr/bin/env bash
# Instructions per forwarded message (issue 3's forwarding path), counted by callgrind:
# server-mock and the bare relay each run under `valgrind --tool=callgrind` while
# forward_bench drives them natively; the counts are zeroed as the measured window opens and
# dumped as it closes (`forward_bench --callgrind`). Unlike messages per second, the count
# does not move with what else the machine runs (steal, noisy neighbours), so a change to the
# per-message path shows as a number that is the same run after run.
#
#   server-mock/benches/instructions.sh [PAIRS] [SECONDS] [WINDOW]
#
# Defaults: 200 pairs, 10 s, window 8. Heartbeats are off on both sides (chat-json PINGs
# every hour, the relay keeps no keepalive): under valgrind a server forwards some 20 times
# fewer messages per second, and a per-second cost would weigh 20 times as much per message.
# Counts are user-space instructions only: the kernel's share of a message (about half of
# its CPU time, see the README) is not in them, so a ratio here is not a throughput ratio.
#
# WARMUP=seconds (default 2) runs the traffic that long before the counts are zeroed: under
# valgrind a connection forwards some 20 times fewer messages per second, so with a short
# warm-up its buffers are still growing in the measured window (20 gives the steady state).
#
# CALLGRIND_ARGS=--cache-sim=yes also simulates the caches and reports the data misses per
# message (of the first and last level). SERVER_MOCK=path/to/server-mock measures another build (say, of an earlier commit) with
# this driver: an A/B of two builds gives two counts that can be compared as they are.
#
# Needs valgrind (Debian: `apt-get install valgrind`). Binds 127.0.0.1 port 0 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${1:-200}
SECONDS_MEASURED=${2:-10}
WINDOW=${3:-8}
OUT=${BENCH_OUT:-target/bench-instructions}
command -v valgrind >/dev/null || {
  echo "instructions.sh needs valgrind: apt-get install valgrind" >&2
  exit 2
}
mkdir -p "$OUT"
rm -f "$OUT"/*.out*

cargo build --release -q -p imkit-server-mock --bin server-mock --example baseline_relay --example forward_bench
# shellcheck source=server-mock/benches/servers.sh
source server-mock/benches/servers.sh
MOCK=${SERVER_MOCK:-$BIN/server-mock}

measure() { # label protocol listen-name server-command... -- driver-args...
  local label=$1 protocol=$2 name=$3; shift 3
  local server=()
  while [ "$1" != "--" ]; do server+=("$1"); shift; done
  shift
  # shellcheck disable=SC2086 # CALLGRIND_ARGS is a list of options
  start "$name" "$OUT/$label.log" valgrind --tool=callgrind --callgrind-out-file="$OUT/$label.%p.out" \
    ${CALLGRIND_ARGS:-} "${server[@]}" || return 0
  local json
  json=$("$EX/forward_bench" --protocol "$protocol" --target "$URL" --server-pid "$PID" \
    --pairs "$PAIRS" --seconds "$SECONDS_MEASURED" --window "$WINDOW" --warmup "${WARMUP:-2}" \
    --callgrind "$@")
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  echo "$json" | python3 -c "
import json, sys
r = json.load(sys.stdin)
dump = open('$OUT/$label.$PID.out.1').read().splitlines()
names = next(l.split()[1:] for l in dump if l.startswith('events:'))
# callgrind leaves out trailing zero counts (no last-level miss at all, say)
summary = next(l.split()[1:] for l in dump if l.startswith('summary:'))
counts = dict(zip(names, list(map(int, summary)) + [0] * len(names)))
n = max(r['forwarded'], 1)
row = {'label': '$label', 'instructions': counts['Ir'], 'forwarded': r['forwarded'],
       'instructions_per_message': round(counts['Ir'] / n)}
if 'DLmr' in counts:  # --cache-sim=yes: simulated data misses of the last-level cache
    row['ll_data_misses_per_message'] = round((counts['DLmr'] + counts['DLmw']) / n, 1)
    row['l1_data_misses_per_message'] = round((counts['D1mr'] + counts['D1mw']) / n, 1)
print(json.dumps(row))
" | tee -a "$OUT/results.jsonl"
}

: >"$OUT/results.jsonl"
measure relay-ws raw-ws baseline-ws "$EX/baseline_relay" ws-replies 127.0.0.1:0 -- --label replies
measure chat-json chat-json chat-json "$MOCK" --listen chat-json=127.0.0.1:0 \
  --chat-ping-interval 1h --chat-max-wait 2h --
measure relay-tcp-acks raw-tcp baseline-tcp "$EX/baseline_relay" tcp 127.0.0.1:0 -- --raw-acks true
measure fishchat fishchat fishchat "$MOCK" --listen fishchat=127.0.0.1:0 --

python3 - "$OUT/results.jsonl" <<'EOF'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
cache = any("ll_data_misses_per_message" in r for r in rows.values())
print(f"\n{'server':<16} {'instructions/msg':>17} {'vs relay':>9}"
      + (f" {'L1 misses/msg':>14} {'LL misses/msg':>14}" if cache else ""))
for label, relay in [("relay-ws", None), ("chat-json", "relay-ws"),
                     ("relay-tcp-acks", None), ("fishchat", "relay-tcp-acks")]:
    if label not in rows:
        print(f"{label:<16} {'(no run)':>17}")
        continue
    per = rows[label]["instructions_per_message"]
    ratio = f"{per / rows[relay]['instructions_per_message']:.2f}x" if relay in rows else ""
    misses = (f" {rows[label].get('l1_data_misses_per_message', ''):>14}"
              f" {rows[label].get('ll_data_misses_per_message', ''):>14}") if cache else ""
    print(f"{label:<16} {per:>17,} {ratio:>9}{misses}")
EOF
