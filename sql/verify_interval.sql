-- verify_asset over an interval: the seals whose time range overlaps it,
-- each checked against the seal before it in the chain even when that seal
-- lies outside the interval, the points of the interval in no seal, and a
-- seal outside the interval that claims a point inside it.
SET timezone = 'UTC';
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001f0', 'line');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '00000000-0000-4000-8000-0000000001f0', 'speed', 'stream', 2);
-- five seals of two points: seal k holds the points at 2k-1 and 2k seconds
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000001f1', '2026-05-01'::timestamptz + g * interval '1 s', g
  FROM generate_series(1, 10) g;
SELECT dataspace.seal_pending() AS seals;
CREATE TEMP TABLE f AS
SELECT chain_pos, id, first_seq, last_seq, batch_ids[1] AS batch_id FROM dataspace.seal
 WHERE asset_id = '00000000-0000-4000-8000-0000000001f1';
CREATE FUNCTION pg_temp.report(from_s float8, to_s float8)
RETURNS TABLE (chain_pos bigint, ok boolean, reason text) LANGUAGE sql AS $$
  SELECT s.chain_pos, v.ok, v.reason
    FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000001f1',
           CASE WHEN from_s = '-infinity' THEN '-infinity'
                ELSE '2026-05-01'::timestamptz + from_s * interval '1 s' END,
           CASE WHEN to_s = 'infinity' THEN 'infinity'
                ELSE '2026-05-01'::timestamptz + to_s * interval '1 s' END) WITH ORDINALITY v
    LEFT JOIN dataspace.seal s ON s.id = v.seal_id
   ORDER BY v.ordinality $$;
SELECT * FROM pg_temp.report(3, 4);
SELECT * FROM pg_temp.report(4, 7);
SELECT * FROM pg_temp.report(4.2, 4.8);
SELECT * FROM pg_temp.report('-infinity', 'infinity');

CREATE TEMP TABLE saved AS SELECT * FROM dataspace.seal WHERE id = (SELECT id FROM f WHERE chain_pos = 2);

SET session_replication_role = replica;
-- seal 2's root rewritten: its signature breaks, and so does the link of
-- seal 3, checked in an interval that holds only seal 3
UPDATE dataspace.seal SET merkle_root = sha256('forged') WHERE id = (SELECT id FROM f WHERE chain_pos = 2);
SELECT * FROM pg_temp.report(5, 6);
SELECT * FROM pg_temp.report(3, 6);
-- seal 2 deleted: seal 3 misses its predecessor; seal 2's points are in no seal
DELETE FROM dataspace.seal WHERE id = (SELECT id FROM f WHERE chain_pos = 2);
SELECT * FROM pg_temp.report(5, 6);
SELECT * FROM pg_temp.report(3, 4);
SELECT * FROM pg_temp.report(2, 5);
-- put back as it was, it verifies again
INSERT INTO dataspace.seal SELECT * FROM saved;
SELECT * FROM pg_temp.report(3, 6);

-- points nobody queued, in a gap between two seals' times: one row per
-- run of them, after the seals' rows; a sealed point between two of them
-- in seq ends a run
INSERT INTO dataspace.point (asset_id, ts, value, batch_id) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '2026-05-01 00:00:04.5+00', 0, 999999),
  ('00000000-0000-4000-8000-0000000001f1', '2026-05-01 00:00:04.6+00', 0, 999999);
SELECT * FROM pg_temp.report(4.4, 4.7);
SELECT * FROM pg_temp.report(3, 6);
RESET session_replication_role;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000001f1', '2026-05-01 00:00:21+00', 21);
SELECT dataspace.seal_pending() AS seals;
SET session_replication_role = replica;
INSERT INTO dataspace.point (asset_id, ts, value, batch_id) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '2026-05-01 00:00:22+00', 0, 999999);
SELECT * FROM pg_temp.report(3, 22);
DELETE FROM dataspace.point WHERE batch_id = 999999;

-- a point of seal 1 whose time was moved into an interval that seal 1's
-- signed range does not overlap: the interval names seal 1, in chain order
UPDATE dataspace.point SET ts = '2026-05-01 00:00:08.5+00'
 WHERE asset_id = '00000000-0000-4000-8000-0000000001f1' AND seq = (SELECT first_seq FROM f WHERE chain_pos = 1);
SELECT * FROM pg_temp.report(8.4, 8.6);
SELECT * FROM pg_temp.report(7, 9);
UPDATE dataspace.point SET ts = '2026-05-01 00:00:01+00'
 WHERE asset_id = '00000000-0000-4000-8000-0000000001f1' AND seq = (SELECT first_seq FROM f WHERE chain_pos = 1);
RESET session_replication_role;

-- a pending point in the interval: ok NULL
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('00000000-0000-4000-8000-0000000001f1', '2026-05-01 00:00:04.5+00', 1);
SELECT * FROM pg_temp.report(4, 5);
SELECT dataspace.seal_pending() AS seals;
SELECT * FROM pg_temp.report('-infinity', 'infinity');
