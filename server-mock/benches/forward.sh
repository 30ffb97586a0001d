#!/usr/bin/env bash
# Forwarding benchmark (issue 3): server-mock holding N connections and forwarding chat-json
# and fishchat traffic driven from a second process, beside a bare tokio relay over the same
# transport, in the same run. Prints one JSON line per run and a table with the ratios.
#
#   server-mock/benches/forward.sh [PAIRS] [SECONDS] [WINDOW] [ROUNDS]
#
# Defaults: 5000 pairs (10,000 connections), 10 s, 8 messages in flight per direction of a
# pair, 3 rounds. WINDOW=1 makes every message its own write and read (the shape of a chat
# user's traffic).
#
# This machine is shared and noisy: a relay's own figure moves by up to 20% between runs. So
# each server is run right beside its like-for-like relay (which goes first alternates from
# round to round), each ratio is taken within its round, and the table gives the median over
# the rounds with the lowest and highest. The last column is the share of the machine's CPU
# time the hypervisor gave to other guests while each run measured (steal, /proc/stat): when
# it is high, no figure of that run means much.
#
# SERVER_MOCK=path/to/server-mock measures another build (say, of an earlier commit) beside
# the same relays, for an A/B in the same quiet (or noisy) hour.
#
# Everything binds 127.0.0.1 port 0; every process is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${1:-5000}
SECONDS_MEASURED=${2:-10}
WINDOW=${3:-8}
ROUNDS=${4:-3}
OUT=${BENCH_OUT:-target/bench-forward}
mkdir -p "$OUT"

cargo build --release -q -p imkit-server-mock --bin server-mock --example baseline_relay --example forward_bench
# shellcheck source=server-mock/benches/servers.sh
source server-mock/benches/servers.sh
MOCK=${SERVER_MOCK:-$BIN/server-mock}

ROUND=0
# A server that does not start is reported (by `start`) and its run left out.
run() { # protocol [forward_bench args]
  local protocol=$1; shift
  # A run that fails (the machine refusing connections while 10,000 come in) is reported
  # and left out of the table; the other rounds still count.
  if ! "$EX/forward_bench" --protocol "$protocol" --target "$URL" --server-pid "$PID" \
    --pairs "$PAIRS" --seconds "$SECONDS_MEASURED" --window "$WINDOW" "$@" \
    | sed "s/^{/{\"round\":$ROUND,/" | tee -a "$OUT/results.jsonl"; then
    echo "round $ROUND: $protocol $* failed; left out" >&2
  fi
  kill "$PID" 2>/dev/null || true
  sleep 2
}

# Like for like: the relay also answers each message to its sender (as chat-json answers a
# DIALOGUE with its msgId), so it moves the same frames per message as chat-json; and it
# sends each connection a ping-sized frame at chat-json's heartbeat period, which the driver
# answers as it answers a PING, so it moves the same frames per second too.
relay_500ms() {
  start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0 500 || return 0
  run raw-ws --label replies-keepalive-500ms
}
chat_v1() {
  start chat-json "$OUT/mock-chat.log" "$MOCK" --listen chat-json=127.0.0.1:0 || return 0
  run chat-json
}
relay_3s() {
  start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0 3000 || return 0
  run raw-ws --label replies-keepalive-3s
}
# The same with v2's heartbeat (PING every 3 s, not v1's 500 ms).
chat_v2() {
  start chat-json "$OUT/mock-chat.log" "$MOCK" --listen chat-json=127.0.0.1:0 \
    --chat-ping-interval 3s --chat-max-wait 20s || return 0
  run chat-json --label v2-heartbeat
}
# Like for like: receivers send an ack-sized frame per delivery, as fishchat receivers send
# P2P_ACK.
relay_tcp_acks() {
  start baseline-tcp "$OUT/relay-tcp.log" "$EX/baseline_relay" tcp 127.0.0.1:0 || return 0
  run raw-tcp --raw-acks true
}
fishchat() {
  start fishchat "$OUT/mock-fish.log" "$MOCK" --listen fishchat=127.0.0.1:0 || return 0
  run fishchat
}
# For reference: the WebSocket relay without keepalive, its best case (one frame per
# message), and the TCP relay without acks.
references() {
  start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws-replies 127.0.0.1:0 || return 0
  run raw-ws --label replies
  start baseline-ws "$OUT/relay-ws.log" "$EX/baseline_relay" ws 127.0.0.1:0 || return 0
  run raw-ws
  start baseline-tcp "$OUT/relay-tcp.log" "$EX/baseline_relay" tcp 127.0.0.1:0 || return 0
  run raw-tcp --raw-acks false
}

: >"$OUT/results.jsonl"
for ROUND in $(seq "$ROUNDS"); do
  if [ $((ROUND % 2)) = 1 ]; then
    relay_500ms; chat_v1; relay_3s; chat_v2; relay_tcp_acks; fishchat
  else
    chat_v1; relay_500ms; chat_v2; relay_3s; fishchat; relay_tcp_acks
  fi
  references
done

python3 server-mock/benches/forward_table.py "$OUT/results.jsonl"
