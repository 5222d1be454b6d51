#!/bin/bash
# Instruction counts of a COPY and of sealing it, counted by callgrind in a
# single-user backend (postgres --single): exact and repeatable, where the
# CPU times of bulk.sh swing with the machine's load.  Not a benchmark of
# speed (valgrind runs SHA-256 without the CPU's SHA instructions, so the
# seal's hashing counts are not those of a real run): it says where the
# instructions go and compares two builds exactly.
#
#   dataspace   COPY of N points into dataspace.point, then seal_pending()
#   plain       the same COPY into a plain table (identity seq + primary key)
#   bare        the same COPY into a bare table (no index)
#
# Prints millions of instructions, inclusive, of the COPY (DoCopy) and its
# parts, and of the seal round (ds_seal_round) and its reads.
#
# Usage: bench/instructions.sh   (as root; BENCH_POINTS=100000)
set -eu
. "$(dirname "$0")/lib.sh"
N=${BENCH_POINTS:-100000}
ASSET=$BENCH_ASSET

command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null
bench_init
bench_start instructions
sql postgres -c "CREATE DATABASE bench" >/dev/null
sql bench -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null
bench_asset bench "$ASSET"
points=$BENCH_WORK/points-$N.tsv
sqlat bench -c "COPY (SELECT '$ASSET'::uuid,
		timestamptz '2026-01-01 00:00:00+00' + i * interval '10 ms',
		round((50 + 10 * sin(i / 1000.0))::numeric, 4)
	FROM generate_series(1, $N) i) TO '$points'"
bench_compare_tables bench
data=$BENCH_PGDATA
bench_stop

# count VARIANT SQL...: the statements, one per line, in a single-user
# backend on a fresh copy of the prepared cluster
count() {
	v=$1
	shift
	printf '%s\n' "$@" >"$BENCH_WORK/cg-$v.sql"
	bench_callgrind "$v" "$data"
}

# ir VARIANT FUNCTION: inclusive instructions of FUNCTION, millions
ir() {
	awk -v f="$2" '{ gsub(",", "", $1) }
		$1 ~ /^[0-9]+$/ && $0 ~ ("[:( ]" f " ") { printf "%.1f", $1 / 1e6; found = 1; exit }
		END { if (!found) printf "-" }' "$BENCH_WORK/cg-$1.txt"
}

log "callgrind: dataspace"
count dataspace "COPY dataspace.point (asset_id, ts, value) FROM '$points'" \
	"SELECT dataspace.seal_pending()"
log "callgrind: plain"
count plain "COPY bench_plain (asset_id, ts, value) FROM '$points'"
log "callgrind: bare"
count bare "COPY bench_bare (asset_id, ts, value) FROM '$points'"

echo
echo "== instructions: COPY of $N points, then seal_pending() (callgrind, single-user backend)"
bench_machine
echo "$(valgrind --version); millions of instructions, inclusive"
printf '%-28s %12s %12s %12s\n' "" dataspace plain bare
for f in DoCopy NextCopyFrom btinsert brininsert nextval_internal ExecConstraints \
	heap_multi_insert ExecInsertIndexTuples AfterTriggerEndQuery; do
	printf '%-28s %12s %12s %12s\n' "$f" "$(ir dataspace $f)" "$(ir plain $f)" "$(ir bare $f)"
done
echo
printf '%-28s %12s\n' "" dataspace
for f in ds_seal_round fetch_points ds_spi_scan ds_spi_scan_kept seal_asset ds_leaf_nonce ds_leaf_hash \
	ds_merkle_add ds_signer_sign; do
	printf '%-28s %12s\n' "$f" "$(ir dataspace $f)"
done
