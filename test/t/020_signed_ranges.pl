# A seal its own signer got wrong: a valid signature over a seq or time
# range its points do not fit.  Only the key's holder can make one, so the
# test signs with the node's own key, read independently of the extension
# (SealForgery.pm).  verify_asset names such a seal 'range not as signed',
# over the whole asset and over an interval that holds one of its points
# (the seal's signed time range leaves that interval out); a point whose
# stored time was moved into an interval names its seal 'value changed'.
# The same for a received seal is in 010_replication.pl.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use SealForgery;

my $asset = '00000000-0000-4000-8000-000000020a01';
my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000020a00', 'rig');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('$asset', '00000000-0000-4000-8000-000000020a00', 'temperature', 'stream', 4);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2026-06-01'::timestamptz + g * interval '1 s', g FROM generate_series(1, 8) g;
SELECT dataspace.seal_pending();
});

my ($first, $last) = split /\|/, $node->safe_psql('postgres', qq{
SELECT min(id), max(id) FROM dataspace.seal WHERE asset_id = '$asset'});
my $original = $node->safe_psql('postgres', qq{
SELECT format('min_ts = %L, max_ts = %L, first_seq = %s, last_seq = %s', min_ts, max_ts, first_seq, last_seq)
  FROM dataspace.seal WHERE id = $last});
my $verdicts = qq{
SELECT string_agg(coalesce(seal_id::text, '-') || ':' || coalesce(reason, ok::text), ' ')
  FROM dataspace.verify_asset('$asset'};
# seal $last as signed, then with its fields changed as $set says, signed anew
sub forge_last
{
	my ($set) = @_;
	forge_seal($node, 'seal', $last, $original, $node);
	forge_seal($node, 'seal', $last, $set, $node);
}
sub verdicts
{
	my ($interval) = @_;
	return $node->safe_psql('postgres', $verdicts . ($interval // '') . ')');
}

is(verdicts(), "$first:true $last:true", 'two seals of four points, both verify');

# the test's signatures are valid ones: re-signing unchanged fields changes nothing
forge_last('max_ts = max_ts');
is(verdicts(), "$first:true $last:true", 'a seal re-signed by the test with its own fields verifies');

forge_last("max_ts = max_ts - interval '1 s'");
is(verdicts(), "$first:true $last:range not as signed",
	'the last point after the signed time range: range not as signed');
is(verdicts(", '2026-06-01 00:00:08+00', '2026-06-01 00:00:08+00'"), "$last:range not as signed",
	'an interval holding only that point names the seal that leaves it out');
is(verdicts(", '2026-06-01 00:00:05+00', '2026-06-01 00:00:06+00'"), "$last:range not as signed",
	'and an interval inside the signed range names it too');
is($node->safe_psql('postgres', "SELECT dataspace.verify_seal($last)"), 'f', 'verify_seal says false');

forge_last("min_ts = min_ts - interval '1 hour'");
is(verdicts(), "$first:true $last:range not as signed",
	'a signed time range wider than the points: range not as signed');

forge_last("last_seq = last_seq + 5");
is(verdicts(), "$first:true $last:range not as signed",
	'a signed seq range past the last point: range not as signed');

forge_last("first_seq = first_seq + 1");
is(verdicts(), "$first:true $last:point missing -:point not sealed",
	'a signed seq range that leaves out a member: point missing, and the point not sealed');

forge_seal($node, 'seal', $last, $original, $node);
is(verdicts(), "$first:true $last:true", 'the seal signed again as it was verifies');

# not the signer: a stored time moved into an interval outside its seal
$node->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.point SET ts = '2026-07-01' WHERE asset_id = '$asset'
   AND seq = (SELECT first_seq FROM dataspace.seal WHERE id = $first)});
is(verdicts(", '2026-07-01', '2026-07-01'"), "$first:value changed",
	'an interval holding a point whose time was moved there names its seal: value changed');
is(verdicts(), "$first:value changed $last:true", 'and so does the whole asset');

done_testing();
