# A malicious hub forges contract steps.  The hub operator, superuser on
# the hub, replaces participant b's key in the registry with a key of its
# own and delivers to node a steps "by b" signed with that key: a suspend
# on an existing contract and an offer of a new contract that pins the
# substituted key.  Node a must refuse them, keep the contract as it was,
# record the refusal, and still take b's genuine steps afterwards.  A step
# signed with b's real key and changed by one byte on the way is refused
# too, by the hub-sync worker and by dataspace.receive_contract_step().
#
# The forged steps are built here, from docs/contracts.md and
# docs/encoding.md, and signed with the openssl CLI.  So that a refusal
# cannot come from a mistake in this encoder, the encoder first rebuilds
# b's genuine steps and contract from independent sources (table columns,
# b's public key) and must reproduce the stored bytes exactly, and each
# forgery is checked to verify under the substituted key: what node a
# refuses is a well-formed step whose only fault is the key.
use strict;
use warnings;
use Digest::SHA qw(sha256);
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use ReplicationSetup;

my $dir = PostgreSQL::Test::Utils::tempdir;

# ---- the encoder: docs/encoding.md framing, docs/contracts.md fields ----

sub field { my $b = shift; return pack('N', length $b) . $b; }
sub i64_field { return field(pack('q>', shift)); }
sub uuid_bytes { (my $u = shift) =~ tr/-//d; return pack('H*', $u); }
sub hex_of { return unpack('H*', shift); }
sub bytes_of { return pack('H*', shift); }

# Canonical contract bytes (PGDS type 10).
sub contract_bytes
{
	my %c = @_;
	my $assets = join('', sort map { uuid_bytes($_) } @{ $c{assets} });
	return "PGDS\x01\x0a"
	  . field(uuid_bytes($c{id}))
	  . field(uuid_bytes($c{provider}))
	  . field(uuid_bytes($c{consumer}))
	  . field($c{provider_key_id})
	  . field($c{consumer_key_id})
	  . field($assets)
	  . field($c{policy})
	  . i64_field($c{valid_from})
	  . i64_field($c{valid_until});
}

# A contract step (PGDS type 11).
sub step_bytes
{
	my %s = @_;
	return "PGDS\x01\x0b"
	  . field(uuid_bytes($s{contract}))
	  . i64_field($s{step_no})
	  . field($s{step})
	  . field(uuid_bytes($s{actor}))
	  . field($s{key_id})
	  . field($s{contract_hash})
	  . field($s{prev_hash})
	  . i64_field($s{at})
	  . field($s{reason})
	  . field($s{party_signature});
}

# The fields of a framed message, after checking the frame's tag and type.
sub message_fields
{
	my ($m, $type) = @_;
	die "not a PGDS message of type $type" unless substr($m, 0, 6) eq "PGDS\x01" . chr($type);
	my ($p, @f) = (6);
	while ($p < length $m)
	{
		my $n = unpack('N', substr($m, $p, 4));
		push @f, substr($m, $p + 4, $n);
		$p += 4 + $n;
	}
	die 'truncated message' unless $p == length $m;
	return @f;
}

# ---- Ed25519 with the openssl CLI ----

sub write_bin
{
	my ($name, $bytes) = @_;
	open my $fh, '>:raw', "$dir/$name" or die "$dir/$name: $!";
	print $fh $bytes;
	close $fh;
	return "$dir/$name";
}

sub read_bin
{
	my $path = shift;
	open my $fh, '<:raw', $path or die "$path: $!";
	local $/;
	my $b = <$fh>;
	close $fh;
	return $b;
}

# A public key as SubjectPublicKeyInfo DER (RFC 8410) from its 32 raw bytes.
sub spki_der { return bytes_of('302a300506032b6570032100') . shift; }

sub ed25519_sign
{
	my ($keyfile, $msg) = @_;
	my $in = write_bin('to_sign.bin', $msg);
	system_or_bail('openssl', 'pkeyutl', '-sign', '-rawin', '-inkey', $keyfile,
		'-in', $in, '-out', "$dir/signature.bin");
	return read_bin("$dir/signature.bin");
}

sub ed25519_verifies
{
	my ($pk, $msg, $sig) = @_;
	my $pub = write_bin('pub.der', spki_der($pk));
	my $in = write_bin('to_verify.bin', $msg);
	my $s = write_bin('sig.bin', $sig);
	return IPC::Run::run([ 'openssl', 'pkeyutl', '-verify', '-rawin', '-pubin',
			'-keyform', 'DER', '-inkey', $pub, '-sigfile', $s, '-in', $in ],
		'>', \my $out, '2>', \my $err) ? 1 : 0;
}

sub now_us { return int(Time::HiRes::time() * 1_000_000); }

# ---- a dataspace of two nodes; b offers a contract to a ----

my ($hub, $hub_key) = new_hub('a', 'b');
my $a = new_node($hub, $hub_key, 'a', '');
my $b = new_node($hub, $hub_key, 'b', '');
my %id = (a => $a->safe_psql('postgres', 'SELECT dataspace.node_id()'),
	b => $b->safe_psql('postgres', 'SELECT dataspace.node_id()'));
ok($hub->poll_query_until('postgres', q{SELECT count(*) = 2 FROM dataspace.participant}),
	'both nodes registered');
$hub->safe_psql('postgres', 'SELECT dataspace.approve_participant(node_id) FROM dataspace.participant');

my $asset = '00000000-0000-4000-8000-0000000014a1';
$b->safe_psql('postgres', qq{
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000014a0', 'pump');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('$asset', '00000000-0000-4000-8000-0000000014a0', 'pressure', 'stream', 'public');
});
for my $n ($a, $b)
{
	ok($n->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM dataspace.participant WHERE status = 'approved'}),
		$n->name . ' caches both participants');
}
ok($a->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM dataspace.hub_catalog WHERE asset_id = '$asset'}),
	'node a caches b\'s asset');

