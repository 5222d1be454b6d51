-- Key rotation as the hub sees it (docs/hub.md, "Key rotation"): every
-- announced key carries the previous key's signature and its own proof of
-- possession; participants' key history is never deleted; the hub's
-- functions refuse on a node.
SELECT length(dataspace.rotate_node_key()) AS rotated;
SELECT length(announcement_signature) AS announcement_sig,
       length(possession_signature) AS possession_sig,
       possession_signature <> announcement_signature AS distinct_sigs
  FROM dataspace.node_public_key WHERE retired_at IS NULL;
-- the first key has no previous key, hence nothing to prove
SELECT count(*) AS keys_without_proof FROM dataspace.node_public_key
 WHERE previous_key_id IS NOT NULL AND possession_signature IS NULL;
-- the key history of participants is append-only
INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position, valid_from)
VALUES ('00000000-0000-4000-8000-00000000f001', sha256('\x01'), sha256('\x02'), 1, '2026-01-01 00:00+00');
DELETE FROM dataspace.participant_key;
TRUNCATE dataspace.participant_key;
-- a later key must name the key it follows
INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position, valid_from)
VALUES ('00000000-0000-4000-8000-00000000f001', sha256('\x03'), sha256('\x04'), 2, '2026-01-01 00:00+00');
-- hub functions on a node
SELECT * FROM dataspace.hub_whoami();
-- no key history is visible to PUBLIC
SET ROLE dataspace_writer;
SELECT count(*) FROM dataspace.participant_key;
RESET ROLE;
