# A hub that relays a party's step under a new key but withholds the
# rotation that announced the key.  The receiving node keeps such a step
# for a few rounds of its participant cache, since the hub may have taken
# the rotation and the step after this round cached the participants.
# Then it checks the step with the cache as it is: the step is refused,
# the contract's alarm says why, and the steps after it are not held up.
#
# The withholding is made by hand at the hub: the consumer rotates and
# revokes a contract while the provider is cut off from the hub, then the
# hub's registry is put back to the consumer's old key (the consumer is
# cut off too, or it would announce its rotation again).
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

my $asset = '00000000-0000-4000-8000-0000000290a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000029001', $asset);
my $k1 = agree_contract($b, $a, $id{a}, $asset, '{}');
my $k2 = agree_contract($b, $a, $id{a}, $asset, '{}');

sub cut_off
{
	my ($name) = @_;
	$hub->safe_psql('postgres', qq{
ALTER ROLE node_$name NOLOGIN;
SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity WHERE usename = 'node_$name';});
	ok($hub->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'node_$name'"),
		"node $name is cut off from the hub");
	return;
}

cut_off('a');
my $kb1 = $b->safe_psql('postgres', q{SELECT encode(sha256(public_key), 'hex') FROM dataspace.node_info()});
my $kb2 = $b->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$b->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$kb2' FROM dataspace.participant WHERE node_id = '$id{b}'}),
	'the hub takes the consumer\'s rotation');
is($b->safe_psql('postgres', "SELECT dataspace.revoke_contract('$k1', 'no longer needed')"), 'revoked',
	'the consumer revokes a contract under its new key');
ok($hub->poll_query_until('postgres', "SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k1'"),
	'the hub takes the revocation');

cut_off('b');
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.participant p SET key_id = k.key_id, public_key = k.public_key
  FROM dataspace.participant_key k
 WHERE p.node_id = '$id{b}' AND k.node_id = p.node_id AND k.position = 1;
DELETE FROM dataspace.participant_key WHERE node_id = '$id{b}' AND position = 2;});
is($hub->safe_psql('postgres', "SELECT encode(key_id, 'hex') FROM dataspace.participant WHERE node_id = '$id{b}'"),
	$kb1, 'the hub now shows the consumer\'s old key, and no rotation');

$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', qq{
SELECT alarm ~ '^refused step \\d+ from the hub: key $kb2 is not in the checked key chain of participant $id{b} after the key the contract pins\$'
  FROM dataspace.contract WHERE id = '$k1'}),
	'after a few rounds the provider refuses the revocation, and the alarm says why');
my @waits = slurp_file($a->logfile) =~ /LOG:  step \d+ of contract $k1 from the hub waits for the participant cache \(round (\d) of 3\)/g;
is(join(',', @waits), '1,2,3', 'the revocation waited three rounds of the participant cache first');
is($a->safe_psql('postgres', "SELECT state FROM dataspace.contract WHERE id = '$k1'"), 'active',
	'the contract stays active at the provider');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.audit_log WHERE event = 'contract.step_refused' AND subject = '$k1'}),
	'1', 'the refusal is in the audit log once');

is($a->safe_psql('postgres', "SELECT dataspace.suspend_contract('$k2', 'checking')"), 'suspended',
	'the provider suspends the other contract');
ok($a->poll_query_until('postgres', qq{
SELECT hub_seq IS NOT NULL FROM dataspace.contract_step WHERE contract_id = '$k2' AND step = 'suspend'}),
	'its step comes back from the hub: the steps after the refused one are not held up');

done_testing();
