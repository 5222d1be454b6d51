-- Inclusion proofs: point_proof builds a self-contained proof of one point;
-- verify_proof checks it with nothing but the proof.  Every member is
-- covered: changing any of them makes the proof false, and a proof of the
-- wrong shape is an error.
SET timezone = 'UTC';
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001e0', 'proof rig');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000001e1', '00000000-0000-4000-8000-0000000001e0', 'proof', 'stream', 11);
-- odd sizes, extreme values and instants (sealed as 11 + 2 points)
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:00+00', 0.1),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:00.000001+00', '-0'::float8),
  ('00000000-0000-4000-8000-0000000001e1', '1969-12-31 23:59:59.999999+00', -1.5),
  ('00000000-0000-4000-8000-0000000001e1', '4713-01-01 00:00:00+00 BC', 1e308),
  ('00000000-0000-4000-8000-0000000001e1', '99999-12-31 23:59:59.999999+00', 5e-324),
  ('00000000-0000-4000-8000-0000000001e1', '2024-02-29 12:34:56.789012+00', -2.2250738585072014e-308),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:06+00', 123456789.125),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:07+00', 1e21),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:08+00', 1.5e-7),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:09+00', 42),
  ('00000000-0000-4000-8000-0000000001e1', '0001-01-01 00:00:00+00', 2),
  ('00000000-0000-4000-8000-0000000001e1', '10000-01-01 00:00:00+00', 3),
  ('00000000-0000-4000-8000-0000000001e1', '2026-06-01 00:00:12+00', 4);
-- the encoding's range ends before year 100000
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('00000000-0000-4000-8000-0000000001e1', '100000-01-01 00:00:00+00', 1);
-- a real negative zero is stored
SELECT float8send(value) AS negative_zero_bits FROM dataspace.point
 WHERE asset_id = '00000000-0000-4000-8000-0000000001e1' AND ts = '2026-06-01 00:00:00.000001+00';
