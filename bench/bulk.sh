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
#   nojit       the same, the sealing session with jit = off (the seal
#               round sets enable_seqscan = off, whose cost penalty makes
#               every plan of the round look expensive enough to JIT)
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
		dataspace | nojit)
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
		dataspace | nojit) echo dataspace.point ;;
		plain) echo bench_plain ;;
		bare) echo bench_bare ;;
	esac
}

# pre-generate the INSERT scripts outside the timing
if [ "$mode" = insert ]; then
	for v in dataspace plain bare; do insert_script "$(table_of $v)" >/dev/null; done
fi

# t_load, t_seal, t_total: seconds per "variant,run"; r_*: per-run ratios
declare -A t_load t_seal t_total nseals
variants=(dataspace nojit plain bare)
for r in $(seq 1 "$runs"); do
	# rotate the order so that no variant always runs first
	for i in 0 1 2 3; do
		v=${variants[$(((i + r) % 4))]}
		prepare "$v"
		t0=$(now)
		load "$(table_of "$v")"
		t1=$(now)
		case "$v" in
			dataspace) seals=$(bench_seal_all bench) ;;
			nojit) seals=$(BENCH_SQL_OPTIONS="-c jit=off" bench_seal_all bench) ;;
		esac
		t2=$(now)
		n=$(sqlat bench -c "SELECT count(*) FROM $(table_of "$v")")
		[ "$n" -eq "$N" ] || die "$v: $n rows, expected $N"
		t_load[$v,$r]=$(elapsed "$t0" "$t1")
		t_seal[$v,$r]=$(elapsed "$t1" "$t2")
		t_total[$v,$r]=$(elapsed "$t0" "$t2")
		if [ "$v" = dataspace ] || [ "$v" = nojit ]; then
			sealed=$(sqlat bench -c "SELECT sum(point_count) FROM dataspace.seal")
			[ "$sealed" -eq "$N" ] || die "seals cover $sealed points, expected $N"
			nseals[$v,$r]=$seals
			log "run $r $v: load ${t_load[$v,$r]} s + seal ${t_seal[$v,$r]} s ($seals seals) = ${t_total[$v,$r]} s"
		else
			log "run $r $v: ${t_total[$v,$r]} s"
		fi
	done
done

# med KIND VARIANT: median over the runs of t_KIND[VARIANT,*]
med() {
	declare -n arr="t_$1"
	vals=()
	for r in $(seq 1 "$runs"); do vals+=("${arr[$2,$r]}"); done
	median "${vals[@]}"
}
# rat VARIANT KIND BASELINE: per-run throughput ratios baseline time /
# variant time (t_KIND of the variant), then their median
rat() {
	declare -n arr="t_$2"
	vals=()
	for r in $(seq 1 "$runs"); do vals+=("$(ratio "${t_total[$3,$r]}" "${arr[$1,$r]}")"); done
	echo "$(median "${vals[@]}") (runs: ${vals[*]})"
}

echo
echo "== bulk $mode: $N points, $runs runs, medians"
bench_machine
if [ "$mode" = copy ]; then
	echo "load: COPY dataspace.point (asset_id, ts, value) FROM '<file>' (server-side file)"
else
	echo "load: 1000 autocommit statements INSERT ... SELECT ... FROM generate_series (1000 rows each), psql -f"
fi
line() { printf '%-44s %8.3f s %10s %s/s\n' "$1" "$2" "$(rate $N "$2")" "${3:-rows}"; }
line "sealed, load + seal" "$(med total dataspace)"
line "  load only" "$(med load dataspace)"
line "  seal only (seal_pending until none pending)" "$(med seal dataspace)" points
line "sealed, sealing session with jit = off" "$(med total nojit)"
line "  seal only" "$(med seal nojit)" points
line "plain table (identity seq + primary key)" "$(med total plain)"
line "bare table (no index)" "$(med total bare)"
echo "ratio sealed / plain:            $(rat dataspace total plain)"
echo "ratio sealed / bare:             $(rat dataspace total bare)"
echo "ratio load only / plain:         $(rat dataspace load plain)"
echo "ratio load only / bare:          $(rat dataspace load bare)"
echo "ratio sealed, jit off / plain:   $(rat nojit total plain)"
echo "ratio sealed, jit off / bare:    $(rat nojit total bare)"
