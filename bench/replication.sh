#!/bin/bash
# Peer replication against PostgreSQL's native logical replication, between
# the same two clusters in the same run.
#
# Clusters (private installation, bench/lib.sh): a hub, a provider and a
# consumer.  The provider serves TLS (self-signed) and has wal_level =
# logical; the consumer pulls pg_dataspace streams over TLS as the export
# role (challenge and response, as in test/t/010_replication.pl) under a
# contract made through the hub.  Native logical replication runs between
# the same provider and consumer, in a second database `nat`: a plain table
# pt (asset_id uuid, seq bigint, ts timestamptz, value float8,
# PRIMARY KEY (asset_id, seq)), a publication on the provider, a
# subscription on the consumer (sslmode=require, copy_data = false).
# Everything at the defaults except the settings of bench/lib.sh and
# hub sync (dataspace.sync_interval, setup only); the default seal size
# (10,000 points), dataspace.sealer_naptime and
# dataspace.replication_naptime (1 s) are left as they are.
#
# Part 1, throughput: one INSERT ... SELECT of 1,000,000 rows on the
# provider (one transaction) per variant and repetition, the two variants
# alternating (order rotated).  Timed: from the provider's commit (the
# clock_timestamp() of the next statement in the loading session) to the
# moment a polling function on the consumer (every 10 ms) sees the last
# row: native, the row with the last seq in pt; ours,
# dataspace.subscription_state.points_received reaching the total.  Each
# repetition appends 1,000,000 rows to both tables.  Ratio = native time /
# our time within one repetition (a throughput ratio); the median is
# reported.  CPU seconds of each cluster over the same interval (load
# included) come from /proc: the postmaster's utime+stime+cutime+cstime
# plus the utime+stime of its live children.
#
# Part 2, lag: pgbench on the provider, one client, --rate 100 of a
# 100-row INSERT (10,000 points/s) for BENCH_LAG_SECONDS (30); ts =
# clock_timestamp() at insert.  On the consumer a polling function records
# (clock_timestamp(), max(seq)) every 10 ms; a point's arrival is the first
# poll that sees its seq (rows arrive in seq order: one client, seals in
# chain order), lag = arrival - ts.  p50/p99/max over all points, ours and
# native, one after the other.  The 10 ms poll adds 0-10 ms.
#
# Usage: bench/replication.sh     (as root)
#   BENCH_RUNS=3            repetitions of part 1
#   BENCH_LAG_SECONDS=30    length of each lag run
#   BENCH_LAG_RUNS=2        lag runs per variant (alternating)
#   BENCH_KEEP=1            keep the work directory
#   BENCH_PERF=1            perf profiles (needs linux-perf) of the first
#                           1,000,000-point run of ours: the consumer's
#                           replication worker, the provider's export backend
#                           and sealer, and of the first lag run of ours
#                           (the same three); reports in $BENCH_WORK/perf-*.txt
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-3}
lag_seconds=${BENCH_LAG_SECONDS:-30}
lag_runs=${BENCH_LAG_RUNS:-2}
N=1000000
ASSET=00000000-0000-4000-8000-0000000000b1
TWIN=00000000-0000-4000-8000-0000000000b0

if [ -z "${BENCH_WORK:-}" ]; then
	BENCH_WORK=$(mktemp -d /tmp/replbench-XXXXXX)
	export BENCH_WORK
	REPL_OWN_WORK=1
else
	REPL_OWN_WORK=0
fi
bench_init

# three clusters: names, data directories and ports
declare -A DATA PORT
repl_cleanup() {
	rc=$?
	for c in "${!DATA[@]}"; do
		if [ -f "${DATA[$c]}/postmaster.pid" ]; then
			runuser -u postgres -- "$PGBIN/pg_ctl" -D "${DATA[$c]}" -m fast -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ "$REPL_OWN_WORK" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
		rm -rf "$BENCH_WORK"
	fi
	exit $rc
}
trap repl_cleanup EXIT

