# The contract term max_points_per_day, where data leaves the provider:
# whole seals go out while they fit in the day's volume (UTC), the rest
# waits for the next day, and the provider counts what it sent.  (Each
# export_batch also locks the day's count and reads it as last committed,
# against a consumer spending the volume twice from two sessions or in
# one statement; a test cannot open such a session by hand, as no SQL
# function signs the answer to the provider's challenge.)
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

my $asset = '00000000-0000-4000-8000-0000000310a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000031001', $asset);
my $k = agree_contract($b, $a, $id{a}, $asset, '{"max_points_per_day": 250}');

# three seals of 100 points
for my $batch (1 .. 3)
{
	$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', now() - interval '1 hour' + $batch * interval '1 min' + g * interval '1 ms', g
  FROM generate_series(1, 100) g;
SELECT dataspace.seal_pending();});
}
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 200 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'two whole seals reach the consumer');
is($a->safe_psql('postgres', qq{
SELECT points FROM dataspace.export_volume WHERE contract_id = '$k'}), '200',
	'the provider counts the 200 points it sent today');
# a few more rounds of the consumer's worker
$b->safe_psql('postgres', 'SELECT pg_sleep(3)');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}), '200',
	'the third seal, which would go past 250, does not leave the provider today');
is($b->safe_psql('postgres', qq{
SELECT lag_points FROM dataspace.subscription WHERE asset_id = '$asset'}), '100',
	'the consumer sees the 100 points it is owed as lag');

# the next day, by the provider's books: the day's count starts again
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.export_volume SET day = day - 1 WHERE contract_id = '$k';});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 300 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'on a new day the third seal goes out');
is($a->safe_psql('postgres', qq{
SELECT string_agg(points::text, ',' ORDER BY day) FROM dataspace.export_volume WHERE contract_id = '$k'}),
	'200,100', 'and is counted on that day');

done_testing();
