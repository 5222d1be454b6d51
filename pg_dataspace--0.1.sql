/* pg_dataspace--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_dataspace" to load this file. \quit

/*
 * Group roles are cluster-wide: create them only if they do not exist yet,
 * and never drop them (another database of the cluster may use them).
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['dataspace_reader', 'dataspace_writer', 'dataspace_admin',
							  'dataspace_participant', 'dataspace_contract_admin',
							  'dataspace_export']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

REVOKE ALL ON SCHEMA dataspace FROM PUBLIC;
GRANT USAGE ON SCHEMA dataspace TO dataspace_reader, dataspace_writer, dataspace_admin,
	dataspace_contract_admin;

---------------------------------------------------------------------------
-- Node identity and keys
---------------------------------------------------------------------------

/*
 * The node's identity: one row, created on first use, never by this
 * script.  The binding columns record the database system and database it
 * was created in (or adopted by), so that a copy is recognised.
 */
CREATE TABLE dataspace.node (
	node_id uuid PRIMARY KEY,
	name text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	system_identifier text NOT NULL,
	database_oid oid NOT NULL,
	database_name name NOT NULL,
	singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton)
);

/*
 * Signing keys.  The private key is stored wrapped (AES-256-GCM) under the
 * key in dataspace.key_file; this table is readable by superusers only.
 */
CREATE TABLE dataspace.node_key (
	key_id bytea PRIMARY KEY CHECK (pg_catalog.length(key_id) OPERATOR(pg_catalog.=) 32),
	node_id uuid NOT NULL REFERENCES dataspace.node (node_id),
	algorithm text NOT NULL DEFAULT 'ed25519' CHECK (algorithm OPERATOR(pg_catalog.=) 'ed25519'),
	public_key bytea NOT NULL CHECK (pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32),
	wrapped_private_key bytea NOT NULL,
	created_at timestamptz NOT NULL,
	retired_at timestamptz,
	previous_key_id bytea REFERENCES dataspace.node_key (key_id),
	announcement bytea,
	announcement_signature bytea,
	possession_signature bytea,
	revoked_at timestamptz,
	compromised_since timestamptz,
	revocation_reason text,
	revocation bytea,
	revocation_signature bytea,
	revocation_key_id bytea
);

CREATE UNIQUE INDEX node_key_one_current ON dataspace.node_key ((true))
	WHERE retired_at IS NULL;

/* What anyone allowed to read the node may know of its keys. */
CREATE VIEW dataspace.node_public_key AS
	SELECT key_id, algorithm, public_key, created_at, retired_at,
		   previous_key_id, announcement, announcement_signature, possession_signature,
		   revoked_at, compromised_since, revocation_reason
	  FROM dataspace.node_key;

---------------------------------------------------------------------------
-- Twins and assets
---------------------------------------------------------------------------

CREATE TABLE dataspace.twin (
	id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
	name text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
	model jsonb,
	parent_id uuid REFERENCES dataspace.twin (id),
	properties jsonb NOT NULL DEFAULT '{}'
		CHECK (pg_catalog.jsonb_typeof(properties) OPERATOR(pg_catalog.=) 'object'),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE INDEX twin_parent_idx ON dataspace.twin (parent_id);

CREATE TABLE dataspace.asset (
	id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
	twin_id uuid NOT NULL REFERENCES dataspace.twin (id),
	name text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
	kind text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['stream', 'package'])),
	value_type text NOT NULL DEFAULT 'double'
		CHECK (value_type OPERATOR(pg_catalog.=) 'double'),
	unit text,
	visibility text NOT NULL DEFAULT 'private'
		CHECK (visibility OPERATOR(pg_catalog.=) ANY (ARRAY['private', 'public'])),
	description text,
	tags text[] NOT NULL DEFAULT '{}',
	node_id uuid NOT NULL,
	seal_max_points integer NOT NULL DEFAULT 10000
		CHECK (seal_max_points OPERATOR(pg_catalog.>=) 1 AND seal_max_points OPERATOR(pg_catalog.<=) 1000000),
	seal_min_points integer NOT NULL DEFAULT 1
		CHECK (seal_min_points OPERATOR(pg_catalog.>=) 1),
	seal_max_delay interval NOT NULL DEFAULT '0'
		CHECK (seal_max_delay OPERATOR(pg_catalog.>=) '0'::interval
			   AND seal_max_delay OPERATOR(pg_catalog.<=) '1 year'::interval),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	UNIQUE (twin_id, name)
);

CREATE INDEX asset_twin_idx ON dataspace.asset (twin_id);

---------------------------------------------------------------------------
-- Points, the pending queue and seals
---------------------------------------------------------------------------

CREATE SEQUENCE dataspace.point_seq;
CREATE SEQUENCE dataspace.batch_seq;
CREATE SEQUENCE dataspace.seal_id_seq;

CREATE FUNCTION dataspace.current_batch() RETURNS bigint
	AS 'MODULE_PATHNAME', 'dataspace_current_batch'
	LANGUAGE C STABLE STRICT;

CREATE FUNCTION dataspace.point_ok(asset uuid, seq bigint, batch bigint, ts timestamptz,
								   value double precision) RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_point_ok'
	LANGUAGE C STABLE STRICT;

/*
 * One row per data point of a local stream asset.  seq comes from a
 * sequence (unique and increasing per asset; gaps allowed), batch_id tags
 * the points of one transaction.  Both defaults keep COPY on its batched
 * path (nextval and a STABLE function).  There is deliberately no per-row
 * trigger: the CHECK function notes each row's seq for the statement
 * trigger, which lists the transaction's runs (asset, seq range) in
 * pending_batch; see docs/architecture.md.  point_seq must keep CACHE 1:
 * the runs are bounded by the sequence's last value.  One CHECK in C holds
 * every rule of a row: a declarative CHECK's expression is read back from
 * its stored text in every statement, which cost a single-row INSERT more
 * than the check itself (bench/RESULTS.md).
 */
CREATE TABLE dataspace.point (
	asset_id uuid NOT NULL,
	seq bigint NOT NULL DEFAULT pg_catalog.nextval('dataspace.point_seq'::pg_catalog.regclass),
	ts timestamptz NOT NULL,
	value double precision NOT NULL,
	batch_id bigint NOT NULL DEFAULT dataspace.current_batch(),
	CONSTRAINT point_pkey PRIMARY KEY (asset_id, seq),
	CONSTRAINT point_valid CHECK (dataspace.point_ok(asset_id, seq, batch_id, ts, value))
);

/*
 * Time-range queries on an append-ordered table.  The sealer does not use
 * it: it reads runs through the primary key.  On PostgreSQL 15 every
 * inserted row sets up a BRIN index's revmap access again, so there is
 * one BRIN index and no other (bench/RESULTS.md).
 */
CREATE INDEX point_brin ON dataspace.point USING brin (ts);

/*
 * Runs of points queued at insert time by the statement trigger: the
 * points of one batch and asset lie within [first_seq, last_seq].  One row
 * per statement and asset; no index, since the sealer takes every
 * committed row at once.
 */
