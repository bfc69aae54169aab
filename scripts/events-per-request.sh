#!/usr/bin/env bash
# Runtime events per request of one endpoint under `acgs perf`'s closed loop: object allocations,
# mallocs, jobs run by Swift's executors (each a hand-off between threads or tasks), tasks created,
# continuations and fsyncs, counted with uprobes on the server (perf; needs root). Counts do not
# depend on the machine's speed, so two builds compare in one run each where CPU time is too noisy.
#   scripts/events-per-request.sh [SERVICE] [REQUESTS] [BINARY] [-- extra acgs perf arguments]
#   SERVICE: constitutional-ai (default), auth or agent-hitl; BINARY: default .build/release/acgs
#   ALLOCATION_SITES=1 also records where objects are allocated (perf report on the file it names).
set -euo pipefail
cd "$(dirname "$0")/.."
service=${1:-constitutional-ai}
requests=${2:-5000}
acgs=${3:-$PWD/.build/release/acgs}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = "--" ] && shift
[ -x "$acgs" ] || { echo "build first: swift build -c release --product acgs"; exit 1; }
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
swiftlib=$(dirname "$(readlink -f "$(command -v swift)")")/../lib/swift/linux
libc=$(ldd "$acgs" | awk '/libc.so.6/ {print $3}')
probe() { perf probe -q -x "$1" "$2" 2>/dev/null || true; }   # already defined is fine
for function in swift_job_run swift_task_switch swift_task_create swift_continuation_init; do probe "$swiftlib/libswift_Concurrency.so" $function; done
probe "$swiftlib/libswiftCore.so" swift_allocObject
probe "$libc" malloc
probe "$libc" fsync
work=$(mktemp -d /tmp/acgs-events-XXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ai=$(port) auth=$(port) hitl=$(port) integrity=$(port)
password=$(head -c 18 /dev/urandom | base64)
ACGS_ADMIN_PASSWORD=$password ACGS_PORTS_CONSTITUTIONAL_AI=$ai ACGS_PORTS_AUTH=$auth ACGS_PORTS_AGENT_HITL=$hitl \
    ACGS_PORTS_INTEGRITY=$integrity "$acgs" serve --data-dir "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ai/health" >/dev/null && break; sleep 0.2; done
load() {
    ACGS_ADMIN_PASSWORD=$password "$acgs" perf --constitutional-ai "http://127.0.0.1:$ai" --auth "http://127.0.0.1:$auth" \
        --hitl "http://127.0.0.1:$hitl" --services "$service" --warmup 0 --requests "$1" --connections 20 "${@:2}" 2>/dev/null || true
}
load 200 "$@" >/dev/null   # the agent's creation and the admin's bcrypt sign-in, not counted
events='probe_libswift_Concurrency:*,probe_libswiftCore:*,probe_libc:*'
perf stat -x, -e "$events" -p $pid -o "$work/stat.txt" & counter=$!
if [ -n "${ALLOCATION_SITES:-}" ]; then
    perf record -q -e probe_libswiftCore:swift_allocObject -g -p $pid -o "/tmp/acgs-allocations-$service.data" 2>/dev/null & recorder=$!
fi
sleep 1
load "$requests" "$@" | grep -E "^(service|$service) "
sleep 0.5
kill -INT $counter; wait $counter || true
if [ -n "${ALLOCATION_SITES:-}" ]; then kill -INT $recorder; wait $recorder || true; echo "allocation sites: perf report -i /tmp/acgs-allocations-$service.data --no-children"; fi
awk -F, -v n="$requests" '/probe/ { sub(/^probe_[^:]*:/, "", $3); printf "%-24s %8.2f per request\n", $3, $1 / n }' "$work/stat.txt"
