# Contracts negotiated through a hub between three nodes: an offer and a
# request carried both ways and verified on both ends, row-level security
# at the hub, forged and replayed submissions, a hub outage with steps
# queued, a suspended participant's steps held back, revocation, and a hub
# that substitutes a participant's key under an existing contract.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my ($hub, $hub_key) = new_hub('a', 'b', 'c');

my %node = (a => new_node($hub, $hub_key, 'a', ''), b => new_node($hub, $hub_key, 'b', ''), c => new_node($hub, $hub_key, 'c', ''));
my ($a, $b, $c) = @node{qw(a b c)};
my %id = map { $_ => $node{$_}->safe_psql('postgres', 'SELECT dataspace.node_id()') } keys %node;

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 3 FROM dataspace.participant}),
	'three nodes registered');
$hub->safe_psql('postgres', "SELECT dataspace.approve_participant(node_id) FROM dataspace.participant");

my $asset = '00000000-0000-4000-8000-0000000008a1';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000008a0', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '00000000-0000-4000-8000-0000000008a0', 'temperature', 'stream', 'public');
});
ok($b->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.hub_catalog WHERE asset_id = '$asset') = 1
   AND (SELECT count(*) FROM dataspace.participant WHERE status = 'approved') = 3}),
	'node b caches the catalog and the participants');
ok($a->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM dataspace.participant WHERE status = 'approved'}),
	'node a caches the participants');

# an offer from a to b, accepted by b; a agrees, b verifies, a finalizes
my $k1 = $a->safe_psql('postgres', qq{
SELECT dataspace.offer_contract('$id{b}', '{$asset}', '{"max_age": "P30D"}', now() + interval '1 year')});
ok($hub->poll_query_until('postgres', qq{SELECT state = 'OFFERED' FROM dataspace.contract WHERE id = '$k1'}),
	'the offer reaches the hub');
ok($b->poll_query_until('postgres', qq{SELECT state = 'OFFERED' FROM dataspace.contract WHERE id = '$k1'}),
	'and node b');
is($b->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k1')}), 'ACCEPTED', 'node b accepts');
ok($a->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'}),
	'node a verifies the acceptance and agrees, node b verifies the agreement, node a finalizes');
ok($b->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'}),
	'node b sees the contract active');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'}),
	'and so does the hub');
my $pk_a = $a->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
my $pk_b = $b->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
for my $n ([ 'a', $a ], [ 'b', $b ])
{
	is($n->[1]->safe_psql('postgres', qq{
SELECT (provider_key_id = sha256('\\x$pk_a') AND consumer_key_id = sha256('\\x$pk_b')
        AND encode(provider_public_key, 'hex') = '$pk_a' AND encode(consumer_public_key, 'hex') = '$pk_b')
       || ' ' || dataspace.contract_allows('$k1', '$asset', now())
       || ' ' || dataspace.contract_allows('$k1', '$asset', now() - interval '31 days')
       || ' ' || split_part(dataspace.explain_policy('$k1'::uuid, '$asset', now()), E'\\n', 2)
  FROM dataspace.contract WHERE id = '$k1'}),
		'true true false signatures: provider and consumer signatures and the last step verify',
		"node $n->[0]: both fingerprints pinned, signatures verified, the policy applies");
}
is($hub->safe_psql('postgres', qq{SELECT string_agg(step, ',' ORDER BY step_no) FROM dataspace.contract_step
  WHERE contract_id = '$k1'}), 'offer,accept,agree,verify,finalize', 'the hub holds every step');
ok($a->poll_query_until('postgres', qq{
SELECT bool_and(delivered_at IS NOT NULL) FROM dataspace.contract_step WHERE contract_id = '$k1' AND local}),
	'node a\'s outbox is delivered');

# a request from b, accepted by a
my $k2 = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$asset}', '{}', now() + interval '1 year')});
ok($a->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k2'}),
	'the request reaches node a');