CREATE TABLE dataspace.pending_batch (
	batch_id bigint NOT NULL,
	asset_id uuid NOT NULL,
	first_seq bigint NOT NULL,
	last_seq bigint NOT NULL,
	points bigint NOT NULL,
	queued_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

/* Runs the sealer has taken from pending_batch and not sealed yet. */
CREATE TABLE dataspace.pending_run (
	asset_id uuid NOT NULL,
	batch_id bigint NOT NULL,
	first_seq bigint NOT NULL,
	last_seq bigint NOT NULL,
	points bigint NOT NULL,
	queued_at timestamptz NOT NULL,
	PRIMARY KEY (asset_id, batch_id)
);

CREATE TABLE dataspace.seal (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('dataspace.seal_id_seq'::pg_catalog.regclass),
	asset_id uuid NOT NULL,
	node_id uuid NOT NULL,
	chain_pos bigint NOT NULL,
	batch_ids bigint[] NOT NULL,
	first_seq bigint NOT NULL,
	last_seq bigint NOT NULL,
	point_count bigint NOT NULL,
	min_ts timestamptz NOT NULL,
	max_ts timestamptz NOT NULL,
	merkle_root bytea NOT NULL,
	prev_hash bytea NOT NULL,
	seal_hash bytea NOT NULL,
	blinding_seed bytea NOT NULL,
	algorithm text NOT NULL DEFAULT 'ed25519',
	key_id bytea NOT NULL,
	signature bytea NOT NULL,
	sealed_at timestamptz NOT NULL,
	UNIQUE (asset_id, chain_pos)
);

/*
 * The seals of an interval (verify_asset): max_ts >= from AND min_ts <= to.
 * One index led by max_ts, so that checking the recent end of a long chain
 * reads the recent seals only, and one led by min_ts for an interval far
 * back; the planner picks by the interval.
 */
CREATE INDEX seal_asset_ts_idx ON dataspace.seal (asset_id, max_ts, min_ts);
CREATE INDEX seal_asset_start_idx ON dataspace.seal (asset_id, min_ts, max_ts);

/*
 * The seal of one point (point_proof): the first by last_seq at or after
 * the point's seq whose range and batches hold it.  Seals overlap in seq
 * only as far as concurrent writers interleaved, so the scan stops within
 * a few entries however long the chain.
 */
CREATE INDEX seal_asset_last_seq_idx ON dataspace.seal (asset_id, last_seq);

/* Signed records of retention: which sealed runs had their points dropped. */
CREATE TABLE dataspace.retention (
	id bigserial PRIMARY KEY,
	asset_id uuid NOT NULL,
	through_chain_pos bigint NOT NULL,
	before timestamptz NOT NULL,
	dropped_at timestamptz NOT NULL,
	points_dropped bigint NOT NULL,
	key_id bytea NOT NULL,
	message bytea NOT NULL,
	signature bytea NOT NULL
);

---------------------------------------------------------------------------
-- Triggers
---------------------------------------------------------------------------

CREATE FUNCTION dataspace.point_queue_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'dataspace_point_queue_trigger'
	LANGUAGE C;

CREATE FUNCTION dataspace.refuse_change_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'dataspace_refuse_change_trigger'
	LANGUAGE C;

CREATE TRIGGER point_queue_start BEFORE INSERT ON dataspace.point
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.point_queue_trigger();
CREATE TRIGGER point_queue AFTER INSERT ON dataspace.point
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.point_queue_trigger();

/*
 * Append-only guards.  Ordinary triggers on purpose: a superuser with
 * session_replication_role = replica can still change rows, and then
 * verification must say so.
 */
CREATE TRIGGER point_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.point
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER seal_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.seal
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER retention_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.retention
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER node_key_no_truncate BEFORE DELETE OR TRUNCATE ON dataspace.node_key
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

CREATE FUNCTION dataspace.node_id() RETURNS uuid
	AS 'MODULE_PATHNAME', 'dataspace_node_id'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

/* Twin tree: refuse cycles, also against concurrent re-parenting. */
/*
 * Twin models: the DTDL v2 subset of docs/twin-models.md, checked in C.
 * validate_model raises an error naming the first offending element;
 * model_telemetry lists the Telemetry elements of a valid model.
 */
CREATE FUNCTION dataspace.validate_model(model jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'dataspace_validate_model'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION dataspace.model_telemetry(model jsonb)
	RETURNS TABLE (content_index integer, name text, schema text, semantic_type text,
				   unit text, description text, numeric_schema boolean)
	AS 'MODULE_PATHNAME', 'dataspace_model_telemetry'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;

-- SECURITY DEFINER: the checks (model validation, locking the ancestors)
-- need privileges that a role granted only INSERT on dataspace.twin lacks
CREATE FUNCTION dataspace.twin_check_trigger() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cur uuid;
	depth integer := 0;
BEGIN
	IF NEW.name IS NULL OR NEW.name OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'twin name must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A twin is shown and found by its name.',
				  HINT = 'Give the twin a name such as "press 7".';
	END IF;
	IF pg_catalog.jsonb_typeof(NEW.properties) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'properties of twin "%" must be a JSON object', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('The value given is a JSON %s.',
											 pg_catalog.jsonb_typeof(NEW.properties));
	END IF;
	-- the model is checked when it is set or changed, not on every update
	IF NEW.model IS NOT NULL
	   AND (TG_OP OPERATOR(pg_catalog.=) 'INSERT' OR NEW.model IS DISTINCT FROM OLD.model) THEN
		PERFORM dataspace.validate_model(NEW.model);
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
		NEW.updated_at := pg_catalog.now();
		IF NEW.id OPERATOR(pg_catalog.<>) OLD.id THEN
			RAISE EXCEPTION 'cannot change the id of twin "%"', OLD.name
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Assets and child twins refer to a twin by its id.';
		END IF;
	END IF;
	/*
	 * Walk up from the new parent, locking each ancestor: a concurrent
	 * re-parenting of one of them either waits for us or makes us wait,
	 * and under REPEATABLE READ a concurrently changed ancestor raises a
	 * serialization failure instead of being read from a stale snapshot.
	 */
	cur := NEW.parent_id;
	WHILE cur IS NOT NULL LOOP
		IF cur OPERATOR(pg_catalog.=) NEW.id THEN
			RAISE EXCEPTION 'twin "%" cannot be its own ancestor', NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.format('Making %s the parent of %s would create a cycle.',
												 NEW.parent_id, NEW.id),
					  HINT = 'Choose a parent that is not a descendant of this twin.';
		END IF;
		depth := depth OPERATOR(pg_catalog.+) 1;
		IF depth OPERATOR(pg_catalog.>) 1000 THEN
			RAISE EXCEPTION 'twin hierarchy is deeper than 1000 levels'
				USING ERRCODE = 'program_limit_exceeded',
					  DETAIL = pg_catalog.format('Walking up from twin %s did not reach a root.', NEW.id);
		END IF;
		SELECT t.parent_id INTO cur FROM dataspace.twin t
		 WHERE t.id OPERATOR(pg_catalog.=) cur FOR SHARE;
	END LOOP;
	RETURN NEW;
END
$$;

CREATE TRIGGER twin_check BEFORE INSERT OR UPDATE ON dataspace.twin
	FOR EACH ROW EXECUTE FUNCTION dataspace.twin_check_trigger();

/* Assets: fill in the providing node, keep identity columns fixed. */
CREATE FUNCTION dataspace.asset_check_trigger() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP OPERATOR(pg_catalog.<>) 'DELETE' THEN
		IF NEW.name IS NULL OR NEW.name OPERATOR(pg_catalog.=) '' THEN
			RAISE EXCEPTION 'asset name must not be empty'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An asset is known by its twin and its name, also to the consumers of a contract.',
					  HINT = 'Give the asset a name such as "temperature", unique among the assets of its twin.';
		END IF;
		IF NEW.kind IS NULL OR NEW.kind OPERATOR(pg_catalog.<>) ALL (ARRAY['stream', 'package']) THEN
			RAISE EXCEPTION 'invalid asset kind "%"', NEW.kind
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'An asset is a stream of data points or a package (a document or file).',
					  HINT = 'Use ''stream'' or ''package''.';
		END IF;
		IF NEW.visibility OPERATOR(pg_catalog.<>) ALL (ARRAY['private', 'public']) THEN
			RAISE EXCEPTION 'invalid visibility "%" for asset "%"', NEW.visibility, NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Private assets stay on this node; public assets are listed in the hub''s catalog.',
					  HINT = 'Use ''private'' or ''public''.';
		END IF;
		IF NEW.value_type OPERATOR(pg_catalog.<>) 'double' THEN
			RAISE EXCEPTION 'unsupported value type "%" for asset "%"', NEW.value_type, NEW.name
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Points of stream assets hold double precision values.',
					  HINT = 'Use ''double''.';
		END IF;
		IF NEW.seal_max_points OPERATOR(pg_catalog.<) 1 OR NEW.seal_max_points OPERATOR(pg_catalog.>) 1000000 OR NEW.seal_min_points OPERATOR(pg_catalog.<) 1
		   OR NEW.seal_max_delay OPERATOR(pg_catalog.<) '0'::interval
		   OR NEW.seal_max_delay OPERATOR(pg_catalog.>) '1 year'::interval THEN
			RAISE EXCEPTION 'invalid sealing settings for asset "%"', NEW.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.format('seal_max_points is %s, seal_min_points %s, seal_max_delay %s.',
												 NEW.seal_max_points, NEW.seal_min_points, NEW.seal_max_delay),
					  HINT = 'seal_max_points must lie between 1 and 1000000, seal_min_points be at least 1, seal_max_delay between 0 and 1 year.';
		END IF;
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
		IF NEW.node_id IS NULL THEN
			NEW.node_id := dataspace.node_id();
		END IF;
		RETURN NEW;
	END IF;
	IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
		IF EXISTS (SELECT FROM dataspace.seal s WHERE s.asset_id OPERATOR(pg_catalog.=) OLD.id)
		   OR EXISTS (SELECT FROM dataspace.point p WHERE p.asset_id OPERATOR(pg_catalog.=) OLD.id) THEN
			RAISE EXCEPTION 'cannot delete asset "%": it has sealed points', OLD.name
				USING ERRCODE = 'dependent_objects_still_exist',
					  DETAIL = 'Points and seals are append-only; deleting the asset would orphan its seal chain.',
					  HINT = 'Use dataspace.drop_points() to remove old points under a signed retention record.';
		END IF;
		RETURN OLD;
	END IF;
	IF NEW.id OPERATOR(pg_catalog.<>) OLD.id OR NEW.kind OPERATOR(pg_catalog.<>) OLD.kind
	   OR NEW.node_id OPERATOR(pg_catalog.<>) OLD.node_id
	   OR NEW.value_type OPERATOR(pg_catalog.<>) OLD.value_type THEN
		RAISE EXCEPTION 'cannot change the id, kind, value type or node of asset "%"', OLD.name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Seals bind points to the asset id; its kind and type fix how values are sealed.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER asset_check BEFORE INSERT OR UPDATE OR DELETE ON dataspace.asset
	FOR EACH ROW EXECUTE FUNCTION dataspace.asset_check_trigger();

/*
 * One stream asset per numeric Telemetry element of a twin's model
 * (docs/twin-models.md, "Stream assets from Telemetry").  Idempotent:
 * an asset that exists already is returned as it is, never changed, and
 * refused only if it contradicts the model (a package, another unit).
 * With telemetry NULL every numeric Telemetry is taken and the others are
 * skipped with a notice; naming a non-numeric one is an error.
 */
CREATE FUNCTION dataspace.create_twin_assets(twin uuid, telemetry text[] DEFAULT NULL)
	RETURNS SETOF dataspace.asset
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	twin_name text;
	model jsonb;
	t record;
	a dataspace.asset;
	wanted text;
BEGIN
	-- FOR SHARE: the model cannot change under us
	SELECT tw.name, tw.model INTO twin_name, model
	  FROM dataspace.twin tw WHERE tw.id OPERATOR(pg_catalog.=) twin FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'twin % does not exist', twin
			USING ERRCODE = 'undefined_object',
				  DETAIL = 'No twin in dataspace.twin has this id.',
				  HINT = 'Pass the id of a twin, as in dataspace.create_twin_assets((SELECT id FROM dataspace.twin WHERE name = ''press 7'')).';
	END IF;
	IF model IS NULL THEN
		RAISE EXCEPTION 'twin "%" has no model', twin_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Stream assets are created from the Telemetry elements of the twin''s model.',
				  HINT = 'Set dataspace.twin.model to a DTDL v2 interface first.';
	END IF;
	IF telemetry IS NOT NULL THEN
		FOREACH wanted IN ARRAY telemetry LOOP
			SELECT mt.schema, mt.numeric_schema INTO t
			  FROM dataspace.model_telemetry(model) mt
			 WHERE mt.name OPERATOR(pg_catalog.=) wanted;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'model of twin "%" has no Telemetry "%"', twin_name, wanted
					USING ERRCODE = 'invalid_parameter_value',
						  DETAIL = COALESCE(
							  (SELECT 'Its Telemetry elements are '
									  OPERATOR(pg_catalog.||) pg_catalog.string_agg(mt.name, ', ' ORDER BY mt.content_index)
									  OPERATOR(pg_catalog.||) '.'
								 FROM dataspace.model_telemetry(model) mt),
							  'It has no Telemetry elements.');
			END IF;
			IF NOT t.numeric_schema THEN
				RAISE EXCEPTION 'non-numeric Telemetry "%" of twin "%" cannot become a stream asset', wanted, twin_name
					USING ERRCODE = 'datatype_mismatch',
						  DETAIL = pg_catalog.format('Its schema is "%s"; stream assets hold double precision values, so only double, float, integer and long Telemetry can.', t.schema),
						  HINT = 'Keep such values in a package asset or in the twin''s properties.';
			END IF;
		END LOOP;
	END IF;

	FOR t IN SELECT mt.* FROM dataspace.model_telemetry(model) mt
			  WHERE telemetry IS NULL OR mt.name OPERATOR(pg_catalog.=) ANY (telemetry)
			  ORDER BY mt.content_index
	LOOP
		IF NOT t.numeric_schema THEN
			RAISE NOTICE 'skipping Telemetry "%" of twin "%": its schema "%" is not numeric', t.name, twin_name, t.schema
				USING DETAIL = 'Stream assets hold double precision values.';
			CONTINUE;
		END IF;
		INSERT INTO dataspace.asset (twin_id, name, kind, unit, description)
		VALUES (twin, t.name, 'stream', t.unit, t.description)
		ON CONFLICT (twin_id, name) DO NOTHING;
		SELECT x.* INTO a FROM dataspace.asset x
		 WHERE x.twin_id OPERATOR(pg_catalog.=) twin AND x.name OPERATOR(pg_catalog.=) t.name;
		IF a.kind OPERATOR(pg_catalog.<>) 'stream' THEN
			RAISE EXCEPTION 'asset "%" of twin "%" exists and is not a stream', t.name, twin_name
				USING ERRCODE = 'duplicate_object',
					  DETAIL = pg_catalog.format('It is a %s asset; Telemetry "%s" of the model needs a stream.', a.kind, t.name),
					  HINT = 'Rename the existing asset or the Telemetry element.';
		END IF;
		IF a.unit IS DISTINCT FROM t.unit THEN
			RAISE EXCEPTION 'asset "%" of twin "%" exists with another unit', t.name, twin_name
				USING ERRCODE = 'duplicate_object',
					  DETAIL = pg_catalog.format('The asset''s unit is %s, the model''s %s.',
												 COALESCE('"' OPERATOR(pg_catalog.||) a.unit OPERATOR(pg_catalog.||) '"', 'none'),
												 COALESCE('"' OPERATOR(pg_catalog.||) t.unit OPERATOR(pg_catalog.||) '"', 'none')),
					  HINT = 'Change the asset''s unit or the model''s; this function never changes an existing asset.';
		END IF;
		RETURN NEXT a;
	END LOOP;
END
$$;

---------------------------------------------------------------------------
-- Functions
---------------------------------------------------------------------------

CREATE FUNCTION dataspace.init_node(name text) RETURNS uuid
	AS 'MODULE_PATHNAME', 'dataspace_init_node'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.node_info(
	OUT node_id uuid, OUT name text, OUT public_key bytea, OUT mode text)
	AS 'MODULE_PATHNAME', 'dataspace_node_info'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.rotate_node_key() RETURNS bytea
	AS 'MODULE_PATHNAME', 'dataspace_rotate_node_key'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.revoke_node_key(key_id bytea, compromised_since timestamptz,
										  reason text) RETURNS bytea
	AS 'MODULE_PATHNAME', 'dataspace_revoke_node_key'
	LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION dataspace.adopt_node(rekey boolean DEFAULT false) RETURNS uuid
	AS 'MODULE_PATHNAME', 'dataspace_adopt_node'
	LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION dataspace.seal_pending(asset uuid DEFAULT NULL) RETURNS bigint
	AS 'MODULE_PATHNAME', 'dataspace_seal_pending'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.drop_points(asset uuid, before timestamptz) RETURNS bigint
	AS 'MODULE_PATHNAME', 'dataspace_drop_points'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.verify_seal(seal_id bigint) RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_verify_seal'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.verify_asset(asset uuid,
									   from_ts timestamptz DEFAULT '-infinity',
									   to_ts timestamptz DEFAULT 'infinity')
	RETURNS TABLE (seal_id bigint, ok boolean, reason text)
	AS 'MODULE_PATHNAME', 'dataspace_verify_asset'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- Reads the seal's blinding seed, which callers cannot.
CREATE FUNCTION dataspace.point_proof(asset uuid, seq bigint) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'dataspace_point_proof'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- Needs nothing but its argument.
CREATE FUNCTION dataspace.verify_proof(proof jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_verify_proof'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

---------------------------------------------------------------------------
-- Contract policies (docs/policy.md): pure functions of their arguments
---------------------------------------------------------------------------

CREATE FUNCTION dataspace.check_policy(policy jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'dataspace_check_policy'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION dataspace.policy_allows(policy jsonb, ts timestamptz,
										at timestamptz DEFAULT pg_catalog.now())
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_policy_allows'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION dataspace.explain_policy(policy jsonb, ts timestamptz,
										 at timestamptz DEFAULT pg_catalog.now())
	RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_explain_policy'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;


---------------------------------------------------------------------------
-- The hub and the nodes' view of it (docs/hub.md)
---------------------------------------------------------------------------

/*
 * Participants.  On the hub: the registry, one row per registered node,
 * bound to the login role it submits as.  On a node: the approved
 * participants as the hub last showed them (a cache).
 */
CREATE TABLE dataspace.participant (
	node_id uuid PRIMARY KEY,
	name text NOT NULL CHECK (name OPERATOR(pg_catalog.<>) ''),
	public_key bytea NOT NULL CHECK (pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32),
	key_id bytea NOT NULL CHECK (pg_catalog.length(key_id) OPERATOR(pg_catalog.=) 32),
	endpoint text NOT NULL DEFAULT '',
	status text NOT NULL DEFAULT 'pending'
		CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'approved', 'suspended'])),
	role_name name UNIQUE,
	last_counter bigint NOT NULL DEFAULT 0,
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	approved_at timestamptz,
	suspended_at timestamptz,
	suspension_reason text,
	registration bytea NOT NULL,
	registration_signature bytea NOT NULL,
	key_alarm text,
	key_alarm_at timestamptz,
	/* the hub-sync instance whose submission the hub accepted last */
	last_instance bytea CHECK (pg_catalog.length(last_instance) OPERATOR(pg_catalog.=) 16)
);

