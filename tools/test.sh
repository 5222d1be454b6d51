#!/bin/bash
# Run every pg_dataspace test: build with -Wall -Werror, install, run the C
# unit tests (test/unit, no server), then run
# pg_regress and the TAP tests as the postgres user against throw-away
# clusters, then the libFuzzer targets of test/fuzz (tools/fuzz.sh).
# Exits non-zero on any failure; the last line is "N passed, M failed"
# summed over every runner.  A runner that did not run every test counts
# as failed: pg_regress must report each test of REGRESS (Makefile), prove
# each test/t/*.pl; a TAP script that dies counts once more than its
# failed subtests.
#
# From the install to the end of the TAP tests the script holds
# /tmp/pg_dataspace.lock, the lock every "make install" into the shared
# server takes (tools/sanitize.sh, tools/demo.sh), so that no other run
# replaces the installed library mid-suite.  A caller that holds the lock
# already sets PG_DATASPACE_LOCKED=1.
#
# Usage: tools/test.sh            (as root on Debian 12; installs what it needs)
#        FUZZ_TIME=300 tools/test.sh   fuzz each target 300 s (0: skip fuzzing)
set -u
set -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
export PATH="$PG_BINDIR:$PATH"
lock=/tmp/pg_dataspace.lock

passed=0
failed=0
status=0

note() { printf '\n=== %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
	"$root/tools/install-deps.sh" || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi

# fd 9 holds the lock; the commands that start servers do not inherit it
# (9>&-), so a server left behind cannot keep it.
if [ "${PG_DATASPACE_LOCKED:-}" != 1 ]; then
	exec 9>>"$lock"
	if ! flock -n 9; then
		echo "waiting for $lock"
		flock 9
	fi
	export PG_DATASPACE_LOCKED=1
	locked=1
fi

note "build (-Wall -Werror)"
make -C "$root" -s clean >/dev/null 2>&1
if ! make -C "$root" -s COPT="-Wall -Werror" >/dev/null || ! make -C "$root" -s install >/dev/null; then
	make -C "$root" COPT="-Wall -Werror" 2>&1 | tail -30
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "built and installed"

# Unit tests of the pure C code (src/seal.c against published vectors):
# no server, TAP on stdout.
note "unit (test/unit)"
unitlog=$(mktemp /tmp/pg_dataspace-unit.XXXXXX)
make -C "$root/test/unit" -s clean >/dev/null 2>&1
if make -C "$root/test/unit" -s CFLAGS="-O2 -g -Wall -Werror" >"$unitlog" 2>&1; then
	"$root/test/unit/test_seal" >"$unitlog" 2>&1
	rc=$?
	grep -E '^not ok ' "$unitlog" || true
	p=$(grep -cE '^ok [0-9]+' "$unitlog")
	f=$(grep -cE '^not ok [0-9]+' "$unitlog")
	echo "test_seal: $p ok, $f not ok ($(grep -E '^1\.\.' "$unitlog" || echo 'no plan'))"
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ] || ! grep -qE "^1\.\.$((p + f))\$" "$unitlog"; then
		status=1
		[ "$f" -eq 0 ] && f=1
		tail -5 "$unitlog"
	fi
else
	cat "$unitlog"
	echo "unit test build failed"
	status=1
	p=0; f=1
fi
rm -f "$unitlog"
passed=$((passed + p)); failed=$((failed + f))

# The servers run as postgres: test in a copy of the tree it owns.
work=$(mktemp -d /tmp/pg_dataspace-test.XXXXXX)
# (not what fuzzing runs write meanwhile: files come and go there)
tar -C "$root" --exclude=./.git --exclude=./test/fuzz/corpus-work \
	--exclude=./test/fuzz/artifacts -cf - . | tar -C "$work" -xf -
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
trap 'rm -rf "$work"' EXIT

# pg_regress: one "... ok" or "... FAILED" line per test of REGRESS, as
# make reads it from the Makefile.
note "pg_regress"
nregress=$(make -C "$root" -s --no-print-directory \
	--eval='print-regress: ; @echo $(REGRESS)' print-regress 2>/dev/null | wc -w)
as_pg make -C "$work" -s regresscheck >"$work/regress.log" 2>&1 9>&-
rc=$?
grep -E '\.\.\. ' "$work/regress.log" || true
p=$(grep -cE '\.\.\. ok' "$work/regress.log")
f=$(grep -cE '\.\.\. (FAILED|failed)' "$work/regress.log")
if [ "$nregress" -eq 0 ] || [ $((p + f)) -ne "$nregress" ]; then
	echo "pg_regress reported $((p + f)) tests, the Makefile's REGRESS has $nregress"
	rc=1
	[ $((p + f)) -lt "$nregress" ] && f=$((nregress - p))
fi
if [ "$rc" -ne 0 ]; then
	status=1
	[ "$f" -eq 0 ] && f=1
	tail -20 "$work/regress.log"
	[ -f "$work/regression.diffs" ] && head -200 "$work/regression.diffs"
fi
passed=$((passed + p)); failed=$((failed + f))

