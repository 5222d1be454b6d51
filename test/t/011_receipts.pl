# Delivery receipts: the consumer countersigns every batch it stores and
# the provider keeps the receipts, checked against the consumer key the
# contract pins and against its own chain.  Receipts cover exactly the
# delivered seals, verify again later, survive a consumer crash before
# they were sent, and forged ones or ones signed by another node's key are
# refused.  Row-level security: an ordinary reader sees no received row
# outside the contract's window, after expiry, or after revocation.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my ($hub, $hub_key) = new_hub('a', 'b', 'c');

# the provider serves TLS with a self-signed certificate
my $a = new_node($hub, $hub_key, 'a', tls_settings($tmp));
my $b = new_node($hub, $hub_key, 'b', '');
my $c = new_node($hub, $hub_key, 'c', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	c => $c->safe_psql('postgres', 'SELECT dataspace.node_id()'));

# the export role at the provider: one login per consumer, TLS only
export_logins($a, $id{a}, $tmp, [ 'b', $b ], [ 'c', $c ]);
my $export_conn = 'hostaddr=127.0.0.1 port=' . $a->port . " dbname=postgres user=export_b passfile=$tmp/b.pgpass";

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 3 FROM dataspace.participant}),
	'three nodes registered');
$hub->safe_psql('postgres', 'SELECT dataspace.approve_participant(node_id) FROM dataspace.participant');

my $twin = '00000000-0000-4000-8000-000000010a00';
my $asset = '00000000-0000-4000-8000-000000010a01';
my $windowed = '00000000-0000-4000-8000-000000010a02';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '$twin', 'temperature', 'stream', 'public'),
  ('$windowed', '$twin', 'pressure', 'stream', 'public');
});
ok($b->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.hub_catalog WHERE provider_id = '$id{a}') = 2
   AND (SELECT count(*) FROM dataspace.participant WHERE status = 'approved') = 3}),
	'node b finds both assets in the catalog');
ok($a->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM dataspace.participant WHERE status = 'approved'}),
	'node a caches the participants');

my $short = '00000000-0000-4000-8000-000000010a03';
my $late = '00000000-0000-4000-8000-000000010a04';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$short', '$twin', 'flow', 'stream', 'public'),
  ('$late', '$twin', 'level', 'stream', 'public');
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-01'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 20000) g;
SELECT dataspace.seal_pending();
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-02'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 500) g;
SELECT dataspace.seal_pending();
});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 4 FROM dataspace.hub_catalog WHERE provider_id = '$id{a}'}),
	'node b finds the assets in the catalog');

# contracts: b and c on the same asset
sub contract
{
	my ($node, $assets, $policy, $until) = @_;
	my $k = $node->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$assets}', '$policy', $until)});
	ok($a->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k'}),
		'a request reaches node a');
	$a->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k')});
	ok($node->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k'}),
		'the contract is active at the consumer');
	return $k;
}
my $k1 = contract($b, $asset, '{}', q{now() + interval '1 year'});
my $kc = contract($c, $asset, '{}', q{now() + interval '1 year'});

ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 20500 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'20,500 points reach node b');
ok($c->poll_query_until('postgres', qq{
SELECT count(*) = 20500 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'and node c');
my $cursor = $b->safe_psql('postgres', qq{SELECT cursor FROM dataspace.subscription WHERE asset_id = '$asset'});
ok($a->poll_query_until('postgres', qq{
SELECT coalesce(max(last_chain_pos), 0) = $cursor FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}),
	'the receipts of node b reach node a');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM generate_series(1, $cursor) g
 WHERE (SELECT count(*) FROM dataspace.delivery_receipt r
         WHERE r.contract_id = '$k1' AND g BETWEEN r.first_chain_pos AND r.last_chain_pos) <> 1}), '0',
	'every delivered chain position is covered by exactly one receipt');
is($a->safe_psql('postgres', qq{
SELECT sum(points) || ' ' || bool_and(consumer_id = '$id{b}') || ' ' || bool_and(asset_id = '$asset')
  FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}), "20500 true true",
	'the receipts count the delivered points and name the consumer and asset');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.delivery_receipt r JOIN dataspace.seal s
    ON s.asset_id = r.asset_id AND s.chain_pos = r.last_chain_pos AND s.seal_hash = r.last_seal_hash
 WHERE r.contract_id = '$k1'}),
	$a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}),
	'each receipt ends on a seal of the provider\'s chain');
is($a->safe_psql('postgres', qq{
SELECT count(*) || ' ' || bool_and(ok) FROM dataspace.verify_receipts('$k1')}),
	$a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}) . ' true',
	'verify_receipts checks every kept receipt');
