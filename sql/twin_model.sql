-- Twin models: the DTDL v2 subset (docs/twin-models.md), checked in C on
-- insert and update, and stream assets created from Telemetry.
SET timezone = 'UTC';
\set SHOW_CONTEXT never
\set VERBOSITY default

-- the minimal interface, with or without contents
INSERT INTO dataspace.twin (id, name, model) VALUES
  ('00000000-0000-4000-8000-0000000000b1', 'minimal',
   '{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": "dtmi:dtdl:context;2", "contents": []}'),
  ('00000000-0000-4000-8000-0000000000b2', 'no contents',
   '{"@id": "dtmi:example:empty;1", "@type": "Interface", "@context": ["dtmi:dtdl:context;2"]}');

-- a full interface: Telemetry (plain and semantic), Property, Relationship
INSERT INTO dataspace.twin (id, name, model) VALUES
  ('00000000-0000-4000-8000-0000000000b3', 'press 9', $${
    "@context": "dtmi:dtdl:context;2",
    "@id": "dtmi:com:example:factory:press;12",
    "@type": "Interface",
    "displayName": {"en": "Hydraulic press", "de": "Hydraulische Presse"},
    "description": "A press with oil temperature and pressure sensors.",
    "comment": "Modelled from the vendor's data sheet.",
    "contents": [
      {"@type": ["Telemetry", "Temperature"], "name": "oilTemp", "schema": "double",
       "unit": "degreeCelsius", "displayName": "Öltemperatur",
       "description": {"de": "Öltemperatur am Einlass", "en-GB": "oil temperature, inlet"}},
      {"@type": ["Pressure", "Telemetry"], "name": "pressure", "schema": "float", "unit": "bar",
       "@id": "dtmi:com:example:factory:press:pressure;1"},
      {"@type": "Telemetry", "name": "strokes", "schema": "long", "description": "strokes since start"},
      {"@type": "Telemetry", "name": "state", "schema": "string"},
      {"@type": "Telemetry", "name": "door_open", "schema": "boolean"},
      {"@type": "Property", "name": "serialNumber", "schema": "string"},
      {"@type": ["Property", "Temperature"], "name": "setPoint", "schema": "integer",
       "unit": "kelvin", "writable": true},
      {"@type": "Property", "name": "installedOn", "schema": "date", "writable": false},
      {"@type": "Relationship", "name": "feeds", "target": "dtmi:com:example:factory:conveyor;1",
       "minMultiplicity": 0, "maxMultiplicity": 500, "writable": true,
       "properties": [{"@type": "Property", "name": "since", "schema": "dateTime"},
                      {"@type": "Property", "name": "lane", "schema": "integer"}]},
      {"@type": "Relationship", "name": "children"}
    ]}$$);
SELECT * FROM dataspace.model_telemetry(
  (SELECT model FROM dataspace.twin WHERE id = '00000000-0000-4000-8000-0000000000b3'));
-- the check function alone
SELECT dataspace.validate_model('{"@id": "dtmi:a;1", "@type": "Interface", "@context": "dtmi:dtdl:context;2"}');

-- refusals: the interface
CREATE FUNCTION pg_temp.m(body text) RETURNS jsonb LANGUAGE sql AS
$$ SELECT ('{"@context": "dtmi:dtdl:context;2", "@id": "dtmi:example:press;1", "@type": "Interface", '
           || body || '}')::jsonb $$;
