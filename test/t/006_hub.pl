# A hub and three nodes: onboarding and approval, the public catalog,
# private assets that never leave the node, signed submissions that cannot
# be forged, replayed, misdirected or made in another participant's name,
# suspension, a hub outage, a hub that cannot prove its key, and a worker
# that comes back when terminated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub new_hub
{
	my $name = shift;
	my $hub = PostgreSQL::Test::Cluster->new($name);
	$hub->init;
	$hub->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.mode = 'hub'
dataspace.database = 'postgres'
dataspace.node_name = '$name'
});
	$hub->start;
	$hub->safe_psql('postgres', q{
CREATE EXTENSION pg_dataspace;
CREATE ROLE node_a LOGIN IN ROLE dataspace_participant;
CREATE ROLE node_b LOGIN IN ROLE dataspace_participant;
CREATE ROLE node_c LOGIN IN ROLE dataspace_participant;
});
	return $hub;
}

my $hub = new_hub('hub');
my $hub_key = $hub->safe_psql('postgres',
	q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()});
is($hub->safe_psql('postgres', 'SELECT mode FROM dataspace.node_info()'), 'hub', 'hub mode');

sub new_node
{
	my ($name, $key) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	my $conninfo = 'host=' . $hub->host . ' port=' . $hub->port . " dbname=postgres user=node_$name";
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'postgres'
dataspace.node_name = '$name'
dataspace.hub = '$conninfo'
dataspace.hub_public_key = '$key'
dataspace.endpoint = 'host=127.0.0.1 port=1 dbname=$name'
dataspace.sync_interval = '300ms'
dataspace.sealer_naptime = '200ms'
});
	$node->start;
	$node->safe_psql('postgres', q{CREATE EXTENSION pg_dataspace});
	return $node;
}

my $a = new_node('a', $hub_key);
my $b = new_node('b', $hub_key);
my $c = new_node('c', $hub_key);

my %id;
for my $n ([ 'a', $a ], [ 'b', $b ], [ 'c', $c ])
{
	$id{ $n->[0] } = $n->[1]->safe_psql('postgres', 'SELECT dataspace.node_id()');
}

# onboarding: each node registers by itself and waits for approval
ok($hub->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM dataspace.participant WHERE status = 'pending'}),
	'three nodes registered, pending');
is($hub->safe_psql('postgres', q{
SELECT string_agg(name || ':' || role_name || ':' || (key_id = sha256(public_key)), ',' ORDER BY name)
  FROM dataspace.participant}),
	'a:node_a:true,b:node_b:true,c:node_c:true', 'each bound to its login role, key id of its key');
ok($a->poll_query_until('postgres', q{
SELECT participant_status = 'pending' AND last_error IS NULL FROM dataspace.hub_status}),
	'node a sees itself pending');

# node a describes a public and a private asset
$a->safe_psql('postgres', q{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000000a0', 'press 1');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility, unit, description, tags) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a0', 'temperature',
   'stream', 'public', 'degC', 'oil temperature', '{oil,press}'),
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a0', 'secret',
   'stream', 'private', NULL, NULL, '{}');
});

# pending participants can neither publish nor read
$a->safe_psql('postgres', 'SELECT dataspace.sync_now()');
$a->poll_query_until('postgres', q{SELECT last_attempt > now() - interval '1 second' FROM dataspace.hub_status});
is($hub->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_catalog'), '0',
	'a pending participant publishes nothing');

# approval
$hub->safe_psql('postgres', qq{
SELECT dataspace.approve_participant('$id{a}');
SELECT dataspace.approve_participant('$id{b}');
});
ok($hub->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'the public asset reaches the hub once a is approved');
is($hub->safe_psql('postgres', q{
SELECT provider_id || ' ' || name || ' ' || unit || ' ' || twin_name || ' ' || array_to_string(tags, '+')
  FROM dataspace.hub_catalog}),
	"$id{a} temperature degC press 1 oil+press", 'the catalog entry describes it');
is($hub->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a2'}),
	'0', 'the private asset is not in the catalog');
is($hub->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.hub_submission
 WHERE position(convert_to('00000000-0000-4000-8000-0000000000a2', 'UTF8') IN submission) > 0}),
	'0', 'the private asset is never named to the hub');

# the catalog reaches every approved node, checked against the provider's key
ok($b->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'the public catalog reaches node b');
is($b->safe_psql('postgres', qq{
SELECT p.name || ' ' || (p.public_key = (SELECT public_key FROM dataspace.participant WHERE node_id = '$id{a}'))
  FROM dataspace.hub_catalog c JOIN dataspace.participant p ON p.node_id = c.provider_id}),
	'a true', 'node b knows the provider and its key');

