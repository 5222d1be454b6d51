#!/bin/bash
# Build the libFuzzer targets of test/fuzz and run each for a bounded time.
# Prints one line per target, "fuzz_NAME ... ok" or "fuzz_NAME ... FAILED"
# with the path of the reproducer, and ends with "N passed, M failed".
# Needs no server and no installed extension.
#
# Usage: tools/fuzz.sh [SECONDS]    seconds per target (default $FUZZ_TIME or 20)
#        FUZZ_TARGETS="fuzz_proof fuzz_json" tools/fuzz.sh 600
#        tools/fuzz.sh --seeds      regenerate the proof and policy seeds from
#                                   the installed extension (test/fuzz/seeds.sql)
#
# A reproducer replays with: test/fuzz/fuzz_NAME test/fuzz/artifacts/FILE
set -u
set -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/test/fuzz"
PG_BINDIR=/usr/lib/postgresql/15/bin

# Regenerate seeds: a throw-away server on a Unix socket only, run as
# postgres when called as root.
if [ "${1:-}" = "--seeds" ]; then
	set -e
	work=$(mktemp -d /tmp/pg_dataspace-seeds.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	cp "$fuzz/seeds.sql" "$work/"
	as_pg() { "$@"; }
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$work"
		as_pg() { runuser -u postgres -- "$@"; }
	fi
	as_pg "$PG_BINDIR/initdb" -D "$work/data" -A trust -U postgres >/dev/null
	as_pg "$PG_BINDIR/pg_ctl" -D "$work/data" -l "$work/log" -w \
		-o "-c listen_addresses='' -k $work" start >/dev/null
	rc=0
	(cd "$work" && as_pg "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" \
		-U postgres -d postgres -f seeds.sql) || rc=$?
	as_pg "$PG_BINDIR/pg_ctl" -D "$work/data" -w stop -m fast >/dev/null
	[ "$rc" -eq 0 ] || { cat "$work/log"; exit 1; }
	n=0
	while IFS= read -r line; do
		n=$((n + 1)); printf '%s' "$line" >"$fuzz/corpus/fuzz_proof/point_proof-$n.json"
	done <"$work/proofs.txt"
	m=0
	while IFS= read -r line; do
		m=$((m + 1)); printf '%s' "$line" >"$fuzz/corpus/fuzz_policy/check_policy-$m.json"
	done <"$work/policies.txt"
	echo "wrote $n proofs and $m policies"
	exit 0
fi

seconds=${1:-${FUZZ_TIME:-20}}
targets=${FUZZ_TARGETS:-fuzz_proof fuzz_policy fuzz_json fuzz_merkle fuzz_twinmodel fuzz_messages}
passed=0
failed=0

if ! make -C "$fuzz" -s $targets >"$fuzz/build.log" 2>&1; then
	cat "$fuzz/build.log"
	echo "fuzz build ... FAILED"
	echo "0 passed, 1 failed"
	exit 1
fi

mkdir -p "$fuzz/artifacts"
for t in $targets; do
	mkdir -p "$fuzz/corpus-work/$t"
	log="$fuzz/artifacts/$t.log"
	before=$(ls "$fuzz/artifacts" | grep -c "^$t-" || true)
	# The committed seeds run first: a seed that crashes fails at once.
	(cd "$fuzz" && "./$t" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="artifacts/$t-" ${FUZZ_FLAGS:-} \
		"corpus-work/$t" "corpus/$t") >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		echo "$t ... ok (${runs:-?} runs in $seconds s)"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		echo "$t ... FAILED (exit $rc after ${runs:-?} runs)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_|.*runtime error)' "$log" | head -5
		if [ -n "$repro" ]; then
			echo "  reproducer: $fuzz/$repro"
			echo "  replay: $fuzz/$t $fuzz/$repro"
		else
			tail -20 "$log"
		fi
	fi
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
