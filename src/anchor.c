/*-------------------------------------------------------------------------
 *
 * anchor.c
 *		The digest witness (docs/witness.md): on the hub, the append-only
 *		Merkle log of anchors, its signed tree heads and proofs; on a node,
 *		dataspace.verify_anchor().
 *
 * A node sends the head of each of its chains (a public asset's seal
 * chain, its audit log) as an anchor inside a signed submission.  The hub
 * appends the anchor's bytes as the next leaf of one RFC 6962 tree and
 * signs the new tree head.  The node keeps the signed heads it saw, each
 * checked to be consistent with the one before, and an inclusion proof of
 * each of its anchors; verify_anchor then needs no network: the anchored
 * seal must still be in the local chain with the anchored hash, the chain
 * from it to the head must verify, the anchor must be in a signed tree
 * head, and the heads must be consistent.
 *
 * A consumer caches the anchors its providers sent for the assets it
 * receives (dataspace.received_anchor, fetched by the hub-sync worker with
 * their inclusion proofs), and verify_anchor checks a received asset the
 * same way against the received seals: a provider that rewrote anchored
 * history and delivered the rewritten seals is contradicted by its own
 * anchor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "anchor.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "sealstore.h"
#include "util.h"
#include "witness.h"

PG_FUNCTION_INFO_V1(dataspace_hub_inclusion_proof);
PG_FUNCTION_INFO_V1(dataspace_hub_consistency_proof);
PG_FUNCTION_INFO_V1(dataspace_verify_anchor);

/* advisory lock (schema oid, WITNESS_LOCK_KEY): one appender at a time */
#define WITNESS_LOCK_KEY 0x77746e73

/* The fixed list of reasons of verify_anchor (docs/witness.md). */
#define WR_OK				"ok"
#define WR_PENDING			"not yet in the signed log"
#define WR_SEAL_MISSING		"anchored seal missing"
#define WR_SEAL_DIFFERS		"anchored seal hash differs"
#define WR_ENTRY_MISSING	"anchored entry missing"
#define WR_ENTRY_DIFFERS	"anchored entry differs"
#define WR_CHAIN_BROKEN		"chain broken after anchor"
#define WR_NOT_IN_LOG		"not in the signed log"
#define WR_HEAD_SIG_BAD		"tree head signature bad"
#define WR_FORKED			"log forked"
#define WR_NOT_RECEIVED		"not yet received"

/* ---------------------------------------------------------------------
 * Hub: the anchor log
 * ---------------------------------------------------------------------
 */

static void
require_hub(const char *what)
{
	if (dataspace_mode != DATASPACE_MODE_HUB)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is a hub function", what),
				 errdetail("This server runs with dataspace.mode = 'node'.")));
}

/*
 * The anchor log's stored hashes through SPI (ds_log_nodes, witness.h):
 * level 0 is witness_leaf.leaf_hash, the levels above witness_node.  The
 * appender reads with a fresh snapshot, since it counted the leaves with
 * one after taking the witness lock.
 */
typedef struct LogStore
{
	SPIPlanPtr	get_leaf;
	SPIPlanPtr	get_node;
	SPIPlanPtr	put_node;
	bool		latest;
} LogStore;

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

static bool
store_get(void *arg, int level, uint64 index, uint8 out[DS_HASH_LEN])
{
	LogStore   *st = arg;
	Datum		args[2] = {Int64GetDatum((int64) index), Int16GetDatum((int16) level)};
	SPIPlanPtr	plan = level == 0 ? st->get_leaf : st->get_node;
	int			rc;

	if (st->latest)
		rc = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
								  true, false, 1);
	else
		rc = SPI_execute_plan(plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the anchor log has no node at level %d, index " UINT64_FORMAT,
						level, index)));
	ds_spi_get_bytes(0, 1, out, DS_HASH_LEN);
	return true;
}

static bool
store_put(void *arg, int level, uint64 index, const uint8 hash[DS_HASH_LEN])
{
	LogStore   *st = arg;
	Datum		args[3] = {Int16GetDatum((int16) level), Int64GetDatum((int64) index),
	ds_bytea_datum(hash, DS_HASH_LEN)};
	int			rc = SPI_execute_plan(st->put_node, args, NULL, false, 0);

	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	return true;
}

