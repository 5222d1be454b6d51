# drop_points and its locks: sealing goes on while a retention transaction
# is open (they touch different points), and two drop_points of one asset
# take turns, the second seeing what the first dropped and recorded.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
my $asset = '00000000-0000-4000-8000-000000023001';
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000023000', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points)
  VALUES ('$asset', '00000000-0000-4000-8000-000000023000', 'pressure', 'stream', 5);
INSERT INTO dataspace.point (asset_id, ts, value)
  SELECT '$asset', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 min', i
    FROM generate_series(1, 20) i;
SELECT dataspace.seal_pending();
});
my $cutoff = '2026-01-01 00:10:30+00';    # after the second seal

my $first = $node->background_psql('postgres');
$first->query_safe('BEGIN');
is($first->query_safe("SELECT dataspace.drop_points('$asset', '$cutoff')"), '10',
	'a retention transaction drops the first two seals\' points');

# the sealer lock is not held: new points of the same asset are sealed
is($node->safe_psql('postgres', qq{
SET statement_timeout = '30s';
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2026-01-01 01:00:00+00', 1);
SELECT dataspace.seal_pending();}), '1',
	'while it is open, a new point of the asset is sealed without waiting');

# a second drop_points of the asset waits for the first
my $second = $node->background_psql('postgres');
$second->query_until(qr/sent/, qq{\\echo sent
SELECT 'dropped ' || dataspace.drop_points('$asset', '$cutoff');
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'}),
	'a second drop_points of the asset waits');
$first->query_safe('COMMIT');
$first->quit;
like($second->query('SELECT 1'), qr/dropped 0/,
	'then it finds nothing left to drop');
$second->quit;
is($node->safe_psql('postgres', qq{
SELECT string_agg(through_chain_pos || ':' || points_dropped, ' ')
  FROM dataspace.retention WHERE asset_id = '$asset'}),
	'2:10', 'and makes no second record');
is($node->safe_psql('postgres', qq{
SELECT string_agg(coalesce(reason, 'ok'), ' ' ORDER BY s.chain_pos)
  FROM dataspace.verify_asset('$asset') v JOIN dataspace.seal s ON s.id = v.seal_id}),
	'points dropped points dropped ok ok ok', 'the chain verifies');

$node->stop;
done_testing();
