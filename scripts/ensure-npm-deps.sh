#!/usr/bin/env bash
# Install the npm packages when node_modules is missing or older than package-lock.json (npm ci: exactly the lock).
# npm writes node_modules/.package-lock.json on every install, so its age says when node_modules was last synced.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f node_modules/.package-lock.json ]]; then
  echo "npm deps: node_modules missing; running npm ci"
elif [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "npm deps: package-lock.json changed since the last install; running npm ci"
else
  echo "npm deps: up to date"
  exit 0
fi
npm ci --no-audit --no-fund
