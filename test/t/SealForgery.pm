# Seals that only their signer could make: validly signed over fields that
# say something false.  The signer's private key is read from its data
# directory and the node_key table independently of the extension
# (test/nodekey.py), so tests can show what verification makes of a seal
# its own node got wrong.
package SealForgery;

use strict;
use warnings;
use Exporter 'import';
use File::Basename qw(dirname);
use IPC::Run;

our @EXPORT = qw(forge_seal);

my $nodekey = dirname(__FILE__) . '/../nodekey.py';

# forge_seal($holder, $table, $id, $set, $signer): in $holder's
# dataspace.$table (seal or received_seal), set the signed fields of seal
# $id as $set says (an UPDATE's SET list), and sign the result with the key
# of $signer (a node whose node_key holds the seal's key_id), behind the
# extension's back; returns the new seal hash in hex.
sub forge_seal
{
	my ($holder, $table, $id, $set, $signer) = @_;
	my $json = $holder->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.$table SET $set WHERE id = $id;
SELECT json_build_object('node_id', node_id, 'asset_id', asset_id, 'chain_pos', chain_pos,
         'prev_hash', encode(prev_hash, 'hex'), 'merkle_root', encode(merkle_root, 'hex'),
         'point_count', point_count, 'first_seq', first_seq, 'last_seq', last_seq,
         'min_ts', min_ts, 'max_ts', max_ts, 'sealed_at', sealed_at, 'key_id', encode(key_id, 'hex'))
  FROM dataspace.$table WHERE id = $id});
	my ($key_id) = $json =~ /"key_id"\s*:\s*"([0-9a-f]{64})"/
	  or die "seal $id not found in dataspace.$table";
	my ($node_id, $wrapped) = split /\|/, $signer->safe_psql('postgres', qq{
SELECT node_id, encode(wrapped_private_key, 'hex') FROM dataspace.node_key
 WHERE key_id = '\\x$key_id'});
	die "the signer has no key $key_id" unless $wrapped;

	my ($out, $err) = ('', '');
	IPC::Run::run([ 'python3', $nodekey, 'sign-seal', $signer->data_dir . '/pg_dataspace.key',
					$node_id, $key_id, $wrapped ],
		'<', \$json, '>', \$out, '2>', \$err)
	  or die "nodekey.py sign-seal: $err";
	my ($signature, $hash) = split ' ', $out;
	$holder->safe_psql('postgres', qq{
SET session_replication_role = replica;
UPDATE dataspace.$table SET signature = '\\x$signature', seal_hash = '\\x$hash' WHERE id = $id});
	return $hash;
}

1;
