/*-------------------------------------------------------------------------
 *
 * export.c
 *		The provider side of peer replication: challenge, authentication
 *		and export (docs/replication.md).
 *
 * A consumer logs in as a member of dataspace_export, asks for a
 * challenge (a random nonce kept in this backend's memory, good for one
 * answer), and answers it with a signature of its node key over the
 * provider's id, the contract's id, its own id, the nonce and the purpose
 * it declares.  The answer is checked against the consumer key the
 * contract pins and the purpose against the contract's policy; only then
 * may this session export under that contract, and the signed declaration
 * is kept in dataspace.purpose_declaration.  A stolen connection string
 * gets no further than the challenge, a replayed answer meets a nonce
 * that is gone, and another node cannot sign as the contract's consumer.
 *
 * Each export call re-reads and re-verifies the contract, so revocation,
 * suspension and expiry take effect at the next call.  It returns whole
 * seals after the consumer's cursor (a chain position), each with every
 * point of it in leaf order: the points the policy allows as values with
 * their blinding nonces, the others as their blinded leaf hashes only, so
 * that the consumer can recompute the Merkle root of every seal it gets
 * without learning a withheld value.  A seal with nothing allowed travels
 * without entries: the consumer checks its signature and chain link.
 *
 * After committing a batch the consumer countersigns it: a delivery
 * receipt names the chain positions and hashes of the seals it stored and
 * the number of points it received.  The same authenticated session hands
 * it in with export_receipt, which checks the signature under the
 * consumer key the contract pins and the seals against this node's own
 * chain before keeping it in dataspace.delivery_receipt; verify_receipts
 * checks the kept receipts again later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "contract.h"
#include "gossip.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "purpose.h"
#include "replmsg.h"
#include "sealstore.h"
#include "submission.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_export_challenge);
PG_FUNCTION_INFO_V1(dataspace_export_authenticate);
PG_FUNCTION_INFO_V1(dataspace_export_batch);
PG_FUNCTION_INFO_V1(dataspace_exchange_tree_heads);
PG_FUNCTION_INFO_V1(dataspace_export_receipt);
PG_FUNCTION_INFO_V1(dataspace_verify_receipts);

#define MAX_SESSION_CONTRACTS 64
#define MAX_BATCH_SEALS 1000

/*
 * The session's challenge and the contracts it authenticated for, each
 * with the purpose declared for it ("" for none).  Kept in backend memory
 * only, bound to this process and its start time and to the session user.
 */
typedef struct ExportSession
{
	bool		issued;
	uint8		nonce[DS_EXPORT_NONCE_LEN];
	int			pid;
	TimestampTz started;
	Oid			session_user;
	int			ncontracts;
	uint8		contracts[MAX_SESSION_CONTRACTS][DS_UUID_LEN];
	char		purposes[MAX_SESSION_CONTRACTS][DS_POLICY_PURPOSE_LEN + 1];
	/* why a contract is not in force ("" if it is): receipts only, no data */
	char		ended[MAX_SESSION_CONTRACTS][160];
	/* the signed answer, checked again for every batch of data */
	uint8		answer[MAX_SESSION_CONTRACTS][DS_EXPORT_AUTH_MAX];
	size_t		answer_len[MAX_SESSION_CONTRACTS];
	uint8		answer_sig[MAX_SESSION_CONTRACTS][DS_SIG_LEN];
} ExportSession;

static ExportSession xs;

/* This node's id, or an error on the hub or before it has an identity. */
static void
provider_id(uint8 out[DS_UUID_LEN])
{
	DsNode		node;

	if (dataspace_mode != DATASPACE_MODE_NODE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("export is a node function"),
				 errdetail("This server runs with dataspace.mode = 'hub'.")));
	if (!ds_node_load(&node))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has no identity yet")));
	memcpy(out, node.node_id, DS_UUID_LEN);
}

/* Is the session still the one the state was made in? */
static bool
same_session(void)
{
	return xs.pid == MyProcPid && xs.started == MyStartTimestamp &&
		xs.session_user == GetSessionUserId();
}

/*
 * dataspace.export_challenge(OUT provider_id uuid, OUT nonce bytea)
 *		Issue a fresh nonce for this session; it replaces any earlier one.
 */
