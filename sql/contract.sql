-- Data contracts on one server: two node identities in two databases (this
-- one provides, the peer consumes), each knowing the other as an approved
-- participant, steps carried between them with receive_contract_step() as
-- the hub-sync worker would.  Every legal and illegal transition, every
-- bad policy refused at creation, every decision of contract_allows and
-- explain_policy, tampering, onward sharing, privileges.
SET timezone = 'UTC';
\set home :DBNAME
\set VERBOSITY default

-- ids and keys differ on every run: errors are shown with them masked,
-- with their detail, or with their hint instead
CREATE FUNCTION public.mask(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(regexp_replace(t, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
         '<uuid>', 'g'), '[0-9a-f]{64}', '<key>', 'g') $$;
CREATE FUNCTION public.try(sql text, with_hint boolean DEFAULT false) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; det text; hint text; st text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
                          st = RETURNED_SQLSTATE;
  IF with_hint THEN
    RETURN public.mask(st || ': ' || msg || coalesce(' | HINT: ' || nullif(hint, ''), ''));
  END IF;
  RETURN public.mask(st || ': ' || msg || coalesce(' | ' || nullif(det, ''), ''));
END $$;
CREATE VIEW public.step_hex AS
  SELECT s.contract_id, s.step_no, s.step, encode(c.canonical, 'hex') AS c,
         encode(s.message, 'hex') AS m, encode(s.signature, 'hex') AS s
    FROM dataspace.contract_step s JOIN dataspace.contract c ON c.id = s.contract_id;

CREATE DATABASE regress_contract_peer;
\c regress_contract_peer
SET timezone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION pg_dataspace;
RESET client_min_messages;
SELECT dataspace.init_node('peer') IS NOT NULL AS peer_ready;
SELECT node_id AS peer_id, encode(public_key, 'hex') AS peer_pk FROM dataspace.node_info() \gset
CREATE FUNCTION public.mask(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(regexp_replace(t, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
         '<uuid>', 'g'), '[0-9a-f]{64}', '<key>', 'g') $$;
CREATE FUNCTION public.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text; det text; st text;
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, st = RETURNED_SQLSTATE;
  RETURN public.mask(st || ': ' || msg || coalesce(' | ' || nullif(det, ''), ''));
END $$;
CREATE VIEW public.step_hex AS
  SELECT s.contract_id, s.step_no, s.step, encode(c.canonical, 'hex') AS c,
         encode(s.message, 'hex') AS m, encode(s.signature, 'hex') AS s
    FROM dataspace.contract_step s JOIN dataspace.contract c ON c.id = s.contract_id;
-- an asset of the peer's own
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001d0', 'peer press');
INSERT INTO dataspace.asset (id, twin_id, name, kind) VALUES
  ('00000000-0000-4000-8000-0000000001d1', '00000000-0000-4000-8000-0000000001d0', 'peer temperature', 'stream');

\c :home
SET timezone = 'UTC';
SELECT node_id AS home_id, encode(public_key, 'hex') AS home_pk FROM dataspace.node_info() \gset
-- what the hub-sync worker caches: the other node, approved, with its key
INSERT INTO dataspace.participant (node_id, name, public_key, key_id, status, registration, registration_signature)
VALUES (:'peer_id', 'peer', decode(:'peer_pk', 'hex'), sha256(decode(:'peer_pk', 'hex')), 'approved', '\x00', '\x00'),
       ('00000000-0000-4000-8000-00000000eeee', 'away', decode(:'peer_pk', 'hex'), sha256(decode(:'peer_pk', 'hex')),
        'suspended', '\x00', '\x00');
INSERT INTO dataspace.twin (id, name) VALUES ('00000000-0000-4000-8000-0000000001c0', 'contract press');
INSERT INTO dataspace.asset (id, twin_id, name, kind, visibility) VALUES
  ('00000000-0000-4000-8000-0000000001c1', '00000000-0000-4000-8000-0000000001c0', 'oil temperature', 'stream', 'public'),
  ('00000000-0000-4000-8000-0000000001c2', '00000000-0000-4000-8000-0000000001c0', 'pressure', 'stream', 'public'),
  ('00000000-0000-4000-8000-0000000001c3', '00000000-0000-4000-8000-0000000001c0', 'not in it', 'stream', 'private');
-- an asset this node holds but did not provide (as received data would be)
INSERT INTO dataspace.asset (id, twin_id, name, kind, node_id) VALUES
  ('00000000-0000-4000-8000-0000000001c9', '00000000-0000-4000-8000-0000000001c0', 'received', 'stream', :'peer_id');

\c regress_contract_peer
SET timezone = 'UTC';
INSERT INTO dataspace.participant (node_id, name, public_key, key_id, status, registration, registration_signature)
VALUES (:'home_id', 'home', decode(:'home_pk', 'hex'), sha256(decode(:'home_pk', 'hex')), 'approved', '\x00', '\x00');
-- the peer requests from the catalog the hub showed it
INSERT INTO dataspace.hub_catalog (asset_id, provider_id, name, kind, value_type, published_at, publication, publication_signature)
VALUES ('00000000-0000-4000-8000-0000000001c2', :'home_id', 'pressure', 'stream', 'double', now(), '\x00', '\x00');

\c :home
SET timezone = 'UTC';

-- refused at creation: bad policies (fail closed), bad arguments, onward sharing
SELECT public.try(format('SELECT dataspace.offer_contract(%L, %L, %L, %L)', :'peer_id', a, p, u)) AS refusal
  FROM (VALUES
    ('{00000000-0000-4000-8000-0000000001c1}', '{"colour": "blue"}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"max_age": 30}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"max_age": "P0D"}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"purpose": []}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"onward_sharing": "yes"}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"data_window": {"from": "2027-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"data_window": {"until": "2026-01-01T00:00:00Z"}, "max_age": "P1D", "validity": {"from": "2026-02-01T00:00:00Z"}}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{"validity": {"until": "2001-01-01T00:00:00Z"}}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '[]', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{}', '2001-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1}', '{}', 'infinity'),
    ('{}', '{}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1,NULL}', '{}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001ff}', '{}', '2200-01-01'),
    ('{00000000-0000-4000-8000-0000000001c1,00000000-0000-4000-8000-0000000001c9}', '{}', '2200-01-01')
  ) v(a, p, u);
SELECT public.try(format('SELECT dataspace.offer_contract(%L, ''{00000000-0000-4000-8000-0000000001c1}'', ''{}'', ''2200-01-01'')', c)) AS refusal
  FROM (VALUES (:'home_id'), ('00000000-0000-4000-8000-00000000eeee'), ('00000000-0000-4000-8000-00000000ffff')) v(c);
SELECT count(*) AS no_contract_yet FROM dataspace.contract;

-- offer: the provider signs the contract bytes and the first step
SELECT dataspace.offer_contract(:'peer_id',
  '{00000000-0000-4000-8000-0000000001c2,00000000-0000-4000-8000-0000000001c1,00000000-0000-4000-8000-0000000001c1}',
  '{"data_window": {"from": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}, "max_age": "P30D",
    "validity": {"until": "2150-01-01T00:00:00Z"}, "purpose": ["maintenance"]}',
  '2200-01-01') AS k1 \gset
SELECT state, initiator, asset_ids, policy, valid_until, provider_id = :'home_id' AS provider_is_home,
       provider_signature IS NOT NULL AS provider_signed, consumer_signature IS NOT NULL AS consumer_signed,
       contract_hash = sha256(canonical) AS hash_ok, provider_key_id = sha256(provider_public_key) AS fingerprint_ok,
       last_step_no
  FROM dataspace.contract WHERE id = :'k1';
-- the canonical bytes: "PGDS", version 1, type 10, then length-prefixed fields
SELECT substr(canonical, 1, 6) AS frame, get_byte(canonical, 9) AS id_len,
       substr(canonical, 7 + 4 + 16 + 4 + 16 + 4 + 16 + 4 + 32 + 4 + 32, 4) AS assets_len,
       convert_from(substr(canonical, 7 + 4 + 16 + 4 + 16 + 4 + 16 + 4 + 32 + 4 + 32 + 4 + 32 + 4,
         get_byte(canonical, 7 + 4 + 16 + 4 + 16 + 4 + 16 + 4 + 32 + 4 + 32 + 4 + 32 + 3)), 'UTF8') AS signed_policy
  FROM dataspace.contract WHERE id = :'k1';
SELECT step_no, step, actor_id = :'home_id' AS by_home, from_state, to_state, local, delivered_at IS NULL AS queued,
       step_hash = sha256(message) AS hash_ok
  FROM dataspace.contract_step WHERE contract_id = :'k1';
-- the provider cannot accept its own offer, nor suspend or revoke it
SELECT public.try(format(q, :'k1')) AS refusal
  FROM (VALUES ('SELECT dataspace.accept_contract(%L)'), ('SELECT dataspace.suspend_contract(%L, ''why'')'),
               ('SELECT dataspace.revoke_contract(%L, ''why'')'), ('SELECT dataspace.resume_contract(%L)'),
               ('SELECT dataspace.reject_contract(%L, '''')')) v(q);
SELECT public.try('SELECT dataspace.accept_contract(''00000000-0000-4000-8000-000000000000'')') AS refusal;
-- not agreed yet: nothing is allowed
SELECT public.mask(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now())) AS explain;

-- the offer reaches the consumer
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 1 \gset k1s1_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k1s1_c', 'hex'), decode(:'k1s1_m', 'hex'), decode(:'k1s1_s', 'hex')) AS state;
-- the same step again changes nothing; a step with another signature is refused
SELECT dataspace.receive_contract_step(decode(:'k1s1_c', 'hex'), decode(:'k1s1_m', 'hex'), decode(:'k1s1_s', 'hex')) AS again;
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k1s1_c', 'hex'),
  decode(:'k1s1_m', 'hex'), decode(repeat('00', 64), 'hex'))) AS forged;
SELECT state, provider_signature IS NOT NULL AS provider_signed, consumer_signature IS NOT NULL AS consumer_signed,
       local FROM dataspace.contract c JOIN dataspace.contract_step s ON s.contract_id = c.id WHERE c.id = :'k1';
-- the consumer may not suspend or revoke an offer
SELECT public.try(format(q, :'k1')) AS refusal
  FROM (VALUES ('SELECT dataspace.suspend_contract(%L, ''why'')'), ('SELECT dataspace.revoke_contract(%L, ''why'')'))
       v(q);
-- accept: the consumer signs the same bytes; the agreement waits for the provider
SELECT dataspace.accept_contract(:'k1') AS state;
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 2 \gset k1s2_

\c :home
SET timezone = 'UTC';
-- the provider receives the acceptance, verifies it and agrees at once
SELECT dataspace.receive_contract_step(decode(:'k1s2_c', 'hex'), decode(:'k1s2_m', 'hex'), decode(:'k1s2_s', 'hex')) AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 3 \gset k1s3_
-- not active yet: the consumer has not verified the agreement
SELECT dataspace.contract_allows(:'k1', '00000000-0000-4000-8000-0000000001c1', now()) AS agreed_allows;
\c regress_contract_peer
SET timezone = 'UTC';
-- the consumer verifies the agreement
SELECT dataspace.receive_contract_step(decode(:'k1s3_c', 'hex'), decode(:'k1s3_m', 'hex'), decode(:'k1s3_s', 'hex')) AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 4 \gset k1s4_
\c :home
SET timezone = 'UTC';
-- the provider finalizes: the agreement's life begins
SELECT dataspace.receive_contract_step(decode(:'k1s4_c', 'hex'), decode(:'k1s4_m', 'hex'), decode(:'k1s4_s', 'hex')) AS state;
SELECT step_no, step, from_state, to_state, local FROM dataspace.contract_step WHERE contract_id = :'k1' ORDER BY step_no;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 5 \gset k1s5_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k1s5_c', 'hex'), decode(:'k1s5_m', 'hex'), decode(:'k1s5_s', 'hex')) AS state;
-- both ends decide the same
SELECT dataspace.contract_allows(:'k1', '00000000-0000-4000-8000-0000000001c1', now()) AS peer_allows;

-- the purpose term: the consumer declares what it uses the data for; the
-- contract permits "maintenance" only
SELECT public.try(format('SELECT dataspace.declare_purpose(%L, %L)', c, p)) AS refusal
  FROM (VALUES (:'k1', 'marketing'), (:'k1', ''), (:'k1', 'Maintenance'), (:'k1', repeat('m', 65)),
               ('00000000-0000-4000-8000-00000000eeee', 'maintenance')) v(c, p);
SELECT dataspace.declare_purpose(:'k1', NULL) IS NULL AS strict_null;
SELECT count(*) AS nothing_declared_yet FROM dataspace.contract_purpose;
SELECT dataspace.declare_purpose(:'k1', 'maintenance');
SELECT contract_id = :'k1' AS for_k1, purpose FROM dataspace.contract_purpose;
-- declared again: the row is replaced, the audit log keeps both
SELECT dataspace.declare_purpose(:'k1', 'maintenance');
SELECT count(*) AS one_declaration FROM dataspace.contract_purpose;
SELECT event, subject = :'k1' AS for_k1, detail FROM dataspace.audit_log
 WHERE event = 'contract.purpose' ORDER BY seq;
CREATE ROLE regress_purpose_reader IN ROLE dataspace_reader;
CREATE ROLE regress_purpose_admin IN ROLE dataspace_contract_admin;
SET ROLE regress_purpose_reader;
SELECT public.try(format('SELECT dataspace.declare_purpose(%L, ''maintenance'')', :'k1')) AS reader_declares;
SELECT count(*) AS reader_reads FROM dataspace.contract_purpose;
SELECT public.try('INSERT INTO dataspace.contract_purpose VALUES (gen_random_uuid(), ''x'', now())') AS reader_writes;
RESET ROLE;
SET ROLE regress_purpose_admin;
SELECT public.try(format('SELECT dataspace.declare_purpose(%L, ''maintenance'')', :'k1')) AS admin_declares;
SELECT public.try('DELETE FROM dataspace.contract_purpose') AS admin_deletes;
RESET ROLE;
DROP ROLE regress_purpose_reader, regress_purpose_admin;
SELECT public.try('SELECT * FROM dataspace.export_authenticate(gen_random_uuid(), ''\x00'', ''maintenance'')') AS no_challenge;
SELECT public.try('SELECT * FROM dataspace.export_authenticate(NULL, ''\x00'')') AS null_contract;
\c :home
SET timezone = 'UTC';
-- the provider declares nothing: it is not the consumer
SELECT public.try(format('SELECT dataspace.declare_purpose(%L, ''maintenance'')', :'k1')) AS provider_declares;
\c :home
SET timezone = 'UTC';

-- contract_allows and explain_policy: every check
SELECT what, dataspace.contract_allows(:'k1', asset, ts, at) AS allowed,
       public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, asset, ts, at), E'\n', 1)) AS verdict
  FROM (VALUES
    ('allowed',           '00000000-0000-4000-8000-0000000001c1'::uuid, now(), now() + interval '1 hour'),
    ('second asset',      '00000000-0000-4000-8000-0000000001c2', now(), now() + interval '1 hour'),
    ('asset not in it',   '00000000-0000-4000-8000-0000000001c3', now(), now() + interval '1 hour'),
    ('before the window', '00000000-0000-4000-8000-0000000001c1', '2019-12-31 23:59:59', now() + interval '1 hour'),
    ('at window end',     '00000000-0000-4000-8000-0000000001c1', '2100-01-01', '2100-01-02'),
    ('last window point', '00000000-0000-4000-8000-0000000001c1', '2099-12-31 23:59:59.999999', '2100-01-02'),
    ('max_age: 29 days',  '00000000-0000-4000-8000-0000000001c1', now() - interval '29 days', now() + interval '1 hour'),
    ('max_age: 31 days',  '00000000-0000-4000-8000-0000000001c1', now() - interval '31 days', now() + interval '1 hour'),
    ('policy expired',    '00000000-0000-4000-8000-0000000001c1', '2099-12-31', '2150-01-01'),
    ('contract expired',  '00000000-0000-4000-8000-0000000001c1', '2099-12-31', '2200-01-01'),
    ('not valid yet',     '00000000-0000-4000-8000-0000000001c1', now(), now() - interval '1 day')
  ) v(what, asset, ts, at);
SELECT regexp_replace(public.mask(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1',
         '2099-12-01', '2099-12-15')), 'validity: from \S+', 'validity: from <created>') AS explain;
SELECT public.mask(dataspace.explain_policy('00000000-0000-4000-8000-000000000000'::uuid, '00000000-0000-4000-8000-0000000001c1', now())) AS unknown;

-- the stateless terms as row-level security
CREATE TABLE public.shared_points (asset_id uuid, ts timestamptz, value float8);
INSERT INTO public.shared_points VALUES
  ('00000000-0000-4000-8000-0000000001c1', now() - interval '1 day', 1),
  ('00000000-0000-4000-8000-0000000001c1', now() - interval '40 days', 2),
  ('00000000-0000-4000-8000-0000000001c2', now() - interval '2 days', 3),
  ('00000000-0000-4000-8000-0000000001c3', now() - interval '1 day', 4);
ALTER TABLE public.shared_points ENABLE ROW LEVEL SECURITY;
SELECT set_config('regress.k1', :'k1', false) IS NOT NULL AS k1_set;
DO $$ BEGIN EXECUTE format('CREATE POLICY under_k1 ON public.shared_points FOR SELECT USING (dataspace.contract_allows(%L, asset_id, ts))', current_setting('regress.k1')); END $$;
CREATE ROLE regress_contract_reader IN ROLE dataspace_reader;
GRANT SELECT ON public.shared_points TO regress_contract_reader;
SET ROLE regress_contract_reader;
SELECT value FROM public.shared_points ORDER BY value;
RESET ROLE;

-- tampering with the stored contract is caught: decisions read the signed bytes
BEGIN;
UPDATE dataspace.contract SET consumer_signature = provider_signature WHERE id = :'k1';
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
ROLLBACK;
BEGIN;
UPDATE dataspace.contract SET consumer_public_key = provider_public_key WHERE id = :'k1';
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
ROLLBACK;
BEGIN;
UPDATE dataspace.contract SET asset_ids = '{00000000-0000-4000-8000-0000000001c3}' WHERE id = :'k1';
SELECT dataspace.contract_allows(:'k1', '00000000-0000-4000-8000-0000000001c3', now()) AS column_edit_grants_nothing;
ROLLBACK;

-- the agreement's life: suspend and resume (provider), revoke (either)
SELECT public.try(format('SELECT dataspace.resume_contract(%L)', :'k1')) AS refusal;
SELECT dataspace.suspend_contract(:'k1', 'maintenance window') AS state;
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
BEGIN;
UPDATE dataspace.contract SET state = 'active' WHERE id = :'k1';
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
ROLLBACK;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 6 \gset k1s6_
SELECT dataspace.resume_contract(:'k1') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 7 \gset k1s7_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k1s6_c', 'hex'), decode(:'k1s6_m', 'hex'), decode(:'k1s6_s', 'hex')) AS state;
SELECT dataspace.contract_allows(:'k1', '00000000-0000-4000-8000-0000000001c1', now()) AS while_suspended;
-- step 7 before step 6 would not apply; in order it does
SELECT dataspace.receive_contract_step(decode(:'k1s7_c', 'hex'), decode(:'k1s7_m', 'hex'), decode(:'k1s7_s', 'hex')) AS state;
-- the consumer may not suspend; it may revoke
SELECT public.try(format('SELECT dataspace.suspend_contract(%L, ''why'')', :'k1')) AS refusal;
SELECT dataspace.revoke_contract(:'k1', 'no longer needed') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k1' AND step_no = 8 \gset k1s8_
\c :home
SET timezone = 'UTC';
-- a step whose signed reason was changed on the way is refused
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k1s8_c', 'hex'),
  decode(replace(:'k1s8_m', encode('needed', 'hex'), encode('wanted', 'hex')), 'hex'), decode(:'k1s8_s', 'hex'))) AS forged_reason;
SELECT dataspace.receive_contract_step(decode(:'k1s8_c', 'hex'), decode(:'k1s8_m', 'hex'), decode(:'k1s8_s', 'hex')) AS state;
SELECT state, reason FROM dataspace.contract WHERE id = :'k1';
SELECT public.mask(split_part(dataspace.explain_policy(:'k1'::uuid, '00000000-0000-4000-8000-0000000001c1', now()), E'\n', 1)) AS verdict;
SELECT public.try(format(q, :'k1')) AS after_revocation
  FROM (VALUES ('SELECT dataspace.resume_contract(%L)'), ('SELECT dataspace.suspend_contract(%L, ''why'')'),
               ('SELECT dataspace.revoke_contract(%L, ''again'')'), ('SELECT dataspace.accept_contract(%L)')) v(q);
SET ROLE regress_contract_reader;
SELECT count(*) AS visible_after_revocation FROM public.shared_points;
RESET ROLE;

-- a request: the consumer asks, the provider accepts (that is its agreement),
-- the consumer verifies, the provider finalizes
\c regress_contract_peer
SET timezone = 'UTC';
SELECT public.try(format('SELECT dataspace.request_contract(%L, ''{00000000-0000-4000-8000-0000000001c1}'', ''{}'', ''2200-01-01'')',
  :'home_id')) AS not_in_catalog;
SELECT dataspace.request_contract(:'home_id', '{00000000-0000-4000-8000-0000000001c2}', '{"max_age": "PT12H"}', '2200-01-01') AS k2 \gset
SELECT state, initiator, consumer_signature IS NOT NULL AS consumer_signed FROM dataspace.contract WHERE id = :'k2';
SELECT public.try(format('SELECT dataspace.accept_contract(%L)', :'k2')) AS own_request;
SELECT * FROM public.step_hex WHERE contract_id = :'k2' AND step_no = 1 \gset k2s1_
\c :home
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k2s1_c', 'hex'), decode(:'k2s1_m', 'hex'), decode(:'k2s1_s', 'hex')) AS state;
SELECT public.try(format('SELECT dataspace.suspend_contract(%L, ''why'')', :'k2')) AS refusal;
SELECT dataspace.accept_contract(:'k2') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k2' AND step_no = 2 \gset k2s2_
\c regress_contract_peer
SET timezone = 'UTC';
-- the consumer verifies the agreement, the provider finalizes it
SELECT dataspace.receive_contract_step(decode(:'k2s2_c', 'hex'), decode(:'k2s2_m', 'hex'), decode(:'k2s2_s', 'hex')) AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k2' AND step_no = 3 \gset k2s3_
\c :home
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k2s3_c', 'hex'), decode(:'k2s3_m', 'hex'), decode(:'k2s3_s', 'hex')) AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k2' AND step_no = 4 \gset k2s4_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k2s4_c', 'hex'), decode(:'k2s4_m', 'hex'), decode(:'k2s4_s', 'hex')) AS state;
SELECT step_no, step, from_state, to_state, local FROM dataspace.contract_step WHERE contract_id = :'k2' ORDER BY step_no;
SELECT dataspace.contract_allows(:'k2', '00000000-0000-4000-8000-0000000001c2', now() - interval '1 hour') AS recent,
       dataspace.contract_allows(:'k2', '00000000-0000-4000-8000-0000000001c2', now() - interval '13 hours') AS too_old;
-- a consumer cannot offer on what it only holds a contract for
SELECT public.try(format('SELECT dataspace.offer_contract(%L, ''{00000000-0000-4000-8000-0000000001c2}'', ''{"onward_sharing": true}'', ''2200-01-01'')',
  :'home_id')) AS onward_sharing;
\c :home
SET timezone = 'UTC';

-- rejection: by the consumer of an offer, and a provider withdrawing one
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k3 \gset
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k4 \gset
SELECT dataspace.reject_contract(:'k4', 'offered by mistake') AS withdrawn;
SELECT * FROM public.step_hex WHERE contract_id = :'k3' AND step_no = 1 \gset k3s1_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k3s1_c', 'hex'), decode(:'k3s1_m', 'hex'), decode(:'k3s1_s', 'hex')) AS state;
SELECT public.try(format('SELECT dataspace.reject_contract(%L, '''')', :'k3')) AS no_reason;
SELECT dataspace.reject_contract(:'k3', 'too expensive') AS state;
SELECT public.try(format('SELECT dataspace.accept_contract(%L)', :'k3')) AS after_rejection;
SELECT * FROM public.step_hex WHERE contract_id = :'k3' AND step_no = 2 \gset k3s2_
\c :home
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k3s2_c', 'hex'), decode(:'k3s2_m', 'hex'), decode(:'k3s2_s', 'hex')) AS state;
SELECT state, reason FROM dataspace.contract WHERE id = :'k3';

-- crossing steps: the provider withdraws while the consumer accepts; the
-- later one is refused where the other already applied
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k5 \gset
SELECT * FROM public.step_hex WHERE contract_id = :'k5' AND step_no = 1 \gset k5s1_
SELECT dataspace.reject_contract(:'k5', 'changed my mind') AS state;
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k5s1_c', 'hex'), decode(:'k5s1_m', 'hex'), decode(:'k5s1_s', 'hex')) AS state;
SELECT dataspace.accept_contract(:'k5') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k5' AND step_no = 2 \gset k5s2_
\c :home
SET timezone = 'UTC';
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k5s2_c', 'hex'),
  decode(:'k5s2_m', 'hex'), decode(:'k5s2_s', 'hex'))) AS crossing;
