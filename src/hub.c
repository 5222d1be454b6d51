/*-------------------------------------------------------------------------
 *
 * hub.c
 *		The hub's side: hello, whoami, signed submissions, and the
 *		operator's approve/suspend (docs/hub.md).
 *
 * Participants log in as their own role (a member of dataspace_participant)
 * and call these SECURITY DEFINER functions.  Each submission is checked
 * against the participant bound to session_user: the signer must be that
 * participant, with its registered key, for this hub, with a counter above
 * the last one accepted.  A refused submission is recorded in
 * dataspace.hub_refusal and the server log, and the caller gets the
 * reason; it is never applied.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "contract.h"
#include "anchor.h"
#include "audit.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "submission.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_hub_hello);
PG_FUNCTION_INFO_V1(dataspace_hub_whoami);
PG_FUNCTION_INFO_V1(dataspace_hub_submit);
PG_FUNCTION_INFO_V1(dataspace_approve_participant);
PG_FUNCTION_INFO_V1(dataspace_suspend_participant);

static void
require_hub(const char *what)
{
	if (dataspace_mode != DATASPACE_MODE_HUB)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is a hub function", what),
				 errdetail("This server runs with dataspace.mode = 'node'."),
				 errhint("Set dataspace.mode = 'hub' in postgresql.conf of the hub's server and restart it.")));
}

static char *
session_user_name(void)
{
	return GetUserNameFromId(GetSessionUserId(), false);
}

/*
 * dataspace.hub_hello(nonce bytea) returns (message bytea, public_key bytea,
 *												signature bytea)
 *		Prove to a node that this hub holds its key: sign the node's fresh
 *		nonce in a hello message.  Signing only this message type, with a
 *		nonce of fixed length, is no signing oracle for anything else.
 */
