# bench/lib.sh — shared by the benchmark scripts; sourced, not run.
#
# Provides:
#   bench_init          work directory, trap, dependencies, private install
#   bench_start NAME    initdb + start a throw-away cluster on 127.0.0.1
#   bench_stop          pg_ctl stop (also run by the EXIT trap)
#   sql / sqlat DB ...  psql as postgres against the running cluster
#   sql_peak_anon DB Q  a query's output and its backend's peak private memory
#   now, median, ratio  timing helpers
#   bench_callgrind V D one cg-V.sql under callgrind in a single-user backend
#   bench_compare_tables DB  the plain and bare tables the counts compare with
#   bench_one_point_seals A N  database bench, asset A with N one-point seals
#
# The extension is never installed into the system PostgreSQL: other builds
# may be installed there at any time, and a benchmark must measure this
# tree.  Instead /usr/lib/postgresql/15 and /usr/share/postgresql/15 are
# copied into a private prefix and `make install DESTDIR=<prefix>` puts
# pg_dataspace there.  PostgreSQL locates its lib and share directories
# relative to its own binary, so the server started from the copy loads the
# copy's pg_dataspace.so.  bench_verify_private_load checks that.
#
# Environment (all optional):
#   BENCH_WORK      existing work directory to reuse (bench/run.sh sets it,
#                   so the parts share one build)
#   BENCH_KEEP=1    keep the work directory at the end
#   BENCH_RUNS      repetitions per measurement (default 5; pgbench 3)

set -eu

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
SYS_LIB=/usr/lib/postgresql/15
SYS_SHARE=/usr/share/postgresql/15

log() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wall clock in seconds with nanoseconds
now() { date +%s.%N; }

# difference of two `now` values, in seconds
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }

# median of the numbers given as arguments
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) printf "%.4f", v[(NR + 1) / 2];
			  else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with three decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# rows per second: rows, seconds
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

