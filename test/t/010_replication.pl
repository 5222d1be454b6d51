# Peer replication between two nodes under contracts made through a hub:
# the export role over TLS only, challenge and response, a complete and
# verified stream, a consumer crash mid-stream, provider restart, hub
# outage, a value changed at the provider behind its back, a policy window
# cutting through seals, refused requests, and revocation.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;
use SealForgery;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my ($hub, $hub_key) = new_hub('a', 'b', 'c');

# the provider serves TLS with a self-signed certificate
my $a = new_node($hub, $hub_key, 'a', tls_settings($tmp));
my $b = new_node($hub, $hub_key, 'b', '');
my $c = new_node($hub, $hub_key, 'c', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	c => $c->safe_psql('postgres', 'SELECT dataspace.node_id()'));

# the export role at the provider: one login per consumer, TLS only
export_logins($a, $id{a}, $tmp, [ 'b', $b ], [ 'c', $c ]);
my $export_conn = 'hostaddr=127.0.0.1 port=' . $a->port . " dbname=postgres user=export_b passfile=$tmp/b.pgpass";

ok($hub->poll_query_until('postgres', q{SELECT count(*) = 3 FROM dataspace.participant}),
	'three nodes registered');
$hub->safe_psql('postgres', 'SELECT dataspace.approve_participant(node_id) FROM dataspace.participant');

my $twin = '00000000-0000-4000-8000-000000010a00';
my $asset = '00000000-0000-4000-8000-000000010a01';
my $windowed = '00000000-0000-4000-8000-000000010a02';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '$twin', 'temperature', 'stream', 'public'),
  ('$windowed', '$twin', 'pressure', 'stream', 'public');
});
ok($b->poll_query_until('postgres', qq{
SELECT (SELECT count(*) FROM dataspace.hub_catalog WHERE provider_id = '$id{a}') = 2
   AND (SELECT count(*) FROM dataspace.participant WHERE status = 'approved') = 3}),
	'node b finds both assets in the catalog');
ok($a->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM dataspace.participant WHERE status = 'approved'}),
	'node a caches the participants');

# points before any contract
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-01'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 20000) g;
SELECT dataspace.seal_pending();
});

# b requests a contract, a accepts
my $k1 = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$asset}', '{}', now() + interval '1 year')});
ok($a->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k1'}),
	'the request reaches node a');
is($a->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k1')}), 'AGREED', 'node a accepts');
ok($b->poll_query_until('postgres', qq{SELECT state = 'active' FROM dataspace.contract WHERE id = '$k1'}),
	'the contract is active at node b');

# the stream
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 20000 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'20,000 points reach node b');
is($b->safe_psql('postgres', qq{
SELECT count(*) || ' ' || bool_and(ok) FROM dataspace.verify_asset('$asset')}), '2 true',
	'every received seal verifies at node b');
is($b->safe_psql('postgres', qq{
SELECT cursor || ' ' || points_received || ' ' || lag_points || ' ' || state || ' ' || coalesce(last_error, '-')
  FROM dataspace.subscription WHERE asset_id = '$asset'}), '2 20000 0 running -',
	'the subscription shows cursor, count, lag and state');
is($b->safe_psql('postgres', qq{
SELECT count(*) FROM dataspace.all_point WHERE asset_id = '$asset' AND received}), '20000',
	'the view unites local and received points');
is($b->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_dataspace replication'}), '1',
	'the worker is visible in pg_stat_activity');
is($a->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
 WHERE a.usename = 'export_b' AND s.ssl}), '1', 'the consumer is connected over TLS');

# local writes into received data are refused: no role but the worker (and
# a superuser restoring a dump) inserts, nobody changes or deletes
$b->safe_psql('postgres', 'CREATE ROLE local_admin IN ROLE dataspace_admin');
my ($rc, $out, $err) = $b->psql('postgres', qq{SET ROLE local_admin;
INSERT INTO dataspace.received_point VALUES ('$id{a}', '$asset', 999999, now(), 1, '\\x00', 1, '$k1')});
like($err, qr/permission denied for table received_point/, 'local writes into received points are refused');
($rc, $out, $err) = $b->psql('postgres', qq{UPDATE dataspace.received_point SET value = 2 WHERE asset_id = '$asset'});
like($err, qr/received data is written by the replication worker only/,
	'even a superuser cannot change received points in place');
