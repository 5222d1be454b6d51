# Seals whose seq ranges interleave, and whose chain order is not the order
# of their first points: a transaction that wrote before and after another
# one committed is sealed after it.  verify_asset meets the seals in seq
# order as it reads the points, and must still report them in chain order,
# each with its own reason.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
my $asset = '00000000-0000-4000-8000-000000022001';
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000022000', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind)
  VALUES ('$asset', '00000000-0000-4000-8000-000000022000', 'pressure', 'stream');
});

sub insert_point
{
	my ($ts, $value) = @_;
	return "INSERT INTO dataspace.point (asset_id, ts, value)"
	  . " VALUES ('$asset', '2026-01-01 00:00:$ts+00', $value);";
}

# A writes seq 1, B writes seq 2 and 3 and is sealed, A writes seq 4 and 5
# and is sealed after B: seal 1 covers seq 2..3, seal 2 seq 1..5.  C writes
# seq 6 and is sealed third.
my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
$a->query_safe(insert_point('01', 1));
$node->safe_psql('postgres', insert_point('02', 2) . insert_point('03', 3)
	  . 'SELECT dataspace.seal_pending();');
$a->query_safe(insert_point('04', 4));
$a->query_safe(insert_point('05', 5));
$a->query_safe('COMMIT');
$a->quit;
$node->safe_psql('postgres', 'SELECT dataspace.seal_pending();');
$node->safe_psql('postgres', insert_point('06', 6) . 'SELECT dataspace.seal_pending();');

is($node->safe_psql('postgres', qq{
SELECT string_agg(format('%s:%s-%s:%s', chain_pos, first_seq - m, last_seq - m, point_count),
                  ' ' ORDER BY chain_pos)
  FROM dataspace.seal, (SELECT min(seq) - 1 AS m FROM dataspace.point) s
 WHERE asset_id = '$asset'}),
	'1:2-3:2 2:1-5:3 3:6-6:1', 'the second seal starts before the first');

# chain_pos:ok:reason of each row of verify_asset, in the order returned
sub verdicts
{
	my ($from, $to) = @_;
	my $args = defined $from ? "'$asset', '$from', '$to'" : "'$asset'";
	return $node->safe_psql('postgres', qq{
SELECT string_agg(format('%s:%s:%s', s.chain_pos, v.ok, v.reason), ' ' ORDER BY v.n)
  FROM dataspace.verify_asset($args) WITH ORDINALITY v (seal_id, ok, reason, n)
  LEFT JOIN dataspace.seal s ON s.id = v.seal_id});
}
sub tamper
{
	my ($sql) = @_;
	$node->safe_psql('postgres', "SET session_replication_role = replica; $sql");
}
sub nth_seq
{
	my ($n) = @_;
	return "(SELECT min(seq) + $n - 1 FROM dataspace.point WHERE asset_id = '$asset')";
}

is(verdicts(), '1:t: 2:t: 3:t:', 'all three verify, in chain order');

# point_proof finds each point's own seal: for seq 1 the first seal by
# last_seq (seq 2..3) is not it, for seq 2 and 3 the seal spanning them
# (seq 1..5) is not it
is($node->safe_psql('postgres', qq{
SELECT string_agg(format('%s:%s:%s', p.seq - m.m, (j -> 'seal' ->> 'chain_pos'),
                         dataspace.verify_proof(j)), ' ' ORDER BY p.seq)
  FROM dataspace.point p, (SELECT min(seq) - 1 AS m FROM dataspace.point) m,
       LATERAL dataspace.point_proof(p.asset_id, p.seq) j
 WHERE p.asset_id = '$asset'}),
	'1:2:t 2:1:t 3:1:t 4:2:t 5:2:t 6:3:t',
	'every point proven by the seal that holds it');
is(verdicts('2026-01-01 00:00:02+00', '2026-01-01 00:00:03+00'), '1:t: 2:t:',
	'an interval inside the second seal reports both seals, in chain order');
is(verdicts('2026-01-01 00:00:06+00', '2026-01-01 00:00:06+00'), '3:t:',
	'an interval of the third seal reports it alone');

my $seq2 = $node->safe_psql('postgres', 'SELECT ' . nth_seq(2));
tamper("UPDATE dataspace.point SET value = 20 WHERE seq = $seq2");
is(verdicts(), '1:f:value changed 2:t: 3:t:',
	'a value of the first seal changed: the first seal is named');
tamper("UPDATE dataspace.point SET value = 2 WHERE seq = $seq2");

my $seq4 = $node->safe_psql('postgres', 'SELECT ' . nth_seq(4));
tamper("UPDATE dataspace.point SET value = 40 WHERE seq = $seq4");
is(verdicts(), '1:t: 2:f:value changed 3:t:',
	'a value of the second seal changed: the second seal is named');
is(verdicts('2026-01-01 00:00:02+00', '2026-01-01 00:00:02+00'), '1:t: 2:f:value changed',
	'and in an interval of the first seal, which the second spans');
tamper("UPDATE dataspace.point SET value = 4 WHERE seq = $seq4");

my $seq1 = $node->safe_psql('postgres', 'SELECT ' . nth_seq(1));
tamper("DELETE FROM dataspace.point WHERE seq = $seq1");
is(verdicts(), '1:t: 2:f:point missing 3:t:',
	'the first point of the second seal deleted: the second seal is named');
tamper("INSERT INTO dataspace.point (asset_id, seq, batch_id, ts, value)"
	  . " SELECT asset_id, $seq1, batch_id, '2026-01-01 00:00:00+00', 1"
	  . " FROM dataspace.point WHERE seq = $seq4");
is(verdicts(), '1:t: 2:f:value changed 3:t:',
	'put back a second early: the second seal no longer matches');
tamper("UPDATE dataspace.point SET ts = ts + interval '1 s' WHERE seq = $seq1");
is(verdicts(), '1:t: 2:t: 3:t:', 'put back as it was: all verify again');

# a point of the first seal moved to the second seal's batch
my $seq3 = $node->safe_psql('postgres', 'SELECT ' . nth_seq(3));
tamper("UPDATE dataspace.point SET batch_id = (SELECT batch_id FROM dataspace.point"
	  . " WHERE seq = $seq4) WHERE seq = $seq3");
is(verdicts(), '1:f:point missing 2:f:point added 3:t:',
	'a point of the first seal moved into the second: one misses it, the other has one too many');

# every seal checked alone agrees
is($node->safe_psql('postgres', qq{
SELECT string_agg(format('%s:%s', chain_pos, dataspace.verify_seal(id)), ' ' ORDER BY chain_pos)
  FROM dataspace.seal WHERE asset_id = '$asset'}),
	'1:f 2:f 3:t', 'verify_seal agrees');

$node->stop;
done_testing();
