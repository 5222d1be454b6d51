# A hub showing different nodes different logs (a split view) is caught
# by the nodes themselves: a provider and a consumer hand each other their
# newest signed tree head over the replication connection and have the hub
# prove them consistent with their own.  First an honest hub: every head
# exchanged is proven consistent and nothing is flagged.  Then the hub's
# cluster is copied (same key, same log) and the consumer is pointed at the
# copy: the two branches grow apart, each node sees a log consistent with
# itself, and the exchange exposes the fork on both nodes (witness_fork,
# verify_anchor "log forked").  The consumer's branch grows first, then
# the provider's while the consumer's own head stands still: the consumer
# learns the provider's new head only because the provider notifies it.  A head handed in by hand (check_tree_head)
# is judged the same way; a forged one is refused.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my ($hub, $hub_key) = new_hub('a', 'b');
my $a = new_node($hub, $hub_key, 'a', tls_settings($tmp));
my $b = new_node($hub, $hub_key, 'b', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'));
export_logins($a, $id{a}, $tmp, [ 'b', $b ]);

approve_all($hub, $a, $b);

# each node has a public asset, so each anchors its seal chain at the hub
my $asset = '00000000-0000-4000-8000-000000016a01';
my $own_b = '00000000-0000-4000-8000-000000016b01';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000016a00', 'mill');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '00000000-0000-4000-8000-000000016a00', 'speed', 'stream', 'public');
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-01'::timestamptz + g * interval '1 s', g FROM generate_series(1, 100) g;
SELECT dataspace.seal_pending();
});
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000016b00', 'kiln');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$own_b', '00000000-0000-4000-8000-000000016b00', 'heat', 'stream', 'public');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$own_b', '2024-01-01', 1);
SELECT dataspace.seal_pending();
});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE provider_id = '$id{a}'}),
	'node b finds the asset in the catalog');

agree_contract($b, $a, $id{a}, $asset, '{}');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 100 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the stream runs');

# an honest hub: the heads the nodes exchange are proven consistent
ok($a->poll_query_until('postgres', qq{
SELECT count(*) > 0 AND bool_and(consistent) FROM dataspace.peer_tree_head
 WHERE peer_id = '$id{b}' AND consistent IS NOT NULL}),
	'node a checked a head node b showed it');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) > 0 AND bool_and(consistent) FROM dataspace.peer_tree_head
 WHERE peer_id = '$id{a}' AND consistent IS NOT NULL}),
	'node b checked a head node a showed it');
# more anchors on both sides while the hub is honest: still nothing flagged
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-01-02', 1);
SELECT dataspace.seal_pending();});
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$own_b', '2024-01-02', 1);
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 101 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the stream goes on');
ok($a->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM dataspace.peer_tree_head WHERE consistent IS NULL}),
	'node a decided every head it was shown');
ok($b->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM dataspace.peer_tree_head WHERE consistent IS NULL}),
	'node b decided every head it was shown');
for my $n ([ 'a', $a ], [ 'b', $b ])
{
	is($n->[1]->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM dataspace.witness_fork) || ' '
    || (SELECT count(*) FILTER (WHERE NOT consistent) FROM dataspace.peer_tree_head)}),
		'0 0', "an honest hub: no fork at node $n->[0]");
}
ok($a->poll_query_until('postgres', qq{
SELECT string_agg(DISTINCT coalesce(ok::text, 'null') || ' ' || reason, ',') FROM dataspace.verify_anchor('$asset')},
	'true ok'), 'verify_anchor holds at node a');

# a head handed in by hand: b's newest, checked at a; a forged one is refused
my ($msg, $sig) = split /\|/, $b->safe_psql('postgres', q{
SELECT encode(message, 'hex'), encode(signature, 'hex') FROM dataspace.hub_tree_head
 ORDER BY tree_size DESC LIMIT 1});
ok($a->poll_query_until('postgres', qq{
SELECT consistent FROM dataspace.check_tree_head(decode('$msg', 'hex'), decode('$sig', 'hex'))}),
	'a head given by hand is judged consistent');
my $forged = substr($sig, 0, 10) . (substr($sig, 10, 1) eq '0' ? '1' : '0') . substr($sig, 11);
my ($rc, $out, $err) = $a->psql('postgres', qq{
SELECT * FROM dataspace.check_tree_head(decode('$msg', 'hex'), decode('$forged', 'hex'))});
like($err, qr/its signature does not verify under the pinned hub key/, 'a head with a forged signature is refused');

