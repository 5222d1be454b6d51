# A provider that notifies its consumers in a loop.  The consumer's
# replication worker wakes on the provider's notifications (new seals, a
# new tree head), but the provider decides when to send them: a worker
# that began a round on every one would spin, asking for batches as fast
# as the connection allows.  After a round that found nothing the next
# begins a tenth of a second later at the soonest, so a flood costs the
# consumer at most ten rounds a second, and the stream goes on.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ReplicationSetup;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my ($hub, $a, $b, $ids) = provider_and_consumer($tmp);
my %id = %$ids;

my $asset = '00000000-0000-4000-8000-0000000300a1';
public_asset($a, $b, '00000000-0000-4000-8000-000000030001', $asset);
agree_contract($b, $a, $id{a}, $asset, '{}');

sub deliver
{
	my ($batch) = @_;
	$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2026-01-01'::timestamptz + interval '1 hour' * $batch + g * interval '1 ms', g
  FROM generate_series(1, 100) g;
SELECT dataspace.seal_pending();});
	return $b->poll_query_until('postgres', qq{
SELECT count(*) = $batch * 100 FROM dataspace.received_point WHERE asset_id = '$asset'});
}
ok(deliver(1), 'the stream runs');

# three seconds of notifications, each in a transaction of its own (one
# transaction delivers a notification once), with payloads the consumer
# acts on and one it does not know
my $offset = -s $a->logfile;
my $sent = $a->safe_psql('postgres', q{
SET synchronous_commit = off;
CREATE TEMP TABLE flood (n int);
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
	n int := 0;
BEGIN
	WHILE clock_timestamp() < t0 + interval '3 s' LOOP
		n := n + 1;
		PERFORM pg_notify('dataspace_sealed', (ARRAY['', 'tree head', 'x' || n])[n % 3 + 1]);
		COMMIT;
	END LOOP;
	INSERT INTO flood VALUES (n);
END
$$;
SELECT n FROM flood;});
cmp_ok($sent, '>', 300, "the provider sent $sent notifications");
my $asked = () = slurp_file($a->logfile, $offset) =~ /execute <unnamed>: SELECT dataspace\.export_batch\(/g;
# one stream: at most one batch request per round, 31 rounds in 3 s and
# the one under way, with room for a round that found a batch
cmp_ok($asked, '<=', 40, "the consumer asked for $asked batches meanwhile, not one per notification");
cmp_ok($asked, '>=', 1, 'and the notifications did wake it');
ok(deliver(2), 'the stream goes on after the flood');

done_testing();
