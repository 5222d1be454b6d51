# The workers (sealer, hub sync) never block statements that need their
# database to themselves: DROP DATABASE, CREATE DATABASE ... TEMPLATE,
# ALTER DATABASE ... RENAME.  PostgreSQL 15 gives up after about five
# seconds when a background worker stays connected, so these statements
# succeed only if the workers are stopped first.  Afterwards they come
# back by themselves.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'nodedb'
dataspace.sealer_naptime = '200ms'
dataspace.hub = 'hostaddr=127.0.0.1 port=1 dbname=hub connect_timeout=1'
dataspace.sync_interval = '500ms'
});
$node->start;

my $sealer_in = sub {
	my $db = shift;
	return $node->poll_query_until('postgres', qq{
SELECT count(*) = 2 FROM pg_stat_activity
 WHERE backend_type IN ('pg_dataspace sealer', 'pg_dataspace hub sync') AND datname = '$db'});
};

my $setup = q{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 'temperature', 'stream');
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', now(), i FROM generate_series(1, 10) i;
};
my $sealed = q{SELECT count(*) = 0 FROM dataspace.pending_batch};

$node->safe_psql('postgres', 'CREATE DATABASE nodedb');
$node->restart;
$node->safe_psql('nodedb', $setup);
ok($sealer_in->('nodedb'), 'sealer and hub sync connected to nodedb');
ok($node->poll_query_until('nodedb', $sealed), 'sealer sealed the points');

# a copy of the node database while the sealer works in it
my ($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE nodecopy TEMPLATE nodedb');
is($rc, 0, 'CREATE DATABASE ... TEMPLATE of the sealer\'s database succeeds');
is($err, '', '... without a warning');
ok($sealer_in->('nodedb'), 'sealer is back in nodedb after the copy');

# renaming it away and back
($rc, $out, $err) = $node->psql('postgres', 'ALTER DATABASE nodedb RENAME TO nodedb_old');
is($rc, 0, 'ALTER DATABASE ... RENAME of the sealer\'s database succeeds');
($rc, $out, $err) = $node->psql('postgres', 'ALTER DATABASE nodedb_old RENAME TO nodedb');
is($rc, 0, 'renaming it back succeeds');
ok($sealer_in->('nodedb'), 'sealer is back in nodedb after the rename');

# dropping it
my $log_offset = -s $node->logfile;
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE nodedb');
is($rc, 0, 'DROP DATABASE of the sealer\'s database succeeds');
like($err, qr/^$/, 'DROP DATABASE gives no error');
$node->safe_psql('postgres', 'SELECT pg_sleep(0.5)');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity
 WHERE backend_type IN ('pg_dataspace sealer', 'pg_dataspace hub sync') AND datname IS NOT NULL}),
	'0', 'no worker connected while its database does not exist');
ok($node->wait_for_log(qr/sealer waits: database "nodedb" was dropped or renamed/, $log_offset),
	'the restarted sealer says why it waits');
ok($node->wait_for_log(qr/hub sync waits: database "nodedb" was dropped or renamed/, $log_offset),
	'so does the hub-sync worker');
ok(!$node->log_contains(qr/FATAL:  database "nodedb" does not exist/, $log_offset),
	'the sealer does not try to connect to the dropped database');

# a new database of the same name brings the sealer back
$node->safe_psql('postgres', 'CREATE DATABASE nodedb');
$node->safe_psql('nodedb', $setup);
ok($sealer_in->('nodedb'), 'sealer connected to the new nodedb');
ok($node->poll_query_until('nodedb', $sealed), 'and seals its points');
is($node->safe_psql('nodedb', q{
SELECT bool_and(ok) FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1')}),
	't', 'the new database verifies');

# the copy is a database of its own, untouched by the sealer
is($node->safe_psql('nodecopy', 'SELECT count(*) FROM dataspace.point'), '10',
	'the copy holds the points');

# terminated, the sealer comes back by itself
my $old_pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)");
ok($node->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataspace sealer'
   AND pid <> $old_pid AND datname = 'nodedb'}),
	'a terminated sealer comes back');

$node->stop;
done_testing();
