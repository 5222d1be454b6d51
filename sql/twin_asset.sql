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
