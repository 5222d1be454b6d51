# The node identity under concurrent first use, and the key file.
#
# Two sessions that both need the identity before it exists (the first
# asset insert calls dataspace.node_id()) serialise on the identity lock.
# At READ COMMITTED the second then sees the identity the first created
# and uses it; at REPEATABLE READ its snapshot predates the identity, so
# it gets a serialization failure with a hint to retry, never a unique
# violation, and the retry uses the same identity.
#
# The key file: an empty dataspace.key_file and a file that is not a
# pg_dataspace key file are refused with a detail and a hint.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;

my $twin = '00000000-0000-4000-8000-000000000001';
foreach my $db ('rc', 'rr')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'press');
});
}

# Session 1 creates the identity and holds its transaction open; session 2,
# whose snapshot is older, inserts an asset, which needs the identity and
# waits for session 1.  Returns session 2's stderr and session 2.
sub race
{
	my ($db, $isolation) = @_;

	my $s1 = $node->background_psql($db);
	my $s2 = $node->background_psql($db, on_error_stop => 0);
	$s1->query_safe("BEGIN ISOLATION LEVEL $isolation");
	$s2->query_safe("BEGIN ISOLATION LEVEL $isolation");
	$s2->query_safe('SELECT count(*) FROM dataspace.node');    # take the snapshot now
	$s1->query_safe('SELECT dataspace.node_id()');
	$s2->query_until(qr/sent/, qq{\\echo sent
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('$twin', 'temperature', 'stream');
});
	ok($node->poll_query_until($db, qq{
SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = '$db'}),
		"$isolation: the second session waits for the identity lock");
	$s1->query_safe('COMMIT');
	$s1->quit;
	$s2->query('COMMIT');
	return ($s2->{stderr}, $s2);
}

my ($err, $s2) = race('rc', 'READ COMMITTED');
is($err, '', 'READ COMMITTED: the second session uses the identity the first created');
$s2->quit;
is($node->safe_psql('rc', q{
SELECT count(*) FROM dataspace.node n JOIN dataspace.asset a ON a.node_id = n.node_id}),
	'1', 'READ COMMITTED: one identity, and the asset belongs to it');

($err, $s2) = race('rr', 'REPEATABLE READ');
like($err, qr/could not serialize access due to concurrent creation of the node identity/,
	'REPEATABLE READ: the second session gets a serialization failure');
like($err, qr/HINT:  Retry the transaction/, 'REPEATABLE READ: with a hint to retry');
unlike($err, qr/duplicate key|unique constraint/, 'REPEATABLE READ: no unique violation');
$s2->quit;
$node->safe_psql('rr', qq{
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('$twin', 'temperature', 'stream');
COMMIT;
});
is($node->safe_psql('rr', q{
SELECT count(*) FROM dataspace.node n JOIN dataspace.asset a ON a.node_id = n.node_id}),
	'1', 'REPEATABLE READ: the retry uses the one identity');

# init_node races the same way
$node->safe_psql('postgres', 'CREATE DATABASE rr2');
$node->safe_psql('rr2', 'CREATE EXTENSION pg_dataspace');
{
	my $s1 = $node->background_psql('rr2');
	my $s3 = $node->background_psql('rr2', on_error_stop => 0);
	$s1->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$s3->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$s3->query_safe('SELECT count(*) FROM dataspace.node');
	$s1->query_safe(q{SELECT dataspace.init_node('plant-a')});
	$s3->query_until(qr/sent/, qq{\\echo sent
SELECT dataspace.init_node('plant-a');
});
	ok($node->poll_query_until('rr2', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'rr2'}),
		'init_node: the second call waits');
	$s1->query_safe('COMMIT');
	$s1->quit;
	$s3->query('COMMIT');
	like($s3->{stderr}, qr/could not serialize access due to concurrent creation of the node identity/,
		'init_node at REPEATABLE READ: a serialization failure, not a unique violation');
	$s3->quit;
}
is($node->safe_psql('rr2', q{SELECT dataspace.init_node('plant-a') = node_id FROM dataspace.node}),
	't', 'init_node: a retry returns the identity');

# the key file
sub set_key_file
{
	my ($value) = @_;

	$node->append_conf('postgresql.conf', "dataspace.key_file = '$value'");
	$node->reload;
	ok($node->poll_query_until('rc',
			"SELECT current_setting('dataspace.key_file', true) = '$value'"),
		"dataspace.key_file is '$value'");
}

my ($ret, $stdout, $stderr);
set_key_file('');
($ret, $stdout, $stderr) = $node->psql('rc', 'SELECT dataspace.rotate_node_key()');
like($stderr, qr/ERROR:  dataspace.key_file is not set/, 'an empty key_file is refused');
like($stderr, qr/DETAIL:  .*\nHINT:  Set dataspace.key_file in postgresql.conf/,
	'with a detail and a hint');

my $bad = $node->data_dir . '/bad.key';
open(my $fh, '>', $bad) or die "could not write $bad: $!";
print $fh "not a key\n";
close($fh);
chmod(0600, $bad);
set_key_file('bad.key');
($ret, $stdout, $stderr) = $node->psql('rc', 'SELECT dataspace.rotate_node_key()');
like($stderr, qr/ERROR:  key file ".*bad\.key" is not a pg_dataspace key file/,
	'a file that is no key file is refused');
like($stderr, qr/DETAIL:  A pg_dataspace key file holds 40 bytes/, 'with a detail');

set_key_file('pg_dataspace.key');
is($node->safe_psql('rc', 'SELECT length(dataspace.rotate_node_key())'), '32',
	'the node signs again with its key file');

$node->stop;
done_testing();