-- not sealed yet: no proof
SELECT dataspace.point_proof('00000000-0000-4000-8000-0000000001e1',
  (SELECT min(seq) FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000001e1'));
SELECT dataspace.seal_pending('00000000-0000-4000-8000-0000000001e1') AS seals;

CREATE TEMP TABLE proof AS
SELECT p.seq - min(p.seq) OVER () + 1 AS n, p.seq, p.ts, p.value,
       dataspace.point_proof(p.asset_id, p.seq) AS j
  FROM dataspace.point p WHERE p.asset_id = '00000000-0000-4000-8000-0000000001e1';

-- every member present, nothing else
SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((SELECT j FROM proof WHERE n = 1)) k;
SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((SELECT j -> 'seal' FROM proof WHERE n = 1)) k;
-- the members say what is stored: ts in UTC with six digits, value the
-- shortest decimal that reads back as the stored double
SELECT n, j ->> 'ts' AS ts, j -> 'value' AS value,
       (j ->> 'value')::float8 = value AS value_exact,
       (j ->> 'ts_us')::bigint = (extract(epoch FROM ts) * 1000000)::bigint AS ts_us_exact,
       j -> 'leaf_index' AS leaf_index, jsonb_array_length(j -> 'path') AS path_len,
       j -> 'seal' -> 'point_count' AS point_count,
       dataspace.verify_proof(j) AS valid
  FROM proof ORDER BY n;
-- the leaf recomputed from the proof's members with pgcrypto
SELECT bool_and(digest('\x00'::bytea || uuid_send((j ->> 'asset_id')::uuid) || int8send((j ->> 'seq')::bigint)
                      || int8send((j ->> 'ts_us')::bigint)
                      || CASE WHEN (j ->> 'value')::float8 = 0 THEN int8send(0) ELSE float8send((j ->> 'value')::float8) END
                      || decode(j ->> 'nonce', 'hex'), 'sha256')
                = decode(j ->> 'leaf_hash', 'hex')) AS leaves_match_pgcrypto
  FROM proof;
-- the seal members are the stored seal's, and the key is this node's
SELECT bool_and(decode(j -> 'seal' ->> 'merkle_root', 'hex') = s.merkle_root
                AND decode(j -> 'seal' ->> 'seal_hash', 'hex') = s.seal_hash
                AND decode(j -> 'seal' ->> 'signature', 'hex') = s.signature
                AND decode(j -> 'seal' ->> 'public_key', 'hex') = (SELECT public_key FROM dataspace.node_info())
                AND (j -> 'seal' ->> 'id')::bigint = s.id) AS members_match
  FROM proof JOIN dataspace.seal s ON s.id = (j -> 'seal' ->> 'id')::bigint;
-- a proof shows the point's nonce and never the seal's seed
SELECT bool_or(j::text LIKE '%' || encode(s.blinding_seed, 'hex') || '%') AS leaks_seed
  FROM proof JOIN dataspace.seal s ON s.id = (j -> 'seal' ->> 'id')::bigint;

-- Changing any member makes the proof false.
CREATE TEMP TABLE good AS SELECT j FROM proof WHERE n = 6;
CREATE FUNCTION pg_temp.flip(hex text) RETURNS text LANGUAGE sql
  AS $$ SELECT CASE WHEN left(hex, 1) = '0' THEN '1' ELSE '0' END || substr(hex, 2) $$;
SELECT m.what, dataspace.verify_proof(m.j) AS valid
  FROM good g, LATERAL (VALUES
    ('unchanged', g.j),
    ('seal.id (informative, not signed)', jsonb_set(g.j, '{seal,id}', '424242')),
    ('value', jsonb_set(g.j, '{value}', to_jsonb((g.j ->> 'value')::float8 + 1))),
    ('ts and ts_us together', jsonb_set(jsonb_set(g.j, '{ts_us}', to_jsonb((g.j ->> 'ts_us')::bigint + 1)),
                                        '{ts}', '"2024-02-29T12:34:56.789013Z"')),
    ('ts alone', jsonb_set(g.j, '{ts}', '"2024-02-29T12:34:56.789013Z"')),
    ('ts_us alone', jsonb_set(g.j, '{ts_us}', to_jsonb((g.j ->> 'ts_us')::bigint + 1))),
    ('seq', jsonb_set(g.j, '{seq}', to_jsonb((g.j ->> 'seq')::bigint + 1))),
    ('asset_id', jsonb_set(g.j, '{asset_id}', '"00000000-0000-4000-8000-0000000001e2"')),
    ('nonce', jsonb_set(g.j, '{nonce}', to_jsonb(pg_temp.flip(g.j ->> 'nonce')))),
    ('leaf_hash', jsonb_set(g.j, '{leaf_hash}', to_jsonb(pg_temp.flip(g.j ->> 'leaf_hash')))),
    ('leaf_index', jsonb_set(g.j, '{leaf_index}', to_jsonb((g.j ->> 'leaf_index')::bigint + 1))),
    ('leaf_index beyond point_count', jsonb_set(g.j, '{leaf_index}', '11')),
    ('a path hash', jsonb_set(g.j, '{path,0}', to_jsonb(pg_temp.flip(g.j -> 'path' ->> 0)))),
    ('path one short', g.j #- '{path,0}'),
    ('path one long', jsonb_insert(g.j, '{path,0}', g.j -> 'path' -> 0)),
    ('path reversed', jsonb_set(g.j, '{path}', (SELECT jsonb_agg(e ORDER BY i DESC)
                                                  FROM jsonb_array_elements(g.j -> 'path') WITH ORDINALITY a(e, i)))),
    ('seal.node_id', jsonb_set(g.j, '{seal,node_id}', '"00000000-0000-4000-8000-000000000bad"')),
    ('seal.asset_id', jsonb_set(g.j, '{seal,asset_id}', '"00000000-0000-4000-8000-0000000001e2"')),
    ('seal.chain_pos', jsonb_set(g.j, '{seal,chain_pos}', '2')),
    ('seal.prev_hash', jsonb_set(g.j, '{seal,prev_hash}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'prev_hash')))),
    ('seal.merkle_root', jsonb_set(g.j, '{seal,merkle_root}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'merkle_root')))),
    ('seal.point_count', jsonb_set(g.j, '{seal,point_count}', '12')),
    ('seal.first_seq', jsonb_set(g.j, '{seal,first_seq}', to_jsonb((g.j -> 'seal' ->> 'first_seq')::bigint - 1))),
    ('seal.last_seq', jsonb_set(g.j, '{seal,last_seq}', to_jsonb((g.j -> 'seal' ->> 'last_seq')::bigint + 1))),
    ('seal.min_ts_us', jsonb_set(g.j, '{seal,min_ts_us}', to_jsonb((g.j -> 'seal' ->> 'min_ts_us')::bigint - 1))),
    ('seal.max_ts_us', jsonb_set(g.j, '{seal,max_ts_us}', to_jsonb((g.j -> 'seal' ->> 'max_ts_us')::bigint + 1))),
    ('seal.sealed_at_us', jsonb_set(g.j, '{seal,sealed_at_us}', to_jsonb((g.j -> 'seal' ->> 'sealed_at_us')::bigint + 1))),
    ('seal.key_id', jsonb_set(g.j, '{seal,key_id}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'key_id')))),
    ('seal.public_key', jsonb_set(g.j, '{seal,public_key}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'public_key')))),
    ('seal.signature', jsonb_set(g.j, '{seal,signature}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'signature')))),
    ('seal.seal_hash', jsonb_set(g.j, '{seal,seal_hash}', to_jsonb(pg_temp.flip(g.j -> 'seal' ->> 'seal_hash')))),
    ('a point of the same seal with this proof''s path',
       jsonb_set((SELECT j FROM proof WHERE n = 7), '{path}', g.j -> 'path'))
  ) AS m(what, j);
-- a key that is not this node's, with a matching key id, still needs a
-- signature by that key: moving a seal to another key fails
SELECT dataspace.verify_proof(jsonb_set(jsonb_set(j, '{seal,public_key}',
         '"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"'),
         '{seal,key_id}', to_jsonb(encode(digest('\xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'::bytea, 'sha256'), 'hex'))))
  AS other_key FROM good;

-- A proof of the wrong shape is an error, not false.
SELECT dataspace.verify_proof('{}');
SELECT dataspace.verify_proof('[]');
SELECT dataspace.verify_proof('null');
SELECT dataspace.verify_proof('"proof"');
SELECT dataspace.verify_proof(NULL) IS NULL AS null_in_null_out;
SELECT dataspace.verify_proof(j - 'nonce') FROM good;
SELECT dataspace.verify_proof(j #- '{seal,signature}') FROM good;
SELECT dataspace.verify_proof(j || '{"comment": "x"}') FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seal,extra}', '1')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{format}', '"other"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{version}', '2')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{version}', '"1"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seq}', '"7"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seq}', '7.5')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seq}', '7.0')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seq}', '9223372036854775808')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{leaf_index}', '-1')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{value}', '"1.5"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{value}', 'null')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{ts}', '"2024-02-29 12:34:56.789012+00"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{ts}', '"2023-02-29T12:34:56.789012Z"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{ts}', '"2024-02-29T12:34:56.789Z"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{nonce}', to_jsonb(upper(j ->> 'nonce')))) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{nonce}', to_jsonb(substr(j ->> 'nonce', 3)))) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{asset_id}', to_jsonb(upper(j ->> 'asset_id')))) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{asset_id}', '"00000000000040008000000000000001e1"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{path}', '"none"')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{path}', '[1]')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{path}', (SELECT jsonb_agg(repeat('a', 64)) FROM generate_series(1, 65)))) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seal}', '[]')) FROM good;
SELECT dataspace.verify_proof(jsonb_set(j, '{seal,algorithm}', '"ecdsa"')) FROM good;