start_cluster() {
	name=$1
	shift
	bench_start "$name" "$@"
	DATA[$name]=$BENCH_PGDATA
	PORT[$name]=$PGPORT
	BENCH_PGDATA=			# stopped by repl_cleanup, not by lib.sh
}

# at CLUSTER DB PSQL-ARGS...: unaligned, tuples only
at() {
	c=$1
	shift
	PGPORT=${PORT[$c]} sqlat "$@"
}

# cluster CPU seconds so far: postmaster incl. reaped children + live children
cluster_cpu() {
	pm=$(head -1 "${DATA[$1]}/postmaster.pid")
	{
		awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$pm/stat"
		for k in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
			awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$k/stat" 2>/dev/null || true
		done
	} | awk -v hz="$CLK_TCK" '{ s += $1 } END { printf "%.2f", s / hz }'
}

# CPU seconds of one process so far
proc_cpu() { awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }

sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------------
# setup
# ---------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$BENCH_WORK/server.key" -out "$BENCH_WORK/server.crt" 2>/dev/null
chown postgres: "$BENCH_WORK/server.key" "$BENCH_WORK/server.crt"
chmod 600 "$BENCH_WORK/server.key"

start_cluster hub "shared_preload_libraries = 'pg_dataspace'" "dataspace.mode = 'hub'" \
	"dataspace.database = 'postgres'" "dataspace.node_name = 'hub'"
at hub postgres -c "CREATE EXTENSION pg_dataspace" \
	-c "CREATE ROLE node_prov LOGIN IN ROLE dataspace_participant" \
	-c "CREATE ROLE node_cons LOGIN IN ROLE dataspace_participant" >/dev/null
HUB_KEY=$(at hub postgres -c "SELECT encode(public_key, 'hex') FROM dataspace.node_info()")

node_conf() {
	echo "shared_preload_libraries = 'pg_dataspace'"
	echo "dataspace.database = 'postgres'"
	echo "dataspace.node_name = '$1'"
	echo "dataspace.hub = 'host=127.0.0.1 port=${PORT[hub]} dbname=postgres user=node_$1'"
	echo "dataspace.hub_public_key = '$HUB_KEY'"
	echo "dataspace.sync_interval = '300ms'"
}
mapfile -t conf < <(node_conf prov)
start_cluster prov "${conf[@]}" "wal_level = logical" "ssl = on" \
	"ssl_cert_file = '$BENCH_WORK/server.crt'" "ssl_key_file = '$BENCH_WORK/server.key'"
at prov postgres -c "ALTER SYSTEM SET dataspace.endpoint = 'hostaddr=127.0.0.1 port=${PORT[prov]} dbname=postgres'" \
	-c "SELECT pg_reload_conf()" >/dev/null
mapfile -t conf < <(node_conf cons)
start_cluster cons "${conf[@]}"
for c in prov cons; do
	at $c postgres -c "CREATE EXTENSION pg_dataspace" >/dev/null
done
PGPORT=${PORT[prov]} bench_verify_private_load postgres
PGPORT=${PORT[cons]} bench_verify_private_load postgres
PROV_ID=$(at prov postgres -c "SELECT dataspace.node_id()")

# the export role: TLS only, as in the TAP test
hba=${DATA[prov]}/pg_hba.conf
{
	echo "hostssl postgres +dataspace_export 127.0.0.1/32 scram-sha-256"
	echo "host all +dataspace_export 0.0.0.0/0 reject"
	echo "local all +dataspace_export reject"
	cat "$hba"
} >"$hba.new"
mv "$hba.new" "$hba"
chown postgres: "$hba"
at prov postgres -c "SET password_encryption = 'scram-sha-256'" \
	-c "CREATE ROLE export_cons LOGIN PASSWORD 'secret-cons' IN ROLE dataspace_export CONNECTION LIMIT 4" \
	-c "ALTER ROLE export_cons SET statement_timeout = '60s'" \
	-c "ALTER ROLE export_cons SET idle_in_transaction_session_timeout = '10s'" \
	-c "REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC" -c "SELECT pg_reload_conf()" >/dev/null