Datum
dataspace_hub_hello(PG_FUNCTION_ARGS)
{
	bytea	   *nonce = PG_GETARG_BYTEA_PP(0);
	DsSigner   *signer;
	uint8		msg[DS_HELLO_MAX];
	size_t		len;
	uint8		sig[DS_SIG_LEN];
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	require_hub("dataspace.hub_hello()");
	if (VARSIZE_ANY_EXHDR(nonce) != DS_HELLO_NONCE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a hello nonce must be %d bytes", DS_HELLO_NONCE_LEN)));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	signer = ds_signer_load();
	len = ds_hub_hello_message(signer->node_id, (const uint8 *) VARDATA_ANY(nonce),
							   ds_ts_to_unix_us(GetCurrentTimestamp()), msg, sizeof(msg));
	if (len == 0 || !ds_signer_sign(signer, msg, len, sig))
		elog(ERROR, "could not sign the hub hello");
	values[0] = ds_bytea_datum(msg, len);
	values[1] = ds_bytea_datum(signer->public_key, DS_PUBKEY_LEN);
	values[2] = ds_bytea_datum(sig, DS_SIG_LEN);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * dataspace.hub_whoami() returns (node_id uuid, status text, last_counter bigint,
 *									key_id bytea, suspension_reason text)
 *		The participant bound to session_user, if any, and the id of the key
 *		the hub knows it by: a node that rotated its key since learns from
 *		it which rotations to announce, and a suspended one why.
 */
Datum
dataspace_hub_whoami(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	Oid			types[1] = {NAMEOID};
	Datum		args[1];
	HeapTuple	tuple = NULL;
	MemoryContext outer = CurrentMemoryContext;

	require_hub("dataspace.hub_whoami()");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	args[0] = DirectFunctionCall1(namein, CStringGetDatum(session_user_name()));
	SPI_connect();
	if (ds_spi_exec("SELECT node_id, status, last_counter, key_id, suspension_reason FROM dataspace.participant"
					" WHERE role_name OPERATOR(pg_catalog.=) $1",
					1, types, args, NULL, true, -1) == 1)
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		values[0] = ds_spi_get(0, 1, &nulls[0]);
		values[1] = ds_spi_get(0, 2, &nulls[1]);
		values[2] = ds_spi_get(0, 3, &nulls[2]);
		values[3] = ds_spi_get(0, 4, &nulls[3]);
		values[4] = ds_spi_get(0, 5, &nulls[4]);
		tuple = heap_form_tuple(tupdesc, values, nulls);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (tuple == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

/* The participant a submission claims, as the hub knows it. */
typedef struct Participant
{
	bool		found;
	uint8		node_id[DS_UUID_LEN];
	uint8		key_id[DS_HASH_LEN];
	uint8		public_key[DS_PUBKEY_LEN];
	char	   *status;
	char	   *role_name;
	int64		last_counter;
	bool		has_instance;	/* last_instance is set */
	uint8		last_instance[DS_INSTANCE_LEN];
} Participant;

static void
load_participant(const char *where, Datum arg, Oid type, Participant *p)
{
	char	   *sql = psprintf("SELECT node_id, key_id, public_key, status, role_name, last_counter,"
							   " last_instance FROM dataspace.participant WHERE %s FOR UPDATE", where);
	bool		isnull;

	memset(p, 0, sizeof(*p));
	if (ds_spi_exec(sql, 1, &type, &arg, NULL, false, -1) != 1)
		return;
	p->found = true;
	ds_spi_get_uuid(0, 1, p->node_id);
	ds_spi_get_bytes(0, 2, p->key_id, DS_HASH_LEN);
	ds_spi_get_bytes(0, 3, p->public_key, DS_PUBKEY_LEN);
	p->status = TextDatumGetCString(ds_spi_get(0, 4, &isnull));
	p->role_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	p->last_counter = ds_spi_get_int64(0, 6);
	(void) ds_spi_get(0, 7, &isnull);
	p->has_instance = !isnull;
	if (p->has_instance)
		ds_spi_get_bytes(0, 7, p->last_instance, DS_INSTANCE_LEN);
}

/* Outcome of one submission. */
typedef struct Verdict
{
	bool		accepted;
	char	   *reason;
} Verdict;

static Verdict
refuse(const char *fmt,...) pg_attribute_printf(1, 2);

static Verdict
refuse(const char *fmt,...)
{
	Verdict		v = {false, NULL};
	va_list		ap;
	char		buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v.reason = pstrdup(buf);
	return v;
}

/* A JSON member of the payload as text, or NULL. */
static char *
payload_text(const char *payload, const char *member)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	Datum		d;

	args[0] = CStringGetTextDatum(payload);
	args[1] = CStringGetTextDatum(member);
	ds_spi_exec("SELECT $1::jsonb OPERATOR(pg_catalog.->>) $2", 2, types, args, NULL, true, 1);
	d = ds_spi_get(0, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

static void set_participant_status(pg_uuid_t *id, const char *status, const char *reason);

/*
 * Two copies of one node (docs/hub.md): each submission names the
 * hub-sync instance that sent it, drawn when the node's worker starts.  A
 * restarted node sends a new instance and never an old one again, so an
 * instance that submits after another one's submission was accepted is a
 * second running copy of the node (a copied data directory, a base
 * backup started on its own) or a thief of its key.  The hub keeps the
 * evidence, three submissions signed by the participant (the returning
 * instance's last accepted one, the first accepted one of the instance
 * after it, this one), refuses, and suspends the participant: which copy
 * is the node is for its operator to say.  Runs after the counter check,
 * so a late duplicate of a restarted worker is refused as a replay first.
 */
static Verdict
check_instance(const Participant *p, const ds_submission *s, const uint8 *msg,
			   size_t msglen, const uint8 *sig)
{
	Oid			types[3] = {UUIDOID, BYTEAOID, INT8OID};
	Datum		args[3];
	bool		isnull;
	Datum		d;
	int64		earlier_id;
	char	   *reason;

	if (!p->has_instance || memcmp(p->last_instance, s->instance, DS_INSTANCE_LEN) == 0)
		return (Verdict) {true, NULL};
	args[0] = ds_uuid_datum(s->node_id);
	args[1] = ds_bytea_datum(s->instance, DS_INSTANCE_LEN);
	ds_spi_exec("SELECT pg_catalog.max(id) FROM dataspace.hub_submission"
				" WHERE node_id OPERATOR(pg_catalog.=) $1 AND instance OPERATOR(pg_catalog.=) $2",
				2, types, args, NULL, true, 1);
	d = ds_spi_get(0, 1, &isnull);
	if (isnull)
		return (Verdict) {true, NULL};	/* a new instance: the node restarted */
	earlier_id = DatumGetInt64(d);

	args[2] = Int64GetDatum(earlier_id);

	/*
	 * One row of evidence per pair of instances: a returning instance that
	 * keeps sending (a refused submission leaves the counter where it was)
	 * must not fill the hub's disk.  Read with a new snapshot, to see the
	 * evidence of an earlier call in this statement, or of the session
	 * this one waited for at the participant's row lock.
	 */
	if (ds_spi_exec("SELECT FROM dataspace.hub_instance_conflict"
					" WHERE node_id OPERATOR(pg_catalog.=) $1 AND instance OPERATOR(pg_catalog.=) $2"
					" AND other_instance OPERATOR(pg_catalog.=) $3",
					3, (Oid[]) {UUIDOID, BYTEAOID, BYTEAOID},
					(Datum[]) {args[0], args[1], ds_bytea_datum(p->last_instance, DS_INSTANCE_LEN)},
					NULL, false, -1) == 0 &&
		ds_spi_exec("INSERT INTO dataspace.hub_instance_conflict (node_id, instance, other_instance,"
					" earlier_submission, earlier_signature, other_submission, other_signature,"
					" submission, signature)"
					" SELECT $1, $2, o.instance, e.submission, e.signature, o.submission, o.signature,"
					"        $4, $5"
					"   FROM dataspace.hub_submission e,"
					"        LATERAL (SELECT instance, submission, signature FROM dataspace.hub_submission"
					"                  WHERE node_id OPERATOR(pg_catalog.=) $1"
					"                    AND id OPERATOR(pg_catalog.>) $3"
					"                    AND instance OPERATOR(pg_catalog.=) $6"
					"                  ORDER BY id LIMIT 1) o"
					"  WHERE e.id OPERATOR(pg_catalog.=) $3",
					6, (Oid[]) {UUIDOID, BYTEAOID, INT8OID, BYTEAOID, BYTEAOID, BYTEAOID},
					(Datum[]) {args[0], args[1], args[2], ds_bytea_datum(msg, msglen),
						ds_bytea_datum(sig, DS_SIG_LEN),
					ds_bytea_datum(p->last_instance, DS_INSTANCE_LEN)},
					NULL, false, 1) != 1)
		elog(ERROR, "participant %s changed instance without an accepted submission",
			 ds_uuid_text(s->node_id));

	reason = psprintf("instance %s of participant %s submitted again after instance %s took over:"
					  " two copies of this node are running",
					  ds_hex(s->instance, DS_INSTANCE_LEN), ds_uuid_text(s->node_id),
					  ds_hex(p->last_instance, DS_INSTANCE_LEN));
	if (strcmp(p->status, "suspended") != 0)
	{
		pg_uuid_t	id;

		memcpy(id.data, s->node_id, DS_UUID_LEN);
		set_participant_status(&id, "suspended", reason);
	}
	ereport(WARNING,
			(errmsg("participant %s runs as two copies", ds_uuid_text(s->node_id)),
			 errdetail("%s.  The evidence is in dataspace.hub_instance_conflict.", reason),
			 errhint("The participant is suspended.  Approve it again once its operator has stopped the copy"
					 " and given the node a new key.")));
	return refuse("%s", reason);
}

/*
 * A registration: self-signed by the key it registers.  A role registers
 * one node; a node id is registered by one role.
 */
static Verdict
apply_register(const ds_submission *s, const char *payload, const uint8 *sig,
			   const uint8 *msg, size_t msglen, const char *role)
{
	char	   *pk_hex = payload_text(payload, "public_key");
	char	   *name = payload_text(payload, "name");
	char	   *endpoint = payload_text(payload, "endpoint");
	uint8		pk[DS_PUBKEY_LEN];
	uint8		key_id[DS_HASH_LEN];
	Participant by_role;
	Participant by_node;
	Datum		args[4];
	Verdict		v;

	if (pk_hex == NULL || strlen(pk_hex) != 2 * DS_PUBKEY_LEN ||
		!ds_hex_decode(pk_hex, strlen(pk_hex), pk, DS_PUBKEY_LEN) ||
		name == NULL || name[0] == '\0')
		return refuse("registration payload lacks a public key or a name");
	if (!ds_key_id(ds_backend_hasher(), pk, key_id) ||
		memcmp(key_id, s->key_id, DS_HASH_LEN) != 0)
		return refuse("registration is signed with a key other than the one it registers");
	if (!ds_ed25519_verify(pk, msg, msglen, sig))
		return refuse("bad signature");

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(role));
	load_participant("role_name OPERATOR(pg_catalog.=) $1", args[0], NAMEOID, &by_role);
	load_participant("node_id OPERATOR(pg_catalog.=) $1", ds_uuid_datum(s->node_id), UUIDOID, &by_node);
	if (by_role.found && memcmp(by_role.node_id, s->node_id, DS_UUID_LEN) != 0)
		return refuse("role \"%s\" is already registered as participant %s", role,
					  ds_uuid_text(by_role.node_id));
	if (by_node.found && strcmp(by_node.role_name, role) != 0)
		return refuse("participant %s is registered by another role", ds_uuid_text(s->node_id));
	if (by_node.found)
	{
		if (s->counter <= by_node.last_counter)
			return refuse("replayed submission: counter " INT64_FORMAT " is not above " INT64_FORMAT,
						  s->counter, by_node.last_counter);
		if (memcmp(by_node.key_id, key_id, DS_HASH_LEN) != 0)
			return refuse("participant %s is registered with another key", ds_uuid_text(s->node_id));
		if (!(v = check_instance(&by_node, s, msg, msglen, sig)).accepted)
			return v;
		/* the same node again: name and endpoint may change, nothing else */
		args[0] = ds_uuid_datum(s->node_id);
		args[1] = CStringGetTextDatum(name);
		args[2] = CStringGetTextDatum(endpoint ? endpoint : "");
		args[3] = Int64GetDatum(s->counter);
		ds_spi_exec("UPDATE dataspace.participant SET name = $2, endpoint = $3, last_counter = $4"
					" WHERE node_id OPERATOR(pg_catalog.=) $1",
					4, (Oid[]) {UUIDOID, TEXTOID, TEXTOID, INT8OID}, args, NULL, false, 1);
		ds_audit_append("participant.update", ds_uuid_text(s->node_id),
						ds_audit_json(3, "name", name, "endpoint", endpoint ? endpoint : "",
									  "role", role));
		return (Verdict) {true, NULL};
	}
	{
		Oid			itypes[9] = {UUIDOID, TEXTOID, BYTEAOID, BYTEAOID, TEXTOID,
								 NAMEOID, INT8OID, BYTEAOID, BYTEAOID};
		Datum		iargs[9];

		iargs[0] = ds_uuid_datum(s->node_id);
		iargs[1] = CStringGetTextDatum(name);
		iargs[2] = ds_bytea_datum(pk, DS_PUBKEY_LEN);
		iargs[3] = ds_bytea_datum(key_id, DS_HASH_LEN);
		iargs[4] = CStringGetTextDatum(endpoint ? endpoint : "");
		iargs[5] = DirectFunctionCall1(namein, CStringGetDatum(role));
		iargs[6] = Int64GetDatum(s->counter);
		iargs[7] = ds_bytea_datum(msg, msglen);
		iargs[8] = ds_bytea_datum(sig, DS_SIG_LEN);
		ds_spi_exec("INSERT INTO dataspace.participant (node_id, name, public_key, key_id, endpoint,"
					" role_name, last_counter, registration, registration_signature)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					9, itypes, iargs, NULL, false, 1);
		/* the first key of the participant's key history */
		iargs[4] = TimestampTzGetDatum(ds_unix_us_to_ts(s->submitted_at_us));
		ds_spi_exec("INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position,"
					" valid_from) VALUES ($1, $4, $3, 1, $5)",
					5, (Oid[]) {UUIDOID, TEXTOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID},
					iargs, NULL, false, 1);
	}
	ds_audit_append("participant.register", ds_uuid_text(s->node_id),
					ds_audit_json(4, "name", name, "endpoint", endpoint ? endpoint : "",
								  "role", role, "key_id", ds_hex(key_id, DS_HASH_LEN)));
	ereport(LOG,
			(errmsg("participant \"%s\" (%s) registered by role \"%s\", pending approval",
					name, ds_uuid_text(s->node_id), role)));
	return (Verdict) {true, NULL};
}

static Verdict
apply_publish(const ds_submission *s, const char *payload, const uint8 *sig,
			  const uint8 *msg, size_t msglen)
{
	Oid			types[5] = {TEXTOID, UUIDOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID};
	Datum		args[5];
	bool		isnull;
	Datum		d;

	args[0] = CStringGetTextDatum(payload);
	args[1] = ds_uuid_datum(s->node_id);
	args[2] = ds_bytea_datum(msg, msglen);
	args[3] = ds_bytea_datum(sig, DS_SIG_LEN);
	args[4] = TimestampTzGetDatum(ds_unix_us_to_ts(s->submitted_at_us));
	ds_spi_exec("SELECT dataspace.hub_apply_publication($1::jsonb, $2, $3, $4, $5)",
				5, types, args, NULL, false, 1);
	d = ds_spi_get(0, 1, &isnull);
	if (!isnull)
		return refuse("%s", TextDatumGetCString(d));
	return (Verdict) {true, NULL};
}

static Verdict
apply_withdraw(const ds_submission *s, const char *payload)
{
	Oid			types[2] = {TEXTOID, UUIDOID};
	Datum		args[2];

	args[0] = CStringGetTextDatum(payload);
	args[1] = ds_uuid_datum(s->node_id);
	ds_spi_exec("DELETE FROM dataspace.hub_catalog WHERE provider_id OPERATOR(pg_catalog.=) $2"
				" AND asset_id OPERATOR(pg_catalog.=) ($1::jsonb OPERATOR(pg_catalog.->>) 'asset_id')::uuid",
				2, types, args, NULL, false, -1);
	return (Verdict) {true, NULL};
}

/*
 * A step of a contract between two participants (contract.c checks it
 * and stores it).
 */
static Verdict
apply_contract_step(const ds_submission *s, const char *payload)
{
	char	   *why = ds_hub_contract_step(s->node_id, payload);

	if (why)
		return refuse("%s", why);
	return (Verdict) {true, NULL};
}

/*
 * An anchor (docs/witness.md): appended to the anchor log, whose new tree
 * head the hub signs in the same transaction.
 */
static Verdict
apply_anchor(const ds_submission *s, const char *payload)
{
	char	   *why = ds_witness_apply_anchor(s, payload);

	if (why != NULL)
		return refuse("%s", why);
	return (Verdict) {true, NULL};
}

/* A hex-encoded member of the payload of exactly len bytes. */
static bool
payload_fixed(const char *payload, const char *member, uint8 *out, size_t len)
{
	char	   *hex = payload_text(payload, member);

	return hex != NULL && strlen(hex) == 2 * len &&
		ds_hex_decode(hex, strlen(hex), out, len);
}

/* A hex-encoded member of the payload of at most cap bytes; its length or -1. */
static int
payload_bytes(const char *payload, const char *member, uint8 *out, size_t cap)
{
	char	   *hex = payload_text(payload, member);
	size_t		n;

	if (hex == NULL || strlen(hex) % 2 != 0 || strlen(hex) / 2 > cap)
		return -1;
	n = strlen(hex) / 2;
	if (!ds_hex_decode(hex, strlen(hex), out, n))
		return -1;
	return (int) n;
}

/*
 * A key rotation (docs/hub.md, "Key rotation"): the submission is signed
 * by the key the hub knows (checked by check_and_apply), the payload
 * carries the node's announcement of its next key, signed by that same
 * key, and the new key's signature over the announcement (proof of
 * possession).  The new key replaces the participant's key; the old one
 * stays in dataspace.participant_key, valid until the announcement's time,
 * so what it signed keeps verifying.
 */
static Verdict
apply_rotate_key(const ds_submission *s, const char *payload, const Participant *p)
{
	uint8		pk[DS_PUBKEY_LEN];
	uint8		key_id[DS_HASH_LEN];
	uint8		ann[256];
	int			annlen;
	uint8		ann_sig[DS_SIG_LEN];
	uint8		pop[DS_SIG_LEN];
	ds_key_announce a;
	TimestampTz valid_from;
	int			position;
	bool		isnull;
	Datum		args[9];

	if (!payload_fixed(payload, "public_key", pk, DS_PUBKEY_LEN) ||
		(annlen = payload_bytes(payload, "announcement", ann, sizeof(ann))) < 0 ||
		!payload_fixed(payload, "announcement_signature", ann_sig, DS_SIG_LEN) ||
		!payload_fixed(payload, "possession_signature", pop, DS_SIG_LEN))
		return refuse("rotate_key payload lacks public_key, announcement, announcement_signature or possession_signature");
	if (!ds_key_announce_decode(ann, annlen, &a))
		return refuse("malformed key announcement");
	if (memcmp(a.node_id, s->node_id, DS_UUID_LEN) != 0)
		return refuse("the key announcement is made out for another participant");
	if (!ds_key_id(ds_backend_hasher(), pk, key_id) ||
		memcmp(key_id, a.key_id, DS_HASH_LEN) != 0 ||
		memcmp(pk, a.public_key, DS_PUBKEY_LEN) != 0)
		return refuse("the key announcement names another key than the payload's public key");
	if (memcmp(a.previous_key_id, p->key_id, DS_HASH_LEN) != 0)
		return refuse("the key announcement follows key %s, not the participant's current key",
					  ds_hex(a.previous_key_id, DS_HASH_LEN));
	if (!ds_ed25519_verify(p->public_key, ann, annlen, ann_sig))
		return refuse("the key announcement is not signed by the participant's current key");
	if (!ds_ed25519_verify(pk, ann, annlen, pop))
		return refuse("bad proof of possession of the new key");

	args[0] = ds_uuid_datum(s->node_id);
	args[1] = ds_bytea_datum(p->key_id, DS_HASH_LEN);
	if (ds_spi_exec("SELECT valid_from, position FROM dataspace.participant_key"
					" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {UUIDOID, BYTEAOID}, args, NULL, false, -1) != 1)
		return refuse("the hub has no key history for participant %s", ds_uuid_text(s->node_id));
	valid_from = DatumGetTimestampTz(ds_spi_get(0, 1, &isnull));
	position = DatumGetInt32(ds_spi_get(0, 2, &isnull));
	if (ds_unix_us_to_ts(a.created_at_us) < valid_from)
		return refuse("the key announcement is older than the participant's current key");
	args[2] = ds_bytea_datum(key_id, DS_HASH_LEN);
	args[3] = ds_bytea_datum(pk, DS_PUBKEY_LEN);
	args[4] = Int32GetDatum(position + 1);
	args[5] = ds_bytea_datum(ann, annlen);
	args[6] = ds_bytea_datum(ann_sig, DS_SIG_LEN);
	args[7] = ds_bytea_datum(pop, DS_SIG_LEN);
	args[8] = TimestampTzGetDatum(ds_unix_us_to_ts(a.created_at_us));
	if (ds_spi_exec("SELECT 1 FROM dataspace.participant_key WHERE key_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {BYTEAOID}, &args[2], NULL, false, -1) > 0)
		return refuse("key %s is already known to the hub", ds_hex(key_id, DS_HASH_LEN));
	ds_spi_exec("UPDATE dataspace.participant_key SET valid_until = $9"
				" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2",
				9, (Oid[]) {UUIDOID, BYTEAOID, BYTEAOID, BYTEAOID, INT4OID, BYTEAOID, BYTEAOID,
					BYTEAOID, TIMESTAMPTZOID}, args, NULL, false, 1);
	ds_spi_exec("INSERT INTO dataspace.participant_key (node_id, key_id, public_key, position,"
				" previous_key_id, announcement, announcement_signature, possession_signature,"
				" valid_from) VALUES ($1, $3, $4, $5, $2, $6, $7, $8, $9)",
				9, (Oid[]) {UUIDOID, BYTEAOID, BYTEAOID, BYTEAOID, INT4OID, BYTEAOID, BYTEAOID,
					BYTEAOID, TIMESTAMPTZOID}, args, NULL, false, 1);
	ds_spi_exec("UPDATE dataspace.participant SET public_key = $4, key_id = $3"
				" WHERE node_id OPERATOR(pg_catalog.=) $1",
				4, (Oid[]) {UUIDOID, BYTEAOID, BYTEAOID, BYTEAOID}, args, NULL, false, 1);
	ds_audit_append("participant.rotate_key", ds_uuid_text(s->node_id),
					ds_audit_json(2, "key_id", ds_hex(key_id, DS_HASH_LEN),
								  "previous_key_id", ds_hex(p->key_id, DS_HASH_LEN)));
	ereport(LOG,
			(errmsg("participant %s rotated its key to %s",
					ds_uuid_text(s->node_id), ds_hex(key_id, DS_HASH_LEN))));
	return (Verdict) {true, NULL};
}

/*
 * A key revocation (docs/security.md): the node's signed record that one
 * of its keys is compromised since a time.  It must be signed by another,
 * unrevoked key of the participant's history; the hub stores it with the
 * key, where nodes caching the participant find it.
 */
static Verdict
apply_revoke_key(const ds_submission *s, const char *payload)
{
	uint8		rec[256];
	int			reclen;
	uint8		rec_sig[DS_SIG_LEN];
	uint8		signer_pk[DS_PUBKEY_LEN];
	char	   *reason = payload_text(payload, "reason");
	ds_key_revoke r;
	Datum		args[8];
	char		nulls[8] = "        ";
	bool		isnull;

	if ((reclen = payload_bytes(payload, "revocation", rec, sizeof(rec))) < 0 ||
		!payload_fixed(payload, "revocation_signature", rec_sig, DS_SIG_LEN))
		return refuse("revoke_key payload lacks revocation or revocation_signature");
	if (!ds_key_revoke_decode(rec, reclen, &r))
		return refuse("malformed key revocation");
	if (memcmp(r.node_id, s->node_id, DS_UUID_LEN) != 0)
		return refuse("the key revocation is made out for another participant");
	if (memcmp(r.key_id, r.signer_key_id, DS_HASH_LEN) == 0)
		return refuse("a key revocation must be signed by another key than the one it revokes");
	args[0] = ds_uuid_datum(s->node_id);
	args[1] = ds_bytea_datum(r.signer_key_id, DS_HASH_LEN);
	if (ds_spi_exec("SELECT public_key FROM dataspace.participant_key"
					" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2"
					" AND revoked_at IS NULL",
					2, (Oid[]) {UUIDOID, BYTEAOID}, args, NULL, false, -1) != 1)
		return refuse("the key revocation is signed by key %s, not an unrevoked key of the participant",
					  ds_hex(r.signer_key_id, DS_HASH_LEN));
	ds_spi_get_bytes(0, 1, signer_pk, DS_PUBKEY_LEN);
	if (!ds_ed25519_verify(signer_pk, rec, reclen, rec_sig))
		return refuse("the key revocation's signature does not verify");
	args[1] = ds_bytea_datum(r.key_id, DS_HASH_LEN);
	if (ds_spi_exec("SELECT revoked_at IS NOT NULL FROM dataspace.participant_key"
					" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2"
					" FOR UPDATE",
					2, (Oid[]) {UUIDOID, BYTEAOID}, args, NULL, false, -1) != 1)
		return refuse("key %s is not a key of the participant", ds_hex(r.key_id, DS_HASH_LEN));
	if (DatumGetBool(ds_spi_get(0, 1, &isnull)))
		return refuse("key %s is already revoked", ds_hex(r.key_id, DS_HASH_LEN));
	args[2] = TimestampTzGetDatum(ds_unix_us_to_ts(r.revoked_at_us));
	args[3] = TimestampTzGetDatum(ds_unix_us_to_ts(r.compromised_since_us));
	if (reason)
		args[4] = CStringGetTextDatum(reason);
	else
		nulls[4] = 'n';
	args[5] = ds_bytea_datum(rec, reclen);
	args[6] = ds_bytea_datum(rec_sig, DS_SIG_LEN);
	args[7] = ds_bytea_datum(r.signer_key_id, DS_HASH_LEN);
	ds_spi_exec("UPDATE dataspace.participant_key SET revoked_at = $3, compromised_since = $4,"
				" revocation_reason = $5, revocation = $6, revocation_signature = $7,"
				" revocation_key_id = $8"
				" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2",
				8, (Oid[]) {UUIDOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, BYTEAOID,
					BYTEAOID, BYTEAOID}, args, nulls, false, 1);
	ds_audit_append("participant.revoke_key", ds_uuid_text(s->node_id),
					ds_audit_json(3, "key_id", ds_hex(r.key_id, DS_HASH_LEN),
								  "compromised_since",
								  DatumGetCString(DirectFunctionCall1(timestamptz_out, args[3])),
								  "reason", reason));
	ereport(LOG,
			(errmsg("participant %s revoked its key %s",
					ds_uuid_text(s->node_id), ds_hex(r.key_id, DS_HASH_LEN))));
	return (Verdict) {true, NULL};
}

/*
 * Check one submission against session_user's participant and apply it.
 */
static Verdict
check_and_apply(const uint8 *msg, size_t msglen, const uint8 *sig,
				const uint8 hub_id[DS_UUID_LEN], ds_submission *s, const char *role)
{
	Participant p;
	char	   *payload;
	Verdict		v;

	if (!ds_submission_decode(msg, msglen, s))
		return refuse("malformed submission");
	if (memcmp(s->hub_id, hub_id, DS_UUID_LEN) != 0)
		return refuse("submission is meant for hub %s, not this hub", ds_uuid_text(s->hub_id));
	if (pg_verifymbstr((const char *) s->payload, (int) s->payload_len, true) == false ||
		memchr(s->payload, '\0', s->payload_len) != NULL)
		return refuse("payload is not text in the server encoding");
	payload = pnstrdup((const char *) s->payload, s->payload_len);

	if (strcmp(s->kind, "register") == 0)
		return apply_register(s, payload, sig, msg, msglen, role);

	load_participant("role_name OPERATOR(pg_catalog.=) $1",
					 DirectFunctionCall1(namein, CStringGetDatum(role)), NAMEOID, &p);
	if (!p.found)
		return refuse("role \"%s\" is not a registered participant", role);
	if (memcmp(p.node_id, s->node_id, DS_UUID_LEN) != 0)
		return refuse("submission is made out for participant %s, but role \"%s\" is participant %s",
					  ds_uuid_text(s->node_id), role, ds_uuid_text(p.node_id));
	if (memcmp(p.key_id, s->key_id, DS_HASH_LEN) != 0)
		return refuse("submission is signed with a key the hub does not know for this participant");
	if (!ds_ed25519_verify(p.public_key, msg, msglen, sig))
		return refuse("bad signature");
	if (s->counter <= p.last_counter)
		return refuse("replayed submission: counter " INT64_FORMAT " is not above " INT64_FORMAT,
					  s->counter, p.last_counter);
	if (!(v = check_instance(&p, s, msg, msglen, sig)).accepted)
		return v;
	/* a pending participant may still rotate or revoke its keys */
	if (strcmp(p.status, "approved") != 0 &&
		!(strcmp(p.status, "pending") == 0 &&
		  (strcmp(s->kind, "rotate_key") == 0 || strcmp(s->kind, "revoke_key") == 0)))
		return refuse("participant %s is %s", ds_uuid_text(p.node_id), p.status);

	{
		Oid			types[2] = {UUIDOID, INT8OID};
		Datum		args[2] = {ds_uuid_datum(s->node_id), Int64GetDatum(s->counter)};

		ds_spi_exec("UPDATE dataspace.participant SET last_counter = $2"
					" WHERE node_id OPERATOR(pg_catalog.=) $1", 2, types, args, NULL, false, 1);
	}
	if (strcmp(s->kind, "publish_asset") == 0)
		return apply_publish(s, payload, sig, msg, msglen);
	if (strcmp(s->kind, "withdraw_asset") == 0)
		return apply_withdraw(s, payload);
	if (strcmp(s->kind, "contract_step") == 0)
		return apply_contract_step(s, payload);
	if (strcmp(s->kind, "anchor") == 0)
		return apply_anchor(s, payload);
	if (strcmp(s->kind, "rotate_key") == 0)
		return apply_rotate_key(s, payload, &p);
	if (strcmp(s->kind, "revoke_key") == 0)
		return apply_revoke_key(s, payload);
	return refuse("unknown submission kind \"%s\"", s->kind);
}

/*
 * record_refusal
 *		Keep and log a refused submission of role (s decoded as far as it
 *		went): one row in hub_refusal for each of the role's first
 *		dataspace.hub_refusals_per_minute refusals of the minute, then a
 *		count in hub_refusal_overflow and one log line, so that a login
 *		sending garbage in a loop fills neither the disk nor the log.  The
 *		count is read with a new snapshot: it includes the refusals of
 *		earlier calls in the same statement.
 */
static void
record_refusal(const char *role, const ds_submission *s, const char *reason)
{
	Oid			types[4] = {NAMEOID, UUIDOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		argnulls[4] = {' ', ' ', ' ', ' '};

	args[0] = DirectFunctionCall1(namein, CStringGetDatum(role));
	if (s->kind[0] != '\0')
	{
		args[1] = ds_uuid_datum(s->node_id);
		args[2] = CStringGetTextDatum(s->kind);
	}
	else
		argnulls[1] = argnulls[2] = 'n';
	args[3] = CStringGetTextDatum(reason);

	ds_spi_exec("SELECT pg_catalog.count(*) FROM (SELECT FROM dataspace.hub_refusal"
				" WHERE role_name OPERATOR(pg_catalog.=) $1"
				" AND refused_at OPERATOR(pg_catalog.>=) pg_catalog.date_trunc('minute', pg_catalog.now())"
				" LIMIT $2) r",
				2, (Oid[]) {NAMEOID, INT8OID},
				(Datum[]) {args[0], Int64GetDatum(dataspace_hub_refusals_per_minute)},
				NULL, false, 1);
	if (ds_spi_get_int64(0, 1) < dataspace_hub_refusals_per_minute)
	{
		ds_spi_exec("INSERT INTO dataspace.hub_refusal (role_name, claimed_node_id, kind, reason)"
					" VALUES ($1, $2, $3, $4)", 4, types, args, argnulls, false, 1);
		ereport(LOG,
				(errmsg("refused a submission from role \"%s\": %s", role, reason)));
		return;
	}
	ds_spi_exec("INSERT INTO dataspace.hub_refusal_overflow AS o"
				" (role_name, minute, refusals, last_kind, last_reason, last_at)"
				" VALUES ($1, pg_catalog.date_trunc('minute', pg_catalog.now()), 1, $3, $4, pg_catalog.now())"
				" ON CONFLICT (role_name, minute) DO UPDATE SET"
				" refusals = o.refusals OPERATOR(pg_catalog.+) 1, last_kind = excluded.last_kind,"
				" last_reason = excluded.last_reason, last_at = excluded.last_at"
				" RETURNING refusals",
				4, types, args, argnulls, false, 1);
	if (ds_spi_get_int64(0, 1) == 1)
		ereport(LOG,
				(errmsg("refused a submission from role \"%s\": %s", role, reason),
				 errdetail("The role's further refusals this minute are counted in dataspace.hub_refusal_overflow, not logged.")));
}

/*
 * dataspace.hub_submit(submission bytea, signature bytea)
 *		returns (accepted boolean, reason text)
 */
Datum
dataspace_hub_submit(PG_FUNCTION_ARGS)
{
	bytea	   *msg_arg = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig_arg = PG_GETARG_BYTEA_PP(1);
	const uint8 *msg = (const uint8 *) VARDATA_ANY(msg_arg);
	size_t		msglen = VARSIZE_ANY_EXHDR(msg_arg);
	char	   *role = session_user_name();
	DsNode		hub;
	ds_submission s;
	Verdict		v;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	MemoryContext outer = CurrentMemoryContext;

	require_hub("dataspace.hub_submit()");
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	ds_node_ensure(&hub);
	memset(&s, 0, sizeof(s));

	SPI_connect();
	if (VARSIZE_ANY_EXHDR(sig_arg) != DS_SIG_LEN || msglen > DS_SUBMISSION_MAX)
		v = refuse("malformed submission");
	else
		v = check_and_apply(msg, msglen, (const uint8 *) VARDATA_ANY(sig_arg),
							hub.node_id, &s, role);

	if (v.accepted)
	{
		Oid			types[6] = {UUIDOID, INT8OID, TEXTOID, BYTEAOID, BYTEAOID, BYTEAOID};
		Datum		args[6];

		args[0] = ds_uuid_datum(s.node_id);
		args[1] = Int64GetDatum(s.counter);
		args[2] = CStringGetTextDatum(s.kind);
		args[3] = PointerGetDatum(msg_arg);
		args[4] = PointerGetDatum(sig_arg);
		args[5] = ds_bytea_datum(s.instance, DS_INSTANCE_LEN);
		ds_spi_exec("INSERT INTO dataspace.hub_submission (node_id, counter, kind, submission, signature,"
					" instance) VALUES ($1, $2, $3, $4, $5, $6)", 6, types, args, NULL, false, 1);
		ds_spi_exec("UPDATE dataspace.participant SET last_instance = $2"
					" WHERE node_id OPERATOR(pg_catalog.=) $1",
					2, (Oid[]) {UUIDOID, BYTEAOID}, (Datum[]) {args[0], args[5]}, NULL, false, 1);
	}
	else
	{
		record_refusal(role, &s, v.reason);
		v.reason = MemoryContextStrdup(outer, v.reason);
	}
	SPI_finish();

	values[0] = BoolGetDatum(v.accepted);
	if (v.reason)
		values[1] = CStringGetTextDatum(v.reason);
	else
		nulls[1] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Approve or suspend a participant, audited.  An approval also forgets
 * which instance of the participant submitted last: the operator who
 * approves a participant suspended as two copies says the copy is gone,
 * so the instance that submits next is the node (and a copy that is not
 * gone is caught again when it submits after it).
 */
static void
set_participant_status(pg_uuid_t *id, const char *status, const char *reason)
{
	Oid			types[3] = {UUIDOID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', reason ? ' ' : 'n'};
	DsSavedUser saved;

	args[0] = UUIDPGetDatum(id);
	args[1] = CStringGetTextDatum(status);
	args[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	ds_become_owner(&saved);
	SPI_connect();
	if (ds_spi_exec("UPDATE dataspace.participant SET status = $2,"
					" approved_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'approved' THEN pg_catalog.now() ELSE approved_at END,"
					" suspended_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'suspended' THEN pg_catalog.now() END,"
					" suspension_reason = $3,"
					" last_instance = CASE WHEN $2 OPERATOR(pg_catalog.=) 'approved' THEN NULL ELSE last_instance END"
					" WHERE node_id OPERATOR(pg_catalog.=) $1",
					3, types, args, nulls, false, -1) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("participant %s does not exist", ds_uuid_text(id->data))));
	SPI_finish();
	ds_audit_append(strcmp(status, "approved") == 0 ? "participant.approve" : "participant.suspend",
					ds_uuid_text(id->data), ds_audit_json(1, "reason", reason));
	ds_restore_user(&saved);
	ereport(LOG, (errmsg("participant %s is now %s", ds_uuid_text(id->data), status)));
}

Datum
dataspace_approve_participant(PG_FUNCTION_ARGS)
{
	require_hub("dataspace.approve_participant()");
	set_participant_status(PG_GETARG_UUID_P(0), "approved", NULL);
	PG_RETURN_VOID();
}

Datum
dataspace_suspend_participant(PG_FUNCTION_ARGS)
{
	text	   *reason = PG_GETARG_TEXT_PP(1);

	require_hub("dataspace.suspend_participant()");
	if (VARSIZE_ANY_EXHDR(reason) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a suspension needs a reason")));
	set_participant_status(PG_GETARG_UUID_P(0), "suspended", text_to_cstring(reason));
	PG_RETURN_VOID();
}
