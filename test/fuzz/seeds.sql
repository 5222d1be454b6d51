-- Produces seed inputs for the fuzz targets from the extension itself:
-- real proofs of points with extreme values and instants (the text
-- verify_proof reads: jsonb's output form), and canonical policies.
-- tools/fuzz.sh --seeds runs it against a throw-away server and writes the
-- rows into corpus/fuzz_proof/ and corpus/fuzz_policy/.
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION pg_dataspace;
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-00000000f000', 'fuzz seeds');
INSERT INTO dataspace.asset (id, twin_id, name, kind, seal_max_points) VALUES
  ('00000000-0000-4000-8000-00000000f001', '00000000-0000-4000-8000-00000000f000', 'seeds', 'stream', 7);
INSERT INTO dataspace.point (asset_id, ts, value) VALUES
  ('00000000-0000-4000-8000-00000000f001', '2026-06-01 00:00:00+00', 0.1),
  ('00000000-0000-4000-8000-00000000f001', '1969-12-31 23:59:59.999999+00', -0),
  ('00000000-0000-4000-8000-00000000f001', '4713-01-01 00:00:00+00 BC', 1e308),
  ('00000000-0000-4000-8000-00000000f001', '99999-12-31 23:59:59.999999+00', 5e-324),
  ('00000000-0000-4000-8000-00000000f001', '2024-02-29 12:34:56.789012+00', -2.2250738585072014e-308),
  ('00000000-0000-4000-8000-00000000f001', '2026-06-01 00:00:07+00', 1e21),
  ('00000000-0000-4000-8000-00000000f001', '2026-06-01 00:00:08+00', 42),
  ('00000000-0000-4000-8000-00000000f001', '0001-01-01 00:00:00+00', 2);
SELECT dataspace.seal_pending('00000000-0000-4000-8000-00000000f001') IS NOT NULL AS sealed \gset
\pset tuples_only on
\pset format unaligned
\o proofs.txt
SELECT dataspace.point_proof(asset_id, seq)::text FROM dataspace.point
 WHERE asset_id = '00000000-0000-4000-8000-00000000f001' ORDER BY seq;
\o policies.txt
SELECT dataspace.check_policy(p)::text FROM (VALUES
  ('{}'::jsonb),
  ('{"purpose": ["research", "maintenance"], "max_age": "PT36H", "validity": {"until": "2027-01-01T01:00:00+01:00", "from": "2026-01-01T00:00:00Z"}, "data_window": {"from": "2025-06-01T12:00:00.5Z"}, "onward_sharing": true, "max_points_per_day": 86400}'),
  ('{"max_age": "P1DT0H0M90S"}'),
  ('{"data_window": {"until": "2026-02-01T00:00:00-05:00"}, "purpose": ["b", "a"]}'),
  ('{"validity": {"from": "0000-01-01T00:00:00+23:59"}, "max_age": "P36525D"}'),
  ('{"data_window": {"from": "9999-12-31T23:59:59.999999-23:59"}, "max_points_per_day": 9007199254740991}')
) v(p);
\o
