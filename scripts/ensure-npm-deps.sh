#!/usr/bin/env bash
# Install the npm packages when node_modules is missing or older than package.json / package-lock.json.
# npm writes node_modules/.package-lock.json on every install, so its age says when node_modules was last synced.
#
# `npm install` rather than `npm ci`: with a lock file it installs exactly the locked versions too, but npm ci also
# demands lock entries for other platforms' optional packages (@next/swc-darwin-*, …), which npm omits from locks
# written on Linux here, so npm ci refuses this project's lock as "out of sync".
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f node_modules/.package-lock.json ]]; then
  echo "npm deps: node_modules missing; running npm install"
elif [[ package-lock.json -nt node_modules/.package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
  echo "npm deps: package.json or package-lock.json changed since the last install; running npm install"
else
  echo "npm deps: up to date"
  exit 0
fi
npm install --no-audit --no-fund