SELECT dataspace.validate_model('[]');
SELECT dataspace.validate_model('"dtmi:example:press;1"');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Interface"}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3"}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": 2}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": []}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Interface", "@context": ["dtmi:dtdl:context;2", "dtmi:iotcentral:context;2"]}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@context": "dtmi:dtdl:context;2"}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": "Telemetry", "@context": "dtmi:dtdl:context;2"}');
SELECT dataspace.validate_model('{"@id": "dtmi:example:press;1", "@type": ["Interface", "Commercial"], "@context": "dtmi:dtdl:context;2"}');
SELECT dataspace.validate_model('{"@type": "Interface", "@context": "dtmi:dtdl:context;2"}');
-- DTMI forms, in one table: sqlstate and detail
CREATE FUNCTION pg_temp.try(model jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	det text;
BEGIN
	PERFORM dataspace.validate_model(model);
	RETURN 'valid';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || det;
END
$$;
SELECT id, pg_temp.try(jsonb_build_object('@context', 'dtmi:dtdl:context;2', '@type', 'Interface', '@id', id)) AS result
  FROM unnest(ARRAY['dtmi:a;1', 'dtmi:foo_bar:baz33:Qux;999999999', 'example:press;1', 'dtmi:example:press',
                    'dtmi:example:press;0', 'dtmi:example:press;01', 'dtmi:example:press;1234567890',
                    'dtmi:example::press;1', 'dtmi:1example:press;1', 'dtmi:example_:press;1',
                    'dtmi:_example:press;1', 'dtmi:exa-mple:press;1', 'dtmi:example:press;1x', 'dtmi:;1',
                    'DTMI:example:press;1', 'dtmi:example:pr ess;1', 'dtmi:dtdl:press;1',
                    'dtmi:standard:press;1', 'dtmi:' || repeat('a', 121) || ';1',
                    'dtmi:' || repeat('a', 122) || ';1']) AS id;
SELECT dataspace.validate_model('{"@context": "dtmi:dtdl:context;2", "@type": "Interface", "@id": 7}');
-- members of the interface
SELECT dataspace.validate_model(pg_temp.m('"version": 2'));
SELECT dataspace.validate_model(pg_temp.m('"extends": "dtmi:example:machine;1"'));
SELECT dataspace.validate_model(pg_temp.m('"schemas": []'));
SELECT dataspace.validate_model(pg_temp.m('"displayName": 3'));
SELECT dataspace.validate_model(pg_temp.m('"displayName": "' || repeat('x', 65) || '"'));
SELECT dataspace.validate_model(pg_temp.m('"displayName": "' || repeat('é', 64) || '"'));
SELECT dataspace.validate_model(pg_temp.m('"description": {"en": "fine", "not a tag": "x"}'));
SELECT dataspace.validate_model(pg_temp.m('"description": {"en": 1}'));
SELECT dataspace.validate_model(pg_temp.m('"comment": {"en": "comments are not localizable"}'));
SELECT dataspace.validate_model(pg_temp.m('"contents": "temp"'));
SELECT dataspace.validate_model(pg_temp.m('"contents": ['
  || (SELECT string_agg(format('{"@type": "Relationship", "name": "r%s"}', i), ', ') FROM generate_series(1, 301) i)
  || ']'));
SELECT pg_temp.try(pg_temp.m('"contents": ['
  || (SELECT string_agg(format('{"@type": "Relationship", "name": "r%s"}', i), ', ') FROM generate_series(1, 300) i)
  || ']')) AS three_hundred;

-- refusals: elements
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "a", "schema": "double"}, "temp"]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetri", "name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": 1, "name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Temperature"], "name": "temp", "schema": "double", "unit": "kelvin"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Property"], "name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperatur"], "name": "temp", "schema": "double", "unit": "kelvin"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature", "Pressure"], "name": "temp", "schema": "double", "unit": "kelvin"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Command", "name": "reboot"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Component", "name": "camera", "schema": "dtmi:example:camera;1"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": 7, "schema": "double"}]'));
SELECT id, pg_temp.try(pg_temp.m(format('"contents": [{"@type": "Telemetry", "name": %s, "schema": "double"}]', to_jsonb(id)))) AS result
  FROM unnest(ARRAY['t', 't_1', 'T2x', '', '2temp', '_temp', 'temp_', 'oil-temp', 'tëmp',
                    repeat('a', 64), repeat('a', 65)]) AS id;
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double"}, {"@type": "Property", "name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "color": "red"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "writable": true}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:temp"}]'));
-- schemas, semantic types and units
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "doubel"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "Double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": 1}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "state", "schema": {"@type": "Enum", "valueSchema": "integer", "enumValues": []}}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "accel", "schema": "dtmi:example:acceleration;1"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": "celsius"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": "bar"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "string", "unit": "kelvin"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "unit": "kelvin"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": 3}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Property", "name": "on", "schema": "boolean", "writable": "yes"}]'));
-- relationships
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "target": "conveyor"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "minMultiplicity": 1}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "maxMultiplicity": 0}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "maxMultiplicity": 501}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "maxMultiplicity": 2.5}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "maxMultiplicity": "5"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Relationship", "Temperature"], "name": "feeds"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "schema": "double"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": "since"}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Telemetry", "name": "x", "schema": "double"}]}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Property", "name": "x", "schema": "double"}, {"@type": "Property", "name": "x", "schema": "long"}]}]'));
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Property", "name": "x", "schema": "doubel"}]}]'));