Datum
dataspace_export_challenge(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	uint8		me[DS_UUID_LEN];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	SPI_connect();
	provider_id(me);
	SPI_finish();
	if (!same_session())
	{
		memset(&xs, 0, sizeof(xs));
		xs.pid = MyProcPid;
		xs.started = MyStartTimestamp;
		xs.session_user = GetSessionUserId();
	}
	if (!pg_strong_random(xs.nonce, DS_EXPORT_NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
	xs.issued = true;
	values[0] = ds_uuid_datum(me);
	values[1] = ds_bytea_datum(xs.nonce, DS_EXPORT_NONCE_LEN);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * dataspace.export_authenticate(contract uuid, response bytea,
 *								  purpose text default null) returns boolean
 *		Check the consumer's answer to this session's challenge and the
 *		purpose it declares.  The nonce is spent by the first answer, right
 *		or wrong.  An accepted answer is kept as the consumer's signed
 *		declaration of purpose.
 */
Datum
dataspace_export_authenticate(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *contract;
	bytea	   *response;
	const char *purpose = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	uint8		nonce[DS_EXPORT_NONCE_LEN];
	uint8		me[DS_UUID_LEN];
	uint8		msg[DS_EXPORT_AUTH_MAX];
	size_t		len = 0;
	DsContractTerms t;
	const char *why;
	const char *ended;
	int			slot;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("contract and response must not be null")));
	contract = PG_GETARG_UUID_P(0);
	response = PG_GETARG_BYTEA_PP(1);
	if (!xs.issued || !same_session())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no challenge was issued in this session"),
				 errhint("Call dataspace.export_challenge() first; each challenge takes one answer.")));
	memcpy(nonce, xs.nonce, DS_EXPORT_NONCE_LEN);
	xs.issued = false;
	ds_wipe(xs.nonce, DS_EXPORT_NONCE_LEN);

	SPI_connect();
	provider_id(me);
	why = ds_contract_terms_load(contract->data, &t);
	if (why == NULL && memcmp(t.provider_id, me, DS_UUID_LEN) != 0)
		why = psprintf("this node is not the provider of contract %s", ds_uuid_text(contract->data));
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("export refused"),
				 errdetail("%s", why)));
	/*
	 * A contract no longer (or not yet) in force still takes the consumer's
	 * delivery receipts of what it delivered, so that a receipt queued when
	 * the contract ended reaches the provider; it gives no data.
	 */
	ended = ds_contract_terms_check(&t, t.assets, ds_ts_to_unix_us(GetCurrentTimestamp()));
	if (strlen(purpose) <= DS_POLICY_PURPOSE_LEN)
		len = ds_export_auth_message(me, t.id, t.consumer_id, nonce, purpose, msg, sizeof(msg));
	if (len == 0 || VARSIZE_ANY_EXHDR(response) != DS_SIG_LEN ||
		!ds_party_signed(t.consumer_id, t.consumer_key_id, t.consumer_pk,
						 ds_ts_to_unix_us(GetCurrentTimestamp()), msg, len,
						 (const uint8 *) VARDATA_ANY(response)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the answer to the challenge does not verify"),
				 errdetail("An answer must be signed with the consumer key that contract %s pins or, after a rotation, a later key of the consumer's checked chain, current now, over a nonce issued in this session and the purpose declared with it.",
						   ds_uuid_text(contract->data))));
	/* a signed declaration the policy does not permit: refused, and logged */
	why = ended ? NULL : ds_purpose_refusal(&t.policy, purpose);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("export refused"),
				 errdetail("%s (contract %s).", why, ds_uuid_text(contract->data)),
				 errhint("The consumer declares its purpose with dataspace.declare_purpose().")));
	if (ended == NULL)
		ds_spi_exec("INSERT INTO dataspace.purpose_declaration"
					" (contract_id, consumer_id, purpose, message, signature)"
					" VALUES ($1, $2, $3, $4, $5)",
					5, (Oid[]) {UUIDOID, UUIDOID, TEXTOID, BYTEAOID, BYTEAOID},
					(Datum[]) {ds_uuid_datum(t.id), ds_uuid_datum(t.consumer_id),
						CStringGetTextDatum(purpose), ds_bytea_datum(msg, len),
					PointerGetDatum(response)},
					(const char[]) {' ', ' ', purpose[0] ? ' ' : 'n', ' ', ' '}, false, 1);
	SPI_finish();

	for (slot = 0; slot < xs.ncontracts; slot++)
		if (memcmp(xs.contracts[slot], t.id, DS_UUID_LEN) == 0)
			break;
	if (slot == MAX_SESSION_CONTRACTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many contracts authenticated in one session")));
	memcpy(xs.contracts[slot], t.id, DS_UUID_LEN);
	strlcpy(xs.purposes[slot], purpose, sizeof(xs.purposes[slot]));
	strlcpy(xs.ended[slot], ended ? ended : "", sizeof(xs.ended[slot]));
	memcpy(xs.answer[slot], msg, len);
	xs.answer_len[slot] = len;
	memcpy(xs.answer_sig[slot], VARDATA_ANY(response), DS_SIG_LEN);
	if (slot == xs.ncontracts)
		xs.ncontracts++;
	PG_RETURN_BOOL(true);
}

