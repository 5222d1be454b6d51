-- Retention under a key revoked later: a record signed after the key's
-- compromise could have been made by whoever held the key, to hide deleted
-- points, so it does not count.  Last in the schedule: it revokes the
-- current key.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000d2', '00000000-0000-4000-8000-000000000003', 'retained pressure', 'stream', 2);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000d2', '2026-04-03 00:00:00+00'::timestamptz + i * interval '1 hour', i
  FROM generate_series(0, 3) i;
SELECT dataspace.seal_pending() AS seals;
SELECT clock_timestamp() AS compromised_later \gset
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000d2', '2026-04-03 02:30:00+00') AS dropped;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d2') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
SELECT key_id AS signing_key FROM dataspace.node_public_key WHERE retired_at IS NULL \gset
SELECT dataspace.revoke_node_key(:'signing_key', :'compromised_later', 'key leaked') <> :'signing_key' AS replaced;
SELECT s.chain_pos, v.ok, v.reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000d2') v JOIN dataspace.seal s ON s.id = v.seal_id
 ORDER BY 1;
