#!/usr/bin/env bash
# Install the npm packages when node_modules is missing or older than package.json / package-lock.json.
# npm writes node_modules/.package-lock.json on every install, so its age says when node_modules was last synced.
#
# `npm ci`: a clean install of exactly the locked versions. The committed lock holds every platform's optional
# packages (@next/swc-darwin-*, @img/sharp-*, …), so npm ci accepts it on any machine and never rewrites it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -f node_modules/.package-lock.json ]]; then
  echo "npm deps: node_modules missing; running npm ci"
elif [[ package-lock.json -nt node_modules/.package-lock.json || package.json -nt node_modules/.package-lock.json ]]; then
  echo "npm deps: package.json or package-lock.json changed since the last install; running npm ci"
else
  echo "npm deps: up to date"
  exit 0
fi
npm ci --no-audit --no-fund
