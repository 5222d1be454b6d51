-- The audit log: key changes are appended, hash-chained and signed in the
-- same transaction; verify_audit_log() names every kind of tampering done
-- behind the append-only triggers' back; the triggers refuse changes.
SET timezone = 'UTC';
-- earlier files rotated, revoked and adopted keys: all of it is logged
SELECT count(*) > 0 AS logged, bool_and(ok) AS all_ok FROM dataspace.verify_audit_log();
SELECT DISTINCT event FROM dataspace.audit_log ORDER BY 1;
CREATE TEMP TABLE base AS SELECT coalesce(max(seq), 0) AS s FROM dataspace.audit_log;
SELECT length(dataspace.rotate_node_key()) AS rotated;
-- a rolled-back step leaves no entry
BEGIN;
SELECT length(dataspace.rotate_node_key()) AS rotated;
ROLLBACK;
SELECT length(dataspace.rotate_node_key()) AS rotated;
SELECT seq - (SELECT s FROM base) AS n, actor = current_user AS actor_is_me, event,
       subject = encode(key_id, 'hex') AS signed_by_new_key,
       detail ? 'previous_key_id' AS names_previous, length(signature) AS sig
  FROM dataspace.audit_log WHERE seq > (SELECT s FROM base) ORDER BY seq;
-- the chain, recomputed with core's sha256(): each entry hashes its
-- signed message, each links to the one before
SELECT bool_and(entry_hash = sha256(message)) AS hashes_ok,
       bool_and(prev_hash = coalesce((SELECT p.entry_hash FROM dataspace.audit_log p
                                       WHERE p.seq = l.seq - 1), '\x'::bytea || decode(repeat('00', 32), 'hex'))) AS links_ok,
       count(*) = max(seq) AS no_gaps
  FROM dataspace.audit_log l;
-- the message is framed: "PGDS", version 1, type 16
SELECT DISTINCT substr(message, 1, 6) AS frame FROM dataspace.audit_log;
SELECT count(*) = (SELECT max(seq) FROM dataspace.audit_log) AS one_row_each, bool_and(ok) AS all_ok
  FROM dataspace.verify_audit_log();

-- append-only
UPDATE dataspace.audit_log SET detail = '{}' WHERE seq = 1;
DELETE FROM dataspace.audit_log WHERE seq = 1;
TRUNCATE dataspace.audit_log;

-- tampering as superuser, behind the triggers' back
CREATE TEMP TABLE saved AS SELECT * FROM dataspace.audit_log;
CREATE FUNCTION pg_temp.restore() RETURNS void LANGUAGE sql AS $$
	SET session_replication_role = replica;
	DELETE FROM dataspace.audit_log;
	INSERT INTO dataspace.audit_log SELECT * FROM saved;
	RESET session_replication_role;
$$;
CREATE VIEW pg_temp.problems AS
SELECT seq - (SELECT s FROM base) AS n, ok, reason FROM dataspace.verify_audit_log() WHERE NOT ok;
SET session_replication_role = replica;
-- 1. a changed detail
UPDATE dataspace.audit_log SET detail = '{"previous_key_id": null}' WHERE seq = (SELECT s FROM base) + 1;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SET session_replication_role = replica;
-- 2. a changed actor, message rebuilt to match (the signature then fails)
UPDATE dataspace.audit_log SET actor = 'someone_else',
       message = overlay(message placing convert_to('x', 'UTF8') from 40 for 1)
 WHERE seq = (SELECT s FROM base) + 1;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SET session_replication_role = replica;
-- 3. a deleted entry
DELETE FROM dataspace.audit_log WHERE seq = (SELECT s FROM base) + 1;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SET session_replication_role = replica;
-- 4. a forged entry appended, with a copied signature
INSERT INTO dataspace.audit_log
SELECT seq + 1, at, actor, 'key.revoke', subject, '{"reason": "forged"}', entry_hash,
       sha256(message), key_id, signature, message
  FROM dataspace.audit_log ORDER BY seq DESC LIMIT 1;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SET session_replication_role = replica;
-- 5. a changed signature
UPDATE dataspace.audit_log SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)
 WHERE seq = (SELECT s FROM base) + 2;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SET session_replication_role = replica;
-- 6. an entry re-linked to skip its predecessor
UPDATE dataspace.audit_log SET prev_hash = (SELECT prev_hash FROM saved WHERE seq = (SELECT s FROM base) + 1)
 WHERE seq = (SELECT s FROM base) + 2;
SELECT * FROM pg_temp.problems;
SELECT pg_temp.restore();
SELECT count(*) AS problems_after_restore FROM pg_temp.problems;

-- readers may read and verify the log; PUBLIC may not
SET ROLE dataspace_reader;
SELECT count(*) > 0 AS reader_reads FROM dataspace.audit_log;
SELECT bool_and(ok) AS reader_verifies FROM dataspace.verify_audit_log();
RESET ROLE;
CREATE ROLE audit_outsider;
SET ROLE audit_outsider;
SELECT count(*) FROM dataspace.audit_log;
RESET ROLE;
DROP ROLE audit_outsider;
