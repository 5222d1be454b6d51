#!/bin/bash
# Bulk ingest of 1,000,000 points: sealed dataspace.point against two
# baselines, in the same run, repetitions interleaved.
#
#   bench/bulk.sh copy      one COPY ... FROM '<file>' (server-side file)
#   bench/bulk.sh insert    1000 autocommit statements of
#                           INSERT ... SELECT ... FROM generate_series (1000 rows each)
#
# Variants (same columns asset_id, seq, ts, value; seq from a sequence):
#   dataspace   dataspace.point, one asset, default seal size (10,000);
#               timed: the load, then SELECT dataspace.seal_pending() until
#               nothing is pending
#   plain       seq bigint identity, PRIMARY KEY (asset_id, seq), nothing else
#   bare        the same columns, no index, no constraint
#
# Time is wall time (date +%s.%N) around each psql call, so it includes
# psql's start (a few ms, the same for every variant).
# Usage: bench/bulk.sh copy|insert     (as root; BENCH_RUNS=5 by default)
set -eu
. "$(dirname "$0")/lib.sh"

mode=${1:-}
case "$mode" in
	copy | insert) ;;
	*) die "usage: bench/bulk.sh copy|insert" ;;
esac
runs=${BENCH_RUNS:-5}
N=1000000
ASSET=$BENCH_ASSET

bench_init
bench_start "bulk-$mode"
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" >/dev/null
bench_verify_private_load bench
points=$(bench_points_file bench "$ASSET")

# The INSERT variant: one psql script per table, 1000 statements.
insert_script() {
	f=$BENCH_WORK/insert-$1.sql
	awk -v t="$1" -v a="$ASSET" 'BEGIN {
		for (k = 0; k < 1000; k++)
			printf "INSERT INTO %s (asset_id, ts, value) SELECT '\''%s'\'', " \
				"timestamptz '\''2026-01-01 00:00:00+00'\'' + i * interval '\''10 ms'\'', " \
				"50 + 10 * sin(i / 1000.0) FROM generate_series(%d, %d) i;\n", \
				t, a, k * 1000 + 1, k * 1000 + 1000 }' >"$f"
	chmod 644 "$f"
	echo "$f"
}

# load TABLE: the timed ingest step
load() {
	if [ "$mode" = copy ]; then
		sql bench -c "COPY $1 (asset_id, ts, value) FROM '$points'"
	else
		sql bench -f "$(insert_script "$1")"
	fi
}

# prepare VARIANT: fresh, empty target, then a checkpoint
prepare() {
	case "$1" in
		dataspace)
			# a fresh extension (DROP EXTENSION drops every point and seal)
			sql bench -c "DROP EXTENSION pg_dataspace CASCADE" -c "CREATE EXTENSION pg_dataspace" \
				-c "SELECT FROM dataspace.node_info()" >/dev/null
			bench_asset bench "$ASSET"
			;;
		plain)
			sql bench -c "DROP TABLE IF EXISTS bench_plain" -c "CREATE TABLE bench_plain (
				asset_id uuid NOT NULL,
				seq bigint GENERATED ALWAYS AS IDENTITY,
				ts timestamptz NOT NULL,
				value double precision NOT NULL,
				PRIMARY KEY (asset_id, seq))"
			;;
		bare)
			sql bench -c "DROP TABLE IF EXISTS bench_bare" -c "CREATE TABLE bench_bare (
				asset_id uuid, seq bigint GENERATED ALWAYS AS IDENTITY,
				ts timestamptz, value double precision)"
			;;
	esac
	sql bench -c "CHECKPOINT"
}

table_of() {
	case "$1" in
		dataspace) echo dataspace.point ;;
		plain) echo bench_plain ;;
		bare) echo bench_bare ;;
	esac
}

# pre-generate the INSERT scripts outside the timing
if [ "$mode" = insert ]; then
	for v in dataspace plain bare; do insert_script "$(table_of $v)" >/dev/null; done
fi

declare -a ds_total ds_load ds_seal plain_t bare_t r_plain r_bare r_plain_load r_bare_load
variants=(dataspace plain bare)
for r in $(seq 1 "$runs"); do
	# rotate the order so that no variant always runs first
	for i in 0 1 2; do
		v=${variants[$(((i + r) % 3))]}
		prepare "$v"
		t0=$(now)
		load "$(table_of "$v")"
		t1=$(now)
		if [ "$v" = dataspace ]; then
			seals=$(bench_seal_all bench)
			t2=$(now)
			n=$(sqlat bench -c "SELECT count(*) FROM dataspace.point")
			[ "$n" -eq "$N" ] || die "dataspace.point holds $n points, expected $N"
			sealed=$(sqlat bench -c "SELECT sum(point_count) FROM dataspace.seal")
			[ "$sealed" -eq "$N" ] || die "seals cover $sealed points, expected $N"
			ds_load[$r]=$(elapsed "$t0" "$t1")
			ds_seal[$r]=$(elapsed "$t1" "$t2")
			ds_total[$r]=$(elapsed "$t0" "$t2")
			log "run $r dataspace: load ${ds_load[$r]} s + seal ${ds_seal[$r]} s ($seals seals) = ${ds_total[$r]} s"
		else
			n=$(sqlat bench -c "SELECT count(*) FROM $(table_of "$v")")
			[ "$n" -eq "$N" ] || die "$v holds $n rows, expected $N"
			e=$(elapsed "$t0" "$t1")
			if [ "$v" = plain ]; then plain_t[$r]=$e; else bare_t[$r]=$e; fi
			log "run $r $v: $e s"
		fi
	done
	# throughput ratios within this repetition: baseline time / dataspace time
	r_plain[$r]=$(ratio "${plain_t[$r]}" "${ds_total[$r]}")
	r_bare[$r]=$(ratio "${bare_t[$r]}" "${ds_total[$r]}")
	r_plain_load[$r]=$(ratio "${plain_t[$r]}" "${ds_load[$r]}")
	r_bare_load[$r]=$(ratio "${bare_t[$r]}" "${ds_load[$r]}")
done

mt=$(median "${ds_total[@]}")
ml=$(median "${ds_load[@]}")
ms=$(median "${ds_seal[@]}")
mp=$(median "${plain_t[@]}")
mb=$(median "${bare_t[@]}")
echo
echo "== bulk $mode: $N points, $runs runs, medians"
bench_machine
if [ "$mode" = copy ]; then
	echo "load: COPY dataspace.point (asset_id, ts, value) FROM '<file>' (server-side file)"
else
	echo "load: 1000 autocommit statements INSERT ... SELECT ... FROM generate_series (1000 rows each), psql -f"
fi
printf '%-34s %9s s %12s rows/s\n' "dataspace, load + seal" "$mt" "$(rate $N "$mt")"
printf '%-34s %9s s %12s rows/s\n' "  load only" "$ml" "$(rate $N "$ml")"
printf '%-34s %9s s %12s points/s\n' "  seal only (seal_pending)" "$ms" "$(rate $N "$ms")"
printf '%-34s %9s s %12s rows/s\n' "plain table (identity + pkey)" "$mp" "$(rate $N "$mp")"
printf '%-34s %9s s %12s rows/s\n' "bare table (no index)" "$mb" "$(rate $N "$mb")"
echo "ratio sealed/plain (median of per-run ratios): $(median "${r_plain[@]}")   runs: ${r_plain[*]}"
echo "ratio sealed/bare  (median of per-run ratios): $(median "${r_bare[@]}")   runs: ${r_bare[*]}"
echo "ratio load-only/plain: $(median "${r_plain_load[@]}")   load-only/bare: $(median "${r_bare_load[@]}")"