-- JSON-LD forms of DTDL v2: @type as an array, a set of one element given
-- as the element itself
SELECT label, pg_temp.try(model) AS result FROM (VALUES
  ('type array', '{"@id": "dtmi:example:press;1", "@type": ["Interface"], "@context": "dtmi:dtdl:context;2"}'::jsonb),
  ('co-type', '{"@id": "dtmi:example:press;1", "@type": ["Interface", "Commercial"], "@context": "dtmi:dtdl:context;2"}'),
  ('DTDL co-type', '{"@id": "dtmi:example:press;1", "@type": ["Interface", "Telemetry"], "@context": "dtmi:dtdl:context;2"}'),
  ('semantic co-type', '{"@id": "dtmi:example:press;1", "@type": ["Temperature", "Interface"], "@context": "dtmi:dtdl:context;2"}'),
  ('no Interface', '{"@id": "dtmi:example:press;1", "@type": ["Commercial"], "@context": "dtmi:dtdl:context;2"}'),
  ('empty', '{"@id": "dtmi:example:press;1", "@type": [], "@context": "dtmi:dtdl:context;2"}'),
  ('number', '{"@id": "dtmi:example:press;1", "@type": ["Interface", 1], "@context": "dtmi:dtdl:context;2"}'),
  ('object', '{"@id": "dtmi:example:press;1", "@type": {}, "@context": "dtmi:dtdl:context;2"}'),
  ('one content', pg_temp.m('"contents": {"@type": "Telemetry", "name": "temp", "schema": "double"}')),
  ('one bad content', pg_temp.m('"contents": {"@type": "Telemetry", "name": "temp", "schema": "doubel"}')),
  ('one property', pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": {"@type": "Property", "name": "since", "schema": "dateTime"}}]')),
  ('one bad property', pg_temp.m('"contents": [{"@type": "Relationship", "name": "feeds", "properties": {"@type": "Telemetry", "name": "since", "schema": "dateTime"}}]'))
) AS t(label, model);
SELECT * FROM dataspace.model_telemetry(pg_temp.m('"contents": {"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double", "unit": "kelvin"}'));
-- undefined co-types: valid DTDL v2, outside the subset; DTDL's own types are no co-types
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": ["Property", "Commercial"], "name": "setPoint", "schema": "double"}]'));
SELECT label, pg_temp.try(pg_temp.m(body)) AS result FROM (VALUES
  ('undefined', '"contents": [{"@type": ["Property", "Commercial"], "name": "setPoint", "schema": "double", "brand": "Honeywell"}]'),
  ('undefined first', '"contents": [{"@type": ["Commercial", "Temperature", "Telemetry"], "name": "t", "schema": "double", "unit": "kelvin"}]'),
  ('undefined only', '"contents": [{"@type": ["Commercial"], "name": "setPoint", "schema": "double"}]'),
  ('DTDL type', '"contents": [{"@type": ["Telemetry", "Enum"], "name": "state", "schema": "integer"}]'),
  ('Interface', '"contents": [{"@type": ["Telemetry", "Interface"], "name": "state", "schema": "integer"}]')
) AS t(label, body);
-- @id: one element each, never a reserved prefix; the same for a target
SELECT dataspace.validate_model(pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:press;1"}]'));
SELECT label, pg_temp.try(pg_temp.m(body)) AS result FROM (VALUES
  ('distinct', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:press:temp;1"}, {"@type": "Relationship", "name": "feeds", "@id": "dtmi:example:press:feeds;1", "properties": [{"@type": "Property", "name": "since", "schema": "date", "@id": "dtmi:example:press:feeds:since;1"}]}]'),
  ('same version differs', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:press;2"}]'),
  ('interface', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double"}, {"@type": "Property", "name": "setPoint", "schema": "double", "@id": "dtmi:example:press;1"}]'),
  ('siblings', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:press:temp;1"}, {"@type": "Property", "name": "setPoint", "schema": "double", "@id": "dtmi:example:press:temp;1"}]'),
  ('property and element', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:example:press:temp;1"}, {"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Property", "name": "since", "schema": "date", "@id": "dtmi:example:press:temp;1"}]}]'),
  ('property and its relationship', '"contents": [{"@type": "Relationship", "name": "feeds", "@id": "dtmi:example:press:feeds;1", "properties": [{"@type": "Property", "name": "since", "schema": "date", "@id": "dtmi:example:press:feeds;1"}]}]'),
  ('two properties', '"contents": [{"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Property", "name": "since", "schema": "date", "@id": "dtmi:example:p;1"}, {"@type": "Property", "name": "until", "schema": "date", "@id": "dtmi:example:p;1"}]}]'),
  ('reserved dtdl', '"contents": [{"@type": "Telemetry", "name": "temp", "schema": "double", "@id": "dtmi:dtdl:temp;1"}]'),
  ('reserved standard', '"contents": [{"@type": "Relationship", "name": "feeds", "properties": [{"@type": "Property", "name": "since", "schema": "date", "@id": "dtmi:standard:since;1"}]}]'),
  ('target dtdl', '"contents": [{"@type": "Relationship", "name": "feeds", "target": "dtmi:dtdl:class:Interface;2"}]'),
  ('target standard', '"contents": [{"@type": "Relationship", "name": "feeds", "target": "dtmi:standard:room;1"}]'),
  ('target user', '"contents": [{"@type": "Relationship", "name": "feeds", "target": "dtmi:example:press;1"}]')
) AS t(label, body);

-- the trigger: on insert, on update of the model, not on other updates
INSERT INTO dataspace.twin (name, model) VALUES ('bad', pg_temp.m('"contents": [{"@type": "Telemetry", "name": "temp", "schema": "doubel"}]'));
INSERT INTO dataspace.twin (name, model) VALUES ('bad', '[]');
UPDATE dataspace.twin SET model = jsonb_set(model, '{contents,2,schema}', '"doubel"')
 WHERE id = '00000000-0000-4000-8000-0000000000b3';
UPDATE dataspace.twin SET model = jsonb_set(model, '{contents,2,schema}', '"integer"')
 WHERE id = '00000000-0000-4000-8000-0000000000b3';
SELECT model #>> '{contents,2,schema}' AS strokes_schema FROM dataspace.twin
 WHERE id = '00000000-0000-4000-8000-0000000000b3';
UPDATE dataspace.twin SET model = NULL WHERE id = '00000000-0000-4000-8000-0000000000b2';
UPDATE dataspace.twin SET properties = '{"line": 2}' WHERE id = '00000000-0000-4000-8000-0000000000b1';
SELECT name, model IS NOT NULL AS has_model FROM dataspace.twin WHERE name IN ('minimal', 'no contents', 'press 9') ORDER BY name;

-- stream assets from Telemetry
SELECT name, kind, value_type, unit, description, visibility
  FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3');
-- again: nothing new, the same rows
SELECT name, unit FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3');
SELECT count(*) AS streams FROM dataspace.asset WHERE twin_id = '00000000-0000-4000-8000-0000000000b3';
-- by name; non-numeric and unknown names are refused
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3', ARRAY['strokes']);
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3', ARRAY['oilTemp', 'state']);
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3', ARRAY['serialNumber']);
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b1', ARRAY['x']);
-- an existing asset that contradicts the model
UPDATE dataspace.asset SET unit = 'degC'
 WHERE twin_id = '00000000-0000-4000-8000-0000000000b3' AND name = 'oilTemp';
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3');
INSERT INTO dataspace.twin (id, name, model) VALUES ('00000000-0000-4000-8000-0000000000b4', 'pump',
  pg_temp.m('"contents": [{"@type": "Telemetry", "name": "flow", "schema": "double"}]'));
INSERT INTO dataspace.asset (twin_id, name, kind) VALUES ('00000000-0000-4000-8000-0000000000b4', 'flow', 'package');
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b4');
-- no model, no twin
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b2');
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000ff');
-- privileges: administrators only
SET ROLE dataspace_reader;
SELECT name FROM dataspace.create_twin_assets('00000000-0000-4000-8000-0000000000b3');
SELECT count(*) FROM dataspace.model_telemetry(pg_temp.m('"contents": []'));
RESET ROLE;
SET ROLE dataspace_writer;
SELECT dataspace.validate_model('{}');
RESET ROLE;
-- a role granted INSERT on twins and nothing else: the model and the
-- parent are still checked (the trigger runs with its owner's privileges)
CREATE ROLE regress_twin_inserter;
GRANT USAGE ON SCHEMA dataspace TO regress_twin_inserter;
GRANT INSERT ON dataspace.twin TO regress_twin_inserter;
SET ROLE regress_twin_inserter;
INSERT INTO dataspace.twin (id, name, model, parent_id) VALUES ('00000000-0000-4000-8000-0000000000b5', 'by inserter',
  pg_temp.m('"contents": []'), '00000000-0000-4000-8000-0000000000b1');
INSERT INTO dataspace.twin (id, name, model) VALUES ('00000000-0000-4000-8000-0000000000b6', 'bad model',
  pg_temp.m('"contents": [{"@type": "Telemetry"}]'));
RESET ROLE;
SELECT name, parent_id FROM dataspace.twin WHERE id IN ('00000000-0000-4000-8000-0000000000b5', '00000000-0000-4000-8000-0000000000b6');
DELETE FROM dataspace.twin WHERE id = '00000000-0000-4000-8000-0000000000b5';
REVOKE ALL ON dataspace.twin FROM regress_twin_inserter;
REVOKE ALL ON SCHEMA dataspace FROM regress_twin_inserter;
DROP ROLE regress_twin_inserter;
-- leave no assets behind for later files
DELETE FROM dataspace.asset WHERE twin_id IN ('00000000-0000-4000-8000-0000000000b3', '00000000-0000-4000-8000-0000000000b4');
DELETE FROM dataspace.twin WHERE id IN ('00000000-0000-4000-8000-0000000000b1', '00000000-0000-4000-8000-0000000000b2',
                                         '00000000-0000-4000-8000-0000000000b3', '00000000-0000-4000-8000-0000000000b4');
