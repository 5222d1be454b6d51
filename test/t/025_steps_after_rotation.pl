# Contract steps after a key rotation.  A contract pins both parties' keys;
# after a party rotates, the steps that do not sign the contract (suspend,
# resume, revoke, reject, the automatic ones) are signed with its new key,
# a later key of its announced chain, and the hub, the counterparty and
# contract_allows accept them; a step that signs the contract (accept)
# still needs the pinned key.  The counterparty checks the new key against
# the chain it checked itself: with the key taken out of that chain behind
# the extension's back, the step is refused; with it put back, accepted.
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

my $asset = '00000000-0000-4000-8000-0000000250a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000025001', $asset);
my $k = agree_contract($b, $a, $id{a}, $asset, '{}');
# a second contract, requested and not accepted before the rotation
my $k2 = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$asset}', '{}', now() + interval '1 year')});
ok($a->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k2'}),
	'a second request reaches the provider');

sub state_at
{
	my ($node, $want) = @_;
	return $node->poll_query_until('postgres',
		"SELECT state = '$want' FROM dataspace.contract WHERE id = '$k'");
}
sub state_at_contract
{
	my ($node, $contract, $want) = @_;
	return $node->poll_query_until('postgres',
		"SELECT state = '$want' FROM dataspace.contract WHERE id = '$contract'");
}
sub allows
{
	my ($node) = @_;
	return $node->safe_psql('postgres', qq{
SELECT format('%s %s', dataspace.contract_allows('$k', '$asset', now()),
       dataspace.explain_policy('$k'::uuid, '$asset', now()) NOT LIKE '%does not verify%')});
}
sub cut_off_provider
{
	my ($name) = @_;
	$hub->safe_psql('postgres', q{
ALTER ROLE node_a NOLOGIN;
SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity WHERE usename = 'node_a';});
	ok($hub->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'node_a'"),
		$name);
	return;
}
sub rotate
{
	my ($node, $other) = @_;
	my $kid = $node->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
	$node->safe_psql('postgres', 'SELECT dataspace.sync_now()');
	ok($other->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$kid' FROM dataspace.participant WHERE node_id = '$id{$node->name}'}),
		$node->name . "'s new key reaches " . $other->name);
	return $kid;
}

# the provider rotates, then suspends and resumes the contract
my $ka = rotate($a, $b);
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k', 'maintenance')}), 'suspended',
	'the rotated provider suspends the contract');
ok(state_at($b, 'suspended'), 'the suspension reaches the consumer');
is($hub->safe_psql('postgres', "SELECT state FROM dataspace.contract WHERE id = '$k'"), 'suspended',
	'the hub took the step');
is($b->safe_psql('postgres', qq{
SELECT position(decode('$ka', 'hex') IN message) > 0 FROM dataspace.contract_step
 WHERE contract_id = '$k' AND step_no = (SELECT max(step_no) FROM dataspace.contract_step WHERE contract_id = '$k')}),
	't', 'the step names the provider\'s new key');
is(allows($b), 'f t', 'the consumer\'s contract_allows: suspended, and the contract verifies');
is($a->safe_psql('postgres', qq{SELECT dataspace.resume_contract('$k')}), 'active', 'the provider resumes it');
ok(state_at($b, 'active'), 'the consumer sees it active again');
is(allows($b), 't t', 'and the contract allows again, its last step under the new key');
is(allows($a), 't t', 'the provider agrees');

# a step that signs the contract needs the pinned key
my ($rc, $out, $err) = $a->psql('postgres', qq{SELECT dataspace.accept_contract('$k2')});
like($err, qr/contract $k2 pins another key of this node.*HINT:  To accept is to sign the contract with the key it pins/s,
	'the rotated provider cannot accept a contract requested under its old key');

# the consumer rotates too: the provider's suspension goes through though
# the consumer's pinned key is no longer its registered one
rotate($b, $a);
is($a->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k', 'audit')}), 'suspended',
	'the provider suspends after the consumer rotated');
ok(state_at($b, 'suspended'), 'the suspension reaches the rotated consumer');

# The rotated consumer revokes while the provider is cut off from the hub,
# and the provider is given the step by hand: first with the consumer's new
# key taken out of the chain it checked, then with it put back.
cut_off_provider('the provider is cut off from the hub');
is($b->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k', 'project ended')}), 'revoked',
	'the rotated consumer revokes');
ok($hub->poll_query_until('postgres', "SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k'"),
	'the hub took the revocation');
my $step = $hub->safe_psql('postgres', qq{
SELECT format('%L::bytea, %L::bytea, %L::bytea', c.canonical, s.message, s.signature)
  FROM dataspace.contract c JOIN dataspace.contract_step s ON s.contract_id = c.id
 WHERE c.id = '$k' AND s.step_no = c.last_step_no});
