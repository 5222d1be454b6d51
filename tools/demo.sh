#!/bin/bash
# A dataspace node in one minute: build and install pg_dataspace, start a
# throw-away PostgreSQL on 127.0.0.1, describe a press as a digital twin
# with two data streams, ingest points (sealed automatically), verify the
# seals, then change one stored value behind the extension's back and
# watch verification name the broken seal.  Everything is removed at the
# end.
#
# Usage: tools/demo.sh        (as root on Debian 12; installs what it needs)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and the extension)" >&2
	exit 1
fi

bold "Installing build dependencies and pg_dataspace"
"$root/tools/install-deps.sh"
make -C "$root" -s clean >/dev/null 2>&1 || true
make -C "$root" -s COPT="-Wall -Werror" >/dev/null
make -C "$root" -s install >/dev/null
say "installed into $($PG_BINDIR/pg_config --pkglibdir 2>/dev/null || pg_config --pkglibdir)"

work=$(mktemp -d /tmp/pg_dataspace-demo.XXXXXX)
chown postgres: "$work"
port=$((56000 + RANDOM % 1000))
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

bold "Starting a throw-away PostgreSQL 15 on 127.0.0.1:$port"
runuser -u postgres -- "$PG_BINDIR/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'factory'
dataspace.node_name = 'plant-a'
EOF
runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
runuser -u postgres -- "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$port" factory

sql() {
	runuser -u postgres -- "$PG_BINDIR/psql" -h 127.0.0.1 -p "$port" -d factory -X -q \
		-v ON_ERROR_STOP=1 -P pager=off "$@"
}
show() {
	printf '\033[2m   sql> %s\033[0m\n' "$(echo "$1" | tr -s ' \n\t' ' ' | cut -c1-150)"
	sql -c "$1" | sed 's/^/   /'
}

bold "CREATE EXTENSION: this database becomes a dataspace node"
show "CREATE EXTENSION pg_dataspace"
show "SELECT node_id, name, encode(public_key, 'hex') AS ed25519_public_key, mode FROM dataspace.node_info()"
say "The node's Ed25519 key was created on first use; its private half is"
say "stored wrapped under a key file in the data directory and never leaves C code."

bold "A digital twin (a DTDL interface) with two data streams"
show "INSERT INTO dataspace.twin (id, name, model) VALUES ('5f0c1d2e-0000-4000-8000-000000000001', 'press 7',
  '{\"@id\": \"dtmi:example:press;1\", \"@type\": \"Interface\", \"@context\": \"dtmi:dtdl:context;2\",
    \"contents\": [{\"@type\": \"Telemetry\", \"name\": \"temperature\", \"schema\": \"double\"},
                   {\"@type\": \"Telemetry\", \"name\": \"pressure\", \"schema\": \"double\"}]}')"
show "INSERT INTO dataspace.asset (id, twin_id, name, kind, unit, seal_max_points) VALUES
  ('5f0c1d2e-0000-4000-8000-0000000000a1', '5f0c1d2e-0000-4000-8000-000000000001', 'temperature', 'stream', 'degC', 1000),
  ('5f0c1d2e-0000-4000-8000-0000000000a2', '5f0c1d2e-0000-4000-8000-000000000001', 'pressure', 'stream', 'bar', 1000)"
show "SELECT name, kind, unit, visibility FROM dataspace.asset ORDER BY name"

bold "Ingest: plain INSERT and COPY; sealing happens by itself after commit"
show "INSERT INTO dataspace.point (asset_id, ts, value)
  SELECT '5f0c1d2e-0000-4000-8000-0000000000a1', timestamptz '2026-11-24 08:00:00+00' + i * interval '1 second',
         round((60 + 5 * sin(i / 300.0))::numeric, 3)
    FROM generate_series(1, 5000) i"
sql -c "COPY (SELECT '5f0c1d2e-0000-4000-8000-0000000000a2', timestamptz '2026-11-24 08:00:00+00' + i * interval '1 second',
              round((180 + 3 * cos(i / 200.0))::numeric, 2) FROM generate_series(1, 5000) i) TO STDOUT" >"$work/pressure.tsv"
say "(a 5000-line file from a sensor gateway)"
sql -c "\\copy dataspace.point (asset_id, ts, value) FROM '$work/pressure.tsv'"
say "   sql> \\copy dataspace.point (asset_id, ts, value) FROM 'pressure.tsv'"
for _ in $(seq 1 100); do
	[ "$(sql -At -c 'SELECT count(*) FROM dataspace.pending_batch')" = 0 ] && break
	sleep 0.1
done
show "SELECT a.name, count(*) AS seals, sum(s.point_count) AS points, min(s.min_ts) AS first, max(s.max_ts) AS last
   FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id GROUP BY a.name ORDER BY a.name"
show "SELECT s.chain_pos, s.point_count, encode(substr(s.merkle_root, 1, 8), 'hex') || '…' AS merkle_root,
        encode(substr(s.prev_hash, 1, 8), 'hex') || '…' AS prev_hash
   FROM dataspace.seal s WHERE s.asset_id = '5f0c1d2e-0000-4000-8000-0000000000a1' ORDER BY chain_pos LIMIT 3"
say "Each seal: a Merkle root over its points, chained to the previous seal, signed with Ed25519."

bold "Verify: every leaf, root, signature and chain link is recomputed"
show "SELECT a.name, count(*) AS seals, bool_and(v.ok) AS all_ok
   FROM dataspace.asset a, dataspace.verify_asset(a.id) v GROUP BY a.name ORDER BY a.name"

if [ -n "$(sql -At -c "SELECT to_regproc('dataspace.point_proof')")" ]; then
	bold "A proof for one value, checkable offline with nothing but the proof"
	show "SELECT jsonb_pretty(dataspace.point_proof('5f0c1d2e-0000-4000-8000-0000000000a1', 1234)) AS proof" |
		head -20
	say "   …"
	show "SELECT dataspace.verify_proof(dataspace.point_proof('5f0c1d2e-0000-4000-8000-0000000000a1', 1234)) AS valid"
fi

bold "Tamper: a superuser changes one stored value behind the extension's back"
say "Ordinary sessions cannot: points are append-only."
show "UPDATE dataspace.point SET value = 0" 2>&1 | sed 's/^/   /' || true
show "SET session_replication_role = replica;
  UPDATE dataspace.point SET value = 99.999
   WHERE asset_id = '5f0c1d2e-0000-4000-8000-0000000000a1' AND seq = 2500"
show "SELECT s.chain_pos, v.seal_id, v.ok, v.reason
   FROM dataspace.verify_asset('5f0c1d2e-0000-4000-8000-0000000000a1') v JOIN dataspace.seal s ON s.id = v.seal_id
  WHERE NOT v.ok"
say "Verification names the broken seal; all the others still verify."
say "(Against a superuser on the node itself, seals are tamper evidence, not"
say "prevention: anchors at the hub and receipts held by consumers close that gap.)"

bold "Done: the throw-away cluster is being removed"