# unapproved node c sees nothing, not even through the hub directly
$c->safe_psql('postgres', 'SELECT dataspace.sync_now()');
$c->poll_query_until('postgres', q{SELECT last_attempt > now() - interval '1 second' FROM dataspace.hub_status});
is($c->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_catalog'), '0',
	'unapproved node c caches no catalog');
is($hub->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM dataspace.hub_catalog) || ' ' ||
       (SELECT string_agg(name, ',') FROM dataspace.participant)}, extra_params => [ '-U', 'node_c' ]),
	'0 c', 'at the hub, node c reads no catalog and only its own registration');
is($hub->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM dataspace.hub_catalog) || ' ' ||
       (SELECT string_agg(name, ',' ORDER BY name) FROM dataspace.participant)}, extra_params => [ '-U', 'node_b' ]),
	'1 a,b', 'approved node b reads the catalog and the approved participants');
my ($rc, $out, $err) = $hub->psql('postgres', q{SELECT role_name, last_counter FROM dataspace.participant},
	extra_params => [ '-U', 'node_b' ]);
like($err, qr/permission denied/, 'participants cannot read the registry\'s bookkeeping');

# forged, replayed and misdirected submissions, and another participant's identity
my $sub = $hub->safe_psql('postgres', qq{
SELECT encode(submission, 'hex') || ' ' || encode(signature, 'hex') FROM dataspace.hub_submission
 WHERE node_id = '$id{a}' AND kind = 'publish_asset' ORDER BY id DESC LIMIT 1});
my ($msg, $sig) = split / /, $sub;
my $submit = sub {
	my ($role, $m, $s, $on) = @_;
	$on //= $hub;
	return $on->safe_psql('postgres', qq{
SELECT accepted || ': ' || coalesce(reason, '') FROM dataspace.hub_submit('\\x$m', '\\x$s')},
		extra_params => [ '-U', $role ]);
};
like($submit->('node_a', $msg, $sig), qr/^false: replayed submission/, 'a replayed submission is refused');
like($submit->('node_b', $msg, $sig), qr/^false: submission is made out for participant $id{a}, but role "node_b"/,
	'another participant\'s submission is refused');
# the unit in the signed payload, changed from degC to degF
my ($orig_hex, $forged_hex) = (unpack('H*', 'degC'), unpack('H*', 'degF'));
(my $forged = $msg) =~ s/$orig_hex/$forged_hex/;
isnt($forged, $msg, 'a forged publication differs');
like($submit->('node_a', $forged, $sig), qr/^false: bad signature/, 'a forged submission is refused');
like($submit->('node_a', 'deadbeef', $sig), qr/^false: malformed submission/, 'garbage is refused');
is($hub->safe_psql('postgres', q{SELECT count(*) FROM dataspace.hub_refusal}), '4',
	'every refusal is recorded');
ok($hub->log_contains(qr/refused a submission from role "node_b": submission is made out for participant/),
	'and logged');

# a login sending garbage in a loop: past the budget, refusals are counted
# per role and minute, not recorded and logged one by one (whatever minute
# boundary the loop crosses)
$hub->safe_psql('postgres', 'CREATE ROLE looping LOGIN IN ROLE dataspace_participant');
$hub->append_conf('postgresql.conf', 'dataspace.hub_refusals_per_minute = 3');
$hub->reload;
my $garbage = join('', map { "SELECT dataspace.hub_submit('\\xdeadbeef', '\\x$sig');\n" } 1 .. 10);
$hub->safe_psql('postgres', $garbage, extra_params => [ '-U', 'looping' ]);
is($hub->safe_psql('postgres', q{
WITH kept AS (SELECT date_trunc('minute', refused_at) AS minute, count(*) AS n
                FROM dataspace.hub_refusal WHERE role_name = 'looping' GROUP BY 1)
SELECT (SELECT max(n) FROM kept) <= 3, (SELECT sum(n) FROM kept)
       + (SELECT sum(refusals) FROM dataspace.hub_refusal_overflow WHERE role_name = 'looping'),
       (SELECT string_agg(DISTINCT last_reason, ',') FROM dataspace.hub_refusal_overflow
         WHERE role_name = 'looping')}),
	't|10|malformed submission',
	'at most 3 refusals a minute recorded, the other ones counted, all ten accounted for');
my $overflow_lines = () = slurp_file($hub->logfile)
  =~ /refused a submission from role "looping": malformed submission\n[^\n]*DETAIL:  The role's further refusals this minute are counted/g;
is($overflow_lines, $hub->safe_psql('postgres',
		q{SELECT count(*) FROM dataspace.hub_refusal_overflow WHERE role_name = 'looping'}),
	'the overflow is logged once a minute');