-- a step of one contract presented as another's is refused
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k1s1_c', 'hex'),
  decode(:'k5s2_m', 'hex'), decode(:'k5s2_s', 'hex'))) AS wrong_contract;
-- this node's own step, sent back to it, is not applied as the other's
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k5s1_c', 'hex'),
  decode(:'k5s1_m', 'hex'), decode(:'k5s1_s', 'hex'))) AS own_step;
-- a step carried by hand never overrides this node's own: only the hub's
-- order does (the hub-sync worker), so nothing here is superseded
SELECT step_no, step, local, superseded_at IS NULL AS in_force, superseded_by IS NULL AS no_winner,
       reissue_of IS NULL AS not_reissued
  FROM dataspace.contract_step WHERE contract_id = :'k5' ORDER BY seq;
SELECT state, last_step_no, reason FROM dataspace.contract WHERE id = :'k5';
-- the chain holds one step per number; a superseded step names its winner,
-- and only a step of this node that the hub never took can be superseded
\set VERBOSITY terse
BEGIN;
INSERT INTO dataspace.contract_step (contract_id, step_no, step, actor_id, from_state, to_state, message,
                                     signature, step_hash, local)
  SELECT contract_id, step_no, step, actor_id, from_state, to_state, message, signature, step_hash, local
    FROM dataspace.contract_step WHERE contract_id = :'k5' AND step_no = 2;
