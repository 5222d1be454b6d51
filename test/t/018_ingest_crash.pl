# An immediate stop while points are queued, held back for batching, and
# being written by a transaction that has not committed: after the restart
# the queue holds exactly the committed runs, the uncommitted points are in
# no run and no seal, and everything committed is sealed and verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $held = '00000000-0000-4000-8000-0000000000b1';
my $live = '00000000-0000-4000-8000-0000000000b2';

my $node = PostgreSQL::Test::Cluster->new('ingest_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'postgres'
dataspace.sealer_naptime = '200ms'
});
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
SELECT FROM dataspace.node_info();
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_min_points, seal_max_delay) VALUES
  ('$held', '00000000-0000-4000-8000-000000000001', 'held', 'stream', 1000000, '1 hour');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('$live', '00000000-0000-4000-8000-000000000001', 'live', 'stream');
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'"),
	'sealer is running');

# committed: 1000 points held back for batching, 500 sealed at once
$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 3 = 0 THEN '$live'::uuid ELSE '$held'::uuid END,
       '2026-03-01'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 1500) i;
});
ok($node->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.pending_batch) = 0
   AND (SELECT coalesce(sum(point_count), 0) FROM dataspace.seal WHERE asset_id = '$live') = 500}),
	'the live asset is sealed, the held one claimed and held');
is($node->safe_psql('postgres', qq{
SELECT sum(points) FROM dataspace.pending_run WHERE asset_id = '$held'}), '1000',
	'the held asset\'s 1000 points are one pending run');

# a transaction that wrote 100,000 points into both assets, and their runs
# into the queue, and has not committed
my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/written/, qq{
BEGIN;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 2 = 0 THEN '$live'::uuid ELSE '$held'::uuid END,
       '2026-03-02'::timestamptz + i * interval '1 ms', i
  FROM generate_series(1, 100000) i;
\\echo written
SELECT pg_sleep(600);
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'}),
	'the uncommitted transaction has written its points');
is($node->safe_psql('postgres', q{SELECT count(*) FROM dataspace.pending_batch}), '0',
	'its runs are not visible to anyone else');

# after the restart the sealer serves another database, so that the queue
# can be read as the crash left it
$node->safe_psql('postgres', q{ALTER SYSTEM SET dataspace.database = 'template1'});
$node->stop('immediate');
eval { $bg->quit; };
$node->start;

# after the restart: the committed runs, nothing of the lost transaction
is($node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE asset_id = '$held') || '/' || count(*) FILTER (WHERE asset_id = '$live')
  FROM dataspace.point}), '1000/500', 'the uncommitted points are gone');
is($node->safe_psql('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.pending_batch) || '/' ||
       (SELECT sum(points) FROM dataspace.pending_run WHERE asset_id = '$held') || '/' ||
       (SELECT count(*) FROM dataspace.pending_run WHERE asset_id <> '$held')}), '0/1000/0',
	'the queue holds exactly the committed, held run');

# new points after the restart are queued and sealed as before
$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$live', '2026-03-03'::timestamptz + i * interval '1 s', i FROM generate_series(1, 10) i;
});
is($node->safe_psql('postgres', qq{
SELECT count(*) || '/' || sum(points) FROM dataspace.pending_batch WHERE asset_id = '$live'}), '1/10',
	'a new statement queues one run');
is($node->safe_psql('postgres', q{
SELECT (SELECT min(seq) FROM dataspace.point WHERE ts >= '2026-03-03')
     > (SELECT max(seq) FROM dataspace.point WHERE ts < '2026-03-03')}), 't',
	'seq continues above the points before the crash');
is($node->safe_psql('postgres', q{SELECT dataspace.seal_pending()}), '2',
	'seal_pending() seals the held run and the new one');
is($node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE ok) || '/' || count(*) FILTER (WHERE ok IS NOT TRUE)
  FROM (SELECT * FROM dataspace.verify_asset('$held')
        UNION ALL SELECT * FROM dataspace.verify_asset('$live')) v}), '3/0',
	'every seal verifies, and no point is outside a seal');
is($node->safe_psql('postgres', qq{
SELECT sum(point_count) FROM dataspace.seal}), '1510', 'every committed point is in one seal');

$node->stop;
done_testing();
