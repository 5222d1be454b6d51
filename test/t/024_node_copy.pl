# Two running copies of one node, caught by the hub.
#
# A physical copy of a node (a base backup started on its own) keeps the
# database system identifier, the database OID and the key file, so the
# node cannot tell it from the original.  Each hub-sync worker draws a
# random instance when it starts and names it in every submission: a
# restarted node sends a new instance and never an old one again.  Here
# the node restarts (not a copy), then a base backup of it starts and
# submits, then the original submits again: the hub refuses that
# submission, keeps the three signed submissions as evidence, suspends
# the participant and says why, and the nodes learn it.  The original
# learns it in the middle of a round: it then leaves its caches alone and
# keeps the contract step of that round waiting instead of refused.  Recovery as
# docs/operations.md describes it: the copy stops, the operator approves
# the participant again, the node takes a new key; the copy, started
# again, finds that the hub knows the node by a key it lacks, submits
# nothing and suspends nobody.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReplicationSetup;

my ($hub, $hub_key) = new_hub('a', 'b');
# streaming allowed, for the base backup
my $a = new_node($hub, $hub_key, 'a', "wal_level = replica\nmax_wal_senders = 2");
my $b = new_node($hub, $hub_key, 'b', '');
approve_all($hub, $a, $b);
my $id = $a->safe_psql('postgres', 'SELECT node_id FROM dataspace.node_info()');

my $asset = '00000000-0000-4000-8000-0000000000a1';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility)
VALUES ('$asset', '00000000-0000-4000-8000-000000000001', 'temperature', 'stream', 'public');
});

# insert a point on $node and wait until the hub holds one more accepted
# submission of the participant than before
my $t = 0;
sub point_reaches_hub
{
	my ($node) = @_;
	my $before = $hub->safe_psql('postgres',
		"SELECT count(*) FROM dataspace.hub_submission WHERE node_id = '$id' AND kind = 'anchor'");
	$t++;
	$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('$asset', timestamptz '2026-01-01 00:00:00+00' + interval '$t s', $t)});
	return $hub->poll_query_until('postgres',
		"SELECT count(*) > $before FROM dataspace.hub_submission WHERE node_id = '$id' AND kind = 'anchor'");
}

sub instances
{
	return $hub->safe_psql('postgres',
		"SELECT count(DISTINCT instance) FROM dataspace.hub_submission WHERE node_id = '$id'");
}

ok(point_reaches_hub($a), 'the node anchors its public asset');
ok($b->poll_query_until('postgres', "SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '$asset'"),
	'the asset is in the catalog');
my $k = agree_contract($b, $a, $id, $asset, '{}');
is(instances(), '1', 'one instance has submitted');

# a restart draws a new instance: not a copy
$a->restart;
ok(point_reaches_hub($a), 'the restarted node anchors again');
is(instances(), '2', 'the restarted node submits as a new instance');
is($hub->safe_psql('postgres', qq{
SELECT status || ' ' || (SELECT count(*) FROM dataspace.hub_instance_conflict)
  FROM dataspace.participant WHERE node_id = '$id'}),
	'approved 0', 'a restart is not taken for a copy');

# a base backup of the node, started on its own, submits first
$a->backup('copy');
my $copy = PostgreSQL::Test::Cluster->new('copy');
$copy->init_from_backup($a, 'copy');
chmod 0600, $copy->data_dir . '/pg_dataspace.key';    # the test's copy of the backup loses the mode
$copy->start;
is($copy->safe_psql('postgres', 'SELECT node_id FROM dataspace.node_info()'), $id,
	'the copy has the node\'s identity');
ok(point_reaches_hub($copy), 'the copy anchors its own seal, as a third instance');
is(instances(), '3', 'three instances have submitted');

# Then the original submits again, an anchor and a contract step in one
# round: the hub logins of the node are stopped for a moment, so that the
# new seal and the revocation both wait for the same round.
$hub->safe_psql('postgres', q{
ALTER ROLE node_a NOLOGIN;
SELECT count(pg_terminate_backend(pid)) >= 0 FROM pg_stat_activity WHERE usename = 'node_a';});
ok($hub->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE usename = 'node_a'"),
	'the node and its copy are cut off from the hub for a moment');
