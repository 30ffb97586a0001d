#!/usr/bin/env bash
# Forwarding benchmark (issue 3): server-mock holding N connections and forwarding chat-json
# and fishchat traffic driven from a second process, beside a bare tokio relay over the same
# transport, in the same run. Prints one JSON line per run and a table with the ratios.
#
#   server-mock/benches/forward.sh [PAIRS] [SECONDS] [WINDOW]
#
# Defaults: 5000 pairs (10,000 connections), 10 s, 8 messages in flight per direction of a pair.
# WINDOW=1 makes every message its own write and read (the shape of a chat user's traffic).
#
# Everything binds 127.0.0.1 port 0; every process is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${1:-5000}
SECONDS_MEASURED=${2:-10}
WINDOW=${3:-8}
OUT=${BENCH_OUT:-target/bench-forward}
mkdir -p "$OUT"

cargo build --release -q -p imkit-server-mock --bin server-mock --example baseline_relay --example forward_bench
# shellcheck source=server-mock/benches/servers.sh
source server-mock/benches/servers.sh

run() { # protocol [forward_bench args]
  local protocol=$1; shift
  "$EX/forward_bench" --protocol "$protocol" --target "$URL" --server-pid "$PID" \
    --pairs "$PAIRS" --seconds "$SECONDS_MEASURED" --window "$WINDOW" "$@" | tee -a "$OUT/results.jsonl"
  kill "$PID"
  sleep 2
}

: >"$OUT/results.jsonl"
# Like for like: the relay also answers each message to its sender (as chat-json answers a
# DIALOGUE with its msgId), so it moves the same frames per message as chat-json; and it
# sends each connection a ping-sized frame at chat-json's heartbeat period, which the driver
# answers as it answers a PING, so it moves the same frames per second too. The same relay
# without the keepalive, and its best case (one frame per message), are run and printed too.
start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0 500
run raw-ws --label replies-keepalive-500ms
start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0 3000
run raw-ws --label replies-keepalive-3s
start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0
run raw-ws --label replies
start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws 127.0.0.1:0
run raw-ws
start chat-json "$OUT/mock-chat.log" "$BIN/server-mock" --listen chat-json=127.0.0.1:0
run chat-json
# The same with v2's heartbeat (PING every 3 s, not v1's 500 ms).
start chat-json "$OUT/mock-chat.log" "$BIN/server-mock" --listen chat-json=127.0.0.1:0 \
  --chat-ping-interval 3s --chat-max-wait 20s
run chat-json --label v2-heartbeat
# Like for like: receivers send an ack-sized frame per delivery, as fishchat receivers send
# P2P_ACK. The relay's best case (one frame per message) is run and printed too.
start baseline-tcp "$OUT/relay-tcp.log" "$EX/baseline_relay" tcp 127.0.0.1:0
run raw-tcp --raw-acks true
start baseline-tcp "$OUT/relay-tcp.log" "$EX/baseline_relay" tcp 127.0.0.1:0
run raw-tcp --raw-acks false
start fishchat "$OUT/mock-fish.log" "$BIN/server-mock" --listen fishchat=127.0.0.1:0
run fishchat

python3 - "$OUT/results.jsonl" <<'PY'
import json, sys
def key(r):
    if r.get("label"):
        return r["protocol"] + ":" + r["label"]
    if r["protocol"] == "RawTcp" and not r.get("raw_acks", False):
        return "RawTcpNoAcks"
    return r["protocol"]
rows = {key(r): r for r in map(json.loads, open(sys.argv[1]))}
print()
# (transport, row, description, like-for-like relay, relay without keepalive, best-case relay)
table = (
    ("WebSocket", "RawWs:replies-keepalive-500ms", "bare relay, replies + keepalive every 500 ms (like for like with v1)", None, None, None),
    ("WebSocket", "RawWs:replies-keepalive-3s", "bare relay, replies + keepalive every 3 s (like for like with v2)", None, None, None),
    ("WebSocket", "RawWs:replies", "bare relay, replies, no keepalive", None, None, None),
    ("WebSocket", "RawWs", "bare relay, one frame per message (best case)", None, None, None),
    ("WebSocket", "ChatJson", "server-mock chat-json, v1 (PING every 500 ms)",
     "RawWs:replies-keepalive-500ms", "RawWs:replies", "RawWs"),
    ("WebSocket", "ChatJson:v2-heartbeat", "server-mock chat-json, v2's heartbeat (PING every 3 s)",
     "RawWs:replies-keepalive-3s", "RawWs:replies", "RawWs"),
    ("TCP", "RawTcp", "bare relay, receivers ack (like for like)", None, None, None),
    ("TCP", "RawTcpNoAcks", "bare relay, no acks (best case)", None, None, None),
    ("TCP", "Fishchat", "server-mock fishchat", "RawTcp", None, "RawTcpNoAcks"),
)
print("| transport | server | connections | forwarded msgs/s | vs like-for-like relay | vs relay without keepalive | vs best-case relay | server CPU µs/msg | driver CPU µs/msg | server RSS per idle connection |")
print("|---|---|---|---|---|---|---|---|---|---|")
for transport, k, name, like, bare, best in table:
    r = rows.get(k)
    if not r:
        continue
    def ratio(base):
        b = rows.get(base) if base else None
        return f'{r["forwarded_per_second"] / b["forwarded_per_second"]:.0%}' if b else "-"
    rss = r["server_rss_per_idle_connection_kib"]
    cpu = lambda who: f'{r[who]["cpu_us_per_message"]:.1f}' if r.get(who) else "-"
    print(f'| {transport} | {name} | {r["connections"]} | {r["forwarded_per_second"]:,.0f} | {ratio(like)} | {ratio(bare)} | {ratio(best)} | {cpu("server")} | {cpu("driver")} | {rss:.1f} KiB |')
PY
