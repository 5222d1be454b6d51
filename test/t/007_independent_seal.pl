# An independent implementation checks the extension's seals:
# test/verify_seal.py, written from docs/encoding.md with python3's hashlib
# and the openssl command line, recomputes every leaf, Merkle root, chain
# link and signature from rows exported by psql, agrees with
# verify_asset() on a healthy node, and reports the seal a tampered value
# broke.  It also checks a point_proof() offline.  The server does not
# preload the library: seals are made by seal_pending().
use strict;
use warnings;
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $script = dirname(__FILE__) . '/../verify_seal.py';
my $dir = PostgreSQL::Test::Utils::tempdir;

my $A1 = '00000000-0000-4000-8000-0000000007a1';
my $A2 = '00000000-0000-4000-8000-0000000007a2';

my $node = PostgreSQL::Test::Cluster->new('node');
$node->init;
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000007f0', 'rig');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('$A1', '00000000-0000-4000-8000-0000000007f0', 'temperature', 'stream', 4),
  ('$A2', '00000000-0000-4000-8000-0000000007f0', 'pressure', 'stream', 3);
});

# several transactions (batches), both assets in one of them, awkward values
# and instants; then more points after the first seals, so chains grow
$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('$A1', '2026-06-01 00:00:00+00', 21.5),
  ('$A1', '2026-06-01 00:00:00.000001+00', '-0'::float8),
  ('$A1', '1969-12-31 23:59:59.999999+00', -1.5),
  ('$A1', '2026-06-01 00:00:01+00', 1e308),
  ('$A1', '2026-06-01 00:00:02+00', 5e-324),
  ('$A1', '2026-06-01 00:00:03+00', 0.1);
});
$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT a, '2026-06-02 12:00:00+00'::timestamptz + i * interval '1.000001 s', i / 7.0
  FROM unnest(ARRAY['$A1'::uuid, '$A2'::uuid]) a, generate_series(1, 5) i;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('$A2', '0001-01-01 00:00:00+00', -2.2250738585072014e-308),
  ('$A2', '10000-01-01 00:00:00+00', 123456789.125);
});
is($node->safe_psql('postgres', qq{
SELECT float8send(value) FROM dataspace.point WHERE asset_id = '$A1' AND ts = '2026-06-01 00:00:00.000001+00'}),
	'\\x8000000000000000', 'a negative zero is stored (sealed as +0)');
$node->safe_psql('postgres', 'SELECT dataspace.seal_pending()');
$node->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$A2', '2026-06-03 00:00:00+00'::timestamptz + i * interval '1 ms', 1000 + i
  FROM generate_series(1, 4) i;
});
$node->safe_psql('postgres', 'SELECT dataspace.seal_pending()');

my $nseals = $node->safe_psql('postgres', 'SELECT count(*) FROM dataspace.seal');
cmp_ok($nseals, '>=', 8, "several seals over two assets ($nseals)");
is($node->safe_psql('postgres', q{
SELECT count(*) FROM dataspace.seal s WHERE chain_pos > 1}), $nseals - 2,
	'two chains');
is($node->safe_psql('postgres', q{
SELECT bool_and(v.ok) FROM dataspace.asset a, dataspace.verify_asset(a.id) v}), 't',
	'verify_asset finds every seal ok');

# Export what psql shows: JSON lines, or CSV with a header.
sub export_json
{
	my ($name, $query) = @_;
	my $out = $node->safe_psql('postgres',
		"SET timezone = 'Europe/Berlin'; SELECT row_to_json(x) FROM ($query) x");
	my $path = "$dir/$name.json";
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh "$out\n";
	close($fh);
	return $path;
}

sub export_csv
{
	my ($name, $query) = @_;
	my $out = $node->safe_psql('postgres',
		"SET timezone = 'America/St_Johns'; COPY ($query) TO STDOUT WITH (FORMAT csv, HEADER)");
	my $path = "$dir/$name.csv";
	open(my $fh, '>', $path) or die "could not write $path: $!";
	print $fh "$out\n";
	close($fh);
	return $path;
}

# Run the script; returns (exit status, output).
sub run_script
{
	my @args = @_;
	my ($stdout, $stderr);
	IPC::Run::run([ 'python3', $script, @args ], '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout . $stderr);
}

sub export_all
{
	my ($tag) = @_;
	return (
		'--seals', export_json("seals$tag", 'SELECT * FROM dataspace.seal ORDER BY id'),
		'--points', export_json("points$tag", 'SELECT * FROM dataspace.point'),
		'--keys', export_json("keys$tag", 'SELECT * FROM dataspace.node_public_key'));
}

# 1. healthy: every seal verifies, as the extension says
my @all1 = export_all('1');
like(slurp_file($all1[3]), qr/"ts":"2026-06-01T02:00:00\.000001\+02:00","value":-0,/,
	'the export hands the script the negative zero');
my ($rc, $out) = run_script(@all1);
is($rc, 0, 'script accepts every seal (JSON export)') or diag($out);
like($out, qr/^$nseals seals, 0 broken$/m, 'script checked every seal');
my @ids = split /\n/, $node->safe_psql('postgres', 'SELECT id FROM dataspace.seal ORDER BY id');
is(scalar(grep { $out =~ /^seal $_ ok$/m } @ids), scalar(@ids), 'one ok line per seal');

($rc, $out) = run_script(
	'--seals', export_csv('seals', 'SELECT * FROM dataspace.seal ORDER BY id'),
	'--points', export_csv('points', 'SELECT * FROM dataspace.point'),
	'--public-key', $node->safe_psql('postgres',
		q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()}));
