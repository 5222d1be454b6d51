# The hub as a digest witness: node a anchors a public asset's seal chain
# and its audit log, a and b cache signed tree heads, verify_anchor checks
# from local data only; a rewritten history at a, a rewritten or truncated
# log at the hub, and a cut-off audit log are each caught and named.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my ($hub, $hub_key) = new_hub('a', 'b');

my $a = new_node($hub, $hub_key, 'a', '');
my $b = new_node($hub, $hub_key, 'b', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'));

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.participant}),
	'both nodes registered');
$hub->safe_psql('postgres', qq{
SELECT dataspace.approve_participant('$id{a}');
SELECT dataspace.approve_participant('$id{b}');
});
is($hub->safe_psql('postgres', q{
SELECT string_agg(event, ',' ORDER BY seq) FROM dataspace.audit_log}),
	'participant.register,participant.register,participant.approve,participant.approve',
	'the hub audits registrations and approvals');

my $asset = '00000000-0000-4000-8000-0000000000a1';
my $secret = '00000000-0000-4000-8000-0000000000a2';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000000a0', 'press 1');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility, seal_max_points) VALUES
  ('$asset', '00000000-0000-4000-8000-0000000000a0', 'temperature', 'stream', 'public', 10),
  ('$secret', '00000000-0000-4000-8000-0000000000a0', 'secret', 'stream', 'private', 10);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT a, '2026-05-01'::timestamptz + i * interval '1 minute', i
  FROM generate_series(1, 30) i, (VALUES ('$asset'::uuid), ('$secret'::uuid)) v(a);
});
ok($a->poll_query_until('postgres', qq{
SELECT count(*) = 3 FROM dataspace.seal WHERE asset_id = '$asset'}), 'a seals its points');

# anchors reach the hub and come back with inclusion proofs
ok($a->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.anchor
 WHERE subject_id = '$asset' AND head_pos = 3 AND inclusion_proof IS NOT NULL}),
	'the chain head of the public asset is anchored and proven in the signed log');
ok($a->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM dataspace.anchor WHERE subject_kind = 'audit_log' AND inclusion_proof IS NOT NULL}),
	'the audit-log head of a is anchored too');
is($hub->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.witness_leaf WHERE subject_id = '$secret'}), '0',
	'the private asset is never anchored');
ok($b->poll_query_until('postgres', q{SELECT count(*) > 0 FROM dataspace.hub_tree_head}),
	'node b caches signed tree heads');
is($hub->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.witness_leaf l JOIN dataspace.witness_tree_head h ON true
 WHERE l.leaf_hash <> sha256('\x00'::bytea || l.anchor)}), '0',
	'each leaf hash is SHA-256(0x00 || anchor)');

is($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_anchor('$asset')}), 'ok',
	'verify_anchor: ok on a');
is($a->safe_psql('postgres', q{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_anchor(NULL) WHERE ok IS NOT NULL}), 'ok',
	'verify_anchor of the audit log: ok');
is($a->safe_psql('postgres', q{SELECT bool_and(ok) FROM dataspace.verify_audit_log()}), 't',
	'verify_audit_log: ok');

# b and a hold the same log: at a common size, the same root
my $common = $a->safe_psql('postgres', q{
SELECT min(t) FROM (SELECT max(tree_size) AS t FROM dataspace.hub_tree_head) x});
ok($b->poll_query_until('postgres', qq{SELECT max(tree_size) >= $common FROM dataspace.hub_tree_head}),
	'b has seen a head at least as large as a\'s');

# a's history rewritten as superuser: the anchored head seal changed
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.seal SET point_count = point_count - 1, last_seq = last_seq - 1
 WHERE asset_id = '$asset' AND chain_pos = 3;
DELETE FROM dataspace.point WHERE asset_id = '$asset'
   AND seq = (SELECT max(seq) FROM dataspace.point WHERE asset_id = '$asset');
});
like($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_anchor('$asset') WHERE head_pos = 3}),
	qr/^anchored seal hash differs$/, 'a changed anchored seal is named');
# ... or the whole run deleted
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
DELETE FROM dataspace.point WHERE asset_id = '$asset'
   AND seq >= (SELECT first_seq FROM dataspace.seal WHERE asset_id = '$asset' AND chain_pos = 3);