echo "*:*:*:export_cons:secret-cons" >"$BENCH_WORK/cons.pgpass"
chown postgres: "$BENCH_WORK/cons.pgpass"
chmod 600 "$BENCH_WORK/cons.pgpass"
at cons postgres -c "INSERT INTO dataspace.provider_login
	VALUES ('$PROV_ID', 'user=export_cons passfile=$BENCH_WORK/cons.pgpass')" >/dev/null

wait_for() {
	c=$1
	q=$2
	for _ in $(seq 600); do
		[ "$(at "$c" postgres -c "$q")" = t ] && return
		sleep 0.2
	done
	die "timed out on $c: $q"
}
wait_for hub "SELECT count(*) = 2 FROM dataspace.participant"
at hub postgres -c "SELECT dataspace.approve_participant(node_id) FROM dataspace.participant" >/dev/null
at prov postgres -c "INSERT INTO dataspace.twin (id, name) VALUES ('$TWIN', 'bench')" \
	-c "INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility)
		VALUES ('$ASSET', '$TWIN', 'replicated', 'stream', 'public')" >/dev/null
wait_for cons "SELECT (SELECT count(*) FROM dataspace.hub_catalog WHERE provider_id = '$PROV_ID') = 1
	AND (SELECT count(*) FROM dataspace.participant WHERE status = 'approved') = 2"
wait_for prov "SELECT count(*) = 2 FROM dataspace.participant WHERE status = 'approved'"
K=$(at cons postgres -c "SELECT dataspace.request_contract('$PROV_ID', '{$ASSET}', '{}', now() + interval '1 year')")
wait_for prov "SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$K'"
at prov postgres -c "SELECT dataspace.accept_contract('$K')" >/dev/null
wait_for cons "SELECT state = 'active' FROM dataspace.contract WHERE id = '$K'"
# one point through, so that the stream is connected and authenticated
at prov postgres -c "INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$ASSET', '2025-01-01', 0)" >/dev/null
wait_for cons "SELECT coalesce((SELECT points_received = 1 FROM dataspace.subscription_state
	WHERE asset_id = '$ASSET'), false)"
