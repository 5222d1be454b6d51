# The background sealer: seals right after commit, honours per-asset
# batching, keeps going past a damaged asset, comes back when terminated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'postgres'
dataspace.sealer_naptime = '200ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 'temperature', 'stream');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_min_points, seal_max_delay) VALUES
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000001', 'pressure', 'stream',
   50, '2 seconds');
});
is($node->safe_psql('postgres', 'SHOW dataspace.mode'), 'node', 'default mode is node');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'"),
	'sealer is running');

# committed points are sealed without anyone calling seal_pending()
$node->safe_psql('postgres', q{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', now(), i FROM generate_series(1, 100) i;
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM dataspace.pending_batch"), 'sealer emptied the queue');
is($node->safe_psql('postgres', q{
SELECT sum(point_count) FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'100', 'all 100 points sealed');

# batching: fewer than seal_min_points wait for seal_max_delay
$node->safe_psql('postgres', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', now(), 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', now(), 2);
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM dataspace.pending_batch"), 'small batches taken from the queue');
is($node->safe_psql('postgres', q{SELECT sum(points) FROM dataspace.pending_run}), '2',
	'two points held back for batching');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 AND sum(point_count) = 2 FROM dataspace.seal
 WHERE asset_id = '00000000-0000-4000-8000-0000000000a2'}), 'held points sealed in one seal after the delay');

# a damaged chain head stops that asset only
$node->safe_psql('postgres', q{
SET session_replication_role = replica;
UPDATE dataspace.seal SET merkle_root = '\x00' WHERE asset_id = '00000000-0000-4000-8000-0000000000a2';
});
$node->safe_psql('postgres', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', now(), 3);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT a, now(), 4 FROM unnest(ARRAY['00000000-0000-4000-8000-0000000000a1'::uuid,
                                     '00000000-0000-4000-8000-0000000000a2'::uuid]) a;
});
ok($node->poll_query_until('postgres', q{
SELECT sum(point_count) = 101 FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'healthy asset still sealed');
ok($node->wait_for_log(qr/could not seal asset 00000000-0000-4000-8000-0000000000a2/),
	'damaged asset logged');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.point p WHERE p.asset_id = '00000000-0000-4000-8000-0000000000a2'
   AND p.batch_id IN (SELECT batch_id FROM dataspace.pending_batch UNION SELECT batch_id FROM dataspace.pending_run)}),
	'2', 'its new points stay pending');

# terminated, the sealer comes back and carries on
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer' AND pid <> $pid"),
	'sealer restarted');
$node->safe_psql('postgres', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', now(), 5);
});
ok($node->poll_query_until('postgres', q{
SELECT sum(point_count) = 102 FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'restarted sealer seals');
is($node->safe_psql('postgres', q{
SELECT bool_and(ok) FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1')}), 't',
	'everything it sealed verifies');

$node->stop;
done_testing();
