#!/bin/bash
# Run the pg_regress and TAP suites against an AddressSanitizer and
# UndefinedBehaviorSanitizer build of the extension, then reinstall the
# normal build.  Fails if any test fails or any sanitizer report appears.
#
# The extension is built with gcc -fsanitize=address,undefined; the
# servers the tests start get gcc's ASan runtime by LD_PRELOAD, followed by
# test/sanitize/nls_shim.so, which keeps Debian's postgres from
# deadlocking in bindtextdomain() under ASan.  Only the servers: initdb
# deadlocks in setlocale() under the runtime, and the clients load no code
# of ours.  A directory of wrappers puts the runtime in: its "postgres"
# execs the real one with LD_PRELOAD set, its pg_ctl is a copy of the real
# one (pg_ctl starts the postgres next to itself), every other program is
# a link.  pg_regress gets it as bindir, the TAP tests first in PATH.
# Reports go to files (ASAN_OPTIONS/UBSAN_OPTIONS log_path) in one
# directory, printed at the end; errors are fatal (halt_on_error).  Leak
# detection is off: the postmaster's own allocations are never freed.
#
# Usage: tools/sanitize.sh         as root on Debian 12; takes
#                                  /tmp/pg_dataspace.lock for the install,
#                                  the tests and the reinstall
#        SANITIZE_KEEP=1 tools/sanitize.sh   keep the work directory
set -u
set -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
export PATH="$PG_BINDIR:$PATH"
lock=/tmp/pg_dataspace.lock

# Everything from the ASan install to the normal reinstall holds the lock
# that every "make install" into the shared server takes.
if [ "${PG_DATASPACE_LOCKED:-}" != 1 ]; then
	PG_DATASPACE_LOCKED=1 exec flock "$lock" "$0" "$@"
fi

if [ "$(id -u)" -eq 0 ]; then
	"$root/tools/install-deps.sh" || exit 1
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi

note() { printf '\n=== %s\n' "$*"; }

work=$(mktemp -d /tmp/pg_dataspace-sanitize.XXXXXX)
reports="$work/reports"
mkdir -p "$reports"
chmod 1777 "$reports"

# Whatever happens, leave the normal build installed.
reinstall() {
	note "reinstall the normal build"
	make -C "$root" -s clean >/dev/null 2>&1
	if make -C "$root" -s >/dev/null && make -C "$root" -s install >/dev/null; then
		echo "normal build installed"
	else
		echo "could not reinstall the normal build" >&2
	fi
	[ "${SANITIZE_KEEP:-}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap reinstall EXIT
trap 'exit 1' INT TERM HUP

note "build with -fsanitize=address,undefined"
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g -O1"
make -C "$root" -s clean >/dev/null 2>&1
if ! make -C "$root" -s COPT="-Wall -Werror $san" >"$work/build.log" 2>&1 ||
	! make -C "$root" -s install >>"$work/build.log" 2>&1; then
	tail -30 "$work/build.log"
	echo "build failed"
	exit 1
fi
if ! ldd "$root/pg_dataspace.so" | grep -q libasan; then
	echo "pg_dataspace.so is not linked with the ASan runtime"
	exit 1
fi
gcc -shared -fPIC -O2 -o "$work/nls_shim.so" "$root/test/sanitize/nls_shim.c" || exit 1
libasan=$(gcc -print-file-name=libasan.so)
echo "built; runtime $libasan"

# Test in a copy of the tree the postgres user owns.
tree="$work/tree"
mkdir -p "$tree"
tar -C "$root" --exclude=./.git --exclude=./test/fuzz/corpus-work \
	--exclude=./test/fuzz/artifacts -cf - . | tar -C "$tree" -xf -
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

asan_options="halt_on_error=1:abort_on_error=1:detect_leaks=0:log_path=$reports/asan:print_summary=1:detect_odr_violation=0"
ubsan_options="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

# not named ".../bin": postgres would look for ../lib and ../share next
# to it (make_relative_path); any other name gets the compiled-in paths
bin="$work/bin-asan"
mkdir -p "$bin"
for f in "$PG_BINDIR"/*; do
	ln -s "$f" "$bin/$(basename "$f")"
done
rm -f "$bin/postgres" "$bin/postmaster" "$bin/pg_ctl"
cp "$PG_BINDIR/pg_ctl" "$bin/pg_ctl"
# exec -a keeps the wrapper as argv[0]: postgres records its own path in
# postmaster.opts, and "pg_ctl restart" starts what is recorded there.
cat >"$bin/postgres" <<WRAP
#!/bin/bash
# postgres under the ASan runtime (tools/sanitize.sh)
echo "\$\$ \$*" >>"$work/started.log"
LD_PRELOAD="$libasan:$work/nls_shim.so" \\
ASAN_OPTIONS="$asan_options" \\
UBSAN_OPTIONS="$ubsan_options" \\
	exec -a "$bin/postgres" "$PG_BINDIR/postgres" "\$@"
WRAP
chmod 755 "$bin/postgres"
: >"$work/started.log"
ln -s postgres "$bin/postmaster"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

status=0
note "pg_regress (sanitized)"
as_pg env PATH="$bin:$PATH" make -C "$tree" -s regresscheck bindir="$bin" \
	>"$work/regress.log" 2>&1 || status=1
grep -E '\.\.\. ' "$work/regress.log" || tail -20 "$work/regress.log"
[ -f "$tree/regression.diffs" ] && head -100 "$tree/regression.diffs"

note "TAP (sanitized)"
as_pg env PATH="$bin:$PATH" make -C "$tree" -s tapcheck bindir="$bin" PROVE_FLAGS="--timer" \
	>"$work/tap.log" 2>&1 || status=1
grep -E '^(t/|test/t/|\[[0-9:]+\] )|^(Files=|Result:)' "$work/tap.log" || tail -20 "$work/tap.log"

# The servers really ran under the runtime.
nstarted=$(grep -cv -- ' -V$' "$work/started.log")
echo "servers started under the ASan runtime: $nstarted"
[ "$nstarted" -gt 0 ] || status=1

# Any report fails the run, also one the tests did not notice; reports on
# stderr end up in the servers' logs.
note "sanitizer reports"
nreports=$(find "$reports" -type f | wc -l)
if [ "$nreports" -gt 0 ]; then
	status=1
	for f in "$reports"/*; do
		echo "--- $f"
		head -60 "$f"
	done
fi
if grep -rlE 'runtime error:|ERROR: AddressSanitizer' "$tree/tmp_check" "$tree/log" 2>/dev/null; then
	status=1
	grep -rhE -A20 'runtime error:|ERROR: AddressSanitizer' "$tree/tmp_check" "$tree/log" 2>/dev/null | head -60
fi
echo "$nreports report files"

if [ "$status" -eq 0 ]; then
	echo "sanitized run: no sanitizer reports, every test passed"
else
	echo "sanitized run FAILED"
fi
exit $status
