-- The sealer holds at most dataspace.sealer_chunk_points points of an
-- asset in memory: runs are sealed in parts, a run larger than a part in
-- windows of that many seq values.  Every point ends in exactly one seal,
-- seals that share a batch never overlap, and everything verifies.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000005a1', '00000000-0000-4000-8000-000000000003', 'parts a', 'stream', 4),
  ('00000000-0000-4000-8000-0000000005a2', '00000000-0000-4000-8000-000000000003', 'parts b', 'stream', 4),
  ('00000000-0000-4000-8000-0000000005a3', '00000000-0000-4000-8000-000000000003', 'parts c', 'stream', 4);
-- one statement of 25 points for a, and 30 points of b and c interleaved
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000005a1', '2026-05-01'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 25) i;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 2 = 0 THEN '00000000-0000-4000-8000-0000000005a2'::uuid
            ELSE '00000000-0000-4000-8000-0000000005a3'::uuid END,
       '2026-05-01'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 60) i;
-- three small transactions for a: runs of 3 points each
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000005a1', '2026-05-02'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 3) i;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000005a1', '2026-05-03'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 3) i;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000005a1', '2026-05-04'::timestamptz + i * interval '1 s', i
  FROM generate_series(1, 3) i;
SELECT asset_id, points, last_seq - first_seq + 1 AS span
  FROM dataspace.pending_batch WHERE asset_id::text LIKE '%5a_' ORDER BY first_seq;
SET dataspace.sealer_chunk_points = 10;
SELECT dataspace.seal_pending() AS seals;
RESET dataspace.sealer_chunk_points;
-- a: the 25-point run in two windows of 10 seq values (4 + 4 + 2 each),
-- then parts of at most 10 noted points: its last 5 with the first small
-- run (4 + 4), the other two small runs (4 + 2); b and c: each run spans
-- 59 seq values, so a window of 10 holds 5 points (4 + 1), until the last
-- 10 points fit in one part (4 + 4 + 2)
SELECT a.name, s.chain_pos, s.point_count, s.last_seq - s.first_seq + 1 AS span,
       pg_catalog.cardinality(s.batch_ids) AS batches
  FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id
 WHERE a.name LIKE 'parts %' ORDER BY a.name, s.chain_pos;
SELECT count(*) AS pending FROM dataspace.pending_run WHERE asset_id::text LIKE '%5a_';
-- each point in exactly one seal
SELECT a.name, count(*) AS points,
       count(*) FILTER (WHERE (SELECT count(*) FROM dataspace.seal s
                                WHERE s.asset_id = p.asset_id AND p.seq BETWEEN s.first_seq AND s.last_seq
                                  AND p.batch_id = ANY (s.batch_ids)) = 1) AS in_one_seal
  FROM dataspace.point p JOIN dataspace.asset a ON a.id = p.asset_id
 WHERE a.name LIKE 'parts %' GROUP BY a.name ORDER BY a.name;
SELECT (SELECT sum(point_count) FROM dataspace.seal WHERE asset_id::text LIKE '%5a_') AS sealed;
-- no two seals of an asset that share a batch overlap
SELECT count(*) AS overlapping
  FROM dataspace.seal x JOIN dataspace.seal y
    ON x.asset_id = y.asset_id AND x.id < y.id AND x.batch_ids && y.batch_ids
   AND x.first_seq <= y.last_seq AND y.first_seq <= x.last_seq
 WHERE x.asset_id::text LIKE '%5a_';
SELECT a.name, count(*) AS seals, bool_and(v.ok) AS all_ok
  FROM dataspace.asset a, dataspace.verify_asset(a.id) v
 WHERE a.name LIKE 'parts %' GROUP BY a.name ORDER BY a.name;
-- Runs are queued by a plain heap insert into pending_batch; should the
-- table have gained an index (a superuser's doing), through SPI, so that
-- the index has them too.
CREATE INDEX pending_batch_extra ON dataspace.pending_batch (asset_id);
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('00000000-0000-4000-8000-0000000005a1', '2026-05-05 00:00:00+00', 1),
       ('00000000-0000-4000-8000-0000000005a1', '2026-05-05 00:00:01+00', 2);
SET enable_seqscan = off;
SELECT points, last_seq - first_seq + 1 AS span, queued_at <= now() AS queued_before_now
  FROM dataspace.pending_batch WHERE asset_id = '00000000-0000-4000-8000-0000000005a1';
RESET enable_seqscan;
DROP INDEX dataspace.pending_batch_extra;
-- and without it, by the heap insert
INSERT INTO dataspace.point (asset_id, ts, value)
VALUES ('00000000-0000-4000-8000-0000000005a1', '2026-05-05 00:00:02+00', 3);
SELECT count(*) AS runs, sum(points) AS points, bool_and(queued_at <= now()) AS queued_before_now
  FROM dataspace.pending_batch WHERE asset_id = '00000000-0000-4000-8000-0000000005a1';
SELECT dataspace.seal_pending('00000000-0000-4000-8000-0000000005a1') AS seals;
SELECT bool_and(ok) AS all_ok FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000005a1');
-- the setting is a superuser's
SET ROLE dataspace_writer;
SET dataspace.sealer_chunk_points = 10;
RESET ROLE;
SET dataspace.sealer_chunk_points = 0;
