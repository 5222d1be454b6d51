/*-------------------------------------------------------------------------
 *
 * gossip.c
 *		Signed tree heads of the hub's anchor log, exchanged between nodes,
 *		so that a hub showing different nodes different logs (a split
 *		view) is caught (docs/witness.md).
 *
 * Each node only accepts heads from the hub that extend what it saw, so a
 * hub can fork its log only by showing different nodes different
 * branches.  Nodes that talk to each other anyway (every replication
 * connection) hand each other their newest signed head; a head of
 * another node is kept in dataspace.peer_tree_head and decided:
 *
 *	- same size as a cached head: the roots must be equal.  Two heads of
 *	  the same size with different roots, both signed by the hub, are
 *	  proof that it equivocated;
 *	- another size: the hub-sync worker asks the hub for a consistency
 *	  proof between that head and this node's newest (the hub cannot make
 *	  one for two branches of a fork) and settles the head with
 *	  ds_gossip_settle().
 *
 * A head that is not consistent goes into dataspace.witness_fork with the
 * peer that showed it, and from then on verify_anchor() reports "log
 * forked" on this node.  dataspace.check_tree_head() takes a head given
 * by hand (from an auditor, another operator) the same way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "anchor.h"
#include "gossip.h"
#include "pg_dataspace.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_check_tree_head);

const char *
ds_head_verdict_name(ds_head_verdict v)
{
	switch (v)
	{
		case DS_HEAD_CONSISTENT:
			return "consistent";
		case DS_HEAD_FORKED:
			return "forked";
		case DS_HEAD_PENDING:
			return "pending";
		case DS_HEAD_BAD:
			break;
	}
	return "bad";
}

/*
 * ds_witness_record_fork
 *		See gossip.h.
 */