/*
 * Participants' keys, current and past (docs/hub.md, "Key rotation").  On
 * the hub: the registered key, and each key a rotate_key submission
 * announced, with the announcement signed by the previous key and the
 * new key's proof of possession; a revoke_key submission adds the
 * revocation.  On a node: the keys of the chain it checked, from the
 * registered key to the current one.  valid_from/valid_until are the
 * node's own times from the announcements, so publications and anchors
 * made under an old key keep verifying under it.
 */
CREATE TABLE dataspace.participant_key (
	node_id uuid NOT NULL,
	key_id bytea NOT NULL CHECK (pg_catalog.length(key_id) OPERATOR(pg_catalog.=) 32),
	public_key bytea NOT NULL CHECK (pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32),
	position integer NOT NULL CHECK (position OPERATOR(pg_catalog.>=) 1),
	previous_key_id bytea,
	announcement bytea,
	announcement_signature bytea,
	possession_signature bytea,
	valid_from timestamptz NOT NULL,
	valid_until timestamptz,
	revoked_at timestamptz,
	compromised_since timestamptz,
	revocation_reason text,
	revocation bytea,
	revocation_signature bytea,
	revocation_key_id bytea,
	PRIMARY KEY (node_id, key_id),
	UNIQUE (node_id, position),
	CONSTRAINT participant_key_previous
		CHECK ((position OPERATOR(pg_catalog.=) 1) OPERATOR(pg_catalog.=) (previous_key_id IS NULL))
);

/* Key history is never deleted: old publications and anchors verify under it. */
CREATE TRIGGER participant_key_no_delete BEFORE DELETE OR TRUNCATE ON dataspace.participant_key
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/*
 * The public catalog.  On the hub: every asset an approved participant
 * published, with the provider's signed publication.  On a node: the
 * entries whose provider signature it checked (a cache).
 */
CREATE TABLE dataspace.hub_catalog (
	asset_id uuid PRIMARY KEY,
	provider_id uuid NOT NULL,
	twin_name text,
	name text NOT NULL,
	kind text NOT NULL,
	value_type text NOT NULL,
	unit text,
	description text,
	tags text[] NOT NULL DEFAULT '{}',
	published_at timestamptz NOT NULL,
	publication bytea NOT NULL,
	publication_signature bytea NOT NULL
);

CREATE INDEX hub_catalog_provider_idx ON dataspace.hub_catalog (provider_id);

/* Hub: every accepted submission, in the order accepted. */
CREATE TABLE dataspace.hub_submission (
	id bigserial PRIMARY KEY,
	node_id uuid NOT NULL,
	counter bigint NOT NULL,
	kind text NOT NULL,
	received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	submission bytea NOT NULL,
	signature bytea NOT NULL,
	instance bytea NOT NULL CHECK (pg_catalog.length(instance) OPERATOR(pg_catalog.=) 16),
	UNIQUE (node_id, counter)
);

