-- Retention removes whole sealed runs under a signed record, and the
-- chain still verifies; rotation keeps old seals valid; revocation flags
-- the seals made after the compromise.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-000000000003', 'flow', 'stream', 5);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000d1', '2026-04-01 00:00:00+00'::timestamptz + i * interval '1 hour', i
  FROM generate_series(1, 15) i;
SELECT dataspace.seal_pending() AS seals;
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '2026-04-01 10:30:00+00') AS dropped;
SELECT count(*) AS left, min(ts) FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000000d1';
SELECT through_chain_pos, before, points_dropped, length(signature) AS sig FROM dataspace.retention;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d1') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
-- nothing more to drop
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '2026-04-01 10:30:00+00') AS dropped;
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '2026-04-01 03:00:00+00') AS dropped;
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000ff', '2026-04-01 03:00:00+00');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '2026-05-01');
ROLLBACK;
-- without its retention record, the dropped runs are missing points
SET session_replication_role = replica;
CREATE TEMP TABLE saved_retention AS SELECT * FROM dataspace.retention;
DELETE FROM dataspace.retention;
RESET session_replication_role;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d1') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
-- a forged record (its signature does not match) does not count either
SET session_replication_role = replica;
INSERT INTO dataspace.retention SELECT * FROM saved_retention;
UPDATE dataspace.retention SET through_chain_pos = 3;
RESET session_replication_role;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d1') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
SET session_replication_role = replica;
UPDATE dataspace.retention SET through_chain_pos = 2;
RESET session_replication_role;
SELECT bool_and(ok) AS all_ok FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d1');

-- key revocation: seals made after the compromise are flagged
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000000e1', '00000000-0000-4000-8000-000000000003', 'level', 'stream');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000e1', '2026-04-02 00:00:00+00', 1);
SELECT dataspace.seal_pending() AS seals;
SELECT clock_timestamp() AS compromised \gset
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000e1', '2026-04-02 00:00:01+00', 2);
SELECT dataspace.seal_pending() AS seals;
SELECT key_id AS old_key FROM dataspace.node_public_key WHERE retired_at IS NULL \gset
SELECT dataspace.revoke_node_key(:'old_key', :'compromised', 'laptop stolen') <> :'old_key' AS replaced;
\set VERBOSITY sqlstate
SELECT dataspace.revoke_node_key(:'old_key', :'compromised', 'again');
\set VERBOSITY default
SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked,
       count(*) FILTER (WHERE retired_at IS NULL) AS current FROM dataspace.node_public_key;
SELECT length(revocation_signature) AS sig, revocation_reason FROM dataspace.node_key WHERE revoked_at IS NOT NULL;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000e1', '2026-04-02 00:00:02+00', 3);
SELECT dataspace.seal_pending() AS seals;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000e1') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
-- seals made under earlier, rotated keys still verify
SELECT count(*) > 0 AS seals, bool_and(v.ok) AS all_ok,
       bool_and(s.key_id <> (SELECT key_id FROM dataspace.node_public_key WHERE retired_at IS NULL))
         AS all_by_retired_keys
  FROM dataspace.asset a, dataspace.verify_asset(a.id) v JOIN dataspace.seal s ON s.id = v.seal_id
 WHERE a.id IN ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000b1',
                '00000000-0000-4000-8000-0000000000d1');
-- the cut-off must be finite: it is signed as microseconds since 1970
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', 'infinity');
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '-infinity');
-- seal_max_delay is bounded, so that due times stay in range
UPDATE dataspace.asset SET seal_min_points = 100, seal_max_delay = '300000 years'
 WHERE id = '00000000-0000-4000-8000-0000000000d1';
UPDATE dataspace.asset SET seal_min_points = 100, seal_max_delay = '1 year'
 WHERE id = '00000000-0000-4000-8000-0000000000d1';
SELECT seal_min_points, seal_max_delay FROM dataspace.asset WHERE id = '00000000-0000-4000-8000-0000000000d1';
-- a later cut-off drops the next seals' points only: a point put back
-- behind the extension's back into a run dropped before stays, and its
-- seal is named
SET session_replication_role = replica;
INSERT INTO dataspace.point (asset_id, seq, batch_id, ts, value)
SELECT asset_id, first_seq, batch_ids[1], min_ts, 1 FROM dataspace.seal
 WHERE asset_id = '00000000-0000-4000-8000-0000000000d1' AND chain_pos = 1;
RESET session_replication_role;
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d1', '2026-04-01 15:30:00+00') AS dropped;
SELECT through_chain_pos, points_dropped FROM dataspace.retention
 WHERE asset_id = '00000000-0000-4000-8000-0000000000d1' ORDER BY 1;
SELECT count(*) AS left FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000000d1';
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d1') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
