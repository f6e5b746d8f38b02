#!/usr/bin/env bash
# run.sh runs every comparison of ratehttp with its peers and prints tables:
#   1. cost per request (go benchmarks, summarised by benchstat and by
#      benchtab as ratios to the bare transport of the same run; then
#      instructions per request on the stub base, counted with valgrind's
#      callgrind by cmd/instr, deterministic where times are not),
#   2. quota behaviour (cmd/quota, real time, loopback),
#   3. memory of a retried 64 MiB upload (cmd/memory).
# It takes 14–15 minutes on 2 cores (the instruction count about 1). Raw
# outputs are kept in $OUT (default: a new temporary directory, printed at
# the end).
#
# Settings (environment): COUNT (6) passes over the benchmarks, CPU (1,2,8),
# BENCHTIME (100ms) per stub benchmark and pass, LOOPBACK_BENCHTIME (300ms)
# per loopback benchmark and pass, QUOTA_FLAGS and MEMORY_FLAGS passed to the
# programs, INSTR_FLAGS passed to cmd/instr, VALGRIND (valgrind) the program
# it runs, SKIP (any of cost, instr, quota, memory) to leave parts out.
set -euo pipefail

cd "$(dirname "$0")"
COUNT=${COUNT:-6}
CPU=${CPU:-1,2,8}
BENCHTIME=${BENCHTIME:-100ms}
LOOPBACK_BENCHTIME=${LOOPBACK_BENCHTIME:-300ms}
QUOTA_FLAGS=${QUOTA_FLAGS:-}
MEMORY_FLAGS=${MEMORY_FLAGS:-}
INSTR_FLAGS=${INSTR_FLAGS:-}
VALGRIND=${VALGRIND:-valgrind}
SKIP=${SKIP:-}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ratehttp-bench.XXXXXX")}
mkdir -p "$OUT"

skip() { [[ " ${SKIP//,/ } " == *" $1 "* ]]; }

# Build everything first, so that the whole run measures one state of the
# library even if its tree changes meanwhile.
go test -c -o "$OUT/bench.test" .
for cmd in benchtab quota memory; do
	go build -o "$OUT/$cmd" "./cmd/$cmd"
done
# A heap at the same address in every run keeps the page allocator's work,
# and so the count, the same (see cmd/instr).
GOEXPERIMENT=norandomizedheapbase64 go build -o "$OUT/instr" ./cmd/instr

echo "## Machine"
echo
echo '```'
go version
echo "nproc: $(nproc)"
grep -m1 'model name' /proc/cpuinfo || true
echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
echo "library: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C .. diff --quiet HEAD -- . ':!bench' 2>/dev/null || echo ' + uncommitted changes')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo '```'

if ! skip cost; then
	# benchstat goes to a temporary GOBIN so that nothing lands in the
	# user's PATH; without it the ratios below are still printed.
	BIN=$(mktemp -d "${TMPDIR:-/tmp}/benchstat.XXXXXX")
	BENCHSTAT=""
	if GOBIN=$BIN go install golang.org/x/perf/cmd/benchstat@latest >"$OUT/benchstat-install.log" 2>&1; then
		BENCHSTAT=$BIN/benchstat
	else
		echo "run.sh: could not install benchstat (see $OUT/benchstat-install.log); continuing without it" >&2
	fi

	echo
	echo "## Cost per request"
	echo
	echo "go test -bench Cost -benchmem -cpu $CPU, -benchtime $BENCHTIME (stub) and $LOOPBACK_BENCHTIME (loopback),"
	echo "$COUNT interleaved passes of -count 1 (every stack runs within seconds of the bare transport in each pass);"
	echo "go test -bench Paired in each pass (stub and loopback): each stack alternating with the bare transport every 64 requests"
	: >"$OUT/cost.txt"
	for i in $(seq "$COUNT"); do
		echo "pass $i/$COUNT" >&2
		for base in stub:$BENCHTIME stub-min:$BENCHTIME loopback:$LOOPBACK_BENCHTIME; do
			"$OUT/bench.test" -test.run '^$' -test.bench "^BenchmarkCost\$/^base=${base%%:*}\$" -test.benchmem \
				-test.cpu "$CPU" -test.benchtime "${base#*:}" -test.count 1 >>"$OUT/cost.txt"
		done
		# The same ratios with each stack interleaved with the bare base.
		for base in stub:$BENCHTIME loopback:$LOOPBACK_BENCHTIME; do
			"$OUT/bench.test" -test.run '^$' -test.bench "^BenchmarkPaired\$/^base=${base%%:*}\$" \
				-test.cpu "$CPU" -test.benchtime "${base#*:}" -test.count 1 >>"$OUT/cost.txt"
		done
	done
	"$OUT/benchtab" "$OUT/cost.txt"
	if [[ -n $BENCHSTAT ]]; then
		echo
		echo "### benchstat"
		echo
		echo '```'
		"$BENCHSTAT" "$OUT/cost.txt"
		echo '```'
	fi
fi

if ! skip instr; then
	echo
	echo "## Instructions per request"
	echo
	if ! command -v "$VALGRIND" >/dev/null 2>&1; then
		echo "Skipped: $VALGRIND not found (install valgrind, or set SKIP=instr)."
		echo "run.sh: $VALGRIND not found; instructions per request skipped" >&2
	elif [[ $(go env GOARCH) != amd64 ]]; then
		echo "Skipped: cmd/instr counts on amd64 only."
		echo "run.sh: not amd64; instructions per request skipped" >&2
	else
		# shellcheck disable=SC2086 # INSTR_FLAGS is a list of flags
		"$OUT/instr" -valgrind "$VALGRIND" -keep "$OUT/callgrind" $INSTR_FLAGS | tee "$OUT/instr.txt"
	fi
fi

if ! skip quota; then
	echo
	echo "## Quota behaviour"
	echo
	# shellcheck disable=SC2086 # QUOTA_FLAGS is a list of flags
	"$OUT/quota" $QUOTA_FLAGS | tee "$OUT/quota.txt"
fi

if ! skip memory; then
	echo
	echo "## Memory"
	echo
	# shellcheck disable=SC2086 # MEMORY_FLAGS is a list of flags
	"$OUT/memory" $MEMORY_FLAGS | tee "$OUT/memory.txt"
fi

echo
echo "Raw outputs: $OUT" >&2