/* The log's nodes, inside SPI; latest for the appender. */
static ds_log_nodes
log_nodes(LogStore *st, bool latest)
{
	ds_log_nodes nodes = {ds_backend_hasher(), store_get, store_put, st};

	st->latest = latest;
	st->get_leaf = prepare("SELECT leaf_hash FROM dataspace.witness_leaf"
						   " WHERE leaf_index OPERATOR(pg_catalog.=) $1", 1, (Oid[]) {INT8OID});
	st->get_node = prepare("SELECT hash FROM dataspace.witness_node"
						   " WHERE level OPERATOR(pg_catalog.=) $2 AND node_index OPERATOR(pg_catalog.=) $1",
						   2, (Oid[]) {INT8OID, INT2OID});
	st->put_node = prepare("INSERT INTO dataspace.witness_node (level, node_index, hash)"
						   " VALUES ($1, $2, $3)", 3, (Oid[]) {INT2OID, INT8OID, BYTEAOID});
	return nodes;
}

/*
 * ds_witness_apply_anchor
 *		See anchor.h.  The log is append-only and one appender at a time
 *		holds the witness lock; its size is read with a fresh snapshot
 *		for the reason the audit log's head is (audit.c).
 */
char *
ds_witness_apply_anchor(const ds_submission *s, const char *payload)
{
	ds_anchor	a;
	char	   *hex;
	uint8		anchor[DS_ANCHOR_MSG_MAX];
	size_t		len;
	uint8		leaf[DS_HASH_LEN];
	LOCKTAG		tag;
	SPIPlanPtr	plan;
	int			rc;
	int64		size;
	LogStore	store;
	ds_log_nodes nodes;
	ds_tree_head th;
	uint8		msg[DS_TREE_HEAD_MSG_MAX];
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	DsSigner   *signer;
	bool		isnull;
	Datum		d;

	ds_spi_exec("SELECT $1::jsonb OPERATOR(pg_catalog.->>) 'anchor'", 1, (Oid[]) {TEXTOID},
				(Datum[]) {CStringGetTextDatum(payload)}, NULL, true, 1);
	d = ds_spi_get(0, 1, &isnull);
	if (isnull)
		return "anchor payload lacks \"anchor\"";
	hex = TextDatumGetCString(d);
	len = strlen(hex) / 2;
	if (strlen(hex) % 2 != 0 || len > DS_ANCHOR_MSG_MAX ||
		!ds_hex_decode(hex, strlen(hex), anchor, len) ||
		!ds_anchor_decode(anchor, len, &a))
		return "malformed anchor";
	if (memcmp(a.node_id, s->node_id, DS_UUID_LEN) != 0)
		return "anchor is made out for another participant";
	if (strcmp(a.subject_kind, DS_ANCHOR_AUDIT_LOG) == 0 &&
		memcmp(a.subject_id, a.node_id, DS_UUID_LEN) != 0)
		return "an audit-log anchor must name the participant itself";
	if (!ds_log_leaf_hash(ds_backend_hasher(), anchor, len, leaf))
		elog(ERROR, "could not hash an anchor");

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ds_schema_oid(), WITNESS_LOCK_KEY, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	CommandCounterIncrement();
	plan = prepare("SELECT COALESCE(pg_catalog.max(leaf_index) OPERATOR(pg_catalog.+) 1, 0)"
				   " FROM dataspace.witness_leaf", 0, NULL);
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
	size = ds_spi_get_int64(0, 1);

	{
		Oid			types[8] = {INT8OID, UUIDOID, TEXTOID, UUIDOID, INT8OID, BYTEAOID,
		BYTEAOID, BYTEAOID};
		Datum		args[8];

		args[0] = Int64GetDatum(size);
		args[1] = ds_uuid_datum(a.node_id);
		args[2] = CStringGetTextDatum(a.subject_kind);
		args[3] = ds_uuid_datum(a.subject_id);
		args[4] = Int64GetDatum(a.head_pos);
		args[5] = ds_bytea_datum(a.head_hash, DS_HASH_LEN);
		args[6] = ds_bytea_datum(anchor, len);
		args[7] = ds_bytea_datum(leaf, DS_HASH_LEN);
		ds_spi_exec("INSERT INTO dataspace.witness_leaf (leaf_index, node_id, subject_kind,"
					" subject_id, head_pos, head_hash, anchor, leaf_hash)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, types, args, NULL, false, 1);
	}
	nodes = log_nodes(&store, true);
	if (!ds_log_nodes_append(&nodes, (uint64) size, leaf))
		elog(ERROR, "could not store the anchor log's nodes");
	size++;
	CommandCounterIncrement();

	/* the new tree head, signed */
	signer = ds_signer_load();
	memset(&th, 0, sizeof(th));
	memcpy(th.hub_id, signer->node_id, DS_UUID_LEN);
	th.tree_size = size;
	th.signed_at_us = ds_ts_to_unix_us(GetCurrentTimestamp());
	if (!ds_log_nodes_subtree(&nodes, 0, (uint64) size, th.root))
		elog(ERROR, "could not compute the anchor log's root");
	msglen = ds_tree_head_message(&th, msg, sizeof(msg));
	if (msglen == 0 || !ds_signer_sign(signer, msg, msglen, sig))
		elog(ERROR, "could not sign a tree head");
	ds_spi_exec("INSERT INTO dataspace.witness_tree_head (tree_size, root_hash, signed_at,"
				" message, signature) VALUES ($1, $2, $3, $4, $5)",
				5, (Oid[]) {INT8OID, BYTEAOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID},
				(Datum[]) {Int64GetDatum(size), ds_bytea_datum(th.root, DS_HASH_LEN),
					TimestampTzGetDatum(ds_unix_us_to_ts(th.signed_at_us)),
					ds_bytea_datum(msg, msglen), ds_bytea_datum(sig, DS_SIG_LEN)},
				NULL, false, 1);
	return NULL;
}

/* Proofs are of sizes the hub signed a tree head for. */
static void
require_tree_head(int64 size)
{
	ds_spi_exec("SELECT 1 FROM dataspace.witness_tree_head WHERE tree_size OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(size)}, NULL, true, -1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the hub signed no tree head of size " INT64_FORMAT, size)));
}