ROLLBACK;
UPDATE dataspace.contract_step SET superseded_at = now() WHERE contract_id = :'k5' AND step_no = 2;
UPDATE dataspace.contract_step SET superseded_at = now(), superseded_by = step_hash
 WHERE contract_id = :'k1' AND step_no = 4;
UPDATE dataspace.contract_step SET superseded_at = now(), superseded_by = step_hash, delivered_at = now()
 WHERE contract_id = :'k5' AND step_no = 2;
UPDATE dataspace.contract_step SET superseded_at = now(), superseded_by = '\x00'
 WHERE contract_id = :'k5' AND step_no = 2;
\set VERBOSITY default
-- superseded, a step leaves the chain: the number is free for the hub's step
BEGIN;
UPDATE dataspace.contract_step SET superseded_at = now(), superseded_by = step_hash
 WHERE contract_id = :'k5' AND step_no = 2;
INSERT INTO dataspace.contract_step (contract_id, step_no, step, actor_id, from_state, to_state, message,
                                     signature, step_hash)
  SELECT contract_id, step_no, step, actor_id, from_state, to_state, message, signature, step_hash
    FROM dataspace.contract_step WHERE contract_id = :'k5' AND step_no = 2;
SELECT step_no, step, local, superseded_at IS NULL AS in_force FROM dataspace.contract_step
 WHERE contract_id = :'k5' ORDER BY seq;
