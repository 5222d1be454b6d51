# The asset check of a point locks the asset's row (KEY SHARE), as a
# foreign key would, so an asset and its points cannot part:
#
# - a DELETE of the asset waits for a writer whose points are not committed
#   yet, then is refused (the asset has points) or, if the writer rolled
#   back, goes through;
# - a writer waits for an uncommitted DELETE of its asset, then is refused
#   (READ COMMITTED: the asset does not exist; REPEATABLE READ: a
#   serialization failure) or, if the DELETE rolled back, writes;
# - an UPDATE of an asset's description does not block a writer.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
my $twin = '00000000-0000-4000-8000-000000021000';
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'press');
});

my $n = 0;
sub new_asset
{
	my $id = sprintf('00000000-0000-4000-8000-0000000210%02d', ++$n);
	$node->safe_psql('postgres', qq{
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES ('$id', '$twin', 'asset $n', 'stream')});
	return $id;
}
sub insert_point
{
	my ($asset) = @_;
	return "INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', now(), 1);";
}
sub waits_for_lock
{
	my ($what) = @_;
	ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'}), $what);
}
sub points_of
{
	my ($asset) = @_;
	return $node->safe_psql('postgres', "SELECT count(*) FROM dataspace.point WHERE asset_id = '$asset'");
}

# a DELETE waits for the uncommitted points, then sees them
foreach my $end ('COMMIT', 'ROLLBACK')
{
	my $asset = new_asset();
	my $writer = $node->background_psql('postgres');
	my $deleter = $node->background_psql('postgres', on_error_stop => 0);
	$writer->query_safe('BEGIN');
	$writer->query_safe(insert_point($asset));
	$deleter->query_until(qr/sent/, qq{\\echo sent
DELETE FROM dataspace.asset WHERE id = '$asset';
});
	waits_for_lock("$end: the DELETE of the asset waits for the writer");
	$writer->query_safe($end);
	$writer->quit;
	$deleter->query('SELECT 1');
	if ($end eq 'COMMIT')
	{
		like($deleter->{stderr}, qr/cannot delete asset "asset \d+": it has/,
			'COMMIT: then the DELETE is refused, the asset has points');
		is(points_of($asset), '1', 'COMMIT: the asset keeps its point');
	}
	else
	{
		is($deleter->{stderr}, '', 'ROLLBACK: then the DELETE goes through');
		is($node->safe_psql('postgres', "SELECT count(*) FROM dataspace.asset WHERE id = '$asset'"),
			'0', 'ROLLBACK: the asset is gone');
	}
	$deleter->quit;
}

# a writer waits for an uncommitted DELETE of its asset
foreach my $case ([ 'READ COMMITTED', 'COMMIT', qr/asset \S+ does not exist/ ],
	[ 'REPEATABLE READ', 'COMMIT', qr/could not serialize access due to concurrent (update|delete)/ ],
	[ 'READ COMMITTED', 'ROLLBACK', undef ],
	[ 'REPEATABLE READ', 'ROLLBACK', undef ])
{
	my ($isolation, $end, $refusal) = @$case;
	my $asset = new_asset();
	my $deleter = $node->background_psql('postgres');
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	$writer->query_safe("BEGIN ISOLATION LEVEL $isolation");
	$writer->query_safe('SELECT count(*) FROM dataspace.twin');    # take the snapshot now
	$deleter->query_safe('BEGIN');
	$deleter->query_safe("DELETE FROM dataspace.asset WHERE id = '$asset'");
	$writer->query_until(qr/sent/, "\\echo sent\n" . insert_point($asset) . "\n");
	waits_for_lock("$isolation, $end: the writer waits for the DELETE of its asset");
	$deleter->query_safe($end);
	$deleter->quit;
	$writer->query('COMMIT');
	if ($refusal)
	{
		like($writer->{stderr}, $refusal, "$isolation, $end: then the writer is refused");
	}
	else
	{
		is($writer->{stderr}, '', "$isolation, $end: then the writer writes");
		is(points_of($asset), '1', "$isolation, $end: and its point is there");
	}
	$writer->quit;
}

# an UPDATE of the asset's description takes no lock that a writer's KEY
# SHARE conflicts with
{
	my $asset = new_asset();
	my $editor = $node->background_psql('postgres');
	$editor->query_safe('BEGIN');
	$editor->query_safe("UPDATE dataspace.asset SET description = 'edited' WHERE id = '$asset'");
	my ($ret, $out, $err) = $node->psql('postgres', insert_point($asset),
		extra_params => [ '-c', 'SET lock_timeout = 5000' ]);
	is($ret . $err, '0', 'a writer is not blocked by an uncommitted edit of its asset');
	$editor->query_safe('COMMIT');
	$editor->quit;
	is(points_of($asset), '1', 'and its point is there');
}

done_testing();
