# pg_dump of a node database restored into a fresh cluster keeps twins,
# assets, points and seals without re-sealing; seq continues; everything
# verifies.  The restored node refuses to sign until adopted and given the
# key file; a database copied with CREATE DATABASE ... TEMPLATE is
# recognised as a copy too.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Copy;
use IPC::Run;
use MIME::Base64 ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = qq{
shared_preload_libraries = 'pg_dataspace'
dataspace.database = 'postgres'
};
my $a = PostgreSQL::Test::Cluster->new('a');
$a->init;
$a->append_conf('postgresql.conf', $conf);
$a->start;

# nodedb has no background sealer: sealing happens when asked
$a->safe_psql('postgres', 'CREATE DATABASE nodedb');
$a->safe_psql('nodedb', q{
CREATE EXTENSION pg_dataspace;
SELECT dataspace.init_node('plant-a');
INSERT INTO dataspace.twin (id, name, model) VALUES ('00000000-0000-4000-8000-000000000001', 'press',
  '{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": "dtmi:dtdl:context;2", "contents": []}');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 'temperature', 'stream', 100),
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000001', 'pressure', 'stream', 100);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 3 = 0 THEN '00000000-0000-4000-8000-0000000000a2'::uuid
            ELSE '00000000-0000-4000-8000-0000000000a1'::uuid END,
       '2026-01-01'::timestamptz + i * interval '1 second', i * 0.5
  FROM generate_series(1, 1000) i;
SELECT dataspace.seal_pending();
SELECT dataspace.rotate_node_key();
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', '2026-01-02'::timestamptz + i * interval '1 second', i
  FROM generate_series(1, 50) i;
SELECT dataspace.seal_pending();
-- one batch left pending on purpose
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-03', 7);
});

my $fingerprint = q{
SELECT (SELECT count(*) FROM dataspace.point) || '/' || (SELECT count(*) FROM dataspace.seal)
    || '/' || (SELECT count(*) FROM dataspace.pending_batch) || '/'
    || (SELECT md5(string_agg(s::text, ',' ORDER BY id)) FROM dataspace.seal s) || '/'
    || (SELECT md5(string_agg(p::text, ',' ORDER BY asset_id, seq)) FROM dataspace.point p) || '/'
    || (SELECT md5(string_agg(k::text, ',' ORDER BY key_id)) FROM dataspace.node_key k)
};
my $before = $a->safe_psql('nodedb', $fingerprint);
my $max_seq = $a->safe_psql('nodedb', 'SELECT max(seq) FROM dataspace.point');

my $dump = $a->basedir . '/nodedb.dump';
$a->command_ok([ 'pg_dump', '-Fc', '-d', $a->connstr('nodedb'), '-f', $dump ], 'pg_dump');

