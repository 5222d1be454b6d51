-- Node identity and keys: created on first use, never by the script;
-- private keys stay wrapped and unreadable.
SET timezone = 'UTC';
SELECT count(*) AS identities FROM dataspace.node;
-- nothing to adopt yet
SELECT dataspace.adopt_node();
SELECT dataspace.init_node('');
SELECT dataspace.init_node('plant-a') IS NOT NULL AS created;
SELECT dataspace.init_node('plant-a') = (SELECT node_id FROM dataspace.node) AS same_again;
SELECT dataspace.init_node('plant-b');
SELECT n.name, n.mode, length(n.public_key) AS key_bytes,
       n.node_id = (SELECT node_id FROM dataspace.node) AS same_id
  FROM dataspace.node_info() n;
-- bound to this database system and database
SELECT system_identifier = (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
       database_oid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS dboid
  FROM dataspace.node;
-- key id = SHA-256 of the public key (core sha256 and pgcrypto agree)
CREATE EXTENSION pgcrypto;
SELECT key_id = sha256(public_key) AS core, key_id = digest(public_key, 'sha256') AS pgcrypto,
       algorithm, retired_at IS NULL AS current
  FROM dataspace.node_public_key;
-- the stored private key is wrapped: magic, IV, ciphertext, tag
SELECT length(wrapped_private_key) AS wrapped_bytes,
       substr(wrapped_private_key, 1, 2) = 'W1'::bytea AS magic
  FROM dataspace.node_key;
-- rotation: a new key, announced by the old one
SELECT length(dataspace.rotate_node_key()) AS new_key_id_bytes;
SELECT count(*) AS keys, count(*) FILTER (WHERE retired_at IS NULL) AS current,
       count(*) FILTER (WHERE previous_key_id IS NOT NULL AND length(announcement_signature) = 64)
         AS announced
  FROM dataspace.node_public_key;
-- the announcement names the new key and the previous one (docs/encoding.md, type 2)
SELECT substr(announcement, 1, 6) = '\x504744530102'::bytea AS header,
       substr(announcement, 11, 16) = uuid_send(node_id) AS node,
       substr(announcement, 31, 32) = key_id AS new_key,
       substr(announcement, 67, 32) = public_key AS new_public_key,
       substr(announcement, 115, 32) = previous_key_id AS previous
  FROM dataspace.node_key k JOIN dataspace.node USING (node_id)
 WHERE previous_key_id IS NOT NULL;
SELECT public_key = (SELECT public_key FROM dataspace.node_public_key WHERE retired_at IS NULL)
       AS shows_current FROM dataspace.node_info();
-- revocation errors
SELECT dataspace.revoke_node_key('\x00', now(), 'test');
SELECT dataspace.revoke_node_key(sha256('nobody'), now(), 'test');
SELECT dataspace.revoke_node_key(key_id, 'infinity', 'test') FROM dataspace.node_key LIMIT 1;
-- refusals that name a key id, which differs from run to run
CREATE FUNCTION pg_temp.refusal(query text) RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	code := 'none';
	RETURN NEXT;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	message := regexp_replace(message, '[0-9a-f]{64}', '<key id>');
	RETURN NEXT;
END
$$;
\x on
-- a key revoked once cannot be revoked again
BEGIN;
SELECT length(dataspace.revoke_node_key(key_id, '2026-01-01', 'test')) AS current_key_id_bytes
  FROM dataspace.node_key WHERE retired_at IS NOT NULL;
SELECT * FROM pg_temp.refusal($$SELECT dataspace.revoke_node_key(key_id, '2026-01-01', 'again')
  FROM dataspace.node_key WHERE revoked_at IS NOT NULL$$);
ROLLBACK;
-- nor twice in one statement: the second call sees the first's revocation
SELECT * FROM pg_temp.refusal($$SELECT dataspace.revoke_node_key(key_id, '2026-01-01', 'test')
  FROM dataspace.node_key, generate_series(1, 2) WHERE retired_at IS NOT NULL$$);
-- altered key rows: the node refuses to sign with them
BEGIN;
UPDATE dataspace.node_key SET wrapped_private_key = '\x5731' WHERE retired_at IS NULL;
SELECT * FROM pg_temp.refusal('SELECT dataspace.rotate_node_key()');
ROLLBACK;
BEGIN;
UPDATE dataspace.node_key SET public_key = (SELECT public_key FROM dataspace.node_key WHERE retired_at IS NOT NULL)
 WHERE retired_at IS NULL;
SELECT * FROM pg_temp.refusal('SELECT dataspace.rotate_node_key()');
ROLLBACK;
-- no current key: revoking a retired key needs one to sign the revocation
BEGIN;
UPDATE dataspace.node_key SET retired_at = now() WHERE retired_at IS NULL;
SELECT * FROM pg_temp.refusal($$SELECT dataspace.revoke_node_key(key_id, '2026-01-01', 'test')
  FROM dataspace.node_key ORDER BY created_at LIMIT 1$$);
ROLLBACK;
\x off
SELECT count(*) AS keys, count(*) FILTER (WHERE retired_at IS NULL) AS current,
       count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked
  FROM dataspace.node_key;
-- keys are never deleted: old seals are verified with them
DELETE FROM dataspace.node_key;
TRUNCATE dataspace.node_key;
-- adopting on the database it belongs to changes nothing
SELECT dataspace.adopt_node() = (SELECT node_id FROM dataspace.node) AS adopted;
SELECT count(*) AS keys FROM dataspace.node_key;
