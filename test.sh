#!/usr/bin/env bash
# Conductor's test command: every test suite, against real Postgres, Redis and git started as local processes.
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter "FullyQualifiedName~Redis"]
set -euo pipefail
cd "$(dirname "$0")"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

status=0
dotnet test Conductor.sln --logger "trx;LogFileName=dotnet.trx" --results-directory "$results" "$@" || status=$?

# One closing line that any CI can read, summed over every suite's results.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed))); failed=$((failed + $(get failed)))
  total=$(get total); executed=$(get executed)
  skipped=$((skipped + total - executed))
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