$a->safe_psql('postgres', qq{
CREATE TABLE public.saved_key AS SELECT * FROM dataspace.participant_key WHERE node_id = '$id{b}' AND position = 2;
SET session_replication_role = replica;
DELETE FROM dataspace.participant_key WHERE node_id = '$id{b}' AND position = 2;});
($rc, $out, $err) = $a->psql('postgres', "SELECT dataspace.receive_contract_step($step)");
like($err, qr/contract step refused.*is not in the checked key chain of participant $id{b} after the key the contract pins/s,
	'a step under a key missing from the checked chain is refused');
is($a->safe_psql('postgres', "SELECT state FROM dataspace.contract WHERE id = '$k'"), 'suspended',
	'and not applied');
$a->safe_psql('postgres', q{
SET session_replication_role = replica;
INSERT INTO dataspace.participant_key SELECT * FROM public.saved_key;
DROP TABLE public.saved_key;});
is($a->safe_psql('postgres', "SELECT dataspace.receive_contract_step($step)"), 'revoked',
	'with the key back in the chain, the step is accepted');
is(allows($a), 'f t', 'the provider\'s contract_allows: revoked, and the contract verifies');
$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', qq{
SELECT hub_seq IS NOT NULL FROM dataspace.contract_step
 WHERE contract_id = '$k' AND step_no = (SELECT last_step_no FROM dataspace.contract WHERE id = '$k')}),
	'the provider\'s worker then meets the same step at the hub and keeps it');
is($a->safe_psql('postgres', "SELECT coalesce(alarm, '') FROM dataspace.contract WHERE id = '$k'") =~ /refused/ ? 1 : 0,
	0, 'without an alarm of a refused step');

# A step taken right before a rotation that the hub has not seen yet (a
# revocation after a key theft, then the rotation): the worker sends it
# under the key the hub holds, before it announces the rotation.
my $k3 = agree_contract($b, $a, $id{a}, $asset, '{}');
cut_off_provider('the provider is cut off from the hub again');
is($a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k3', 'key stolen')}), 'revoked',
	'the provider revokes under its current key');
my $ka3 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT (SELECT state FROM dataspace.contract WHERE id = '$k3') = 'revoked'
   AND (SELECT encode(key_id, 'hex') FROM dataspace.participant WHERE node_id = '$id{a}') = '$ka3'}),
	'the hub took the revocation, then the rotation');
ok(state_at_contract($b, $k3, 'revoked'), 'the revocation reaches the consumer');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k3' AND delivery_error IS NOT NULL}),
	'0', 'no step of the provider was refused');

# two rotations while cut off, the step under the key in between: it goes
# out between the two announcements.  The new contract is requested once
# the consumer knows the provider's key (the hub took the revocation above
# before the rotation, so the consumer can see the one without the other).
ok($b->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$ka3' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'the consumer knows the provider\'s key');
my $k4 = agree_contract($b, $a, $id{a}, $asset, '{}');
cut_off_provider('the provider is cut off from the hub a third time');
$a->safe_psql('postgres', 'SELECT dataspace.rotate_node_key()');
is($a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k4', 'key stolen again')}), 'revoked',
	'the provider revokes under the key of its first rotation');
my $ka5 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT (SELECT state FROM dataspace.contract WHERE id = '$k4') = 'revoked'
   AND (SELECT encode(key_id, 'hex') FROM dataspace.participant WHERE node_id = '$id{a}') = '$ka5'}),
	'the hub took both rotations and the revocation between them');
ok(state_at_contract($b, $k4, 'revoked'), 'that revocation reaches the consumer too');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k4' AND delivery_error IS NOT NULL}),
	'0', 'and no step was refused');

# A request made before the consumer learnt of the provider's rotation pins
# the provider's replaced key.  The provider could never accept it, so it
# rejects it at once, under its new key, saying why.
cut_off_provider('the provider is cut off from the hub a fourth time');
my $ka6 = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
my $k5 = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$asset}', '{}', now() + interval '1 year')});
ok($hub->poll_query_until('postgres', "SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k5'"),
	'the hub takes a request that pins the provider\'s key before its rotation');
$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok(state_at_contract($a, $k5, 'TERMINATED'), 'the provider rejects the request');
ok($hub->poll_query_until('postgres', "SELECT state = 'TERMINATED' FROM dataspace.contract WHERE id = '$k5'"),
	'the hub takes the rejection');
ok(state_at_contract($b, $k5, 'TERMINATED'), 'so does the consumer');
like($b->safe_psql('postgres', "SELECT reason FROM dataspace.contract WHERE id = '$k5'"),
	qr/^the contract pins key [0-9a-f]{64} of this node, which it has replaced by key $ka6; make the contract again$/,
	'and it learns why');
ok($a->poll_query_until('postgres', qq{
SELECT string_agg(format('%s %s', step,
		 CASE WHEN NOT local THEN 'received'
			  WHEN delivery_error IS NOT NULL THEN 'refused'
			  WHEN superseded_at IS NOT NULL THEN 'superseded'
			  WHEN delivered_at IS NOT NULL THEN 'delivered'
			  ELSE 'waiting' END), ', ' ORDER BY step_no)
  FROM dataspace.contract_step WHERE contract_id = '$k5'}, 'request received, reject delivered'),
	'the provider holds the request it received and its own rejection, delivered and not refused');

done_testing();
