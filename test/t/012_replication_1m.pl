# 1,000,000 points replicate completely and verify on the consumer: a
# provider and a consumer under a contract made through a hub (setup as in
# 010_replication.pl, TLS and the export role), 1,000,000 points ingested in
# four statements and sealed at the default seal size, then count, no
# duplicates and every seal verified on the consumer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;
use Time::HiRes qw(time);

# the stream takes a while on a loaded machine
local $PostgreSQL::Test::Utils::timeout_default = 600;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $npoints = 1_000_000;

my ($hub, $hub_key) = new_hub('a', 'b');

my $big = q{
shared_buffers = 256MB
max_wal_size = 4GB
};
my $a = new_node($hub, $hub_key, 'a', $big . tls_settings($tmp));
my $b = new_node($hub, $hub_key, 'b', $big);
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'));

export_logins($a, $id{a}, $tmp, [ 'b', $b ]);

approve_all($hub, $a, $b);

my $twin = '00000000-0000-4000-8000-000000012a00';
my $asset = '00000000-0000-4000-8000-000000012a01';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'line');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '$twin', 'vibration', 'stream', 'public');
});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE provider_id = '$id{a}'}),
	'node b finds the asset in the catalog');
my $k = agree_contract($b, $a, $id{a}, $asset, '{}');

# 1,000,000 points in four statements; the sealer seals them (default
# seal_max_points) while the consumer pulls
my $t0 = time;
for my $part (0 .. 3)
{
	my $from = $part * 250_000 + 1;
	my $to = ($part + 1) * 250_000;
	$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2025-01-01'::timestamptz + g * interval '10 ms', round((50 + 10 * sin(g / 1000.0))::numeric, 4)
  FROM generate_series($from, $to) g});
}
my $t_ingest = time - $t0;
ok($a->poll_query_until('postgres', qq{
SELECT coalesce(sum(point_count), 0) = $npoints FROM dataspace.seal WHERE asset_id = '$asset'}),
	'node a seals all 1,000,000 points');
my $t_sealed = time - $t0;
ok($b->poll_query_until('postgres', qq{
SELECT points_received = $npoints AND lag_points = 0 FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'the subscription at node b shows all 1,000,000 points');
my $t_done = time - $t0;
diag(sprintf('ingest %.1f s, sealed after %.1f s, replicated after %.1f s (%.0f points/s end to end)',
	$t_ingest, $t_sealed, $t_done, $npoints / $t_done));

is($b->safe_psql('postgres', qq{
SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq)
  FROM dataspace.received_point WHERE asset_id = '$asset'}),
	"$npoints $npoints 1 $npoints", '1,000,000 points on node b, no duplicates, none missing');
my $nseals = $a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.seal WHERE asset_id = '$asset'});
is($b->safe_psql('postgres', qq{
SELECT count(*) || ' ' || bool_and(ok) FROM dataspace.verify_asset('$asset')}), "$nseals true",
	'every received seal verifies at node b');
is($b->safe_psql('postgres', qq{
SELECT state || ' ' || coalesce(last_error, '-') FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'running -', 'the stream is still running without error');
diag(sprintf('whole check after %.1f s', time - $t0));

done_testing();