/* an instance's submissions, looked up only when the instance changes */
CREATE INDEX hub_submission_instance_idx ON dataspace.hub_submission (node_id, instance, id);

/*
 * Hub: two copies of one node (docs/hub.md).  An instance of the
 * participant's hub-sync worker submitted again after another instance
 * took over; kept are the returning instance's last accepted submission,
 * the first accepted one of the instance after it, and the refused one,
 * each with its signature: evidence anyone with the participant's keys
 * can check.
 */
CREATE TABLE dataspace.hub_instance_conflict (
	id bigserial PRIMARY KEY,
	node_id uuid NOT NULL,
	detected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	instance bytea NOT NULL,
	other_instance bytea NOT NULL,
	earlier_submission bytea NOT NULL,
	earlier_signature bytea NOT NULL,
	other_submission bytea NOT NULL,
	other_signature bytea NOT NULL,
	submission bytea NOT NULL,
	signature bytea NOT NULL
);

CREATE TRIGGER hub_instance_conflict_append_only
	BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.hub_instance_conflict
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/* Hub: every refused submission and why. */
CREATE TABLE dataspace.hub_refusal (
	id bigserial PRIMARY KEY,
	refused_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	role_name name NOT NULL,
	claimed_node_id uuid,
	kind text,
	reason text NOT NULL
);

/* How many refusals a role had in the current minute (the budget's count). */
CREATE INDEX hub_refusal_role_idx ON dataspace.hub_refusal (role_name, refused_at);

/*
 * Hub: refusals beyond dataspace.hub_refusals_per_minute, counted per role
 * and minute instead of one row each, so that a login sending garbage in
 * a loop cannot fill the hub's disk or its log.
 */
CREATE TABLE dataspace.hub_refusal_overflow (
	role_name name NOT NULL,
	minute timestamptz NOT NULL,
	refusals bigint NOT NULL,
	last_kind text,
	last_reason text NOT NULL,
	last_at timestamptz NOT NULL,
	PRIMARY KEY (role_name, minute)
);

/* Node: the hub-sync worker's state; one row once it has run. */
CREATE TABLE dataspace.hub_sync_state (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	hub_id uuid,
	next_counter bigint NOT NULL DEFAULT 1,
	participant_status text,
	suspension_reason text,
	last_attempt timestamptz,
	last_success timestamptz,
	last_error text,
	last_error_at timestamptz
);

/* Node: what this node published at the hub, to publish changes only. */
CREATE TABLE dataspace.hub_publication (
	asset_id uuid PRIMARY KEY,
	descriptor text NOT NULL,
	published_at timestamptz NOT NULL
);

/* The approved participant session_user is, on the hub; NULL otherwise. */
CREATE FUNCTION dataspace.hub_session_participant() RETURNS uuid
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT p.node_id FROM dataspace.participant p
	 WHERE p.role_name OPERATOR(pg_catalog.=) SESSION_USER
	   AND p.status OPERATOR(pg_catalog.=) 'approved'
$$;

/*
 * Whether session_user may read the keys of participant id at the hub:
 * its own always, an approved participant's once approved itself.
 */
CREATE FUNCTION dataspace.hub_key_visible(id uuid) RETURNS boolean
	LANGUAGE sql STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT FROM dataspace.participant p
				   WHERE p.node_id OPERATOR(pg_catalog.=) $1
					 AND (p.role_name OPERATOR(pg_catalog.=) SESSION_USER
						  OR (p.status OPERATOR(pg_catalog.=) 'approved'
							  AND dataspace.hub_session_participant() IS NOT NULL)))
$$;

/*
 * Row-level security for participants logged in to the hub: the catalog
 * and approved participants' keys and endpoints once approved, their own
 * registration always.  Local roles see everything they are granted.
 */
ALTER TABLE dataspace.participant ENABLE ROW LEVEL SECURITY;
CREATE POLICY participant_visible ON dataspace.participant FOR SELECT TO dataspace_participant
	USING (role_name OPERATOR(pg_catalog.=) SESSION_USER
		   OR (status OPERATOR(pg_catalog.=) 'approved'
			   AND dataspace.hub_session_participant() IS NOT NULL));
CREATE POLICY participant_local ON dataspace.participant FOR SELECT
	TO dataspace_reader, dataspace_admin, dataspace_contract_admin USING (true);

ALTER TABLE dataspace.participant_key ENABLE ROW LEVEL SECURITY;
CREATE POLICY participant_key_visible ON dataspace.participant_key FOR SELECT
	TO dataspace_participant
	USING (dataspace.hub_key_visible(node_id));
CREATE POLICY participant_key_local ON dataspace.participant_key FOR SELECT
	TO dataspace_reader, dataspace_admin USING (true);

ALTER TABLE dataspace.hub_catalog ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_approved ON dataspace.hub_catalog FOR SELECT TO dataspace_participant
	USING (dataspace.hub_session_participant() IS NOT NULL);
CREATE POLICY catalog_local ON dataspace.hub_catalog FOR SELECT
	TO dataspace_reader, dataspace_admin, dataspace_contract_admin USING (true);

/*
 * Apply an accepted publication (called by dataspace.hub_submit): returns
 * NULL, or why it cannot be applied.
 */
CREATE FUNCTION dataspace.hub_apply_publication(payload jsonb, provider uuid,
												publication bytea, signature bytea,
												published_at timestamptz)
	RETURNS text
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	asset uuid;
	owner uuid;
BEGIN
	BEGIN
		asset := (payload OPERATOR(pg_catalog.->>) 'asset_id')::uuid;
	EXCEPTION WHEN invalid_text_representation THEN
		RETURN 'publication names no valid asset id';
	END;
	IF asset IS NULL OR (payload OPERATOR(pg_catalog.->>) 'name') IS NULL
	   OR (payload OPERATOR(pg_catalog.->>) 'kind') IS NULL
	   OR (payload OPERATOR(pg_catalog.->>) 'value_type') IS NULL THEN
		RETURN 'publication lacks asset_id, name, kind or value_type';
	END IF;
	SELECT c.provider_id INTO owner FROM dataspace.hub_catalog c
	 WHERE c.asset_id OPERATOR(pg_catalog.=) asset FOR UPDATE;
	IF FOUND AND owner OPERATOR(pg_catalog.<>) provider THEN
		RETURN pg_catalog.format('asset %s is published by another participant', asset);
	END IF;
	INSERT INTO dataspace.hub_catalog AS c (asset_id, provider_id, twin_name, name, kind,
		value_type, unit, description, tags, published_at, publication, publication_signature)
	VALUES (asset, provider, payload OPERATOR(pg_catalog.->>) 'twin',
		payload OPERATOR(pg_catalog.->>) 'name', payload OPERATOR(pg_catalog.->>) 'kind',
		payload OPERATOR(pg_catalog.->>) 'value_type', payload OPERATOR(pg_catalog.->>) 'unit',
		payload OPERATOR(pg_catalog.->>) 'description',
		COALESCE(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(payload OPERATOR(pg_catalog.->) 'tags')), '{}'),
		published_at, publication, signature)
	ON CONFLICT (asset_id) DO UPDATE SET twin_name = EXCLUDED.twin_name, name = EXCLUDED.name,
		kind = EXCLUDED.kind, value_type = EXCLUDED.value_type, unit = EXCLUDED.unit,
		description = EXCLUDED.description, tags = EXCLUDED.tags,
		published_at = EXCLUDED.published_at, publication = EXCLUDED.publication,
		publication_signature = EXCLUDED.publication_signature;
	RETURN NULL;
END
$$;

CREATE FUNCTION dataspace.hub_hello(nonce bytea,
									OUT message bytea, OUT public_key bytea, OUT signature bytea)
	AS 'MODULE_PATHNAME', 'dataspace_hub_hello'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.hub_whoami(OUT node_id uuid, OUT status text, OUT last_counter bigint,
									 OUT key_id bytea, OUT suspension_reason text)
	AS 'MODULE_PATHNAME', 'dataspace_hub_whoami'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.hub_submit(submission bytea, signature bytea,
									 OUT accepted boolean, OUT reason text)
	AS 'MODULE_PATHNAME', 'dataspace_hub_submit'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.approve_participant(id uuid) RETURNS void
	AS 'MODULE_PATHNAME', 'dataspace_approve_participant'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.suspend_participant(id uuid, reason text) RETURNS void
	AS 'MODULE_PATHNAME', 'dataspace_suspend_participant'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.sync_now() RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_sync_now'
	LANGUAGE C VOLATILE STRICT;

---------------------------------------------------------------------------
-- Data contracts (docs/contracts.md)
---------------------------------------------------------------------------

/*
 * Contracts.  On a node: the contracts it is a party of; on the hub: every
 * contract negotiated through it (participants see their own only).  The
 * signed content is the canonical column; the other columns are its
 * decoded, queryable copy, and every decision reads the signed bytes.
 */
