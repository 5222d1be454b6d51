/*-------------------------------------------------------------------------
 *
 * audit.c
 *		The audit log: ds_audit_append and dataspace.verify_audit_log()
 *		(docs/audit-log.md).
 *
 * Every participant change and key change, on the hub and on each node,
 * is written in the transaction that makes it as one entry: a framed
 * message (DS_MSG_AUDIT_ENTRY) holding the previous entry's hash, signed
 * with the node's current key.  The table refuses UPDATE, DELETE and
 * TRUNCATE with ordinary triggers; whoever bypasses them (a superuser with
 * session_replication_role = replica) is caught by verify_audit_log, and a
 * cut-off tail by the head anchored at the hub.
 *
 * Appends are serialized by a transaction-level advisory lock.  The head
 * is then read with a fresh snapshot, not the transaction's: under
 * REPEATABLE READ the transaction snapshot can predate the lock, and a
 * head read through it would fork the chain.  The lock holder before us
 * has committed (or aborted) by the time we hold the lock, so the fresh
 * snapshot sees the true head.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/snapmgr.h"

#include "audit.h"
#include "keys.h"
#include "submission.h"
#include "util.h"
#include "witness.h"

PG_FUNCTION_INFO_V1(dataspace_verify_audit_log);

/* advisory lock (schema oid, AUDIT_LOCK_KEY): one appender at a time */
#define AUDIT_LOCK_KEY	0x61756474

/* The fixed list of reasons of verify_audit_log (docs/audit-log.md). */
#define AR_OK				"ok"
#define AR_UNKNOWN_KEY		"unknown key"
#define AR_BAD_SIGNATURE	"bad signature"
#define AR_CHANGED			"entry changed"
#define AR_MISSING			"entry missing before this one"
#define AR_CHAIN_BROKEN		"chain broken"
#define AR_TAIL_MISSING		"anchored entry missing"
#define AR_ANCHOR_DIFFERS	"anchored entry differs"

/*
 * ds_audit_json
 *		{"name": "value", ...} with JSON escaping, for detail_json.
 */
char *
ds_audit_json(int npairs,...)
{
	StringInfoData buf;
	va_list		ap;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	va_start(ap, npairs);
	for (int i = 0; i < npairs; i++)
	{
		const char *name = va_arg(ap, const char *);
		const char *value = va_arg(ap, const char *);

		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, name);
		appendStringInfoString(&buf, ": ");
		if (value == NULL)
			appendStringInfoString(&buf, "null");
		else
			escape_json(&buf, value);
	}
	va_end(ap);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * read_head_fresh
 *		The last entry (seq, entry_hash) as committed now, plus this
 *		transaction's own appends; seq 0 and zero hash for an empty log.
 */
static void
read_head_fresh(int64 *seq, uint8 hash[DS_HASH_LEN])
{
	SPIPlanPtr	plan;
	int			rc;

	CommandCounterIncrement();
	plan = SPI_prepare("SELECT seq, entry_hash FROM dataspace.audit_log"
					   " ORDER BY seq DESC LIMIT 1", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		*seq = 0;
		memset(hash, 0, DS_HASH_LEN);
	}
	else
	{
		*seq = ds_spi_get_int64(0, 1);
		ds_spi_get_bytes(0, 2, hash, DS_HASH_LEN);
	}
	SPI_freeplan(plan);
}

/*
 * ds_audit_append
 *		See audit.h.
 */