/* An approved participant, or a local role of the hub. */
static void
require_reader(void)
{
	bool		isnull;

	if (superuser_arg(GetSessionUserId()))
		return;
	ds_spi_exec("SELECT dataspace.hub_session_participant() IS NOT NULL"
				" OR NOT pg_catalog.pg_has_role(SESSION_USER, 'dataspace_participant', 'MEMBER')",
				0, NULL, NULL, NULL, true, 1);
	if (!ds_spi_getbool(0, 1, &isnull))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only approved participants may read proofs of the anchor log")));
}

static Datum
hashes_datum(const uint8 (*hashes)[DS_HASH_LEN], int n)
{
	return ds_bytea_datum((const uint8 *) hashes, (size_t) n * DS_HASH_LEN);
}

/*
 * dataspace.hub_inclusion_proof(leaf_index, tree_size) returns bytea
 *		The audit path of one leaf in the tree of tree_size leaves.
 */
Datum
dataspace_hub_inclusion_proof(PG_FUNCTION_ARGS)
{
	int64		index = PG_GETARG_INT64(0);
	int64		size = PG_GETARG_INT64(1);
	LogStore	store;
	ds_log_nodes nodes;
	uint8		path[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
	int			len;
	Datum		result;
	MemoryContext outer = CurrentMemoryContext;

	require_hub("dataspace.hub_inclusion_proof()");
	if (index < 0 || size < 1 || index >= size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("leaf " INT64_FORMAT " is not in a tree of " INT64_FORMAT " leaves",
						index, size)));
	SPI_connect();
	require_reader();
	require_tree_head(size);
	nodes = log_nodes(&store, false);
	if (!ds_merkle_path_from(ds_log_nodes_subtree, &nodes, (uint64) size, (uint64) index,
							 path, &len))
		elog(ERROR, "could not compute an inclusion proof");
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		result = hashes_datum((const uint8 (*)[DS_HASH_LEN]) path, len);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * dataspace.hub_consistency_proof(old_size, new_size) returns bytea
 *		RFC 6962 PROOF(old_size, D[new_size]).
 */
Datum
dataspace_hub_consistency_proof(PG_FUNCTION_ARGS)
{
	int64		old_size = PG_GETARG_INT64(0);
	int64		new_size = PG_GETARG_INT64(1);
	LogStore	store;
	ds_log_nodes nodes;
	uint8		proof[DS_CONSISTENCY_MAX][DS_HASH_LEN];
	int			len;
	Datum		result;
	MemoryContext outer = CurrentMemoryContext;

	require_hub("dataspace.hub_consistency_proof()");
	if (old_size < 1 || old_size > new_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no consistency proof from size " INT64_FORMAT " to " INT64_FORMAT,
						old_size, new_size)));
	SPI_connect();
	require_reader();
	require_tree_head(old_size);
	require_tree_head(new_size);
	nodes = log_nodes(&store, false);
	if (!ds_merkle_consistency_from(ds_log_nodes_subtree, &nodes, (uint64) old_size,
									(uint64) new_size, proof, &len))
		elog(ERROR, "could not compute a consistency proof");
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);

		result = hashes_datum((const uint8 (*)[DS_HASH_LEN]) proof, len);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/* ---------------------------------------------------------------------
 * Node: verify_anchor
 * ---------------------------------------------------------------------
 */

