-- The install script creates no rows, grants PUBLIC nothing, and creates
-- the group roles only if they are missing.
CREATE EXTENSION pg_dataspace;
SELECT extname, extversion, extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pg_dataspace';
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'dataspace\_%' ORDER BY 1;
-- no rows inserted by the script (they would come back twice on restore)
SELECT (SELECT count(*) FROM dataspace.node) + (SELECT count(*) FROM dataspace.node_key)
     + (SELECT count(*) FROM dataspace.twin) + (SELECT count(*) FROM dataspace.asset)
     + (SELECT count(*) FROM dataspace.point) + (SELECT count(*) FROM dataspace.seal) AS rows;
-- every table and sequence is dumped with its rows
SELECT c.relname, c.relkind
  FROM pg_class c
 WHERE c.relnamespace = 'dataspace'::regnamespace AND c.relkind IN ('r', 'S')
   AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'pg_dataspace')::oid[])
 ORDER BY 1;
-- PUBLIC has no privilege on anything in the schema
SELECT count(*) AS public_schema_privileges
  FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'dataspace' AND a.grantee = 0;
SELECT c.relname FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'dataspace'::regnamespace AND a.grantee = 0;
SELECT p.proname FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'dataspace'::regnamespace AND a.grantee = 0;
-- the whole function surface: nothing takes bytes to sign
SELECT p.proname, pg_get_function_arguments(p.oid) AS args, p.prosecdef AS definer,
       array_to_string(p.proconfig, ',') AS config
  FROM pg_proc p WHERE p.pronamespace = 'dataspace'::regnamespace
 ORDER BY 1, 2;