# The dump holds the private keys only wrapped (src/keys.c: AES-256-GCM under
# the key file's key, the label, node id and key id as associated data).
# Read the dump as plain SQL, unwrap every stored key here with libcrypto,
# independently of the extension (test/nodekey.py), and look for the seeds
# and the key file's key in the dump.
{
	my $plain = $a->basedir . '/nodedb.sql';
	$a->command_ok([ 'pg_restore', '-f', $plain, $dump ], 'the dump as plain SQL');
	my $sql = slurp_file($plain);

	my @keys = map { [ split /\|/ ] } split /\n/, $a->safe_psql('nodedb', q{
SELECT node_id, encode(key_id, 'hex'), encode(public_key, 'hex'), encode(wrapped_private_key, 'hex')
  FROM dataspace.node_key ORDER BY created_at});
	is(scalar(@keys), 2, 'two node keys (one rotated out)');
	my $kekfile = slurp_file($a->data_dir . '/pg_dataspace.key');
	is(length($kekfile), 40, 'the key file holds its magic and a 32-byte key');
	my $kek = substr($kekfile, 8);
	my $nodekey = dirname(__FILE__) . '/../nodekey.py';

	# every secret, in the forms a dump could show it
	my @secrets = ([ 'the key file\'s key', $kek ]);
	foreach my $k (@keys)
	{
		my ($node_id, $key_id, $pub, $wrapped) = @$k;
		my ($stdout, $stderr) = ('', '');
		IPC::Run::run([ 'python3', $nodekey, 'unwrap', $a->data_dir . '/pg_dataspace.key',
						$node_id, $key_id, $wrapped ],
			'>', \$stdout, '2>', \$stderr);
		my ($seed, $derived) = split ' ', $stdout;
		is($derived, $pub, "key $key_id unwrapped independently: its seed gives its public key")
		  or diag($stderr);
		like($sql, qr/\\\\x\Q$wrapped\E/, "the dump holds the wrapped key $key_id as stored");
		like($sql, qr/\\\\x\Q$pub\E/, "the dump holds the public key $key_id");
		push @secrets, [ "the private seed of key $key_id", pack('H*', $seed // '') ];
	}
	foreach my $s (@secrets)
	{
		my ($what, $bytes) = @$s;
		my $hex = unpack('H*', $bytes);
		my $b64 = MIME::Base64::encode_base64($bytes, '');
		my $b64url = $b64 =~ tr{+/=}{-_}dr;
		ok(length($bytes) == 32
			  && index(lc($sql), $hex) < 0
			  && index($sql, $bytes) < 0
			  && index($sql, substr($b64, 0, 40)) < 0
			  && index($sql, substr($b64url, 0, 40)) < 0,
			"the dump does not hold $what (raw, hex or base64)");
	}
}

my $b = PostgreSQL::Test::Cluster->new('b');
$b->init;
$b->append_conf('postgresql.conf', $conf);
$b->start;
$b->safe_psql('postgres', 'CREATE DATABASE nodedb');
$b->command_ok([ 'pg_restore', '-d', $b->connstr('nodedb'), '--exit-on-error', $dump ], 'pg_restore');

is($b->safe_psql('nodedb', $fingerprint), $before,
	'points, seals, pending queue and keys restored as they were, nothing re-sealed');
is($b->safe_psql('nodedb', q{
SELECT count(*) FILTER (WHERE ok IS DISTINCT FROM true AND reason IS DISTINCT FROM 'pending')
  FROM dataspace.asset a, dataspace.verify_asset(a.id)}), '0', 'everything verifies after restore');
is($b->safe_psql('nodedb', q{
SELECT count(*) FROM dataspace.asset a, dataspace.verify_asset(a.id) WHERE reason = 'pending'}),
	'1', 'the pending batch is still pending');

# a restored node is a moved node: it signs again only when adopted
my ($ret, $out, $err) = $b->psql('nodedb', 'SELECT dataspace.seal_pending()');
like($err, qr/node identity "plant-a" belongs to another database/, 'restored identity refuses to sign');
like($err, qr/dataspace.adopt_node\(\)/, 'and says how to adopt it');
$b->safe_psql('nodedb', 'SELECT dataspace.adopt_node()');
($ret, $out, $err) = $b->psql('nodedb', 'SELECT dataspace.seal_pending()');
like($err, qr/key file ".*pg_dataspace.key" does not exist/, 'the private key needs its key file');

# the key file travels by the operator's hand, not in the dump
copy($a->data_dir . '/pg_dataspace.key', $b->data_dir . '/pg_dataspace.key') or die "copy: $!";
chmod 0600, $b->data_dir . '/pg_dataspace.key';
is($b->safe_psql('nodedb', 'SELECT dataspace.seal_pending()'), '1', 'adopted node with its key file seals');

$b->safe_psql('nodedb', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-04', 8);
SELECT dataspace.seal_pending();
});
cmp_ok($b->safe_psql('nodedb',
	q{SELECT max(seq) FROM dataspace.point}), '>', $max_seq, 'seq continues after the restored ones');
is($b->safe_psql('nodedb', q{
SELECT bool_and(ok) AND count(*) = (SELECT count(*) FROM dataspace.seal)
  FROM dataspace.asset a, dataspace.verify_asset(a.id)}),
	't', 'new seals chain onto the restored ones and all verify');

# a key file that is not the node's cannot unwrap its key
unlink $b->data_dir . '/pg_dataspace.key';
open(my $fh, '>', $b->data_dir . '/pg_dataspace.key') or die;
print $fh 'PGDSKEK1' . ('x' x 32);
close $fh;
chmod 0600, $b->data_dir . '/pg_dataspace.key';
$b->safe_psql('nodedb', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-05', 9)});
($ret, $out, $err) = $b->psql('nodedb', 'SELECT dataspace.seal_pending()');
like($err, qr/could not unwrap the private key/, 'a wrong key file is refused');

# a key file readable by others is refused
chmod 0644, $b->data_dir . '/pg_dataspace.key';
($ret, $out, $err) = $b->psql('nodedb', 'SELECT dataspace.seal_pending()');
like($err, qr/is accessible to other users/, 'a key file readable by others is refused');

# CREATE DATABASE ... TEMPLATE: the copy is recognised
$a->safe_psql('postgres', 'CREATE DATABASE nodecopy TEMPLATE nodedb');
$a->safe_psql('nodecopy', q{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-06', 1)});
($ret, $out, $err) = $a->psql('nodecopy', 'SELECT dataspace.seal_pending()');
like($err, qr/belongs to another database/, 'a TEMPLATE copy refuses to sign');
my $old_key = $a->safe_psql('nodecopy', 'SELECT key_id FROM dataspace.node_public_key WHERE retired_at IS NULL');
$a->safe_psql('nodecopy', 'SELECT dataspace.adopt_node(rekey => true)');
isnt($a->safe_psql('nodecopy', 'SELECT key_id FROM dataspace.node_public_key WHERE retired_at IS NULL'),
	$old_key, 'adopting with rekey gives the copy its own key');
is($a->safe_psql('nodecopy', q{
SELECT dataspace.seal_pending() > 0 AND bool_and(ok)
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1')}), 't', 'the copy seals under its new key');
# the original is untouched
is($a->safe_psql('nodedb', 'SELECT dataspace.seal_pending()'), '1', 'the original still signs');

$a->stop;
$b->stop;
done_testing();