/*
 * ds_witness_hub_key
 *		See anchor.h.
 */
bool
ds_witness_hub_key(uint8 key[DS_PUBKEY_LEN])
{
	return dataspace_hub_public_key != NULL &&
		strlen(dataspace_hub_public_key) == 2 * DS_PUBKEY_LEN &&
		ds_hex_decode(dataspace_hub_public_key, 2 * DS_PUBKEY_LEN, key, DS_PUBKEY_LEN);
}

/* A cached tree head. */
typedef struct CachedHead
{
	int64		size;
	uint8		root[DS_HASH_LEN];
	bool		sig_ok;
	bool		consistent;		/* with the head before it */
} CachedHead;

/*
 * check_cached_heads
 *		Re-check every cached tree head: its signature under the pinned
 *		hub key, its message against its columns, and the consistency
 *		proof from its predecessor.  Sets *sig_bad and *forked; returns
 *		the heads, by size, in *heads.
 */
static int
check_cached_heads(CachedHead **heads, bool *sig_bad, bool *forked)
{
	ds_hasher  *h = ds_backend_hasher();
	uint8		hubkey[DS_PUBKEY_LEN];
	bool		have_key = ds_witness_hub_key(hubkey);
	int			n;
	CachedHead *hs;
	bool		isnull;

	*sig_bad = false;
	*forked = false;
	n = ds_spi_exec("SELECT tree_size, root_hash, message, signature, prev_size,"
					" consistency_proof, hub_id FROM dataspace.hub_tree_head ORDER BY tree_size",
					0, NULL, NULL, NULL, true, -1);
	hs = palloc0(sizeof(CachedHead) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		CachedHead *c = &hs[i];
		bytea	   *msg = DatumGetByteaPP(ds_spi_get(i, 3, &isnull));
		bytea	   *sig = DatumGetByteaPP(ds_spi_get(i, 4, &isnull));
		ds_tree_head th;
		Datum		d;

		c->size = ds_spi_get_int64(i, 1);
		ds_spi_get_bytes(i, 2, c->root, DS_HASH_LEN);
		c->sig_ok = have_key && VARSIZE_ANY_EXHDR(sig) == DS_SIG_LEN &&
			ds_ed25519_verify(hubkey, (const uint8 *) VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg),
							  (const uint8 *) VARDATA_ANY(sig)) &&
			ds_tree_head_decode((const uint8 *) VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg), &th) &&
			th.tree_size == c->size && memcmp(th.root, c->root, DS_HASH_LEN) == 0;
		if (!c->sig_ok)
			*sig_bad = true;
		c->consistent = true;
		if (i > 0)
		{
			bytea	   *proof;
			int64		prev = -1;

			d = ds_spi_get(i, 5, &isnull);
			if (!isnull)
				prev = DatumGetInt64(d);
			d = ds_spi_get(i, 6, &isnull);
			if (isnull || prev != hs[i - 1].size)
				c->consistent = false;
			else
			{
				proof = DatumGetByteaPP(d);
				c->consistent = VARSIZE_ANY_EXHDR(proof) % DS_HASH_LEN == 0 &&
					ds_merkle_verify_consistency(h, (uint64) prev, (uint64) c->size,
												 hs[i - 1].root, c->root,
												 (const uint8 (*)[DS_HASH_LEN]) VARDATA_ANY(proof),
												 (int) (VARSIZE_ANY_EXHDR(proof) / DS_HASH_LEN));
			}
			if (!c->consistent)
				*forked = true;
		}
	}
	if (ds_spi_exec("SELECT 1 FROM dataspace.witness_fork LIMIT 1", 0, NULL, NULL, NULL,
					true, -1) > 0)
		*forked = true;
	*heads = hs;
	return n;
}