-- point_proof refuses what it cannot prove
SELECT dataspace.point_proof('00000000-0000-4000-8000-0000000001e1', -1);
SELECT dataspace.point_proof('00000000-0000-4000-8000-00000000dead', 1);
SELECT dataspace.point_proof(NULL, 1) IS NULL AS null_in_null_out;
-- a stored value changed behind the extension's back: no proof, the broken seal named
SET session_replication_role = replica;
UPDATE dataspace.point SET value = 7 WHERE asset_id = '00000000-0000-4000-8000-0000000001e1'
   AND seq = (SELECT seq FROM proof WHERE n = 2);
RESET session_replication_role;
SELECT dataspace.point_proof('00000000-0000-4000-8000-0000000001e1', (SELECT seq FROM proof WHERE n = 3))
  IS NOT NULL AS other_point;
-- the proof made before the change still verifies: it proves what was sealed
SELECT dataspace.verify_proof(j) AS old_proof FROM proof WHERE n = 2;
SELECT regexp_replace(r.reason, '\d+', 'N', 'g') AS reason
  FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000001e1') r WHERE NOT r.ok;

-- A long chain: point_proof and verify_seal find a point's seal through an
-- index, never by reading every seal of the asset (counted by the
-- statistics of dataspace.seal); in a database of its own, since the
-- extension is dropped and created again below.
\set home :DBNAME
CREATE DATABASE regress_proof_chain;
\c regress_proof_chain
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION pg_dataspace;
RESET client_min_messages;
CREATE FUNCTION pg_temp.seal_seq_scans() RETURNS bigint LANGUAGE sql AS $$
  SELECT pg_stat_clear_snapshot();
  SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'dataspace.seal'::regclass $$;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001f0', 'chain rig');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '00000000-0000-4000-8000-0000000001f0', 'chain', 'stream', 1);