/*
 * require_authenticated
 *		Refuse unless this session answered a challenge for the contract,
 *		and, for data, unless the contract was in force then; returns the
 *		session's slot of the contract.
 */
static int
require_authenticated(const uint8 contract[DS_UUID_LEN], bool for_data)
{
	if (same_session())
		for (int i = 0; i < xs.ncontracts; i++)
			if (memcmp(xs.contracts[i], contract, DS_UUID_LEN) == 0)
			{
				if (for_data && xs.ended[i][0] != '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
							 errmsg("export refused"),
							 errdetail("%s; a session may hand in its delivery receipts, and take no data.",
									   xs.ended[i])));
				return i;
			}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("this session has not authenticated for contract %s",
					ds_uuid_text(contract)),
			 errhint("Answer dataspace.export_challenge() with dataspace.export_authenticate() first.")));
}

/*
 * dataspace.exchange_tree_heads(message bytea, signature bytea)
 *		returns table (message bytea, signature bytea, verdict text)
 *		In a session authenticated for a contract: take the consumer's
 *		newest signed tree head of the hub's anchor log (NULL: it has none)
 *		and hand back this node's, so that each can check the other was
 *		shown the same log (src/gossip.c).  verdict says what this node
 *		made of the consumer's head; a head that does not verify is no
 *		error here, only reported, so that it cannot stop the stream.
 */
Datum
dataspace_exchange_tree_heads(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DsContractTerms t;
	const char *why;
	const char *verdict = NULL;
	int64		size;
	bytea	   *msg = NULL;
	bytea	   *sig = NULL;
	bool		have_own;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	MemoryContext outer = CurrentMemoryContext;

	if (!same_session() || xs.ncontracts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("this session has not authenticated for any contract"),
				 errhint("Answer dataspace.export_challenge() with dataspace.export_authenticate() first.")));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	/* every contract of the session has the same consumer: it signed them all */
	why = ds_contract_terms_load(xs.contracts[0], &t);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("export refused"),
				 errdetail("%s", why)));
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
	{
		bytea	   *in_msg = PG_GETARG_BYTEA_PP(0);
		bytea	   *in_sig = PG_GETARG_BYTEA_PP(1);
		const char *reason;
		ds_head_verdict v;

		v = ds_gossip_receive(t.consumer_id, (const uint8 *) VARDATA_ANY(in_msg),
							  VARSIZE_ANY_EXHDR(in_msg), (const uint8 *) VARDATA_ANY(in_sig),
							  VARSIZE_ANY_EXHDR(in_sig), &reason, &size);
		if (v == DS_HEAD_BAD)
			ereport(LOG,
					(errmsg("node %s sent a tree head that is not one of this node's hub: %s",
							ds_uuid_text(t.consumer_id), reason)));
		verdict = psprintf("%s: %s", ds_head_verdict_name(v), reason);
	}
	have_own = ds_gossip_newest(&msg, &sig, &size);
	MemoryContextSwitchTo(outer);
	if (have_own)
	{
		values[0] = PointerGetDatum(DatumGetByteaPCopy(PointerGetDatum(msg)));
		values[1] = PointerGetDatum(DatumGetByteaPCopy(PointerGetDatum(sig)));
	}
	nulls[0] = nulls[1] = !have_own;
	nulls[2] = verdict == NULL;
	if (verdict)
		values[2] = CStringGetTextDatum(verdict);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

/* One seal of the batch being built. */
typedef struct OutSeal
{
	DsSealRow	row;
	StringInfoData entries;		/* empty: nothing delivered */
	int64		delivered;
} OutSeal;

/*
 * build_entries
 *		Read the seal's points in leaf order and write one entry each: the
 *		point if the policy allows it, its blinded leaf hash if not.  If
 *		nothing is allowed, no entries at all.
 */
