-- Ingest: INSERT and COPY seal without the user doing anything; the
-- refusals of bad points; append-only.
SET timezone = 'UTC';
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second', i / 4.0
  FROM generate_series(1, 10) i;
COPY dataspace.point (asset_id, ts, value) FROM stdin;
00000000-0000-4000-8000-0000000000a1	2026-01-01 00:01:00+00	21.5
00000000-0000-4000-8000-0000000000a1	2026-01-01 00:01:01+00	-0
00000000-0000-4000-8000-0000000000a2	2026-01-01 00:01:00+00	1.013
\.
-- both statements are queued as runs (one per statement and asset), nothing sealed yet
SELECT a.name, q.first_seq, q.last_seq, q.points, dense_rank() OVER (ORDER BY q.batch_id) AS batch
  FROM dataspace.pending_batch q JOIN dataspace.asset a ON a.id = q.asset_id ORDER BY q.first_seq;
SELECT seq, ts, value FROM dataspace.point ORDER BY seq;
SELECT dataspace.seal_pending() AS seals;
SELECT count(*) AS pending_batches FROM dataspace.pending_batch;
SELECT a.name, s.chain_pos, s.point_count, s.first_seq, s.last_seq, s.min_ts, s.max_ts,
       length(s.merkle_root) AS root, length(s.signature) AS sig,
       s.prev_hash = '\x0000000000000000000000000000000000000000000000000000000000000000' AS first
  FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id ORDER BY s.id;
SELECT dataspace.seal_pending() AS nothing_left;
-- refused points
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 12:00:00+00', 'NaN');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 12:00:00+00', 'Infinity');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 12:00:00+00', '-Infinity');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', 'infinity', 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '-infinity', 1);
-- both as check violations (23514), as the declarative checks they replace were
DO $$
BEGIN
  INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01', 'NaN');
EXCEPTION WHEN check_violation THEN RAISE NOTICE 'value: %', SQLSTATE;
END $$;
DO $$
BEGIN
  INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '100000-01-01+00', 1);
EXCEPTION WHEN check_violation THEN RAISE NOTICE 'time: %', SQLSTATE;
END $$;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', NULL, 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 12:00:00+00', NULL);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000ff', '2026-01-01 12:00:00+00', 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a3', '2026-01-01 12:00:00+00', 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 12:00:00+00', 'abc');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('not-a-uuid', '2026-01-01 12:00:00+00', 1);
-- an asset changed by the same statement that adds its points
WITH a AS (UPDATE dataspace.asset SET description = 'changed' WHERE id = '00000000-0000-4000-8000-0000000000a1' RETURNING id)
INSERT INTO dataspace.point (asset_id, ts, value) SELECT a.id, '2026-01-01 12:00:00+00', 1 FROM a;
-- a refused statement leaves nothing pending
SELECT count(*) AS pending_batches FROM dataspace.pending_batch;
-- append-only
UPDATE dataspace.point SET value = 0;
DELETE FROM dataspace.point;
TRUNCATE dataspace.point;
UPDATE dataspace.seal SET point_count = 0;
DELETE FROM dataspace.seal;
TRUNCATE dataspace.seal;
-- several statements in one transaction make one batch, sealed as one run
BEGIN;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:02:00+00', 1);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:02:01+00', 2);
SAVEPOINT s;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:02:02+00', 3);
ROLLBACK TO s;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:02:03+00', 4);
COMMIT;
-- the queued row of a rolled-back subtransaction is queued again
BEGIN;
SAVEPOINT s;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', '2026-01-01 00:03:00+00', 5);
ROLLBACK TO s;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a2', '2026-01-01 00:03:01+00', 6);
COMMIT;
-- runs of the committed statements only; the rolled-back points (seq 24, 26) are in none
SELECT a.name, q.first_seq, q.last_seq, q.points, dense_rank() OVER (ORDER BY q.batch_id) AS batch
  FROM dataspace.pending_batch q JOIN dataspace.asset a ON a.id = q.asset_id ORDER BY q.first_seq;
-- a statement's points stay queued when a subtransaction inside it aborts
-- after queueing points of its own
CREATE FUNCTION pg_temp.insert_and_fail(v double precision) RETURNS double precision
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		INSERT INTO dataspace.point (asset_id, ts, value)
		VALUES ('00000000-0000-4000-8000-0000000000a2', '2026-01-01 00:05:00+00', v);
		PERFORM 1 / 0;
	EXCEPTION WHEN division_by_zero THEN
		NULL;
	END;
	RETURN v;
