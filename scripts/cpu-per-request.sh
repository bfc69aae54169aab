#!/usr/bin/env bash
# Server CPU time and disk bytes written per request of one endpoint under `acgs perf`'s closed
# loop: a fresh embedded server on free ports, REQUESTS measured requests, the server's user and
# system time (from /proc) less that of a 100-request run first (the agent's creation and the
# admin's bcrypt sign-in), and the bytes it had the disk write meanwhile.
# Steadier than wall-clock figures on these shared cores: alternate two builds to compare them.
#   scripts/cpu-per-request.sh [SERVICE] [REQUESTS] [BINARY]
#   SERVICE: constitutional-ai (default), auth or agent-hitl; BINARY: default .build/release/acgs
set -euo pipefail
cd "$(dirname "$0")/.."
service=${1:-constitutional-ai}
requests=${2:-40000}
acgs=${3:-$PWD/.build/release/acgs}
[ -x "$acgs" ] || { echo "build first: swift build -c release --product acgs"; exit 1; }
work=$(mktemp -d /tmp/acgs-cpu-XXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ai=$(port) auth=$(port) hitl=$(port) integrity=$(port)
password=$(head -c 18 /dev/urandom | base64)
ACGS_ADMIN_PASSWORD=$password ACGS_PORTS_CONSTITUTIONAL_AI=$ai ACGS_PORTS_AUTH=$auth ACGS_PORTS_AGENT_HITL=$hitl \
    ACGS_PORTS_INTEGRITY=$integrity "$acgs" serve --data-dir "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ai/health" >/dev/null && break; sleep 0.2; done

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
load() {
    ACGS_ADMIN_PASSWORD=$password "$acgs" perf --constitutional-ai "http://127.0.0.1:$ai" --auth "http://127.0.0.1:$auth" \
        --hitl "http://127.0.0.1:$hitl" --services "$service" --warmup 0 --requests "$1" 2>/dev/null || true
}
# Bytes the server made the disk write (its WAL and checkpoints): independent of the machine's speed.
written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
a=$(cpu); load 100 >/dev/null; b=$(cpu); w=$(written)
load "$requests" | grep -E "^(service|$service) "
c=$(cpu); x=$(written)
echo "$service: $(( ((c - b) - (b - a)) * 1000000 / $(getconf CLK_TCK) / requests )) µs of server CPU per request"
echo "$service: $(( (x - w) / requests )) bytes written to disk per request"