$t++;
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('$asset', timestamptz '2026-01-01 00:00:00+00' + interval '$t s', $t);
SELECT dataspace.seal_pending();
SELECT dataspace.revoke_contract('$k', 'end of project');});
my $catalog = $a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_catalog');
$hub->safe_psql('postgres', 'ALTER ROLE node_a LOGIN');
ok($hub->poll_query_until('postgres', 'SELECT count(*) >= 1 FROM dataspace.hub_instance_conflict'),
	'the hub records the original returning after the copy');
like($hub->safe_psql('postgres', qq{
SELECT status || ': ' || suspension_reason FROM dataspace.participant WHERE node_id = '$id'}),
	qr/^suspended: instance [0-9a-f]{32} of participant $id submitted again after instance [0-9a-f]{32} took over: two copies of this node are running$/,
	'the participant is suspended, and the reason says why');
like($hub->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.hub_refusal WHERE claimed_node_id = '$id'}),
	qr/two copies of this node are running/, 'the refusal is recorded');
ok($hub->log_contains(qr/WARNING:  participant $id runs as two copies/), 'and logged as a warning');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', q{SELECT participant_status = 'suspended' FROM dataspace.hub_status}),
	'the node learns it in that round');
is($a->safe_psql('postgres', qq{
SELECT (SELECT string_agg(status, ',') FROM dataspace.participant WHERE node_id <> '$id') || ' ' ||
       (SELECT count(*) FROM dataspace.hub_catalog) || ' ' ||
       (SELECT delivered_at IS NULL AND delivery_error IS NULL FROM dataspace.contract_step
         WHERE contract_id = '$k' AND local ORDER BY step_no DESC LIMIT 1)}),
	"approved $catalog true",
	'what the hub shows a suspended node replaces no cache, and the revocation waits, not refused');
is($a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.witness_fork'), '0',
	'nor is the empty log a suspended node is shown taken for a fork');

# The evidence: three submissions, each signed by the participant's key,
# whose instance fields (bytes 75 to 90: after the frame, hub id, node id,
# counter and time) read A, B, A and whose counters grow.
my $row = $hub->safe_psql('postgres', q{
SELECT encode(instance, 'hex'), encode(other_instance, 'hex'),
       encode(substring(earlier_submission from 75 for 16), 'hex'),
       encode(substring(other_submission from 75 for 16), 'hex'),
       encode(substring(submission from 75 for 16), 'hex'),
       ('x' || encode(substring(earlier_submission from 51 for 8), 'hex'))::bit(64)::bigint
         < ('x' || encode(substring(other_submission from 51 for 8), 'hex'))::bit(64)::bigint,
       ('x' || encode(substring(other_submission from 51 for 8), 'hex'))::bit(64)::bigint
         < ('x' || encode(substring(submission from 51 for 8), 'hex'))::bit(64)::bigint
  FROM dataspace.hub_instance_conflict ORDER BY id LIMIT 1});
my ($inst, $other, $i1, $i2, $i3, $c12, $c23) = split /\|/, $row;
isnt($inst, $other, 'two different instances');
is("$i1 $i2 $i3", "$inst $other $inst", 'the submissions name instance A, then B, then A again');
is("$c12 $c23", 't t', 'in growing counter order');

# The same returning submission sent again (a refused one leaves the
# counter where it was) is refused again without another conflict row: the
# evidence of one pair of instances is kept once.
my $before = $hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_instance_conflict');
my $pair = $hub->safe_psql('postgres', q{
SELECT format('%L::bytea, %L::bytea', submission, signature) FROM dataspace.hub_instance_conflict ORDER BY id LIMIT 1});
like($hub->safe_psql('postgres', "SELECT accepted || ' ' || reason FROM dataspace.hub_submit($pair)",
		extra_params => [ '-U', 'node_a' ]),
	qr/^false .*two copies of this node are running$/, 'the same submission sent again is refused again');
