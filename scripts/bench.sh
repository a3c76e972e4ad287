#!/usr/bin/env bash
# Runs the benchmarks (`make bench`; arguments pick modules: `make bench ARGS="verify_http verify_concurrent"`).
# What they need from Debian is installed when missing, as for the tests: wrk (the native load generator of the
# concurrent verification bench: Python clients would take the cores the servers are measured on) and chromium (the
# pages bench drives it through Playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/bin/chromium ] || missing+=(chromium)
source scripts/debian.sh
install_missing "the benchmarks" "${missing[@]}"
exec .venv/bin/python -m bench "$@"
