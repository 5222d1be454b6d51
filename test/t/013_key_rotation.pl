# Key rotation and revocation through the hub: a node's rotation is
# announced at its next round (also after a hub outage, two rotations in
# order), the hub keeps the key history and accepts the new key only,
# other nodes accept the new key only through a chain of announcements
# from the key they hold, a key swapped at the hub without one is refused
# and reported, a bad proof of possession and a replayed rotation are
# refused, and a revocation reaches the other nodes.
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
my $current_key = q{SELECT encode(key_id, 'hex') FROM dataspace.node_public_key WHERE retired_at IS NULL};

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.participant}),
	'both nodes registered');
$hub->safe_psql('postgres', qq{
SELECT dataspace.approve_participant('$id{a}');
SELECT dataspace.approve_participant('$id{b}');
});
$a->safe_psql('postgres', q{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000000a0', 'press 1');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a0', 'temperature', 'stream', 'public');
});
ok($b->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'b caches a\'s first publication');
my $k1 = $a->safe_psql('postgres', $current_key);
is($b->safe_psql('postgres', qq{
SELECT encode(key_id, 'hex') || ' ' || (SELECT count(*) FROM dataspace.participant_key WHERE node_id = '$id{a}')
  FROM dataspace.participant WHERE node_id = '$id{a}'}), "$k1 1", 'b holds a\'s registered key');

# rotation: announced at the next round
my $k2 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
isnt($k2, $k1, 'a has a new key');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k2' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'the hub shows a\'s new key');
is($hub->safe_psql('postgres', qq{
SELECT string_agg(position || ':' || encode(key_id, 'hex') || ':' || (valid_until IS NULL), ' ' ORDER BY position)
  FROM dataspace.participant_key WHERE node_id = '$id{a}'}),
	"1:$k1:false 2:$k2:true", 'the hub keeps the old key in the history, valid until the rotation');
is($hub->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'participant.rotate_key' AND subject = '$id{a}'}),
	'1', 'the rotation is in the hub\'s audit log');

# a's later publication is accepted, and b verifies it under the new key
$a->safe_psql('postgres', q{
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a0', 'pressure', 'stream', 'public');
SELECT dataspace.sync_now();
});
ok($hub->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a2'}),
	'a\'s publication under the new key is accepted');
is($hub->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.hub_refusal WHERE claimed_node_id = '$id{a}'}),
	'0', 'nothing of a was refused');
ok($b->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k2' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'b accepts a\'s new key through the announcement');
ok($b->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.hub_catalog}),
	'b verifies a\'s new publication, and keeps the old one under the old key');
is($b->safe_psql('postgres', qq{
SELECT string_agg(position || ':' || encode(key_id, 'hex') || ':' || (valid_until IS NULL), ' ' ORDER BY position)
  FROM dataspace.participant_key WHERE node_id = '$id{a}'}),
	"1:$k1:false 2:$k2:true", 'b keeps the checked chain');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'participant.cache' AND subject = '$id{a}'
   AND detail->>'change' = 'key rotated'}), '1', 'b audits the key change');

# a replayed rotation is refused
my ($msg, $sig) = split / /, $hub->safe_psql('postgres', qq{
SELECT encode(submission, 'hex') || ' ' || encode(signature, 'hex') FROM dataspace.hub_submission
 WHERE node_id = '$id{a}' AND kind = 'rotate_key'});
like($hub->safe_psql('postgres', qq{
SELECT accepted || ': ' || coalesce(reason, '') FROM dataspace.hub_submit('\\x$msg', '\\x$sig')},
		extra_params => [ '-U', 'node_a' ]),
	qr/^false: submission is signed with a key the hub does not know/,
	'a replayed rotation, signed by the retired key, is refused');

# rotations while the hub is down are announced in order when it returns
$hub->stop;
my $k3 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
my $k4 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', q{SELECT last_error IS NOT NULL FROM dataspace.hub_status}),
	'a notices the outage');
$hub->start;
ok($hub->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k4' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'after the outage the hub shows a\'s newest key');
is($hub->safe_psql('postgres', qq{
SELECT string_agg(encode(key_id, 'hex'), ' ' ORDER BY position) FROM dataspace.participant_key
 WHERE node_id = '$id{a}'}), "$k1 $k2 $k3 $k4", 'both rotations were announced, in order');
