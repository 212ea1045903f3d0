#!/usr/bin/env bash
# Runs the module's benchmarks and prints a short table: name, time per op,
# bytes and allocations per op. The raw output stays in bench.out.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run='^$' -bench=. -benchmem -count=1 -timeout 20m ./... | tee bench.out >/dev/null
awk '
  /^pkg:/ { pkg = $2; sub(".*/tandem/", "", pkg) }
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    ns = ""; bop = ""; aop = ""; extra = ""
    for (i = 3; i <= NF; i++) {
      if ($(i+1) == "ns/op") ns = $i
      else if ($(i+1) == "B/op") bop = $i
      else if ($(i+1) == "allocs/op") aop = $i
      else if ($(i+1) ~ /\// && $(i+1) != "MB/s") extra = extra " " $i " " $(i+1)
    }
    printf "%-14s %-34s %14s ns/op %8s B/op %6s allocs/op%s\n", pkg, name, ns, bop, aop, extra
  }' bench.out