my $k = $b->safe_psql('postgres', qq{
SELECT dataspace.offer_contract('$id{a}', '{$asset}', '{"max_age": "P30D"}', now() + interval '1 year')});
ok($a->poll_query_until('postgres', qq{SELECT state = 'OFFERED' FROM dataspace.contract WHERE id = '$k'}),
	'b\'s offer reaches node a');
is($a->safe_psql('postgres', qq{SELECT dataspace.accept_contract('$k')}), 'ACCEPTED', 'node a accepts');
for my $n ($a, $b, $hub)
{
	ok($n->poll_query_until('postgres', qq{SELECT state = 'active' AND last_step_no = 5
  FROM dataspace.contract WHERE id = '$k'}), 'the contract is active at ' . $n->name);
}

my $pk_a = bytes_of($a->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()}));
my $pk_b = bytes_of($b->safe_psql('postgres', q{SELECT encode(public_key, 'hex') FROM dataspace.node_info()}));

# what the hub stores for the contract and its steps
my ($canonical_hex, $chash_hex, $psig_hex, $pkid_hex, $ckid_hex, $from_us, $until_us) = split /\|/,
  $hub->safe_psql('postgres', qq{
SELECT encode(canonical, 'hex'), encode(contract_hash, 'hex'), encode(provider_signature, 'hex'),
       encode(provider_key_id, 'hex'), encode(consumer_key_id, 'hex'),
       (extract(epoch FROM valid_from) * 1000000)::bigint, (extract(epoch FROM valid_until) * 1000000)::bigint
  FROM dataspace.contract WHERE id = '$k'});