/* Local evidence for one anchored seal: NULL if it holds, else why. */
static const char *
check_anchored_seal(const pg_uuid_t *asset, int64 pos, const uint8 hash[DS_HASH_LEN])
{
	DsSealRow	row;
	uint8		now_hash[DS_HASH_LEN];
	bool		isnull;

	if (ds_spi_exec("SELECT " DS_SEAL_COLUMNS " FROM dataspace.seal"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND chain_pos OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {UUIDOID, INT8OID},
					(Datum[]) {UUIDPGetDatum(asset), Int64GetDatum(pos)},
					NULL, true, -1) != 1)
		return WR_SEAL_MISSING;
	ds_seal_row_read(0, &row);
	/* recomputed from the stored fields: a stored hash is no evidence */
	if (row.malformed || !ds_seal_hash(ds_backend_hasher(), &row.s, now_hash) ||
		memcmp(now_hash, hash, DS_HASH_LEN) != 0)
		return WR_SEAL_DIFFERS;
	/* from the anchored seal to the head, every seal verifies */
	ds_spi_exec("SELECT pg_catalog.bool_and(v.ok IS NOT FALSE)"
				" FROM dataspace.verify_asset($1) v JOIN dataspace.seal s"
				" ON s.id OPERATOR(pg_catalog.=) v.seal_id"
				" WHERE s.chain_pos OPERATOR(pg_catalog.>=) $2",
				2, (Oid[]) {UUIDOID, INT8OID},
				(Datum[]) {UUIDPGetDatum(asset), Int64GetDatum(pos)}, NULL, true, 1);
	if (!ds_spi_getbool(0, 1, &isnull) && !isnull)
		return WR_CHAIN_BROKEN;
	return NULL;
}