void
ds_witness_record_fork(int64 cached_size, const uint8 *cached_root, const ds_tree_head *seen,
					   const uint8 *msg, size_t msglen, const uint8 *sig, const char *reason,
					   const uint8 *peer)
{
	Oid			types[8] = {INT8OID, BYTEAOID, INT8OID, BYTEAOID, BYTEAOID, BYTEAOID, TEXTOID,
	UUIDOID};
	Datum		args[8];
	char		nulls[8] = {' ', cached_root ? ' ' : 'n', ' ', ' ', ' ', ' ', ' ', peer ? ' ' : 'n'};

	args[0] = Int64GetDatum(cached_size);
	args[1] = cached_root ? ds_bytea_datum(cached_root, DS_HASH_LEN) : (Datum) 0;
	args[2] = Int64GetDatum(seen->tree_size);
	args[3] = ds_bytea_datum(seen->root, DS_HASH_LEN);
	args[4] = ds_bytea_datum(msg, msglen);
	args[5] = ds_bytea_datum(sig, DS_SIG_LEN);
	args[6] = CStringGetTextDatum(reason);
	args[7] = peer ? ds_uuid_datum(peer) : (Datum) 0;
	/* the same evidence once, not once a round */
	if (ds_spi_exec("SELECT 1 FROM dataspace.witness_fork WHERE cached_size OPERATOR(pg_catalog.=) $1"
					" AND seen_size OPERATOR(pg_catalog.=) $3 AND seen_root OPERATOR(pg_catalog.=) $4",
					4, types, args, NULL, true, -1) > 0)
		return;
	ds_spi_exec("INSERT INTO dataspace.witness_fork (cached_size, cached_root, seen_size,"
				" seen_root, seen_message, seen_signature, reason, peer_id)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, types, args, nulls, false, 1);
	if (peer)
		ereport(WARNING,
				(errmsg("the hub showed node %s an anchor log that is not the one it shows this node: %s",
						ds_uuid_text(peer), reason),
				 errdetail("This node's tree size " INT64_FORMAT ", the other node's " INT64_FORMAT ".",
						   cached_size, seen->tree_size),
				 errhint("Both signed tree heads are kept as evidence in dataspace.witness_fork and dataspace.peer_tree_head.")));
	else
		ereport(WARNING,
				(errmsg("the hub's anchor log is not consistent with what this node saw before: %s",
						reason),
				 errdetail("Cached tree size " INT64_FORMAT ", the hub now shows size " INT64_FORMAT ".",
						   cached_size, seen->tree_size),
				 errhint("The tree head is kept as evidence in dataspace.witness_fork.")));
}

/* Store the decision on a kept peer head. */
static void
set_verdict(int64 id, int64 against, bool consistent, const char *reason)
{
	ds_spi_exec("UPDATE dataspace.peer_tree_head SET consistent = $2, checked_against = $3,"
				" checked_at = pg_catalog.now(), reason = $4 WHERE id OPERATOR(pg_catalog.=) $1",
				4, (Oid[]) {INT8OID, BOOLOID, INT8OID, TEXTOID},
				(Datum[]) {Int64GetDatum(id), BoolGetDatum(consistent), Int64GetDatum(against),
				CStringGetTextDatum(reason)}, NULL, false, 1);
}

/*
 * ds_gossip_receive
 *		See gossip.h.
 */
ds_head_verdict
ds_gossip_receive(const uint8 *peer, const uint8 *msg, size_t msglen, const uint8 *sig,
				  size_t siglen, const char **reason, int64 *size)
{
	uint8		hubkey[DS_PUBKEY_LEN];
	ds_tree_head th;
	bool		isnull;
	int64		id;
	uint8		cached_root[DS_HASH_LEN];
	uint8		hub_id[DS_UUID_LEN];
	Datum		d;

	*size = 0;
	if (!ds_witness_hub_key(hubkey))
	{
		*reason = "this node pins no hub key (dataspace.hub_public_key)";
		return DS_HEAD_BAD;
	}
	if (siglen != DS_SIG_LEN || !ds_tree_head_decode(msg, msglen, &th))
	{
		*reason = "not a signed tree head";
		return DS_HEAD_BAD;
	}
	if (!ds_ed25519_verify(hubkey, msg, msglen, sig))
	{
		*reason = "its signature does not verify under the pinned hub key";
		return DS_HEAD_BAD;
	}
	*size = th.tree_size;
	if (th.tree_size < 1)
	{
		*reason = "an empty log has no tree head";
		return DS_HEAD_BAD;
	}
	if (ds_spi_exec("SELECT hub_id FROM dataspace.hub_tree_head ORDER BY tree_size DESC LIMIT 1",
					0, NULL, NULL, NULL, true, -1) == 1)
	{
		ds_spi_get_uuid(0, 1, hub_id);
		if (memcmp(hub_id, th.hub_id, DS_UUID_LEN) != 0)
		{
			*reason = "it names another hub than this node's";
			return DS_HEAD_BAD;
		}
	}

	/*
	 * Kept once per head; a head decided before keeps its verdict.
	 * received_at is the clock when the head was kept, not the start of
	 * the transaction: the hub-sync round compares it with the time it
	 * fetched the hub's newest head (check_peer_heads).
	 */
	ds_spi_exec("INSERT INTO dataspace.peer_tree_head (peer_id, tree_size, root_hash, signed_at,"
				" message, signature, received_at) VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.clock_timestamp())"
				" ON CONFLICT (tree_size, root_hash) DO NOTHING",
				6, (Oid[]) {UUIDOID, INT8OID, BYTEAOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID},
				(Datum[]) {peer ? ds_uuid_datum(peer) : (Datum) 0, Int64GetDatum(th.tree_size),
					ds_bytea_datum(th.root, DS_HASH_LEN),
					TimestampTzGetDatum(ds_unix_us_to_ts(th.signed_at_us)),
				ds_bytea_datum(msg, msglen), ds_bytea_datum(sig, DS_SIG_LEN)},
				(const char[]) {peer ? ' ' : 'n', ' ', ' ', ' ', ' ', ' '}, false, -1);
	ds_spi_exec("SELECT id, consistent, reason FROM dataspace.peer_tree_head"
				" WHERE tree_size OPERATOR(pg_catalog.=) $1 AND root_hash OPERATOR(pg_catalog.=) $2",
				2, (Oid[]) {INT8OID, BYTEAOID},
				(Datum[]) {Int64GetDatum(th.tree_size), ds_bytea_datum(th.root, DS_HASH_LEN)},
				NULL, false, 1);
	id = ds_spi_get_int64(0, 1);
	d = ds_spi_get(0, 2, &isnull);
	if (!isnull)
	{
		bool		consistent = DatumGetBool(d);

		d = ds_spi_get(0, 3, &isnull);
		*reason = isnull ? "decided before" : TextDatumGetCString(d);
		return consistent ? DS_HEAD_CONSISTENT : DS_HEAD_FORKED;
	}

	/* a cached head of the same size decides it at once */
	if (ds_spi_exec("SELECT root_hash FROM dataspace.hub_tree_head WHERE tree_size OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(th.tree_size)},
					NULL, true, -1) == 1)
	{
		ds_spi_get_bytes(0, 1, cached_root, DS_HASH_LEN);
		if (memcmp(cached_root, th.root, DS_HASH_LEN) == 0)
		{
			*reason = "the same root as the cached head of this size";
			set_verdict(id, th.tree_size, true, *reason);
			return DS_HEAD_CONSISTENT;
		}
		*reason = "the hub signed two roots for the same tree size";
		set_verdict(id, th.tree_size, false, *reason);
		ds_witness_record_fork(th.tree_size, cached_root, &th, msg, msglen, sig, *reason, peer);
		return DS_HEAD_FORKED;
	}
	*reason = "waiting for a consistency proof from the hub (next hub-sync round)";
	return DS_HEAD_PENDING;
}

/*
 * ds_gossip_newest
 *		See gossip.h.
 */
bool
ds_gossip_newest(bytea **msg, bytea **sig, int64 *size)
{
	bool		isnull;

	if (ds_spi_exec("SELECT tree_size, message, signature FROM dataspace.hub_tree_head"
					" ORDER BY tree_size DESC LIMIT 1", 0, NULL, NULL, NULL, true, -1) != 1)
		return false;
	*size = ds_spi_get_int64(0, 1);
	*msg = DatumGetByteaPCopy(ds_spi_get(0, 2, &isnull));
	*sig = DatumGetByteaPCopy(ds_spi_get(0, 3, &isnull));
	return true;
}

/*
 * ds_gossip_pending
 *		The oldest undecided peer heads, at most max, in the caller's
 *		memory context.
 */
int
ds_gossip_pending(DsPeerHead **out, int max)
{
	int			n;
	bool		isnull;

	n = ds_spi_exec("SELECT id, tree_size, root_hash, received_at FROM dataspace.peer_tree_head"
					" WHERE consistent IS NULL ORDER BY id LIMIT $1",
					1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(max)}, NULL, true, -1);
	*out = palloc0(sizeof(DsPeerHead) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		(*out)[i].id = ds_spi_get_int64(i, 1);
		(*out)[i].size = ds_spi_get_int64(i, 2);
		ds_spi_get_bytes(i, 3, (*out)[i].root, DS_HASH_LEN);
		(*out)[i].received_at = DatumGetTimestampTz(ds_spi_get(i, 4, &isnull));
	}
	return n;
}