is($b->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE sent_at IS NULL) || ' ' || count(*) FROM dataspace.receipt_outbox WHERE contract_id = '$k1'}),
	'0 ' . $a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}),
	'the consumer\'s outbox has every receipt marked sent');
ok($a->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.delivery_receipt WHERE contract_id = '$kc'}),
	'node c\'s receipts reach node a too');

# the kept receipts are append-only
my ($rc, $out, $err) = $a->psql('postgres', qq{DELETE FROM dataspace.delivery_receipt});
like($err, qr/DELETE is not allowed on dataspace.delivery_receipt/, 'receipts cannot be deleted');
($rc, $out, $err) = $a->psql('postgres', qq{UPDATE dataspace.delivery_receipt SET points = 0});
like($err, qr/UPDATE is not allowed on dataspace.delivery_receipt/, 'nor changed');
($rc, $out, $err) = $a->psql('postgres', qq{TRUNCATE dataspace.delivery_receipt});
like($err, qr/TRUNCATE is not allowed on dataspace.delivery_receipt/, 'nor truncated');

# a receipt altered at the provider behind its back is caught
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.delivery_receipt SET points = points + 1
 WHERE id = (SELECT min(id) FROM dataspace.delivery_receipt WHERE contract_id = '$k1');});
is($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_receipts('$k1') WHERE NOT ok}),
	'row differs from the signed receipt', 'verify_receipts catches a changed receipt row');
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.delivery_receipt SET points = points - 1
 WHERE id = (SELECT min(id) FROM dataspace.delivery_receipt WHERE contract_id = '$k1');});

# export_receipt needs an authenticated session
($rc, $out, $err) = $a->psql('postgres', qq{
SELECT dataspace.export_receipt('$k1', '\\x00', '\\x00')}, connstr => "$export_conn sslmode=require");
like($err, qr/this session has not authenticated for contract $k1/, 'export_receipt without the challenge is refused');

# a forged receipt (signature changed) and a receipt signed by another
# node's key, handed in through node b's authenticated session: refused
my $nrec = $a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.delivery_receipt');
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.receipt_outbox (contract_id, provider_id, asset_id, first_chain_pos,
    last_chain_pos, points, receipt, signature)
SELECT contract_id, provider_id, asset_id, first_chain_pos, last_chain_pos, points, receipt,
       set_byte(signature, 10, get_byte(signature, 10) # 1)
  FROM dataspace.receipt_outbox WHERE contract_id = '$k1' ORDER BY id DESC LIMIT 1;});
my $creceipt = $c->safe_psql('postgres', qq{
SELECT encode(receipt, 'hex') || ' ' || encode(signature, 'hex') || ' ' || first_chain_pos || ' ' || last_chain_pos
  FROM dataspace.receipt_outbox WHERE contract_id = '$kc' ORDER BY id LIMIT 1});
my ($crec, $csig, $cfirst, $clast) = split / /, $creceipt;
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.receipt_outbox (contract_id, provider_id, asset_id, first_chain_pos,
    last_chain_pos, points, receipt, signature)
VALUES ('$k1', '$id{a}', '$asset', $cfirst, $clast, 0, '\\x$crec', '\\x$csig');});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 2 FROM dataspace.receipt_outbox WHERE sent_at IS NULL AND last_error IS NOT NULL}),
	'node b\'s worker hands both in and the provider refuses them');
is($b->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT regexp_replace(last_error, '^.*(delivery receipt refused: [a-z ]+).*\$', '\\1'), ',')
  FROM dataspace.receipt_outbox WHERE sent_at IS NULL}), 'delivery receipt refused: bad signature',
	'both as a bad signature');
is($a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.delivery_receipt'), $nrec,
	'the provider kept neither');
ok($a->log_contains(qr/ERROR:  delivery receipt refused: bad signature/), 'the refusals are in the provider\'s log');

# an administrator gives the two refused receipts up: the worker stops
# sending them, and they stay in the outbox, marked (checked below, after
# the worker's turns of the crash test)
($rc, $out, $err) = $b->psql('postgres', qq{SELECT dataspace.abandon_receipts('$k1', ' ')});
like($err, qr/to abandon receipts, give a reason/, 'abandoning receipts needs a reason');
is($b->safe_psql('postgres', qq{SELECT dataspace.abandon_receipts('$k1', 'forged by the test')}), '2',
	'an administrator abandons the two refused receipts');

