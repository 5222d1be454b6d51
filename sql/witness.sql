-- The witness on one node without a hub: verify_anchor of an asset never
-- anchored, check_tree_head without a pinned hub key, the tree-head
-- exchange outside an authenticated export session, and who may call and
-- read what.  Heads from a hub are in test/t/009_witness.pl and
-- test/t/016_split_view.pl.
\set VERBOSITY default
SELECT * FROM dataspace.verify_anchor('00000000-0000-4000-8000-0000000000aa');
SELECT * FROM dataspace.verify_anchor(NULL);
SHOW dataspace.hub_public_key;
-- a head of type 18 (hub id, size 1, a root, a time), signed by nobody
SELECT * FROM dataspace.check_tree_head(
  decode('5047445301120000001000000000000000000000000000000000000000080000000000000001'
         '000000201111111111111111111111111111111111111111111111111111111111111111'
         '000000080000000000000000', 'hex'),
  decode(repeat('00', 64), 'hex'));
SELECT * FROM dataspace.check_tree_head('\x00', '\x00');
SELECT * FROM dataspace.check_tree_head(NULL, '\x00');
SELECT * FROM dataspace.exchange_tree_heads(NULL, NULL);
SELECT count(*) AS no_peer_heads FROM dataspace.peer_tree_head;

CREATE ROLE regress_witness_nobody;
CREATE ROLE regress_witness_reader IN ROLE dataspace_reader;
CREATE ROLE regress_witness_export IN ROLE dataspace_export;
SET ROLE regress_witness_nobody;
SELECT count(*) FROM dataspace.peer_tree_head;
SELECT * FROM dataspace.check_tree_head('\x00', '\x00');
RESET ROLE;
SET ROLE regress_witness_reader;
SELECT count(*) AS reader_reads FROM dataspace.peer_tree_head;
DELETE FROM dataspace.peer_tree_head;
RESET ROLE;
SET ROLE regress_witness_export;
SELECT count(*) FROM dataspace.peer_tree_head;
SELECT * FROM dataspace.check_tree_head('\x00', '\x00');
SELECT * FROM dataspace.exchange_tree_heads(NULL, NULL);
RESET ROLE;
DROP ROLE regress_witness_nobody, regress_witness_reader, regress_witness_export;
