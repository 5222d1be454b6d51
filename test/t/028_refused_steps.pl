# A node's own contract steps that the hub refuses.  The node caches the
# participants at the start of each round, so the hub can suspend the other
# party of a contract after the node's cache showed it approved, and then
# refuse a granting step for that.  The step is not at fault: the node
# caches the participants again, finds the other party suspended, and the
# step waits, neither sent nor refused, until the hub approves that party
# again.  A refusal the node cannot explain so is recorded on the step and
# raises the contract's alarm, and holds back the contract's later steps.
#
# Both refusals are made to happen between the provider's caching of the
# participants and its sending of the step: the provider is cut off from
# the hub while it accepts, and when it connects again, its round stops at
# the catalog, which the test holds locked at the hub.  Meanwhile the hub
# suspends the consumer, or (standing for a hub that went wrong) the
# contract is moved on at the hub behind the provider's back.
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

my $asset = '00000000-0000-4000-8000-0000000280a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000028001', $asset);

# The provider accepts contract $k while cut off from the hub; $meanwhile
# runs while its next round waits between the participants and the steps.
sub accept_between_cache_and_push
{
	my ($k, $meanwhile) = @_;
	$hub->safe_psql('postgres', q{
ALTER ROLE node_a NOLOGIN;
SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity WHERE usename = 'node_a';});
	ok($hub->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'node_a'"),
		'the provider is cut off from the hub');
	is($a->safe_psql('postgres', "SELECT dataspace.accept_contract('$k')"), 'AGREED', 'the provider accepts');
	my $locker = $hub->background_psql('postgres');
	$locker->query_safe('BEGIN');
	$locker->query_safe('LOCK TABLE dataspace.hub_catalog IN ACCESS EXCLUSIVE MODE');
	$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
	$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
	ok($hub->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE usename = 'node_a' AND wait_event_type = 'Lock' AND query LIKE '%FROM dataspace.hub_catalog%'}),
		'its next round has cached the participants and waits for the catalog');
	$meanwhile->();
	$locker->query_safe('COMMIT');
	$locker->quit;
	return;
}

sub requested
{
	my $k = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$asset}', '{}', now() + interval '1 year')});
	ok($a->poll_query_until('postgres', "SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k'"),
		'a request reaches the provider');
	return $k;
}

# the provider's acceptance of $k, as it stands at the provider
sub acceptance
{
	my $k = shift;
	return $a->safe_psql('postgres', qq{
SELECT format('%s %s', CASE WHEN delivery_error IS NOT NULL THEN 'refused'
							WHEN delivered_at IS NOT NULL THEN 'delivered' ELSE 'waiting' END,
			  delivery_error)
  FROM dataspace.contract_step WHERE contract_id = '$k' AND step = 'accept' AND superseded_at IS NULL});
}

# 1. The consumer is suspended after the provider's cache showed it approved.
my $k1 = requested();
accept_between_cache_and_push(
	$k1,
	sub {
		$hub->safe_psql('postgres', "SELECT dataspace.suspend_participant('$id{b}', 'under investigation')");
	});
ok($hub->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.hub_refusal WHERE role_name = 'node_a' AND kind = 'contract_step'
   AND reason = 'the contract''s consumer $id{b} is suspended'}),
	'the hub refuses the acceptance: the consumer is suspended');
ok($a->poll_query_until('postgres', "SELECT status = 'suspended' FROM dataspace.participant WHERE node_id = '$id{b}'"),
	'the provider caches the participants again and finds the consumer suspended');
is(acceptance($k1), 'waiting ', 'the acceptance waits, neither delivered nor refused');
is($a->safe_psql('postgres', q{SELECT steps_waiting, oldest_step_waiting IS NOT NULL FROM dataspace.hub_status}),
	'1|t', 'hub_status counts it');
is($a->safe_psql('postgres', "SELECT alarm IS NULL FROM dataspace.contract WHERE id = '$k1'"), 't',
	'and raises no alarm');
$hub->safe_psql('postgres', "SELECT dataspace.approve_participant('$id{b}')");
ok($hub->poll_query_until('postgres', "SELECT state <> 'REQUESTED' FROM dataspace.contract WHERE id = '$k1'"),
	'once the consumer is approved again, the hub takes the acceptance');
ok($b->poll_query_until('postgres', "SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'"),
	'and the contract is active at the consumer');
is(acceptance($k1), 'delivered ', 'the provider has its acceptance delivered');
is($a->safe_psql('postgres', q{SELECT steps_waiting, oldest_step_waiting IS NULL FROM dataspace.hub_status}),
	'0|t', 'and hub_status counts nothing waiting');

# 2. The hub refuses for a reason the node cannot account for: the
# contract was moved on at the hub behind the provider's back.
my $k2 = requested();
accept_between_cache_and_push(
	$k2,
	sub {
		$hub->safe_psql('postgres', "UPDATE dataspace.contract SET state = 'TERMINATED' WHERE id = '$k2'");
	});
my $why = "the provider may not accept contract $k2 in state TERMINATED";
ok($a->poll_query_until('postgres', qq{
SELECT alarm = 'the hub refused this node''s step 2: $why' FROM dataspace.contract WHERE id = '$k2'}),
	'the hub refuses it, and the contract\'s alarm says so');
is(acceptance($k2), "refused $why", 'the refusal is recorded on the step');
is($a->safe_psql('postgres', "SELECT dataspace.reject_contract('$k2', 'no longer wanted')"), 'TERMINATED',
	'the provider rejects the contract after all');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', qq{
SELECT last_success > (SELECT created_at FROM dataspace.contract_step WHERE contract_id = '$k2' AND step = 'reject')
  FROM dataspace.hub_sync_state}), 'a round of the provider\'s worker passes');
is($a->safe_psql('postgres', qq{
SELECT format('%s %s', delivered_at IS NULL, delivery_error IS NULL) FROM dataspace.contract_step
 WHERE contract_id = '$k2' AND step = 'reject'}), 't t',
	'the refused step holds back the rejection after it');
is($hub->safe_psql('postgres', "SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k2'"), '1',
	'the hub holds the request only');
is($a->safe_psql('postgres', "SELECT count(*) FROM dataspace.contract WHERE alarm IS NOT NULL"), '1',
	'only that contract has an alarm');
is($a->safe_psql('postgres', q{SELECT steps_waiting FROM dataspace.hub_status}), '2',
	'hub_status counts the refused step and the one behind it');

done_testing();