static void
build_entries(OutSeal *o, const DsContractTerms *t, int64 now_us, MemoryContext cxt)
{
	MemoryContext old;
	ds_hasher  *h = ds_backend_hasher();
	Datum	   *elems = palloc(sizeof(Datum) * Max(o->row.nbatches, 1));
	Oid			types[4] = {UUIDOID, INT8OID, INT8OID, INT8ARRAYOID};
	Datum		args[4];
	uint64		n;

	for (int i = 0; i < o->row.nbatches; i++)
		elems[i] = Int64GetDatum(o->row.batch_ids[i]);
	args[0] = ds_uuid_datum(o->row.s.asset_id);
	args[1] = Int64GetDatum(o->row.s.first_seq);
	args[2] = Int64GetDatum(o->row.s.last_seq);
	args[3] = PointerGetDatum(construct_array(elems, o->row.nbatches, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	ds_spi_exec("SELECT seq, ts, value FROM dataspace.point"
				" WHERE asset_id OPERATOR(pg_catalog.=) $1"
				" AND seq OPERATOR(pg_catalog.>=) $2 AND seq OPERATOR(pg_catalog.<=) $3"
				" AND batch_id OPERATOR(pg_catalog.=) ANY ($4) ORDER BY seq",
				4, types, args, NULL, true, -1);
	n = SPI_processed;
	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&o->entries);
	MemoryContextSwitchTo(old);
	enlargeStringInfo(&o->entries, (int) (n * DS_ENTRY_POINT_LEN));
	o->delivered = 0;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		int64		ts = ds_ts_to_unix_us(DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull)));
		double		value = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
		uint8		nonce[DS_NONCE_LEN];
		uint8		rec[DS_ENTRY_POINT_LEN];

		if (!ds_leaf_nonce(h, o->row.seed, o->row.s.asset_id, seq, nonce))
			elog(ERROR, "could not hash a point");
		if (ds_policy_decide(&t->policy, ts, now_us) == DS_POLICY_ALLOWED)
		{
			rec[0] = DS_ENTRY_POINT;
			ds_put_be64(rec + 1, (uint64) seq);
			ds_put_be64(rec + 9, (uint64) ts);
			ds_put_be64(rec + 17, ds_value_bits(value));
			memcpy(rec + 25, nonce, DS_NONCE_LEN);
			appendBinaryStringInfo(&o->entries, (char *) rec, DS_ENTRY_POINT_LEN);
			o->delivered++;
		}
		else
		{
			rec[0] = DS_ENTRY_WITHHELD;
			if (!ds_leaf_hash(h, o->row.s.asset_id, seq, ts, value, nonce, rec + 1))
				elog(ERROR, "could not hash a point");
			appendBinaryStringInfo(&o->entries, (char *) rec, DS_ENTRY_WITHHELD_LEN);
		}
	}
	if (o->delivered == 0)
		resetStringInfo(&o->entries);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * whole_seal_allowed
 *		Whether the policy lets every point of the seal through.  The
 *		timestamps a policy allows form one interval (a data window, a
 *		maximum age), so the two ends of the seal's time range decide.
 */
static bool
whole_seal_allowed(const OutSeal *o, const DsContractTerms *t, int64 now_us)
{
	return ds_policy_decide(&t->policy, o->row.s.min_ts_us, now_us) == DS_POLICY_ALLOWED &&
		ds_policy_decide(&t->policy, o->row.s.max_ts_us, now_us) == DS_POLICY_ALLOWED;
}

/*
 * dataspace.export_batch(contract, asset, after_chain_pos, max_points,
 *						  max_bytes) returns bytea
 *		The next whole seals of the asset after after_chain_pos, within the
 *		limits (at least one seal when there is one), under the contract's
 *		policy; docs/encoding.md describes the frame.
 */
