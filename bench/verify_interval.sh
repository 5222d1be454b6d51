#!/bin/bash
# dataspace.verify_asset over a short interval of a long chain: 200,000
# seals of one point each (seal_max_points = 1), then the last ten seconds
# (ten seals) verified, and the first ten.  What it costs should depend on
# the interval, not on the asset's history or where in it the interval is.  Then the whole asset: its memory
# should depend on how many seals overlap in seq, not on how many there
# are.  Prints CPU seconds of the backend and its peak resident memory
# (VmHWM) after the call, and for the whole asset its peak private memory
# (RssAnon, sampled), medians of BENCH_RUNS calls (BENCH_WHOLE_RUNS for
# the whole asset), each in a fresh backend.
#
# Usage: bench/verify_interval.sh   (as root; BENCH_RUNS=5, BENCH_WHOLE_RUNS=3,
#        BENCH_SEALS=200000)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-5}
whole_runs=${BENCH_WHOLE_RUNS:-3}
N=${BENCH_SEALS:-200000}
A=$BENCH_ASSET

bench_init
bench_start verify_interval
bench_one_point_seals "$A" "$N"
sql bench -c "VACUUM ANALYZE dataspace.point" -c "VACUUM ANALYZE dataspace.seal" -c "CHECKPOINT"

hwm="SELECT 'hwm ' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1]"
t0="timestamptz '2026-01-01 00:00:00+00'"

# interval LABEL FROM TO: verify_asset between FROM and TO (ten seals), runs
# after one warm-up, medians
interval() {
	declare -a cpu mem
	for r in $(seq 0 "$runs"); do
		out=$(sql_cpu bench -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE ok)
			FROM dataspace.verify_asset('$A', $2, $3)" -c "$hwm")
		res=$(echo "$out" | sed -n 2p)
		[ "$res" = "10 10" ] || die "verify_asset returned '$res', expected '10 10'"
		[ "$r" -eq 0 ] && continue		# warm-up
		cpu[$r]=$(echo "$out" | sed -n 1p)
		mem[$r]=$(echo "$out" | sed -n 3p | sed 's/^hwm //')
		log "$1, run $r: CPU ${cpu[$r]} s, peak RSS ${mem[$r]} kB"
	done
	echo
	echo "== verify_asset over the $1 10 of $N one-point seals, $runs runs after one warm-up, medians"
	bench_machine
	echo "CPU of the backend: $(median "${cpu[@]}") s; its peak resident memory: $(median "${mem[@]}") kB"
}
interval last "$t0 + $((N - 9)) * interval '1 s'" "'infinity'"
interval first "'-infinity'" "$t0 + 10 * interval '1 s'"

[ "$whole_runs" -gt 0 ] || exit 0
declare -a wcpu wmem
for r in $(seq 1 "$whole_runs"); do
	out=$(sql_cpu bench -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE ok)
		FROM dataspace.verify_asset('$A')")
	res=$(echo "$out" | sed -n 2p)
	[ "$res" = "$N $N" ] || die "verify_asset returned '$res', expected '$N $N'"
	wcpu[$r]=$(echo "$out" | sed -n 1p)
	out=$(sql_peak_anon bench "SELECT count(*) FROM dataspace.verify_asset('$A')")
	[ "$(echo "$out" | sed -n 1p)" = "$N" ] || die "verify_asset returned '$out'"
	wmem[$r]=$(echo "$out" | sed -n 2p | sed 's/^anon //')
	log "whole asset, run $r: CPU ${wcpu[$r]} s, peak private memory ${wmem[$r]} kB"
done
echo "== verify_asset over all $N seals, $whole_runs runs, medians"
echo "CPU of the backend: $(median "${wcpu[@]}") s; its peak private resident memory (RssAnon, sampled every 10 ms): $(median "${wmem[@]}") kB"
