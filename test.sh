#!/usr/bin/env bash
# Conductor's test command: every test suite (the extension's mocha unit tests, dotnet test, the web app's Vitest), against real Postgres, Redis and git started as local processes.
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter "FullyQualifiedName~Redis"]
# Suites: Conductor.Tests (xunit, including the web app's Playwright tests in a real Chromium, the extension's
# integration and code-server end-to-end tests, and the `conductor` CLI's tests, which pack Conductor.Cli as a dotnet
# tool, install it and drive it against a real Api: Conductor.Tests/Cli) and the web app's Vitest unit tests
# (Conductor.Web/ClientApp).
set -euo pipefail
cd "$(dirname "$0")"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

status=0

# The VS Code extension's unit tests (mocha). Its integration and end-to-end suites need the real servers, so they
# run inside dotnet test (Conductor.Tests/Extension), which starts them.
ext_passed=0; ext_failed=0
if [ ! -f extension/node_modules/.package-lock.json ]; then
  (cd extension && npm ci --no-audit --no-fund) || status=$?
fi
ext_log="$results/extension-unit.log"
(cd extension && npm test) 2>&1 | tee "$ext_log" || status=$?
ext_passed=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$ext_log" | tail -1); ext_passed=${ext_passed:-0}
ext_failed=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$ext_log" | tail -1); ext_failed=${ext_failed:-0}
if [ "$ext_passed" -eq 0 ] && [ "$ext_failed" -eq 0 ]; then
  echo "extension unit tests did not run" >&2; status=1
fi

dotnet test Conductor.sln --logger "trx;LogFileName=dotnet.trx" --results-directory "$results" "$@" || status=$?

# The web app's client logic (Vitest). `dotnet build` installed its packages; a --no-build run on a fresh tree does it here.
client=Conductor.Web/ClientApp
[ -d "$client/node_modules" ] || (cd "$client" && npm ci --no-audit --no-fund)
(cd "$client" && npx vitest run --reporter=default --reporter=junit --outputFile.junit="$results/vitest.xml") || status=$?

# One closing line that any CI can read, summed over every suite's results.
passed=$ext_passed; failed=$ext_failed; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  total=$(get total); executed=$(get executed)
  skipped=$((skipped + total - executed))
done
if [ -f "$results/vitest.xml" ]; then
  suites=$(grep -o '<testsuites [^>]*>' "$results/vitest.xml" | head -1)
  vget() { echo "$suites" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  vtotal=$(vget tests); vfailed=$(( $(vget failures) + $(vget errors) )); vskipped=$(vget skipped)
  passed=$((passed + vtotal - vfailed - ${vskipped:-0})); failed=$((failed + vfailed)); skipped=$((skipped + ${vskipped:-0}))
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