Datum
dataspace_export_batch(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *contract = PG_GETARG_UUID_P(0);
	pg_uuid_t  *asset = PG_GETARG_UUID_P(1);
	int64		after = PG_GETARG_INT64(2);
	int32		max_points = PG_GETARG_INT32(3);
	int32		max_bytes = PG_GETARG_INT32(4);
	TimestampTz now = GetCurrentTimestamp();
	int64		now_us = ds_ts_to_unix_us(now);
	uint8		me[DS_UUID_LEN];
	DsContractTerms t;
	const char *why;
	OutSeal    *out;
	int			nseals;
	int			nout = 0;
	int64		points = 0;
	int64		bytes = 256;
	int64		volume_left = PG_INT64_MAX;
	int64		last_pos = after;
	int64		rem_seals;
	int64		rem_points;
	int64		oldest_us = 0;
	size_t		cap;
	uint8	   *buf;
	ds_msg		m;
	Oid			types[2] = {UUIDOID, INT8OID};
	Datum		args[2];
	MemoryContext cxt = CurrentMemoryContext;
	const char *purpose;
	int			slot;

	slot = require_authenticated(contract->data, true);
	purpose = xs.purposes[slot];
	max_points = Max(1, Min(max_points, 1000000));
	max_bytes = Max(65536, Min(max_bytes, 256 * 1024 * 1024));

	SPI_connect();
	provider_id(me);
	why = ds_contract_terms_load(contract->data, &t);
	if (why == NULL && memcmp(t.provider_id, me, DS_UUID_LEN) != 0)
		why = psprintf("this node is not the provider of contract %s", ds_uuid_text(contract->data));
	if (why == NULL)
		why = ds_contract_terms_check(&t, asset->data, now_us);
	if (why == NULL)
		why = ds_purpose_refusal(&t.policy, purpose);

	/*
	 * The key that answered must still sign for the consumer: a session
	 * opened with a key the consumer has since replaced or revoked as
	 * compromised takes no more data.
	 */
	if (why == NULL &&
		!ds_party_signed(t.consumer_id, t.consumer_key_id, t.consumer_pk, now_us,
						 xs.answer[slot], xs.answer_len[slot], xs.answer_sig[slot]))
		why = "the key that answered this session's challenge no longer signs for the consumer"
			" (rotated or revoked since); authenticate again";
	if (why == NULL &&
		ds_spi_exec("SELECT 1 FROM dataspace.asset WHERE id OPERATOR(pg_catalog.=) $1"
					" AND node_id OPERATOR(pg_catalog.=) $2 AND kind OPERATOR(pg_catalog.=) 'stream'",
					2, (Oid[]) {UUIDOID, UUIDOID},
					(Datum[]) {UUIDPGetDatum(asset), ds_uuid_datum(me)}, NULL, true, -1) != 1)
		why = psprintf("asset %s is not a stream of this node", ds_uuid_text(asset->data));
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("export refused"),
				 errdetail("%s", why)));

	/*
	 * The volume term: points sent under the contract today (UTC).  The
	 * day's row is locked until this call's transaction ends and read as
	 * last committed, so that neither another session of the consumer nor
	 * an earlier call in the same statement can spend the same volume.
	 */
	if (t.policy.has_max_points_per_day)
	{
		int64		used;

		ds_spi_exec("INSERT INTO dataspace.export_volume AS v (contract_id, day, points)"
					" VALUES ($1, (pg_catalog.now() AT TIME ZONE 'UTC')::date, 0)"
					" ON CONFLICT (contract_id, day) DO UPDATE SET points = v.points"
					" RETURNING points",
					1, types, (Datum[]) {UUIDPGetDatum(contract)}, NULL, false, 1);
		used = ds_spi_get_int64(0, 1);
		volume_left = Max(0, t.policy.max_points_per_day - used);
	}

	args[0] = UUIDPGetDatum(asset);
	args[1] = Int64GetDatum(after);
	nseals = ds_spi_exec(psprintf("SELECT " DS_SEAL_COLUMNS " FROM dataspace.seal"
								  " WHERE asset_id OPERATOR(pg_catalog.=) $1"
								  " AND chain_pos OPERATOR(pg_catalog.>) $2"
								  " ORDER BY chain_pos LIMIT %d", MAX_BATCH_SEALS),
						 2, types, args, NULL, true, -1);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		out = palloc0(sizeof(OutSeal) * Max(nseals, 1));
		for (int i = 0; i < nseals; i++)
			ds_seal_row_read(i, &out[i].row);
		MemoryContextSwitchTo(old);
	}
	for (int i = 0; i < nseals; i++)
	{
		OutSeal    *o = &out[i];
		int64		size;

		if (o->row.s.chain_pos != last_pos + 1)
			break;				/* a gap: the consumer will name it later */

		/*
		 * A seal whose points all go through has a known size: stop before
		 * reading its points if it would not fit.  The checks below decide
		 * the same for it; they are exact for the others too.
		 */
		if (whole_seal_allowed(o, &t, now_us))
		{
			int64		count = o->row.s.point_count;

			if (nout > 0 && (points + count > max_points ||
							 bytes + 512 + count * DS_ENTRY_POINT_LEN > max_bytes))
				break;
			if (count > volume_left)
				break;
		}
		build_entries(o, &t, now_us, cxt);
		size = 512 + o->entries.len;
		if (nout > 0 && (points + o->delivered > max_points || bytes + size > max_bytes))
			break;
		if (o->delivered > volume_left)
			break;
		volume_left -= o->delivered;
		points += o->delivered;
		bytes += size;
		last_pos = o->row.s.chain_pos;
		nout++;
	}

	/* what is left after this batch, for the consumer's lag */
	args[1] = Int64GetDatum(last_pos);
	ds_spi_exec("SELECT pg_catalog.count(*), COALESCE(pg_catalog.sum(point_count), 0)::bigint,"
				" pg_catalog.min(sealed_at) FROM dataspace.seal"
				" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND chain_pos OPERATOR(pg_catalog.>) $2",
				2, types, args, NULL, true, 1);
	rem_seals = ds_spi_get_int64(0, 1);
	rem_points = ds_spi_get_int64(0, 2);
	{
		bool		isnull;
		Datum		d = ds_spi_get(0, 3, &isnull);

		if (!isnull)
			oldest_us = ds_ts_to_unix_us(DatumGetTimestampTz(d));
	}

	if (points > 0 && t.policy.has_max_points_per_day)
		ds_spi_exec("INSERT INTO dataspace.export_volume AS v (contract_id, day, points)"
					" VALUES ($1, (pg_catalog.now() AT TIME ZONE 'UTC')::date, $2)"
					" ON CONFLICT (contract_id, day) DO UPDATE"
					" SET points = v.points OPERATOR(pg_catalog.+) EXCLUDED.points",
					2, types, (Datum[]) {UUIDPGetDatum(contract), Int64GetDatum(points)},
					NULL, false, 1);
	SPI_finish();

	cap = bytes + 64;
	buf = palloc(cap + VARHDRSZ);
	ds_msg_begin(&m, buf + VARHDRSZ, cap, (ds_msg_type) DS_MSG_EXPORT_BATCH);
	ds_msg_bytes(&m, me, DS_UUID_LEN);
	ds_msg_bytes(&m, asset->data, DS_UUID_LEN);
	ds_msg_int64(&m, nout);
	ds_msg_int64(&m, rem_seals);
	ds_msg_int64(&m, rem_points);
	ds_msg_int64(&m, oldest_us);
	for (int i = 0; i < nout; i++)
	{
		OutSeal    *o = &out[i];

		ds_msg_int64(&m, o->row.id);
		ds_msg_int64(&m, o->row.s.chain_pos);
		ds_msg_bytes(&m, o->row.s.node_id, DS_UUID_LEN);
		ds_msg_int64(&m, o->row.s.first_seq);
		ds_msg_int64(&m, o->row.s.last_seq);
		ds_msg_int64(&m, o->row.s.point_count);
		ds_msg_int64(&m, o->row.s.min_ts_us);
		ds_msg_int64(&m, o->row.s.max_ts_us);
		ds_msg_int64(&m, o->row.s.sealed_at_us);
		ds_msg_bytes(&m, o->row.s.root, DS_HASH_LEN);
		ds_msg_bytes(&m, o->row.s.prev_hash, DS_HASH_LEN);
		ds_msg_bytes(&m, o->row.s.key_id, DS_HASH_LEN);
		ds_msg_bytes(&m, o->row.signature, DS_SIG_LEN);
		ds_msg_bytes(&m, o->entries.data, o->entries.len);
	}
	if (!ds_msg_ok(&m))
		elog(ERROR, "export batch larger than computed");
	SET_VARSIZE(buf, m.len + VARHDRSZ);
	PG_RETURN_BYTEA_P((bytea *) buf);
}

