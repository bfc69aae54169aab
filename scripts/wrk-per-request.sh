#!/usr/bin/env bash
# One endpoint under wrk's closed loop (2 threads, 100 keep-alive connections) against a fresh
# embedded `acgs serve` on free loopback ports, with the server's CPU time per request. The same
# body every time (answered from the server's caches after the first), as `acgs bench` sends it.
# Steadier than wall-clock figures on these shared cores: alternate two builds to compare them.
#   scripts/wrk-per-request.sh validate|review [SECONDS] [BINARY] [-- perf record arguments]
#   With arguments after --, the server is profiled meanwhile: `perf record ARGS -p PID`.
set -euo pipefail
cd "$(dirname "$0")/.."
endpoint=${1:?validate or review}
seconds=${2:-5}
acgs=${3:-$PWD/.build/release/acgs}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
[ -x "$acgs" ] || { echo "build first: swift build -c release --product acgs"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }

work=$(mktemp -d /tmp/acgs-wrk-XXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ai=$(port) auth=$(port) hitl=$(port) integrity=$(port)
key=$("$acgs" agent create wrk-agent --owner measuring --data-dir "$work/data" 2>/dev/null | sed -n 's/^api key //p')
ACGS_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64) ACGS_PORTS_CONSTITUTIONAL_AI=$ai ACGS_PORTS_AUTH=$auth \
    ACGS_PORTS_AGENT_HITL=$hitl ACGS_PORTS_INTEGRITY=$integrity "$acgs" serve --data-dir "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ai/health" >/dev/null && break; sleep 0.2; done

case $endpoint in
validate)
    url="http://127.0.0.1:$ai/api/v1/constitutional/validate"
    body='{"action":{"arguments":{"command":"ls -la /var/log && tail -n 50 app.log"},"tool":"bash","type":"shell"},"content":"List the recent application logs.","context":{"environment":"staging"}}' ;;
review)
    url="http://127.0.0.1:$hitl/api/v1/reviews"
    body='{"action":{"arguments":{"path":"/var/log/app.log"},"tool":"cat","type":"file_read"},"context":{"environment":"staging"},"reason":"read the application log"}' ;;
*) echo "validate or review"; exit 1 ;;
esac
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Constitutional-Hash"] = "cdd01ef066bc6cf2"
wrk.headers["Authorization"] = "Bearer $key"
LUA
wrk -t2 -c100 -d2s -s "$work/post.lua" "$url" >/dev/null  # warm-up
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
if [ $# -gt 0 ]; then perf record "$@" -p "$pid" >/dev/null 2>&1 & profiler=$!; fi
out=$(wrk -t2 -c100 -d"${seconds}s" --latency -s "$work/post.lua" "$url")
after=$(cpu)
if [ $# -gt 0 ]; then kill -INT "$profiler"; wait "$profiler" || true; fi
requests=$(echo "$out" | awk '/requests in/ {print $1}')
echo "$out" | grep -E 'Requests/sec|50%|90%|99%|Non-2xx'
echo "$endpoint: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests )) µs of server CPU per request"
