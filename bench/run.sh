#!/bin/bash
# Run every benchmark of pg_dataspace against one private build and print
# their summaries; the whole output is also kept in bench/last-run.log.
# About 16 minutes on 2 cores (replication.sh: 5-6).
#
# Usage: bench/run.sh    (as root on Debian 12)
#   BENCH_RUNS       repetitions (default: 5 for bulk and verify, 3 for pgbench
#                    and replication)
#   BENCH_SECONDS    length of each pgbench run (default 15)
#   BENCH_KEEP=1     keep the work directory (build, clusters, logs)
set -eu -o pipefail
bench=$(cd "$(dirname "$0")" && pwd)
out=$bench/last-run.log

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root" >&2
	exit 1
fi

# One work directory and one build for all parts.
BENCH_WORK=$(mktemp -d /tmp/pg_dataspace-bench.XXXXXX)
export BENCH_WORK
trap '[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_WORK"' EXIT

start=$(date +%s)
{
	"$bench/bulk.sh" copy
	"$bench/bulk.sh" insert
	BENCH_RUNS=${BENCH_RUNS:-3} "$bench/pgbench.sh"
	"$bench/verify.sh"
	BENCH_RUNS=${BENCH_RUNS:-3} "$bench/replication.sh"
	echo
	echo "== all benchmarks: $(($(date +%s) - start)) s"
} 2>&1 | tee "$out"