# TAP: prove must have run every test/t/*.pl (Files=N) and passed.  The
# failures are read from prove's summary: per failed script its failed
# subtests, and one more when it did not end as Test::More ends after
# failures (it died, was killed, or its plan was wrong), at least one.
note "TAP (prove)"
ntap=$(find "$work/test/t" -maxdepth 1 -name '*.pl' | wc -l)
as_pg make -C "$work" -s tapcheck PROVE_FLAGS="--verbose --timer" >"$work/tap.log" 2>&1 9>&-
rc=$?
grep -E '^(t/|test/t/|\[[0-9:]+\] )|^(not )?ok ' "$work/tap.log" | grep -vE '^ok ' || true
p=$(grep -cE '^ *ok [0-9]+' "$work/tap.log")
notok=$(grep -E '^ *not ok [0-9]+' "$work/tap.log" | grep -cvE '# *TODO')
grep -E '^(Files=|Result:)' "$work/tap.log" || true
sed -n '/^Test Summary Report/,/^Files=/p' "$work/tap.log" | grep -vE '^Files=' || true
f=$(awk '
	function flush() {
		if (file == "")
			return
		n = failed
		exitc = int(wstat / 256)
		if (wstat % 256 != 0 || exitc != (failed < 254 ? failed : 254) || parse)
			n++
		total += (n > 0 ? n : 1)
		file = ""
	}
	/^Test Summary Report/ { insum = 1; next }
	insum && /^Files=/ { flush(); insum = 0 }
	insum && /\(Wstat: [0-9]+.* Tests: [0-9]+ Failed: [0-9]+\)/ {
		flush()
		file = $1
		match($0, /Wstat: [0-9]+/); wstat = substr($0, RSTART + 7, RLENGTH - 7) + 0
		match($0, /Failed: [0-9]+/); failed = substr($0, RSTART + 8, RLENGTH - 8) + 0
		parse = 0
		next
	}
	insum && /^ +Parse errors:/ { parse = 1 }
	END { flush(); print total + 0 }' "$work/tap.log")
[ "$notok" -gt "$f" ] && f=$notok
files=$(sed -n 's/^Files=\([0-9]*\),.*/\1/p' "$work/tap.log" | tail -1)
if [ "${files:-0}" -ne "$ntap" ] || [ "$ntap" -eq 0 ]; then
	echo "prove ran ${files:-no} test files, test/t has $ntap"
	rc=1
	[ "${files:-0}" -lt "$ntap" ] && f=$((f + ntap - ${files:-0}))
fi
if ! grep -qE '^Result: PASS$' "$work/tap.log"; then
	rc=1
fi
if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
	status=1
	[ "$f" -eq 0 ] && f=1
	# The server logs of the failed scripts only, each script's own log
	# (its diagnostics) last.
	for t in $(sed -n '/^Test Summary Report/,/^Files=/s/^test\/t\/\([^ ]*\)\.pl .*/\1/p' "$work/tap.log"); do
		for l in "$work"/tmp_check/log/"${t}"_*.log "$work/tmp_check/log/regress_log_$t"; do
			[ -f "$l" ] && { echo "--- $l"; tail -40 "$l"; }
		done
	done
	tapfailures=$(awk '
		/^Test Summary Report/ { insum = 1 }
		insum { if ($0 !~ /^Files=/) print; next }
		indiag && /^ *#/ { print; next }
		match($0, /test\/t\/[^ ]*\.pl/) { file = substr($0, RSTART, RLENGTH); indiag = 0; next }
		/^ *not ok [0-9]+/ { print file ": " $0; indiag = 1; next }
		{ indiag = 0 }' "$work/tap.log" | head -80)
fi
passed=$((passed + p)); failed=$((failed + f))

# Nothing below uses the installed extension.
if [ -n "${locked:-}" ]; then
	flock -u 9
	exec 9>&-
fi

# The fuzz targets need no server: they run from the source tree.  One
# count per target; FUZZ_TIME (seconds per target, default 20) sets the
# budget, FUZZ_TIME=0 skips them.
fuzz_time=${FUZZ_TIME:-20}
if [ "$fuzz_time" != 0 ]; then
	note "fuzz (libFuzzer, $fuzz_time s per target)"
	"$root/tools/fuzz.sh" "$fuzz_time" >"$work/fuzz.log" 2>&1
	rc=$?
	grep -vE '^([0-9]+ passed, [0-9]+ failed)?$' "$work/fuzz.log" || true
	p=$(grep -cE '^fuzz_[a-z_]+ \.\.\. ok' "$work/fuzz.log")
	f=$(grep -cE '^fuzz[a-z_ ]* \.\.\. FAILED' "$work/fuzz.log")
	if [ "$rc" -ne 0 ]; then
		status=1
		[ "$f" -eq 0 ] && f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
fi

# A truncated log keeps its end: the TAP failures again, just above the
# count.
if [ -n "${tapfailures:-}" ]; then
	note "TAP failures"
	printf '%s\n' "$tapfailures"
fi

echo
echo "$passed passed, $failed failed"
exit $status