void
ds_audit_append(const char *event, const char *subject, const char *detail_json)
{
	DsSigner   *signer;
	DsSavedUser saved;
	LOCKTAG		tag;
	ds_audit_entry e;
	char	   *actor = GetUserNameFromId(GetSessionUserId(), false);
	char	   *detail;
	uint8	   *msg;
	size_t		len;
	uint8		sig[DS_SIG_LEN];
	uint8		entry_hash[DS_HASH_LEN];
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext outer = CurrentMemoryContext;

	signer = ds_signer_load();
	ds_become_owner(&saved);
	SPI_connect();

	/* the detail as jsonb prints it, so the signed text is the stored one */
	ds_spi_exec("SELECT ($1::jsonb)::text", 1, (Oid[]) {TEXTOID},
				(Datum[]) {CStringGetTextDatum(detail_json ? detail_json : "{}")},
				NULL, true, 1);
	detail = MemoryContextStrdup(outer, SPI_getvalue(SPI_tuptable->vals[0],
													 SPI_tuptable->tupdesc, 1));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ds_schema_oid(), AUDIT_LOCK_KEY, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	memset(&e, 0, sizeof(e));
	memcpy(e.node_id, signer->node_id, DS_UUID_LEN);
	read_head_fresh(&e.seq, e.prev_hash);
	e.seq++;
	e.at_us = ds_ts_to_unix_us(now);
	e.actor = actor;
	e.event = event;
	e.subject = subject ? subject : "";
	e.detail = detail;
	memcpy(e.key_id, signer->key_id, DS_HASH_LEN);

	msg = palloc(DS_AUDIT_MSG_MAX);
	len = ds_audit_entry_message(&e, msg, DS_AUDIT_MSG_MAX);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audit entry \"%s\" is too large", event)));
	if (!ds_signer_sign(signer, msg, len, sig) ||
		!ds_sha256(ds_backend_hasher(), msg, len, entry_hash))
		elog(ERROR, "could not sign an audit entry");

	{
		Oid			types[11] = {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID};
		Datum		args[11];

		args[0] = Int64GetDatum(e.seq);
		args[1] = TimestampTzGetDatum(now);
		args[2] = CStringGetTextDatum(actor);
		args[3] = CStringGetTextDatum(event);
		args[4] = CStringGetTextDatum(e.subject);
		args[5] = CStringGetTextDatum(detail);
		args[6] = ds_bytea_datum(e.prev_hash, DS_HASH_LEN);
		args[7] = ds_bytea_datum(entry_hash, DS_HASH_LEN);
		args[8] = ds_bytea_datum(signer->key_id, DS_HASH_LEN);
		args[9] = ds_bytea_datum(sig, DS_SIG_LEN);
		args[10] = ds_bytea_datum(msg, len);
		ds_spi_exec("INSERT INTO dataspace.audit_log (seq, at, actor, event, subject, detail,"
					" prev_hash, entry_hash, key_id, signature, message)"
					" VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11)",
					11, types, args, NULL, false, 1);
	}
	SPI_finish();				/* frees msg with the SPI context */
	ds_restore_user(&saved);
}

/*
 * ds_audit_head
 *		See audit.h.  Reads through the caller's snapshot.
 */
bool
ds_audit_head(int64 *seq, uint8 hash[DS_HASH_LEN], int64 *at_us)
{
	bool		found;
	DsSavedUser saved;

	ds_become_owner(&saved);
	SPI_connect();
	found = ds_spi_exec("SELECT seq, entry_hash, at FROM dataspace.audit_log"
						" ORDER BY seq DESC LIMIT 1", 0, NULL, NULL, NULL, true, -1) == 1;
	if (found)
	{
		bool		isnull;

		*seq = ds_spi_get_int64(0, 1);
		ds_spi_get_bytes(0, 2, hash, DS_HASH_LEN);
		*at_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(0, 3, &isnull)));
	}
	SPI_finish();
	ds_restore_user(&saved);
	return found;
}

/* Copy a bytea of exactly len bytes; false for NULL or another length. */
static bool
get_exact(HeapTuple tup, TupleDesc desc, int col, uint8 *out, size_t len)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != len)
		return false;
	memcpy(out, VARDATA_ANY(b), len);
	return true;
}

/* Text of a row's column, or "" for NULL. */
static char *
col_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);

	return s ? s : "";
}

/*
 * check_entry
 *		Why one stored entry is not what its signed message says, or NULL.
 *		The message is rebuilt from the columns and compared byte for
 *		byte; detail is compared as jsonb when its text differs.
 */