ROLLBACK;

-- the outbox: every local step waits for the hub-sync worker
SELECT step, count(*) FILTER (WHERE delivered_at IS NULL) AS queued
  FROM dataspace.contract_step WHERE local GROUP BY step ORDER BY step;
SELECT state, count(*) FROM dataspace.contract GROUP BY state ORDER BY state;

-- privileges
CREATE ROLE regress_contract_nobody;
CREATE ROLE regress_contract_admin IN ROLE dataspace_contract_admin;
SET ROLE regress_contract_nobody;
SELECT public.try('SELECT count(*) FROM dataspace.contract') AS nobody_reads;
SELECT public.try(format('SELECT dataspace.contract_allows(%L, ''00000000-0000-4000-8000-0000000001c1'', now())', :'k1')) AS nobody_asks;
SELECT public.try(format('SELECT dataspace.offer_contract(%L, ''{00000000-0000-4000-8000-0000000001c1}'', ''{}'', ''2200-01-01'')', :'peer_id')) AS nobody_offers;
RESET ROLE;
SET ROLE regress_contract_reader;
SELECT count(*) > 0 AS reader_reads FROM dataspace.contract;
SELECT public.try(format('SELECT dataspace.revoke_contract(%L, ''x'')', :'k2')) AS reader_revokes;
SELECT public.try('UPDATE dataspace.contract SET state = ''active''') AS reader_updates;
RESET ROLE;
-- contract administrators pick counterparties and assets: they see them
BEGIN;
INSERT INTO dataspace.hub_catalog (asset_id, provider_id, name, kind, value_type, published_at, publication, publication_signature)
VALUES ('00000000-0000-4000-8000-0000000001c9', :'peer_id', 'flow', 'stream', 'double', now(), '\x00', '\x00');
SET LOCAL ROLE regress_contract_admin;
SELECT count(*) AS admin_sees_catalog FROM dataspace.hub_catalog;
SELECT count(*) > 0 AS admin_sees_participants FROM dataspace.participant;
ROLLBACK;
SET ROLE regress_contract_admin;
SELECT dataspace.suspend_contract(:'k2', 'checked by the administrator') AS admin_suspends;
SELECT public.try('UPDATE dataspace.contract SET state = ''active''') AS admin_updates;
SELECT public.try('DELETE FROM dataspace.contract_step') AS admin_deletes;
RESET ROLE;
SELECT public.try('DELETE FROM dataspace.contract_step') AS superuser_deletes;

