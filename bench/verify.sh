#!/bin/bash
# dataspace.verify_asset over 1,000,000 points of one asset sealed at the
# default seal size (10,000 points, so 100 seals): points per second.
#
# Two assets of 1,000,000 points each, sealed the same way (100 seals of
# 10,000) but ingested differently:
#   copy      one COPY: one batch, so all 100 seals share one batch id
#   inserts   1000 autocommit INSERTs of 1000 points: 1000 batches, 10 per seal
# verify_asset finds each point's seal through its batch id, so the two
# shapes show whether that lookup depends on the number of seals per batch.
#
# Setup (untimed): load, seal, VACUUM ANALYZE (hint bits set, as on any
# table that has been vacuumed since), CHECKPOINT.  One warm-up call per
# asset, then BENCH_RUNS timed calls each, interleaved; each call is one
# backend, so one core (parallel query is off, verify_asset is not parallel).
#
# Usage: bench/verify.sh   (as root; BENCH_RUNS=5)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-5}
N=1000000
A_COPY=$BENCH_ASSET
A_INS=00000000-0000-4000-8000-0000000000b2

bench_init
bench_start verify
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_verify_private_load bench
bench_asset bench "$A_COPY"
bench_asset bench "$A_INS"
points=$(bench_points_file bench "$A_COPY")
sql bench -c "COPY dataspace.point (asset_id, ts, value) FROM '$points'"
awk -v a="$A_INS" 'BEGIN {
	for (k = 0; k < 1000; k++)
		printf "INSERT INTO dataspace.point (asset_id, ts, value) SELECT '\''%s'\'', " \
			"timestamptz '\''2026-01-01 00:00:00+00'\'' + i * interval '\''10 ms'\'', " \
			"50 + 10 * sin(i / 1000.0) FROM generate_series(%d, %d) i;\n", \
			a, k * 1000 + 1, k * 1000 + 1000 }' >"$BENCH_WORK/verify-inserts.sql"
chmod 644 "$BENCH_WORK/verify-inserts.sql"
sql bench -f "$BENCH_WORK/verify-inserts.sql"
seals=$(bench_seal_all bench)
[ "$seals" -eq 200 ] || die "expected 200 seals, made $seals"
sql bench -c "VACUUM ANALYZE dataspace.point" -c "VACUUM ANALYZE dataspace.seal" -c "CHECKPOINT"

# verify_one ASSET: prints "WALL-SECONDS CPU-SECONDS" (CPU of the backend),
# checks that every seal verified
verify_one() {
	t0=$(now)
	out=$(sql_cpu bench -c "SELECT count(*), count(*) FILTER (WHERE ok) FROM dataspace.verify_asset('$1')")
	t1=$(now)
	res=$(echo "$out" | sed -n 2p)
	[ "$res" = "100|100" ] || die "verify_asset('$1') returned $res, expected 100|100"
	echo "$(elapsed "$t0" "$t1") $(echo "$out" | sed -n 1p)"
}

first_copy=$(verify_one "$A_COPY")
first_ins=$(verify_one "$A_INS")
log "warm-up: copy $first_copy s, inserts $first_ins s"
declare -a tc ti cc ci
for r in $(seq 1 "$runs"); do
	x=$(verify_one "$A_COPY")
	tc[$r]=${x% *}
	cc[$r]=${x#* }
	x=$(verify_one "$A_INS")
	ti[$r]=${x% *}
	ci[$r]=${x#* }
	log "run $r: copy ${tc[$r]} s (CPU ${cc[$r]} s), inserts ${ti[$r]} s (CPU ${ci[$r]} s)"
done
mc=$(median "${tc[@]}")
mi=$(median "${ti[@]}")
mcc=$(median "${cc[@]}")
mci=$(median "${ci[@]}")

echo
echo "== verify_asset: $N points, 100 seals of 10,000, $runs runs after one warm-up, medians"
bench_machine
echo "query: SELECT count(*), count(*) FILTER (WHERE ok) FROM dataspace.verify_asset('<asset>')"
echo "wall time (date +%s.%N around psql) and CPU time of the backend (its /proc/self/stat)"
printf '%-36s wall %7s s %9s points/s   CPU %6s s %9s points/s   warm-up %s, runs: %s\n' \
	"asset loaded by one COPY (1 batch)" "$mc" "$(rate $N "$mc")" "$mcc" "$(rate $N "$mcc")" \
	"${first_copy% *}" "${tc[*]}"
printf '%-36s wall %7s s %9s points/s   CPU %6s s %9s points/s   warm-up %s, runs: %s\n' \
	"asset loaded by 1000 INSERTs" "$mi" "$(rate $N "$mi")" "$mci" "$(rate $N "$mci")" \
	"${first_ins% *}" "${ti[*]}"
