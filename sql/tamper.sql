-- Tampering behind the extension's back (superuser, replica role, so the
-- append-only triggers do not fire) is detected and the seal is named.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000003', 'vibration', 'stream', 4),
  ('00000000-0000-4000-8000-0000000000c2', '00000000-0000-4000-8000-000000000003', 'noise', 'stream', 100);
-- two assets in one statement: each asset's seqs have gaps
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 2 = 1 THEN '00000000-0000-4000-8000-0000000000c1'::uuid
            ELSE '00000000-0000-4000-8000-0000000000c2'::uuid END,
       '2026-03-01 00:00:00+00'::timestamptz + (i + 1) / 2 * interval '1 hour', (i + 1) / 2 * 1.5
  FROM generate_series(1, 80) i;
SELECT dataspace.seal_pending() AS seals;
CREATE VIEW pg_temp.report AS
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000c1') v
  LEFT JOIN dataspace.seal s ON s.id = v.seal_id;
SELECT * FROM pg_temp.report ORDER BY chain_pos NULLS LAST;
-- an interval selects the seals whose time range overlaps it
SELECT s.chain_pos, v.ok FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000c1',
       '2026-03-01 05:30:00+00', '2026-03-01 09:00:00+00') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
CREATE TEMP TABLE c AS
SELECT s.chain_pos, s.id, s.batch_ids[1] AS batch_id, s.first_seq, s.last_seq
  FROM dataspace.seal s WHERE s.asset_id = '00000000-0000-4000-8000-0000000000c1';

SET session_replication_role = replica;
-- seal 1: a value changed
UPDATE dataspace.point SET value = value + 0.001 WHERE asset_id = '00000000-0000-4000-8000-0000000000c1'
   AND seq = (SELECT first_seq + 2 FROM c WHERE chain_pos = 1);
-- seal 2: a timestamp changed
UPDATE dataspace.point SET ts = ts + interval '1 microsecond' WHERE asset_id = '00000000-0000-4000-8000-0000000000c1'
   AND seq = (SELECT first_seq FROM c WHERE chain_pos = 2);
-- seal 3: a point deleted
DELETE FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000000c1'
   AND seq = (SELECT last_seq FROM c WHERE chain_pos = 3);
-- seal 4: a point added inside the sealed run, in a gap of its seqs and
-- with the run's batch id
INSERT INTO dataspace.point (asset_id, seq, ts, value, batch_id)
SELECT '00000000-0000-4000-8000-0000000000c1', first_seq + 1, '2026-03-01 13:30:00+00', 0, batch_id
  FROM c WHERE chain_pos = 4;
-- seal 5: a signature changed
UPDATE dataspace.seal SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)
 WHERE id = (SELECT id FROM c WHERE chain_pos = 5);
-- seal 6: signed with a key this node does not have
UPDATE dataspace.seal SET key_id = sha256('another key')
 WHERE id = (SELECT id FROM c WHERE chain_pos = 6);
-- seal 7: deleted; seal 8 then misses its predecessor, seal 7's points are unsealed
DELETE FROM dataspace.seal WHERE id = (SELECT id FROM c WHERE chain_pos = 7);
-- seal 9: its root rewritten (bad signature), so seal 10's link breaks
UPDATE dataspace.seal SET merkle_root = sha256('forged')
 WHERE id = (SELECT id FROM c WHERE chain_pos = 9);
-- after the last seal: a point nobody queued
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('00000000-0000-4000-8000-0000000000c1', '2026-03-03 00:00:00+00', 42);
RESET session_replication_role;

SELECT * FROM pg_temp.report ORDER BY chain_pos NULLS LAST;
SELECT c.chain_pos, dataspace.verify_seal(c.id) FROM c WHERE c.chain_pos <> 7 ORDER BY 1;
-- a pending run is reported with ok NULL, not as tampering
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('00000000-0000-4000-8000-0000000000c1', '2026-03-04 00:00:00+00', 43);
SELECT * FROM pg_temp.report WHERE chain_pos IS NULL ORDER BY ok NULLS FIRST;
SELECT dataspace.seal_pending() AS seals;
-- sealing goes on: the chain head itself is intact
SELECT * FROM pg_temp.report WHERE chain_pos > 10 ORDER BY 1;
-- undoing the change to seal 1's value makes it verify again: evidence is the bytes
SET session_replication_role = replica;
UPDATE dataspace.point SET value = value - 0.001 WHERE asset_id = '00000000-0000-4000-8000-0000000000c1'
   AND seq = (SELECT first_seq + 2 FROM c WHERE chain_pos = 1);
RESET session_replication_role;
SELECT dataspace.verify_seal(id) FROM c WHERE chain_pos = 1;
SELECT * FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000ff');
SELECT * FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000c1', 'infinity', '-infinity');
-- The newest seal deleted: its points are reported as not sealed, and the
-- next seal would take its place in the chain.  Deleted together with its
-- points, nothing local shows it (here asset c2 is left with no seal and no
-- point at all): only the chain heads anchored at the hub do
-- (verify_anchor, 'anchored seal missing', test/t/009_witness.pl).
SET session_replication_role = replica;
DELETE FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000c1'
   AND chain_pos = (SELECT max(chain_pos) FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000c1');
RESET session_replication_role;
SELECT * FROM pg_temp.report WHERE chain_pos IS NULL OR chain_pos > 10 ORDER BY chain_pos NULLS LAST, ok;
SELECT count(*) AS seals, sum(point_count) AS points FROM dataspace.seal
 WHERE asset_id = '00000000-0000-4000-8000-0000000000c2';
SET session_replication_role = replica;
DELETE FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000000c2';
DELETE FROM dataspace.seal WHERE asset_id = '00000000-0000-4000-8000-0000000000c2';
RESET session_replication_role;
SELECT count(*) AS rows FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000c2');