($rc, $out, $err) = $b->psql('postgres', qq{DELETE FROM dataspace.received_seal WHERE asset_id = '$asset'});
like($err, qr/received data is written by the replication worker only/, 'or delete received seals');
($rc, $out, $err) = $b->psql('postgres', qq{INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', now(), 1)});
isnt($rc, 0, 'a received asset id is no local asset');

# refusals at the export: no challenge, a wrong answer, a spent nonce, no TLS, no privileges
($rc, $out, $err) = $a->psql('postgres', qq{SELECT dataspace.export_batch('$k1', '$asset', 0, 10, 100000)},
	connstr => "$export_conn sslmode=require");
like($err, qr/this session has not authenticated for contract $k1/, 'a plain connection without the challenge gets nothing');
($rc, $out, $err) = $a->psql('postgres', qq{
SELECT nonce IS NOT NULL FROM dataspace.export_challenge();
SELECT dataspace.export_authenticate('$k1', ('\\x' || repeat('00', 64))::bytea);},
	connstr => "$export_conn sslmode=require");
like($err, qr/the answer to the challenge does not verify/, 'an answer not signed by the consumer key is refused');
($rc, $out, $err) = $a->psql('postgres', qq{
SELECT nonce IS NOT NULL FROM dataspace.export_challenge();
SELECT dataspace.export_authenticate('$k1', ('\\x' || repeat('00', 64))::bytea);
SELECT dataspace.export_authenticate('$k1', ('\\x' || repeat('00', 64))::bytea);},
	connstr => "$export_conn sslmode=require", on_error_stop => 0);
like($err, qr/no challenge was issued in this session/, 'a nonce takes one answer: a replayed answer is refused');
($rc, $out, $err) = $a->psql('postgres', 'SELECT 1',
	connstr => 'hostaddr=127.0.0.1 port=' . $a->port . " dbname=postgres user=export_b passfile=$tmp/b.pgpass sslmode=disable");
like($err, qr/rejects connection|no pg_hba.conf entry/, 'the export role cannot connect without TLS');
($rc, $out, $err) = $a->psql('postgres', 'SELECT count(*) FROM dataspace.point',
	connstr => "$export_conn sslmode=require");
like($err, qr/permission denied/, 'the export role reads no table');
($rc, $out, $err) = $a->psql('postgres', 'CREATE TEMP TABLE t (x int)',
	connstr => "$export_conn sslmode=require");
like($err, qr/permission denied/, 'the export role creates no temporary table');
($rc, $out, $err) = $a->psql('postgres', qq{SELECT dataspace.export_batch('$k1', '$asset', 0, 10, 100000)},
	connstr => 'hostaddr=127.0.0.1 port=' . $a->port . " dbname=postgres user=export_c passfile=$tmp/c.pgpass sslmode=require");
like($err, qr/has not authenticated/, 'a third node\'s login gets nothing under another node\'s contract');

# an idle export session in a transaction does not block ingest
my $idle = $a->background_psql('postgres', extra_params => [ '-d', "$export_conn sslmode=require" ]);
$idle->query_safe('BEGIN; SELECT * FROM dataspace.export_challenge()');
$a->safe_psql('postgres', qq{
SET statement_timeout = '10s';
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-01-02', 1);
SELECT dataspace.seal_pending();});
pass('ingest and sealing go on beside an idle export transaction');
$idle->quit;
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 20001 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the new point is pushed by the provider\'s notification');

# a consumer crash mid-stream: nothing lost, nothing doubled
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-03'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 200000) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) > 20001 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the stream is under way');
$b->stop('immediate');
$b->start;
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 220001 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'after an immediate stop the stream completes');
is($b->safe_psql('postgres', qq{
SELECT count(DISTINCT seq) || ' ' || (SELECT bool_and(ok) FROM dataspace.verify_asset('$asset'))
  FROM dataspace.received_point WHERE asset_id = '$asset'}), '220001 true',
	'no point doubled, every seal verifies');

# the provider restarts; the hub goes away: the stream goes on
$a->restart;
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-01-04', 2);
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 220002 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'after a provider restart the stream resumes by itself');
$hub->stop;
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-01-05', 3);
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 220003 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'with the hub down the stream goes on');
$hub->start;