CREATE TABLE dataspace.contract (
	id uuid PRIMARY KEY,
	provider_id uuid NOT NULL,
	consumer_id uuid NOT NULL,
	provider_key_id bytea NOT NULL CHECK (pg_catalog.length(provider_key_id) OPERATOR(pg_catalog.=) 32),
	consumer_key_id bytea NOT NULL CHECK (pg_catalog.length(consumer_key_id) OPERATOR(pg_catalog.=) 32),
	provider_public_key bytea NOT NULL CHECK (pg_catalog.length(provider_public_key) OPERATOR(pg_catalog.=) 32),
	consumer_public_key bytea NOT NULL CHECK (pg_catalog.length(consumer_public_key) OPERATOR(pg_catalog.=) 32),
	asset_ids uuid[] NOT NULL,
	policy jsonb NOT NULL,
	valid_from timestamptz NOT NULL,
	valid_until timestamptz NOT NULL,
	state text NOT NULL
		CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['REQUESTED', 'OFFERED', 'ACCEPTED', 'AGREED', 'VERIFIED', 'TERMINATED',
														'active', 'suspended', 'revoked'])),
	initiator text NOT NULL CHECK (initiator OPERATOR(pg_catalog.=) ANY (ARRAY['provider', 'consumer'])),
	canonical bytea NOT NULL,
	contract_hash bytea NOT NULL,
	provider_signature bytea,
	consumer_signature bytea,
	last_step_no bigint NOT NULL,
	last_step_hash bytea NOT NULL,
	reason text,
	alarm text,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CHECK (provider_id OPERATOR(pg_catalog.<>) consumer_id)
);

CREATE INDEX contract_provider_idx ON dataspace.contract (provider_id);
CREATE INDEX contract_consumer_idx ON dataspace.contract (consumer_id);

CREATE SEQUENCE dataspace.contract_step_seq;

/*
 * Every signed step of every contract, in order.  On a node, the steps it
 * made itself wait here (delivered_at NULL) until the hub-sync worker has
 * handed them to the hub: the outbox.  A step of this node that crossed
 * one of the counterparty's and lost at the hub is kept, superseded
 * (superseded_at, superseded_by: the hash of the hub's step in its place),
 * and never sent; the chain is the steps that are not superseded.  A step
 * the node took again after such a loss names the one it carries out
 * (reissue_of).
 */
CREATE TABLE dataspace.contract_step (
	contract_id uuid NOT NULL REFERENCES dataspace.contract (id),
	step_no bigint NOT NULL,
	seq bigint NOT NULL DEFAULT pg_catalog.nextval('dataspace.contract_step_seq'::pg_catalog.regclass),
	step text NOT NULL,
	actor_id uuid NOT NULL,
	from_state text NOT NULL,
	to_state text NOT NULL,
	message bytea NOT NULL,
	signature bytea NOT NULL,
	step_hash bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	local boolean NOT NULL DEFAULT false,
	delivered_at timestamptz,
	delivery_error text,
	hub_seq bigint,
	superseded_at timestamptz,
	superseded_by bytea CHECK (pg_catalog.length(superseded_by) OPERATOR(pg_catalog.=) 32),
	reissue_of bytea CHECK (pg_catalog.length(reissue_of) OPERATOR(pg_catalog.=) 32),
	PRIMARY KEY (seq),
	CONSTRAINT contract_step_superseded_winner
		CHECK ((superseded_at IS NULL) OPERATOR(pg_catalog.=) (superseded_by IS NULL)),
	-- only a step of this node that the hub never took can be superseded
	CONSTRAINT contract_step_superseded_undelivered
		CHECK (superseded_at IS NULL OR (local AND delivered_at IS NULL AND hub_seq IS NULL))
);

-- one chain per contract: a step number is taken once among the steps in force
CREATE UNIQUE INDEX contract_step_chain_idx ON dataspace.contract_step (contract_id, step_no)
	WHERE superseded_at IS NULL;
CREATE INDEX contract_step_outbox_idx ON dataspace.contract_step (seq)
	WHERE local AND delivered_at IS NULL AND superseded_at IS NULL;

/*
 * Node: the hub-sync worker's last outcome, and this node's contract steps
 * not delivered: waiting for the hub or for the other party's approval,
 * refused (delivery_error), or behind a refused step.
 */
CREATE VIEW dataspace.hub_status AS
	SELECT pg_catalog.current_setting('dataspace.hub', true) IS DISTINCT FROM '' AS configured,
		   s.hub_id, s.participant_status, s.suspension_reason, s.last_attempt, s.last_success,
		   s.last_error, s.last_error_at,
		   pg_catalog.now() OPERATOR(pg_catalog.-) s.last_success AS lag,
		   o.steps_waiting, o.oldest_step_waiting
	  FROM (VALUES (true)) v(singleton)
	  LEFT JOIN dataspace.hub_sync_state s ON s.singleton
	 CROSS JOIN (SELECT pg_catalog.count(*) AS steps_waiting,
						pg_catalog.min(created_at) AS oldest_step_waiting
				   FROM dataspace.contract_step
				  WHERE local AND delivered_at IS NULL AND superseded_at IS NULL) o;

/* Node: how far the worker has read the hub's steps. */
CREATE TABLE dataspace.contract_sync_state (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	hub_cursor bigint NOT NULL DEFAULT 0
);

CREATE TRIGGER contract_step_no_delete BEFORE DELETE OR TRUNCATE ON dataspace.contract_step
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER contract_no_delete BEFORE DELETE OR TRUNCATE ON dataspace.contract
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/* Row-level security at the hub: a participant reads its own contracts. */
ALTER TABLE dataspace.contract ENABLE ROW LEVEL SECURITY;
CREATE POLICY contract_party ON dataspace.contract FOR SELECT TO dataspace_participant
	USING (provider_id OPERATOR(pg_catalog.=) dataspace.hub_session_participant()
		   OR consumer_id OPERATOR(pg_catalog.=) dataspace.hub_session_participant());
CREATE POLICY contract_local ON dataspace.contract FOR SELECT
	TO dataspace_reader, dataspace_admin, dataspace_contract_admin USING (true);

ALTER TABLE dataspace.contract_step ENABLE ROW LEVEL SECURITY;
CREATE POLICY contract_step_party ON dataspace.contract_step FOR SELECT TO dataspace_participant
	USING (EXISTS (SELECT FROM dataspace.contract c
					WHERE c.id OPERATOR(pg_catalog.=) contract_id));
CREATE POLICY contract_step_local ON dataspace.contract_step FOR SELECT
	TO dataspace_reader, dataspace_admin, dataspace_contract_admin USING (true);

CREATE FUNCTION dataspace.offer_contract(consumer uuid, assets uuid[], policy jsonb,
										 valid_until timestamptz) RETURNS uuid
	AS 'MODULE_PATHNAME', 'dataspace_offer_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.request_contract(provider uuid, assets uuid[], policy jsonb,
										   valid_until timestamptz) RETURNS uuid
	AS 'MODULE_PATHNAME', 'dataspace_request_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.accept_contract(id uuid) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_accept_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.reject_contract(id uuid, reason text) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_reject_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.suspend_contract(id uuid, reason text) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_suspend_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.resume_contract(id uuid) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_resume_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.revoke_contract(id uuid, reason text) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_revoke_contract'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- Apply a step the counterparty signed (what the hub-sync worker does);
-- verifies everything, signs nothing but this node's own automatic steps.
CREATE FUNCTION dataspace.receive_contract_step(contract bytea, step bytea, signature bytea)
	RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_receive_contract_step'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.contract_allows(contract uuid, asset uuid, ts timestamptz,
										  at timestamptz DEFAULT pg_catalog.now())
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_contract_allows'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.explain_policy(contract uuid, asset uuid, ts timestamptz,
										 at timestamptz DEFAULT pg_catalog.now())
	RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_explain_contract'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- The audit log (docs/audit-log.md)
---------------------------------------------------------------------------

/*
 * Every participant change and key change of this database (hub or node),
 * written by ds_audit_append() in the transaction that makes it.  message
 * holds the signed bytes (DS_MSG_AUDIT_ENTRY, docs/encoding.md); the other
 * columns must say the same, entry_hash is SHA-256(message), prev_hash the
 * entry_hash of seq - 1.  Append-only.
 */
CREATE TABLE dataspace.audit_log (
	seq bigint PRIMARY KEY CHECK (seq OPERATOR(pg_catalog.>=) 1),
	at timestamptz NOT NULL,
	actor text NOT NULL,
	event text NOT NULL,
	subject text NOT NULL,
	detail jsonb NOT NULL,
	prev_hash bytea NOT NULL,
	entry_hash bytea NOT NULL,
	key_id bytea NOT NULL,
	signature bytea NOT NULL,
	message bytea NOT NULL
);

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

CREATE FUNCTION dataspace.verify_audit_log()
	RETURNS TABLE (seq bigint, ok boolean, reason text)
	AS 'MODULE_PATHNAME', 'dataspace_verify_audit_log'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- The digest witness: anchors and signed tree heads (docs/witness.md)
---------------------------------------------------------------------------

/*
 * Node: the anchors this node sent to the hub (seal-chain heads of its
 * public assets, heads of its audit log), with where the hub logged them
 * and the inclusion proof under a cached tree head.  anchor holds the
 * exact bytes logged (DS_MSG_ANCHOR).
 */
CREATE TABLE dataspace.anchor (
	id bigserial PRIMARY KEY,
	subject_kind text NOT NULL
		CHECK (subject_kind OPERATOR(pg_catalog.=) ANY (ARRAY['asset', 'audit_log'])),
	subject_id uuid NOT NULL,
	head_id bigint NOT NULL,
	head_pos bigint NOT NULL,
	head_hash bytea NOT NULL,
	covered bigint NOT NULL,
	last_ts timestamptz NOT NULL,
	anchored_at timestamptz NOT NULL,
	anchor bytea NOT NULL,
	leaf_index bigint,
	proof_tree_size bigint,
	inclusion_proof bytea,
	UNIQUE (subject_kind, subject_id, head_pos)
);

/*
 * Hub: the anchor log, one leaf per accepted anchor, in the order
 * accepted (leaf_index from 0).  leaf_hash = SHA-256(0x00 || anchor).
 */