# a consumer crash after committing batches whose receipts were not sent
# yet: they are sent after the restart
my $maxid = $b->safe_psql('postgres', 'SELECT max(id) FROM dataspace.receipt_outbox');
$a->safe_psql('postgres', q{REVOKE EXECUTE ON FUNCTION dataspace.export_receipt(uuid, bytea, bytea) FROM dataspace_export});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-03'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 300) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 20800 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the new batch is stored at node b');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.receipt_outbox
 WHERE id > $maxid AND contract_id = '$k1' AND sent_at IS NULL AND last_error LIKE '%permission denied%'}),
	'its receipt is queued, not yet accepted by the provider');
my $cursor2 = $b->safe_psql('postgres', qq{SELECT cursor FROM dataspace.subscription WHERE asset_id = '$asset'});
my $abandoned_attempts = $b->safe_psql('postgres', q{
SELECT sum(attempts) FROM dataspace.receipt_outbox WHERE abandoned_at IS NOT NULL});
$b->stop('immediate');
$a->safe_psql('postgres', q{GRANT EXECUTE ON FUNCTION dataspace.export_receipt(uuid, bytea, bytea) TO dataspace_export});
$b->start;
ok($a->poll_query_until('postgres', qq{
SELECT coalesce(max(last_chain_pos), 0) = $cursor2 FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}),
	'after the crash and restart the queued receipt reaches the provider');
is($a->safe_psql('postgres', qq{
SELECT sum(points) || ' ' || bool_and(ok) FROM dataspace.verify_receipts('$k1')}), '20800 true',
	'the receipts cover all 20,800 delivered points and verify');
is($b->safe_psql('postgres', q{
SELECT count(*) || ' ' || sum(attempts) || ' ' || bool_and(abandoned_by = session_user) || ' ' ||
       string_agg(DISTINCT abandon_reason, ',')
  FROM dataspace.receipt_outbox WHERE abandoned_at IS NOT NULL AND sent_at IS NULL}),
	"2 $abandoned_attempts true forged by the test",
	'the abandoned receipts were not sent again, and say who gave them up and why');

# row-level security: an ordinary reader at node b
$b->safe_psql('postgres', q{CREATE ROLE plain_reader IN ROLE dataspace_reader});
sub reader_count
{
	my ($asset_id) = @_;
	return $b->safe_psql('postgres', qq{
SET ROLE plain_reader; SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset_id'});
}

# the window: rows outside it are never visible, even if they are stored
my $k2 = contract($b, $windowed,
	'{"data_window": {"from": "2024-02-01T00:00:00.5Z", "until": "2024-02-01T00:00:01.5Z"}}',
	q{now() + interval '1 year'});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$windowed', '2024-02-01'::timestamptz + g * interval '1 ms', g FROM generate_series(0, 1999) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1000 FROM dataspace.received_point WHERE asset_id = '$windowed'}),
	'the points inside the window arrive');
$b->safe_psql('postgres', qq{
SET session_replication_role = replica;
INSERT INTO dataspace.received_point
SELECT provider_id, asset_id, seq + 100000, ts + interval '1 hour', value, nonce, chain_pos, contract_id
  FROM dataspace.received_point WHERE asset_id = '$windowed' LIMIT 5;});
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$windowed'}),
	'1005', 'five rows outside the window are stored behind the worker\'s back');
is($b->safe_psql('postgres', qq{
SET ROLE plain_reader;
SELECT count(*) || ' ' || min(ts) || ' ' || max(ts) FROM dataspace.received_point WHERE asset_id = '$windowed'}),
	'1000 2024-02-01 00:00:00.5+00 2024-02-01 00:00:01.499+00',
	'the reader sees only the rows inside the window');
is($b->safe_psql('postgres', qq{
SET ROLE plain_reader;
SELECT count(*) FROM dataspace.all_point WHERE asset_id = '$windowed' AND ts > '2024-02-01 00:00:01.5+00'}),
	'0', 'and none through dataspace.all_point either');

# expiry: a contract valid for a short while
my $k3 = contract($b, $short, '{}', q{now() + interval '25 seconds'});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$short', '2024-04-01'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 100) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 100 FROM dataspace.received_point WHERE asset_id = '$short'}),
	'the short contract\'s points arrive');
my $before = reader_count($short);
ok($before eq '100' || $b->safe_psql('postgres', qq{SELECT valid_until <= now() FROM dataspace.contract WHERE id = '$k3'}) eq 't',
	'the reader sees them while the contract is valid');
ok($b->poll_query_until('postgres', qq{SELECT valid_until <= now() FROM dataspace.contract WHERE id = '$k3'}),
	'the short contract expires');
is(reader_count($short), '0', 'after expiry the reader sees none of them');
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$short'}),
	'100', 'they stay stored as evidence');

