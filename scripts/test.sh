#!/usr/bin/env bash
# Sets up and runs the whole ACGS-2 test suite on a fresh Debian machine with Swift.
# Installs what the tests need (curl and sqlite3 for the end-to-end tests), builds, and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

swift build --build-tests
swift test --skip-build "$@"
