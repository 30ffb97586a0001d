# Sourced by the benchmark scripts: servers started in the background, all killed on exit.
BIN=target/release
EX=target/release/examples
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Start a server in the background and wait for its `listening <name> <url>` line;
# sets URL and PID (no subshell, so the cleanup list sees the pid).
start() { # name, log, command...
  local name=$1 log=$2; shift 2
  "$@" >"$log" 2>"$log.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 100); do
    if grep -q "^listening $name " "$log"; then break; fi
    sleep 0.1
  done
  URL=$(grep "^listening $name " "$log" | head -1 | awk '{print $3}')
  [ -n "$URL" ] || { echo "$name did not start: $(cat "$log.err")" >&2; exit 1; }
}
