#!/bin/bash
# dataspace.verify_asset over 1,000,000 points of one asset sealed at the
# default seal size (10,000 points, so 100 seals): points per second.
#
# Setup (untimed): COPY the points, seal them, VACUUM ANALYZE (hint bits
# set, as on any table that has been vacuumed since), CHECKPOINT.  One
# warm-up call, then BENCH_RUNS timed calls; each is one backend, so one
# core (parallel query is off, and verify_asset is not parallel anyway).
#
# Usage: bench/verify.sh   (as root; BENCH_RUNS=5)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-5}
N=1000000
ASSET=$BENCH_ASSET

bench_init
bench_start verify
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_verify_private_load bench
bench_asset bench "$ASSET"
points=$(bench_points_file bench "$ASSET")
sql bench -c "COPY dataspace.point (asset_id, ts, value) FROM '$points'"
seals=$(bench_seal_all bench)
[ "$seals" -eq 100 ] || die "expected 100 seals, made $seals"
sql bench -c "VACUUM ANALYZE dataspace.point" -c "VACUUM ANALYZE dataspace.seal" -c "CHECKPOINT"

Q="SELECT count(*), count(*) FILTER (WHERE ok) FROM dataspace.verify_asset('$ASSET')"
# verify_one: prints the elapsed seconds, checks every seal verified
verify_one() {
	t0=$(now)
	res=$(sqlat bench -c "$Q")
	t1=$(now)
	[ "$res" = "100|100" ] || die "verify_asset returned $res, expected 100|100"
	elapsed "$t0" "$t1"
}

first=$(verify_one)
log "warm-up: $first s"
declare -a t
for r in $(seq 1 "$runs"); do
	t[$r]=$(verify_one)
	log "run $r: ${t[$r]} s"
done
m=$(median "${t[@]}")

echo
echo "== verify_asset: $N points, 100 seals of 10,000, $runs runs after one warm-up, median"
bench_machine
echo "query: $Q"
printf 'first call (warm-up)   %8s s  %10s points/s\n' "$first" "$(rate $N "$first")"
printf 'median                 %8s s  %10s points/s   runs: %s\n' "$m" "$(rate $N "$m")" "${t[*]}"
