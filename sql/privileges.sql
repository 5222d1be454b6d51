-- Privileges: a role without grants gets nothing; a writer can insert
-- three columns of points and nothing else; a reader reads and verifies.
SET timezone = 'UTC';

-- The privilege matrix: every object of the schema, and what each group
-- role (and PUBLIC) may do with it, read from the catalogs.  Column
-- privileges are listed with their columns; an object nobody is granted
-- anything on appears once, with grantee '-'.  docs/security.md mirrors
-- this output.
WITH obj AS (
  SELECT 'schema' AS kind, n.nspname::text AS name,
         coalesce(n.nspacl, acldefault('n'::"char", n.nspowner)) AS acl, NULL::oid AS relid
    FROM pg_namespace n WHERE n.nspname = 'dataspace'
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' ELSE 'table' END,
         c.relname::text,
         coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner)),
         c.oid
    FROM pg_class c
   WHERE c.relnamespace = 'dataspace'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  UNION ALL
  SELECT 'function', p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
         coalesce(p.proacl, acldefault('f'::"char", p.proowner)), NULL
    FROM pg_proc p WHERE p.pronamespace = 'dataspace'::regnamespace
), priv AS (
  SELECT o.kind, o.name, a.grantee,
         a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS privilege
    FROM obj o, aclexplode(o.acl) a
  UNION ALL
  SELECT o.kind, o.name, a.grantee,
         a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
         || ' (' || string_agg(att.attname::text, ', ' ORDER BY att.attnum) || ')'
    FROM obj o
    JOIN pg_attribute att ON att.attrelid = o.relid AND att.attnum > 0
                         AND NOT att.attisdropped AND att.attacl IS NOT NULL,
         aclexplode(att.attacl) a
   GROUP BY o.kind, o.name, a.grantee, a.privilege_type, a.is_grantable
), granted AS (
  SELECT kind, name, grantee, string_agg(privilege, ', ' ORDER BY privilege COLLATE "C") AS privileges
    FROM (SELECT kind, name, privilege,
                 CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(grantee)::text END AS grantee
            FROM priv) p
   WHERE grantee = 'PUBLIC' OR grantee LIKE 'dataspace\_%'
   GROUP BY kind, name, grantee
)
SELECT o.kind, o.name AS object, coalesce(g.grantee, '-') AS grantee, g.privileges
  FROM obj o LEFT JOIN granted g ON g.kind = o.kind AND g.name = o.name
 ORDER BY o.kind COLLATE "C", o.name COLLATE "C", g.grantee COLLATE "C";

CREATE ROLE regress_nobody LOGIN;
CREATE ROLE regress_writer LOGIN IN ROLE dataspace_writer;
CREATE ROLE regress_reader LOGIN IN ROLE dataspace_reader;
CREATE ROLE regress_admin LOGIN IN ROLE dataspace_admin;

SET ROLE regress_nobody;
SELECT count(*) FROM dataspace.point;
SELECT count(*) FROM dataspace.asset;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-05-01', 1);
SELECT * FROM dataspace.node_info();
SELECT dataspace.seal_pending();
SELECT dataspace.point_proof('00000000-0000-4000-8000-0000000000a1', 1);
SELECT dataspace.verify_proof('{}');
RESET ROLE;

SET ROLE regress_writer;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-05-01', 1);
COPY dataspace.point (asset_id, ts, value) FROM stdin;
00000000-0000-4000-8000-0000000000a1	2026-05-01 00:00:01+00	2
\.
INSERT INTO dataspace.point (asset_id, seq, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', 1, '2026-05-01', 1);
INSERT INTO dataspace.point (asset_id, ts, value, batch_id) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-05-01', 1, 1);
SELECT count(*) FROM dataspace.point;
SELECT count(*) FROM dataspace.seal;
INSERT INTO dataspace.seal (asset_id, node_id, chain_pos, batch_ids, first_seq, last_seq, point_count,
  min_ts, max_ts, merkle_root, prev_hash, seal_hash, blinding_seed, key_id, signature, sealed_at)
VALUES ('00000000-0000-4000-8000-0000000000a1', gen_random_uuid(), 99, '{1}', 1, 1, 1, now(), now(),
  '\x00', '\x00', '\x00', '\x00', '\x00', '\x00', now());
SELECT count(*) FROM dataspace.node_key;
SELECT count(*) FROM dataspace.node_public_key;
TRUNCATE dataspace.point;
SELECT count(*) FROM dataspace.pending_batch;
SELECT dataspace.rotate_node_key();
SELECT dataspace.seal_pending() AS seals;
SELECT dataspace.point_proof('00000000-0000-4000-8000-0000000000a1', 1);
RESET ROLE;

SET ROLE regress_reader;
SELECT count(*) > 0 AS reads_points FROM dataspace.point;
SELECT count(*) > 0 AS reads_seals FROM (SELECT id, merkle_root, signature FROM dataspace.seal) s;
SELECT blinding_seed FROM dataspace.seal LIMIT 1;
SELECT count(*) > 0 AS reads_public_keys FROM dataspace.node_public_key;
SELECT wrapped_private_key FROM dataspace.node_key;
SELECT bool_and(ok) AS all_ok FROM dataspace.verify_asset('00000000-0000-4000-8000-0000000000a1');
SELECT name, length(public_key) FROM dataspace.node_info();
SELECT dataspace.verify_proof(p) AS proof_ok
  FROM dataspace.point_proof('00000000-0000-4000-8000-0000000000a1',
         (SELECT min(seq) FROM dataspace.point WHERE asset_id = '00000000-0000-4000-8000-0000000000a1')) p;
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-05-01', 1);
INSERT INTO dataspace.twin (name) VALUES ('x');
SELECT dataspace.drop_points('00000000-0000-4000-8000-0000000000a1', '2026-01-01');
RESET ROLE;

SET ROLE regress_admin;
INSERT INTO dataspace.twin (id, name, parent_id) VALUES
  ('00000000-0000-4000-8000-000000000004', 'press 8', '00000000-0000-4000-8000-000000000002');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000000a4', '00000000-0000-4000-8000-000000000004', 'temperature', 'stream');
SELECT node_id = (SELECT node_id FROM dataspace.node_info()) AS this_node FROM dataspace.asset
 WHERE id = '00000000-0000-4000-8000-0000000000a4';
INSERT INTO dataspace.point (asset_id, ts, value) VALUES ('00000000-0000-4000-8000-0000000000a4', '2026-05-01', 1);
SELECT dataspace.revoke_node_key(key_id, now(), 'x') FROM dataspace.node_public_key LIMIT 1;
SELECT dataspace.adopt_node();
SELECT wrapped_private_key FROM dataspace.node_key;
RESET ROLE;

DROP ROLE regress_nobody, regress_writer, regress_reader, regress_admin;