/*
 * ds_gossip_settle
 *		See gossip.h.
 */
void
ds_gossip_settle(const DsPeerHead *h, int64 against_size, const uint8 *against_root,
				 bool consistent, const char *reason)
{
	bool		isnull;
	bytea	   *msg;
	bytea	   *sig;
	uint8		peer[DS_UUID_LEN];
	bool		has_peer;
	ds_tree_head th;

	set_verdict(h->id, against_size, consistent, reason);
	if (consistent)
		return;
	ds_spi_exec("SELECT message, signature, peer_id FROM dataspace.peer_tree_head"
				" WHERE id OPERATOR(pg_catalog.=) $1", 1, (Oid[]) {INT8OID},
				(Datum[]) {Int64GetDatum(h->id)}, NULL, true, 1);
	msg = DatumGetByteaPCopy(ds_spi_get(0, 1, &isnull));
	sig = DatumGetByteaPCopy(ds_spi_get(0, 2, &isnull));
	(void) ds_spi_get(0, 3, &has_peer);
	has_peer = !has_peer;
	if (has_peer)
		ds_spi_get_uuid(0, 3, peer);
	if (!ds_tree_head_decode((const uint8 *) VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg), &th) ||
		VARSIZE_ANY_EXHDR(sig) != DS_SIG_LEN)
		elog(ERROR, "a kept peer tree head does not decode");
	ds_witness_record_fork(against_size, against_root, &th, (const uint8 *) VARDATA_ANY(msg),
						   VARSIZE_ANY_EXHDR(msg), (const uint8 *) VARDATA_ANY(sig), reason,
						   has_peer ? peer : NULL);
}

/*
 * dataspace.check_tree_head(message bytea, signature bytea)
 *		returns table (tree_size bigint, consistent boolean, reason text)
 *		A tree head from elsewhere (another operator, an auditor), taken as
 *		a peer's: consistent true or false if the cached heads decide it,
 *		NULL while it waits for the next hub-sync round's consistency proof
 *		(call again to see the verdict).  An invalid head is an error.
 */
Datum
dataspace_check_tree_head(PG_FUNCTION_ARGS)
{
	bytea	   *msg = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig = PG_GETARG_BYTEA_PP(1);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	const char *reason;
	int64		size;
	ds_head_verdict v;
	MemoryContext outer = CurrentMemoryContext;

	if (dataspace_mode != DATASPACE_MODE_NODE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tree heads are checked on a node"),
				 errdetail("This server runs with dataspace.mode = 'hub'.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	SPI_connect();
	v = ds_gossip_receive(NULL, (const uint8 *) VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg),
						  (const uint8 *) VARDATA_ANY(sig), VARSIZE_ANY_EXHDR(sig),
						  &reason, &size);
	if (v == DS_HEAD_BAD)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not a tree head of this node's hub"),
				 errdetail("The head is refused: %s.", reason)));
	reason = MemoryContextStrdup(outer, reason);
	SPI_finish();
	values[0] = Int64GetDatum(size);
	values[1] = BoolGetDatum(v == DS_HEAD_CONSISTENT);
	nulls[1] = v == DS_HEAD_PENDING;
	values[2] = CStringGetTextDatum(reason);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