my $canonical = bytes_of($canonical_hex);
my %hub_step;
for my $row (split /\n/, $hub->safe_psql('postgres', qq{
SELECT step_no, step, actor_id, encode(message, 'hex'), encode(signature, 'hex'), encode(step_hash, 'hex')
  FROM dataspace.contract_step WHERE contract_id = '$k' ORDER BY step_no}))
{
	my ($no, $step, $actor, $m, $s, $h) = split /\|/, $row;
	$hub_step{$no} = { step => $step, actor => $actor, message => bytes_of($m),
		signature => bytes_of($s), hash => bytes_of($h) };
}
is(join(',', map { "$_:$hub_step{$_}{step}:" . ($hub_step{$_}{actor} eq $id{b} ? 'b' : 'a') } sort keys %hub_step),
	'1:offer:b,2:accept:a,3:agree:b,4:verify:a,5:finalize:b',
	'the hub holds b\'s offer, a\'s acceptance and the automatic steps');

# ---- positive control: the encoder rebuilds b's genuine bytes ----

my $policy = (message_fields($canonical, 10))[6];
is($policy, '{"max_age":"P30D","onward_sharing":false}', 'the contract\'s policy in canonical form, defaults spelt out');
is(hex_of(contract_bytes(id => $k, provider => $id{b}, consumer => $id{a},
			provider_key_id => sha256($pk_b), consumer_key_id => sha256($pk_a),
			assets => [$asset], policy => '{"max_age":"P30D","onward_sharing":false}',
			valid_from => $from_us, valid_until => $until_us)),
	$canonical_hex, 'the encoder rebuilds the contract bytes from the columns and both public keys');
is(hex_of(sha256($canonical)), $chash_hex, 'the contract hash is SHA-256 of those bytes');
ok(ed25519_verifies($pk_b, $canonical, bytes_of($psig_hex)),
	'openssl verifies b\'s signature over the contract under b\'s public key');

my $zero = "\0" x 32;
for my $no (1, 3, 5)
{
	my $s = $hub_step{$no};
	my $at = unpack('q>', (message_fields($s->{message}, 11))[7]);
	my $prev = $no == 1 ? $zero : $hub_step{ $no - 1 }{hash};
	ok(abs(now_us() - $at) < 600 * 1_000_000, "step $no: its time is a plausible time in microseconds");
	is(hex_of(sha256($s->{message})), hex_of($s->{hash}), "step $no: its stored hash is SHA-256 of its message");
	is(hex_of(step_bytes(contract => $k, step_no => $no, step => $s->{step}, actor => $id{b},
				key_id => sha256($pk_b), contract_hash => sha256($canonical), prev_hash => $prev,
				at => $at, reason => '', party_signature => $no == 1 ? bytes_of($psig_hex) : '')),
		hex_of($s->{message}),
		"step $no ($s->{step}): the encoder rebuilds b's message byte for byte, chained to step " . ($no - 1));
	ok(ed25519_verifies($pk_b, $s->{message}, $s->{signature}),
		"step $no: openssl verifies b's step signature under b's public key");
}

# ---- the hub operator substitutes b's key ----

system_or_bail('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', "$dir/operator.pem");
system_or_bail('openssl', 'pkey', '-in', "$dir/operator.pem", '-pubout', '-outform', 'DER',
	'-out', "$dir/operator.der");
my $pk_x = substr(read_bin("$dir/operator.der"), -32);
is(length $pk_x, 32, 'the operator\'s public key');
ok(!ed25519_verifies($pk_x, $hub_step{5}{message}, $hub_step{5}{signature}),
	'control: b\'s step does not verify under the operator\'s key');

$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.participant SET public_key = '\\x${\ hex_of($pk_x)}', key_id = '\\x${\ hex_of(sha256($pk_x))}'
 WHERE node_id = '$id{b}';
});
ok($a->poll_query_until('postgres', qq{
SELECT key_alarm LIKE 'no chain of key announcements leads % key ${\ hex_of(sha256($pk_x))}'
  FROM dataspace.participant WHERE node_id = '$id{b}'}),
	'node a refuses the substituted key in its participant cache');
