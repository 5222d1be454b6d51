-- An independent implementation: recompute nonces, leaves and Merkle
-- roots in SQL with pgcrypto's digest() from docs/encoding.md, and
-- compare with the roots the extension signed.
SET timezone = 'UTC';
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000000f1', '00000000-0000-4000-8000-000000000003', 'crosscheck', 'stream', 7);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:00+00', 0),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:00.000001+00', '-0'::float8),
  ('00000000-0000-4000-8000-0000000000f1', '1969-12-31 23:59:59.999999+00', -1.5),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:01+00', 1e308),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:02+00', 5e-324),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:03+00', 0.1),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:04+00', 123456789.125),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:05+00', -2.2250738585072014e-308),
  ('00000000-0000-4000-8000-0000000000f1', '2026-06-01 00:00:06+00', 42);
-- a real negative zero is stored (it is sealed as +0, docs/encoding.md)
SELECT float8send(value) AS negative_zero_bits FROM dataspace.point
 WHERE asset_id = '00000000-0000-4000-8000-0000000000f1' AND ts = '2026-06-01 00:00:00.000001+00';
SELECT dataspace.seal_pending('00000000-0000-4000-8000-0000000000f1') AS seals;

-- leaves in seq order, each with its index within its seal
CREATE TEMP TABLE leaf AS
SELECT s.id AS seal_id, row_number() OVER (PARTITION BY s.id ORDER BY p.seq) - 1 AS i,
       digest('\x00'::bytea || uuid_send(p.asset_id) || int8send(p.seq)
              || int8send((extract(epoch FROM p.ts) * 1000000)::bigint)
              || CASE WHEN p.value = 0 THEN int8send(0) ELSE float8send(p.value) END
              || substr(digest('\x02'::bytea || s.blinding_seed || uuid_send(p.asset_id) || int8send(p.seq),
                               'sha256'), 1, 16),
              'sha256') AS h
  FROM dataspace.seal s JOIN dataspace.point p
    ON p.asset_id = s.asset_id AND p.seq BETWEEN s.first_seq AND s.last_seq AND p.batch_id = ANY (s.batch_ids)
 WHERE s.asset_id = '00000000-0000-4000-8000-0000000000f1';

-- RFC 6962 Merkle tree hash, written out for these sizes (7 and 2 leaves)
CREATE FUNCTION pg_temp.node(l bytea, r bytea) RETURNS bytea LANGUAGE sql
  AS $$ SELECT digest('\x01'::bytea || l || r, 'sha256') $$;
CREATE FUNCTION pg_temp.leaf(seal bigint, idx bigint) RETURNS bytea LANGUAGE sql
  AS $$ SELECT h FROM pg_temp.leaf WHERE seal_id = seal AND i = idx $$;
SELECT s.chain_pos, s.point_count,
       s.merkle_root = CASE s.point_count
         WHEN 7 THEN pg_temp.node(
                pg_temp.node(pg_temp.node(pg_temp.leaf(s.id, 0), pg_temp.leaf(s.id, 1)),
                             pg_temp.node(pg_temp.leaf(s.id, 2), pg_temp.leaf(s.id, 3))),
                pg_temp.node(pg_temp.node(pg_temp.leaf(s.id, 4), pg_temp.leaf(s.id, 5)),
                             pg_temp.leaf(s.id, 6)))
         WHEN 2 THEN pg_temp.node(pg_temp.leaf(s.id, 0), pg_temp.leaf(s.id, 1))
       END AS root_matches_pgcrypto
  FROM dataspace.seal s WHERE s.asset_id = '00000000-0000-4000-8000-0000000000f1'
 ORDER BY s.chain_pos;
-- key ids agree with pgcrypto too (the seal test recomputes seal messages)
SELECT bool_and(k.key_id = digest(k.public_key, 'sha256')) AS key_ids
  FROM dataspace.node_public_key k;
