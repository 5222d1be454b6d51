# Replication after the consumer rotates its key.  The consumer answers the
# provider's challenge and signs its delivery receipts with its current
# key; the provider accepts the key the contract pins or a later key of the
# consumer's chain as it checked it, current at the time: the stream goes
# on under the existing contract, and every receipt verifies; a session
# opened with the old key gets no more data.  After the
# consumer revokes its old key as compromised since a time, the receipts
# that key signed from then on no longer count, and the earlier ones still
# do.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReplicationSetup;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my ($hub, $a, $b, $ids) = provider_and_consumer($tmp);
my %id = %$ids;

my $asset = '00000000-0000-4000-8000-0000000270a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000027001', $asset);
my $k = agree_contract($b, $a, $id{a}, $asset, '{}');

# one sealed batch of points at the provider, received by the consumer and
# receipted back; returns once the provider holds $receipts receipts
my $batch = 0;
sub deliver
{
	my ($receipts) = @_;
	$batch++;
	$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2026-01-01'::timestamptz + interval '1 hour' * $batch + g * interval '1 ms', g
  FROM generate_series(1, 100) g;
SELECT dataspace.seal_pending();});
	ok($b->poll_query_until('postgres', qq{
SELECT count(*) = $batch * 100 FROM dataspace.received_point WHERE asset_id = '$asset'}),
		"batch $batch reaches the consumer");
	ok($a->poll_query_until('postgres', qq{
SELECT count(*) = $receipts FROM dataspace.delivery_receipt WHERE contract_id = '$k'}),
		"and its receipt reaches the provider");
	return;
}
sub receipts_ok
{
	return $a->safe_psql('postgres', qq{
SELECT string_agg(CASE WHEN ok THEN 'ok' ELSE reason END, ',' ORDER BY receipt_id)
  FROM dataspace.verify_receipts('$k')});
}

deliver(1);
my $t1 = $a->safe_psql('postgres', 'SELECT now()');
deliver(2);

# the consumer rotates: the provider learns the new key through the hub
# (the provider's log from here: the consumer's worker may ask for a batch
# as soon as the provider has the new key, before the next one is sealed)
my $log_offset = -s $a->logfile;
my $kb = $b->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
$b->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$kb' FROM dataspace.participant WHERE node_id = '$id{b}'}),
	'the provider has the consumer\'s new key');
# The consumer's worker still has its session, opened with the old key:
# the provider refuses it the next batch, and the worker authenticates
# again, with the new key.
deliver(3);
like(slurp_file($a->logfile, $log_offset),
	qr/the key that answered this session's challenge no longer signs for the consumer/,
	'the session opened with the old key got no more data');
is($b->safe_psql('postgres', qq{SELECT coalesce(last_error, '') FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'', 'the stream goes on under the existing contract, authenticated again');
is(receipts_ok(), 'ok,ok,ok', 'the receipts under the old and the new key verify');
is($a->safe_psql('postgres', qq{
SELECT count(*) > 1 FROM dataspace.purpose_declaration WHERE contract_id = '$k'}), 't',
	'the provider kept the answers under both keys');

# the consumer revokes its old key as compromised since between the first
# two batches: the second batch's receipt no longer counts
my $old = $b->safe_psql('postgres', q{
SELECT encode(key_id, 'hex') FROM dataspace.node_public_key WHERE retired_at IS NOT NULL});
$b->safe_psql('postgres', qq{SELECT dataspace.revoke_node_key('\\x$old', '$t1', 'stolen')});
$b->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($a->poll_query_until('postgres', qq{
SELECT revoked_at IS NOT NULL FROM dataspace.participant_key
 WHERE node_id = '$id{b}' AND encode(key_id, 'hex') = '$old'}),
	'the revocation reaches the provider');
is(receipts_ok(), 'ok,bad signature,ok',
	'the receipt the old key signed after its compromise no longer verifies; the others do');

done_testing();