is($a->safe_psql('postgres', qq{SELECT encode(public_key, 'hex') FROM dataspace.participant WHERE node_id = '$id{b}'}),
	hex_of($pk_b), 'and keeps b\'s key');
ok($b->poll_query_until('postgres', qq{
SELECT last_error LIKE '%the hub knows this node by key ${\ hex_of(sha256($pk_x))}, which is not a key of this node%'
  FROM dataspace.hub_status}), 'node b stops syncing: the hub shows another key for it');

# ---- a forged suspend "by b" on the existing contract ----

my $forged_reason = 'suspended by b (forged at the hub)';
my %forged = (contract => $k, step_no => 6, step => 'suspend', actor => $id{b},
	key_id => sha256($pk_x), contract_hash => sha256($canonical), prev_hash => $hub_step{5}{hash},
	at => now_us(), reason => $forged_reason, party_signature => '');
my $forged = step_bytes(%forged);
my $forged_sig = ed25519_sign("$dir/operator.pem", $forged);
ok(ed25519_verifies($pk_x, $forged, $forged_sig),
	'the forged step verifies under the key the hub now shows for b');
ok(!ed25519_verifies($pk_b, $forged, $forged_sig), 'and not under b\'s key');

my $a_log = -s $a->logfile;
my $audit_before = $a->safe_psql('postgres', 'SELECT max(seq) FROM dataspace.audit_log');
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
BEGIN;
INSERT INTO dataspace.contract_step (contract_id, step_no, step, actor_id, from_state, to_state,
  message, signature, step_hash)
VALUES ('$k', 6, 'suspend', '$id{b}', 'active', 'suspended',
  '\\x${\ hex_of($forged)}', '\\x${\ hex_of($forged_sig)}', sha256('\\x${\ hex_of($forged)}'));
UPDATE dataspace.contract SET state = 'suspended', last_step_no = 6,
  last_step_hash = sha256('\\x${\ hex_of($forged)}'), reason = '$forged_reason'
 WHERE id = '$k';
COMMIT;
});
$a->wait_for_log(qr/WARNING:  refused step 6 of contract $k from the hub: key ${\ hex_of(sha256($pk_x))} is not in the checked key chain of participant $id{b} after the key the contract pins/,
	$a_log);
pass('node a refuses the forged step at once (it refused the key\'s chain): the key it names is not in b\'s chain');

ok($a->poll_query_until('postgres', qq{
SELECT detail->>'step_no' || ' ' || (detail->>'step') || ' ' || (detail->>'actor') || ' '
       || (detail->>'step_hash') || ' ' || (detail->>'reason')
  FROM dataspace.audit_log WHERE event = 'contract.step_refused' AND subject = '$k' AND seq > $audit_before},
	"6 suspend $id{b} " . hex_of(sha256($forged)) . ' key ' . hex_of(sha256($pk_x))
	  . " is not in the checked key chain of participant $id{b} after the key the contract pins"),
	'node a records the refusal in its audit log, with the forged step\'s hash');
is($a->safe_psql('postgres', qq{
SELECT state || ' ' || last_step_no || ' ' || encode(last_step_hash, 'hex') || ' ' || coalesce(reason, '(none)')
       || ' ' || dataspace.contract_allows('$k', '$asset', now())
       || ' ' || (SELECT count(*) FROM dataspace.contract_step WHERE contract_id = '$k')
  FROM dataspace.contract WHERE id = '$k'}),
	'active 5 ' . hex_of($hub_step{5}{hash}) . ' (none) true 5',
	'node a\'s contract is unchanged: active, five steps, the same head, still allowing');
ok($a->poll_query_until('postgres', qq{
SELECT alarm LIKE 'the hub shows participant $id{b} with key ${\ hex_of(sha256($pk_x))}, not the key the contract pins%'
  FROM dataspace.contract WHERE id = '$k'}), 'node a\'s contract carries the key alarm');

