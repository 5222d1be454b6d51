#!/bin/bash
# dataspace.verify_seal and dataspace.point_proof called once per seal:
# 2,000 seals of one point each, every seal verified on its own, then a
# proof of every seal's first point.  What one call costs: the queries of
# one seal's check, one Ed25519 verification.  Prints CPU seconds of the
# backend for the calls, medians of BENCH_RUNS runs after a warm-up.
# BENCH_EVERY=k calls them on every k-th seal only: a long chain
# (BENCH_SEALS) at the same number of calls.
#
# Usage: bench/verify_seal.sh   (as root; BENCH_RUNS=5, BENCH_SEALS=2000,
#        BENCH_EVERY=1)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-5}
N=${BENCH_SEALS:-2000}
EVERY=${BENCH_EVERY:-1}
CALLS=$((N / EVERY))
A=$BENCH_ASSET

bench_init
bench_start verify_seal
bench_one_point_seals "$A" "$N"
sql bench -c "VACUUM ANALYZE" >/dev/null

# calls LABEL QUERY: QUERY returns CALLS when every call succeeded
calls() {
	declare -a cpu
	for r in $(seq 0 "$runs"); do
		out=$(sql_cpu bench -c "$2")
		[ "$(echo "$out" | sed -n 2p)" = "$CALLS" ] || die "$1 returned '$(echo "$out" | sed -n 2p)'"
		[ "$r" -eq 0 ] && continue		# warm-up
		cpu[$r]=$(echo "$out" | sed -n 1p)
		log "$1, run $r: CPU ${cpu[$r]} s"
	done
	echo "== $CALLS calls of $1 (every $EVERY. of $N seals), $runs runs after one warm-up, medians"
	echo "CPU of the backend: $(median "${cpu[@]}") s"
}
echo
bench_machine
# the seals to call on, picked before the timing
sql bench -c "CREATE TABLE picked AS SELECT id, asset_id, first_seq FROM dataspace.seal
	WHERE chain_pos % $EVERY = 0" >/dev/null
calls verify_seal "SELECT count(*) FILTER (WHERE dataspace.verify_seal(id)) FROM picked"
calls point_proof "SELECT count(*) FILTER (WHERE dataspace.verify_proof(dataspace.point_proof(asset_id, first_seq))) FROM picked"