is($rc, 0, 'script accepts every seal (CSV export, key from node_info)') or diag($out);

# 2. an auditor without the blinding seed: nonces from point_proof()
($rc, $out) = run_script(
	'--seals', export_json('seals_noseed',
		'SELECT id, asset_id, node_id, chain_pos, batch_ids, first_seq, last_seq, point_count,'
		  . ' min_ts, max_ts, merkle_root, prev_hash, algorithm, key_id, signature, sealed_at'
		  . ' FROM dataspace.seal'),
	'--points', export_json('points_nonce',
		q{SELECT p.*, dataspace.point_proof(p.asset_id, p.seq) ->> 'nonce' AS nonce
		    FROM dataspace.point p}),
	'--keys', "$dir/keys1.json");
is($rc, 0, 'script accepts every seal with nonces from proofs instead of the seed') or diag($out);

# 3. one proof, offline
my $proof = $node->safe_psql('postgres', qq{
SELECT dataspace.point_proof('$A1', (SELECT min(seq) + 2 FROM dataspace.point WHERE asset_id = '$A1'))});
my $proof_file = "$dir/proof.json";
open(my $pf, '>', $proof_file) or die;
print $pf $proof;
close($pf);
($rc, $out) = run_script('--proof', $proof_file);
is($rc, 0, 'script accepts a point_proof offline') or diag($out);
my $bad_proof = $node->safe_psql('postgres', qq{
SELECT jsonb_set('$proof'::jsonb, '{value}', to_jsonb(('$proof'::jsonb ->> 'value')::float8 + 1))});
open($pf, '>', $proof_file) or die;
print $pf $bad_proof;
close($pf);
($rc, $out) = run_script('--proof', $proof_file);
is($rc, 1, 'script rejects a proof with a changed value');
like($out, qr/leaf_hash differs/, 'and says the leaf differs');

# 4. tamper one stored value behind the extension's back
my ($victim_seal, $victim_seq) = split /\|/, $node->safe_psql('postgres', qq{
SELECT s.id, p.seq FROM dataspace.seal s JOIN dataspace.point p
    ON p.asset_id = s.asset_id AND p.seq BETWEEN s.first_seq AND s.last_seq
   AND p.batch_id = ANY (s.batch_ids)
 WHERE s.asset_id = '$A2' AND s.chain_pos = 2 ORDER BY p.seq LIMIT 1});
$node->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.point SET value = value + 0.5 WHERE asset_id = '$A2' AND seq = $victim_seq;
});
is($node->safe_psql('postgres', qq{
SELECT string_agg(seal_id || ':' || reason, ',') FROM dataspace.verify_asset('$A2') WHERE NOT ok}),
	"$victim_seal:value changed", 'verify_asset names the broken seal');

($rc, $out) = run_script(export_all('2'));
is($rc, 1, 'script fails after tampering');
like($out, qr/^seal $victim_seal BROKEN: Merkle root of the stored points differs$/m,
	'script names the broken seal and why');
like($out, qr/^$nseals seals, 1 broken$/m, 'and only that seal');

# 5. a seal row changed: its signature and the next seal's chain link break
$node->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.seal SET sealed_at = sealed_at + interval '1 microsecond'
 WHERE asset_id = '$A1' AND chain_pos = 1;
});
my ($s1, $s2) = split /\n/, $node->safe_psql('postgres', qq{
SELECT id FROM dataspace.seal WHERE asset_id = '$A1' AND chain_pos IN (1, 2) ORDER BY chain_pos});
($rc, $out) = run_script(export_all('3'));
is($rc, 1, 'script fails after a seal row changed');
like($out, qr/^seal $s1 BROKEN: bad signature$/m, 'the changed seal has a bad signature');
like($out, qr/^seal $s2 BROKEN: prev_hash is not the hash of the previous seal$/m,
	'the next seal no longer chains to it');
is($node->safe_psql('postgres', qq{
SELECT string_agg(seal_id || ':' || reason, ',' ORDER BY seal_id) FROM dataspace.verify_asset('$A1') WHERE NOT ok}),
	"$s1:bad signature,$s2:chain broken", 'verify_asset agrees');

$node->stop;
done_testing();