/* Local evidence for one anchored audit-log head. */
static const char *
check_anchored_entry(int64 seq, const uint8 hash[DS_HASH_LEN])
{
	bool		isnull;
	bytea	   *msg;
	uint8		now_hash[DS_HASH_LEN];

	if (ds_spi_exec("SELECT message FROM dataspace.audit_log WHERE seq OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(seq)}, NULL, true, -1) != 1)
		return WR_ENTRY_MISSING;
	msg = DatumGetByteaPP(ds_spi_get(0, 1, &isnull));
	if (!ds_sha256(ds_backend_hasher(), VARDATA_ANY(msg), VARSIZE_ANY_EXHDR(msg), now_hash) ||
		memcmp(now_hash, hash, DS_HASH_LEN) != 0)
		return WR_ENTRY_DIFFERS;
	ds_spi_exec("SELECT pg_catalog.bool_and(v.ok) FROM dataspace.verify_audit_log() v"
				" WHERE v.seq OPERATOR(pg_catalog.>=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(seq)}, NULL, true, 1);
	if (!ds_spi_getbool(0, 1, &isnull) && !isnull)
		return WR_CHAIN_BROKEN;
	return NULL;
}

/* Local evidence for one anchored seal of a received asset. */
static const char *
check_received_seal(const pg_uuid_t *asset, int64 pos, const uint8 hash[DS_HASH_LEN],
					bool *not_yet)
{
	ds_seal		sl;
	uint8		now_hash[DS_HASH_LEN];
	bool		isnull;

	*not_yet = false;
	if (ds_spi_exec("SELECT node_id, chain_pos, prev_hash, merkle_root, point_count,"
					" first_seq, last_seq, min_ts, max_ts, sealed_at, key_id"
					" FROM dataspace.received_seal"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND chain_pos OPERATOR(pg_catalog.=) $2",
					2, (Oid[]) {UUIDOID, INT8OID},
					(Datum[]) {UUIDPGetDatum(asset), Int64GetDatum(pos)},
					NULL, true, -1) != 1)
	{
		if (ds_spi_exec("SELECT 1 FROM dataspace.subscription_state"
						" WHERE asset_id OPERATOR(pg_catalog.=) $1"
						" AND chain_pos OPERATOR(pg_catalog.<) $2",
						2, (Oid[]) {UUIDOID, INT8OID},
						(Datum[]) {UUIDPGetDatum(asset), Int64GetDatum(pos)},
						NULL, true, -1) == 1)
		{
			*not_yet = true;
			return NULL;
		}
		return WR_SEAL_MISSING;
	}
	memset(&sl, 0, sizeof(sl));
	memcpy(sl.asset_id, asset->data, DS_UUID_LEN);
	ds_spi_get_uuid(0, 1, sl.node_id);
	sl.chain_pos = ds_spi_get_int64(0, 2);
	ds_spi_get_bytes(0, 3, sl.prev_hash, DS_HASH_LEN);
	ds_spi_get_bytes(0, 4, sl.root, DS_HASH_LEN);
	sl.point_count = ds_spi_get_int64(0, 5);
	sl.first_seq = ds_spi_get_int64(0, 6);
	sl.last_seq = ds_spi_get_int64(0, 7);
	sl.min_ts_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(0, 8, &isnull)));
	sl.max_ts_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(0, 9, &isnull)));
	sl.sealed_at_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(0, 10, &isnull)));
	ds_spi_get_bytes(0, 11, sl.key_id, DS_HASH_LEN);
	/* recomputed from the stored fields: a stored hash is no evidence */
	if (!ds_seal_hash(ds_backend_hasher(), &sl, now_hash) ||
		memcmp(now_hash, hash, DS_HASH_LEN) != 0)
		return WR_SEAL_DIFFERS;
	ds_spi_exec("SELECT pg_catalog.bool_and(v.ok IS NOT FALSE)"
				" FROM dataspace.verify_asset($1) v JOIN dataspace.received_seal s"
				" ON s.id OPERATOR(pg_catalog.=) v.seal_id"
				" WHERE s.chain_pos OPERATOR(pg_catalog.>=) $2",
				2, (Oid[]) {UUIDOID, INT8OID},
				(Datum[]) {UUIDPGetDatum(asset), Int64GetDatum(pos)}, NULL, true, 1);
	if (!ds_spi_getbool(0, 1, &isnull) && !isnull)
		return WR_CHAIN_BROKEN;
	return NULL;
}

/*
 * check_in_signed_log
 *		Step 3 of verify_anchor: the cached tree heads are signed and
 *		consistent and, with_proof, the anchor's inclusion proof verifies
 *		under the cached head of the proof's tree size.  NULL, or why not.
 */
static const char *
check_in_signed_log(const CachedHead *heads, int nheads, bool sig_bad, bool forked,
					bool with_proof, bytea *anchor, int64 index, int64 size, bytea *proof)
{
	ds_hasher  *h = ds_backend_hasher();
	const CachedHead *head = NULL;
	uint8		leaf[DS_HASH_LEN];

	if (sig_bad)
		return WR_HEAD_SIG_BAD;
	if (forked)
		return WR_FORKED;
	if (!with_proof)
		return NULL;
	for (int k = 0; k < nheads; k++)
		if (heads[k].size == size)
			head = &heads[k];
	if (head == NULL || VARSIZE_ANY_EXHDR(proof) % DS_HASH_LEN != 0 ||
		!ds_log_leaf_hash(h, (const uint8 *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor), leaf) ||
		!ds_merkle_verify_path(h, leaf, (uint64) index, (uint64) size,
							   (const uint8 (*)[DS_HASH_LEN]) VARDATA_ANY(proof),
							   (int) (VARSIZE_ANY_EXHDR(proof) / DS_HASH_LEN),
							   head->root))
		return WR_NOT_IN_LOG;
	return NULL;
}