CREATE TABLE dataspace.witness_leaf (
	leaf_index bigint PRIMARY KEY CHECK (leaf_index OPERATOR(pg_catalog.>=) 0),
	node_id uuid NOT NULL,
	subject_kind text NOT NULL,
	subject_id uuid NOT NULL,
	head_pos bigint NOT NULL,
	head_hash bytea NOT NULL,
	anchor bytea NOT NULL,
	leaf_hash bytea NOT NULL,
	received_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE INDEX witness_leaf_node_idx ON dataspace.witness_leaf (node_id, subject_id);

/*
 * Hub: the anchor log's complete subtrees above the leaves (docs/witness.md).
 * Node (level, node_index) is the Merkle tree hash of the 2^level leaves from
 * node_index * 2^level on; an append stores the ones its leaf completes, so
 * that the signed root and the proofs read O(log n) hashes, not every leaf.
 */
CREATE TABLE dataspace.witness_node (
	level smallint NOT NULL CHECK (level OPERATOR(pg_catalog.>=) 1 AND level OPERATOR(pg_catalog.<) 63),
	node_index bigint NOT NULL CHECK (node_index OPERATOR(pg_catalog.>=) 0),
	hash bytea NOT NULL CHECK (pg_catalog.length(hash) OPERATOR(pg_catalog.=) 32),
	PRIMARY KEY (level, node_index)
);

/* Hub: every tree head it signed (DS_MSG_TREE_HEAD), one per size. */
CREATE TABLE dataspace.witness_tree_head (
	tree_size bigint PRIMARY KEY CHECK (tree_size OPERATOR(pg_catalog.>=) 1),
	root_hash bytea NOT NULL,
	signed_at timestamptz NOT NULL,
	message bytea NOT NULL,
	signature bytea NOT NULL
);

CREATE TRIGGER witness_leaf_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.witness_leaf
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER witness_node_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.witness_node
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();
CREATE TRIGGER witness_tree_head_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dataspace.witness_tree_head
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/* Participants see their own leaves and every signed tree head. */
ALTER TABLE dataspace.witness_leaf ENABLE ROW LEVEL SECURITY;
CREATE POLICY witness_leaf_own ON dataspace.witness_leaf FOR SELECT TO dataspace_participant
	USING (node_id OPERATOR(pg_catalog.=) dataspace.hub_session_participant());
CREATE POLICY witness_leaf_local ON dataspace.witness_leaf FOR SELECT
	TO dataspace_reader, dataspace_admin USING (true);
-- and, as a contract's consumer, the provider's anchors of its assets
CREATE POLICY witness_leaf_contract ON dataspace.witness_leaf FOR SELECT TO dataspace_participant
	USING (subject_kind OPERATOR(pg_catalog.=) 'asset' AND EXISTS (
		SELECT FROM dataspace.contract c
		 WHERE c.consumer_id OPERATOR(pg_catalog.=) dataspace.hub_session_participant()
		   AND c.provider_id OPERATOR(pg_catalog.=) witness_leaf.node_id
		   AND witness_leaf.subject_id OPERATOR(pg_catalog.=) ANY (c.asset_ids)));
ALTER TABLE dataspace.witness_tree_head ENABLE ROW LEVEL SECURITY;
CREATE POLICY witness_tree_head_approved ON dataspace.witness_tree_head FOR SELECT
	TO dataspace_participant USING (dataspace.hub_session_participant() IS NOT NULL);
CREATE POLICY witness_tree_head_local ON dataspace.witness_tree_head FOR SELECT
	TO dataspace_reader, dataspace_admin USING (true);

/* Hub: proofs over the anchor log, concatenated 32-byte hashes. */
CREATE FUNCTION dataspace.hub_inclusion_proof(leaf_index bigint, tree_size bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'dataspace_hub_inclusion_proof'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.hub_consistency_proof(old_size bigint, new_size bigint) RETURNS bytea
	AS 'MODULE_PATHNAME', 'dataspace_hub_consistency_proof'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

/*
 * Node: the hub's signed tree heads this node accepted, each consistent
 * with the one before (consistency_proof from prev_size, checked).
 */
CREATE TABLE dataspace.hub_tree_head (
	tree_size bigint PRIMARY KEY,
	root_hash bytea NOT NULL,
	signed_at timestamptz NOT NULL,
	hub_id uuid NOT NULL,
	message bytea NOT NULL,
	signature bytea NOT NULL,
	prev_size bigint,
	consistency_proof bytea,
	received_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

/* Node: tree heads refused as inconsistent with what was cached. */
CREATE TABLE dataspace.witness_fork (
	id bigserial PRIMARY KEY,
	detected_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	cached_size bigint,
	cached_root bytea,
	seen_size bigint,
	seen_root bytea,
	seen_message bytea,
	seen_signature bytea,
	reason text NOT NULL,
	peer_id uuid				-- the node that showed the head; NULL: the hub itself
);

/*
 * Node: signed tree heads of the hub's log that other nodes showed this one
 * (peer_id; NULL: given by hand to check_tree_head), each decided against
 * this node's own heads: consistent, or not (evidence in witness_fork), or
 * NULL while it waits for the hub's consistency proof (docs/witness.md).
 */
CREATE TABLE dataspace.peer_tree_head (
	id bigserial PRIMARY KEY,
	peer_id uuid,
	tree_size bigint NOT NULL,
	root_hash bytea NOT NULL,
	signed_at timestamptz NOT NULL,
	message bytea NOT NULL,
	signature bytea NOT NULL,
	received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	consistent boolean,
	checked_against bigint,
	checked_at timestamptz,
	reason text,
	UNIQUE (tree_size, root_hash)
);

CREATE FUNCTION dataspace.check_tree_head(message bytea, signature bytea,
										  OUT tree_size bigint, OUT consistent boolean,
										  OUT reason text)
	AS 'MODULE_PATHNAME', 'dataspace_check_tree_head'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

/*
 * Node: the anchors the providers of received assets sent to the hub, as
 * the hub logged them, each with its inclusion proof under a cached tree
 * head (checked by the hub-sync worker before it is kept).
 */
CREATE TABLE dataspace.received_anchor (
	provider_id uuid NOT NULL,
	asset_id uuid NOT NULL,
	leaf_index bigint NOT NULL,
	head_pos bigint NOT NULL,
	head_hash bytea NOT NULL,
	anchor bytea NOT NULL,
	proof_tree_size bigint NOT NULL,
	inclusion_proof bytea NOT NULL,
	fetched_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (asset_id, leaf_index)
);

CREATE FUNCTION dataspace.verify_anchor(asset uuid)
	RETURNS TABLE (anchor_id bigint, head_pos bigint, ok boolean, reason text)
	AS 'MODULE_PATHNAME', 'dataspace_verify_anchor'
	LANGUAGE C STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- Peer replication (docs/replication.md)
---------------------------------------------------------------------------

/*
 * Provider: the challenge, the authentication and the export, for the
 * locked-down dataspace_export role (one LOGIN member per consumer).  The
 * nonce lives in the backend's memory only: it is good for one answer in
 * this session.
 */
CREATE FUNCTION dataspace.export_challenge(OUT provider_id uuid, OUT nonce bytea)
	AS 'MODULE_PATHNAME', 'dataspace_export_challenge'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.export_authenticate(contract uuid, response bytea,
											 purpose text DEFAULT NULL) RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_export_authenticate'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.exchange_tree_heads(message bytea, signature bytea)
	RETURNS TABLE (message bytea, signature bytea, verdict text)
	AS 'MODULE_PATHNAME', 'dataspace_exchange_tree_heads'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.export_batch(contract uuid, asset uuid, after_chain_pos bigint,
									   max_points integer, max_bytes integer)
	RETURNS bytea
	AS 'MODULE_PATHNAME', 'dataspace_export_batch'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

/* Provider: points exported per contract and day (the volume term). */
CREATE TABLE dataspace.export_volume (
	contract_id uuid NOT NULL,
	day date NOT NULL,
	points bigint NOT NULL,
	PRIMARY KEY (contract_id, day)
);

/*
 * Provider: every accepted answer to a challenge, kept as the consumer's
 * signed declaration of the purpose it uses the contract's data for
 * (message: PGDS type 20, signature: the consumer key the contract pins).
 * NULL purpose: none declared, under a policy that names none.  Never
 * changed or deleted.
 */
CREATE TABLE dataspace.purpose_declaration (
	id bigserial PRIMARY KEY,
	contract_id uuid NOT NULL,
	consumer_id uuid NOT NULL,
	purpose text,
	declared_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	message bytea NOT NULL,
	signature bytea NOT NULL
);
CREATE INDEX ON dataspace.purpose_declaration (contract_id, id);

CREATE TRIGGER purpose_declaration_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON dataspace.purpose_declaration
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/*
 * Consumer: the purpose this node declared for each contract it consumes,
 * sent with every answer to the provider's challenge.  Written by
 * dataspace.declare_purpose() only.
 */
CREATE TABLE dataspace.contract_purpose (
	contract_id uuid PRIMARY KEY,
	purpose text NOT NULL,
	declared_at timestamptz NOT NULL
);

CREATE FUNCTION dataspace.declare_purpose(contract uuid, purpose text) RETURNS void
	AS 'MODULE_PATHNAME', 'dataspace_declare_purpose'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

/*
 * Consumer: how to log in at a provider, added to the endpoint the
 * provider published at the hub (user, passfile, sslmode, sslrootcert...;
 * never a password).  Superuser only.
 */
CREATE TABLE dataspace.provider_login (
	provider_id uuid PRIMARY KEY,
	options text NOT NULL DEFAULT ''
);

/*
 * Consumer: the seals received from providers, exactly as signed, with
 * the blinded leaf hashes of the points the policy withheld (withheld:
 * records of an 8-byte leaf index and a 32-byte hash).  ids come from the
 * local seal sequence, so that an id names one seal, local or received.
 */
CREATE TABLE dataspace.received_seal (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('dataspace.seal_id_seq'::pg_catalog.regclass),
	provider_id uuid NOT NULL,
	asset_id uuid NOT NULL,
	chain_pos bigint NOT NULL,
	contract_id uuid NOT NULL,
	provider_seal_id bigint NOT NULL,
	node_id uuid NOT NULL,
	first_seq bigint NOT NULL,
	last_seq bigint NOT NULL,
	point_count bigint NOT NULL,
	delivered_count bigint NOT NULL,
	min_ts timestamptz NOT NULL,
	max_ts timestamptz NOT NULL,
	merkle_root bytea NOT NULL,
	prev_hash bytea NOT NULL,
	seal_hash bytea NOT NULL,
	key_id bytea NOT NULL,
	signature bytea NOT NULL,
	sealed_at timestamptz NOT NULL,
	withheld bytea NOT NULL,
	received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	UNIQUE (asset_id, chain_pos)
);

/* As seal_asset_ts_idx and seal_asset_start_idx, for received assets. */
CREATE INDEX received_seal_asset_ts_idx ON dataspace.received_seal (asset_id, max_ts, min_ts);
CREATE INDEX received_seal_asset_start_idx ON dataspace.received_seal (asset_id, min_ts, max_ts);

/*
 * Consumer: received points, keyed by provider and asset, each with its
 * blinding nonce so that anyone holding the row can recompute its leaf.
 * Kept apart from dataspace.point: it carries row-level security.
 */
CREATE TABLE dataspace.received_point (
	provider_id uuid NOT NULL,
	asset_id uuid NOT NULL,
	seq bigint NOT NULL,
	ts timestamptz NOT NULL,
	value double precision NOT NULL,
	nonce bytea NOT NULL,
	chain_pos bigint NOT NULL,
	contract_id uuid NOT NULL,
	PRIMARY KEY (asset_id, seq)
);

CREATE INDEX received_point_ts_brin ON dataspace.received_point USING brin (ts);

/*
 * Consumer: one stream per received asset, bound to its provider: the
 * cursor (chain position and hash of the last seal stored), counters,
 * the provider's lag as last reported, state and last error.
 */
CREATE TABLE dataspace.subscription_state (
	asset_id uuid PRIMARY KEY,
	provider_id uuid NOT NULL,
	contract_id uuid NOT NULL,
	chain_pos bigint NOT NULL DEFAULT 0,
	seal_hash bytea,
	points_received bigint NOT NULL DEFAULT 0,
	seals_received bigint NOT NULL DEFAULT 0,
	lag_points bigint,
	lag_seals bigint,
	oldest_unreceived timestamptz,
	state text NOT NULL DEFAULT 'running'
		CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'stopped', 'ended'])),
	last_error text,
	last_error_at timestamptz,
	last_received_at timestamptz,
	last_attempt timestamptz
);

