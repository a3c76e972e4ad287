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
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's ${missing[*]} for the benchmarks"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing for the benchmarks: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi
exec .venv/bin/python -m bench "$@"