-- alarms: cleared by the contract administrators (contract) and admins
-- (participant), the text kept in the audit log; the worker raises them,
-- here they are set by hand
UPDATE dataspace.contract SET alarm = 'refused step 9 from the hub: test' WHERE id = :'k1';
UPDATE dataspace.participant SET key_alarm = 'the hub shows another key', key_alarm_at = now()
 WHERE node_id = :'peer_id';
SET ROLE regress_contract_reader;
SELECT public.try(format('SELECT dataspace.clear_alarm(%L)', :'k1')) AS reader_clears;
RESET ROLE;
SET ROLE regress_contract_admin;
SELECT dataspace.clear_alarm(:'k1') AS cleared;
SELECT dataspace.clear_alarm(:'k1') AS nothing_left;
SELECT public.try('SELECT dataspace.clear_alarm(''00000000-0000-4000-8000-00000000dddd'')') AS unknown;
SELECT public.try(format('SELECT dataspace.clear_key_alarm(%L)', :'peer_id')) AS contract_admin_clears_key;
RESET ROLE;
SELECT dataspace.clear_key_alarm(:'peer_id') AS cleared_key;
SELECT key_alarm, key_alarm_at FROM dataspace.participant WHERE node_id = :'peer_id';
SELECT public.try('SELECT dataspace.clear_key_alarm(''00000000-0000-4000-8000-00000000dddd'')') AS unknown;
SELECT event, subject IN (:'k1', :'peer_id') AS subject_ok, detail FROM dataspace.audit_log
 WHERE event LIKE '%alarm_cleared' ORDER BY seq;