# the same loop inside one statement: each call counts the refusals of
# the calls before it in that statement
$hub->safe_psql('postgres', 'CREATE ROLE looping_in_one LOGIN IN ROLE dataspace_participant');
$hub->safe_psql('postgres', qq{
SELECT count(*) FROM generate_series(1, 10) g,
  LATERAL dataspace.hub_submit('\\xdeadbeef'::bytea || int4send(g), '\\x$sig') s},
	extra_params => [ '-U', 'looping_in_one' ]);
is($hub->safe_psql('postgres', q{
WITH kept AS (SELECT date_trunc('minute', refused_at) AS minute, count(*) AS n
                FROM dataspace.hub_refusal WHERE role_name = 'looping_in_one' GROUP BY 1)
SELECT (SELECT max(n) FROM kept) <= 3, (SELECT sum(n) FROM kept)
       + (SELECT sum(refusals) FROM dataspace.hub_refusal_overflow WHERE role_name = 'looping_in_one')}),
	't|10', 'so also when the ten refusals are one statement\'s');
($rc, $out, $err) = $hub->psql('postgres', q{SELECT count(*) FROM dataspace.hub_refusal_overflow},
	extra_params => [ '-U', 'looping' ]);
like($err, qr/permission denied/, 'participants cannot read the overflow');
$hub->append_conf('postgresql.conf', 'dataspace.hub_refusals_per_minute = 60');
$hub->reload;

my $hub2 = new_hub('hub2');
like($submit->('node_a', $msg, $sig, $hub2), qr/^false: submission is meant for hub/,
	'a submission for another hub is refused');
$hub2->stop;

# suspension: the participant's steps are refused
$hub->safe_psql('postgres', qq{SELECT dataspace.suspend_participant('$id{a}', 'audit pending')});
$a->safe_psql('postgres', q{
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-0000000000a0', 'pressure', 'stream', 'public');
SELECT dataspace.sync_now();
});
ok($a->poll_query_until('postgres', q{SELECT participant_status = 'suspended' FROM dataspace.hub_status}),
	'node a learns it is suspended');
is($hub->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a3'}),
	'0', 'a suspended participant publishes nothing');
ok($b->poll_query_until('postgres', qq{
SELECT status = 'suspended' FROM dataspace.participant WHERE node_id = '$id{a}'}),
	'node b learns that a is suspended');
$hub->safe_psql('postgres', qq{SELECT dataspace.approve_participant('$id{a}')});
ok($hub->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '00000000-0000-4000-8000-0000000000a3'}),
	'approved again, it publishes');
ok($b->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.hub_catalog}),
	'and node b caches both entries');

# hub outage: nodes keep working, and catch up when it returns
$hub->stop;
$a->safe_psql('postgres', q{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', now() - i * interval '1 second', i FROM generate_series(1, 100) i;
UPDATE dataspace.asset SET description = 'oil temperature, sump' WHERE id = '00000000-0000-4000-8000-0000000000a1';
SELECT dataspace.sync_now();
});
ok($a->poll_query_until('postgres', q{SELECT count(*) = 0 FROM dataspace.pending_batch}),
	'node a seals while the hub is down');
is($a->safe_psql('postgres', q{
SELECT bool_and(ok) FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1')}), 't',
	'and verifies');
ok($a->poll_query_until('postgres', q{SELECT last_error IS NOT NULL FROM dataspace.hub_status}),
	'hub_status shows the outage');
is($b->safe_psql('postgres', 'SELECT count(*) FROM dataspace.hub_catalog'), '2',
	'node b keeps its cached catalog');
$hub->start;
ok($hub->poll_query_until('postgres', q{
SELECT description = 'oil temperature, sump' FROM dataspace.hub_catalog
 WHERE asset_id = '00000000-0000-4000-8000-0000000000a1'}),
	'after the outage the change reaches the hub');
ok($a->poll_query_until('postgres', q{SELECT last_error IS NULL FROM dataspace.hub_status}),
	'and hub_status is clear again');

# a hub that cannot prove the pinned key gets nothing
$c->append_conf('postgresql.conf', "dataspace.hub_public_key = '" . ('ab' x 32) . "'\n");
$c->reload;
$c->safe_psql('postgres', 'SELECT dataspace.sync_now()');
ok($c->poll_query_until('postgres', q{
SELECT last_error LIKE '%not the pinned dataspace.hub_public_key%' FROM dataspace.hub_status}),
	'a hub with another key is refused');
($rc, $out, $err) = $c->psql('postgres', "ALTER SYSTEM SET dataspace.hub = 'host=x password=secret'");
like($err, qr/holds a password/, 'a password in dataspace.hub is refused');

# a terminated worker comes back
my $pid = $a->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_dataspace hub sync'});
$a->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($a->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_dataspace hub sync' AND pid <> $pid}),
	'a terminated hub-sync worker comes back');

$_->stop for ($a, $b, $c, $hub);
done_testing();