CREATE FUNCTION dataspace.received_write_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'dataspace_received_write_trigger'
	LANGUAGE C;

-- only the replication worker writes received data; nobody changes it
CREATE TRIGGER received_point_writer BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON dataspace.received_point
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.received_write_trigger();
CREATE TRIGGER received_seal_writer BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON dataspace.received_seal
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.received_write_trigger();

/*
 * Row-level security from each contract's stateless terms: readers see a
 * received point only while its contract allows it (state, validity, data
 * window or maximum age), decided in C by dataspace.contract_allows.
 */
ALTER TABLE dataspace.received_point ENABLE ROW LEVEL SECURITY;
CREATE POLICY received_point_contract ON dataspace.received_point FOR SELECT
	TO dataspace_reader, dataspace_admin
	USING (dataspace.contract_allows(contract_id, asset_id, ts));

/* Local and received points together, for queries. */
CREATE VIEW dataspace.all_point WITH (security_invoker = true) AS
	SELECT a.node_id AS provider_id, p.asset_id, p.seq, p.ts, p.value, false AS received
	  FROM dataspace.point p JOIN dataspace.asset a ON a.id OPERATOR(pg_catalog.=) p.asset_id
	UNION ALL
	SELECT r.provider_id, r.asset_id, r.seq, r.ts, r.value, true
	  FROM dataspace.received_point r;

CREATE VIEW dataspace.subscription AS
	SELECT s.contract_id, s.provider_id, p.name AS provider_name, s.asset_id,
		   s.chain_pos AS cursor, s.points_received, s.seals_received,
		   s.lag_points, s.lag_seals,
		   CASE WHEN s.lag_seals OPERATOR(pg_catalog.=) 0 THEN 0::double precision
				ELSE pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) s.oldest_unreceived)
		   END AS lag_seconds,
		   CASE WHEN s.state OPERATOR(pg_catalog.=) 'running'
				 AND c.state OPERATOR(pg_catalog.<>) 'active' THEN 'contract ' || c.state
				WHEN s.state OPERATOR(pg_catalog.=) 'running'
				 AND c.valid_until OPERATOR(pg_catalog.<=) pg_catalog.now() THEN 'contract expired'
				ELSE s.state END AS state,
		   s.last_error, s.last_error_at, s.last_received_at, s.last_attempt
	  FROM dataspace.subscription_state s
	  JOIN dataspace.contract c ON c.id OPERATOR(pg_catalog.=) s.contract_id
	  LEFT JOIN dataspace.participant p ON p.node_id OPERATOR(pg_catalog.=) s.provider_id;

-- Start a stopped stream again (after its cause was repaired).
CREATE FUNCTION dataspace.restart_subscription(asset uuid) RETURNS boolean
	LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE dataspace.subscription_state SET state = 'running', last_error = NULL,
		   last_error_at = NULL
	 WHERE asset_id OPERATOR(pg_catalog.=) $1
	   AND state OPERATOR(pg_catalog.<>) 'running'
	RETURNING true
$$;

/*
 * Consumer: the delivery receipts this node signed, one per batch it
 * stored, written in the batch's own transaction (DS_MSG_DELIVERY_RECEIPT
 * in receipt, the signature of the node key in signature).  sent_at is set
 * once the provider has kept it; until then the worker sends it again at
 * each turn of the stream, unless an administrator abandoned it
 * (abandon_receipts).  Never deleted.
 */
CREATE TABLE dataspace.receipt_outbox (
	id bigserial PRIMARY KEY,
	contract_id uuid NOT NULL,
	provider_id uuid NOT NULL,
	asset_id uuid NOT NULL,
	first_chain_pos bigint NOT NULL,
	last_chain_pos bigint NOT NULL,
	points bigint NOT NULL,
	receipt bytea NOT NULL,
	signature bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	sent_at timestamptz,
	attempts integer NOT NULL DEFAULT 0,
	last_error text,
	abandoned_at timestamptz,
	abandoned_by name,
	abandon_reason text,
	CONSTRAINT receipt_outbox_abandoned
		CHECK ((abandoned_at IS NULL) OPERATOR(pg_catalog.=) (abandon_reason IS NULL))
);

CREATE INDEX receipt_outbox_unsent ON dataspace.receipt_outbox (contract_id, asset_id, id)
	WHERE sent_at IS NULL AND abandoned_at IS NULL;

CREATE TRIGGER receipt_outbox_no_delete BEFORE DELETE OR TRUNCATE ON dataspace.receipt_outbox
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

/*
 * Stop sending the unsent receipts of a contract, say for a provider that
 * is gone for good: they stay in the outbox, marked abandoned, with who
 * did it and why.  Returns how many.
 */
