-- Twins and assets: defaults, the tree, the refusals.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
INSERT INTO dataspace.twin (id, name, model) VALUES
  ('00000000-0000-4000-8000-000000000001', 'plant', NULL),
  ('00000000-0000-4000-8000-000000000002', 'line 1', NULL),
  ('00000000-0000-4000-8000-000000000003', 'press 7',
   '{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": "dtmi:dtdl:context;2", "contents": []}');
UPDATE dataspace.twin SET parent_id = '00000000-0000-4000-8000-000000000001'
 WHERE id = '00000000-0000-4000-8000-000000000002';
UPDATE dataspace.twin SET parent_id = '00000000-0000-4000-8000-000000000002'
 WHERE id = '00000000-0000-4000-8000-000000000003';
-- cycles are refused, direct and indirect
UPDATE dataspace.twin SET parent_id = id WHERE id = '00000000-0000-4000-8000-000000000001';
UPDATE dataspace.twin SET parent_id = '00000000-0000-4000-8000-000000000003'
 WHERE id = '00000000-0000-4000-8000-000000000001';
-- a parent that does not exist
INSERT INTO dataspace.twin (name, parent_id) VALUES ('orphan', '00000000-0000-4000-8000-0000000000ff');
-- empty names, properties that are not an object
INSERT INTO dataspace.twin (name) VALUES ('');
INSERT INTO dataspace.twin (name, properties) VALUES ('x', '[1]');
-- a hierarchy deeper than 1000 levels: a chain of 1001 twins, linked from
-- the bottom up so that each link walks one level, refuses a child
DO $$
BEGIN
	INSERT INTO dataspace.twin (id, name)
	SELECT ('00000000-0000-4000-8000-00000001' || lpad(i::text, 4, '0'))::uuid, 'depth ' || i
	  FROM generate_series(1, 1001) i;
	FOR i IN 1..1000 LOOP
		UPDATE dataspace.twin SET parent_id = ('00000000-0000-4000-8000-00000001' || lpad((i + 1)::text, 4, '0'))::uuid
		 WHERE id = ('00000000-0000-4000-8000-00000001' || lpad(i::text, 4, '0'))::uuid;
	END LOOP;
END
$$;
INSERT INTO dataspace.twin (id, name, parent_id) VALUES
  ('00000000-0000-4000-8000-000000010000', 'too deep', '00000000-0000-4000-8000-000000010001');
-- one level less is fine
INSERT INTO dataspace.twin (id, name, parent_id) VALUES
  ('00000000-0000-4000-8000-000000010000', 'deep enough', '00000000-0000-4000-8000-000000010002');
DELETE FROM dataspace.twin WHERE name LIKE 'depth %' OR name = 'deep enough';
-- ids are fixed
UPDATE dataspace.twin SET id = gen_random_uuid() WHERE name = 'plant';
SELECT name, parent_id, model IS NOT NULL AS has_model, properties FROM dataspace.twin ORDER BY name;

-- an asset needs only twin, name and kind; the rest has defaults
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000003', 'temperature', 'stream');
SELECT name, kind, value_type, unit, visibility, description, tags,
       node_id = dataspace.node_id() AS this_node, seal_max_points, seal_min_points, seal_max_delay
  FROM dataspace.asset;
INSERT INTO dataspace.asset (id, twin_id, name, kind, unit, visibility, tags) VALUES
  ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000003', 'pressure', 'stream',
   'bar', 'public', '{hydraulics}'),
  ('00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-000000000003', 'manual', 'package',
   NULL, 'public', '{}');
-- refusals
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('00000000-0000-4000-8000-000000000003', '', 'stream');
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('00000000-0000-4000-8000-000000000003', 'x', 'table');
INSERT INTO dataspace.asset (twin_id, name, kind, visibility) VALUES ('00000000-0000-4000-8000-000000000003', 'x', 'stream', 'secret');
INSERT INTO dataspace.asset (twin_id, name, kind, value_type) VALUES ('00000000-0000-4000-8000-000000000003', 'x', 'stream', 'text');
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('00000000-0000-4000-8000-0000000000ff', 'x', 'stream');
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('00000000-0000-4000-8000-000000000003', 'temperature', 'stream');
INSERT INTO dataspace.asset (twin_id, name, kind, seal_max_points) VALUES ('00000000-0000-4000-8000-000000000003', 'x', 'stream', 0);
UPDATE dataspace.asset SET kind = 'package' WHERE name = 'temperature';
UPDATE dataspace.asset SET description = 'oil temperature, inlet' WHERE name = 'temperature';
-- a twin with assets cannot go away
DELETE FROM dataspace.twin WHERE id = '00000000-0000-4000-8000-000000000003';
SELECT name, kind, unit, visibility, tags, description FROM dataspace.asset ORDER BY name;