is($hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_instance_conflict'), $before,
	'and adds no conflict row');

my $dir = PostgreSQL::Test::Utils::tempdir;
my $pk = $hub->safe_psql('postgres',
	"SELECT encode(public_key, 'hex') FROM dataspace.participant WHERE node_id = '$id'");
open my $pem, '>', "$dir/pk.der" or die;
binmode $pem;
print $pem pack('H*', '302a300506032b6570032100' . $pk);
close $pem;
foreach my $which ('earlier_', 'other_', '')
{
	foreach my $part ('submission', 'signature')
	{
		my $hex = $hub->safe_psql('postgres',
			"SELECT encode(${which}$part, 'hex') FROM dataspace.hub_instance_conflict ORDER BY id LIMIT 1");
		open my $fh, '>', "$dir/$which$part" or die;
		binmode $fh;
		print $fh pack('H*', $hex);
		close $fh;
	}
	my ($stdout, $stderr);
	IPC::Run::run([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-keyform', 'DER',
			'-inkey', "$dir/pk.der", '-rawin', '-in', "$dir/${which}submission",
			'-sigfile', "$dir/${which}signature" ], '>', \$stdout, '2>', \$stderr);
	like($stdout, qr/Signature Verified Successfully/,
		"the ${which}submission verifies under the participant's key (openssl)");
}

my ($rc, $out, $err) = $hub->psql('postgres', 'DELETE FROM dataspace.hub_instance_conflict');
like($err, qr/cannot change dataspace\.hub_instance_conflict|refuse|not allowed|append-only/i,
	'the evidence cannot be deleted');

# both copies learn it
foreach my $node ($a, $copy)
{
	$node->safe_psql('postgres', 'SELECT dataspace.sync_now()');
	ok($node->poll_query_until('postgres', q{
SELECT participant_status = 'suspended' AND suspension_reason LIKE '%two copies of this node are running'
  FROM dataspace.hub_status}), $node->name . ' shows the suspension and its reason');
}
ok($a->log_contains(qr/WARNING:  the hub refused an anchor .*two copies of this node are running/),
	'the returning node logs the refusal');
ok($a->log_contains(qr/WARNING:  the hub has suspended this node/), 'and the suspension');

my $conflicts = $hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_instance_conflict');

# recovery: the copy stops, the operator approves again, the node rekeys
$copy->stop;
$hub->safe_psql('postgres', "SELECT dataspace.approve_participant('$id')");
ok($b->poll_query_until('postgres', qq{SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k'}),
	'the revocation that waited reaches the consumer once the node is approved');
$a->safe_psql('postgres', 'SELECT dataspace.rotate_node_key()');
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($hub->poll_query_until('postgres', qq{
SELECT p.key_id = k.key_id FROM dataspace.participant p, dataspace.participant_key k
 WHERE p.node_id = '$id' AND k.node_id = p.node_id AND k.position = 2}),
	'the node announces its new key to the hub');
ok(point_reaches_hub($a), 'the node anchors again once approved');

$copy->start;
$t++;
$copy->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('$asset', timestamptz '2026-01-01 00:00:00+00' + interval '$t s', $t)});
$copy->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($copy->poll_query_until('postgres', q{
SELECT last_error ~ '^the hub knows this node by key [0-9a-f]{64}, which is not a key of this node$'
  FROM dataspace.hub_status}),
	'the copy, which lacks the new key, stops before it submits anything');
is($hub->safe_psql('postgres', qq{
SELECT status || ' ' || (SELECT count(*) = $conflicts FROM dataspace.hub_instance_conflict)
  FROM dataspace.participant WHERE node_id = '$id'}),
	'approved true', 'and suspends nobody');
ok(point_reaches_hub($a), 'the node goes on anchoring');

$copy->stop;
$a->stop;
$b->stop;
$hub->stop;
done_testing();
