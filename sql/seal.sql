-- Sealing: runs split at seal_max_points, assets sealed separately,
-- seal_pending(asset) leaves the others pending, the chain links.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-000000000003', 'speed', 'stream', 10),
  ('00000000-0000-4000-8000-0000000000b2', '00000000-0000-4000-8000-000000000003', 'torque', 'stream', 10);
-- one statement, two assets
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT CASE WHEN i % 2 = 0 THEN '00000000-0000-4000-8000-0000000000b1'::uuid
            ELSE '00000000-0000-4000-8000-0000000000b2'::uuid END,
       '2026-02-01 00:00:00+00'::timestamptz + i * interval '1 minute', i
  FROM generate_series(1, 50) i;
SELECT dataspace.seal_pending('00000000-0000-4000-8000-0000000000b1') AS seals;
SELECT a.name, s.chain_pos, s.point_count, s.min_ts, s.max_ts
  FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id
 WHERE a.name IN ('speed', 'torque') ORDER BY a.name, s.chain_pos;
-- the other asset's points are held, listed in pending_run
SELECT a.name, r.points FROM dataspace.pending_run r JOIN dataspace.asset a ON a.id = r.asset_id;
SELECT * FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000b2');
SELECT dataspace.seal_pending() AS seals;
SELECT count(*) AS held FROM dataspace.pending_run;
SELECT a.name, s.chain_pos, s.point_count
  FROM dataspace.seal s JOIN dataspace.asset a ON a.id = s.asset_id
 WHERE a.name = 'torque' ORDER BY s.chain_pos;
-- each seal's prev_hash is the SHA-256 of the previous seal's message:
-- recompute the message in SQL from the stored columns (docs/encoding.md)
CREATE FUNCTION pg_temp.f(b bytea) RETURNS bytea LANGUAGE sql
  AS $$ SELECT int4send(length(b)) || b $$;
CREATE FUNCTION pg_temp.i64(v bigint) RETURNS bytea LANGUAGE sql
  AS $$ SELECT pg_temp.f(int8send(v)) $$;
CREATE FUNCTION pg_temp.us(t timestamptz) RETURNS bytea LANGUAGE sql
  AS $$ SELECT pg_temp.i64((extract(epoch FROM t) * 1000000)::bigint) $$;
CREATE VIEW pg_temp.seal_message AS
SELECT s.id, s.asset_id, s.chain_pos, s.prev_hash, s.seal_hash,
       '\x504744530101'::bytea || pg_temp.f(uuid_send(s.node_id)) || pg_temp.f(uuid_send(s.asset_id))
       || pg_temp.i64(s.chain_pos) || pg_temp.f(s.prev_hash) || pg_temp.f(s.merkle_root)
       || pg_temp.i64(s.point_count) || pg_temp.i64(s.first_seq) || pg_temp.i64(s.last_seq)
       || pg_temp.us(s.min_ts) || pg_temp.us(s.max_ts) || pg_temp.us(s.sealed_at)
       || pg_temp.f(convert_to(s.algorithm, 'UTF8')) || pg_temp.f(s.key_id) AS message
  FROM dataspace.seal s;
SELECT length(message) AS bytes, count(*) FROM pg_temp.seal_message GROUP BY 1;
SELECT count(*) FILTER (WHERE sha256(message) = seal_hash) AS stored_hash_matches,
       count(*) AS seals FROM pg_temp.seal_message;
SELECT count(*) AS links,
       count(*) FILTER (WHERE sha256(p.message) = m.prev_hash) AS links_ok
  FROM pg_temp.seal_message m JOIN pg_temp.seal_message p
    ON p.asset_id = m.asset_id AND p.chain_pos = m.chain_pos - 1;
SELECT count(*) AS verified FROM dataspace.seal s WHERE dataspace.verify_seal(s.id);
SELECT count(*) AS seals FROM dataspace.seal;
SELECT dataspace.verify_seal(123456789);
-- a round leaves the caller's settings as they were
BEGIN;
SELECT dataspace.seal_pending() >= 0 AS sealed;
SELECT current_setting('enable_seqscan') AS enable_seqscan, current_setting('jit') AS jit;
COMMIT;