static const char *
check_entry(ds_hasher *h, const DsKeyring *ring, HeapTuple tup, TupleDesc desc,
			const uint8 node_id[DS_UUID_LEN])
{
	bool		isnull;
	ds_audit_entry e;
	bytea	   *stored_msg;
	bytea	   *sig;
	const DsKey *key;
	uint8	   *msg;
	size_t		len;
	uint8		hash[DS_HASH_LEN];
	uint8		stored_hash[DS_HASH_LEN];
	Datum		d;

	memset(&e, 0, sizeof(e));
	memcpy(e.node_id, node_id, DS_UUID_LEN);
	e.seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	e.at_us = ds_ts_to_unix_us(DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull)));
	e.actor = col_text(tup, desc, 3);
	e.event = col_text(tup, desc, 4);
	e.subject = col_text(tup, desc, 5);
	e.detail = col_text(tup, desc, 6);
	if (!get_exact(tup, desc, 7, e.prev_hash, DS_HASH_LEN))
		return AR_CHANGED;
	if (!get_exact(tup, desc, 9, e.key_id, DS_HASH_LEN))
		return AR_UNKNOWN_KEY;
	d = SPI_getbinval(tup, desc, 10, &isnull);
	if (isnull)
		return AR_BAD_SIGNATURE;
	sig = DatumGetByteaPP(d);
	d = SPI_getbinval(tup, desc, 11, &isnull);
	if (isnull)
		return AR_CHANGED;
	stored_msg = DatumGetByteaPP(d);

	key = ds_keyring_find(ring, e.key_id);
	if (key == NULL)
		return AR_UNKNOWN_KEY;
	if (VARSIZE_ANY_EXHDR(sig) != DS_SIG_LEN ||
		!ds_ed25519_verify(key->public_key, (const uint8 *) VARDATA_ANY(stored_msg),
						   VARSIZE_ANY_EXHDR(stored_msg), (const uint8 *) VARDATA_ANY(sig)))
		return AR_BAD_SIGNATURE;

	msg = palloc(DS_AUDIT_MSG_MAX);
	len = ds_audit_entry_message(&e, msg, DS_AUDIT_MSG_MAX);
	if (len == 0 || len != VARSIZE_ANY_EXHDR(stored_msg) ||
		memcmp(msg, VARDATA_ANY(stored_msg), len) != 0)
	{
		/* maybe only the jsonb text form differs: compare as jsonb */
		ds_audit_entry signed_e;
		ds_msg_reader r;
		const uint8 *f;
		size_t		flen;
		char	   *signed_detail = NULL;

		signed_e = e;
		if (ds_msg_read_begin(&r, (const uint8 *) VARDATA_ANY(stored_msg),
							  VARSIZE_ANY_EXHDR(stored_msg), DS_MSG_AUDIT_ENTRY))
		{
			for (int i = 0; i < 7 && ds_msg_read_field(&r, &f, &flen); i++)
				if (i == 6)
					signed_detail = pnstrdup((const char *) f, flen);
		}
		if (signed_detail == NULL)
			return AR_CHANGED;
		signed_e.detail = signed_detail;
		len = ds_audit_entry_message(&signed_e, msg, DS_AUDIT_MSG_MAX);
		if (len == 0 || len != VARSIZE_ANY_EXHDR(stored_msg) ||
			memcmp(msg, VARDATA_ANY(stored_msg), len) != 0)
			return AR_CHANGED;
		{
			SPITupleTable *saved_tt = SPI_tuptable;
			bool		same;

			ds_spi_exec("SELECT $1::jsonb OPERATOR(pg_catalog.=) $2::jsonb", 2,
						(Oid[]) {TEXTOID, TEXTOID},
						(Datum[]) {CStringGetTextDatum(e.detail), CStringGetTextDatum(signed_detail)},
						NULL, true, 1);
			same = ds_spi_getbool(0, 1, &isnull);
			SPI_tuptable = saved_tt;
			if (!same)
				return AR_CHANGED;
		}
	}
	if (!ds_sha256(h, VARDATA_ANY(stored_msg), VARSIZE_ANY_EXHDR(stored_msg), hash))
		elog(ERROR, "could not hash an audit entry");
	if (!get_exact(tup, desc, 8, stored_hash, DS_HASH_LEN) ||
		memcmp(hash, stored_hash, DS_HASH_LEN) != 0)
		return AR_CHANGED;
	return NULL;
}

