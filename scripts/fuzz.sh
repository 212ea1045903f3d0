#!/usr/bin/env bash
# Runs every fuzz target of the module for a while (default 20s each) and
# keeps what the fuzzer found interesting as seed corpus under testdata/fuzz,
# so that `make test` replays it. Usage: scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-20s}"
cache="$(go env GOCACHE)/fuzz"
module="$(go list -m)"
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== $pkg $target ($fuzztime)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=3s "$pkg"
    found="$cache/$pkg/$target"
    if [ -d "$found" ]; then
      mkdir -p "$dir/testdata/fuzz/$target"
      # Keep a bounded sample: the corpus runs in every `make test`.
      ls "$found" | head -n 40 | while read -r f; do cp -n "$found/$f" "$dir/testdata/fuzz/$target/$f"; done
    fi
  done
done
echo "fuzz: done for module $module"