INSERT INTO dataspace.point (asset_id, ts, value)
SELECT '00000000-0000-4000-8000-0000000001f1', timestamptz '2026-06-01' + i * interval '1 s', i
  FROM generate_series(1, 3000) i;
SELECT dataspace.seal_pending('00000000-0000-4000-8000-0000000001f1') AS seals;
ANALYZE dataspace.seal;
ANALYZE dataspace.point;
CREATE TEMP TABLE picked AS
SELECT id, asset_id, first_seq FROM dataspace.seal WHERE chain_pos % 100 IN (1, 50);
SELECT pg_stat_force_next_flush();
SELECT pg_temp.seal_seq_scans() AS before \gset
SELECT count(*) FILTER (WHERE dataspace.verify_proof(dataspace.point_proof(asset_id, first_seq))) AS proven,
       count(*) FILTER (WHERE dataspace.verify_seal(id)) AS seals_verified
  FROM picked;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.seal_seq_scans() - :before AS seal_seq_scans;
-- the extension dropped and created again in this session: the kept
-- plans of verification are made again for the new tables
SET client_min_messages = warning;
DROP EXTENSION pg_dataspace CASCADE;
CREATE EXTENSION pg_dataspace;
RESET client_min_messages;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001f0', 'chain rig');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '00000000-0000-4000-8000-0000000001f0', 'chain', 'stream');
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('00000000-0000-4000-8000-0000000001f1', '2026-06-02 00:00:00+00', 1);
SELECT dataspace.seal_pending() AS seals;
SELECT dataspace.verify_proof(dataspace.point_proof(asset_id, seq)) AS proven,
       dataspace.verify_seal((SELECT id FROM dataspace.seal)) AS seal_verified
  FROM dataspace.point;
\c :home
DROP DATABASE regress_proof_chain;