is($a->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k2')}), 'AGREED', 'node a accepts');
ok($a->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k2'}),
	'node b verifies the agreement, node a finalizes');
ok($b->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k2'}),
	'node b sees it active');

# at the hub, a participant reads its own contracts only
is($hub->safe_psql('postgres', q{SELECT count(*) || ' ' || (SELECT count(*) FROM dataspace.contract_step)
  FROM dataspace.contract}, extra_params => [ '-U', 'node_c' ]), '0 0',
	'node c reads no contract of others at the hub');
is($hub->safe_psql('postgres', q{SELECT count(*) FROM dataspace.contract}, extra_params => [ '-U', 'node_b' ]),
	'2', 'node b reads its two');

# forged and replayed steps
my ($msg, $sig) = split / /, $hub->safe_psql('postgres', qq{
SELECT encode(submission, 'hex') || ' ' || encode(signature, 'hex') FROM dataspace.hub_submission
 WHERE node_id = '$id{b}' AND kind = 'contract_step' ORDER BY id LIMIT 1});
my $submit = sub {
	my ($role, $m, $s) = @_;
	return $hub->safe_psql('postgres', qq{
SELECT accepted || ': ' || coalesce(reason, '') FROM dataspace.hub_submit('\\x$m', '\\x$s')},
		extra_params => [ '-U', $role ]);
};
like($submit->('node_c', $msg, $sig), qr/^false: submission is made out for participant $id{b}/,
	'node c cannot submit b\'s step');
like($submit->('node_b', $msg, $sig), qr/^false: replayed submission/, 'b\'s step cannot be replayed');
my $steps = $hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.contract_step');

# hub outage: a suspends k2 locally, the step waits and is delivered later
$hub->stop;
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k2', 'maintenance')}), 'suspended',
	'node a suspends while the hub is down');
ok($a->poll_query_until('postgres', q{SELECT last_error IS NOT NULL FROM dataspace.hub_status}),
	'the outage is seen');
is($a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.contract_step
  WHERE contract_id = '$k2' AND local AND delivered_at IS NULL}), '1', 'the step is queued');
is($b->safe_psql('postgres', qq{SELECT dataspace.contract_allows('$k2', '$asset', now())}), 't',
	'node b still sees it active');
$hub->start;
ok($b->poll_query_until('postgres', qq{SELECT state = 'suspended' FROM dataspace.contract WHERE id = '$k2'}),
	'after the outage the suspension reaches node b');
is($hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.contract_step'), $steps + 1,
	'the hub recorded no forged or replayed step');

# a suspended participant's steps are held back; revoked once approved again
$hub->safe_psql('postgres', qq{SELECT dataspace.suspend_participant('$id{a}', 'audit')});
ok($a->poll_query_until('postgres', q{SELECT participant_status = 'suspended' FROM dataspace.hub_status}),
	'node a learns it is suspended');
is($a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k1', 'audit finding')}), 'revoked',
	'node a revokes locally');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
$a->poll_query_until('postgres', q{SELECT last_attempt > now() - interval '1 second' FROM dataspace.hub_status});
is($hub->safe_psql('postgres', qq{SELECT state FROM dataspace.contract WHERE id = '$k1'}), 'active',
	'the hub takes no step from a suspended participant');
$hub->safe_psql('postgres', qq{SELECT dataspace.approve_participant('$id{a}')});
ok($b->poll_query_until('postgres', qq{SELECT state = 'revoked' AND reason = 'audit finding'
  FROM dataspace.contract WHERE id = '$k1'}), 'approved again, the revocation reaches node b');
is($b->safe_psql('postgres', qq{SELECT dataspace.contract_allows('$k1', '$asset', now())}), 'f',
	'and node b is allowed nothing more');

# the hub substitutes b's key: both nodes notice, the pinned key stays
my $pk_c = $c->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
$hub->safe_psql('postgres', qq{UPDATE dataspace.participant SET public_key = '\\x$pk_c' WHERE node_id = '$id{b}'});
ok($a->poll_query_until('postgres', qq{
SELECT alarm LIKE 'the hub shows participant $id{b} with key % not the key the contract pins%'
  FROM dataspace.contract WHERE id = '$k2'}), 'node a detects the substituted key');
ok($b->poll_query_until('postgres', qq{
SELECT alarm LIKE 'the hub shows participant $id{b} (this node) with key %'
  FROM dataspace.contract WHERE id = '$k2'}), 'node b detects it too');
is($a->safe_psql('postgres', qq{SELECT encode(consumer_public_key, 'hex') FROM dataspace.contract WHERE id = '$k2'}),
	$pk_b, 'node a keeps the pinned key');
ok($a->log_contains(qr/WARNING:  contract $k2: the hub shows participant $id{b}/), 'and reports it in the log');

$_->stop for ($a, $b, $c, $hub);
done_testing();
