#!/bin/bash
# Single-row autocommit INSERTs from 4 pgbench clients, with the background
# sealer running (library preloaded, dataspace.database = bench).
#
# Configurations, repetitions interleaved:
#   plain     INSERT into a plain table (identity seq + primary key): the
#             baseline without the extension
#   each      a sealed asset with the default settings (seal_min_points 1,
#             seal_max_delay 0): the sealer seals whatever is committed
#             each time it wakes
#   batched   a sealed asset with seal_min_points = 1000,
#             seal_max_delay = '5 s' (seal_max_points stays 10,000)
#   each-nojit, batched-nojit
#             the same with jit = off for the whole server (ALTER SYSTEM,
#             reload: the sealer rereads it).  The seal round sets
#             enable_seqscan = off, whose cost penalty pushes the round's
#             plans over jit_above_cost: every round JIT-compiles.
#
# Besides tps, the CPU time per transaction of the client backends and of
# the sealer (from /proc): steadier than tps on a shared machine.
# Each dataspace run uses a new asset, so its seals can be counted alone.
# After pgbench ends the script waits for the sealer to empty the queue
# (untimed), counts the asset's seals, then seals the points still held
# back with seal_pending() and checks that every point is sealed.
#
# Usage: bench/pgbench.sh   (as root; BENCH_RUNS=3, BENCH_SECONDS=15)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-3}
secs=${BENCH_SECONDS:-15}
clients=4
BATCHED="seal_min_points = 1000, seal_max_delay = '5 s'"

bench_init
bench_start pgbench "shared_preload_libraries = 'pg_dataspace'" "dataspace.database = 'bench'"
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
# The sealer retries a missing database only every few seconds: restart
# so that it connects now, and wait for it.
bench_restart
for _ in $(seq 1 300); do
	[ "$(sqlat bench -c "SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'pg_dataspace sealer'")" -eq 1 ] && break
	sleep 0.1
done
[ "$(sqlat bench -c "SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'pg_dataspace sealer'")" -eq 1 ] || die "the background sealer is not running"
log "background sealer running in database bench"
bench_verify_private_load bench
sql bench -c "CREATE TABLE bench_plain (
	asset_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY,
	ts timestamptz NOT NULL,
	value double precision NOT NULL,
	PRIMARY KEY (asset_id, seq))"
# pgbench reads its script as postgres
cp "$BENCH_DIR/pgbench-point.sql" "$BENCH_DIR/pgbench-plain.sql" "$BENCH_WORK/"
chmod 644 "$BENCH_WORK"/pgbench-*.sql

# wait until the sealer has emptied pending_batch (at most 60 s)
wait_sealer() {
	for _ in $(seq 1 600); do
		[ "$(sqlat bench -c "SELECT count(*) FROM dataspace.pending_batch")" -eq 0 ] && return
		sleep 0.1
	done
	die "the background sealer did not empty the queue within 60 s"
}

# CPU ticks of a process: $1 = pid, $2 = 0 for its own (utime + stime),
# 1 for its reaped children (cutime + cstime)
ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk -v c="$2" '{ print c ? $14 + $15 : $12 + $13 }'
}