BENCH_OWN_WORK=0
BENCH_PGDATA=
bench_cleanup() {
	rc=$?
	bench_stop || true
	if [ "$BENCH_OWN_WORK" = 1 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
		rm -rf "$BENCH_WORK"
	fi
	exit $rc
}

# bench_init: must run as root.  Installs dependencies, then builds and
# installs the extension into $BENCH_WORK/inst unless a previous step of
# bench/run.sh already did.
bench_init() {
	[ "$(id -u)" -eq 0 ] || die "run as root (installs packages, starts servers as postgres)"
	if [ -z "${BENCH_WORK:-}" ]; then
		BENCH_WORK=$(mktemp -d /tmp/pg_dataspace-bench.XXXXXX)
		BENCH_OWN_WORK=1
		export BENCH_WORK
	fi
	# the servers (user postgres) create their data directories here
	chmod 755 "$BENCH_WORK"
	chown postgres: "$BENCH_WORK"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM

	PREFIX=$BENCH_WORK/inst
	PGBIN=$PREFIX$SYS_LIB/bin
	if [ -f "$BENCH_WORK/.installed" ]; then
		return
	fi
	log "installing dependencies (tools/install-deps.sh)"
	"$ROOT/tools/install-deps.sh"

	log "private PostgreSQL copy in $PREFIX"
	rm -rf "$PREFIX"
	mkdir -p "$PREFIX$SYS_LIB" "$PREFIX$SYS_SHARE"
	cp -a "$SYS_LIB/." "$PREFIX$SYS_LIB/"
	cp -a "$SYS_SHARE/." "$PREFIX$SYS_SHARE/"
	# whatever pg_dataspace the system has must not be picked up by mistake
	rm -f "$PREFIX$SYS_LIB/lib/pg_dataspace.so" "$PREFIX$SYS_SHARE"/extension/pg_dataspace*

	# Build from a copy of the tree: the benchmark never touches the
	# checkout's object files.  PGXS default flags (-O2 -g), no extra COPT.
	log "building pg_dataspace (PGXS flags: $(pg_config --cflags | grep -o -- '-O[0-9s]' | head -1))"
	rm -rf "$BENCH_WORK/src"
	mkdir -p "$BENCH_WORK/src"
	(cd "$ROOT" && tar --exclude=.git --exclude=bench -cf - .) | tar -C "$BENCH_WORK/src" -xf -
	make -C "$BENCH_WORK/src" -s clean >/dev/null 2>&1 || true
	make -C "$BENCH_WORK/src" -s >"$BENCH_WORK/build.log" 2>&1 ||
		{ tail -30 "$BENCH_WORK/build.log"; die "build failed"; }
	make -C "$BENCH_WORK/src" -s install DESTDIR="$PREFIX" >>"$BENCH_WORK/build.log" 2>&1 ||
		{ tail -30 "$BENCH_WORK/build.log"; die "make install DESTDIR failed"; }
	[ -f "$PREFIX$SYS_LIB/lib/pg_dataspace.so" ] || die "pg_dataspace.so not in the private prefix"
	git -C "$ROOT" rev-parse --short HEAD >"$BENCH_WORK/commit" 2>/dev/null || echo unknown >"$BENCH_WORK/commit"
	touch "$BENCH_WORK/.installed"
}

bench_free_port() {
	while :; do
		p=$((20000 + RANDOM % 30000))
		if [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return
		fi
	done
}

# bench_start NAME [CONF-LINE...]: initdb and start a cluster; extra
# postgresql.conf lines are given as arguments.
bench_start() {
	name=$1
	shift
	BENCH_PGDATA=$BENCH_WORK/$name
	rm -rf "$BENCH_PGDATA" "$BENCH_WORK/$name.sock"
	mkdir -p "$BENCH_WORK/$name.sock"
	chown postgres: "$BENCH_WORK/$name.sock"
	runuser -u postgres -- "$PGBIN/initdb" -D "$BENCH_PGDATA" -A trust -U postgres \
		--no-sync >"$BENCH_WORK/$name.initdb.log" 2>&1 || die "initdb failed"
	PGPORT=$(bench_free_port)
	# Settings shared by every measurement (baselines included): enough
	# shared_buffers for 1M points and their indexes, and no checkpoint
	# in the middle of a timed step (each step starts with CHECKPOINT).
	cat >>"$BENCH_PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$BENCH_WORK/$name.sock'
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_parallel_workers_per_gather = 0
EOF
	for line in "$@"; do
		echo "$line" >>"$BENCH_PGDATA/postgresql.conf"
	done
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$BENCH_PGDATA" -l "$BENCH_WORK/$name.log" \
		-w -t 60 start >/dev/null || { tail -20 "$BENCH_WORK/$name.log"; die "server start failed"; }
	export PGPORT
	log "cluster $name on 127.0.0.1:$PGPORT"
}

bench_restart() {
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$BENCH_PGDATA" -l "$BENCH_WORK/$(basename "$BENCH_PGDATA").log" \
		-m fast -w -t 60 restart >/dev/null || die "server restart failed"
}

bench_stop() {
	if [ -n "$BENCH_PGDATA" ] && [ -f "$BENCH_PGDATA/postmaster.pid" ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$BENCH_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	BENCH_PGDATA=
}

# sql DB ARGS...: psql, quiet, stop on error; BENCH_SQL_OPTIONS adds
# session settings ("-c jit=off")
sql() {
	db=$1
	shift
	PGOPTIONS="-c client_min_messages=warning ${BENCH_SQL_OPTIONS:-}" \
		runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$db" \
		-X -q -v ON_ERROR_STOP=1 -P pager=off "$@"
}

# sqlat DB ARGS...: unaligned, tuples only
sqlat() {
	db=$1
	shift
	sql "$db" -At "$@"
}

# sql_cpu DB PSQL-ARGS...: run the psql arguments (-c/-f, in order) in one
# session between two readings of the backend's /proc/self/stat; prints
# "CPU-SECONDS" (user + system time of that backend) on the first line and
# the statements' own output after it.  On a shared machine the CPU time
# of the backend is far steadier than wall time.
CLK_TCK=$(getconf CLK_TCK)
sql_cpu() {
	db=$1
	shift
	stat="SELECT 'cpu ' || rtrim(split_part(pg_read_file('/proc/self/stat'), ') ', 2), E'\\n')"
	sqlat "$db" -c "$stat" "$@" -c "$stat" | awk -v hz="$CLK_TCK" '
		/^cpu / { t = $13 + $14; if (n++ == 0) t0 = t; else t1 = t; next }
		{ out[++k] = $0 }
		END { printf "%.2f\n", (t1 - t0) / hz; for (i = 1; i <= k; i++) print out[i] }'
}

# sql_peak_anon DB QUERY: run QUERY in a session of its own and sample its
# backend's private resident memory (RssAnon in /proc/PID/status; VmHWM
# would count the shared buffers it touched) every 10 ms while it runs;
# prints the query's output, then "anon KB" with the highest sample.
sql_peak_anon() {
	db=$1
	out=$BENCH_WORK/peak-anon.out
	PGAPPNAME=bench_peak_anon sqlat "$db" -c "SELECT pg_sleep(0.2)" -c "$2" >"$out" &
	bg=$!
	pid=
	while [ -z "$pid" ] && kill -0 "$bg" 2>/dev/null; do
		pid=$(sqlat "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_peak_anon'")
	done
	peak=0
	while [ -n "$pid" ] && [ -r "/proc/$pid/status" ] && kill -0 "$bg" 2>/dev/null; do
		while read -r k v _; do
			[ "$k" = RssAnon: ] && [ "$v" -gt "$peak" ] && peak=$v
		done <"/proc/$pid/status" 2>/dev/null || true
		sleep 0.01
	done
	wait "$bg" || die "query failed: $2"
	sed 1d "$out"
	echo "anon $peak"
}

# Prove that the running server loads pg_dataspace.so from the private
# prefix: a backend loads the library and reads its own memory map.
bench_verify_private_load() {
	db=$1
	want=$PREFIX$SYS_LIB/lib/pg_dataspace.so
	got=$(sqlat "$db" -c "LOAD 'pg_dataspace'" -c "SELECT DISTINCT m[1] FROM
		regexp_matches(pg_read_file('/proc/self/maps'), '(\S*pg_dataspace\.so)', 'g') AS m")
	[ "$got" = "$want" ] || die "server maps '$got', expected '$want'"
	log "server loads $got (built $(date -r "$want" '+%F %T'))"
}

# The part of the machine description every result needs.
bench_machine() {
	echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "postgresql: $("$PGBIN/postgres" --version)"
	echo "pg_dataspace commit: $(cat "$BENCH_WORK/commit")"
	echo "date: $(date -u '+%F %T UTC'), load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# The asset of the 1,000,000-point file (bulk.sh and verify.sh share it).
BENCH_ASSET=00000000-0000-4000-8000-0000000000a1

# Text-format file of 1,000,000 points of one asset for COPY, readable by
# the server (generated by the server itself).  $1 = database, $2 = asset id.
bench_points_file() {
	f=$BENCH_WORK/points.tsv
	if [ ! -f "$f" ]; then
		sqlat "$1" -c "COPY (SELECT '$2'::uuid,
				timestamptz '2026-01-01 00:00:00+00' + i * interval '10 ms',
				round((50 + 10 * sin(i / 1000.0))::numeric, 4)
			FROM generate_series(1, 1000000) i) TO '$f'"
	fi
	echo "$f"
}

# Create a twin and a stream asset with a fixed id (extension installed).
# $1 = database, $2 = asset id, $3 = extra column assignments for the asset
# ("seal_min_points = 1000, ..."), may be empty.
bench_asset() {
	sqlat "$1" -c "INSERT INTO dataspace.twin (id, name)
		VALUES ('00000000-0000-4000-8000-000000000001', 'bench') ON CONFLICT DO NOTHING" \
		-c "INSERT INTO dataspace.asset (id, twin_id, name, kind)
		VALUES ('$2', '00000000-0000-4000-8000-000000000001', 'asset $2', 'stream')" >/dev/null
	if [ -n "${3:-}" ]; then
		sqlat "$1" -c "UPDATE dataspace.asset SET $3 WHERE id = '$2'" >/dev/null
	fi
}

# bench_one_point_seals ASSET N: database bench with the extension, and
# asset ASSET with N points, one a second from 2026-01-01, each its own seal
bench_one_point_seals() {
	sql postgres -c "CREATE DATABASE bench" >/dev/null
	sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
	bench_verify_private_load bench
	bench_asset bench "$1" "seal_max_points = 1"
	sql bench -c "INSERT INTO dataspace.point (asset_id, ts, value)
		SELECT '$1', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 s', i
		  FROM generate_series(1, $2) i" >/dev/null
	seals=$(bench_seal_all bench)
	[ "$seals" -eq "$2" ] || die "expected $2 seals, made $seals"
}

# Seal until nothing is pending; prints the number of seals made.
bench_seal_all() {
	total=0
	while :; do
		out=$(sqlat "$1" -c "SELECT dataspace.seal_pending()" \
			-c "SELECT (SELECT count(*) FROM dataspace.pending_batch)
				+ (SELECT count(*) FROM dataspace.pending_run)")
		made=$(echo "$out" | sed -n 1p)
		left=$(echo "$out" | sed -n 2p)
		total=$((total + made))
		[ "$left" -eq 0 ] && break
	done
	echo "$total"
}

# bench_callgrind VARIANT DATADIR: run the statements of
# $BENCH_WORK/cg-VARIANT.sql, one per line, in a single-user backend under
# callgrind, on a fresh copy of the stopped cluster DATADIR; leaves the
# inclusive profile in $BENCH_WORK/cg-VARIANT.txt (bench/instructions*.sh)
bench_callgrind() {
	v=$1
	rm -rf "$BENCH_WORK/cg-$v"
	cp -a "$2" "$BENCH_WORK/cg-$v"
	chmod 644 "$BENCH_WORK/cg-$v.sql"
	runuser -u postgres -- valgrind --tool=callgrind --dump-instr=no \
		--callgrind-out-file="$BENCH_WORK/cg-$v.out" \
		"$PGBIN/postgres" --single -D "$BENCH_WORK/cg-$v" -c jit=off bench \
		<"$BENCH_WORK/cg-$v.sql" >"$BENCH_WORK/cg-$v.log" 2>&1 ||
		{ tail -20 "$BENCH_WORK/cg-$v.log"; die "$v: single-user backend failed"; }
	grep -q ERROR "$BENCH_WORK/cg-$v.log" && { grep ERROR "$BENCH_WORK/cg-$v.log"; die "$v: statement failed"; }
	callgrind_annotate --inclusive=yes --threshold=100 "$BENCH_WORK/cg-$v.out" 2>/dev/null >"$BENCH_WORK/cg-$v.txt"
	rm -rf "$BENCH_WORK/cg-$v"
}

# bench_compare_tables DB: bench_plain (identity seq + primary key: what a
# user would have without the extension) and bench_bare (no index), then a
# checkpoint
bench_compare_tables() {
	sql "$1" -c "CREATE TABLE bench_plain (asset_id uuid NOT NULL,
		seq bigint GENERATED ALWAYS AS IDENTITY, ts timestamptz NOT NULL,
		value double precision NOT NULL, PRIMARY KEY (asset_id, seq))" \
		-c "CREATE TABLE bench_bare (asset_id uuid, seq bigint GENERATED ALWAYS AS IDENTITY,
		ts timestamptz, value double precision)" -c "CHECKPOINT" >/dev/null
}
