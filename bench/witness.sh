#!/bin/bash
# The hub's anchor log at size: inclusion and consistency proofs of a log
# of BENCH_LEAVES anchors (default 1,000,000).  The log is filled directly
# (leaf hashes SHA-256 of the leaf index, the stored nodes above them
# computed in SQL where the build keeps them, a tree head row for the
# sizes asked), so that two builds see the same log: the md5 of every
# proof is printed, and must be the same for both.  Prints CPU seconds of
# the backend for BENCH_CALLS calls of each function, medians of
# BENCH_RUNS runs after a warm-up.
#
# Usage: bench/witness.sh   (as root; BENCH_LEAVES=1000000, BENCH_CALLS=20,
#                            BENCH_RUNS=3)
set -eu
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-3}
N=${BENCH_LEAVES:-1000000}
calls=${BENCH_CALLS:-20}

bench_init
bench_start witness "shared_preload_libraries = 'pg_dataspace'" "dataspace.mode = 'hub'" \
	"dataspace.database = 'postgres'" "dataspace.node_name = 'hub'"
sql postgres -c "CREATE EXTENSION pg_dataspace" -c "SELECT FROM dataspace.node_info()" >/dev/null

log "filling a log of $N leaves"
sql postgres -c "INSERT INTO dataspace.witness_leaf (leaf_index, node_id, subject_kind, subject_id,
		head_pos, head_hash, anchor, leaf_hash)
	SELECT i, '00000000-0000-4000-8000-000000000001', 'asset', '00000000-0000-4000-8000-000000000002',
		i, sha256(int8send(i)), int8send(i), sha256(int8send(i))
	  FROM generate_series(0, $N - 1) i"
if [ "$(sqlat postgres -c "SELECT to_regclass('dataspace.witness_node') IS NOT NULL")" = t ]; then
	log "storing the nodes above the leaves"
	sql postgres -c "INSERT INTO dataspace.witness_node
		SELECT 1, l.leaf_index / 2, sha256('\\x01'::bytea || l.leaf_hash || r.leaf_hash)
		  FROM dataspace.witness_leaf l JOIN dataspace.witness_leaf r ON r.leaf_index = l.leaf_index + 1
		 WHERE l.leaf_index % 2 = 0"
	level=1
	while [ "$(sqlat postgres -c "SELECT count(*) >= 2 FROM dataspace.witness_node WHERE level = $level")" = t ]; do
		sql postgres -c "INSERT INTO dataspace.witness_node
			SELECT $level + 1, l.node_index / 2, sha256('\\x01'::bytea || l.hash || r.hash)
			  FROM dataspace.witness_node l JOIN dataspace.witness_node r
			    ON r.level = l.level AND r.node_index = l.node_index + 1
			 WHERE l.level = $level AND l.node_index % 2 = 0"
		level=$((level + 1))
	done
fi
# the sizes proofs are asked for: N, and the old sizes of the consistency proofs
sql postgres -c "INSERT INTO dataspace.witness_tree_head (tree_size, root_hash, signed_at, message, signature)
	SELECT s, '\\x', now(), '\\x', '\\x'
	  FROM (SELECT $N UNION SELECT (1 + (i * 7919) % ($N - 1)) FROM generate_series(1, $calls) i) t(s)"
sql postgres -c "VACUUM ANALYZE" >/dev/null

# run LABEL QUERY: QUERY returns one md5 of all its proofs
run() {
	declare -a cpu
	for r in $(seq 0 "$runs"); do
		out=$(sql_cpu postgres -c "$2")
		[ "$r" -eq 0 ] && { sum=$(echo "$out" | sed -n 2p); continue; }		# warm-up
		[ "$(echo "$out" | sed -n 2p)" = "$sum" ] || die "$1 gave other proofs in run $r"
		cpu[$r]=$(echo "$out" | sed -n 1p)
		log "$1, run $r: CPU ${cpu[$r]} s"
	done
	echo "== $calls calls of $1 on a log of $N leaves, $runs runs after one warm-up, medians"
	echo "CPU of the backend: $(median "${cpu[@]}") s; md5 of the proofs: $sum"
}
echo
bench_machine
run hub_inclusion_proof "SELECT md5(string_agg(dataspace.hub_inclusion_proof((i * 104729) % $N, $N), '' ORDER BY i))
	FROM generate_series(1, $calls) i"
run hub_consistency_proof "SELECT md5(string_agg(dataspace.hub_consistency_proof(1 + (i * 7919) % ($N - 1), $N), '' ORDER BY i))
	FROM generate_series(1, $calls) i"
