-- Contract policies: every term allowing and denying, every bad policy
-- refused with its message, the canonical form.
SET timezone = 'UTC';

-- canonical form: members sorted, values normalised, onward_sharing explicit
SELECT dataspace.check_policy('{}');
SELECT dataspace.check_policy('{"purpose": ["research", "maintenance"], "max_age": "PT36H",
  "validity": {"until": "2027-01-01T01:00:00+01:00", "from": "2026-01-01T00:00:00Z"},
  "data_window": {"from": "2025-06-01T12:00:00.5Z"}, "onward_sharing": true,
  "max_points_per_day": 86400}');
SELECT dataspace.check_policy('{"max_age": "P1DT0H0M90S"}') -> 'max_age' AS normalised;
SELECT dataspace.check_policy('{"max_age": "PT86400S"}') -> 'max_age' AS one_day;
-- the canonical form reads back as itself
SELECT dataspace.check_policy(dataspace.check_policy(p)) = dataspace.check_policy(p) AS stable
  FROM (VALUES ('{"purpose": ["b", "a"], "data_window": {"until": "2026-02-01T00:00:00-05:00"}}'::jsonb)) v(p);

-- data_window: from inclusive, until exclusive
CREATE TEMP TABLE w AS SELECT '{"data_window": {"from": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}}'::jsonb AS p;
SELECT ts, dataspace.policy_allows(p, ts, '2026-06-01') AS allowed
  FROM w, (VALUES ('2025-12-31 23:59:59.999999+00'::timestamptz), ('2026-01-01 00:00:00+00'),
                  ('2026-01-31 23:59:59.999999+00'), ('2026-02-01 00:00:00+00')) v(ts);
SELECT dataspace.policy_allows('{"data_window": {"from": "2026-01-01T00:00:00Z"}}', '2030-01-01', '2030-01-02') AS open_end,
       dataspace.policy_allows('{"data_window": {"until": "2026-01-01T00:00:00Z"}}', '1990-01-01', '2030-01-02') AS open_start,
       dataspace.policy_allows('{"data_window": {"until": "2026-01-01T00:00:00Z"}}', '2026-01-01', '2030-01-02') AS at_until;

-- max_age: sliding, relative to the time of the decision
SELECT age, dataspace.policy_allows('{"max_age": "P7D"}', '2026-06-08 00:00:00+00'::timestamptz - age, '2026-06-08') AS allowed
  FROM (VALUES (interval '0'), (interval '6 days 23:59:59'), (interval '7 days'),
               (interval '7 days 00:00:00.000001'), (interval '-1 day')) v(age);

-- validity: when the permission may be used
SELECT at, dataspace.policy_allows('{"validity": {"from": "2026-01-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"}}',
                                   '2020-01-01', at) AS allowed
  FROM (VALUES ('2025-12-31 23:59:59+00'::timestamptz), ('2026-01-01 00:00:00+00'),
               ('2026-12-31 23:59:59+00'), ('2027-01-01 00:00:00+00')) v(at);

-- terms combine: every one must allow
SELECT dataspace.policy_allows(p, '2026-03-10', '2026-03-12') AS inside_all,
       dataspace.policy_allows(p, '2026-03-01', '2026-03-12') AS too_old,
       dataspace.policy_allows(p, '2026-03-10', '2026-05-02') AS expired
  FROM (VALUES ('{"data_window": {"from": "2026-01-01T00:00:00Z"}, "max_age": "P5D",
                  "validity": {"until": "2026-05-01T00:00:00Z"}}'::jsonb)) v(p);
-- the default decision time is now()
SELECT dataspace.policy_allows('{"max_age": "PT1H"}', now() - interval '59 minutes') AS recent,
       dataspace.policy_allows('{"max_age": "PT1H"}', now() - interval '61 minutes') AS old;

-- explain: the verdict, then each term
SELECT dataspace.explain_policy('{"data_window": {"from": "2026-01-01T00:00:00Z"}, "max_age": "P5D",
  "validity": {"until": "2026-05-01T00:00:00Z"}, "purpose": ["maintenance"], "max_points_per_day": 1000}'::jsonb,
  '2026-03-01', '2026-03-12');