log "contract $K active, stream running over TLS"
WORKER=$(at cons postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace replication'")
SEALER=$(at prov postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'")
EXPORTER=$(at prov postgres -c "SELECT pid FROM pg_stat_activity WHERE usename = 'export_cons'")

# native logical replication of the same shape
for c in prov cons; do
	at $c postgres -c "CREATE DATABASE nat" >/dev/null
	at $c nat -c "CREATE TABLE pt (asset_id uuid, seq bigint, ts timestamptz, value float8,
		PRIMARY KEY (asset_id, seq))" -c "CREATE SEQUENCE pt_seq" >/dev/null
done
at prov nat -c "CREATE PUBLICATION nat_pub FOR TABLE pt" >/dev/null
at cons nat -c "CREATE SUBSCRIPTION nat_sub CONNECTION
	'hostaddr=127.0.0.1 port=${PORT[prov]} dbname=nat user=postgres sslmode=require'
	PUBLICATION nat_pub WITH (copy_data = false)" >/dev/null
at prov nat -c "INSERT INTO pt VALUES ('$ASSET', 0, '2025-01-01', 0)" >/dev/null
for _ in $(seq 300); do
	[ "$(at cons nat -c "SELECT count(*) FROM pt")" = 1 ] && break
	sleep 0.2
done
[ "$(at cons nat -c "SELECT count(*) FROM pt")" = 1 ] || die "native subscription does not deliver"
[ "$(at prov nat -c "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
	WHERE a.backend_type = 'walsender' AND s.ssl")" = 1 ] || die "the walsender does not use TLS"
log "native subscription running over TLS"

# consumer-side polling functions: wait for a condition (part 1), record
# (time, max seq) every 10 ms (part 2)
for db in postgres nat; do
	if [ $db = postgres ]; then
		maxseq="SELECT max(seq) FROM dataspace.received_point WHERE asset_id = '$ASSET'"
		done_q="SELECT points_received >= target FROM dataspace.subscription_state WHERE asset_id = '$ASSET'"
	else
		maxseq="SELECT max(seq) FROM pt WHERE asset_id = '$ASSET'"
		done_q="SELECT EXISTS (SELECT FROM pt WHERE asset_id = '$ASSET' AND seq = target)"
	fi
	at cons $db -c "CREATE FUNCTION public.bench_wait(target bigint) RETURNS timestamptz
		LANGUAGE plpgsql AS \$f\$
		DECLARE ok boolean;
		BEGIN
			LOOP
				$done_q INTO ok;
				IF ok THEN RETURN clock_timestamp(); END IF;
				PERFORM pg_sleep(0.01);
			END LOOP;
		END \$f\$" \
		-c "CREATE UNLOGGED TABLE public.bench_poll (t timestamptz, max_seq bigint)" \
		-c "CREATE FUNCTION public.bench_record(seconds float8) RETURNS bigint
		LANGUAGE plpgsql AS \$f\$
		DECLARE stop timestamptz := clock_timestamp() + seconds * interval '1 s'; m bigint; n bigint := 0;
		BEGIN
			WHILE clock_timestamp() < stop LOOP
				$maxseq INTO m;
				INSERT INTO public.bench_poll VALUES (clock_timestamp(), m);
				n := n + 1;
				PERFORM pg_sleep(0.01);
			END LOOP;
			RETURN n;
		END \$f\$" >/dev/null
done

# provider side, ours only: when every point is sealed (where the time goes)
at prov postgres -c "CREATE FUNCTION public.bench_sealed(target bigint) RETURNS timestamptz
	LANGUAGE plpgsql AS \$f\$
	DECLARE ok boolean;
	BEGIN
		LOOP
			SELECT coalesce(sum(point_count), 0) >= target INTO ok
				FROM dataspace.seal WHERE asset_id = '$ASSET';
			IF ok THEN RETURN clock_timestamp(); END IF;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END \$f\$" >/dev/null

# ---------------------------------------------------------------------
# part 1: 1,000,000 rows, throughput
# ---------------------------------------------------------------------
ours_total=1			# points_received so far (the warm-up point)
nat_last=0				# last seq in pt
# run_one VARIANT REPETITION: prints
# "REPL-S INGEST-S SEALED-S PROV-CPU CONS-CPU WORKER-CPU LOAD0 LOAD1" (SEALED-S: ours, commit
# to the last seal on the provider; "-" for native)
# (runs in a subshell: the totals are advanced by the caller)
run_one() {
	variant=$1
	k=$2
	for c in prov cons; do
		at $c postgres -c CHECKPOINT >/dev/null
	done
	if [ "$variant" = ours ]; then
		db=postgres
		target=$((ours_total + N))
		ins="INSERT INTO dataspace.point (asset_id, ts, value)
			SELECT '$ASSET', timestamptz '2025-01-02 00:00:00+00' + ($((k * N)) + i) * interval '10 ms',
				round((50 + 10 * sin(i / 1000.0))::numeric, 4)
			FROM generate_series(1, $N) i"
	else
		db=nat
		target=$((nat_last + N))
		ins="INSERT INTO pt (asset_id, seq, ts, value)
			SELECT '$ASSET', $nat_last + i, timestamptz '2025-01-02 00:00:00+00' + ($((k * N)) + i) * interval '10 ms',
				round((50 + 10 * sin(i / 1000.0))::numeric, 4)
			FROM generate_series(1, $N) i"
	fi
	l0=$(load1)
	cp0=$(cluster_cpu prov)
	cc0=$(cluster_cpu cons)
	w0=$(proc_cpu "$WORKER")
	at cons $db -c "SELECT extract(epoch FROM public.bench_wait($target))" >"$BENCH_WORK/wait.out" &
	waiter=$!
	sealer=
	if [ "$variant" = ours ]; then
		at prov postgres -c "SELECT extract(epoch FROM public.bench_sealed($target))" >"$BENCH_WORK/sealed.out" &
		sealer=$!
	fi
	perf_pid=
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$variant" = ours ] && [ "$k" = 1 ]; then
		pids=$(at cons postgres -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace replication'"
			at prov postgres -c "SELECT pid FROM pg_stat_activity
				WHERE usename = 'export_cons' OR backend_type = 'pg_dataspace sealer'")
		perf record -q -g -o "$BENCH_WORK/perf-repl.data" -p "$(echo $pids | tr ' ' ,)" >/dev/null 2>&1 &
		perf_pid=$!
		sleep 0.5
	fi
	t0=$(now)
	commit=$(at prov $db -c "$ins" -c "SELECT extract(epoch FROM clock_timestamp())" | tail -1)
	t1=$(now)
	wait $waiter
	arrived=$(cat "$BENCH_WORK/wait.out")
	sealed=-
	if [ -n "$sealer" ]; then
		wait $sealer
		sealed=$(elapsed "$commit" "$(cat "$BENCH_WORK/sealed.out")")
	fi
	cp1=$(cluster_cpu prov)
	cc1=$(cluster_cpu cons)
	w1=$(proc_cpu "$WORKER")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		perf report -q -i "$BENCH_WORK/perf-repl.data" --no-children --sort comm,pid,dso,symbol \
			--stdio -g none --percent-limit 0.5 2>/dev/null | cut -c1-120 >"$BENCH_WORK/perf-repl.txt"
		perf report -q -i "$BENCH_WORK/perf-repl.data" --children --sort pid,symbol \
			--stdio -g none --percent-limit 2 2>/dev/null | cut -c1-120 >"$BENCH_WORK/perf-repl-children.txt"
	fi
	if [ "$variant" = ours ]; then
		got=$(at cons postgres -c "SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$ASSET'")
	else
		got=$(at cons nat -c "SELECT count(*) - 1 FROM pt")	# less the warm-up row (seq 0)
	fi
	[ "$got" = "$target" ] || die "$variant: $got rows on the consumer, expected $target"
	repl=$(elapsed "$commit" "$arrived")
	echo "$repl $(elapsed "$t0" "$t1") $sealed $(sub "$cp1" "$cp0") $(sub "$cc1" "$cc0") $(sub "$w1" "$w0") $l0 $(load1)"
}

declare -a R_OURS R_NAT R_RATIO
{
	echo "== part 1: 1,000,000 rows, provider commit to last row on the consumer"
	echo "(repl s: commit to last row on the consumer; sealed s: commit to last seal on the provider;"
	echo " ingest s: the INSERT itself; cpu: CPU seconds of all processes of each cluster, ingest included)"
	echo " worker cpu: the consumer's replication worker alone, ours only (it idles during native)"
	printf '%-4s %-6s %9s %9s %9s %9s %9s %9s %10s %9s\n' run variant "repl s" "rows/s" "sealed s" "ingest s" \
		"prov cpu" "cons cpu" "worker cpu" load
} >&2
for k in $(seq 1 "$runs"); do
	if [ $((k % 2)) = 1 ]; then order="ours nat"; else order="nat ours"; fi
	for v in $order; do
		read -r repl ing sealed cp cc wc l0 l1 < <(run_one "$v" "$k")
		printf '%-4s %-6s %9s %9s %9s %9s %9s %9s %10s %9s\n' "$k" "$v" "$repl" "$(rate $N "$repl")" \
			"$sealed" "$ing" "$cp" "$cc" "$wc" "$l0-$l1" >&2
		if [ "$v" = ours ]; then
			R_OURS[$k]=$repl
			ours_total=$((ours_total + N))
		else
			R_NAT[$k]=$repl
			nat_last=$((nat_last + N))
		fi
	done
	R_RATIO[$k]=$(ratio "${R_NAT[$k]}" "${R_OURS[$k]}")
done

# how much the walsender spilled decoding the large transactions
log "native decoding: $(at prov nat -c "SELECT spill_txns || ' transactions spilled, ' ||
	pg_size_pretty(spill_bytes) || ' in ' || spill_count || ' spills' FROM pg_stat_replication_slots
	WHERE slot_name = 'nat_sub'")"

# ---------------------------------------------------------------------
# part 2: 10,000 points/s, lag
# ---------------------------------------------------------------------
cat >"$BENCH_WORK/lag-ours.sql" <<EOF
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$ASSET', clock_timestamp(), random() FROM generate_series(1, 100);
EOF
cat >"$BENCH_WORK/lag-nat.sql" <<EOF
INSERT INTO pt (asset_id, seq, ts, value)
SELECT '$ASSET', nextval('pt_seq'), clock_timestamp(), random() FROM generate_series(1, 100);
EOF
chmod 644 "$BENCH_WORK"/lag-*.sql
at prov nat -c "SELECT setval('pt_seq', $nat_last + 1)" >/dev/null

lag_one() {
	variant=$1
	if [ "$variant" = ours ]; then
		db=postgres
		first=$(at prov postgres -c "SELECT last_value + 1 FROM dataspace.point_seq")
		tbl="dataspace.received_point"
	else
		db=nat
		first=$(at prov nat -c "SELECT last_value + 1 FROM pt_seq")
		tbl="pt"
	fi
	at cons $db -c "TRUNCATE public.bench_poll" \
		-c "DROP INDEX IF EXISTS public.bench_poll_max_seq_t_idx" >/dev/null
	l0=$(load1)
	cp0=$(cluster_cpu prov)
	cc0=$(cluster_cpu cons)
	s0=$(proc_cpu "$SEALER")
	e0=$(proc_cpu "$EXPORTER")
	perf_pid=
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$variant" = ours ] && [ ! -f "$BENCH_WORK/perf-lag.data" ]; then
		perf record -q -g -o "$BENCH_WORK/perf-lag.data" -p "$SEALER,$EXPORTER,$WORKER" >/dev/null 2>&1 &
		perf_pid=$!
	fi
	at cons $db -c "SELECT public.bench_record($lag_seconds + 8)" >/dev/null &
	rec=$!
	sleep 1
	runuser -u postgres -- "$PGBIN/pgbench" -h 127.0.0.1 -p "${PORT[prov]}" -U postgres -n \
		-c 1 -j 1 -R 100 -T "$lag_seconds" -f "$BENCH_WORK/lag-$variant.sql" "$db" \
		>"$BENCH_WORK/pgbench-$variant.log" 2>&1 || { cat "$BENCH_WORK/pgbench-$variant.log" >&2; die "pgbench failed"; }
	wait $rec
	cp1=$(cluster_cpu prov)
	cc1=$(cluster_cpu cons)
	s1=$(proc_cpu "$SEALER")
	e1=$(proc_cpu "$EXPORTER")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		perf report -q -i "$BENCH_WORK/perf-lag.data" --no-children --sort pid,dso,symbol \
			--stdio -g none --percent-limit 0.5 2>/dev/null | cut -c1-120 >"$BENCH_WORK/perf-lag.txt"
		perf report -q -i "$BENCH_WORK/perf-lag.data" --children --sort pid,symbol \
			--stdio -g none --percent-limit 2 2>/dev/null | cut -c1-120 >"$BENCH_WORK/perf-lag-children.txt"
	fi
	at cons $db -c "CREATE INDEX ON public.bench_poll (max_seq, t)" -c "ANALYZE public.bench_poll" >/dev/null
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$BENCH_WORK/pgbench-$variant.log" | head -1)
	stats=$(at cons $db -c "
		WITH pts AS (SELECT seq, ts FROM $tbl WHERE asset_id = '$ASSET' AND seq >= $first),
		arr AS (SELECT p.seq, p.ts,
				(SELECT b.t FROM public.bench_poll b WHERE b.max_seq >= p.seq
					ORDER BY b.max_seq, b.t LIMIT 1) AS at
			FROM pts p)
		SELECT count(*) || ' ' || count(at) || ' ' ||
			round((1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM at - ts)))::numeric, 0) || ' ' ||
			round((1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM at - ts)))::numeric, 0) || ' ' ||
			round((1000 * max(extract(epoch FROM at - ts)))::numeric, 0)
		FROM arr")
	sent=$(at prov $db -c "SELECT count(*) FROM $(
		[ "$variant" = ours ] && echo dataspace.point || echo pt) WHERE asset_id = '$ASSET' AND seq >= $first")
	echo "$sent $stats $tps $(sub "$cp1" "$cp0") $(sub "$cc1" "$cc0") $(sub "$s1" "$s0") $(sub "$e1" "$e0") $l0 $(load1)"
}