ok($b->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k4' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'b follows the chain over two announcements');

# a bad proof of possession is refused; the good one is accepted afterwards
$a->safe_psql('postgres', q{
BEGIN;
SELECT dataspace.rotate_node_key();
CREATE TABLE good_pop AS SELECT key_id, possession_signature FROM dataspace.node_key WHERE retired_at IS NULL;
UPDATE dataspace.node_key SET possession_signature = announcement_signature WHERE retired_at IS NULL;
COMMIT;
SELECT dataspace.sync_now();
});
my $k5 = $a->safe_psql('postgres', $current_key);
ok($hub->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.hub_refusal
 WHERE claimed_node_id = '$id{a}' AND kind = 'rotate_key' AND reason = 'bad proof of possession of the new key'}),
	'a rotation with a wrong proof of possession is refused');
is($hub->safe_psql('postgres', qq{
SELECT encode(key_id, 'hex') FROM dataspace.participant WHERE node_id = '$id{a}'}), $k4,
	'and the hub keeps the previous key');
$a->safe_psql('postgres', q{
UPDATE dataspace.node_key k SET possession_signature = g.possession_signature
  FROM good_pop g WHERE g.key_id = k.key_id;
SELECT dataspace.sync_now();
});
ok($hub->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k5' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'with the right proof the rotation is accepted');
ok($b->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$k5' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'and b follows');

# a hub superuser swaps a's key without an announcement: b refuses it
my $fake = $hub->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
$hub->safe_psql('postgres', qq{
UPDATE dataspace.participant SET public_key = '\\x$fake', key_id = sha256('\\x$fake')
 WHERE node_id = '$id{a}'});
$b->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($b->poll_query_until('postgres', qq{
SELECT key_alarm LIKE '%no chain of key announcements leads to key%'
  FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'b refuses a key swapped at the hub and records the alarm');
is($b->safe_psql('postgres', qq{
SELECT encode(key_id, 'hex') || ' ' || status FROM dataspace.participant WHERE node_id = '$id{a}'}),
	"$k5 approved", 'b keeps the key it checked');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'participant.key_refused' AND subject = '$id{a}'}),
	'1', 'the refusal is in b\'s audit log');
ok($b->log_contains(qr/WARNING:  refused the key the hub shows for participant $id{a}/),
	'and reported as a warning');
ok($a->poll_query_until('postgres', q{
SELECT last_error LIKE '%the hub knows this node by key%which is not a key of this node%'
  FROM dataspace.hub_status}),
	'a notices that the hub shows a key it never had');
$hub->safe_psql('postgres', qq{
UPDATE dataspace.participant p SET public_key = k.public_key, key_id = k.key_id
  FROM dataspace.participant_key k
 WHERE p.node_id = '$id{a}' AND k.node_id = p.node_id AND k.valid_until IS NULL});
ok($a->poll_query_until('postgres', q{SELECT last_error IS NULL FROM dataspace.hub_status}),
	'with the key restored at the hub, a syncs again');

# revocation: a revokes its current key (rotating first); it reaches b
$a->safe_psql('postgres', qq{
SELECT dataspace.revoke_node_key('\\x$k5', now() - interval '1 hour', 'laptop stolen');
SELECT dataspace.sync_now();
});
my $k6 = $a->safe_psql('postgres', $current_key);
ok($hub->poll_query_until('postgres', qq{
SELECT revoked_at IS NOT NULL FROM dataspace.participant_key
 WHERE node_id = '$id{a}' AND encode(key_id, 'hex') = '$k5'}),
	'the hub stores the revocation');
is($hub->safe_psql('postgres', qq{
SELECT encode(key_id, 'hex') FROM dataspace.participant WHERE node_id = '$id{a}'}), $k6,
	'the rotation before it was announced first');
ok($b->poll_query_until('postgres', qq{
SELECT revoked_at IS NOT NULL AND revocation_reason = 'laptop stolen'
   AND compromised_since < now() - interval '50 minutes'
  FROM dataspace.participant_key WHERE node_id = '$id{a}' AND encode(key_id, 'hex') = '$k5'}),
	'the revocation reaches b');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'participant.key_revoked' AND subject = '$id{a}'}),
	'1', 'b audits it');
is($hub->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.hub_refusal WHERE claimed_node_id = '$id{a}' AND kind = 'revoke_key'}),
	'0', 'the revocation was accepted the first time');

$_->stop for ($a, $b, $hub);
done_testing();
