# Sourced by the measuring scripts, without arguments so that it reads theirs:
#   [SERVICE] [REQUESTS] [BINARY] [-- acgs perf arguments]
# Sets $service (default constitutional-ai), $requests (default $default_requests) and $acgs
# (default .build/release/acgs), and leaves the acgs perf arguments in "$@". Then starts a fresh
# embedded `acgs serve` on free loopback ports with a random admin password, stops it and removes
# its data on exit, and defines `perf_load REQUESTS [acgs perf arguments...]`, a closed loop of
# $service against it.
positional=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do positional+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
service=${positional[0]:-constitutional-ai}
requests=${positional[1]:-$default_requests}
acgs=${positional[2]:-$PWD/.build/release/acgs}
[ -x "$acgs" ] || { echo "build first: swift build -c release --product acgs"; exit 1; }

work=$(mktemp -d /tmp/acgs-measure-XXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ai=$(port) auth=$(port) hitl=$(port) integrity=$(port)
password=$(head -c 18 /dev/urandom | base64)
ACGS_ADMIN_PASSWORD=$password ACGS_PORTS_CONSTITUTIONAL_AI=$ai ACGS_PORTS_AUTH=$auth ACGS_PORTS_AGENT_HITL=$hitl \
    ACGS_PORTS_INTEGRITY=$integrity "$acgs" serve --data-dir "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; sleep 1; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ai/health" >/dev/null && break; sleep 0.2; done

perf_load() {
    ACGS_ADMIN_PASSWORD=$password "$acgs" perf --constitutional-ai "http://127.0.0.1:$ai" --auth "http://127.0.0.1:$auth" \
        --hitl "http://127.0.0.1:$hitl" --services "$service" --warmup 0 --requests "$@" 2>/dev/null || true
}