# the manual path refuses the forged step as well, whichever key it names
my $refused = sub {
	my ($node, $msg, $sig) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', qq{
SELECT dataspace.receive_contract_step('\\x$canonical_hex', '\\x${\ hex_of($msg)}', '\\x${\ hex_of($sig)}')},
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return $rc == 0 ? "accepted: $out" : $err;
};
like($refused->($a, $forged, $forged_sig),
	qr/ERROR:  28000: contract step refused\nDETAIL:  Key ${\ hex_of(sha256($pk_x))} is not in the checked key chain of participant $id{b} after the key the contract pins\./,
	'receive_contract_step() refuses the forged step: the key it names is not in b\'s chain');
my $claiming = step_bytes(%forged, key_id => sha256($pk_b));
my $claiming_sig = ed25519_sign("$dir/operator.pem", $claiming);
ok(ed25519_verifies($pk_x, $claiming, $claiming_sig), 'a forgery that names b\'s own key id verifies under the operator\'s key');
like($refused->($a, $claiming, $claiming_sig),
	qr/ERROR:  28000: contract step refused\nDETAIL:  The step's signature does not verify under key ${\ hex_of(sha256($pk_b))}, which contract $k pins for its provider\./,
	'receive_contract_step() refuses it: the signature is not by the pinned key');
is($a->safe_psql('postgres', qq{SELECT state || ' ' || last_step_no FROM dataspace.contract WHERE id = '$k'}),
	'active 5', 'the contract is still unchanged');

# ---- a forged offer of a new contract that pins the substituted key ----

my $k2 = '00000000-0000-4000-8000-0000000014c2';
my $valid_from = now_us();
my $new_contract = contract_bytes(id => $k2, provider => $id{b}, consumer => $id{a},
	provider_key_id => sha256($pk_x), consumer_key_id => sha256($pk_a), assets => [$asset],
	policy => '{"max_age":"P30D","onward_sharing":false}', valid_from => $valid_from, valid_until => $valid_from + 86_400_000_000);
my $offer = step_bytes(contract => $k2, step_no => 1, step => 'offer', actor => $id{b},
	key_id => sha256($pk_x), contract_hash => sha256($new_contract), prev_hash => $zero,
	at => now_us(), reason => '', party_signature => ed25519_sign("$dir/operator.pem", $new_contract));
my $offer_sig = ed25519_sign("$dir/operator.pem", $offer);
ok(ed25519_verifies($pk_x, $offer, $offer_sig), 'the forged offer verifies under the substituted key');
$a_log = -s $a->logfile;
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
BEGIN;
INSERT INTO dataspace.contract (id, provider_id, consumer_id, provider_key_id, consumer_key_id,
  provider_public_key, consumer_public_key, asset_ids, policy, valid_from, valid_until, state,
  initiator, canonical, contract_hash, provider_signature, last_step_no, last_step_hash)
VALUES ('$k2', '$id{b}', '$id{a}', sha256('\\x${\ hex_of($pk_x)}'), sha256('\\x${\ hex_of($pk_a)}'),
  '\\x${\ hex_of($pk_x)}', '\\x${\ hex_of($pk_a)}', '{$asset}', '{"max_age": "P30D"}',
  to_timestamp($valid_from / 1e6), to_timestamp($valid_from / 1e6) + interval '1 day', 'OFFERED',
  'provider', '\\x${\ hex_of($new_contract)}', sha256('\\x${\ hex_of($new_contract)}'),
  '\\x${\ hex_of((message_fields($offer, 11))[9])}', 1, sha256('\\x${\ hex_of($offer)}'));
INSERT INTO dataspace.contract_step (contract_id, step_no, step, actor_id, from_state, to_state,
  message, signature, step_hash)
VALUES ('$k2', 1, 'offer', '$id{b}', '', 'OFFERED', '\\x${\ hex_of($offer)}', '\\x${\ hex_of($offer_sig)}',
  sha256('\\x${\ hex_of($offer)}'));
