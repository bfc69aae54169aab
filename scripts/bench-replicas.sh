#!/usr/bin/env bash
# The validate endpoint through NGINX in front of three replicas on one PostgreSQL and one Redis,
# all on this machine's loopback, beside the same request sent to one replica directly.
# Needs a release build (swift build -c release --product acgs), wrk, PostgreSQL, Redis and NGINX
# (scripts/test.sh installs the last three). Stops everything it started when it ends.
#   scripts/bench-replicas.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-100}
acgs="$PWD/.build/release/acgs"
[ -x "$acgs" ] || { echo "build first: swift build -c release --product acgs"; exit 1; }
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/acgs-bench-replicas-XXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 1
    [ -f "$work/pg/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL with its production settings (fsync on, deploy/postgresql/acgs.conf), and Redis.
mkdir -p "$work/pg" && [ "$(id -u)" -eq 0 ] && chown postgres: "$work" "$work/pg"
as_pg "$bin/initdb" -D "$work/pg" -U acgs -A trust -E UTF8 --locale=C >/dev/null
pg_port=$(port)
# The deployment's settings (deploy/postgresql/acgs.conf), so that checkpoints do not land in the run.
cp deploy/postgresql/acgs.conf "$work/pg/acgs.conf" && echo "include 'acgs.conf'" >> "$work/pg/postgresql.conf"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/pg/acgs.conf"
as_pg "$bin/pg_ctl" -D "$work/pg" -l "$work/pg/log" -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1" -w start >/dev/null
"$bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U acgs -d postgres -c "CREATE DATABASE acgs"
redis_port=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null &
pids+=($!)
export ACGS_DATABASE_URL="postgres://acgs@127.0.0.1:$pg_port/acgs" ACGS_REDIS_URL="redis://127.0.0.1:$redis_port/0"
export ACGS_ADMIN_PASSWORD="a bench admin password" ACGS_LOG_LEVEL=error
mkdir -p "$work/data"
"$acgs" migrate >/dev/null
key=$("$acgs" agent create bench-agent --owner bench --data-dir "$work/data" | sed -n 's/^api key //p')

# Three replicas sharing the data directory (the signing keys).
upstream=""
for i in 1 2 3; do
    p_ai=$(port); p_int=$(port); p_hitl=$(port); p_auth=$(port)
    printf 'host: 127.0.0.1\nservices: constitutional-ai,integrity,agent-hitl,auth\nports:\n  constitutional_ai: %s\n  integrity: %s\n  agent_hitl: %s\n  auth: %s\n' \
        "$p_ai" "$p_int" "$p_hitl" "$p_auth" > "$work/replica$i.yaml"
    "$acgs" serve --data-dir "$work/data" --config "$work/replica$i.yaml" >"$work/replica$i.log" 2>&1 &
    pids+=($!)
    eval "ai_$i=$p_ai int_$i=$p_int hitl_$i=$p_hitl auth_$i=$p_auth"
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p_ai/health/ready" >/dev/null && break; sleep 0.2; done
done

# NGINX with the shipped configuration, pointed at the replicas.
lb_port=$(port)
rewrite=(-e "s/listen 32768;/listen 127.0.0.1:$lb_port;/")
for guide in 8002 8008 8016; do rewrite+=(-e "s/listen $guide;/listen 127.0.0.1:$(port);/"); done
for i in 1 2 3; do
    eval "rewrite+=(-e \"s/server acgs_$i:32768 /server 127.0.0.1:\$ai_$i /\" -e \"s/server acgs_$i:8002 /server 127.0.0.1:\$int_$i /\")"
    eval "rewrite+=(-e \"s/server acgs_$i:8008 /server 127.0.0.1:\$hitl_$i /\" -e \"s/server acgs_$i:8016 /server 127.0.0.1:\$auth_$i /\")"
done
sed "${rewrite[@]}" deploy/nginx/acgs.conf > "$work/acgs.conf"
cat > "$work/nginx.conf" <<CONF
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/body; proxy_temp_path $work/proxy; include $work/acgs.conf; }
CONF
nginx -p "$work" -c "$work/nginx.conf" -g "daemon off;" &
pids+=($!)
sleep 1

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"action":{"arguments":{"command":"ls -la /var/log && tail -n 50 app.log"},"tool":"bash","type":"shell"},"content":"List the recent application logs so I can summarise today\\'s errors for the on-call engineer.","context":{"environment":"staging","ticket":"OPS-1432"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Constitutional-Hash"] = "cdd01ef066bc6cf2"
wrk.headers["Authorization"] = "Bearer $key"
LUA
echo "validate, $connections connections, $seconds s each (wrk -t2, loopback; PostgreSQL + Redis)"
for target in "one replica directly|http://127.0.0.1:$ai_1" "NGINX, three replicas|http://127.0.0.1:$lb_port"; do
    name=${target%%|*}; url=${target#*|}
    wrk -t2 -c"$connections" -d2s -s "$work/post.lua" "$url/api/v1/constitutional/validate" >/dev/null
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/post.lua" "$url/api/v1/constitutional/validate")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}'); p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    printf '%-24s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
done
"$bin/psql" -q -At -h 127.0.0.1 -p "$pg_port" -U acgs -d acgs -c "SELECT 'decisions in the audit log: ' || count(*) FROM audit_entries WHERE type = 'decision'"
