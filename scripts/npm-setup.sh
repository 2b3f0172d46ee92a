#!/usr/bin/env bash
# Installs the npm client used by redis-tests/ (ioredis, pinned by
# redis-tests/package-lock.json) into redis-tests/node_modules.
# Does nothing when node_modules is already in step with the lock file, so it is
# cheap to call before every test run (the Makefile and a ctest fixture do).
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../redis-tests" && pwd)"
lock="$dir/package-lock.json"
# npm writes this copy of the lock into node_modules on every install.
marker="$dir/node_modules/.package-lock.json"

if [ -f "$marker" ] && [ ! "$lock" -nt "$marker" ]; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "npm-setup: npm not found; run scripts/install-deps.sh (or make deps)" >&2
  exit 1
fi

echo "npm-setup: installing redis-tests/ dependencies from package-lock.json"
cd "$dir"
# --prefer-offline reuses the npm cache when it has the packages; the registry is
# only asked for what is missing. Root is fine: no package here has install scripts.
npm ci --no-audit --no-fund --prefer-offline --loglevel=error
touch "$marker"
