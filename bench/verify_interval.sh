#!/bin/bash
# dataspace.verify_asset over a short interval at the end of a long chain:
# 200,000 seals of one point each (seal_max_points = 1), then the last ten
# seconds (ten seals) verified.  What it costs should depend on the
# interval, not on the asset's history.  Prints CPU seconds of the backend
# and its peak resident memory (VmHWM) after the call, medians of
# BENCH_RUNS calls, each in a fresh backend.
#
# Usage: bench/verify_interval.sh   (as root; BENCH_RUNS=5)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-5}
N=200000
A=$BENCH_ASSET

bench_init
bench_start verify_interval
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_verify_private_load bench
bench_asset bench "$A" "seal_max_points = 1"
sql bench -c "INSERT INTO dataspace.point (asset_id, ts, value)
	SELECT '$A', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 s', i FROM generate_series(1, $N) i"
seals=$(bench_seal_all bench)
[ "$seals" -eq "$N" ] || die "expected $N seals, made $seals"
sql bench -c "VACUUM ANALYZE dataspace.point" -c "VACUUM ANALYZE dataspace.seal" -c "CHECKPOINT"

from="timestamptz '2026-01-01 00:00:00+00' + $((N - 9)) * interval '1 s'"
hwm="SELECT 'hwm ' || (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1]"
declare -a cpu mem
for r in $(seq 0 "$runs"); do
	out=$(sql_cpu bench -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE ok)
		FROM dataspace.verify_asset('$A', $from, 'infinity')" -c "$hwm")
	res=$(echo "$out" | sed -n 2p)
	[ "$res" = "10 10" ] || die "verify_asset returned '$res', expected '10 10'"
	[ "$r" -eq 0 ] && continue		# warm-up
	cpu[$r]=$(echo "$out" | sed -n 1p)
	mem[$r]=$(echo "$out" | sed -n 3p | sed 's/^hwm //')
	log "run $r: CPU ${cpu[$r]} s, peak RSS ${mem[$r]} kB"
done
echo
echo "== verify_asset over the last 10 of $N one-point seals, $runs runs after one warm-up, medians"
bench_machine
echo "CPU of the backend: $(median "${cpu[@]}") s; its peak resident memory: $(median "${mem[@]}") kB"