# verify_anchor on a received asset: the provider's anchors, cached from
# the hub with their inclusion proofs, checked against the received seals
ok($b->poll_query_until('postgres', qq{
SELECT count(*) FILTER (WHERE ok) > 0 AND count(*) FILTER (WHERE ok = false) = 0
  FROM dataspace.verify_anchor('$asset')}),
	'verify_anchor is ok on the received asset at node b');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.received_anchor WHERE asset_id = '$asset' AND provider_id = '$id{a}'})
	> 0 ? 'cached' : 'none', 'cached', 'the provider\'s anchors are cached at node b');

# a provider that rewrote anchored history before delivering it is caught
# by the consumer: its own anchor contradicts what it sent
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$late', '2024-05-01'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 50) g;
SELECT dataspace.seal_pending();});
ok($a->poll_query_until('postgres', qq{
SELECT count(*) FILTER (WHERE ok) = 1 FROM dataspace.verify_anchor('$late')}),
	'the provider\'s seal is anchored and proven at the hub');
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
DELETE FROM dataspace.point WHERE asset_id = '$late';
DELETE FROM dataspace.seal WHERE asset_id = '$late';
RESET session_replication_role;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$late', '2024-05-01'::timestamptz + g * interval '1 ms', g + 0.5 FROM generate_series(1, 50) g;
SELECT dataspace.seal_pending();});
is($a->safe_psql('postgres', qq{SELECT reason FROM dataspace.verify_anchor('$late')}),
	'anchored seal hash differs', 'the provider\'s own verify_anchor sees the rewrite');
my $k4 = contract($b, $late, '{}', q{now() + interval '1 year'});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 50 FROM dataspace.received_point WHERE asset_id = '$late'}),
	'the rewritten seal verifies on its own and is delivered');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.verify_anchor('$late') WHERE reason = 'anchored seal hash differs'}),
	'verify_anchor at the consumer catches the rewritten history');

# revocation, with the receipt of the last batch still queued: the
# provider does not take receipts for a moment
$maxid = $b->safe_psql('postgres', 'SELECT max(id) FROM dataspace.receipt_outbox');
$a->safe_psql('postgres', q{REVOKE EXECUTE ON FUNCTION dataspace.export_receipt(uuid, bytea, bytea) FROM dataspace_export});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-04'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 200) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.receipt_outbox
 WHERE id > $maxid AND contract_id = '$k1' AND sent_at IS NULL AND last_error LIKE '%permission denied%'}),
	'the last batch before the revocation is stored, its receipt queued');
is(reader_count($asset), '21000', 'the reader sees the stream of the active contract');
$a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k1', 'end of project')});
ok($b->poll_query_until('postgres', qq{SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k1'}),
	'node b learns of the revocation');
is(reader_count($asset), '0', 'after revocation the reader sees none of the received rows');
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'21000', 'they stay stored as evidence');

# The receipt still reaches the provider, on a new connection (b restarts):
# the provider lets a session authenticate for a contract no longer in
# force to hand in its receipts, and gives it no data.  Points sealed after
# the revocation stay at the provider.
$cursor2 = $b->safe_psql('postgres', qq{SELECT cursor FROM dataspace.subscription WHERE asset_id = '$asset'});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-05'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 50) g;
SELECT dataspace.seal_pending();});
$b->restart;
$a->safe_psql('postgres', q{GRANT EXECUTE ON FUNCTION dataspace.export_receipt(uuid, bytea, bytea) TO dataspace_export});
ok($a->poll_query_until('postgres', qq{
SELECT coalesce(max(last_chain_pos), 0) = $cursor2 FROM dataspace.delivery_receipt WHERE contract_id = '$k1'}),
	'the receipt queued when the contract ended reaches the provider');
is($a->safe_psql('postgres', qq{
SELECT sum(points) || ' ' || bool_and(ok) FROM dataspace.verify_receipts('$k1')}), '21000 true',
	'the receipts cover all 21,000 delivered points and verify');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 0 FROM dataspace.receipt_outbox
 WHERE contract_id = '$k1' AND sent_at IS NULL AND id > $maxid}),
	'the consumer marks it sent');
# (while export_receipt was revoked they were refused for that; they are
# tried again, and refused for their signatures, at their stream's turn)
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 2 FROM dataspace.receipt_outbox
 WHERE contract_id = '$k1' AND sent_at IS NULL AND last_error LIKE '%bad signature%'}),
	'the two forged receipts stay queued, refused');
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'21000', 'and no point sealed after the revocation was delivered');

done_testing();
