#!/bin/bash
# A dataspace in one minute: build and install pg_dataspace, start three
# throw-away PostgreSQL servers on 127.0.0.1 (a hub and two nodes), let the
# nodes register at the hub and the operator approve them, describe a press
# on node A as a digital twin with two data streams, ingest points (sealed
# automatically), verify the seals, publish one stream in the hub's catalog
# and find it from node B, then change one stored value behind the
# extension's back and watch verification name the broken seal.
# Everything is removed at the end.
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
base=$((56000 + RANDOM % 1000))
declare -A port=([hub]=$base [a]=$((base + 1)) [b]=$((base + 2)))
cleanup() {
	for c in b a hub; do
		if [ -f "$work/$c/postmaster.pid" ]; then
			runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/$c" -m fast stop >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

# start_cluster NAME EXTRA-SETTINGS: a throw-away server on 127.0.0.1
start_cluster() {
	local c=$1
	runuser -u postgres -- "$PG_BINDIR/initdb" -D "$work/$c" -A trust -U postgres >/dev/null
	cat >>"$work/$c/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = ${port[$c]}
unix_socket_directories = '$work'
shared_preload_libraries = 'pg_dataspace'
$2
EOF
	runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/$c" -l "$work/$c.log" -w start >/dev/null
}

# sql_on CLUSTER DB psql-args...
sql_on() {
	local c=$1 db=$2
	shift 2
	runuser -u postgres -- "$PG_BINDIR/psql" -h 127.0.0.1 -p "${port[$c]}" -d "$db" -X -q \
		-v ON_ERROR_STOP=1 -P pager=off "$@"
}
# show_on CLUSTER DB SQL: print the statement, run it, print the result
show_on() {
	printf '\033[2m   %s> %s\033[0m\n' "$1" "$(echo "$3" | tr -s ' \n\t' ' ' | cut -c1-150)"
	sql_on "$1" "$2" -c "$3" | sed 's/^/   /'
}
# wait_on CLUSTER DB SQL: poll until the query returns t (at most 30 s)
wait_on() {
	for _ in $(seq 1 300); do
		[ "$(sql_on "$1" "$2" -At -c "$3")" = t ] && return 0
		sleep 0.1
	done
	echo "demo.sh: timed out waiting on $1 for: $3" >&2
	return 1
}

bold "Starting a hub and two nodes (throw-away PostgreSQL 15 servers on 127.0.0.1)"
start_cluster hub "dataspace.mode = 'hub'
dataspace.database = 'hub'
dataspace.node_name = 'hub'"
runuser -u postgres -- "$PG_BINDIR/createdb" -h 127.0.0.1 -p "${port[hub]}" hub
sql_on hub hub -c "CREATE EXTENSION pg_dataspace"
hub_key=$(sql_on hub hub -At -c "SELECT encode(public_key, 'hex') FROM dataspace.node_info()")
say "hub      127.0.0.1:${port[hub]}  (dataspace.mode = 'hub'; public key ${hub_key:0:16}…)"
for n in a b; do
	# the hub operator creates each participant's login role out of band
	sql_on hub hub -c "CREATE ROLE plant_$n LOGIN IN ROLE dataspace_participant"
	start_cluster $n "dataspace.database = 'factory'
dataspace.node_name = 'plant-$n'
dataspace.hub = 'hostaddr=127.0.0.1 port=${port[hub]} dbname=hub user=plant_$n'
dataspace.hub_public_key = '$hub_key'
dataspace.endpoint = 'hostaddr=127.0.0.1 port=${port[$n]} dbname=factory'
dataspace.sync_interval = '500ms'"
	runuser -u postgres -- "$PG_BINDIR/createdb" -h 127.0.0.1 -p "${port[$n]}" factory
	say "plant-$n  127.0.0.1:${port[$n]}  (a node; it pinned the hub's key)"
done

sql() { sql_on a factory "$@"; }
show() { show_on a factory "$1"; }

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
	# whole output first: head closing the pipe early would fail the script
	show "SELECT jsonb_pretty(dataspace.point_proof('5f0c1d2e-0000-4000-8000-0000000000a1', 1234)) AS proof" \
		>"$work/proof.txt"
	head -20 "$work/proof.txt"
	say "   …"
	show "SELECT dataspace.verify_proof(dataspace.point_proof('5f0c1d2e-0000-4000-8000-0000000000a1', 1234)) AS valid"
fi

bold "The hub: both nodes register by themselves; the operator approves them"
sql_on b factory -c "CREATE EXTENSION pg_dataspace"
sql_on a factory -c "SELECT dataspace.sync_now()" >/dev/null
sql_on b factory -c "SELECT dataspace.sync_now()" >/dev/null
wait_on hub hub "SELECT count(*) = 2 FROM dataspace.participant"
show_on hub hub "SELECT name, status, role_name, encode(substr(key_id, 1, 8), 'hex') || '…' AS key_fingerprint
   FROM dataspace.participant ORDER BY name"
say "Each registration is signed by the node's key and bound to the login role it came from."
show_on hub hub "SELECT name, dataspace.approve_participant(node_id) IS NULL AS approved FROM dataspace.participant ORDER BY name"
wait_on a factory "SELECT participant_status = 'approved' FROM dataspace.hub_status"

bold "Publish: public assets reach the hub's catalog (private ones are never named to it)"
show "UPDATE dataspace.asset SET visibility = 'public', description = 'hydraulic oil temperature'
  WHERE name = 'temperature'"
sql_on a factory -c "SELECT dataspace.sync_now()" >/dev/null
wait_on b factory "SELECT count(*) = 1 FROM dataspace.hub_catalog"
show_on hub hub "SELECT name, unit, twin_name, description FROM dataspace.hub_catalog"
say "Node B finds it in its cached copy of the catalog, the publication's signature"
say "checked against plant-a's key:"
show_on b factory "SELECT p.name AS provider, c.name AS asset, c.unit, c.description
   FROM dataspace.hub_catalog c JOIN dataspace.participant p ON p.node_id = c.provider_id"
show_on b factory "SELECT participant_status, last_error, lag < interval '5 seconds' AS in_sync FROM dataspace.hub_status"

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

bold "Done: the throw-away servers are being removed"
