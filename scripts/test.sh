#!/usr/bin/env bash
# `npm test`: every test of the project, with what they need installed first.
#
#   1. npm packages (npm ci when node_modules is missing or stale) and system programs (redis-server, chromium)
#   2. unit + integration tests: vitest (vitest.config.ts; integration tests start their own redis-server)
#   3. parity: `npm run parity -- --fixture DIR` for every fixtures/parity/*/reference.json (when scripts/parity.ts exists)
#   4. e2e: next build + the app's server (server.ts) with its own redis-server, driven by Debian's Chromium (e2e/vitest.config.ts)
#
# Every step runs even when an earlier one failed, so one run shows everything; the last line is the total,
# "N passed, N failed", and the exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

bash scripts/ensure-npm-deps.sh || exit 1
bash scripts/ensure-system-deps.sh redis-server chromium fonts || exit 1

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
passed=0
failed=0

# Adds a vitest JSON report's counts to the totals. A run that wrote no report, or failed without a failing test
# (a file that does not load, a crashed setup), counts as one failure so it cannot pass silently.
add_vitest_counts() {
  local counts
  counts="$(node -e '
    const fs = require("node:fs");
    if (!fs.existsSync(process.argv[1])) { console.log("0 1"); process.exit(0); }
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const failed = r.numFailedTests + (!r.success && r.numFailedTests === 0 ? Math.max(1, r.numFailedTestSuites) : 0);
    console.log(`${r.numPassedTests} ${failed}`);
  ' "$1")"
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

echo "== unit + integration tests (vitest) =="
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
add_vitest_counts "$reports/unit.json"

echo "== parity =="
shopt -s nullglob
references=(fixtures/parity/*/reference.json)
if [[ -f scripts/parity.ts && ${#references[@]} -gt 0 ]]; then
  for reference in "${references[@]}"; do
    fixture="$(dirname "$reference")"
    if npm run --silent parity -- --fixture "$fixture"; then
      passed=$((passed + 1))
    else
      echo "parity: $fixture FAILED"
      failed=$((failed + 1))
    fi
  done
else
  echo "parity: skipped (needs scripts/parity.ts and fixtures/parity/*/reference.json)"
fi

echo "== e2e (the built app + Chromium) =="
npx vitest run --config e2e/vitest.config.ts --reporter=default --reporter=json --outputFile.json="$reports/e2e.json"
add_vitest_counts "$reports/e2e.json"

echo "screenshots: test-results/e2e/*.png"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