/* ---------------------------------------------------------------------
 * Delivery receipts
 * ---------------------------------------------------------------------
 */

/*
 * receipt_decode
 *		Read a delivery receipt (DS_MSG_DELIVERY_RECEIPT); false if the
 *		bytes are not exactly one.
 */
static bool
receipt_decode(const uint8 *buf, size_t len, ds_receipt *rc)
{
	ds_msg_reader r;

	return ds_msg_read_begin(&r, buf, len, DS_MSG_DELIVERY_RECEIPT) &&
		ds_msg_read_fixed(&r, rc->contract, DS_UUID_LEN) &&
		ds_msg_read_fixed(&r, rc->provider, DS_UUID_LEN) &&
		ds_msg_read_fixed(&r, rc->consumer, DS_UUID_LEN) &&
		ds_msg_read_fixed(&r, rc->asset, DS_UUID_LEN) &&
		ds_msg_read_int64(&r, &rc->first_pos) &&
		ds_msg_read_int64(&r, &rc->last_pos) &&
		ds_msg_read_fixed(&r, rc->seals_digest, DS_HASH_LEN) &&
		ds_msg_read_fixed(&r, rc->last_seal_hash, DS_HASH_LEN) &&
		ds_msg_read_int64(&r, &rc->points) &&
		ds_msg_read_int64(&r, &rc->received_at_us) &&
		ds_msg_read_end(&r);
}

/*
 * receipt_check
 *		Check a receipt against its contract and this node's own chain: the
 *		signature under the consumer key the contract pins, or a later key
 *		of the consumer current when the receipt was made (first, so that
 *		nothing of an unsigned message is trusted but the time that picks
 *		the key; bytes that do not decode count as unsigned), the parties,
 *		the asset, and the seals it names, which must be this node's seals
 *		at exactly those chain positions with exactly those hashes.  NULL
 *		if it holds, else the reason.  Runs inside SPI.
 */
