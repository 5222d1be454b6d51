#!/bin/bash
# The whole dataspace in about a minute, on 127.0.0.1: build and install
# pg_dataspace, start three throw-away PostgreSQL servers (a hub and two
# nodes), and walk through what they do together:
#
#   node A describes a press as a digital twin with two streams, ingests
#   points (sealed by themselves), verifies them, hands out a proof of one
#   value; both nodes register at the hub and are approved; A publishes one
#   stream in the catalog and anchors its seal chain at the hub; node B
#   finds the stream in the catalog and requests a contract, A accepts, and
#   the contract moves to active; the data streams to B over TLS (an export
#   login set up as docs/replication.md says); an analyst on B queries it
#   with SQL; B verifies every seal; while B is offline a superuser on A
#   changes a sealed value, and B refuses the batch and names the seal; A
#   repairs it and the stream resumes; A revokes the contract and the stream
#   stops.
#
# Every step prints what it runs and what came back.  Everything is removed
# at the end, also when a step fails.
#
# Usage: tools/demo.sh        (as root on Debian 12; installs what it needs)
#
# From the install to the end it holds /tmp/pg_dataspace.lock, the lock
# every "make install" into the shared server takes (tools/test.sh,
# tools/sanitize.sh), so that no other run replaces the installed library
# under its servers.  A caller that holds the lock already sets
# PG_DATASPACE_LOCKED=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PG_BINDIR=/usr/lib/postgresql/15/bin
T1=5f0c1d2e-0000-4000-8000-000000000001    # the twin: press 7
TEMP=5f0c1d2e-0000-4000-8000-0000000000a1  # its temperature stream (to be shared)
PRES=5f0c1d2e-0000-4000-8000-0000000000a2  # its pressure stream (stays private)

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run as root (it installs packages and the extension)" >&2
	exit 1
fi

bold "Installing build dependencies and pg_dataspace"
"$root/tools/install-deps.sh"
# fd 9 holds the lock; the servers do not inherit it (9>&-)
if [ "${PG_DATASPACE_LOCKED:-}" != 1 ]; then
	exec 9>>/tmp/pg_dataspace.lock
	if ! flock -n 9; then
		say "waiting for /tmp/pg_dataspace.lock (another run installs or tests the extension)"
		flock 9
	fi
	export PG_DATASPACE_LOCKED=1
fi
make -C "$root" -s clean >/dev/null 2>&1 || true
make -C "$root" -s -j2 COPT="-Wall -Werror" >/dev/null
make -C "$root" -s install >/dev/null
say "installed into $("$PG_BINDIR/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)"
built=$SECONDS

work=$(mktemp -d /tmp/demo-pg_dataspace.XXXXXX)
chown postgres: "$work"
# the servers and psql run as postgres, which may not enter the caller's directory
cd "$work"
base=$((56000 + RANDOM % 1000))
declare -A port=([hub]=$base [a]=$((base + 1)) [b]=$((base + 2)))
declare -A label=([hub]=hub [a]=plant-a [b]=plant-b)
cleanup() {
	for c in b a hub; do
		if [ -f "$work/$c/postmaster.pid" ]; then
			runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/$c" -m fast stop >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$work"
}
trap cleanup EXIT

# fail WHY: say what did not happen, with the end of each server's log
fail() {
	printf '\n\033[1mdemo.sh: FAILED: %s\033[0m\n' "$*" >&2
	for c in hub a b; do
		if [ -f "$work/$c.log" ]; then
			printf -- '--- last lines of %s server log\n' "${label[$c]}" >&2
			tail -n 15 "$work/$c.log" >&2
		fi
	done
	exit 1
}

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
	runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/$c" -l "$work/$c.log" -w start >/dev/null 9>&-
}