COMMIT;
});
$a->wait_for_log(qr/WARNING:  refused step 1 of contract $k2 from the hub: the key this node holds for participant $id{b} is not the one contract $k2 pins/,
	$a_log);
pass('node a refuses the forged offer: it pins a key a does not hold for b');
ok($a->poll_query_until('postgres', qq{SELECT count(*) FROM dataspace.audit_log
  WHERE event = 'contract.step_refused' AND subject = '$k2' AND detail->>'step' = 'offer'}, '1'),
	'node a records the refusal in its audit log');
is($a->safe_psql('postgres', qq{SELECT count(*) FROM dataspace.contract WHERE id = '$k2'}), '0',
	'and stores no such contract');

# ---- the hub gives up: b's key is back, then the forged steps go ----

my $b_log = -s $b->logfile;
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.participant SET public_key = '\\x${\ hex_of($pk_b)}', key_id = sha256('\\x${\ hex_of($pk_b)}')
 WHERE node_id = '$id{b}';
});
ok($b->poll_query_until('postgres', qq{SELECT string_agg(detail->>'step', ',' ORDER BY seq) FROM dataspace.audit_log
  WHERE event = 'contract.step_refused' AND subject IN ('$k', '$k2')}, 'suspend,offer'),
	'node b, syncing again, records both forged steps in its name as refused');
ok($b->log_contains(qr/WARNING:  refused step 6 of contract $k from the hub: the hub holds a step 6 in this node's name that this node did not make/, $b_log),
	'the suspend, which it did not make');
ok($b->log_contains(qr/WARNING:  refused step 1 of contract $k2 from the hub: the hub holds a step 1 in this node's name that this node did not make/, $b_log),
	'and the offer');
is($b->safe_psql('postgres', qq{SELECT state || ' ' || last_step_no FROM dataspace.contract WHERE id = '$k'}),
	'active 5', 'node b keeps its contract as it was');
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
BEGIN;
DELETE FROM dataspace.contract_step WHERE contract_id = '$k2' OR (contract_id = '$k' AND step_no = 6);
DELETE FROM dataspace.contract WHERE id = '$k2';
UPDATE dataspace.contract SET state = 'active', last_step_no = 5, last_step_hash = '\\x${\ hex_of($hub_step{5}{hash})}',
  reason = NULL WHERE id = '$k';
COMMIT;
});

# b's genuine suspend is accepted by node a
is($b->safe_psql('postgres', qq{SELECT dataspace.suspend_contract('$k', 'maintenance')}), 'suspended',
	'node b suspends the contract');
ok($a->poll_query_until('postgres', qq{
SELECT state = 'suspended' AND last_step_no = 6 AND reason = 'maintenance' FROM dataspace.contract WHERE id = '$k'}),
	'node a accepts b\'s genuine step 6');
is($a->safe_psql('postgres', qq{SELECT dataspace.contract_allows('$k', '$asset', now())}), 'f',
	'and the suspension takes effect');

# ---- b's genuine revoke, changed by one byte at the hub ----

$a->stop;
is($b->safe_psql('postgres', qq{SELECT dataspace.revoke_contract('$k', 'end of trial')}), 'revoked',
	'node b revokes while node a is down');
ok($hub->poll_query_until('postgres', qq{SELECT state = 'revoked' AND last_step_no = 7 FROM dataspace.contract WHERE id = '$k'}),
	'the hub records it');
my ($genuine_hex, $genuine_sig_hex) = split /\|/, $hub->safe_psql('postgres', qq{
SELECT encode(message, 'hex'), encode(signature, 'hex') FROM dataspace.contract_step
 WHERE contract_id = '$k' AND step_no = 7});
