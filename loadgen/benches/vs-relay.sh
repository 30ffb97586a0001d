#!/usr/bin/env bash
# loadgen end to end, beside the bare relay baseline, in one run (issue 4's benchmark):
#
#   1. the bare baseline: server-mock's forwarding driver against a minimal tokio TCP relay
#      (one message in flight per direction of each pair: every message is its own write and
#      read, as loadgen's users' are; no acks, as 10k.toml's chatting users send none);
#   2. `loadgen scenarios/10k.toml` against server-mock (fishchat) in a second process, at each
#      total rate given: delivered messages/s, send->deliver p99, loadgen CPU per 1,000 messages
#      and RSS per user;
#   3. beside each, the floor under loadgen's CPU: `paced_floor` (the same connections at the
#      same pace through the bare relay, no protocol, marker, ledger or histograms).
#
#   loadgen/benches/vs-relay.sh [USERS] [SECONDS] [RATES...]   # defaults: 10000 30 20000 75000
#
# Everything binds 127.0.0.1 port 0; every process is killed on exit. Results go to
# target/bench-vs-relay/ (one JSON per loadgen run) and a table on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
USERS=${1:-10000}
SECS=${2:-30}
shift $(( $# < 2 ? $# : 2 ))
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(20000 75000)
OUT=${BENCH_OUT:-target/bench-vs-relay}
mkdir -p "$OUT"

cargo build --release -q -p imkit-server-mock -p imkit-loadgen --bin server-mock --bin loadgen \
  --example baseline_relay --example forward_bench --example paced_floor
# shellcheck source=server-mock/benches/servers.sh
source server-mock/benches/servers.sh

start baseline-tcp "$OUT/relay.log" "$EX/baseline_relay" tcp 127.0.0.1:0
"$EX/forward_bench" --protocol raw-tcp --target "$URL" --server-pid "$PID" \
  --pairs $((USERS / 2)) --seconds "$SECS" --window 1 --raw-acks false >"$OUT/relay.json"
kill "$PID"
sleep 2

for rate in "${RATES[@]}"; do
  start baseline-tcp "$OUT/relay-$rate.log" "$EX/baseline_relay" tcp 127.0.0.1:0
  "$EX/paced_floor" --target "$URL" --pairs $((USERS / 2)) --seconds "$SECS" \
    --rate "$(python3 -c "print($rate / $USERS)")" >"$OUT/floor-$rate.json"
  kill "$PID"
  sleep 2
  start fishchat "$OUT/mock-$rate.log" "$BIN/server-mock" --listen fishchat=127.0.0.1:0
  "$BIN/loadgen" scenarios/10k.toml --target "$URL" --users "$USERS" --duration "${SECS}s" \
    --rate "total:$rate/s" -q --json "$OUT/loadgen-$rate.json" >"$OUT/loadgen-$rate.txt" 2>&1 || true
  kill "$PID"
  sleep 2
done

python3 - "$OUT" "${RATES[@]}" <<'PY'
import json, sys
out, rates = sys.argv[1], sys.argv[2:]
relay = json.load(open(f"{out}/relay.json"))
base = relay["forwarded_per_second"]
print()
print("| run | offered msgs/s | delivered msgs/s | ratio to bare relay | send->deliver p99 | loadgen CPU per 1,000 msgs | floor (kernel + tokio) | RSS per user | ledger |")
print("|---|---|---|---|---|---|---|---|---|")
print(f'| bare TCP relay + driver ({relay["connections"]:,} conns, 1 in flight) | - | {base:,.0f} | 100% | - | - | - | - | - |')
for rate in rates:
    try:
        r = json.load(open(f"{out}/loadgen-{rate}.json"))
    except (OSError, ValueError):
        print(f"| loadgen total:{rate}/s | {int(rate):,} | (no result: see {out}/loadgen-{rate}.txt) |")
        continue
    try:
        f = json.load(open(f"{out}/floor-{rate}.json"))
        floor = f'{f["cpu_ms_per_1000_messages"]:.1f} ms ({f["user_ms_per_1000_messages"]:.1f} user + {f["system_ms_per_1000_messages"]:.1f} sys)'
    except (OSError, ValueError, KeyError):
        floor = "-"
    # Delivered per second while every user was online (the hold), from the timeline.
    top = r["users"]["max_online"]
    held = [t["delivered_per_s"] for t in r["timeline"] if t["users_online"] == top][1:-1]
    delivered = sum(held) / len(held) if held else 0
    l = r["ledger"]
    ledger = f'{l["lost"]} lost, {l["duplicated"]} dup, {l["reordered"]} reord, {l["misdelivered"]} misdel of {l["delivered"]:,}'
    print(f'| loadgen total:{rate}/s ({r["users"]["max_online"]:,} users) | {int(rate):,} | {delivered:,.0f} | {delivered / base:.0%} | '
          f'{r["steps"]["deliver"]["p99_us"] / 1000:.2f} ms | {r["cpu_ms_per_1000_messages"]:.1f} ms | {floor} | {r["rss_kib_per_user"]:.1f} KiB | {ledger} |')
PY