SELECT dataspace.explain_policy('{}'::jsonb, '2026-03-01', '2026-03-12');
SELECT split_part(dataspace.explain_policy(p, ts, at), E'\n', 1) AS verdict
  FROM (VALUES
    ('{"validity": {"from": "2026-01-01T00:00:00Z"}}'::jsonb, '2026-01-01'::timestamptz, '2025-01-01'::timestamptz),
    ('{"validity": {"until": "2026-01-01T00:00:00Z"}}', '2025-01-01', '2026-01-01'),
    ('{"data_window": {"from": "2026-01-01T00:00:00Z"}}', '2025-01-01', '2026-01-01'),
    ('{"data_window": {"until": "2026-01-01T00:00:00Z"}}', '2026-01-01', '2026-01-01'),
    ('{"max_age": "PT1S"}', '2026-01-01', '2026-01-01 00:00:02')) v(p, ts, at);

-- Bad policies are refused, each with its reason.
SELECT dataspace.check_policy('[]');
SELECT dataspace.check_policy('"anything"');
SELECT dataspace.check_policy('{"use": "any"}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": "2026"}');
SELECT dataspace.check_policy('{"data_window": {}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01 00:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-02-30T00:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2025-02-29T00:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01T24:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01T00:00:60Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01T00:00:00.1234567Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": 1767225600}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}}');
SELECT dataspace.check_policy('{"data_window": {"from": "2026-01-01T01:00:00+01:00", "until": "2026-01-01T00:00:00Z"}}');
SELECT dataspace.check_policy('{"validity": {"from": "2027-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}}');
SELECT dataspace.check_policy('{"validity": {"since": "2026-01-01T00:00:00Z"}}');
SELECT dataspace.check_policy('{"max_age": 30}');
SELECT dataspace.check_policy('{"max_age": "30 days"}');
SELECT dataspace.check_policy('{"max_age": "P1M"}');
SELECT dataspace.check_policy('{"max_age": "P1Y"}');
SELECT dataspace.check_policy('{"max_age": "P1W"}');
SELECT dataspace.check_policy('{"max_age": "PT1.5S"}');
SELECT dataspace.check_policy('{"max_age": "P1H"}');
SELECT dataspace.check_policy('{"max_age": "PT"}');
SELECT dataspace.check_policy('{"max_age": "PT1M1H"}');
SELECT dataspace.check_policy('{"max_age": "P0D"}');
SELECT dataspace.check_policy('{"max_age": "P36526D"}');
SELECT dataspace.check_policy('{"purpose": "research"}');
SELECT dataspace.check_policy('{"purpose": []}');
SELECT dataspace.check_policy('{"purpose": ["research", "research"]}');
SELECT dataspace.check_policy('{"purpose": ["Research"]}');
SELECT dataspace.check_policy('{"purpose": ["1st"]}');
SELECT dataspace.check_policy('{"purpose": [42]}');
SELECT dataspace.check_policy('{"purpose": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"]}');
SELECT dataspace.check_policy('{"onward_sharing": "no"}');
SELECT dataspace.check_policy('{"onward_sharing": null}');
SELECT dataspace.check_policy('{"max_points_per_day": 0}');
SELECT dataspace.check_policy('{"max_points_per_day": -5}');
SELECT dataspace.check_policy('{"max_points_per_day": 10.5}');
SELECT dataspace.check_policy('{"max_points_per_day": "1000"}');
SELECT dataspace.check_policy('{"max_points_per_day": 9007199254740992}');
-- a contradiction between terms that are each fine
SELECT dataspace.check_policy('{"data_window": {"until": "2026-01-01T00:00:00Z"}, "max_age": "P30D",
  "validity": {"from": "2026-03-01T00:00:00Z"}}');
-- ... and the same terms when the windows can meet
SELECT dataspace.check_policy('{"data_window": {"until": "2026-01-01T00:00:00Z"}, "max_age": "P90D",
  "validity": {"from": "2026-03-01T00:00:00Z"}}') IS NOT NULL AS can_meet;

-- decisions need finite times; the policy is checked there too
SELECT dataspace.policy_allows('{}', 'infinity');
SELECT dataspace.explain_policy('{}'::jsonb, now(), '-infinity');
SELECT dataspace.policy_allows('{"max_age": "1 day"}', now());
SELECT dataspace.policy_allows(NULL, now()) IS NULL AS null_in_null_out;
