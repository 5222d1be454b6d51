#!/bin/bash
# Where the time goes: perf profiles of the backends doing the work (only
# those: the machine may be shared), call graphs through frame pointers
# (Debian builds PostgreSQL and PGXS modules with -fno-omit-frame-pointer), of
#   copy        COPY of 1,000,000 points into dataspace.point
#   copy-plain  the same COPY into the plain baseline table
#   seal        seal_pending() of those points
#   verify      verify_asset over them
#   pgbench     8 s of single-row INSERTs from 4 clients, sealer running;
#               again with jit = off (pgbench-nojit)
# Not part of bench/run.sh: profiles explain numbers, they are not numbers.
# Needs `perf` (Debian package linux-perf).
#
# Usage: bench/profile.sh   (as root); reports in $BENCH_WORK/perf-*.txt,
# the top of each printed.
set -eu
. "$(dirname "$0")/lib.sh"

command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
ASSET=$BENCH_ASSET
BENCH_KEEP=${BENCH_KEEP:-1}

bench_init
bench_start profile
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_verify_private_load bench
bench_asset bench "$ASSET"
points=$(bench_points_file bench "$ASSET")
sql bench -c "CREATE TABLE bench_plain (asset_id uuid NOT NULL,
	seq bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL,
	value double precision NOT NULL, PRIMARY KEY (asset_id, seq))" -c "CHECKPOINT"

# report NAME: flat (self) and inclusive (children) reports of a recording
report() {
	perf report -q -i "$BENCH_WORK/perf-$1.data" --no-children --sort dso,symbol \
		--stdio -g none --percent-limit 0.5 2>/dev/null | cut -c1-110 >"$BENCH_WORK/perf-$1.txt"
	perf report -q -i "$BENCH_WORK/perf-$1.data" --children --sort symbol \
		--stdio -g none --percent-limit 2 2>/dev/null | cut -c1-110 >"$BENCH_WORK/perf-$1-children.txt"
	echo
	echo "== perf $1: self time (top 30)"
	head -30 "$BENCH_WORK/perf-$1.txt"
	echo "-- inclusive time (top 45)"
	head -45 "$BENCH_WORK/perf-$1-children.txt"
}

# prof NAME SQL: record only the backend that runs SQL (the machine may be
# shared): the session writes its pid, sleeps while perf attaches to it,
# then runs SQL
prof() {
	name=$1
	rm -f "$BENCH_WORK/pid"
	sql bench -c "SELECT pg_backend_pid()" -At -o "$BENCH_WORK/pid" -c "SELECT pg_sleep(1)" \
		-c "$2" >/dev/null &
	session=$!
	while [ ! -s "$BENCH_WORK/pid" ]; do sleep 0.05; done
	perf record -q -g -p "$(cat "$BENCH_WORK/pid")" -o "$BENCH_WORK/perf-$name.data" >/dev/null 2>&1 &
	recorder=$!
	wait "$session"
	kill -INT "$recorder"
	wait "$recorder" || true
	report "$name"
}

prof copy "COPY dataspace.point (asset_id, ts, value) FROM '$points'"
prof copy-plain "COPY bench_plain (asset_id, ts, value) FROM '$points'"
prof seal "SELECT dataspace.seal_pending()"
sql bench -c "VACUUM ANALYZE dataspace.point" -c "CHECKPOINT"
prof verify "SELECT count(*) FROM dataspace.verify_asset('$ASSET')"
bench_stop

bench_start profile-pgbench "shared_preload_libraries = 'pg_dataspace'" "dataspace.database = 'bench'"
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_restart
bench_asset bench "$ASSET"
cp "$BENCH_DIR/pgbench-point.sql" "$BENCH_WORK/"
chmod 644 "$BENCH_WORK/pgbench-point.sql"
sleep 2 # let the sealer connect (it is restarted with the server)
# prof_pgbench NAME: 8 s of the four clients' backends and the sealer
prof_pgbench() {
	runuser -u postgres -- "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres \
		-n -M prepared -c 4 -j 2 -T 10 -f "$BENCH_WORK/pgbench-point.sql" -D asset="$ASSET" bench \
		>"$BENCH_WORK/pgbench-profile.out" 2>&1 &
	bench_client=$!
	sleep 1
	pids=$(sqlat bench -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		WHERE (backend_type = 'client backend' AND application_name = 'pgbench')
		   OR backend_type = 'pg_dataspace sealer'")
	perf record -q -g -p "$pids" -o "$BENCH_WORK/perf-$1.data" -- sleep 8 >/dev/null 2>&1
	wait "$bench_client"
	grep '^tps' "$BENCH_WORK/pgbench-profile.out"
	report "$1"
	echo "-- per process"
	sqlat bench -c "SELECT pid, backend_type FROM pg_stat_activity WHERE pid IN ($pids)"
	perf report -q -i "$BENCH_WORK/perf-$1.data" --sort pid --stdio -g none 2>/dev/null | head -6
	sealer=$(sqlat bench -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'")
	echo "-- the sealer alone, by library"
	perf report -q -i "$BENCH_WORK/perf-$1.data" --pid "$sealer" --no-children --sort dso \
		--stdio -g none 2>/dev/null | head -6
}

prof_pgbench pgbench
sql bench -c "ALTER SYSTEM SET jit = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
prof_pgbench pgbench-nojit
echo
echo "perf data and full reports: $BENCH_WORK/perf-*"