END $$;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:05:00+00'::timestamptz + i * interval '1 second',
       pg_temp.insert_and_fail(i)
  FROM generate_series(1, 3) i;
SELECT a.name, q.first_seq, q.last_seq, q.points, dense_rank() OVER (ORDER BY q.batch_id) AS batch
  FROM dataspace.pending_batch q JOIN dataspace.asset a ON a.id = q.asset_id ORDER BY q.first_seq;
-- notes made by calling the check function by hand: below the floor they
-- are ignored, above the sequence's last value the run is cut
BEGIN;
SELECT dataspace.point_ok('00000000-0000-4000-8000-0000000000a1', 1, dataspace.current_batch(), now(), 1) AS before_any_insert;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:06:00+00', 1);
SELECT dataspace.point_ok('00000000-0000-4000-8000-0000000000a1', 1, dataspace.current_batch(), now(), 1) AS below_floor,
       dataspace.point_ok('00000000-0000-4000-8000-0000000000a1', 9000000000000000000, dataspace.current_batch(), now(), 1) AS far_ahead,
       dataspace.point_ok('00000000-0000-4000-8000-0000000000a2', 9000000000000000000, 1, now(), 1) AS other_batch;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:06:01+00', 2);
SELECT a.name, q.first_seq, q.last_seq, q.points, dense_rank() OVER (ORDER BY q.batch_id) AS batch
  FROM dataspace.pending_batch q JOIN dataspace.asset a ON a.id = q.asset_id ORDER BY q.first_seq;
COMMIT;
SELECT dataspace.seal_pending() AS seals;
SELECT a.name, s.chain_pos, s.point_count, cardinality(s.batch_ids) AS batches
  FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id ORDER BY s.id;
-- sealing in the writer's own transaction, then more points: a new batch
BEGIN;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:04:00+00', 7);
SELECT dataspace.seal_pending() AS seals;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:04:01+00', 8);
COMMIT;
SELECT dataspace.seal_pending() AS seals;
-- sealing refuses snapshot isolation: it would fork the chain
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT dataspace.seal_pending();
ROLLBACK;
SELECT ok, count(*) FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1') GROUP BY ok;
SELECT ok, count(*) FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a2') GROUP BY ok;
-- a point_seq with a cache would hand out values below a run's floor
ALTER SEQUENCE dataspace.point_seq CACHE 20;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:07:00+00', 1);
ALTER SEQUENCE dataspace.point_seq CACHE 1;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-01-01 00:07:00+00', 1);
SELECT dataspace.seal_pending() AS seals;
-- one statement carrying the points of many assets, interleaved: one run
-- per asset, each sealed on its own (rolled back afterwards)
BEGIN;
INSERT INTO dataspace.asset (id, twin_id, name, kind)
SELECT ('00000000-0000-4000-8000-0000000010' || lpad(to_hex(i), 2, '0'))::uuid,
       '00000000-0000-4000-8000-000000000003', 'sensor ' || i, 'stream'
  FROM generate_series(1, 40) i;
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT ('00000000-0000-4000-8000-0000000010' || lpad(to_hex(1 + i % 40), 2, '0'))::uuid,
       '2026-01-02 00:00:00+00'::timestamptz + i * interval '1 second', i
  FROM generate_series(0, 399) i;
SELECT count(*) AS runs, sum(points) AS points, count(DISTINCT asset_id) AS assets,
       bool_and(last_seq - first_seq = 360) AS each_run_spans_its_points
  FROM dataspace.pending_batch WHERE asset_id::text LIKE '00000000-0000-4000-8000-0000000010%';
SELECT dataspace.seal_pending() AS seals;
SELECT count(*) AS seals, sum(point_count) AS points FROM dataspace.seal
 WHERE asset_id::text LIKE '00000000-0000-4000-8000-0000000010%';
SELECT count(*) FILTER (WHERE v.ok) AS verified, count(*) AS rows
  FROM dataspace.asset a, dataspace.verify_asset(a.id) v
 WHERE a.id::text LIKE '00000000-0000-4000-8000-0000000010%';
ROLLBACK;
-- an asset with points cannot be deleted
\set SHOW_CONTEXT never
DELETE FROM dataspace.asset WHERE id = '00000000-0000-4000-8000-0000000000a1';
