#!/usr/bin/env bash
# Runs lint and the whole test suite. What the tests need from Debian is installed when missing (CI runs as root on a
# fresh machine): postgresql (the database tests start a throwaway server), chromium (the browser tests drive it
# through Playwright; no browser is ever downloaded), jq and curl (the README's examples, run as written),
# fonts-dejavu-core (the stamped PDF's Vietnamese caption), poppler-utils (pdftoppm prints a stamped page to scan) and
# caddy (validates deploy/Caddyfile, the reverse proxy of docker-compose.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
command -v caddy >/dev/null || missing+=(caddy)
source scripts/debian.sh
install_missing "the tests" "${missing[@]}"
.venv/bin/ruff check .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