# trimming decided heads as docs/operations.md does: a head shown again is
# kept and decided again
is($a->safe_psql('postgres', q{
DELETE FROM dataspace.peer_tree_head WHERE consistent AND checked_at <= now();
SELECT count(*) FROM dataspace.peer_tree_head WHERE consistent}), '0', 'a\'s decided consistent heads trimmed');
ok($a->poll_query_until('postgres', qq{
SELECT consistent FROM dataspace.check_tree_head(decode('$msg', 'hex'), decode('$sig', 'hex'))}),
	'the head given again is kept and judged consistent again');
is($a->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.peer_tree_head WHERE message = decode('$msg', 'hex') AND consistent}), '1',
	'once');

# the split: the hub's cluster copied with its key and log; b is sent to
# the copy, a stays with the original
$hub->stop;
$hub->backup_fs_cold('split');
my $hub2 = PostgreSQL::Test::Cluster->new('hub2');
$hub2->init_from_backup($hub, 'split');
# the file copy does not keep modes; the hub refuses a key file others can read
chmod 0600, $hub2->data_dir . '/pg_dataspace.key' or die;
$hub->start;
$hub2->start;
is($hub2->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()}),
	$hub_key, 'the copy signs with the hub\'s key');
my $before = $hub->safe_psql('postgres', 'SELECT max(tree_size) FROM dataspace.witness_tree_head');
$b->append_conf('postgresql.conf', 'dataspace.hub = \'host=' . $hub2->host . ' port=' . $hub2->port
	  . " dbname=postgres user=node_b'\n");
# a restart, not a reload: after a reload b's hub-sync worker could still
# anchor b's next seal at the original hub before it rereads the setting
$b->restart;

# both branches grow: b anchors at the copy first, and a learns b's new
# head over the replication connection
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$own_b', '2024-01-03', 1);
SELECT dataspace.seal_pending();});
ok($hub2->poll_query_until('postgres', "SELECT max(tree_size) > $before FROM dataspace.witness_tree_head"),
	'the copy\'s log grows');
ok($b->poll_query_until('postgres', qq{SELECT max(tree_size) > $before FROM dataspace.hub_tree_head}),
	'node b caches heads of the copy without complaint');
ok($a->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.witness_fork WHERE peer_id = '$id{b}'}),
	'node a finds that node b was shown another log')
  or diag($a->safe_psql('postgres', 'SELECT * FROM dataspace.peer_tree_head'));

# then a anchors at the hub.  b's own head stays where it was: b learns
# a's new head because a tells its consumers that its head moved.
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-01-03', 1);
SELECT dataspace.seal_pending();});
ok($hub->poll_query_until('postgres', "SELECT max(tree_size) > $before FROM dataspace.witness_tree_head"),
	'the hub\'s log grows');
ok($b->poll_query_until('postgres', qq{
SELECT count(*) > 0 FROM dataspace.witness_fork WHERE peer_id = '$id{a}'}),
	'node b finds that node a was shown another log')
  or diag($b->safe_psql('postgres', 'SELECT * FROM dataspace.peer_tree_head'));
like($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT reason, ',') FROM dataspace.witness_fork WHERE peer_id = '$id{b}'}),
	qr/the hub (cannot prove it a prefix of this node's log|signed two roots for the same tree size|signed a larger log for another node than it shows this node)/,
	'the evidence says what the hub could not prove');
is($a->safe_psql('postgres', qq{
SELECT count(*) >= 1 FROM dataspace.peer_tree_head WHERE peer_id = '$id{b}' AND NOT consistent}), 't',
	'the inconsistent head is kept, signed by the hub');
is($a->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT coalesce(ok::text, 'null') || ' ' || reason, ',') FROM dataspace.verify_anchor('$asset')}),
	'false log forked', 'verify_anchor at node a reports the fork');
is($b->safe_psql('postgres', qq{
SELECT string_agg(DISTINCT coalesce(ok::text, 'null') || ' ' || reason, ',') FROM dataspace.verify_anchor('$own_b')}),
	'false log forked', 'and so does verify_anchor at node b');
like(slurp_file($a->logfile), qr/WARNING:  the hub showed node $id{b} an anchor log that is not the one it shows this node/,
	'node a warns in its log');

# a head of the copy handed to a by hand is caught as well
($msg, $sig) = split /\|/, $hub2->safe_psql('postgres', q{
SELECT encode(message, 'hex'), encode(signature, 'hex') FROM dataspace.witness_tree_head
 ORDER BY tree_size DESC LIMIT 1});
$hub2->stop;
ok($a->poll_query_until('postgres', qq{
SELECT consistent IS FALSE FROM dataspace.check_tree_head(decode('$msg', 'hex'), decode('$sig', 'hex'))}),
	'a head of the other branch given by hand is judged inconsistent');
is($a->safe_psql('postgres', qq{
SELECT NOT consistent FROM dataspace.peer_tree_head WHERE message = decode('$msg', 'hex')}), 't',
	'and kept as evidence (once, whoever showed it first)');

done_testing();