static const char *
receipt_check(const uint8 *msg, size_t len, const uint8 *sig, size_t siglen,
			  const DsContractTerms *t, const uint8 me[DS_UUID_LEN], ds_receipt *rc)
{
	bool		asset_ok = false;
	int64		npos;
	int			n;
	int64		sealed_points = 0;
	StringInfoData buf;
	uint8		digest[DS_HASH_LEN];
	uint8		hash[DS_HASH_LEN];

	/* the receipt's time, read before its signature, picks the keys to try */
	if (siglen != DS_SIG_LEN || len > DS_RECEIPT_MAX || !receipt_decode(msg, len, rc) ||
		!ds_party_signed(t->consumer_id, t->consumer_key_id, t->consumer_pk,
						 rc->received_at_us, msg, len, sig))
		return "bad signature";
	if (memcmp(rc->contract, t->id, DS_UUID_LEN) != 0 ||
		memcmp(rc->provider, me, DS_UUID_LEN) != 0 ||
		memcmp(rc->consumer, t->consumer_id, DS_UUID_LEN) != 0)
		return "wrong contract or party";
	for (int i = 0; i < t->nassets && !asset_ok; i++)
		asset_ok = memcmp(t->assets + i * DS_UUID_LEN, rc->asset, DS_UUID_LEN) == 0;
	if (!asset_ok)
		return "asset not under the contract";
	if (rc->first_pos < 1 || rc->last_pos < rc->first_pos ||
		rc->last_pos - rc->first_pos >= 100000 || rc->points < 0)
		return "malformed receipt";

	npos = rc->last_pos - rc->first_pos + 1;
	n = ds_spi_exec("SELECT chain_pos, seal_hash, point_count FROM dataspace.seal"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1"
					" AND node_id OPERATOR(pg_catalog.=) $2"
					" AND chain_pos OPERATOR(pg_catalog.>=) $3"
					" AND chain_pos OPERATOR(pg_catalog.<=) $4 ORDER BY chain_pos",
					4, (Oid[]) {UUIDOID, UUIDOID, INT8OID, INT8OID},
					(Datum[]) {ds_uuid_datum(rc->asset), ds_uuid_datum(me),
					Int64GetDatum(rc->first_pos), Int64GetDatum(rc->last_pos)},
					NULL, true, -1);
	if (n != npos)
		return "seal missing from chain";
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		uint8		rec[8 + DS_HASH_LEN];

		if (ds_spi_get_int64(i, 1) != rc->first_pos + i)
			return "seal missing from chain";
		ds_put_be64(rec, (uint64) (rc->first_pos + i));
		ds_spi_get_bytes(i, 2, rec + 8, DS_HASH_LEN);
		memcpy(hash, rec + 8, DS_HASH_LEN);
		appendBinaryStringInfo(&buf, (char *) rec, sizeof(rec));
		sealed_points += ds_spi_get_int64(i, 3);
	}
	SPI_freetuptable(SPI_tuptable);
	if (!ds_sha256(ds_backend_hasher(), buf.data, buf.len, digest))
		elog(ERROR, "could not hash the seals of a receipt");
	pfree(buf.data);
	if (memcmp(digest, rc->seals_digest, DS_HASH_LEN) != 0 ||
		memcmp(hash, rc->last_seal_hash, DS_HASH_LEN) != 0)
		return "not the seals of this chain";
	if (rc->points > sealed_points)
		return "more points than sealed";
	return NULL;
}

/*
 * dataspace.export_receipt(contract uuid, receipt bytea, signature bytea)
 *		returns boolean
 *		Keep the consumer's countersignature of a batch it committed.  Only
 *		a session that authenticated for the contract may hand one in; the
 *		receipt must verify (receipt_check).  Handing in the same receipt
 *		twice keeps the first: a consumer that crashed after sending sends
 *		again.
 */
