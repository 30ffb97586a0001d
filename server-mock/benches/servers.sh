# Sourced by the benchmark scripts: servers started in the background, all killed on exit.
BIN=target/release
EX=target/release/examples
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# Start a server in the background and wait (up to 30 s) for its `listening <name> <url>`
# line; sets URL and PID (no subshell, so the cleanup list sees the pid). Returns 1, saying
# why, when the server does not come up.
start() { # name, log, command...
  local name=$1 log=$2; shift 2
  "$@" >"$log" 2>"$log.err" &
  PID=$!
  pids+=("$PID")
  URL=
  for _ in $(seq 300); do
    URL=$(grep -s "^listening $name " "$log" | head -1 | awk '{print $3}' || true)
    if [ -n "$URL" ] || ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$URL" ]; then
    echo "$name did not start within 30 s: $(tail -3 "$log.err")" >&2
    kill "$PID" 2>/dev/null || true
    return 1
  fi
}