# a value changed at the provider behind its back: the batch is refused
$b->stop;
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-06'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 10) g;
SELECT dataspace.seal_pending();
SET session_replication_role = replica;
UPDATE dataspace.point SET value = 42 WHERE asset_id = '$asset'
   AND seq = (SELECT max(seq) FROM dataspace.point WHERE asset_id = '$asset');});
my $bad = $a->safe_psql('postgres', qq{SELECT max(id) FROM dataspace.seal WHERE asset_id = '$asset'});
$b->start;
ok($b->poll_query_until('postgres', qq{
SELECT state = 'stopped' FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'the consumer stops the stream');
like($b->safe_psql('postgres', qq{SELECT last_error FROM dataspace.subscription WHERE asset_id = '$asset'}),
	qr/^refused seal $bad \(chain position \d+\) of asset $asset from provider $id{a}: value changed$/,
	'and names the seal');
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'220003', 'nothing of the refused batch was stored');
ok($b->log_contains(qr/ERROR:  refused seal $bad/), 'the refusal is in the server log');

# repaired at the provider, the stream is restarted
$a->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.point SET value = 10 WHERE asset_id = '$asset'
   AND seq = (SELECT max(seq) FROM dataspace.point WHERE asset_id = '$asset');});
$b->safe_psql('postgres', qq{SELECT dataspace.restart_subscription('$asset')});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 220013 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'after repair and restart the stream completes');

# a seal its provider signed over a time range wider than its points (made
# here with the provider's key, SealForgery.pm): the batch is refused
$b->stop;
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-07'::timestamptz + g * interval '1 ms', g FROM generate_series(1, 10) g;
SELECT dataspace.seal_pending();});
my ($wide, $signed) = split /\|/, $a->safe_psql('postgres', qq{
SELECT id, format('min_ts = %L', min_ts) FROM dataspace.seal
 WHERE asset_id = '$asset' ORDER BY id DESC LIMIT 1});
forge_seal($a, 'seal', $wide, "min_ts = min_ts - interval '1 hour'", $a);
$b->start;
ok($b->poll_query_until('postgres', qq{
SELECT state = 'stopped' FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'the consumer stops the stream');
like($b->safe_psql('postgres', qq{SELECT last_error FROM dataspace.subscription WHERE asset_id = '$asset'}),
	qr/^refused seal $wide \(chain position \d+\) of asset $asset from provider $id{a}: range not as signed$/,
	'and names the seal: range not as signed');
forge_seal($a, 'seal', $wide, $signed, $a);
$b->safe_psql('postgres', qq{SELECT dataspace.restart_subscription('$asset')});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 220023 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'signed again as it was, the seal is received');

# a policy window that cuts through seals
my $k2 = $b->safe_psql('postgres', qq{
SELECT dataspace.request_contract('$id{a}', '{$windowed}',
  '{"data_window": {"from": "2024-02-01T00:00:00.5Z", "until": "2024-02-01T00:00:01.5Z"}}',
  now() + interval '1 year')});
ok($a->poll_query_until('postgres', qq{SELECT state = 'REQUESTED' FROM dataspace.contract WHERE id = '$k2'}),
	'the windowed request reaches node a');
$a->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k2')});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$windowed', '2024-02-01'::timestamptz + g * interval '1 ms', g FROM generate_series(0, 1999) g;
SELECT dataspace.seal_pending();
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$windowed', '2024-02-01 00:00:01'::timestamptz + g * interval '1 ms', g FROM generate_series(0, 1999) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT seals_received = 2 FROM dataspace.subscription WHERE asset_id = '$windowed'}),
	'both seals of the windowed asset arrive');
is($b->safe_psql('postgres', qq{
SELECT count(*) || ' ' || min(ts) || ' ' || max(ts) FROM dataspace.received_point WHERE asset_id = '$windowed'}),
	'1500 2024-02-01 00:00:00.5+00 2024-02-01 00:00:01.499+00',
	'only the points inside the window reach the consumer');
is($b->safe_psql('postgres', qq{
SELECT string_agg(ok::text, ',') FROM dataspace.verify_asset('$windowed')}), 'true,true',
	'the cut seals verify with the blinded hashes of the withheld points');

