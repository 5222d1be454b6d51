# The purpose term where data leaves the provider: a contract that permits
# some purposes only streams once the consumer has declared one of them;
# the provider refuses a purpose the policy does not permit even when the
# consumer's node sends it anyway, keeps every accepted declaration signed
# by the consumer (checked here with the openssl CLI), and sees a new
# declaration at the consumer's next connection.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my ($hub, $hub_key) = new_hub('a', 'b');
my $a = new_node($hub, $hub_key, 'a', tls_settings($tmp));
my $b = new_node($hub, $hub_key, 'b', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'));
export_logins($a, $id{a}, $tmp, [ 'b', $b ]);

approve_all($hub, $a, $b);

my $twin = '00000000-0000-4000-8000-000000015a00';
my $asset = '00000000-0000-4000-8000-000000015a01';
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('$twin', 'pump');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '$twin', 'flow', 'stream', 'public');
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-01'::timestamptz + g * interval '1 s', g FROM generate_series(1, 1000) g;
SELECT dataspace.seal_pending();
});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE provider_id = '$id{a}'}),
	'node b finds the asset in the catalog');

my $k = agree_contract($b, $a, $id{a}, $asset, '{"purpose": ["maintenance", "research"]}');

# no purpose declared: the provider exports nothing
ok($b->poll_query_until('postgres', qq{
SELECT last_error LIKE '%permits the purposes "maintenance" and "research" only, and no purpose was declared%'
  FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'without a declared purpose the provider refuses the export')
  or diag($b->safe_psql('postgres', 'SELECT last_error FROM dataspace.subscription'));
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'0', 'and nothing is received');
is($a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.purpose_declaration'), '0',
	'the provider keeps no declaration of a refused export');

# the consumer's own function refuses a purpose the contract does not permit
my ($rc, $out, $err) = $b->psql('postgres', qq{SELECT dataspace.declare_purpose('$k', 'marketing')});
like($err, qr/contract $k does not permit purpose "marketing"/, 'declare_purpose refuses an unlisted purpose');

# a consumer node that sends one anyway (its table written behind the
# function's back) is refused by the provider
$b->safe_psql('postgres', qq{INSERT INTO dataspace.contract_purpose VALUES ('$k', 'marketing', now())});
ok($b->poll_query_until('postgres', qq{
SELECT last_error LIKE '%permits the purposes "maintenance" and "research" only, not "marketing"%'
  FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'the provider refuses an unlisted purpose the consumer signed')
  or diag($b->safe_psql('postgres', 'SELECT last_error FROM dataspace.subscription'));
is($b->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'0', 'still nothing is received');
is($a->safe_psql('postgres', 'SELECT count(*) FROM dataspace.purpose_declaration'), '0',
	'and the provider kept no declaration');

# a permitted purpose: the stream runs
$b->safe_psql('postgres', qq{SELECT dataspace.declare_purpose('$k', 'research')});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1000 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'with a permitted purpose declared, the points arrive');
is($b->safe_psql('postgres', qq{SELECT coalesce(last_error, '-') FROM dataspace.subscription WHERE asset_id = '$asset'}),
	'-', 'and the stream shows no error');
is($a->safe_psql('postgres', qq{
SELECT string_agg(purpose || ' ' || (consumer_id = '$id{b}') || ' ' || (contract_id = '$k'), ',')
  FROM dataspace.purpose_declaration}), 'research true true',
	'the provider keeps the consumer\'s declaration');

# the declaration is the consumer's signature over a PGDS type-20 message:
# check it with openssl against the consumer key the contract pins
my $row = $a->safe_psql('postgres', qq{
SELECT encode(d.message, 'hex'), encode(d.signature, 'hex'), encode(c.consumer_public_key, 'hex')
  FROM dataspace.purpose_declaration d JOIN dataspace.contract c ON c.id = d.contract_id
 ORDER BY d.id DESC LIMIT 1});
my ($msg_hex, $sig_hex, $pk_hex) = split /\|/, $row;
my $write_hex = sub {
	my ($path, $hex) = @_;
	open my $fh, '>:raw', $path or die;
	print $fh pack('H*', $hex);
	close $fh;
};
# an Ed25519 public key as DER SubjectPublicKeyInfo: fixed prefix + 32 bytes
$write_hex->("$tmp/consumer.der", '302a300506032b6570032100' . $pk_hex);
$write_hex->("$tmp/decl.msg", $msg_hex);
$write_hex->("$tmp/decl.sig", $sig_hex);
($out, $err) = run_command([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-keyform', 'DER',
		'-inkey', "$tmp/consumer.der", '-rawin', '-in', "$tmp/decl.msg", '-sigfile', "$tmp/decl.sig" ]);
like($out, qr/Signature Verified Successfully/, 'openssl verifies the declaration under the consumer key');
like(pack('H*', $msg_hex), qr/research$/, 'the signed message ends with the declared purpose');
is(substr(pack('H*', $msg_hex), 0, 6), "PGDS\x01\x14", 'it is a PGDS message of type 20');
# one byte of the purpose changed: openssl refuses it
my $bad = substr($msg_hex, 0, -2) . sprintf('%02x', (hex(substr($msg_hex, -2)) ^ 1));
$write_hex->("$tmp/decl.bad", $bad);
($out, $err) = run_command([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-keyform', 'DER',
		'-inkey', "$tmp/consumer.der", '-rawin', '-in', "$tmp/decl.bad", '-sigfile', "$tmp/decl.sig" ]);
like($out . $err, qr/Signature Verification Failure/, 'a changed purpose does not verify');

# a new declaration reaches the provider with the next batch
$b->safe_psql('postgres', qq{SELECT dataspace.declare_purpose('$k', 'maintenance')});
$a->safe_psql('postgres', qq{
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '$asset', '2024-01-02'::timestamptz + g * interval '1 s', g FROM generate_series(1, 10) g;
SELECT dataspace.seal_pending();});
ok($b->poll_query_until('postgres', qq{
SELECT count(*) = 1010 FROM dataspace.received_point WHERE asset_id = '$asset'}),
	'the stream goes on after a new declaration');
is($a->safe_psql('postgres', q{
SELECT purpose FROM dataspace.purpose_declaration ORDER BY id DESC LIMIT 1}), 'maintenance',
	'the provider exported them under the new purpose');
my $log = slurp_file($a->logfile);
like($log, qr/export refused.*\n.*not "marketing"/, 'the provider\'s log names the refused purpose');

# the declarations are kept: nobody changes or deletes them
($rc, $out, $err) = $a->psql('postgres', 'DELETE FROM dataspace.purpose_declaration');
like($err, qr/DELETE is not allowed on dataspace.purpose_declaration/, 'declarations are append-only');
is($b->safe_psql('postgres', qq{
SELECT string_agg(detail->>'purpose', ',' ORDER BY seq) FROM dataspace.audit_log WHERE event = 'contract.purpose'}),
	'research,maintenance', 'the consumer\'s audit log records each declaration');
is($b->safe_psql('postgres', 'SELECT count(*) > 0 AND bool_and(ok) FROM dataspace.verify_audit_log()'), 't',
	'and verifies');

done_testing();
