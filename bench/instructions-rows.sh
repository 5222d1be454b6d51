#!/bin/bash
# Instruction counts of single-row autocommit INSERTs, counted by callgrind
# in a single-user backend (postgres --single), as bench/instructions.sh
# does for COPY: exact and repeatable, to compare two builds of the write
# path.  N transactions of one INSERT of one point each, into
#
#   dataspace   dataspace.point (nothing is sealed: no sealer runs here)
#   plain       a plain table (identity seq + primary key)
#   bare        a bare table (no index)
#
# Prints instructions per transaction, inclusive, of the whole backend and
# of the parts of the write path.
#
# Usage: bench/instructions-rows.sh   (as root; BENCH_ROWS=2000)
set -eu
. "$(dirname "$0")/lib.sh"
N=${BENCH_ROWS:-2000}
ASSET=$BENCH_ASSET

command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null
bench_init
bench_start instructions_rows
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_asset bench "$ASSET"
bench_compare_tables bench
data=$BENCH_PGDATA
bench_stop

# count VARIANT TABLE: N single-row INSERTs in a single-user backend on a
# fresh copy of the prepared cluster
count() {
	v=$1
	awk -v t="$2" -v a="$ASSET" -v n="$N" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "INSERT INTO %s (asset_id, ts, value) VALUES ('\''%s'\'', " \
				"timestamptz '\''2026-01-01 00:00:00+00'\'' + %d * interval '\''1 s'\'', %d.5)\n", t, a, i, i }' \
		>"$BENCH_WORK/cg-$v.sql"
	bench_callgrind "$v" "$data"
}

# per VARIANT FUNCTION: inclusive instructions of FUNCTION per transaction
per() {
	awk -v f="$2" -v n="$N" '{ gsub(",", "", $1) }
		$1 ~ /^[0-9]+$/ && $0 ~ ("[:( ]" f " ") { printf "%.0f", $1 / n; found = 1; exit }
		END { if (!found) printf "-" }' "$BENCH_WORK/cg-$1.txt"
}
# total VARIANT: the whole backend's instructions per transaction
total() {
	awk -v n="$N" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.0f", $1 / n }' "$BENCH_WORK/cg-$1.txt"
}

log "callgrind: dataspace"
count dataspace dataspace.point
log "callgrind: plain"
count plain bench_plain
log "callgrind: bare"
count bare bench_bare

echo
echo "== instructions per transaction: $N single-row autocommit INSERTs (callgrind, single-user backend)"
bench_machine
echo "$(valgrind --version); instructions per transaction, inclusive"
printf '%-28s %12s %12s %12s\n' "" dataspace plain bare
printf '%-28s %12s %12s %12s\n' "backend in all" "$(total dataspace)" "$(total plain)" "$(total bare)"
for f in exec_simple_query ExecInsert ExecConstraints ExecInsertIndexTuples AfterTriggerEndQuery \
	CommitTransactionCommand; do
	printf '%-28s %12s %12s %12s\n' "$f" "$(per dataspace $f)" "$(per plain $f)" "$(per bare $f)"
done
for f in dataspace_point_asset_ok dataspace_point_ok dataspace_point_queue_trigger stringToNode; do
	printf '%-28s %12s\n' "$f" "$(per dataspace $f)"
done