/*
 * put_anchor_row
 *		One row of verify_anchor: ok and reason from why, or ok NULL with
 *		open_reason when nothing is wrong yet but the check cannot finish.
 */
static void
put_anchor_row(ReturnSetInfo *rsinfo, int64 id, int64 pos, const char *why,
			   bool open, const char *open_reason)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	values[0] = Int64GetDatum(id);
	values[1] = Int64GetDatum(pos);
	if (why == NULL && open)
	{
		nulls[2] = true;
		values[3] = CStringGetTextDatum(open_reason);
	}
	else
	{
		values[2] = BoolGetDatum(why == NULL);
		values[3] = CStringGetTextDatum(why ? why : WR_OK);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * verify_received_anchors
 *		The rows of verify_anchor for a received asset: one per anchor its
 *		provider sent to the hub, cached here, in log order; anchor_id is
 *		the leaf index in the hub's log.
 */
static void
verify_received_anchors(ReturnSetInfo *rsinfo, const pg_uuid_t *asset,
						const CachedHead *heads, int nheads, bool sig_bad, bool forked)
{
	SPITupleTable *tt;
	int			n;

	n = ds_spi_exec("SELECT leaf_index, provider_id, head_pos, head_hash, anchor,"
					" proof_tree_size, inclusion_proof FROM dataspace.received_anchor"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1 ORDER BY leaf_index",
					1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(asset)}, NULL, true, -1);
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		int64		index = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		pg_uuid_t  *provider = DatumGetUUIDP(SPI_getbinval(tup, tt->tupdesc, 2, &isnull));
		int64		pos = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 3, &isnull));
		bytea	   *hashb = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 4, &isnull));
		bytea	   *anchor = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 5, &isnull));
		int64		size = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 6, &isnull));
		bytea	   *proof = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 7, &isnull));
		const char *why;
		bool		not_yet = false;
		uint8		hash[DS_HASH_LEN];
		ds_anchor	a;

		memset(hash, 0, DS_HASH_LEN);
		if (VARSIZE_ANY_EXHDR(hashb) == DS_HASH_LEN)
			memcpy(hash, VARDATA_ANY(hashb), DS_HASH_LEN);

		/* 1. the received history: what the provider anchored is what it sent */
		why = check_received_seal(asset, pos, hash, &not_yet);
		SPI_tuptable = tt;

		/* 2. the anchor, as stored, says what its columns say */
		if (why == NULL &&
			(!ds_anchor_decode((const uint8 *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor), &a) ||
			 a.head_pos != pos || memcmp(a.head_hash, hash, DS_HASH_LEN) != 0 ||
			 memcmp(a.node_id, provider->data, DS_UUID_LEN) != 0 ||
			 strcmp(a.subject_kind, DS_ANCHOR_ASSET) != 0 ||
			 memcmp(a.subject_id, asset->data, DS_UUID_LEN) != 0))
			why = WR_NOT_IN_LOG;

		/* 3. the signed log: heads signed, consistent, the anchor included */
		if (why == NULL)
			why = check_in_signed_log(heads, nheads, sig_bad, forked, true,
									  anchor, index, size, proof);
		put_anchor_row(rsinfo, index, pos, why, not_yet, WR_NOT_RECEIVED);
	}
}

/*
 * dataspace.verify_anchor(asset uuid) returns table (anchor_id bigint,
 *		head_pos bigint, ok boolean, reason text)
 *		One row per anchor this node sent for the asset (NULL: for its
 *		audit log), oldest first, checked against local data only; for a
 *		received asset, one row per anchor its provider sent, checked
 *		against the received seals.
 */