# a received seal that its provider signed over a time range its delivered
# points do not fit (made here with the provider's key, SealForgery.pm)
my ($wseal, $wsigned) = split /\|/, $b->safe_psql('postgres', qq{
SELECT id, format('max_ts = %L', max_ts) FROM dataspace.received_seal
 WHERE asset_id = '$windowed' AND chain_pos = 2});
forge_seal($b, 'received_seal', $wseal, "max_ts = '2024-02-01 00:00:01.2+00'", $a);
is($b->safe_psql('postgres', qq{
SELECT string_agg(coalesce(reason, ok::text), ',' ORDER BY seal_id) FROM dataspace.verify_asset('$windowed')}),
	'true,range not as signed', 'delivered points after the signed time range: range not as signed');
forge_seal($b, 'received_seal', $wseal, $wsigned, $a);
is($b->safe_psql('postgres', qq{
SELECT string_agg(coalesce(reason, ok::text), ',' ORDER BY seal_id) FROM dataspace.verify_asset('$windowed')}),
	'true,true', 'signed again as it was, the received seal verifies');

# an interval of a received asset: its seals (the second covers 01.000 to
# 02.999, the first up to 01.999), and a seal outside it that holds a point
# inside it (a delivered point's time moved there)
my $in_interval = qq{
SELECT string_agg(coalesce(reason, ok::text), ',' ORDER BY ordinality)
  FROM dataspace.verify_asset('$windowed', '2024-02-01 00:00:02.5+00', '2024-02-01 00:00:02.6+00')
       WITH ORDINALITY};
is($b->safe_psql('postgres', $in_interval), 'true', 'an interval of the second seal alone reports it alone');
my $moved = $b->safe_psql('postgres', qq{
SELECT seq FROM dataspace.received_point WHERE asset_id = '$windowed' AND ts = '2024-02-01 00:00:00.6+00'});
$b->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.received_point SET ts = '2024-02-01 00:00:02.55+00' WHERE asset_id = '$windowed' AND seq = $moved});
is($b->safe_psql('postgres', $in_interval), 'value changed,true',
	'a point of the first seal moved into the interval names the first seal, in chain order');
$b->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.received_point SET ts = '2024-02-01 00:00:00.6+00' WHERE asset_id = '$windowed' AND seq = $moved});
is($b->safe_psql('postgres', qq{
SELECT string_agg(ok::text, ',') FROM dataspace.verify_asset('$windowed')}), 'true,true',
	'moved back, both seals verify');

# revocation stops the stream
$a->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k1', 'end of project')});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('$asset', '2024-03-01', 5);
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT state = 'contract revoked' FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'the consumer sees the contract revoked');
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'220023', 'nothing after the revocation reached the consumer');

# the provider rotates its key: the stream continues under the contract,
# its seals verified under the announced key; after the provider revokes
# that key, its seals made since compromised_since are flagged
my $newkey = $a->safe_psql('postgres', q{SELECT encode(dataspace.rotate_node_key(), 'hex')});
ok($b->poll_query_until('postgres', qq{
SELECT encode(key_id, 'hex') = '$newkey' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'node b accepts the provider\'s new key through its announcement');
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$windowed', '2024-02-01 00:00:01'::timestamptz + g * interval '1 ms', g FROM generate_series(0, 9) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT seals_received = 3 FROM dataspace.subscription WHERE asset_id = '$windowed'}),
	'a seal under the new key arrives under the existing contract');
is($b->safe_psql('postgres', qq{
SELECT string_agg(ok::text, ',' ORDER BY seal_id) FROM dataspace.verify_asset('$windowed')}), 'true,true,true',
	'and verifies under the announced key');
$a->safe_psql('postgres', qq{SELECT dataspace.revoke_node_key('\\x$newkey', now() - interval '1 minute', 'test')});
ok($b->poll_query_until('postgres', qq{
SELECT revoked_at IS NOT NULL FROM dataspace.participant_key
 WHERE node_id = '$id{a}' AND encode(key_id, 'hex') = '$newkey'}),
	'the provider\'s revocation reaches the consumer');
is($b->safe_psql('postgres', qq{
SELECT string_agg(CASE WHEN ok THEN 'ok' ELSE reason END, ',' ORDER BY seal_id)
  FROM dataspace.verify_asset('$windowed')}), 'ok,ok,key revoked',
	'the consumer flags the seal made with the revoked key after compromised_since');

done_testing();
