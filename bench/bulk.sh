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
# psql's start (a few ms, the same for every variant).  Alongside, the CPU
# time (user + system) of the backend doing the work, read from its
# /proc/self/stat in the same session: on a shared machine it is much
# steadier, though it leaves out the WAL writer, checkpointer and fsync waits.
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

# load TABLE: the timed ingest step; prints the backend's CPU seconds
load() {
	if [ "$mode" = copy ]; then
		sql_cpu bench -c "COPY $1 (asset_id, ts, value) FROM '$points'"
	else
		sql_cpu bench -f "$(insert_script "$1")"
	fi
}

# seal: seal_pending() until nothing is pending; prints "CPU-SECONDS SEALS"
seal() {
	cpu=0
	made=0
	while :; do
		out=$(sql_cpu bench -c "SELECT dataspace.seal_pending()")
		left=$(sqlat bench -c "SELECT (SELECT count(*) FROM dataspace.pending_batch)
			+ (SELECT count(*) FROM dataspace.pending_run)")
		cpu=$(awk -v a="$cpu" -v b="$(echo "$out" | sed -n 1p)" 'BEGIN { print a + b }')
		made=$((made + $(echo "$out" | sed -n 2p)))
		[ "$left" -eq 0 ] && break
	done
	echo "$cpu $made"
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

# t_*: wall seconds, c_*: backend CPU seconds, per "variant,run"
declare -A t_load t_seal t_total c_load c_seal c_total nseals
variants=(dataspace nojit plain bare)
for r in $(seq 1 "$runs"); do
	# rotate the order so that no variant always runs first
	for i in 0 1 2 3; do
		v=${variants[$(((i + r) % 4))]}
		prepare "$v"
		sc="0 0"
		t0=$(now)
		lc=$(load "$(table_of "$v")")
		t1=$(now)
		case "$v" in
			dataspace) sc=$(seal) ;;
			nojit) sc=$(BENCH_SQL_OPTIONS="-c jit=off" seal) ;;
		esac
		t2=$(now)
		seals=${sc#* }
		c_load[$v,$r]=$(echo "$lc" | sed -n 1p)
		c_seal[$v,$r]=${sc% *}
		c_total[$v,$r]=$(awk -v a="${c_load[$v,$r]}" -v b="${c_seal[$v,$r]}" 'BEGIN { print a + b }')
		n=$(sqlat bench -c "SELECT count(*) FROM $(table_of "$v")")
		[ "$n" -eq "$N" ] || die "$v: $n rows, expected $N"
		t_load[$v,$r]=$(elapsed "$t0" "$t1")
		t_seal[$v,$r]=$(elapsed "$t1" "$t2")
		t_total[$v,$r]=$(elapsed "$t0" "$t2")
		if [ "$v" = dataspace ] || [ "$v" = nojit ]; then
			sealed=$(sqlat bench -c "SELECT sum(point_count) FROM dataspace.seal")
			[ "$sealed" -eq "$N" ] || die "seals cover $sealed points, expected $N"
			nseals[$v,$r]=$seals
			log "run $r $v: load ${t_load[$v,$r]} s + seal ${t_seal[$v,$r]} s ($seals seals) = ${t_total[$v,$r]} s;" \
				"CPU ${c_load[$v,$r]} + ${c_seal[$v,$r]} s"
		else
			log "run $r $v: ${t_total[$v,$r]} s; CPU ${c_total[$v,$r]} s"
		fi
	done
done

# med KIND VARIANT [c]: median over the runs of t_KIND[VARIANT,*] (c_KIND
# with c, the CPU seconds)
med() {
	declare -n arr="${3:-t}_$1"
	vals=()
	for r in $(seq 1 "$runs"); do vals+=("${arr[$2,$r]}"); done
	median "${vals[@]}"
}
# rat VARIANT KIND BASELINE [c]: per-run throughput ratios baseline time /
# variant time (t_KIND of the variant; CPU seconds with c), their median
rat() {
	declare -n arr="${4:-t}_$2"
	declare -n base="${4:-t}_total"
	vals=()
	for r in $(seq 1 "$runs"); do vals+=("$(ratio "${base[$3,$r]}" "${arr[$1,$r]}")"); done
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
line() {
	printf '%-44s %7.3f s %8s %-8s  CPU %6.2f s %8s %s/s\n' "$1" "$(med "$2" "$3")" \
		"$(rate $N "$(med "$2" "$3")")" "${4:-rows}/s" "$(med "$2" "$3" c)" "$(rate $N "$(med "$2" "$3" c)")" "${4:-rows}"
}
echo "wall time (date +%s.%N around psql) and CPU time of the backend (its /proc/self/stat)"
line "sealed, load + seal" total dataspace
line "  load only" load dataspace
line "  seal only (seal_pending until none pending)" seal dataspace points
line "sealed, sealing session with jit = off" total nojit
line "  seal only" seal nojit points
line "plain table (identity seq + primary key)" total plain
line "bare table (no index)" total bare
echo "throughput ratios, median of per-run ratios (wall | backend CPU):"
for x in "sealed / plain:dataspace total plain" "sealed / bare:dataspace total bare" \
	"load only / plain:dataspace load plain" "load only / bare:dataspace load bare" \
	"sealed, jit off / plain:nojit total plain" "sealed, jit off / bare:nojit total bare"; do
	# shellcheck disable=SC2086
	printf '  %-24s wall %s\n  %-24s CPU  %s\n' "${x%%:*}" "$(rat ${x#*:})" "" "$(rat ${x#*:} c)"
done
