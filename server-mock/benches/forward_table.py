"""The table of a forward.sh run, from its results.jsonl (one JSON line per driver run).

    python3 server-mock/benches/forward_table.py target/bench-forward/results.jsonl [MAX_STEAL]

A run is left out (and said so) when not every pair forwarded (on a stalled machine chat-json
logs out connections whose PONG came late, so MATCH pairs fewer) or when more than MAX_STEAL
percent (default 20) of the machine's CPU was stolen by other guests while it measured: such a
run measures the host, not the code. A round's ratio needs both of its runs.
"""
import json, statistics, sys
MAX_STEAL = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
def key(r):
    if r.get("label"):
        return r["protocol"] + ":" + r["label"]
    if r["protocol"] == "RawTcp" and not r.get("raw_acks", False):
        return "RawTcpNoAcks"
    return r["protocol"]
runs = {}  # key -> {round: result}
def left_out(r):
    pairs = r["connections"] // 2
    if r["pairs_forwarding"] < pairs:
        return f'{r["pairs_forwarding"]} of {pairs} pairs forwarded'
    steal = r.get("steal_percent")
    if steal is not None and steal > MAX_STEAL:
        return f"{steal:.0f}% of the CPU stolen by other guests"
    return None
for r in map(json.loads, open(sys.argv[1])):
    why = left_out(r)
    if why:
        print(f'left out: round {r.get("round", 1)}, {key(r)}: {why}')
        continue
    runs.setdefault(key(r), {})[r.get("round", 1)] = r
def spread(values, fmt):
    values = sorted(values)
    if not values:
        return "-"
    mid = fmt(statistics.median(values))
    return mid if len(values) == 1 else f"{mid} ({fmt(values[0])}–{fmt(values[-1])})"
pct = lambda x: f"{x:.0%}"
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
rounds = len({n for by_round in runs.values() for n in by_round})
print(f"median over {rounds} round(s), (lowest–highest); each ratio is taken within its round")
print()
print("| transport | server | connections | forwarded msgs/s | vs like-for-like relay | vs relay without keepalive | vs best-case relay | server CPU µs/msg | driver CPU µs/msg | server RSS per idle connection | CPU stolen by other guests |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for transport, k, name, like, bare, best in table:
    mine = runs.get(k)
    if not mine:
        continue
    def ratios(base):
        theirs = runs.get(base, {}) if base else {}
        return spread([r["forwarded_per_second"] / theirs[n]["forwarded_per_second"]
                       for n, r in mine.items() if n in theirs], pct)
    rs = list(mine.values())
    rate = spread([r["forwarded_per_second"] for r in rs], lambda x: f"{x:,.0f}")
    cpu = lambda who: spread([r[who]["cpu_us_per_message"] for r in rs if r.get(who)], lambda x: f"{x:.1f}")
    rss = spread([r["server_rss_per_idle_connection_kib"] for r in rs], lambda x: f"{x:.1f}")
    steal = spread([r["steal_percent"] / 100 for r in rs if r.get("steal_percent") is not None], pct)
    print(f'| {transport} | {name} | {rs[0]["connections"]} | {rate} | {ratios(like)} | {ratios(bare)} | {ratios(best)} | {cpu("server")} | {cpu("driver")} | {rss} KiB | {steal} |')