# sql_on CLUSTER DB psql-args...
sql_on() {
	local c=$1 db=$2
	shift 2
	runuser -u postgres -- "$PG_BINDIR/psql" -h 127.0.0.1 -p "${port[$c]}" -d "$db" -X -q \
		-v ON_ERROR_STOP=1 -P pager=off "$@"
}
# echo_sql WHO SQL: print a statement, dimmed, line by line as written here
echo_sql() {
	local prompt="$1>" line
	while IFS= read -r line; do
		printf '\033[2m   %s %s\033[0m\n' "$prompt" "$line"
		prompt=$(printf '%*s' ${#prompt} '')
	done <<<"$2"
}
# show_on CLUSTER DB SQL [ROLE [PSQL-OPTION]]: print the statement, run it
# (as ROLE), print the result
show_on() {
	local who=${label[$1]}
	if [ -n "${4:-}" ]; then who="$4@$who"; fi
	echo_sql "$who" "$3"
	sql_on "$1" "$2" -U "${4:-postgres}" ${5:+"$5"} -c "$3" | sed 's/^/   /'
}
# wait_for CLUSTER DB WHAT SQL [SECONDS]: poll until SQL returns t, or fail
wait_for() {
	local limit=${5:-30}
	local end=$((SECONDS + limit))
	until [ "$(sql_on "$1" "$2" -At -c "$4")" = t ]; do
		if [ $SECONDS -ge $end ]; then
			fail "$3: not seen on ${label[$1]} within $limit s (polled: $4)"
		fi
		sleep 0.2
	done
}

bold "Starting a hub and two nodes (throw-away PostgreSQL 15 servers on 127.0.0.1)"
# node A serves TLS with a throw-away self-signed certificate; B will pin it
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 \
	-keyout "$work/a-server.key" -out "$work/a-server.crt" 2>/dev/null
chown postgres: "$work/a-server.key" "$work/a-server.crt"
chmod 0600 "$work/a-server.key"
start_cluster hub "dataspace.mode = 'hub'
dataspace.database = 'hub'
dataspace.node_name = 'hub'"
runuser -u postgres -- "$PG_BINDIR/createdb" -h 127.0.0.1 -p "${port[hub]}" hub
sql_on hub hub -c "CREATE EXTENSION pg_dataspace"
hub_key=$(sql_on hub hub -At -c "SELECT encode(public_key, 'hex') FROM dataspace.node_info()")
say "hub      127.0.0.1:${port[hub]}  (dataspace.mode = 'hub'; public key ${hub_key:0:16}…)"
declare -A tls=([a]="ssl = on
ssl_cert_file = '$work/a-server.crt'
ssl_key_file = '$work/a-server.key'" [b]="")
for n in a b; do
	# the hub operator creates each participant's login role out of band
	sql_on hub hub -c "CREATE ROLE plant_$n LOGIN IN ROLE dataspace_participant"
	start_cluster $n "dataspace.database = 'factory'
dataspace.node_name = 'plant-$n'
dataspace.hub = 'hostaddr=127.0.0.1 port=${port[hub]} dbname=hub user=plant_$n'
dataspace.hub_public_key = '$hub_key'
dataspace.endpoint = 'hostaddr=127.0.0.1 port=${port[$n]} dbname=factory'
dataspace.sync_interval = '500ms'
dataspace.replication_naptime = '500ms'
${tls[$n]}"
	runuser -u postgres -- "$PG_BINDIR/createdb" -h 127.0.0.1 -p "${port[$n]}" factory
done
say "plant-a  127.0.0.1:${port[a]}  (a node, the provider; serves TLS with a self-signed certificate)"
say "plant-b  127.0.0.1:${port[b]}  (a node, the consumer)"
say "Both nodes pinned the hub's public key in their settings."

sql() { sql_on a factory "$@"; }
show() { show_on a factory "$1"; }

bold "CREATE EXTENSION: the database of plant-a becomes a dataspace node"
show "CREATE EXTENSION pg_dataspace"
show "SELECT node_id, name, encode(public_key, 'hex') AS ed25519_public_key, mode FROM dataspace.node_info()"
say "The node's Ed25519 key was created on first use; its private half is"
say "stored wrapped under a key file in the data directory and never leaves C code."

bold "A digital twin (a DTDL interface) with two data streams"
show "INSERT INTO dataspace.twin (id, name, model) VALUES ('$T1', 'press 7',
  '{\"@id\": \"dtmi:example:press;1\", \"@type\": \"Interface\", \"@context\": \"dtmi:dtdl:context;2\",
    \"contents\": [{\"@type\": \"Telemetry\", \"name\": \"temperature\", \"schema\": \"double\"},
                   {\"@type\": \"Telemetry\", \"name\": \"pressure\", \"schema\": \"double\"}]}')"
show "INSERT INTO dataspace.asset (id, twin_id, name, kind, unit, seal_max_points) VALUES
  ('$TEMP', '$T1', 'temperature', 'stream', 'degC', 1000),
  ('$PRES', '$T1', 'pressure', 'stream', 'bar', 1000)"
show "SELECT name, kind, unit, visibility FROM dataspace.asset ORDER BY name"

bold "Ingest: plain INSERT and COPY; sealing happens by itself after commit"
# yesterday from 08:00 UTC, a point every 5 s: well inside the contract's 30 days later on
t0=$(date -u -d yesterday +'%Y-%m-%d 08:00:00+00')
show "INSERT INTO dataspace.point (asset_id, ts, value)
  SELECT '$TEMP', timestamptz '$t0' + i * interval '5 seconds',
         round((60 + 5 * sin(i / 300.0))::numeric, 3)
    FROM generate_series(1, 5000) i"
sql -c "COPY (SELECT '$PRES', timestamptz '$t0' + i * interval '5 seconds',
              round((180 + 3 * cos(i / 200.0))::numeric, 2) FROM generate_series(1, 5000) i) TO STDOUT" >"$work/pressure.tsv"
say "(a 5000-line file from a sensor gateway)"
echo_sql plant-a "\\copy dataspace.point (asset_id, ts, value) FROM 'pressure.tsv'"
sql -c "\\copy dataspace.point (asset_id, ts, value) FROM '$work/pressure.tsv'"
wait_for a factory "the background sealer sealing both streams" \
	"SELECT count(*) = 0 FROM dataspace.pending_batch"
show "SELECT a.name, count(*) AS seals, sum(s.point_count) AS points, min(s.min_ts) AS first, max(s.max_ts) AS last
   FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id GROUP BY a.name ORDER BY a.name"
show "SELECT s.chain_pos, s.point_count, encode(substr(s.merkle_root, 1, 8), 'hex') || '…' AS merkle_root,
        encode(substr(s.prev_hash, 1, 8), 'hex') || '…' AS prev_hash
   FROM dataspace.seal s WHERE s.asset_id = '$TEMP' ORDER BY chain_pos LIMIT 3"
say "Each seal: a Merkle root over its points, chained to the previous seal, signed with Ed25519."

bold "Verify: every leaf, root, signature and chain link is recomputed"
show "SELECT a.name, count(*) AS seals, bool_and(v.ok) AS all_ok
   FROM dataspace.asset a, dataspace.verify_asset(a.id) v GROUP BY a.name ORDER BY a.name"

bold "A proof for one value, checkable offline with nothing but the proof"
# whole output first: head closing the pipe early would fail the script
show_on a factory "SELECT jsonb_pretty(dataspace.point_proof('$TEMP', 1234)) AS proof" "" -At >"$work/proof.txt"
head -20 "$work/proof.txt"
say "   …"
show "SELECT dataspace.verify_proof(dataspace.point_proof('$TEMP', 1234)) AS valid"

bold "The hub: both nodes register by themselves; the operator approves them"
sql_on b factory -c "CREATE EXTENSION pg_dataspace"
say "(plant-b ran CREATE EXTENSION pg_dataspace too)"
wait_for hub hub "both nodes registering at the hub" "SELECT count(*) = 2 FROM dataspace.participant"
show_on hub hub "SELECT name, status, role_name, encode(substr(key_id, 1, 8), 'hex') || '…' AS key_fingerprint
   FROM dataspace.participant ORDER BY name"
say "Each registration is signed by the node's key and bound to the login role it came from."
echo_sql hub "SELECT dataspace.approve_participant(node_id) FROM dataspace.participant WHERE status = 'pending'"
sql_on hub hub -c "SELECT dataspace.approve_participant(node_id) FROM dataspace.participant WHERE status = 'pending'" >/dev/null
show_on hub hub "SELECT name, status FROM dataspace.participant ORDER BY name"
for n in a b; do
	wait_for $n factory "the approval reaching ${label[$n]}" \
		"SELECT participant_status = 'approved' FROM dataspace.hub_status"
done
id_a=$(sql_on a factory -At -c "SELECT dataspace.node_id()")
id_b=$(sql_on b factory -At -c "SELECT dataspace.node_id()")

bold "Publish: public assets reach the hub's catalog (private ones are never named to it)"
show "UPDATE dataspace.asset SET visibility = 'public', description = 'hydraulic oil temperature'
  WHERE name = 'temperature'"
wait_for b factory "the published asset reaching plant-b's copy of the catalog" \
	"SELECT count(*) = 1 FROM dataspace.hub_catalog"
show_on hub hub "SELECT name, unit, twin_name, description FROM dataspace.hub_catalog"
say "plant-b finds it in its cached copy of the catalog, the publication's signature"
say "checked against plant-a's key:"
show_on b factory "SELECT p.name AS provider, c.name AS asset, c.unit, c.description, c.asset_id
   FROM dataspace.hub_catalog c JOIN dataspace.participant p ON p.node_id = c.provider_id"

bold "Anchor: the hub witnesses the head of the public stream's seal chain"
say "plant-a sends the chain head to the hub, which logs it and signs its log's tree head;"
say "plant-a keeps the signed head and the inclusion proof, so it can later show that its"
say "history was not rewritten, without asking anyone:"
wait_for a factory "the anchor of the temperature chain being proven in the hub's signed log" \
	"SELECT count(*) > 0 AND bool_and(ok IS TRUE) FROM dataspace.verify_anchor('$TEMP')"
show "SELECT anchor_id, head_pos AS anchored_chain_pos, ok, reason FROM dataspace.verify_anchor('$TEMP')"

bold "plant-a's operator prepares the export for plant-b (docs/replication.md)"
say "A login role for plant-b in the locked-down group dataspace_export: it may run the"
say "three export functions and nothing else, only over TLS, only from 127.0.0.1."
export_pw=$(openssl rand -hex 16)
echo_sql plant-a "CREATE ROLE export_plant_b LOGIN PASSWORD '…' IN ROLE dataspace_export CONNECTION LIMIT 4"
sql -c "CREATE ROLE export_plant_b LOGIN PASSWORD '$export_pw' IN ROLE dataspace_export CONNECTION LIMIT 4"
sql -c "ALTER ROLE export_plant_b SET statement_timeout = '60s';
ALTER ROLE export_plant_b SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE export_plant_b SET idle_session_timeout = '1h';
-- no temporary tables: TEMP is granted to PUBLIC by default
REVOKE TEMPORARY ON DATABASE factory FROM PUBLIC;"
say "   (and statement, idle and idle-in-transaction timeouts; TEMP revoked from PUBLIC)"
# pg_hba.conf: the export group's lines come before initdb's broader ones
{
	echo "hostssl factory +dataspace_export 127.0.0.1/32 scram-sha-256"
	echo "host    all     +dataspace_export 0.0.0.0/0    reject"
	echo "local   all     +dataspace_export              reject"
	cat "$work/a/pg_hba.conf"
} >"$work/a-hba.new"
mv "$work/a-hba.new" "$work/a/pg_hba.conf"
chown postgres: "$work/a/pg_hba.conf"
sql -At -c "SELECT pg_reload_conf()" >/dev/null
say "pg_hba.conf of plant-a, first lines (then reloaded):"
sed -n 1,3p "$work/a/pg_hba.conf" | sed 's/^/      /'
say "plant-b's operator gets the login (password in a 0600 password file, never in a"
say "setting) and plant-a's certificate, out of band, and stores them for provider plant-a:"
printf '127.0.0.1:%s:factory:export_plant_b:%s\n' "${port[a]}" "$export_pw" >"$work/b-export.pgpass"
cp "$work/a-server.crt" "$work/b-trusts-a.crt"
chown postgres: "$work/b-export.pgpass" "$work/b-trusts-a.crt"
chmod 0600 "$work/b-export.pgpass"
show_on b factory "INSERT INTO dataspace.provider_login (provider_id, options) VALUES ('$id_a',
  'user=export_plant_b passfile=$work/b-export.pgpass host=127.0.0.1 sslmode=verify-full sslrootcert=$work/b-trusts-a.crt')"
say "Without TLS, plant-a turns the export login away:"
if out=$(sql_on a factory -U export_plant_b -d "dbname=factory sslmode=disable passfile=$work/b-export.pgpass" \
	-c "SELECT 1" 2>&1); then
	fail "the export login connected without TLS"
fi
say "   $(echo "$out" | sed -n 1p)"

bold "Contract: plant-b requests the stream, plant-a accepts"
policy='{"max_age": "P30D", "purpose": ["maintenance"], "onward_sharing": false}'
echo_sql plant-b "SELECT dataspace.request_contract('$id_a', '{$TEMP}', '$policy', now() + interval '30 days')"
contract=$(sql_on b factory -At -c "SELECT dataspace.request_contract('$id_a', '{$TEMP}',
  '$policy', now() + interval '30 days')")
say "contract $contract, state REQUESTED on plant-b: signed by plant-b, both parties' keys"
say "pinned; its policy allows points of the last 30 days, for maintenance only, and no"
say "onward sharing."
say "The request travels through the hub, signed by plant-b; plant-a checks it:"
wait_for a factory "plant-b's contract request reaching plant-a" \
	"SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$contract'"
show "SELECT state, initiator, policy, valid_until FROM dataspace.contract WHERE id = '$contract'"
show "SELECT dataspace.accept_contract('$contract') AS new_state"
say "The nodes take the remaining steps themselves, each after checking the other's."
say "States as they move (watched on both nodes; seconds since the acceptance):"
seen_a=AGREED seen_b=REQUESTED
accepted=$(date +%s%N)
say "$(printf '%5.1f s  %s' 0 'plant-a: AGREED, plant-b: REQUESTED')"
end=$((SECONDS + 30))
until [ "$seen_a" = active ] && [ "$seen_b" = active ]; do
	[ $SECONDS -lt $end ] || fail "contract $contract did not become active on both nodes within 30 s"
	for n in a b; do
		s=$(sql_on $n factory -At -c "SELECT state FROM dataspace.contract WHERE id = '$contract'")
		var=seen_$n
		if [ -n "$s" ] && [ "$s" != "${!var}" ]; then
			say "$(printf '%5.1f s  %s: %s' "$((($(date +%s%N) - accepted) / 1000000))e-3" "${label[$n]}" "$s")"
			printf -v "$var" '%s' "$s"
		fi
	done
	sleep 0.1
done
say "Every signed step, as plant-b recorded it:"
show_on b factory "SELECT s.step_no, s.step, p.name AS taken_by, s.from_state || ' → ' || s.to_state AS state
   FROM dataspace.contract_step s LEFT JOIN dataspace.participant p ON p.node_id = s.actor_id
  WHERE s.contract_id = '$contract' ORDER BY s.step_no"

bold "Purpose: plant-b declares what it uses the data for"
say "plant-a exports only under a purpose the policy permits, declared and signed by plant-b:"
show_on b factory "SELECT dataspace.declare_purpose('$contract', 'maintenance')"

bold "Replication: the sealed points stream to plant-b over TLS"
say "plant-b's replication worker connects with its login, answers plant-a's challenge"
say "with its node key, pulls whole seals and checks each before it commits."
wait_for b factory "all 5000 points reaching plant-b" \
	"SELECT coalesce(sum(points_received), 0) = 5000 FROM dataspace.subscription"
show_on b factory "SELECT provider_name AS provider, cursor AS chain_pos, seals_received, points_received,
        lag_points, round(lag_seconds::numeric, 1) AS lag_seconds, state FROM dataspace.subscription"
show "SELECT a.usename, s.ssl, s.version, a.application_name
   FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'export_plant_b'"
say "The private pressure stream was never offered and never left plant-a."
say "plant-a keeps plant-b's signed declaration of purpose from each connection:"
show "SELECT purpose, length(message) AS signed_bytes, length(signature) AS signature_bytes
   FROM dataspace.purpose_declaration WHERE contract_id = '$contract' ORDER BY id DESC LIMIT 1"

bold "SQL on plant-b: an analyst (an ordinary reader role) queries the received data"
sql_on b factory -c "CREATE ROLE analyst LOGIN IN ROLE dataspace_reader"
say "(plant-b's operator: CREATE ROLE analyst LOGIN IN ROLE dataspace_reader)"
show_on b factory "SELECT date_trunc('hour', ts) AS hour, count(*) AS points,
        round(avg(value)::numeric, 2) AS avg_degc, round(max(value)::numeric, 2) AS max_degc
   FROM dataspace.all_point WHERE asset_id = '$TEMP' GROUP BY 1 ORDER BY 1" analyst
say "Row-level security shows received rows only while the contract allows them."

bold "plant-b verifies what it received: every seal, under the key the contract pins"
show_on b factory "SELECT count(*) AS seals, bool_and(ok) AS all_ok, count(*) FILTER (WHERE NOT ok) AS broken
   FROM dataspace.verify_asset('$TEMP')"
wait_for b factory "plant-a's anchors of the temperature chain reaching plant-b" \
	"SELECT count(*) > 0 AND bool_and(ok IS TRUE) FROM dataspace.verify_anchor('$TEMP')" 60
show_on b factory "SELECT anchor_id, head_pos AS anchored_chain_pos, ok, reason FROM dataspace.verify_anchor('$TEMP')"
say "plant-b checks plant-a's anchors, proven in the hub's signed log, against the seals"
say "it received: plant-a cannot rewrite what it anchored without plant-b noticing."
wait_for b factory "a tree head of plant-a checked by plant-b" \
	"SELECT count(*) > 0 FROM dataspace.peer_tree_head WHERE consistent" 60
show_on b factory "SELECT p.name AS shown_by, h.tree_size, h.consistent, h.reason
   FROM dataspace.peer_tree_head h LEFT JOIN dataspace.participant p ON p.node_id = h.peer_id
  WHERE h.consistent IS NOT NULL ORDER BY h.id DESC LIMIT 2"
say "Over the stream the two nodes also compared the hub's signed tree heads: a hub"
say "showing them different logs would be caught on both (docs/witness.md)."

bold "Tamper in transit: plant-b is offline while a superuser on plant-a changes a value"
runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/b" -m fast -w stop >/dev/null
say "plant-b stopped (pg_ctl stop). plant-a records the next hour and seals it:"
show "INSERT INTO dataspace.point (asset_id, ts, value)
  SELECT '$TEMP', timestamptz '$t0' + i * interval '5 seconds',
         round((60 + 5 * sin(i / 300.0))::numeric, 3)
    FROM generate_series(5001, 5720) i"
# seal now rather than wait for the background sealer: the change below must hit a sealed point
sql -At -c "SELECT dataspace.seal_pending()" >/dev/null
bad_seq=$(sql -At -c "SELECT seq FROM dataspace.point WHERE asset_id = '$TEMP' AND ts = timestamptz '$t0' + interval '7 hours 30 minutes'")
good_value=$(sql -At -c "SELECT value FROM dataspace.point WHERE asset_id = '$TEMP' AND seq = $bad_seq")
say "Ordinary sessions cannot change points: they are append-only."
echo_sql plant-a "UPDATE dataspace.point SET value = 0"
if out=$(sql -c "UPDATE dataspace.point SET value = 0" 2>&1); then
	fail "an UPDATE of dataspace.point was allowed"
fi
echo "$out" | sed 's/^/   /'
say "A superuser can, behind the extension's back:"
show "SET session_replication_role = replica;
  UPDATE dataspace.point SET value = 99.999 WHERE asset_id = '$TEMP' AND seq = $bad_seq"
runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$work/b" -l "$work/b.log" -w start >/dev/null 9>&-
say "plant-b is back; its worker pulls the new seal, recomputes it, and refuses it:"
wait_for b factory "plant-b refusing the tampered seal" \
	"SELECT state = 'stopped' FROM dataspace.subscription WHERE asset_id = '$TEMP'"
show_on b factory "SELECT state, points_received, last_error FROM dataspace.subscription" "" -x
say "Nothing of the refused batch was stored; the 5000 points before it stay verified."
say "plant-a's own verification names the same seal:"
show "SELECT v.seal_id, s.chain_pos, v.ok, v.reason
   FROM dataspace.verify_asset('$TEMP') v JOIN dataspace.seal s ON s.id = v.seal_id WHERE NOT v.ok"

bold "Repair: plant-a restores the value (from its backup); plant-b restarts the stream"
show "SET session_replication_role = replica;
  UPDATE dataspace.point SET value = $good_value WHERE asset_id = '$TEMP' AND seq = $bad_seq"
show_on b factory "SELECT dataspace.restart_subscription('$TEMP')"
wait_for b factory "the repaired hour reaching plant-b" \
	"SELECT state = 'running' AND points_received = 5720 FROM dataspace.subscription WHERE asset_id = '$TEMP'"
show_on b factory "SELECT cursor AS chain_pos, points_received, lag_points, state,
        (SELECT bool_and(ok) FROM dataspace.verify_asset('$TEMP')) AS all_seals_ok
   FROM dataspace.subscription"

bold "Revoke: plant-a ends the contract; the stream stops"
show "SELECT dataspace.revoke_contract('$contract', 'end of project') AS new_state"
wait_for b factory "the revocation reaching plant-b" \
	"SELECT state = 'contract revoked' FROM dataspace.subscription WHERE asset_id = '$TEMP'"
show_on b factory "SELECT c.state AS contract, s.state AS stream, s.points_received
   FROM dataspace.subscription s JOIN dataspace.contract c ON c.id = s.contract_id"
say "plant-a records another hour:"
show "INSERT INTO dataspace.point (asset_id, ts, value)
  SELECT '$TEMP', timestamptz '$t0' + i * interval '5 seconds',
         round((60 + 5 * sin(i / 300.0))::numeric, 3)
    FROM generate_series(5721, 6440) i"
sql -At -c "SELECT dataspace.seal_pending()" >/dev/null
# a stream that stopped shows only as nothing arriving: watch for several worker rounds
say "Watching plant-b for 3 seconds (six rounds of its replication worker):"
end=$((SECONDS + 3))
while [ $SECONDS -lt $end ]; do
	got=$(sql_on b factory -At -c "SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$TEMP'")
	[ "$got" = 5720 ] || fail "plant-b received points after the revocation ($got stored, 5720 expected)"
	sleep 0.5
done
say "   still 5720 points stored on plant-b; plant-a has $(sql -At -c "SELECT count(*) FROM dataspace.point WHERE asset_id = '$TEMP'")."
say "The received rows stay stored as evidence, but the analyst no longer sees them:"
show_on b factory "SELECT count(*) AS visible_points FROM dataspace.all_point WHERE asset_id = '$TEMP'" analyst

bold "Done in $SECONDS s ($built s of them installing and building): the throw-away servers are being removed"
