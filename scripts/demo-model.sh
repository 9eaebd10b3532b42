#!/usr/bin/env bash
# The model step of `npm run demo` (called by scripts/demo.sh): makes sure the trained demo model's bundle exists under
# CACHE_DIR (converting it on the first run, with progress on stderr) and prints its folder on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node node_modules/tsx/dist/cli.mjs scripts/demo-model.ts