static void
put_row(ReturnSetInfo *rsinfo, int64 seq, bool ok, const char *reason)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = Int64GetDatum(seq);
	values[1] = BoolGetDatum(ok);
	values[2] = CStringGetTextDatum(reason);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * dataspace.verify_audit_log() returns table (seq bigint, ok boolean, reason text)
 *		One row per entry, in order, with the first reason that applies;
 *		then, if the head anchored at the hub (as cached here) is not in
 *		the log or differs, a row for the anchored seq.
 */
Datum
dataspace_verify_audit_log(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DsKeyring  *ring;
	DsNode		node;
	DsSavedUser saved;
	ds_hasher  *h = ds_backend_hasher();
	int64		prev_seq = 0;
	uint8		prev_hash[DS_HASH_LEN];
	Portal		portal;
	SPIPlanPtr	plan;

	InitMaterializedSRF(fcinfo, 0);
	memset(prev_hash, 0, DS_HASH_LEN);
	if (!ds_node_load(&node))
		return (Datum) 0;
	ring = ds_keyring_load();

	ds_become_owner(&saved);
	SPI_connect();
	plan = SPI_prepare("SELECT seq, at, actor, event, subject, detail::text, prev_hash,"
					   " entry_hash, key_id, signature, message"
					   " FROM dataspace.audit_log ORDER BY seq", 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		{
			SPITupleTable *tt = SPI_tuptable;
			uint64		n = SPI_processed;

			for (uint64 i = 0; i < n; i++)
			{
				HeapTuple	tup = tt->vals[i];
				bool		isnull;
				int64		seq = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
				const char *why;
				uint8		this_prev[DS_HASH_LEN];
				uint8		this_hash[DS_HASH_LEN];

				why = check_entry(h, ring, tup, tt->tupdesc, node.node_id);
				SPI_tuptable = tt;
				if (!get_exact(tup, tt->tupdesc, 7, this_prev, DS_HASH_LEN))
					memset(this_prev, 0xff, DS_HASH_LEN);
				if (!get_exact(tup, tt->tupdesc, 8, this_hash, DS_HASH_LEN))
					memset(this_hash, 0, DS_HASH_LEN);

				if (why == NULL && seq != prev_seq + 1)
					why = AR_MISSING;
				if (why == NULL && memcmp(this_prev, prev_hash, DS_HASH_LEN) != 0)
					why = AR_CHAIN_BROKEN;
				put_row(rsinfo, seq, why == NULL, why ? why : AR_OK);
				prev_seq = seq;
				memcpy(prev_hash, this_hash, DS_HASH_LEN);
			}
		}
	}
	SPI_cursor_close(portal);

	/* the newest head anchored at the hub must still be in the log */
	if (ds_spi_exec("SELECT a.head_pos, a.head_hash, l.entry_hash FROM dataspace.anchor a"
					" LEFT JOIN dataspace.audit_log l ON l.seq OPERATOR(pg_catalog.=) a.head_pos"
					" WHERE a.subject_kind OPERATOR(pg_catalog.=) 'audit_log'"
					" ORDER BY a.head_pos DESC LIMIT 1", 0, NULL, NULL, NULL, true, -1) == 1)
	{
		int64		anchored = ds_spi_get_int64(0, 1);
		uint8		ahash[DS_HASH_LEN];
		bool		isnull;
		uint8		lhash[DS_HASH_LEN];

		ds_spi_get_bytes(0, 2, ahash, DS_HASH_LEN);
		(void) ds_spi_get(0, 3, &isnull);
		if (isnull)
			put_row(rsinfo, anchored, false, AR_TAIL_MISSING);
		else if (!get_exact(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
							lhash, DS_HASH_LEN) ||
				 memcmp(lhash, ahash, DS_HASH_LEN) != 0)
			put_row(rsinfo, anchored, false, AR_ANCHOR_DIFFERS);
	}
	SPI_finish();
	ds_restore_user(&saved);
	return (Datum) 0;
}
