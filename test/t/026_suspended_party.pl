# Contract steps while the other party is suspended at the hub.  A step
# that only takes rights away (suspend, revoke, reject) goes through
# whatever the other party's standing: a provider can stop the contracts
# of a participant the hub suspended.  A step that grants something
# (resume) waits at the node, neither sent nor refused, while the node's
# cache shows the other party suspended, and goes once the hub approves
# that party again, signed again under a new key if this node rotated
# meanwhile.  The suspended party then learns every step.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReplicationSetup;

my ($hub, $a, $b, $ids) = two_nodes();
my %id = %$ids;

my $asset = '00000000-0000-4000-8000-0000000260a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000026001', $asset);
my $k1 = agree_contract($b, $a, $id{a}, $asset, '{}');
my $k2 = agree_contract($b, $a, $id{a}, $asset, '{}');

sub hub_state
{
	my ($contract, $want) = @_;
	return $hub->poll_query_until('postgres',
		"SELECT state = '$want' FROM dataspace.contract WHERE id = '$contract'");
}

# wait for two more completed rounds of the provider's hub-sync worker
sub two_rounds
{
	my $before = $a->safe_psql('postgres', 'SELECT last_success FROM dataspace.hub_sync_state');
	$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
	$a->poll_query_until('postgres', "SELECT last_success > '$before' FROM dataspace.hub_sync_state")
	  or return 0;
	$before = $a->safe_psql('postgres', 'SELECT last_success FROM dataspace.hub_sync_state');
	$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
	return $a->poll_query_until('postgres', "SELECT last_success > '$before' FROM dataspace.hub_sync_state");
}

$hub->safe_psql('postgres', "SELECT dataspace.suspend_participant('$id{b}', 'under investigation')");
ok($a->poll_query_until('postgres', "SELECT status = 'suspended' FROM dataspace.participant WHERE node_id = '$id{b}'"),
	'the provider learns that the hub suspended the consumer');

# steps that take rights away go through
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k1', 'consumer under investigation')}),
	'suspended', 'the provider suspends one contract');
is($a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k2', 'consumer under investigation')}),
	'revoked', 'and revokes the other');
ok(hub_state($k1, 'suspended'), 'the hub takes the suspension');
ok(hub_state($k2, 'revoked'), 'and the revocation');

# a step that grants something waits
is($a->safe_psql('postgres', qq{SELECT dataspace.resume_contract('$k1')}), 'active', 'the provider resumes');
ok(two_rounds(), 'two rounds of the provider\'s worker pass');
is($a->safe_psql('postgres', qq{
SELECT format('%s %s', delivered_at IS NULL, delivery_error IS NULL) FROM dataspace.contract_step
 WHERE contract_id = '$k1' AND step = 'resume'}), 't t', 'the resumption waits, neither sent nor refused');
is($hub->safe_psql('postgres', "SELECT state FROM dataspace.contract WHERE id = '$k1'"), 'suspended',
	'the hub still has the contract suspended');
is($hub->safe_psql('postgres', "SELECT count(*) FROM dataspace.hub_refusal WHERE role_name = 'node_a'"), '0',
	'the hub refused nothing of the provider');

# the hub approves the consumer again: the resumption goes, and the
# consumer learns all three steps
$hub->safe_psql('postgres', "SELECT dataspace.approve_participant('$id{b}')");
ok(hub_state($k1, 'active'), 'the resumption reaches the hub once the consumer is approved again');
ok($b->poll_query_until('postgres', qq{
SELECT (SELECT state FROM dataspace.contract WHERE id = '$k1') = 'active'
   AND (SELECT state FROM dataspace.contract WHERE id = '$k2') = 'revoked'}),
	'the consumer follows: one contract active again, the other revoked');
is($b->safe_psql('postgres', qq{
SELECT string_agg(step, ' ' ORDER BY step_no) FROM dataspace.contract_step WHERE contract_id = '$k1' AND step_no > 4}),
	'suspend resume', 'it holds the suspension and the resumption');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.contract_step WHERE local AND (delivered_at IS NULL OR delivery_error IS NOT NULL)}),
	'0', 'every step of the provider was delivered, none refused');

# A granting step that waits across a rotation of the provider's key: the
# hub takes steps under the registered key only, so once it has the
# rotation the waiting step is signed again under the new key, and goes
# when the consumer is approved again.
$hub->safe_psql('postgres', "SELECT dataspace.suspend_participant('$id{b}', 'second investigation')");
ok($a->poll_query_until('postgres', "SELECT status = 'suspended' FROM dataspace.participant WHERE node_id = '$id{b}'"),
	'the provider learns of the second suspension');
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k1', 'again')}), 'suspended',
	'the provider suspends the contract again');
ok(hub_state($k1, 'suspended'), 'the hub takes it');
is($a->safe_psql('postgres', qq{SELECT dataspace.resume_contract('$k1')}), 'active', 'the provider resumes');
my $ka = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$ka' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'then rotates its key, and the hub takes the rotation');
ok(two_rounds(), 'two more rounds of the provider\'s worker pass');
is($a->safe_psql('postgres', qq{
SELECT string_agg(format('%s %s %s %s', step, reissue_of IS NOT NULL, superseded_at IS NOT NULL,
                         position(decode('$ka', 'hex') IN message) > 0), ', ' ORDER BY seq)
  FROM dataspace.contract_step WHERE contract_id = '$k1' AND step_no = 8}),
	'resume f t f, resume t f t',
	'the waiting resumption is signed again under the new key, the first one superseded');
$hub->safe_psql('postgres', "SELECT dataspace.approve_participant('$id{b}')");
ok(hub_state($k1, 'active'), 'it reaches the hub once the consumer is approved again');
ok($b->poll_query_until('postgres', "SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'"),
	'and the consumer');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.contract_step WHERE delivery_error IS NOT NULL}), '0',
	'nothing of the provider was refused');

done_testing();