my $genuine = bytes_of($genuine_hex);
my $genuine_sig = bytes_of($genuine_sig_hex);
ok(ed25519_verifies($pk_b, $genuine, $genuine_sig), 'b\'s revoke verifies under b\'s key');
my $at_reason = index($genuine, 'end of trial');
ok($at_reason > 0, 'its reason is in the message');
my $altered = $genuine;
substr($altered, $at_reason + 4, 1) = 'a';    # "end of trial" becomes "end a trial"
is(length($altered), length($genuine), 'one byte changed');
is(scalar(grep { substr($altered, $_, 1) ne substr($genuine, $_, 1) } 0 .. length($genuine) - 1), 1,
	'exactly one');
ok(!ed25519_verifies($pk_b, $altered, $genuine_sig), 'the altered step no longer verifies under b\'s key');
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.contract_step SET message = '\\x${\ hex_of($altered)}', step_hash = sha256('\\x${\ hex_of($altered)}')
 WHERE contract_id = '$k' AND step_no = 7;
UPDATE dataspace.contract SET reason = 'end a trial' WHERE id = '$k';
});
$a_log = -s $a->logfile;
$a->start;
$a->wait_for_log(qr/WARNING:  refused step 7 of contract $k from the hub: the step's signature does not verify under key ${\ hex_of(sha256($pk_b))}, which contract $k pins for its provider/,
	$a_log);
pass('node a refuses the altered step');
ok($a->poll_query_until('postgres', qq{SELECT count(*) FROM dataspace.audit_log
  WHERE event = 'contract.step_refused' AND subject = '$k' AND detail->>'step_no' = '7'
    AND detail->>'step_hash' = '${\ hex_of(sha256($altered))}'}, '1'),
	'and records the refusal in its audit log');
is($a->safe_psql('postgres', qq{
SELECT state || ' ' || last_step_no || ' ' || reason FROM dataspace.contract WHERE id = '$k'}),
	'suspended 6 maintenance', 'node a\'s contract is unchanged');
like($refused->($a, $altered, $genuine_sig),
	qr/ERROR:  28000: contract step refused\nDETAIL:  The step's signature does not verify under key ${\ hex_of(sha256($pk_b))}, which contract $k pins for its provider\./,
	'receive_contract_step() refuses the altered step');

# the genuine step, carried by hand, is taken; the hub then delivers it
# intact and node a sees it already has it
is($refused->($a, $genuine, $genuine_sig), 'accepted: revoked',
	'receive_contract_step() takes b\'s genuine revoke');
$a_log = -s $a->logfile;
$hub->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.contract_step SET message = '\\x$genuine_hex', step_hash = sha256('\\x$genuine_hex'),
  seq = nextval('dataspace.contract_step_seq')
 WHERE contract_id = '$k' AND step_no = 7;
UPDATE dataspace.contract SET reason = 'end of trial' WHERE id = '$k';
});
ok($a->poll_query_until('postgres', qq{
SELECT hub_seq IS NOT NULL FROM dataspace.contract_step WHERE contract_id = '$k' AND step_no = 7}),
	'node a matches the step the hub delivers with the one it holds');
ok(!$a->log_contains(qr/refused step 7 of contract $k/, $a_log), 'without refusing it');

# both ends and the hub hold the same chain, and a's audit log verifies
my $chain = qq{SELECT string_agg(step || ':' || encode(step_hash, 'hex'), ',' ORDER BY step_no)
  FROM dataspace.contract_step WHERE contract_id = '$k'};
ok($b->poll_query_until('postgres', qq{SELECT state = 'revoked' FROM dataspace.contract WHERE id = '$k'}),
	'node b has it revoked');
is($a->safe_psql('postgres', $chain), $hub->safe_psql('postgres', $chain), 'node a holds the hub\'s chain');
is($b->safe_psql('postgres', $chain), $hub->safe_psql('postgres', $chain), 'and so does node b');
is($a->safe_psql('postgres', q{SELECT count(*) > 0 AND bool_and(ok) FROM dataspace.verify_audit_log()}), 't',
	'node a\'s audit log, refusals included, verifies');

$_->stop for ($a, $b, $hub);
done_testing();
