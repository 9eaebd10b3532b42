#!/usr/bin/env bash
# `npm run demo`: the app with embedded defaults on http://127.0.0.1:3000 (HOST and PORT override).
# Installs what it lacks: npm packages, and redis-server via apt-get when running as root (without it the app falls
# back to the in-process store and says so). Builds the app when the build is missing or older than the sources.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

bash scripts/ensure-npm-deps.sh
if [[ -z "${REDIS_URL:-}" ]]; then
  bash scripts/ensure-system-deps.sh --optional redis-server
fi

# The model: with MODEL_DIR unset, the trained demo model (models/vlcache-demo), converted once under CACHE_DIR.
if [[ -z "${MODEL_DIR:-}" ]]; then
  MODEL_DIR="$(bash scripts/demo-model.sh)"
  export MODEL_DIR
else
  echo "demo: serving the bundle in MODEL_DIR=$MODEL_DIR"
fi

stale_build() {
  [[ ! -f .next/BUILD_ID ]] && return 0
  [[ -n "$(find app components lib public instrumentation.ts next.config.ts postcss.config.mjs package-lock.json \
    -newer .next/BUILD_ID -print -quit 2>/dev/null)" ]]
}
if stale_build; then
  echo "demo: building the app (next build)"
  node node_modules/next/dist/bin/next build
else
  echo "demo: build is up to date"
fi

host="${HOST:-127.0.0.1}"
port="${PORT:-3000}"
echo "demo: serving http://$host:$port (Ctrl+C stops the app and its redis-servers)"
# The app's own HTTP server around Next.js (server.ts: client addresses, security headers). exec: signals reach it
# directly (npx would not pass SIGTERM on).
export HOST="$host" PORT="$port"
exec node --import tsx server.ts