Datum
dataspace_verify_anchor(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		audit = PG_ARGISNULL(0);
	pg_uuid_t  *asset = audit ? NULL : PG_GETARG_UUID_P(0);
	DsSavedUser saved;
	DsNode		node;
	CachedHead *heads;
	int			nheads;
	bool		sig_bad;
	bool		forked;
	int			n;
	SPITupleTable *tt;

	InitMaterializedSRF(fcinfo, 0);
	if (!ds_node_load(&node))
		return (Datum) 0;
	ds_become_owner(&saved);
	SPI_connect();
	nheads = check_cached_heads(&heads, &sig_bad, &forked);
	if (!audit &&
		ds_spi_exec("SELECT 1 FROM dataspace.subscription_state WHERE asset_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(asset)}, NULL, true, -1) == 1)
	{
		verify_received_anchors(rsinfo, asset, heads, nheads, sig_bad, forked);
		SPI_finish();
		ds_restore_user(&saved);
		return (Datum) 0;
	}
	n = ds_spi_exec("SELECT id, subject_kind, subject_id, head_pos, head_hash, anchor,"
					" leaf_index, proof_tree_size, inclusion_proof FROM dataspace.anchor"
					" WHERE subject_kind OPERATOR(pg_catalog.=) $1"
					" AND subject_id OPERATOR(pg_catalog.=) $2 ORDER BY head_pos",
					2, (Oid[]) {TEXTOID, UUIDOID},
					(Datum[]) {CStringGetTextDatum(audit ? DS_ANCHOR_AUDIT_LOG : DS_ANCHOR_ASSET),
						audit ? ds_uuid_datum(node.node_id) : UUIDPGetDatum(asset)},
					NULL, true, -1);
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		int64		pos = DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 4, &isnull));
		bytea	   *hashb = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 5, &isnull));
		bytea	   *anchor = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 6, &isnull));
		Datum		leafd = SPI_getbinval(tup, tt->tupdesc, 7, &isnull);
		bool		pending = isnull;
		Datum		sized = SPI_getbinval(tup, tt->tupdesc, 8, &isnull);
		Datum		proofd;
		const char *why = NULL;
		uint8		hash[DS_HASH_LEN];
		ds_anchor	a;

		pending |= isnull;
		proofd = SPI_getbinval(tup, tt->tupdesc, 9, &isnull);
		pending |= isnull;
		memset(hash, 0, DS_HASH_LEN);
		if (VARSIZE_ANY_EXHDR(hashb) == DS_HASH_LEN)
			memcpy(hash, VARDATA_ANY(hashb), DS_HASH_LEN);

		/* 1. local history: what was anchored is still there */
		why = audit ? check_anchored_entry(pos, hash) : check_anchored_seal(asset, pos, hash);
		SPI_tuptable = tt;

		/* 2. the anchor, as stored, says what its columns say */
		if (why == NULL &&
			(!ds_anchor_decode((const uint8 *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor), &a) ||
			 a.head_pos != pos || memcmp(a.head_hash, hash, DS_HASH_LEN) != 0 ||
			 memcmp(a.node_id, node.node_id, DS_UUID_LEN) != 0 ||
			 strcmp(a.subject_kind, audit ? DS_ANCHOR_AUDIT_LOG : DS_ANCHOR_ASSET) != 0 ||
			 memcmp(a.subject_id, audit ? node.node_id : asset->data, DS_UUID_LEN) != 0))
			why = WR_NOT_IN_LOG;

		/* 3. the signed log: heads signed, consistent, the anchor included */
		if (why == NULL)
			why = check_in_signed_log(heads, nheads, sig_bad, forked, !pending, anchor,
									  pending ? 0 : DatumGetInt64(leafd),
									  pending ? 0 : DatumGetInt64(sized),
									  pending ? NULL : DatumGetByteaPP(proofd));
		put_anchor_row(rsinfo, id, pos, why, pending, WR_PENDING);
	}
	SPI_finish();
	ds_restore_user(&saved);
	return (Datum) 0;
}