Datum
dataspace_export_receipt(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *contract = PG_GETARG_UUID_P(0);
	bytea	   *receipt = PG_GETARG_BYTEA_PP(1);
	bytea	   *signature = PG_GETARG_BYTEA_PP(2);
	uint8		me[DS_UUID_LEN];
	DsContractTerms t;
	ds_receipt	rc;
	const char *why;

	require_authenticated(contract->data, false);
	SPI_connect();
	provider_id(me);
	why = ds_contract_terms_load(contract->data, &t);
	if (why == NULL && memcmp(t.provider_id, me, DS_UUID_LEN) != 0)
		why = psprintf("this node is not the provider of contract %s", ds_uuid_text(contract->data));
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("delivery receipt refused"),
				 errdetail("%s", why)));
	why = receipt_check((const uint8 *) VARDATA_ANY(receipt), VARSIZE_ANY_EXHDR(receipt),
						(const uint8 *) VARDATA_ANY(signature), VARSIZE_ANY_EXHDR(signature),
						&t, me, &rc);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("delivery receipt refused: %s", why),
				 errdetail("A receipt must be signed with the consumer key that contract %s pins and name seals of this node's chain.",
						   ds_uuid_text(contract->data))));
	ds_spi_exec("INSERT INTO dataspace.delivery_receipt (contract_id, consumer_id, asset_id,"
				" first_chain_pos, last_chain_pos, seals_digest, last_seal_hash, points,"
				" received_at, receipt, signature)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
				" ON CONFLICT (contract_id, asset_id, first_chain_pos, last_chain_pos) DO NOTHING",
				11, (Oid[]) {UUIDOID, UUIDOID, UUIDOID, INT8OID, INT8OID, BYTEAOID, BYTEAOID,
				INT8OID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID},
				(Datum[]) {ds_uuid_datum(rc.contract), ds_uuid_datum(rc.consumer),
					ds_uuid_datum(rc.asset), Int64GetDatum(rc.first_pos),
					Int64GetDatum(rc.last_pos), ds_bytea_datum(rc.seals_digest, DS_HASH_LEN),
					ds_bytea_datum(rc.last_seal_hash, DS_HASH_LEN), Int64GetDatum(rc.points),
					TimestampTzGetDatum(ds_unix_us_to_ts(rc.received_at_us)),
					PointerGetDatum(receipt), PointerGetDatum(signature)},
				NULL, false, -1);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * dataspace.verify_receipts(contract uuid) returns table (receipt_id,
 *		asset_id, first_chain_pos, last_chain_pos, points, received_at, ok,
 *		reason)
 *		Check every kept receipt of the contract again: its signature under
 *		the consumer key the contract pins, the stored columns against the
 *		signed bytes, and its seals against this node's chain as it is now.
 */
Datum
dataspace_verify_receipts(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *contract = PG_GETARG_UUID_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint8		me[DS_UUID_LEN];
	DsContractTerms t;
	const char *why;
	SPITupleTable *rows;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	provider_id(me);
	why = ds_contract_terms_load(contract->data, &t);
	if (why == NULL && memcmp(t.provider_id, me, DS_UUID_LEN) != 0)
		why = psprintf("this node is not the provider of contract %s", ds_uuid_text(contract->data));
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot verify the receipts of contract %s", ds_uuid_text(contract->data)),
				 errdetail("%s", why)));
	n = ds_spi_exec("SELECT id, receipt, signature, asset_id, first_chain_pos, last_chain_pos,"
					" points, received_at, seals_digest, consumer_id, last_seal_hash"
					" FROM dataspace.delivery_receipt"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1 ORDER BY id",
					1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(contract)}, NULL, true, -1);
	rows = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = rows->vals[i];
		TupleDesc	desc = rows->tupdesc;
		bool		isnull;
		bytea	   *msg = DatumGetByteaPP(SPI_getbinval(tup, desc, 2, &isnull));
		bytea	   *sig = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));
		Datum		asset = SPI_getbinval(tup, desc, 4, &isnull);
		int64		first = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		int64		last = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
		int64		points = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 8, &isnull));
		bytea	   *digest = DatumGetByteaPP(SPI_getbinval(tup, desc, 9, &isnull));
		pg_uuid_t  *consumer = DatumGetUUIDP(SPI_getbinval(tup, desc, 10, &isnull));
		bytea	   *lasthash = DatumGetByteaPP(SPI_getbinval(tup, desc, 11, &isnull));
		ds_receipt	rc;
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, false, false, false, false};

		why = receipt_check((const uint8 *) VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg),
							(const uint8 *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig),
							&t, me, &rc);
		if (why == NULL &&
			(memcmp(rc.asset, DatumGetUUIDP(asset)->data, DS_UUID_LEN) != 0 ||
			 memcmp(rc.consumer, consumer->data, DS_UUID_LEN) != 0 ||
			 rc.first_pos != first || rc.last_pos != last || rc.points != points ||
			 ds_unix_us_to_ts(rc.received_at_us) != at ||
			 VARSIZE_ANY_EXHDR(digest) != DS_HASH_LEN ||
			 memcmp(VARDATA_ANY(digest), rc.seals_digest, DS_HASH_LEN) != 0 ||
			 VARSIZE_ANY_EXHDR(lasthash) != DS_HASH_LEN ||
			 memcmp(VARDATA_ANY(lasthash), rc.last_seal_hash, DS_HASH_LEN) != 0))
			why = "row differs from the signed receipt";
		values[0] = SPI_getbinval(tup, desc, 1, &isnull);
		values[1] = asset;
		values[2] = Int64GetDatum(first);
		values[3] = Int64GetDatum(last);
		values[4] = Int64GetDatum(points);
		values[5] = TimestampTzGetDatum(at);
		values[6] = BoolGetDatum(why == NULL);
		if (why)
			values[7] = CStringGetTextDatum(why);
		else
			nulls[7] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
