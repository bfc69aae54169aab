#!/usr/bin/env bash
# Sets up and runs the whole ACGS-2 test suite on a fresh Debian machine with Swift.
# Installs what the tests need: curl and sqlite3 for the end-to-end tests; PostgreSQL, Redis and
# NGINX, which the tests start themselves on free loopback ports (PostgreSQL as the `postgres`
# account when run as root); Chromium, its driver and Selenium for the console test in a real
# browser. Then builds, runs every test, and runs the router tests again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
python3 -c 'import selenium' >/dev/null 2>&1 || need+=(python3-selenium)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # The packages start system-wide servers; the tests start their own, so stop these.
    for service in postgresql redis-server nginx; do
        $SUDO service "$service" stop >/dev/null 2>&1 || true
    done
fi

swift build --build-tests
swift test --skip-build "$@"
# The router tests again, every repository on PostgreSQL instead of in memory.
if [ $# -eq 0 ]; then
    ACGS_TEST_STORE=postgres swift test --skip-build --filter ServerTests
fi