# run_pgbench SCRIPT ASSET: prints "TPS CPU-US-PER-TRANSACTION".  The CPU
# is that of the client backends (the postmaster's reaped children: they
# exit when pgbench disconnects) plus the sealer's, over the run.
run_pgbench() {
	pm=$(head -1 "$BENCH_PGDATA/postmaster.pid")
	sealer=$(sqlat bench -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'")
	c0=$(ticks "$pm" 1)
	s0=$(ticks "$sealer" 0)
	out=$(runuser -u postgres -- "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres \
		-n -M prepared -c "$clients" -j 2 -T "$secs" -f "$BENCH_WORK/$1" -D asset="$2" bench 2>&1) ||
		{ echo "$out" >&2; die "pgbench failed"; }
	sleep 0.3 # the backends exit and are reaped
	c1=$(ticks "$pm" 1)
	s1=$(ticks "$sealer" 0)
	n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	t=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
	awk -v t="$t" -v n="$n" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v hz="$CLK_TCK" \
		'BEGIN { printf "%s %.0f %.0f\n", t, c / hz / n * 1e6, s / hz / n * 1e6 }'
}

# set_jit on|off: server-wide, the running sealer included
set_jit() {
	sql bench -c "ALTER SYSTEM SET jit = $1" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
}

declare -A tps seals pts lag cpu_cl cpu_se
configs=(plain each batched each-nojit batched-nojit)
nconf=${#configs[@]}
for r in $(seq 1 "$runs"); do
	for i in $(seq 0 $((nconf - 1))); do
		c=${configs[$(((i + r) % nconf))]}
		asset=$(printf '00000000-0000-4000-8000-%012d' $((r * 10 + i)))
		sql bench -c "TRUNCATE bench_plain" -c "CHECKPOINT"
		case "$c" in
			*-nojit) set_jit off ;;
			*) set_jit on ;;
		esac
		if [ "$c" = plain ]; then
			read -r tps[$c,$r] cpu_cl[$c,$r] cpu_se[$c,$r] <<<"$(run_pgbench pgbench-plain.sql "$asset")"
			log "run $r $c: ${tps[$c,$r]} tps, CPU per transaction: clients ${cpu_cl[$c,$r]} us"
			continue
		fi
		if [ "${c%-nojit}" = batched ]; then
			bench_asset bench "$asset" "$BATCHED"
		else
			bench_asset bench "$asset"
		fi
		read -r tps[$c,$r] cpu_cl[$c,$r] cpu_se[$c,$r] <<<"$(run_pgbench pgbench-point.sql "$asset")"
		# points not yet sealed or held when the clients stop: the sealer's lag
		lag[$c,$r]=$(sqlat bench -c "SELECT count(*) FROM dataspace.point p
			WHERE p.asset_id = '$asset' AND p.batch_id IN (SELECT batch_id FROM dataspace.pending_batch)")
		wait_sealer
		seals[$c,$r]=$(sqlat bench -c "SELECT count(*) FROM dataspace.seal WHERE asset_id = '$asset'")
		pts[$c,$r]=$(sqlat bench -c "SELECT count(*) FROM dataspace.point WHERE asset_id = '$asset'")
		sqlat bench -c "SELECT dataspace.seal_pending('$asset')" >/dev/null
		sealed=$(sqlat bench -c "SELECT coalesce(sum(point_count), 0) FROM dataspace.seal WHERE asset_id = '$asset'")
		[ "$sealed" -eq "${pts[$c,$r]}" ] || die "asset $asset: $sealed of ${pts[$c,$r]} points sealed"
		log "run $r $c: ${tps[$c,$r]} tps, ${pts[$c,$r]} points, ${seals[$c,$r]} seals by the sealer," \
			"${lag[$c,$r]} points queued at the end; CPU per transaction: clients ${cpu_cl[$c,$r]} us, sealer ${cpu_se[$c,$r]} us"
	done
done

echo
echo "== pgbench: single-row autocommit INSERT, $clients clients, ${secs} s, $runs runs, medians"
bench_machine
echo "command: pgbench -n -M prepared -c $clients -j 2 -T $secs -f pgbench-point.sql -D asset=<uuid> bench"
echo "batched: $BATCHED"
echo "server: shared_preload_libraries = 'pg_dataspace', dataspace.database = 'bench', synchronous_commit = on"
for c in "${configs[@]}"; do
	t=()
	s=()
	p=()
	q=()
	u=()
	w=()
	for r in $(seq 1 "$runs"); do
		t+=("${tps[$c,$r]}")
		u+=("${cpu_cl[$c,$r]}")
		w+=("${cpu_se[$c,$r]}")
		if [ "$c" != plain ]; then
			s+=("${seals[$c,$r]}")
			p+=("$(awk -v a="${pts[$c,$r]}" -v b="${seals[$c,$r]}" 'BEGIN { printf "%.1f", b ? a / b : 0 }')")
			q+=("${lag[$c,$r]}")
		fi
	done
	case "$c" in
		plain) label="plain table" ;;
		each) label="sealed, default (min 1, delay 0)" ;;
		batched) label="sealed, batched" ;;
		each-nojit) label="sealed, default, jit = off" ;;
		batched-nojit) label="sealed, batched, jit = off" ;;
	esac
	if [ "$c" = plain ]; then
		printf '%-30s tps %6.0f  CPU/txn: clients %4.0f us, sealer %4.0f us   runs tps: %s\n' \
			"$label" "$(median "${t[@]}")" "$(median "${u[@]}")" "$(median "${w[@]}")" "${t[*]}"
	else
		printf '%-30s tps %6.0f  CPU/txn: clients %4.0f us, sealer %4.0f us   seals %5.0f  points/seal %6.1f  queued at end %4.0f   runs tps: %s  seals: %s\n' \
			"$label" "$(median "${t[@]}")" "$(median "${u[@]}")" "$(median "${w[@]}")" \
			"$(median "${s[@]}")" "$(median "${p[@]}")" "$(median "${q[@]}")" "${t[*]}" "${s[*]}"
	fi
done
for c in each batched each-nojit batched-nojit; do
	rr=()
	for r in $(seq 1 "$runs"); do rr+=("$(ratio "${tps[$c,$r]}" "${tps[plain,$r]}")"); done
	echo "ratio $c/plain tps (median of per-run ratios): $(median "${rr[@]}")   runs: ${rr[*]}"
done