declare -A LAG
LAG[ours]=
LAG[nat]=
{
	echo
	echo "== part 2: $lag_seconds s at 10,000 points/s (pgbench -R 100, 100 rows per INSERT), lag = first poll seeing the point - ts"
	echo "(cpu: CPU seconds over the run, about $lag_seconds + 9 s; sealer, export: the provider's sealer and"
	echo " export backend alone, ours only)"
	printf '%-4s %-6s %8s %8s %8s %7s %7s %7s %7s %9s %9s %7s %7s %9s\n' run variant sent received \
		"arrived" "p50 ms" "p99 ms" "max ms" tps "prov cpu" "cons cpu" sealer export load
} >&2
for k in $(seq 1 "$lag_runs"); do
	if [ $((k % 2)) = 1 ]; then order="ours nat"; else order="nat ours"; fi
	for v in $order; do
		for c in prov cons; do
			at $c postgres -c CHECKPOINT >/dev/null
		done
		read -r sent nrecv narr p50 p99 pmax tps cp cc sc ec l0 l1 < <(lag_one "$v")
		printf '%-4s %-6s %8s %8s %8s %7s %7s %7s %7s %9s %9s %7s %7s %9s\n' "$k" "$v" "$sent" "$nrecv" "$narr" \
			"$p50" "$p99" "$pmax" "$tps" "$cp" "$cc" "$sc" "$ec" "$l0-$l1" >&2
		[ "$narr" = "$sent" ] || log "$v: only $narr of $sent points arrived within the polling window"
		LAG[$v]="${LAG[$v]}${LAG[$v]:+; }p50 $p50 / p99 $p99 / max $pmax ms"
	done
done

# ---------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------
mo=$(median "${R_OURS[@]}")
mn=$(median "${R_NAT[@]}")
{
	echo
	echo "== summary (replication)"
	bench_machine
	echo "runs: $runs; per-run ratios (native s / ours s): ${R_RATIO[*]}"
	echo "1,000,000 rows, commit to last row on the consumer: ours median $mo s ($(rate $N "$mo") rows/s)," \
		"native median $mn s ($(rate $N "$mn") rows/s)"
	echo "throughput ratio ours/native: median $(median "${R_RATIO[@]}")x (target >= 1.0)"
	echo "lag at 10,000 points/s for $lag_seconds s, per run, ours:   ${LAG[ours]}"
	echo "lag at 10,000 points/s for $lag_seconds s, per run, native: ${LAG[nat]}"
	echo "(target: p99 < 1000 ms)"
} >&2
