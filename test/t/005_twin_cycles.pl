# Twin parent cycles are refused also when two sessions re-parent at once:
# each would be fine alone, together they would close a cycle.  The second
# session waits for the first; at READ COMMITTED it then sees the committed
# parent and refuses the cycle, at REPEATABLE READ it gets a serialization
# failure.  Either way the tree stays a tree.  The server does not preload
# the library: the SQL features work without it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES
  ('00000000-0000-4000-8000-00000000000a', 'a'),
  ('00000000-0000-4000-8000-00000000000b', 'b'),
  ('00000000-0000-4000-8000-00000000000c', 'c');
});

my $A = '00000000-0000-4000-8000-00000000000a';
my $B = '00000000-0000-4000-8000-00000000000b';
my $C = '00000000-0000-4000-8000-00000000000c';

my $no_cycle = q{
WITH RECURSIVE up(id, parent_id, depth) AS (
  SELECT id, parent_id, 0 FROM dataspace.twin
  UNION ALL
  SELECT up.id, t.parent_id, up.depth + 1 FROM up JOIN dataspace.twin t ON t.id = up.parent_id
   WHERE up.depth < 10)
SELECT count(*) = 0 FROM up WHERE parent_id = id};

# Session 1 runs $first and holds its transaction open; session 2 runs
# $second, which waits, then commits after session 1.  Returns session 2's
# errors.
sub race
{
	my ($isolation, $setup, $first, $second) = @_;

	$node->safe_psql('postgres', "UPDATE dataspace.twin SET parent_id = NULL; $setup");
	my $s1 = $node->background_psql('postgres');
	my $s2 = $node->background_psql('postgres', on_error_stop => 0);
	$s1->query_safe("BEGIN ISOLATION LEVEL $isolation");
	$s2->query_safe("BEGIN ISOLATION LEVEL $isolation");
	$s2->query_safe('SELECT count(*) FROM dataspace.twin');    # take the snapshot now
	$s1->query_safe($first);
	$s2->query_until(qr/sent/, "\\echo sent\n$second;\n");
	ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'postgres'}),
		"$isolation: the second re-parenting waits for the first");
	$s1->query_safe('COMMIT');
	my ($out, $failed) = $s2->query('COMMIT');
	my $err = $s2->{stderr};
	$s1->quit;
	$s2->quit;
	return $err;
}

my $err = race('READ COMMITTED', '',
	"UPDATE dataspace.twin SET parent_id = '$B' WHERE id = '$A'",
	"UPDATE dataspace.twin SET parent_id = '$A' WHERE id = '$B'");
like($err, qr/twin "b" cannot be its own ancestor/,
	'READ COMMITTED: the second session sees the committed parent and refuses the cycle');
is($node->safe_psql('postgres', $no_cycle), 't', 'READ COMMITTED: no cycle stored');

$err = race('REPEATABLE READ', '',
	"UPDATE dataspace.twin SET parent_id = '$B' WHERE id = '$A'",
	"UPDATE dataspace.twin SET parent_id = '$A' WHERE id = '$B'");
like($err, qr/could not serialize access|cannot be its own ancestor/,
	'REPEATABLE READ: the second session fails');
is($node->safe_psql('postgres', $no_cycle), 't', 'REPEATABLE READ: no cycle stored');

# a longer cycle through a third twin: c -> a -> b, then b -> c
$err = race('READ COMMITTED',
	"UPDATE dataspace.twin SET parent_id = '$A' WHERE id = '$C'",
	"UPDATE dataspace.twin SET parent_id = '$B' WHERE id = '$A'",
	"UPDATE dataspace.twin SET parent_id = '$C' WHERE id = '$B'");
like($err, qr/twin "b" cannot be its own ancestor/,
	'a three-twin cycle closed concurrently is refused');
is($node->safe_psql('postgres', $no_cycle), 't', 'no three-twin cycle stored');

$node->stop;
done_testing();