-- The keys a step is checked against.  A counterparty's step under a key
-- of the chain this node checked is accepted only within that key's
-- validity and before its compromise: the peer's rejection of an offer,
-- carried here while the peer's cached chain says its key was retired, or
-- revoked as compromised, before the step (a thief's step under a stolen
-- key looks like this).  The chain is written here as the hub-sync worker
-- would cache it.
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k9 \gset
SELECT * FROM public.step_hex WHERE contract_id = :'k9' AND step_no = 1 \gset k9s1_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k9s1_c', 'hex'), decode(:'k9s1_m', 'hex'), decode(:'k9s1_s', 'hex')) AS state;
SELECT dataspace.reject_contract(:'k9', 'not now') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k9' AND step_no = 2 \gset k9s2_
SELECT created_at AS k9s2_at FROM dataspace.contract_step WHERE contract_id = :'k9' AND step_no = 2 \gset
\c :home
SET timezone = 'UTC';
INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position, valid_from, valid_until)
VALUES (:'peer_id', sha256(decode(:'peer_pk', 'hex')), decode(:'peer_pk', 'hex'), 1, '2000-01-01 00:00+00',
        timestamptz :'k9s2_at' - interval '1 second');
SELECT regexp_replace(public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k9s2_c', 'hex'),
  decode(:'k9s2_m', 'hex'), decode(:'k9s2_s', 'hex'))), '\d{4}-\d\d-\d\dT[0-9:.]+Z', '<time>') AS after_retirement;