CREATE FUNCTION dataspace.abandon_receipts(contract uuid, reason text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF pg_catalog.btrim(reason) OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'to abandon receipts, give a reason'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'The reason is kept in dataspace.receipt_outbox with each receipt abandoned.';
	END IF;
	UPDATE dataspace.receipt_outbox
	   SET abandoned_at = pg_catalog.now(), abandoned_by = SESSION_USER, abandon_reason = reason
	 WHERE contract_id OPERATOR(pg_catalog.=) contract
	   AND sent_at IS NULL AND abandoned_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

/*
 * Provider: the delivery receipts consumers handed in, checked by
 * dataspace.export_receipt (the consumer's signature under the key the
 * contract pins, the seals against this node's chain) and kept as signed.
 * Append-only.
 */
CREATE TABLE dataspace.delivery_receipt (
	id bigserial PRIMARY KEY,
	contract_id uuid NOT NULL,
	consumer_id uuid NOT NULL,
	asset_id uuid NOT NULL,
	first_chain_pos bigint NOT NULL,
	last_chain_pos bigint NOT NULL,
	seals_digest bytea NOT NULL,
	last_seal_hash bytea NOT NULL,
	points bigint NOT NULL,
	received_at timestamptz NOT NULL,
	stored_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	receipt bytea NOT NULL,
	signature bytea NOT NULL,
	UNIQUE (contract_id, asset_id, first_chain_pos, last_chain_pos)
);

CREATE TRIGGER delivery_receipt_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
	ON dataspace.delivery_receipt
	FOR EACH STATEMENT EXECUTE FUNCTION dataspace.refuse_change_trigger();

-- Provider: a consumer hands in a receipt, in a session authenticated
-- for the contract.
CREATE FUNCTION dataspace.export_receipt(contract uuid, receipt bytea, signature bytea)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'dataspace_export_receipt'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- Provider: check the kept receipts of a contract again.
CREATE FUNCTION dataspace.verify_receipts(contract uuid)
	RETURNS TABLE (receipt_id bigint, asset_id uuid, first_chain_pos bigint,
				   last_chain_pos bigint, points bigint, received_at timestamptz,
				   ok boolean, reason text)
	AS 'MODULE_PATHNAME', 'dataspace_verify_receipts'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- pg_dump: every table holding node data and every sequence
---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('dataspace.node', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.node_key', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.twin', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.asset', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.point', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.pending_batch', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.pending_run', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.seal', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.retention', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.point_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.batch_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.seal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.retention_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.participant', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.participant_key', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_submission', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_refusal', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_publication', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_submission_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_refusal_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_refusal_overflow', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_instance_conflict', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_instance_conflict_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.contract', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.contract_step', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.contract_sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.contract_step_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.export_volume', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.provider_login', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.received_seal', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.received_point', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.subscription_state', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.anchor', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.anchor_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.witness_leaf', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.witness_node', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.witness_tree_head', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.hub_tree_head', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.witness_fork', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.witness_fork_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.peer_tree_head', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.peer_tree_head_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.receipt_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.receipt_outbox_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.delivery_receipt', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.delivery_receipt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.received_anchor', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.purpose_declaration', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.purpose_declaration_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dataspace.contract_purpose', '');

/*
 * Clearing the hub-sync worker's alarms (contract.alarm,
 * participant.key_alarm), audited with the text cleared.
 */
CREATE FUNCTION dataspace.clear_alarm(contract uuid) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_clear_alarm'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION dataspace.clear_key_alarm(participant uuid) RETURNS text
	AS 'MODULE_PATHNAME', 'dataspace_clear_key_alarm'
	LANGUAGE C VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

---------------------------------------------------------------------------
-- Privileges: PUBLIC gets nothing; see docs/security.md
---------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA dataspace FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA dataspace FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dataspace FROM PUBLIC;

-- readers and auditors
GRANT SELECT ON dataspace.twin, dataspace.asset, dataspace.point,
	dataspace.retention, dataspace.node_public_key TO dataspace_reader;
GRANT SELECT (id, asset_id, node_id, chain_pos, batch_ids, first_seq, last_seq,
			  point_count, min_ts, max_ts, merkle_root, prev_hash, seal_hash,
			  algorithm, key_id, signature, sealed_at)
	ON dataspace.seal TO dataspace_reader;
GRANT EXECUTE ON FUNCTION dataspace.node_info(), dataspace.verify_seal(bigint),
	dataspace.verify_asset(uuid, timestamptz, timestamptz),
	dataspace.point_proof(uuid, bigint), dataspace.verify_proof(jsonb),
	dataspace.check_policy(jsonb), dataspace.policy_allows(jsonb, timestamptz, timestamptz),
	dataspace.explain_policy(jsonb, timestamptz, timestamptz),
	dataspace.validate_model(jsonb), dataspace.model_telemetry(jsonb)
	TO dataspace_reader;

-- ingest: three columns of one table, nothing else
GRANT INSERT (asset_id, ts, value) ON dataspace.point TO dataspace_writer;
GRANT SELECT (id, twin_id, name, kind) ON dataspace.asset TO dataspace_writer;
GRANT USAGE ON SEQUENCE dataspace.point_seq TO dataspace_writer;
GRANT EXECUTE ON FUNCTION dataspace.current_batch(), dataspace.point_ok(uuid, bigint, bigint, timestamptz, double precision),
	dataspace.seal_pending(uuid) TO dataspace_writer;

-- twin and asset administration
GRANT SELECT, INSERT, UPDATE, DELETE ON dataspace.twin, dataspace.asset TO dataspace_admin;
GRANT SELECT ON dataspace.point, dataspace.retention, dataspace.node_public_key
	TO dataspace_admin;
GRANT SELECT (id, asset_id, node_id, chain_pos, batch_ids, first_seq, last_seq,
			  point_count, min_ts, max_ts, merkle_root, prev_hash, seal_hash,
			  algorithm, key_id, signature, sealed_at)
	ON dataspace.seal TO dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.node_id(), dataspace.init_node(text),
	dataspace.node_info(), dataspace.rotate_node_key(), dataspace.seal_pending(uuid),
	dataspace.drop_points(uuid, timestamptz), dataspace.verify_seal(bigint),
	dataspace.verify_asset(uuid, timestamptz, timestamptz),
	dataspace.point_proof(uuid, bigint), dataspace.verify_proof(jsonb),
	dataspace.check_policy(jsonb), dataspace.policy_allows(jsonb, timestamptz, timestamptz),
	dataspace.explain_policy(jsonb, timestamptz, timestamptz),
	dataspace.validate_model(jsonb), dataspace.model_telemetry(jsonb),
	dataspace.create_twin_assets(uuid, text[])
	TO dataspace_admin;

-- participants logged in to the hub: their own functions and, through
-- row-level security, what they may see
GRANT USAGE ON SCHEMA dataspace TO dataspace_participant;
GRANT SELECT (node_id, name, public_key, key_id, endpoint, status, registration,
			  registration_signature)
	ON dataspace.participant TO dataspace_participant;
GRANT SELECT ON dataspace.hub_catalog TO dataspace_participant;
GRANT SELECT (node_id, key_id, public_key, position, previous_key_id, announcement,
			  announcement_signature, possession_signature, valid_from, valid_until,
			  revoked_at, compromised_since, revocation_reason, revocation,
			  revocation_signature, revocation_key_id)
	ON dataspace.participant_key TO dataspace_participant;
GRANT EXECUTE ON FUNCTION dataspace.hub_hello(bytea), dataspace.hub_whoami(),
	dataspace.hub_submit(bytea, bytea), dataspace.hub_session_participant(),
	dataspace.hub_key_visible(uuid)
	TO dataspace_participant;

-- the hub and the nodes' view of it
GRANT SELECT ON dataspace.participant, dataspace.participant_key, dataspace.hub_catalog,
	dataspace.hub_status TO dataspace_reader, dataspace_admin;
GRANT SELECT ON dataspace.hub_submission, dataspace.hub_refusal, dataspace.hub_refusal_overflow,
	dataspace.hub_instance_conflict TO dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.hub_session_participant()
	TO dataspace_reader, dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.approve_participant(uuid),
	dataspace.suspend_participant(uuid, text), dataspace.sync_now()
	TO dataspace_admin;

-- contracts: the contract administrators negotiate; readers and admins
-- read contracts and ask what they allow; participants at the hub read
-- their own (row-level security)
GRANT SELECT ON dataspace.contract, dataspace.contract_step
	TO dataspace_contract_admin, dataspace_reader, dataspace_admin;
GRANT SELECT ON dataspace.participant, dataspace.hub_catalog, dataspace.asset
	TO dataspace_contract_admin;
GRANT EXECUTE ON FUNCTION
	dataspace.offer_contract(uuid, uuid[], jsonb, timestamptz),
	dataspace.request_contract(uuid, uuid[], jsonb, timestamptz),
	dataspace.accept_contract(uuid), dataspace.reject_contract(uuid, text),
	dataspace.suspend_contract(uuid, text), dataspace.resume_contract(uuid),
	dataspace.revoke_contract(uuid, text),
	dataspace.receive_contract_step(bytea, bytea, bytea),
	dataspace.check_policy(jsonb), dataspace.hub_session_participant()
	TO dataspace_contract_admin;
GRANT EXECUTE ON FUNCTION
	dataspace.contract_allows(uuid, uuid, timestamptz, timestamptz),
	dataspace.explain_policy(uuid, uuid, timestamptz, timestamptz)
	TO dataspace_contract_admin, dataspace_reader, dataspace_admin;
GRANT SELECT ON dataspace.contract, dataspace.contract_step TO dataspace_participant;
-- the audit log and the witness (docs/audit-log.md, docs/witness.md)
GRANT SELECT ON dataspace.audit_log, dataspace.anchor, dataspace.received_anchor, dataspace.hub_tree_head,
	dataspace.witness_fork, dataspace.witness_leaf, dataspace.witness_node, dataspace.witness_tree_head
	TO dataspace_reader, dataspace_admin;
GRANT SELECT ON dataspace.peer_tree_head TO dataspace_reader, dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.verify_audit_log(), dataspace.verify_anchor(uuid),
	dataspace.check_tree_head(bytea, bytea)
	TO dataspace_reader, dataspace_admin;
GRANT SELECT (leaf_index, node_id, subject_kind, subject_id, head_pos, head_hash, anchor, leaf_hash)
	ON dataspace.witness_leaf TO dataspace_participant;
GRANT SELECT ON dataspace.witness_tree_head TO dataspace_participant;
GRANT EXECUTE ON FUNCTION dataspace.hub_inclusion_proof(bigint, bigint),
	dataspace.hub_consistency_proof(bigint, bigint) TO dataspace_participant;

-- peer replication: the export role executes the five export functions
-- and nothing else; readers and admins read received data (row-level
-- security), the streams and the delivery receipts; admins restart
-- stopped streams
GRANT USAGE ON SCHEMA dataspace TO dataspace_export;
GRANT EXECUTE ON FUNCTION dataspace.export_challenge(),
	dataspace.export_authenticate(uuid, bytea, text),
	dataspace.export_batch(uuid, uuid, bigint, integer, integer),
	dataspace.export_receipt(uuid, bytea, bytea),
	dataspace.exchange_tree_heads(bytea, bytea)
	TO dataspace_export;
GRANT SELECT ON dataspace.received_point, dataspace.received_seal, dataspace.all_point,
	dataspace.subscription, dataspace.export_volume, dataspace.delivery_receipt,
	dataspace.receipt_outbox, dataspace.purpose_declaration, dataspace.contract_purpose
	TO dataspace_reader, dataspace_admin;
-- the consumer's declared purposes: contract administrators declare them
GRANT SELECT ON dataspace.contract_purpose, dataspace.purpose_declaration
	TO dataspace_contract_admin;
GRANT EXECUTE ON FUNCTION dataspace.declare_purpose(uuid, text) TO dataspace_contract_admin;
-- alarms: contract administrators clear a contract's, admins a participant's
GRANT EXECUTE ON FUNCTION dataspace.clear_alarm(uuid) TO dataspace_contract_admin;
GRANT EXECUTE ON FUNCTION dataspace.clear_key_alarm(uuid) TO dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.verify_receipts(uuid) TO dataspace_reader, dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.restart_subscription(uuid) TO dataspace_admin;
GRANT EXECUTE ON FUNCTION dataspace.abandon_receipts(uuid, text) TO dataspace_admin;
