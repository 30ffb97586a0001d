#!/usr/bin/env bash
# Forwarding benchmark (issue 3): server-mock holding N connections and forwarding chat-json
# and fishchat traffic driven from a second process, beside a bare tokio relay over the same
# transport, in the same run. Prints one JSON line per run and a table with the ratios.
#
#   server-mock/benches/forward.sh [PAIRS] [SECONDS]      # defaults: 5000 pairs (10,000 conns), 10 s
#
# Everything binds 127.0.0.1 port 0; every process is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${1:-5000}
SECONDS_MEASURED=${2:-10}
OUT=${BENCH_OUT:-target/bench-forward}
mkdir -p "$OUT"

cargo build --release -q -p imkit-server-mock --bin server-mock --example baseline_relay --example forward_bench
BIN=target/release
EX=target/release/examples
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Start a server in the background; wait for its `listening <name> <url>` line.
start() { # name, log, command...
  local name=$1 log=$2; shift 2
  "$@" >"$log" 2>"$log.err" &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q "^listening $name " "$log"; then break; fi
    sleep 0.1
  done
  grep "^listening $name " "$log" | head -1 | awk '{print $3}'
}

run() { # protocol, target, pid
  "$EX/forward_bench" --protocol "$1" --target "$2" --server-pid "$3" \
    --pairs "$PAIRS" --seconds "$SECONDS_MEASURED" | tee -a "$OUT/results.jsonl"
  sleep 2
}

: >"$OUT/results.jsonl"
ws_url=$(start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws 127.0.0.1:0)
run raw-ws "$ws_url" "${pids[-1]}"
kill "${pids[-1]}"

chat_url=$(start chat-json "$OUT/mock-chat.log" "$BIN/server-mock" --listen chat-json=127.0.0.1:0)
run chat-json "$chat_url" "${pids[-1]}"
kill "${pids[-1]}"

tcp_addr=$(start baseline-tcp "$OUT/relay-tcp.log" "$EX/baseline_relay" tcp 127.0.0.1:0)
run raw-tcp "$tcp_addr" "${pids[-1]}"
kill "${pids[-1]}"

fish_addr=$(start fishchat "$OUT/mock-fish.log" "$BIN/server-mock" --listen fishchat=127.0.0.1:0)
run fishchat "$fish_addr" "${pids[-1]}"
kill "${pids[-1]}"

python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
rows = {r["protocol"]: r for r in map(json.loads, open(sys.argv[1]))}
print()
print("| transport | server | connections | forwarded msgs/s | ratio to bare relay | server RSS per idle connection |")
print("|---|---|---|---|---|---|")
for base, mock, transport in (("RawWs", "ChatJson", "WebSocket"), ("RawTcp", "Fishchat", "TCP")):
    b, m = rows.get(base), rows.get(mock)
    for r, name in ((b, "bare relay"), (m, "server-mock " + (mock == "ChatJson" and "chat-json" or "fishchat"))):
        if not r: continue
        ratio = f'{r["forwarded_per_second"] / b["forwarded_per_second"]:.0%}' if b else "-"
        rss = r["server_rss_per_idle_connection_kib"]
        print(f'| {transport} | {name} | {r["connections"]} | {r["forwarded_per_second"]:,.0f} | {ratio} | {rss:.1f} KiB |')
PY
