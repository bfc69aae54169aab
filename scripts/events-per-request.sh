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
command -v perf >/dev/null || { echo "needs perf (apt-get install linux-perf)"; exit 1; }
default_requests=5000
. scripts/fresh-server.sh
# Probes defined now apply to the server already running: perf attaches them when it counts.
swiftlib=$(dirname "$(readlink -f "$(command -v swift)")")/../lib/swift/linux
libc=$(ldd "$acgs" | awk '/libc.so.6/ {print $3}')
probe() { perf probe -q -x "$1" "$2" 2>/dev/null || true; }   # already defined is fine
for function in swift_job_run swift_task_switch swift_task_create swift_continuation_init; do probe "$swiftlib/libswift_Concurrency.so" $function; done
probe "$swiftlib/libswiftCore.so" swift_allocObject
probe "$libc" malloc
probe "$libc" fsync
load() { perf_load "$1" --connections 20 "${@:2}"; }
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