DELETE FROM dataspace.seal WHERE asset_id = '$asset' AND chain_pos = 3;
});
is($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_anchor('$asset') WHERE head_pos = 3}),
	'anchored seal missing', 'a deleted anchored seal is named');

# truncating the tail of a's audit log is caught by the anchored head
my $anchored_seq = $a->safe_psql('postgres', q{
SELECT max(head_pos) FROM dataspace.anchor WHERE subject_kind = 'audit_log' AND inclusion_proof IS NOT NULL});
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
DELETE FROM dataspace.audit_log WHERE seq >= $anchored_seq;
});
is($a->safe_psql('postgres', q{SELECT bool_and(ok) FROM dataspace.verify_audit_log() WHERE reason <> 'anchored entry missing'}),
	't', 'the shortened audit log is intact in itself');
is($a->safe_psql('postgres', qq{
SELECT reason FROM dataspace.verify_audit_log() WHERE NOT ok}), 'anchored entry missing',
	'verify_audit_log names the cut-off tail');
is($a->safe_psql('postgres', qq{
SELECT reason FROM dataspace.verify_anchor(NULL) WHERE head_pos = $anchored_seq}),
	'anchored entry missing', 'verify_anchor on the audit log names it too');

# the hub rewrites its log: a leaf is changed, and the stored nodes above
# it that the hub computes its roots and proofs from; then a new anchor
# arrives
$hub->safe_psql('postgres', q{
SET session_replication_role = replica;
UPDATE dataspace.witness_leaf SET leaf_hash = sha256('forged'::bytea) WHERE leaf_index = 0;
DO $$
DECLARE
	l int := 1;
BEGIN
	LOOP
		UPDATE dataspace.witness_node SET hash = sha256('\x01'::bytea ||
			CASE WHEN l = 1 THEN (SELECT leaf_hash FROM dataspace.witness_leaf WHERE leaf_index = 0)
				 ELSE (SELECT hash FROM dataspace.witness_node WHERE level = l - 1 AND node_index = 0) END ||
			CASE WHEN l = 1 THEN (SELECT leaf_hash FROM dataspace.witness_leaf WHERE leaf_index = 1)
				 ELSE (SELECT hash FROM dataspace.witness_node WHERE level = l - 1 AND node_index = 1) END)
		 WHERE level = l AND node_index = 0;
		EXIT WHEN NOT FOUND;
		l := l + 1;
	END LOOP;
END $$;
});
# a's chain moves on: a new anchor, a new tree head over the forged leaf
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2026-05-02'::timestamptz + i * interval '1 minute', i FROM generate_series(1, 20) i;
});
ok($b->poll_query_until('postgres', q{SELECT count(*) > 0 FROM dataspace.witness_fork}),
	'b refuses the rewritten log');
like($b->safe_psql('postgres', q{SELECT reason FROM dataspace.witness_fork}),
	qr/consistency proof does not verify/, 'because the consistency proof fails');
is($b->safe_psql('postgres', q{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.verify_anchor(NULL) WHERE ok IS NOT NULL}),
	'log forked', 'verify_anchor on b says: log forked');
is($b->safe_psql('postgres', q{
SELECT max(tree_size) = (SELECT cached_size FROM dataspace.witness_fork) FROM dataspace.hub_tree_head}), 't',
	'the inconsistent head is not cached');

# a log truncated at the hub: a sees a smaller tree than before
$hub->safe_psql('postgres', q{
SET session_replication_role = replica;
DELETE FROM dataspace.witness_tree_head WHERE tree_size > 1;
DELETE FROM dataspace.witness_leaf WHERE leaf_index > 0;
});
ok($a->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM dataspace.witness_fork WHERE reason = 'the hub shows a smaller log than before'}),
	'a refuses the truncated log: it is smaller than before');
is($a->safe_psql('postgres', qq{
SELECT count(*) > 0 FROM dataspace.verify_anchor('$asset') WHERE head_pos > 3 AND reason = 'log forked'}), 't',
	'verify_anchor on a says: log forked, for the anchor whose local chain is intact');

$_->stop for ($a, $b, $hub);
done_testing();
