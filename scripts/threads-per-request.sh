#!/usr/bin/env bash
# Server CPU time and context switches per request, for each of the server's threads, under
# `acgs perf` (a fresh embedded server on free ports, closed loop of 100 connections unless the
# extra arguments say otherwise, e.g. `--rate 2000` for an open loop). Voluntary switches are a
# thread going to sleep (waiting for work, a lock or the disk), involuntary ones a thread preempted.
# On these virtual machines a switch is expensive (docs/PERFORMANCE.md), so they are worth counting.
#   scripts/threads-per-request.sh [SERVICE] [REQUESTS] [BINARY] [-- extra acgs perf arguments]
#   SERVICE: constitutional-ai (default), auth or agent-hitl; BINARY: default .build/release/acgs
set -euo pipefail
cd "$(dirname "$0")/.."
default_requests=20000
. scripts/fresh-server.sh

# One line per thread: name, voluntary and involuntary switches, user + system clock ticks.
threads() {
    for task in /proc/$pid/task/*; do
        printf '%s %s %s %s\n' "$(basename "$task")" "$(tr ' ' '_' < "$task/comm")" \
            "$(awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2} END {print v, n}' "$task/status")" \
            "$(awk '{print $14 + $15}' "$task/stat")"
    done | sort
}
perf_load 200 --connections 20 >/dev/null   # the agent's creation and the admin's bcrypt sign-in, not counted
threads > "$work/before"
perf_load "$requests" "$@" | grep -E "^(service|$service) "
threads > "$work/after"
printf "%-18s %10s %10s %12s   (per request)\n" thread voluntary preempted "CPU µs"
# Threads of the same name (Swift's pool, the event loops' pairs) are added up; a thread started
# during the run counts from zero.
join -a 2 -e 0 -o 0,2.2,1.3,1.4,1.5,2.3,2.4,2.5 "$work/before" "$work/after" | awk -v n="$requests" -v tick="$(getconf CLK_TCK)" '
    { name = $2; vol[name] += $6 - $3; inv[name] += $7 - $4; cpu[name] += $8 - $5 }
    END {
        for (name in cpu) if (vol[name] + inv[name] + cpu[name] > 0)
            printf "%-18s %10.2f %10.2f %12.0f\n", name, vol[name] / n, inv[name] / n, cpu[name] * 1000000 / tick / n
    }' | sort
