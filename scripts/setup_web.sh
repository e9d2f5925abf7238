#!/usr/bin/env bash
# Installs the Business Desk's npm packages (web/package-lock.json) into
# web/node_modules with `npm ci`, when node_modules is missing or older than
# the lock file. Idempotent; prints nothing when they are up to date.
# The app loads preact, htm and chart.js from there (herald serve's
# --desk-assets web); the browser tests use puppeteer-core.
set -euo pipefail
web="$(cd "$(dirname "$0")/.." && pwd)/web"
stamp="$web/node_modules/.package-lock.json"  # written by npm at every install
if [ -f "$stamp" ] && [ ! "$web/package-lock.json" -nt "$stamp" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "setup_web: npm is missing (Debian package npm)" >&2; exit 1; }
echo "setup_web: npm ci in web/" >&2
npm ci --prefix "$web" --no-audit --no-fund --loglevel=error >/dev/null
touch "$stamp"
