#!/usr/bin/env bash
# The model step of `npm run demo` (called by scripts/demo.sh): with MODEL_DIR unset, makes sure the default
# random-weight test bundle exists under CACHE_DIR (converting it on the first run, with progress), so the app starts
# serving at once. With MODEL_DIR set, the app loads that bundle itself.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node node_modules/tsx/dist/cli.mjs scripts/demo-model.ts
