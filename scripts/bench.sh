#!/usr/bin/env bash
# Runs the module's benchmarks and prints a short table: name, time per op,
# bytes and allocations per op, then the benchmark's own metrics. The raw
# output stays in bench.out.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each iteration of core's benchmarks is a whole switchover, re-launch or
# start against the simulator, and a desktop's history grows with each: a
# fixed count keeps them short and the history that of a long working day.
others=$(go list ./... | grep -v '/tandem/core$')
{
  go test -run='^$' -bench=. -benchmem -count=1 -timeout 20m $others
  go test -run='^$' -bench=. -benchmem -count=1 -timeout 20m -benchtime=20x ./core/
} | tee bench.out >/dev/null
awk '
  /^pkg:/ { pkg = $2; sub(".*/tandem/", "", pkg) }
  /^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    ns = ""; bop = ""; aop = ""; extra = ""
    # After the name and the iteration count come value-unit pairs; any
    # unit besides the usual three is a b.ReportMetric (ms-median, ms-p99…).
    for (i = 3; i < NF; i += 2) {
      if ($(i+1) == "ns/op") ns = $i
      else if ($(i+1) == "B/op") bop = $i
      else if ($(i+1) == "allocs/op") aop = $i
      else if ($(i+1) != "MB/s") extra = extra " " $i " " $(i+1)
    }
    printf "%-14s %-34s %14s ns/op %8s B/op %6s allocs/op%s\n", pkg, name, ns, bop, aop, extra
  }' bench.out
