# Several sessions insert into one asset at once, at READ COMMITTED, at
# REPEATABLE READ and at SERIALIZABLE (each transaction checks its level),
# while the background sealer and explicit seal_pending() calls (always at
# READ COMMITTED) seal: every point ends up in exactly one seal, the chain
# has no fork, and everything verifies.
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
dataspace.sealer_naptime = '50ms'
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 'a', 'stream', 7),
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000001', 'b', 'stream', 10000);
});

# Every transaction checks the isolation level it runs at.
$node->safe_psql('postgres', q{
CREATE FUNCTION expect_isolation(want text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') <> want THEN
		RAISE EXCEPTION 'transaction_isolation is "%", expected "%"',
			pg_catalog.current_setting('transaction_isolation'), want;
	END IF;
END $$;
});

# Writers at the isolation level LEVEL (what current_setting() says), and
# seal_pending() from READ COMMITTED transactions of the same sessions: it
# refuses a transaction snapshot.
sub scripts
{
	my ($tag, $level) = @_;
	return {
		"002_insert_$tag\@8" => qq{
\\set v random(1, 1000000)
BEGIN;
SELECT expect_isolation('$level');
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', clock_timestamp(), :v FROM generate_series(1, 3);
COMMIT;
},
		"002_two_assets_$tag\@4" => qq{
BEGIN;
SELECT expect_isolation('$level');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', clock_timestamp(), 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', clock_timestamp(), 2);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', clock_timestamp(), 3);
COMMIT;
},
		"002_seal_$tag\@1" => q{
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT expect_isolation('read committed');
SELECT dataspace.seal_pending();
COMMIT;
} };
}

$node->pgbench('-n -c 6 -j 3 -t 150', 0, [qr/processed: 900\/900/], [qr/^$/],
	'concurrent inserts and sealing at READ COMMITTED', scripts('rc', 'read committed'));

foreach my $level ('repeatable read', 'serializable')
{
	local $ENV{PGOPTIONS} = "-c default_transaction_isolation=" . ($level =~ s/ /\\ /r);
	my $tag = $level eq 'serializable' ? 'ser' : 'rr';
	# a serialization failure is retried, as an application would
	$node->pgbench('-n -c 6 -j 3 -t 150 --max-tries=20', 0,
		[qr/processed: 900\/900/, qr/number of failed transactions: 0 /], [qr/^$/],
		"concurrent inserts at \U$level\E, sealed by seal_pending() at READ COMMITTED and the background sealer",
		scripts($tag, $level));
}

# the checks can fail: a writer at the wrong level is refused
my ($ret, $out, $err) = $node->psql('postgres',
	"BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT expect_isolation('read committed');");
like($err, qr/transaction_isolation is "repeatable read", expected "read committed"/,
	'a transaction at another level fails the check');

ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM dataspace.pending_batch'),
	'queue drained');
$node->safe_psql('postgres', 'SELECT dataspace.seal_pending()');

is($node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT p.asset_id, p.seq FROM dataspace.point p JOIN dataspace.seal s
    ON s.asset_id = p.asset_id AND p.seq BETWEEN s.first_seq AND s.last_seq
   AND p.batch_id = ANY (s.batch_ids)
 GROUP BY 1, 2 HAVING count(*) <> 1) x}), '0', 'no point is in two seals');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM dataspace.point)
     - (SELECT count(*) FROM dataspace.point p WHERE EXISTS (
          SELECT FROM dataspace.seal s WHERE s.asset_id = p.asset_id
             AND p.seq BETWEEN s.first_seq AND s.last_seq AND p.batch_id = ANY (s.batch_ids)))}),
	'0', 'every point is in a seal');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM dataspace.point) = (SELECT sum(point_count) FROM dataspace.seal)}),
	't', 'seal point counts add up');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT asset_id, count(*) AS n, max(chain_pos) AS m, min(chain_pos) AS l
                        FROM dataspace.seal GROUP BY asset_id) c WHERE n <> m OR l <> 1}),
	'0', 'chain positions are 1..n without gaps or forks');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE ok IS DISTINCT FROM true) FROM dataspace.asset a,
       dataspace.verify_asset(a.id)}), '0', 'every seal verifies');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM dataspace.seal'), '>', 100,
	'many seals were made');

$node->stop;
done_testing();