SET session_replication_role = replica;
UPDATE dataspace.participant_key SET valid_until = NULL, revoked_at = timestamptz :'k9s2_at' + interval '1 minute',
       compromised_since = timestamptz :'k9s2_at' - interval '1 second', revocation_reason = 'stolen'
 WHERE node_id = :'peer_id';
RESET session_replication_role;
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k9s2_c', 'hex'),
  decode(:'k9s2_m', 'hex'), decode(:'k9s2_s', 'hex'))) AS after_compromise;
SELECT state FROM dataspace.contract WHERE id = :'k9';
-- compromised only after the step: the step stands
SET session_replication_role = replica;
UPDATE dataspace.participant_key SET compromised_since = timestamptz :'k9s2_at' + interval '1 second'
 WHERE node_id = :'peer_id';
RESET session_replication_role;
SELECT dataspace.receive_contract_step(decode(:'k9s2_c', 'hex'), decode(:'k9s2_m', 'hex'), decode(:'k9s2_s', 'hex')) AS state;
SET session_replication_role = replica;
DELETE FROM dataspace.participant_key WHERE node_id = :'peer_id';
RESET session_replication_role;

-- A step carried by hand must be under the key this node holds as the
-- counterparty's current one.  Here the cache shows that the peer replaced
-- its key a minute after its rejection: the rejection, though dated within
-- the old key's validity, is taken from the hub only (whoever holds a
-- replaced key can date steps back).  With the peer's key current again,
-- the same step is accepted.
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k11 \gset
SELECT * FROM public.step_hex WHERE contract_id = :'k11' AND step_no = 1 \gset k11s1_
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k11s1_c', 'hex'), decode(:'k11s1_m', 'hex'), decode(:'k11s1_s', 'hex')) AS state;
SELECT dataspace.reject_contract(:'k11', 'not now') AS state;
SELECT * FROM public.step_hex WHERE contract_id = :'k11' AND step_no = 2 \gset k11s2_
SELECT created_at AS k11s2_at FROM dataspace.contract_step WHERE contract_id = :'k11' AND step_no = 2 \gset
\c :home
SET timezone = 'UTC';
SET session_replication_role = replica;
INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position, previous_key_id, valid_from, valid_until)
VALUES (:'peer_id', sha256(decode(:'peer_pk', 'hex')), decode(:'peer_pk', 'hex'), 1, NULL, '2000-01-01 00:00+00',
        timestamptz :'k11s2_at' + interval '1 minute'),
       (:'peer_id', sha256(decode(repeat('01', 32), 'hex')), decode(repeat('01', 32), 'hex'), 2,
        sha256(decode(:'peer_pk', 'hex')), timestamptz :'k11s2_at' + interval '1 minute', NULL);
