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
default_requests=40000
. scripts/fresh-server.sh

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
load() { perf_load "$1"; }
# Bytes the server made the disk write (its WAL and checkpoints): independent of the machine's speed.
written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
a=$(cpu); load 100 >/dev/null; b=$(cpu); w=$(written)
load "$requests" | grep -E "^(service|$service) "
c=$(cpu); x=$(written)
echo "$service: $(( ((c - b) - (b - a)) * 1000000 / $(getconf CLK_TCK) / requests )) µs of server CPU per request"
echo "$service: $(( (x - w) / requests )) bytes written to disk per request"