UPDATE dataspace.participant SET key_id = sha256(decode(repeat('01', 32), 'hex')),
       public_key = decode(repeat('01', 32), 'hex')
 WHERE node_id = :'peer_id';
RESET session_replication_role;
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k11s2_c', 'hex'),
  decode(:'k11s2_m', 'hex'), decode(:'k11s2_s', 'hex'))) AS under_replaced_key;
SELECT state FROM dataspace.contract WHERE id = :'k11';
SET session_replication_role = replica;
UPDATE dataspace.participant SET key_id = sha256(decode(:'peer_pk', 'hex')), public_key = decode(:'peer_pk', 'hex')
 WHERE node_id = :'peer_id';
DELETE FROM dataspace.participant_key WHERE node_id = :'peer_id';
RESET session_replication_role;
SELECT dataspace.receive_contract_step(decode(:'k11s2_c', 'hex'), decode(:'k11s2_m', 'hex'), decode(:'k11s2_s', 'hex')) AS state;

-- This node's own steps: after a rotation a step that does not sign the
-- contract goes out under the new key, but only while the key the contract
-- pins is still one of this node's keys.  Here it is taken out of the
-- keyring behind the extension's back, then put back.
SELECT dataspace.offer_contract(:'peer_id', '{00000000-0000-4000-8000-0000000001c1}', '{}', '2200-01-01') AS k10 \gset
SELECT length(dataspace.rotate_node_key()) AS rotated;
CREATE TABLE public.saved_key AS SELECT * FROM dataspace.node_key WHERE key_id = sha256(decode(:'home_pk', 'hex'));
SET session_replication_role = replica;
DELETE FROM dataspace.node_key WHERE key_id = sha256(decode(:'home_pk', 'hex'));
RESET session_replication_role;
SELECT public.try(format('SELECT dataspace.reject_contract(%L, ''withdrawn'')', :'k10'), with_hint => true) AS pinned_key_gone;
SET session_replication_role = replica;
INSERT INTO dataspace.node_key SELECT * FROM public.saved_key;
RESET session_replication_role;
DROP TABLE public.saved_key;
SELECT dataspace.reject_contract(:'k10', 'withdrawn') AS state;
SELECT s.actor_key_matches_new FROM (
  SELECT position(sha256(n.public_key) IN s.message) > 0 AS actor_key_matches_new
    FROM dataspace.contract_step s, dataspace.node_info() n
   WHERE s.contract_id = :'k10' AND s.step_no = 2) s;

-- A new contract that pins a replaced key of this node (the peer's cache
-- still holds the key from before the rotation) can never be accepted: it
-- is rejected at once, under the current key, saying why.  One that pins a
-- key that was never this node's is refused.
\c regress_contract_peer
SET timezone = 'UTC';
SELECT dataspace.request_contract(:'home_id', '{00000000-0000-4000-8000-0000000001c2}', '{}', '2200-01-01') AS k11 \gset
SELECT * FROM public.step_hex WHERE contract_id = :'k11' AND step_no = 1 \gset k11s1_
UPDATE dataspace.participant SET public_key = decode(:'peer_pk', 'hex'), key_id = sha256(decode(:'peer_pk', 'hex'))
 WHERE node_id = :'home_id';
SELECT dataspace.request_contract(:'home_id', '{00000000-0000-4000-8000-0000000001c2}', '{}', '2200-01-01') AS k12 \gset
SELECT * FROM public.step_hex WHERE contract_id = :'k12' AND step_no = 1 \gset k12s1_
\c :home
SET timezone = 'UTC';
SELECT dataspace.receive_contract_step(decode(:'k11s1_c', 'hex'), decode(:'k11s1_m', 'hex'), decode(:'k11s1_s', 'hex')) AS state;
SELECT state, public.mask(reason) AS reason FROM dataspace.contract WHERE id = :'k11';
SELECT step_no, step, local, position(sha256(n.public_key) IN s.message) > 0 AS under_current_key
  FROM dataspace.contract_step s, dataspace.node_info() n WHERE s.contract_id = :'k11' ORDER BY step_no;
SELECT public.try(format('SELECT dataspace.receive_contract_step(%L, %L, %L)', decode(:'k12s1_c', 'hex'),
  decode(:'k12s1_m', 'hex'), decode(:'k12s1_s', 'hex'))) AS never_this_nodes_key;
SELECT count(*) AS not_stored FROM dataspace.contract WHERE id = :'k12';

-- clean up what the tests after this one do not expect
DROP TABLE public.shared_points;
DROP ROLE regress_contract_reader, regress_contract_nobody, regress_contract_admin;
DROP VIEW public.step_hex;
DROP FUNCTION public.try(text, boolean), public.mask(text);
DROP DATABASE regress_contract_peer;
