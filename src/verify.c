/*-------------------------------------------------------------------------
 *
 * verify.c
 *		Verification in SQL: verify_asset, verify_seal, point_proof,
 *		verify_proof.
 *
 * Verification recomputes every leaf from the stored point values and the
 * seal's blinding seed, every Merkle root, every seal message and its
 * signature, and every chain link.  Stored hashes (seal.seal_hash) are
 * never taken as evidence.  Each seal gets at most one reason, the first
 * in this order (docs/sql-reference.md lists them):
 *
 *	bad signature, unknown key, seal missing from chain, chain broken,
 *	key revoked, key not valid at seal time, point missing, point added,
 *	value changed, range not as signed
 *
 * Points in no seal and in no pending batch are reported in runs as
 * 'point not sealed'; pending batches as 'pending' with ok NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_operator_d.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"

#include "contract.h"
#include "keys.h"
#include "proof.h"
#include "replmsg.h"
#include "sealstore.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_verify_asset);
PG_FUNCTION_INFO_V1(dataspace_verify_seal);
PG_FUNCTION_INFO_V1(dataspace_point_proof);
PG_FUNCTION_INFO_V1(dataspace_verify_proof);

#define FETCH_ROWS 10000

/*
 * The seals a verification reports: those of an interval ($2, $3) or one
 * seal ($2) of asset $1.
 */
#define COND_INTERVAL "max_ts OPERATOR(pg_catalog.>=) $2 AND min_ts OPERATOR(pg_catalog.<=) $3"
#define COND_ONE_SEAL "id OPERATOR(pg_catalog.=) $2"

/* The fixed list of reasons. */
#define R_BAD_SIGNATURE		"bad signature"
#define R_UNKNOWN_KEY		"unknown key"
#define R_SEAL_MISSING		"seal missing from chain"
#define R_CHAIN_BROKEN		"chain broken"
#define R_KEY_REVOKED		"key revoked"
#define R_KEY_NOT_VALID		"key not valid at seal time"
#define R_POINT_MISSING		"point missing"
#define R_POINT_ADDED		"point added"
#define R_VALUE_CHANGED		"value changed"
#define R_RANGE_NOT_SIGNED	"range not as signed"
#define R_POINTS_DROPPED	"points dropped"
#define R_NOT_SEALED		"point not sealed"
#define R_PENDING			"pending"

/* A seal to report, while the pass over the points can reach it. */
typedef struct VSeal
{
	DsSealRow	row;
	bool		retained;		/* points dropped under a valid record */
	ds_merkle  *merkle;			/* from its first point until its last */
	int			root_ok;		/* -1 until the root is computed */
	int64		found;			/* member points seen */
	ds_seal_span span;		/* their seq and times */
} VSeal;

typedef struct BatchSeal
{
	int64		batch_id;
	int64		first_seq;		/* of the seal */
	VSeal	   *seal;
} BatchSeal;

typedef struct VRow
{
	int64		seal_id;		/* 0 for NULL */
	int			ok;				/* -1 NULL, 0 false, 1 true */
	const char *reason;
} VRow;

/*
 * vplan
 *		The kept plan of one of verification's statements, all constant
 *		texts (ds_spi_text_slot): verify_seal and point_proof, which an
 *		auditor calls once per seal, would otherwise parse and plan half a
 *		dozen statements on every call.  per_call: planned for each call's
 *		values, for the statements of an interval (one at the start of a
 *		long chain wants another index than one at its end) and for those
 *		whose conditions fold away by their values.
 */
static SPIPlanPtr *
vplan(const char *sql, int nargs, Oid *types, bool per_call)
{
	return ds_spi_text_slot(sql, nargs, types, per_call ? CURSOR_OPT_CUSTOM_PLAN : 0);
}

/* A read-only statement of verification through its kept plan. */
static int
vexec(const char *sql, int nargs, Oid *types, Datum *values, bool per_call)
{
	return ds_spi_exec_kept(vplan(sql, nargs, types, per_call), sql, nargs, types, values,
							NULL, true, -1);
}

typedef struct VResult
{
	int			nrows;
	int			cap;
	VRow	   *rows;			/* the rows, unless they go to store */
	Tuplestorestate *store;		/* verify_asset's result, row by row */
	TupleDesc	desc;
} VResult;

static void
add_row(VResult *res, int64 seal_id, int ok, const char *reason)
{
	if (res->store != NULL)
	{
		Datum		values[3] = {Int64GetDatum(seal_id), BoolGetDatum(ok == 1), 0};
		bool		nulls[3] = {seal_id == 0, ok < 0, reason == NULL};

		if (reason != NULL)
			values[2] = CStringGetTextDatum(reason);
		tuplestore_putvalues(res->store, res->desc, values, nulls);
		if (reason != NULL)
			pfree(DatumGetPointer(values[2]));
		res->nrows++;
		return;
	}
	if (res->nrows == res->cap)
	{
		res->cap = res->cap ? res->cap * 2 : 64;
		res->rows = res->rows ? repalloc(res->rows, sizeof(VRow) * res->cap)
			: palloc(sizeof(VRow) * res->cap);
	}
	res->rows[res->nrows].seal_id = seal_id;
	res->rows[res->nrows].ok = ok;
	res->rows[res->nrows].reason = reason;
	res->nrows++;
}

/* Order of the batch map: by batch, then by the seal's first seq. */
static int
cmp_batchseal(const void *a, const void *b)
{
	const BatchSeal *x = (const BatchSeal *) a;
	const BatchSeal *y = (const BatchSeal *) b;

	if (x->batch_id != y->batch_id)
		return (x->batch_id > y->batch_id) - (x->batch_id < y->batch_id);
	return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * check_seal_header
 *		Everything about a seal that does not need its points: shape, key,
 *		signature, chain link to its predecessor, key validity.
 */
static const char *
check_seal_header(ds_hasher *h, const DsKeyring *ring, const DsSealRow *r,
				  const ds_seal *pred, bool pred_malformed)
{
	uint8		msg[DS_SEAL_MSG_MAX];
	size_t		len;
	const DsKey *key;
	TimestampTz sealed_at = ds_unix_us_to_ts(r->s.sealed_at_us);

	if (r->malformed)
		return R_BAD_SIGNATURE;
	key = ds_keyring_find(ring, r->s.key_id);
	if (key == NULL)
		return R_UNKNOWN_KEY;
	len = ds_seal_message(&r->s, msg, sizeof(msg));
	if (len == 0 || !ds_ed25519_verify(key->public_key, msg, len, r->signature))
		return R_BAD_SIGNATURE;

	if (pred == NULL)
	{
		static const uint8 zeros[DS_HASH_LEN] = {0};

		if (r->s.chain_pos != 1)
			return R_SEAL_MISSING;
		if (memcmp(r->s.prev_hash, zeros, DS_HASH_LEN) != 0)
			return R_CHAIN_BROKEN;
	}
	else
	{
		uint8		prev[DS_HASH_LEN];

		if (r->s.chain_pos != pred->chain_pos + 1)
			return R_SEAL_MISSING;
		if (pred_malformed || !ds_seal_hash(h, pred, prev) ||
			memcmp(prev, r->s.prev_hash, DS_HASH_LEN) != 0)
			return R_CHAIN_BROKEN;
	}
	if (key->revoked && sealed_at >= key->compromised_since)
		return R_KEY_REVOKED;
	if (sealed_at < key->created_at || sealed_at >= key->retired_at)
		return R_KEY_NOT_VALID;
	return NULL;
}

/*
 * load_retained_through
 *		The highest chain position covered by a retention record whose
 *		signature verifies, under a key valid and not compromised when the
 *		record was made, and whose message matches its row.
 */
static int64
load_retained_through(const pg_uuid_t *asset, const DsKeyring *ring)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	int64		through = 0;

	values[0] = UUIDPGetDatum(asset);
	vexec("SELECT r.through_chain_pos, r.before, r.dropped_at, r.key_id, r.message,"
				" r.signature, n.node_id FROM dataspace.retention r, dataspace.node n"
				" WHERE r.asset_id OPERATOR(pg_catalog.=) $1",
		  1, types, values, false);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int64		pos = ds_spi_get_int64((int) i, 1);
		bool		isnull;
		TimestampTz before = DatumGetTimestampTz(ds_spi_get((int) i, 2, &isnull));
		TimestampTz dropped = DatumGetTimestampTz(ds_spi_get((int) i, 3, &isnull));
		uint8		key_id[DS_HASH_LEN];
		uint8		node_id[DS_UUID_LEN];
		uint8		sig[DS_SIG_LEN];
		uint8		expect[256];
		bytea	   *stored;
		ds_msg		m;
		const DsKey *key;

		ds_spi_get_uuid((int) i, 7, node_id);
		if (VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get((int) i, 4, &isnull))) != DS_HASH_LEN ||
			VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get((int) i, 6, &isnull))) != DS_SIG_LEN)
			continue;
		ds_spi_get_bytes((int) i, 4, key_id, DS_HASH_LEN);
		ds_spi_get_bytes((int) i, 6, sig, DS_SIG_LEN);
		ds_msg_begin(&m, expect, sizeof(expect), DS_MSG_RETENTION);
		ds_msg_bytes(&m, node_id, DS_UUID_LEN);
		ds_msg_bytes(&m, asset->data, DS_UUID_LEN);
		ds_msg_int64(&m, pos);
		ds_msg_int64(&m, ds_ts_to_unix_us(before));
		ds_msg_int64(&m, ds_ts_to_unix_us(dropped));
		ds_msg_bytes(&m, key_id, DS_HASH_LEN);
		stored = DatumGetByteaPP(ds_spi_get((int) i, 5, &isnull));
		key = ds_keyring_find(ring, key_id);
		if (key == NULL || !ds_msg_ok(&m) ||
			VARSIZE_ANY_EXHDR(stored) != m.len ||
			memcmp(VARDATA_ANY(stored), expect, m.len) != 0 ||
			!ds_ed25519_verify(key->public_key, expect, m.len, sig))
			continue;

		/*
		 * As for seals: a record signed when its key was compromised, or
		 * outside the key's validity, could have been made by anyone
		 * holding the key, to hide deleted points.
		 */
		if ((key->revoked && dropped >= key->compromised_since) ||
			dropped < key->created_at || dropped >= key->retired_at)
			continue;
		through = Max(through, pos);
	}
	return through;
}

/*
 * load_pending
 *		Sorted batch ids whose points count as pending for this asset.
 */
static int64 *
load_pending(const pg_uuid_t *asset, int *n, MemoryContext keep)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	int64	   *ids;

	values[0] = UUIDPGetDatum(asset);
	vexec("SELECT batch_id FROM dataspace.pending_batch"
		  " WHERE asset_id OPERATOR(pg_catalog.=) $1 UNION"
		  " SELECT batch_id FROM dataspace.pending_run"
		  " WHERE asset_id OPERATOR(pg_catalog.=) $1",
		  1, types, values, false);
	*n = (int) SPI_processed;
	ids = MemoryContextAlloc(keep, sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		ids[i] = ds_spi_get_int64(i, 1);
	qsort(ids, *n, sizeof(int64), cmp_int64);
	return ids;
}

/*
 * A point of the interval in no reported seal and no pending batch: in a
 * seal outside the interval (claimed) or in none.  Consecutive loose points
 * make one run, one row of the result.
 */
typedef struct LoosePoint
{
	int64		seq;
	int64		batch;			/* of a local point */
	int64		chain_pos;		/* of a received point; 0: in no seal */
	int64		run;
	bool		claimed;
} LoosePoint;

/* The loose points of a pass, and the run they are in. */
typedef struct LooseList
{
	LoosePoint *p;				/* in seq order */
	int64		n;
	int64		cap;
	int64		run;			/* the current run */
	bool		run_open;		/* it has a point */
	MemoryContext cxt;
} LooseList;

static void
loose_add(LooseList *l, int64 seq, int64 batch, int64 chain_pos)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 64;
		l->p = l->p ? repalloc_huge(l->p, sizeof(LoosePoint) * l->cap)
			: MemoryContextAllocHuge(l->cxt, sizeof(LoosePoint) * l->cap);
	}
	l->p[l->n].seq = seq;
	l->p[l->n].batch = batch;
	l->p[l->n].chain_pos = chain_pos;
	l->p[l->n].run = l->run;
	l->p[l->n].claimed = false;
	l->n++;
	l->run_open = true;
}

/* A point in a seal: it ends the current run of loose points. */
static void
loose_end_run(LooseList *l)
{
	if (l->run_open)
	{
		l->run++;
		l->run_open = false;
	}
}

/*
 * seal_tree
 *		A seal's Merkle tree while its leaves are being added, made on the
 *		first one: a pass over many seals holds the trees of only those
 *		whose leaves are still coming.
 */
static ds_merkle *
seal_tree(ds_merkle **tree, MemoryContext cxt)
{
	if (*tree == NULL)
	{
		*tree = MemoryContextAlloc(cxt, sizeof(ds_merkle));
		ds_merkle_init(*tree);
	}
	return *tree;
}

/*
 * seal_tree_matches
 *		Is the root of the leaves added so far (none: the empty tree) the
 *		signed one?  Frees the tree.
 */
static int
seal_tree_matches(ds_hasher *h, ds_merkle **tree, const uint8 signed_root[DS_HASH_LEN])
{
	uint8		root[DS_HASH_LEN];
	ds_merkle	empty;

	if (*tree == NULL)
		ds_merkle_init(&empty);
	if (!ds_merkle_root(h, *tree ? *tree : &empty, root))
		elog(ERROR, "could not hash a Merkle root");
	if (*tree)
		pfree(*tree);
	*tree = NULL;
	return memcmp(root, signed_root, DS_HASH_LEN) == 0;
}

/*
 * What the pass over a seal's points found, kept (by chain position) until
 * the pass over the seals in chain order adds its header's verdict.
 */
#define PR_OK		0
#define PR_DROPPED	1
#define PR_MISSING	2
#define PR_ADDED	3
#define PR_VALUE	4
#define PR_RANGE	5

static const char *const point_reasons[] = {
	NULL, R_POINTS_DROPPED, R_POINT_MISSING, R_POINT_ADDED, R_VALUE_CHANGED,
	R_RANGE_NOT_SIGNED
};

#define SWEEP_FETCH 1000

/*
 * The sweep: a pass over an asset's points in seq order meets the seals to
 * report in first seq order.  A seal is read from a cursor, a slice at a
 * time, when the pass reaches its first seq, and finished when the pass is
 * past its last; what its points say goes to a sort by chain position, for
 * the pass over the seals in chain order that adds each header's verdict.
 * Memory holds the seals whose seq ranges the pass is in, not the chain.
 * Local seals (VSeal) and received ones (RSeal) bring their own reading,
 * finishing and lookup.
 */
typedef struct Sweep Sweep;

typedef struct SweepKind
{
	void	   *(*read) (int row, Sweep *sw);	/* SPI row into a seal, in sealcxt */
	const ds_seal *(*fields) (const void *seal);
	int			(*finish) (void *seal, Sweep *sw);	/* its PR_ code; frees it */
	void		(*remap) (Sweep *sw);	/* the active seals changed */
} SweepKind;

struct Sweep
{
	const SweepKind *kind;
	void	   *arg;			/* the pass's own state */
	Portal		portal;
	void	  **buf;			/* the slice read */
	int			n;
	int			next;
	bool		done;
	void	  **active;			/* read, and a point of theirs may still come */
	int			nactive;
	int			cap_active;
	int64		next_first;		/* first seq of the next seal to read */
	int64		min_last;		/* lowest last seq of the active seals */
	Tuplesortstate *results;	/* (chain position, PR_ code) */
	TupleTableSlot *slot;
	MemoryContext rowcxt;		/* of the rows being read */
	MemoryContext sealcxt;		/* of the seals, until finished */
};

/*
 * sweep_head
 *		The next seal to read, or NULL after the last.  A slice is fetched
 *		through an SPI connection of its own: the pass over the points calls
 *		this from inside its query.
 */
static void *
sweep_head(Sweep *sw)
{
	if (sw->next == sw->n && !sw->done)
	{
		SPI_connect();
		SPI_cursor_fetch(sw->portal, true, SWEEP_FETCH);
		sw->n = 0;
		sw->next = 0;
		sw->done = SPI_processed < SWEEP_FETCH;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			sw->buf[sw->n++] = sw->kind->read((int) i, sw);
			MemoryContextReset(sw->rowcxt);
		}
		SPI_freetuptable(SPI_tuptable);
		SPI_finish();
	}
	return sw->next < sw->n ? sw->buf[sw->next] : NULL;
}

/*
 * sweep_begin
 *		Open the cursor over the seals to report (plan, in first seq order)
 *		and the sort of their results, in cxt.
 */
static void
sweep_begin(Sweep *sw, const SweepKind *kind, void *arg, SPIPlanPtr plan,
			Datum *values, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleDesc	desc = CreateTemplateTupleDesc(2);
	AttrNumber	col = 1;
	Oid			op = Int8LessOperator;
	Oid			coll = InvalidOid;
	bool		nulls_first = false;
	void	   *head;

	memset(sw, 0, sizeof(*sw));
	sw->kind = kind;
	sw->arg = arg;
	sw->buf = palloc(sizeof(void *) * SWEEP_FETCH);
	sw->cap_active = 16;
	sw->active = palloc(sizeof(void *) * sw->cap_active);
	sw->min_last = PG_INT64_MAX;
	sw->rowcxt = AllocSetContextCreate(cxt, "verify seal rows", ALLOCSET_DEFAULT_SIZES);
	sw->sealcxt = AllocSetContextCreate(cxt, "verify seals", ALLOCSET_DEFAULT_SIZES);
	TupleDescInitEntry(desc, 1, "chain_pos", INT8OID, -1, 0);
	TupleDescInitEntry(desc, 2, "code", INT4OID, -1, 0);
	sw->results = tuplesort_begin_heap(desc, 1, &col, &op, &coll, &nulls_first,
									   work_mem, NULL, TUPLESORT_NONE);
	sw->slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContextSwitchTo(old);

	sw->portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	head = sweep_head(sw);
	sw->next_first = head ? kind->fields(head)->first_seq : PG_INT64_MAX;
}

/*
 * sweep_to
 *		Before the point at seq (all: after the last point), make active the
 *		seals that start at or before it and finish those whose ranges end
 *		before it.
 */
static void
sweep_to(Sweep *sw, int64 seq, bool all)
{
	void	   *v;
	int			keep = 0;

	while ((v = sweep_head(sw)) != NULL && (all || sw->kind->fields(v)->first_seq <= seq))
	{
		sw->next++;
		if (sw->nactive == sw->cap_active)
		{
			sw->cap_active *= 2;
			sw->active = repalloc_huge(sw->active, sizeof(void *) * sw->cap_active);
		}
		sw->active[sw->nactive++] = v;
	}
	sw->next_first = v != NULL ? sw->kind->fields(v)->first_seq : PG_INT64_MAX;

	sw->min_last = PG_INT64_MAX;
	for (int i = 0; i < sw->nactive; i++)
	{
		const ds_seal *s;

		v = sw->active[i];
		s = sw->kind->fields(v);
		if (all || s->last_seq < seq)
		{
			ExecClearTuple(sw->slot);
			sw->slot->tts_values[0] = Int64GetDatum(s->chain_pos);
			sw->slot->tts_isnull[0] = false;
			sw->slot->tts_values[1] = Int32GetDatum(sw->kind->finish(v, sw));
			sw->slot->tts_isnull[1] = false;
			ExecStoreVirtualTuple(sw->slot);
			tuplesort_puttupleslot(sw->results, sw->slot);
		}
		else
		{
			sw->active[keep++] = v;
			sw->min_last = Min(sw->min_last, s->last_seq);
		}
	}
	sw->nactive = keep;
	sw->kind->remap(sw);
}

/* Before the point at seq: does the set of active seals change? */
static inline void
sweep_point(Sweep *sw, int64 seq)
{
	if (seq >= sw->next_first || seq > sw->min_last)
		sweep_to(sw, seq, false);
}

/* After the last point: finish every seal, close the cursor, sort. */
static void
sweep_points_done(Sweep *sw)
{
	sweep_to(sw, 0, true);
	SPI_cursor_close(sw->portal);
	MemoryContextDelete(sw->sealcxt);
	MemoryContextDelete(sw->rowcxt);
	tuplesort_performsort(sw->results);
}

/*
 * sweep_result
 *		The PR_ code of the seal at chain position pos, the next in chain
 *		order among the seals reported.  Both passes read under one
 *		snapshot, so they see the same seals.
 */
static int
sweep_result(Sweep *sw, int64 pos)
{
	bool		isnull;

	if (!tuplesort_gettupleslot(sw->results, true, false, sw->slot, NULL) ||
		DatumGetInt64(slot_getattr(sw->slot, 1, &isnull)) != pos)
		elog(ERROR, "the seals of an asset changed while it was verified");
	return DatumGetInt32(slot_getattr(sw->slot, 2, &isnull));
}

/* After the pass in chain order: every result taken? */
static void
sweep_end(Sweep *sw)
{
	if (tuplesort_gettupleslot(sw->results, true, false, sw->slot, NULL))
		elog(ERROR, "the seals of an asset changed while it was verified");
	tuplesort_end(sw->results);
	ExecDropSingleTupleTableSlot(sw->slot);
}

/* The state of verify_run's pass over the points. */
typedef struct VScan
{
	const pg_uuid_t *asset;
	ds_hasher  *h;
	TimestampTz from;
	TimestampTz to;
	bool		want_loose;
	int64		retained_through;
	Sweep		sweep;			/* of VSeals */
	BatchSeal  *bmap;			/* the active seals' batches */
	int			nbmap;
	int			cap_bmap;
	int64	   *pending;
	int			npending;
	int64	   *pending_seen;
	int			npending_seen;
	LooseList	loose;
	MemoryContext cxt;			/* outliving the query */
} VScan;

/* A local seal to report: its row, read into the sweep's memory. */
static void *
vseal_read(int row, Sweep *sw)
{
	VScan	   *st = (VScan *) sw->arg;
	MemoryContext old = MemoryContextSwitchTo(sw->rowcxt);
	DsSealRow	r;
	VSeal	   *v;

	ds_seal_row_read(row, &r);
	MemoryContextSwitchTo(sw->sealcxt);
	v = palloc0(sizeof(VSeal));
	v->row = r;
	v->row.batch_ids = palloc(sizeof(int64) * Max(r.nbatches, 1));
	memcpy(v->row.batch_ids, r.batch_ids, sizeof(int64) * r.nbatches);
	v->root_ok = -1;
	v->retained = r.s.chain_pos <= st->retained_through;
	MemoryContextSwitchTo(old);
	return v;
}

static const ds_seal *
vseal_fields(const void *seal)
{
	return &((const VSeal *) seal)->row.s;
}

/* A local seal the pass is past: what its points say. */
static int
vseal_finish(void *seal, Sweep *sw)
{
	VSeal	   *v = (VSeal *) seal;
	VScan	   *st = (VScan *) sw->arg;
	int			code = PR_OK;

	if (v->retained && v->found == 0)
		code = PR_DROPPED;
	else if (v->found < v->row.s.point_count)
		code = PR_MISSING;
	else if (v->found > v->row.s.point_count)
		code = PR_ADDED;
	else
	{
		if (v->root_ok < 0)
			v->root_ok = seal_tree_matches(st->h, &v->merkle, v->row.s.root);
		if (!v->root_ok)
			code = PR_VALUE;
		else if (!ds_seal_span_matches(&v->span, &v->row.s, true))
			code = PR_RANGE;
	}
	if (v->merkle)
		pfree(v->merkle);
	pfree(v->row.batch_ids);
	pfree(v);
	return code;
}

/* The batch map of the active local seals, for find_owner. */
static void
vseal_remap(Sweep *sw)
{
	VScan	   *st = (VScan *) sw->arg;

	st->nbmap = 0;
	for (int i = 0; i < sw->nactive; i++)
	{
		VSeal	   *v = (VSeal *) sw->active[i];

		for (int b = 0; b < v->row.nbatches; b++)
		{
			if (st->nbmap == st->cap_bmap)
			{
				st->cap_bmap *= 2;
				st->bmap = repalloc_huge(st->bmap, sizeof(BatchSeal) * st->cap_bmap);
			}
			st->bmap[st->nbmap].batch_id = v->row.batch_ids[b];
			st->bmap[st->nbmap].first_seq = v->row.s.first_seq;
			st->bmap[st->nbmap].seal = v;
			st->nbmap++;
		}
	}
	qsort(st->bmap, st->nbmap, sizeof(BatchSeal), cmp_batchseal);
}

static const SweepKind vseal_kind = {vseal_read, vseal_fields, vseal_finish, vseal_remap};

/*
 * find_owner
 *		The active seal that covers point (batch, seq), or NULL.  The batch
 *		map is sorted by (batch, first seq), so a binary search finds the
 *		one seal of the batch whose range can start at or before seq.
 *		Seals of one batch have disjoint seq ranges; should ranges overlap
 *		(seals made or changed behind the sealer's back), every seal of the
 *		batch starting at or before seq is tried.
 */
static VSeal *
find_owner(const VScan *st, int64 batch, int64 seq)
{
	int			lo = 0;
	int			hi = st->nbmap;

	/* the first entry after (batch, seq) */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		const BatchSeal *e = &st->bmap[mid];

		if (e->batch_id < batch || (e->batch_id == batch && e->first_seq <= seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int k = lo - 1; k >= 0 && st->bmap[k].batch_id == batch; k--)
	{
		VSeal	   *v = st->bmap[k].seal;

		if (seq >= v->row.s.first_seq && seq <= v->row.s.last_seq)
			return v;
	}
	return NULL;
}

/*
 * verify_point_row
 *		One point of verify_run's pass, in seq order: add its leaf to the
 *		seal that covers it, or account for it as pending or not sealed.
 */
static void
verify_point_row(Datum *values, bool *isnull, void *arg)
{
	VScan	   *st = (VScan *) arg;
	int64		seq = DatumGetInt64(values[0]);
	TimestampTz ts = DatumGetTimestampTz(values[1]);
	double		value = DatumGetFloat8(values[2]);
	int64		batch = DatumGetInt64(values[3]);
	VSeal	   *owner;

	if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
		elog(ERROR, "unexpected null in a point");

	sweep_point(&st->sweep, seq);
	owner = find_owner(st, batch, seq);
	if (owner != NULL)
	{
		uint8		nonce[DS_NONCE_LEN];
		uint8		leaf[DS_HASH_LEN];
		int64		ts_us = ds_ts_to_unix_us(ts);

		loose_end_run(&st->loose);
		owner->found++;
		if (owner->row.malformed || owner->found > owner->row.s.point_count)
			return;				/* a point added: the root no longer matters */
		ds_seal_span_add(&owner->span, &owner->row.s, owner->found - 1, seq, ts_us);
		if (!ds_leaf_nonce(st->h, owner->row.seed, st->asset->data, seq, nonce) ||
			!ds_leaf_hash(st->h, st->asset->data, seq, ts_us, value, nonce, leaf) ||
			!ds_merkle_add(st->h, seal_tree(&owner->merkle, st->sweep.sealcxt), leaf))
			elog(ERROR, "could not hash point");

		/* the seal's last point: its root now, and its tree goes */
		if (owner->found == owner->row.s.point_count)
			owner->root_ok = seal_tree_matches(st->h, &owner->merkle, owner->row.s.root);
		return;
	}
	if (!st->want_loose || ts < st->from || ts > st->to)
		return;
	if (bsearch(&batch, st->pending, st->npending, sizeof(int64), cmp_int64) != NULL)
	{
		bool		seen = false;

		loose_end_run(&st->loose);
		for (int k = 0; k < st->npending_seen && !seen; k++)
			seen = st->pending_seen[k] == batch;
		if (!seen && st->npending_seen < st->npending)
			st->pending_seen[st->npending_seen++] = batch;
		return;
	}

	/*
	 * A point of a batch that some seal of this asset covers, but outside
	 * that seal's range, or of no known batch: added behind the
	 * extension's back either way, unless a seal outside the interval
	 * claims it (resolve_loose).
	 */
	loose_add(&st->loose, seq, batch, 0);
}

/*
 * cursor_rows
 *		Pass each row of a query (plan) to fn(row, arg) as row row of
 *		SPI_tuptable, through a cursor, a slice at a time: an asset can have
 *		millions of seals, and SPI's tuple table of all of them would double
 *		what the callers keep of each.  fn may run queries of its own: the
 *		slice is put back as SPI_tuptable before each call.
 */
static void
cursor_rows(SPIPlanPtr plan, Datum *values, void (*fn) (int row, void *arg), void *arg)
{
	Portal		portal = SPI_cursor_open(NULL, plan, values, NULL, true);

	for (;;)
	{
		SPITupleTable *slice;
		uint64		n;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		slice = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		for (uint64 i = 0; i < n; i++)
		{
			SPI_tuptable = slice;
			fn((int) i, arg);
		}
		SPI_freetuptable(slice);
	}
	SPI_cursor_close(portal);
}

/* A seal outside the interval that claims a loose point. */
typedef struct StraySeal
{
	int64		chain_pos;
	int64		id;
} StraySeal;

static int
cmp_stray(const void *a, const void *b)
{
	int64		x = ((const StraySeal *) a)->chain_pos;
	int64		y = ((const StraySeal *) b)->chain_pos;

	return (x > y) - (x < y);
}

/* Add a stray; the list doubles when full, in cxt. */
static void
add_stray(StraySeal **strays, int *n, int64 chain_pos, int64 id, MemoryContext cxt)
{
	if (*n == 0)
		*strays = MemoryContextAlloc(cxt, sizeof(StraySeal));
	else if ((*n & (*n - 1)) == 0)	/* a power of two: full */
		*strays = repalloc(*strays, sizeof(StraySeal) * *n * 2);
	(*strays)[*n].chain_pos = chain_pos;
	(*strays)[*n].id = id;
	(*n)++;
}

typedef void (*verify_fn) (const pg_uuid_t *asset, TimestampTz from, TimestampTz to,
						   int64 only_seal, VResult *res);

static void verify_run(const pg_uuid_t *asset, TimestampTz from, TimestampTz to,
					   int64 only_seal, VResult *res);

/*
 * A stray's row: the seal checked on its own.  As many points as signed
 * and all of them verify, yet one lies outside its signed time range: range
 * not as signed.
 */
static void
add_stray_row(VResult *res, const pg_uuid_t *asset, TimestampTz from, TimestampTz to,
			  int64 id, verify_fn verify)
{
	VResult		one = {0};

	verify(asset, from, to, id, &one);
	Assert(one.nrows == 1);
	add_row(res, id, 0, one.nrows > 0 && one.rows[0].reason ? one.rows[0].reason
			: R_RANGE_NOT_SIGNED);
}

/* A row per run of loose points no seal claims, after the seals' rows. */
static void
add_orphan_rows(VResult *res, const LooseList *l)
{
	for (int64 k = 0, last_run = -1; k < l->n; k++)
		if (!l->p[k].claimed && l->p[k].run != last_run)
		{
			add_row(res, 0, 0, R_NOT_SEALED);
			last_run = l->p[k].run;
		}
}

/* resolve_loose's state */
typedef struct LooseClaims
{
	VScan	   *st;
	StraySeal  *strays;
	int			nstrays;
	MemoryContext rowcxt;		/* of one seal row */
} LooseClaims;

/* One seal outside the interval: the loose points it claims. */
static void
claim_loose(int row, void *arg)
{
	LooseClaims *lc = (LooseClaims *) arg;
	VScan	   *st = lc->st;
	MemoryContext old = MemoryContextSwitchTo(lc->rowcxt);
	DsSealRow	r;
	int64		lo = 0;
	int64		hi = st->loose.n;
	bool		claims = false;

	ds_seal_row_read(row, &r);
	/* the first loose point at or after first_seq */
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (st->loose.p[mid].seq < r.s.first_seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int64 k = lo; k < st->loose.n && st->loose.p[k].seq <= r.s.last_seq; k++)
		if (ds_seal_row_has_batch(&r, st->loose.p[k].batch))
		{
			st->loose.p[k].claimed = true;
			claims = true;
		}
	MemoryContextSwitchTo(old);
	MemoryContextReset(lc->rowcxt);
	if (claims)
		add_stray(&lc->strays, &lc->nstrays, r.s.chain_pos, r.id, st->cxt);
}

/*
 * resolve_loose
 *		Which loose points do seals outside the interval claim?  Those
 *		seals' signed time ranges leave out a point of the interval: its
 *		time was changed, or its signer got the range wrong; each is
 *		checked on its own later to tell which (the strays, sorted by chain
 *		position).  Reads every seal outside the interval once, and only
 *		when there are loose points: a healthy asset has none.
 */
static StraySeal *
resolve_loose(VScan *st, TimestampTz from, TimestampTz to, int *nstrays)
{
	LooseClaims lc = {.st = st};
	const char *sql = "SELECT " DS_SEAL_COLUMNS " FROM dataspace.seal"
		" WHERE asset_id OPERATOR(pg_catalog.=) $1"
		" AND NOT (max_ts OPERATOR(pg_catalog.>=) $2 AND min_ts OPERATOR(pg_catalog.<=) $3)";
	Oid			types[3] = {UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];

	values[0] = UUIDPGetDatum(st->asset);
	values[1] = TimestampTzGetDatum(from);
	values[2] = TimestampTzGetDatum(to);
	lc.rowcxt = AllocSetContextCreate(CurrentMemoryContext, "verify loose",
									  ALLOCSET_DEFAULT_SIZES);
	cursor_rows(*vplan(sql, 3, types, true), values, claim_loose, &lc);
	MemoryContextDelete(lc.rowcxt);
	if (lc.nstrays > 1)
		qsort(lc.strays, lc.nstrays, sizeof(StraySeal), cmp_stray);
	*nstrays = lc.nstrays;
	return lc.strays;
}

/* A seal's row: its header's verdict, else what its points say. */
static void
add_seal_row(VResult *res, int64 id, const char *header_reason, int code)
{
	if (header_reason != NULL)
		add_row(res, id, 0, header_reason);
	else
		add_row(res, id, code == PR_OK || code == PR_DROPPED ? 1 : 0, point_reasons[code]);
}

/*
 * The pass over the seals to report in chain order, with the seal before
 * each for its link: each one's header's verdict, else what the sweep
 * found of its points; the strays among them.
 */
typedef struct HeaderPass
{
	const pg_uuid_t *asset;
	TimestampTz from;
	TimestampTz to;
	int64		only_seal;		/* the one seal verified, or 0 */
	verify_fn	verify;			/* of a stray, on its own */
	Sweep	   *sweep;
	ds_hasher  *h;
	void	   *arg;			/* what checks a header */
	const char *link_sql;		/* the seal at ($1, chain position $2) */
	void		(*read_link) (int row, struct HeaderPass *hp);
	ds_seal		prev;			/* the seal before */
	bool		prev_malformed;
	bool		have_prev;
	StraySeal  *strays;			/* by chain position */
	int			nstrays;
	int			next_stray;
	VResult    *res;
	MemoryContext rowcxt;
} HeaderPass;

/* The rows of the strays before chain position pos. */
static void
add_strays_before(HeaderPass *hp, int64 pos)
{
	while (hp->next_stray < hp->nstrays && hp->strays[hp->next_stray].chain_pos < pos)
		add_stray_row(hp->res, hp->asset, hp->from, hp->to,
					  hp->strays[hp->next_stray++].id, hp->verify);
}

/* The seal before the next one, for its link. */
static void
header_set_prev(HeaderPass *hp, const ds_seal *s, bool malformed)
{
	hp->prev = *s;
	hp->prev_malformed = malformed;
	hp->have_prev = true;
}

/* The seal just read is the next one's link; its row goes. */
static void
header_next(HeaderPass *hp, const ds_seal *s, bool malformed)
{
	header_set_prev(hp, s, malformed);
	MemoryContextReset(hp->rowcxt);
}

/*
 * header_link
 *		The seal before the one at pos: the one reported before it, or else
 *		(the first seal of an interval, a seal after a gap) looked up.  None
 *		if there is no such seal, and pos is not 1: seal missing from chain.
 */
static void
header_link(HeaderPass *hp, int64 pos)
{
	if (hp->have_prev && hp->prev.chain_pos == pos - 1)
		return;
	hp->have_prev = false;
	if (pos <= 1)
		return;
	SPI_connect();
	vexec(hp->link_sql, 2, (Oid[]) {UUIDOID, INT8OID},
		  (Datum[]) {UUIDPGetDatum(hp->asset), Int64GetDatum(pos - 1)}, false);
	if (SPI_processed == 1)
		hp->read_link(0, hp);
	SPI_finish();
}

/*
 * header_begin
 *		Before a seal's checks in chain order: false if it was read only as
 *		the link of the one seal verified (and is kept as such); else the
 *		strays before it are added and its link is found.
 */
static bool
header_begin(HeaderPass *hp, int64 id, const ds_seal *s, bool malformed)
{
	if (hp->only_seal > 0 && id != hp->only_seal)
	{
		header_next(hp, s, malformed);
		return false;
	}
	add_strays_before(hp, s->chain_pos);
	header_link(hp, s->chain_pos);
	return true;
}

/* The seal before a local one, read by header_link. */
static void
local_link_row(int row, HeaderPass *hp)
{
	MemoryContext old = MemoryContextSwitchTo(hp->rowcxt);
	DsSealRow	r;

	ds_seal_row_read(row, &r);
	MemoryContextSwitchTo(old);
	header_set_prev(hp, &r.s, r.malformed);
}

/* One local seal, in chain order (ring: the node's keys). */
static void
header_row(int row, void *arg)
{
	HeaderPass *hp = (HeaderPass *) arg;
	MemoryContext old = MemoryContextSwitchTo(hp->rowcxt);
	DsSealRow	r;

	ds_seal_row_read(row, &r);
	MemoryContextSwitchTo(old);
	if (!header_begin(hp, r.id, &r.s, r.malformed))
		return;
	add_seal_row(hp->res, r.id,
				 check_seal_header(hp->h, (const DsKeyring *) hp->arg, &r,
								   hp->have_prev ? &hp->prev : NULL, hp->prev_malformed),
				 sweep_result(hp->sweep, r.s.chain_pos));
	header_next(hp, &r.s, r.malformed);
}

/*
 * The queries of a verification, of one seal ($2) or of an interval ($2,
 * $3), on local or received seals: the seals to report in chain order;
 * the seal at a chain position, for a link; the seals to report in first
 * seq order, for the sweep; their lowest first and highest last seq.
 */
typedef struct SealQueries
{
	const char *chain;
	const char *link;
	const char *feed;
	const char *range;
	bool		per_call;		/* an interval's (vplan) */
	int			nargs;
	Oid			types[3];
	Datum		values[3];
} SealQueries;

#define SEALS_TO_REPORT(cols, table, cond) \
	"SELECT " cols " FROM " table " WHERE asset_id OPERATOR(pg_catalog.=) $1" \
	" AND " cond " ORDER BY first_seq, chain_pos"
#define SEQ_RANGE_TO_REPORT(table, cond) \
	"SELECT pg_catalog.min(first_seq), pg_catalog.max(last_seq) FROM " table \
	" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND " cond
#define SEAL_QUERIES(q, chain_cols, feed_cols, table, cond) \
	((q)->chain = "SELECT " chain_cols " FROM " table \
	  " WHERE asset_id OPERATOR(pg_catalog.=) $1 AND " cond " ORDER BY chain_pos", \
	 (q)->link = "SELECT " chain_cols " FROM " table \
	  " WHERE asset_id OPERATOR(pg_catalog.=) $1 AND chain_pos OPERATOR(pg_catalog.=) $2", \
	 (q)->feed = SEALS_TO_REPORT(feed_cols, table, cond), \
	 (q)->range = SEQ_RANGE_TO_REPORT(table, cond))

/*
 * One seal ($2) and the seal before it, in chain order: the pass in chain
 * order then needs no lookup for the link.
 */
#define SEAL_AND_PREDECESSOR(cols, table) \
	"SELECT " cols " FROM " table " WHERE asset_id OPERATOR(pg_catalog.=) $1" \
	" AND chain_pos OPERATOR(pg_catalog.>=) (SELECT chain_pos OPERATOR(pg_catalog.-) 1" \
	"  FROM " table " WHERE id OPERATOR(pg_catalog.=) $2)" \
	" AND chain_pos OPERATOR(pg_catalog.<=) (SELECT chain_pos FROM " table \
	"  WHERE id OPERATOR(pg_catalog.=) $2) ORDER BY chain_pos"

/* The columns of received_seal the checks read; the sweep adds withheld. */
#define RSEAL_COLUMNS "id, provider_id, chain_pos, contract_id, node_id, first_seq, last_seq," \
	" point_count, delivered_count, min_ts, max_ts, merkle_root, prev_hash, key_id," \
	" signature, sealed_at"

static void
seal_queries(SealQueries *q, bool received, const pg_uuid_t *asset, int64 only_seal,
			 TimestampTz from, TimestampTz to)
{
	q->types[0] = UUIDOID;
	q->values[0] = UUIDPGetDatum(asset);
	q->per_call = only_seal == 0;
	if (only_seal > 0)
	{
		q->nargs = 2;
		q->types[1] = INT8OID;
		q->values[1] = Int64GetDatum(only_seal);
		if (received)
		{
			SEAL_QUERIES(q, RSEAL_COLUMNS, RSEAL_COLUMNS ", withheld",
						 "dataspace.received_seal", COND_ONE_SEAL);
			q->chain = SEAL_AND_PREDECESSOR(RSEAL_COLUMNS, "dataspace.received_seal");
		}
		else
		{
			SEAL_QUERIES(q, DS_SEAL_COLUMNS, DS_SEAL_COLUMNS, "dataspace.seal", COND_ONE_SEAL);
			q->chain = SEAL_AND_PREDECESSOR(DS_SEAL_COLUMNS, "dataspace.seal");
		}
		q->range = NULL;		/* the seal's own */
	}
	else
	{
		q->nargs = 3;
		q->types[1] = q->types[2] = TIMESTAMPTZOID;
		q->values[1] = TimestampTzGetDatum(from);
		q->values[2] = TimestampTzGetDatum(to);
		if (received)
			SEAL_QUERIES(q, RSEAL_COLUMNS, RSEAL_COLUMNS ", withheld",
						 "dataspace.received_seal", COND_INTERVAL);
		else
			SEAL_QUERIES(q, DS_SEAL_COLUMNS, DS_SEAL_COLUMNS, "dataspace.seal", COND_INTERVAL);
	}
}

/* The lowest first and highest last seq of the seals to report. */
static void
seq_range_to_report(const SealQueries *q, Sweep *sw, int64 *lo, int64 *hi)
{
	bool		isnull;

	*lo = PG_INT64_MAX;
	*hi = PG_INT64_MIN;
	if (q->range == NULL)
	{
		/* one seal: its own, which the sweep has read */
		void	   *head = sweep_head(sw);

		if (head != NULL)
		{
			*lo = sw->kind->fields(head)->first_seq;
			*hi = sw->kind->fields(head)->last_seq;
		}
		return;
	}
	vexec(q->range, q->nargs, (Oid *) q->types, (Datum *) q->values, q->per_call);
	if (SPI_processed == 1)
	{
		Datum		first = ds_spi_get(0, 1, &isnull);

		if (!isnull)
		{
			*lo = DatumGetInt64(first);
			*hi = ds_spi_get_int64(0, 2);
		}
	}
}

/*
 * chain_pass
 *		The pass over the seals to report in chain order, one row_fn call
 *		each, with the strays among them; then every verdict of the sweep
 *		must have been taken.
 */
static void
chain_pass(HeaderPass *hp, const SealQueries *q, void (*row_fn) (int row, void *arg),
		   MemoryContext cxt)
{
	hp->rowcxt = AllocSetContextCreate(cxt, "verify chain rows", ALLOCSET_DEFAULT_SIZES);
	cursor_rows(*vplan(q->chain, q->nargs, (Oid *) q->types, q->per_call), (Datum *) q->values,
				row_fn, hp);
	add_strays_before(hp, PG_INT64_MAX);
	sweep_end(hp->sweep);
	MemoryContextDelete(hp->rowcxt);
}

/*
 * verify_run
 *		Verify an asset between from and to, or (only_seal > 0) one seal:
 *		the sweep over its points, then the pass over its seals in chain
 *		order.  Seals outside the interval are read only if a point of the
 *		interval is in none of those reported (resolve_loose).
 */
static void
verify_run(const pg_uuid_t *asset, TimestampTz from, TimestampTz to,
		   int64 only_seal, VResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	DsKeyring  *ring;
	DsSavedUser saved;
	Oid			types[5] = {UUIDOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[5];
	SealQueries q;
	int64		lo;
	int64		hi;
	bool		want_loose = only_seal == 0;
	const char *points_sql;
	VScan		st;
	HeaderPass	hp;

	ring = ds_keyring_load();
	ds_become_owner(&saved);
	SPI_connect();
	seal_queries(&q, false, asset, only_seal, from, to);

	memset(&st, 0, sizeof(st));
	st.asset = asset;
	st.h = ds_backend_hasher();
	st.from = from;
	st.to = to;
	st.want_loose = want_loose;
	st.cxt = cxt;
	st.loose.cxt = cxt;
	st.retained_through = load_retained_through(asset, ring);
	st.pending = load_pending(asset, &st.npending, cxt);
	st.pending_seen = MemoryContextAlloc(cxt, sizeof(int64) * Max(st.npending, 1));
	st.cap_bmap = 16;
	st.bmap = MemoryContextAlloc(cxt, sizeof(BatchSeal) * st.cap_bmap);
	sweep_begin(&st.sweep, &vseal_kind, &st, *vplan(q.feed, q.nargs, q.types, q.per_call),
				q.values, cxt);
	seq_range_to_report(&q, &st.sweep, &lo, &hi);

	/* one pass over the points, in seq order */
	values[0] = UUIDPGetDatum(asset);
	values[1] = Int64GetDatum(lo);
	values[2] = Int64GetDatum(hi);
	values[3] = TimestampTzGetDatum(from);
	values[4] = TimestampTzGetDatum(to);
	points_sql = want_loose
		? "SELECT seq, ts, value, batch_id FROM dataspace.point"
		" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND ((seq OPERATOR(pg_catalog.>=) $2"
		" AND seq OPERATOR(pg_catalog.<=) $3) OR (ts OPERATOR(pg_catalog.>=) $4"
		" AND ts OPERATOR(pg_catalog.<=) $5)) ORDER BY seq"
		: "SELECT seq, ts, value, batch_id FROM dataspace.point"
		" WHERE asset_id OPERATOR(pg_catalog.=) $1 AND seq OPERATOR(pg_catalog.>=) $2"
		" AND seq OPERATOR(pg_catalog.<=) $3 AND $4::timestamptz IS NOT NULL"
		" AND $5::timestamptz IS NOT NULL ORDER BY seq";
	(void) ds_spi_scan_kept(vplan(points_sql, 5, types, want_loose), points_sql, 5, types,
							values, true, verify_point_row, &st);
	sweep_points_done(&st.sweep);

	hp = (HeaderPass) {
		.asset = asset, .from = from, .to = to, .only_seal = only_seal,
		.verify = verify_run, .sweep = &st.sweep, .h = st.h, .arg = ring, .link_sql = q.link,
		.read_link = local_link_row, .res = res
	};
	if (st.loose.n > 0)
		hp.strays = resolve_loose(&st, from, to, &hp.nstrays);
	chain_pass(&hp, &q, header_row, cxt);
	SPI_finish();
	ds_restore_user(&saved);

	add_orphan_rows(res, &st.loose);
	for (int k = 0; k < st.npending_seen; k++)
		add_row(res, 0, -1, R_PENDING);
}

/* ---------------------------------------------------------------------
 * Received assets (docs/replication.md)
 * ---------------------------------------------------------------------
 */

typedef struct RSeal
{
	int64		id;
	ds_seal		s;
	uint8		signature[DS_SIG_LEN];
	uint8		contract[DS_UUID_LEN];
	TimestampTz min_ts;
	TimestampTz max_ts;
	int64		delivered_count;
	bool		malformed;		/* a stored field has the wrong shape */
	bool		nonce_bad;		/* a delivered point's nonce has */
	uint8	   *withheld;		/* records of index and hash (the sweep's) */
	int			nwithheld;
	int			next_withheld;
	int64		found;
	int64		leaves;
	ds_seal_span span;		/* of the delivered points */
	ds_merkle  *merkle;			/* from its first leaf until its root */
	int			root_ok;		/* -1 until the root is computed */
} RSeal;

/*
 * rseal_read
 *		One received_seal row (RSEAL_COLUMNS, then withheld if with_withheld,
 *		copied in cxt) into v.
 */
static void
rseal_read(int i, const pg_uuid_t *asset, RSeal *v, bool with_withheld, MemoryContext cxt)
{
	bool		isnull;
	bool		ok = true;

	memset(v, 0, sizeof(*v));
	v->id = ds_spi_get_int64(i, 1);
	memcpy(v->s.asset_id, asset->data, DS_UUID_LEN);
	v->s.chain_pos = ds_spi_get_int64(i, 3);
	ds_spi_get_uuid(i, 4, v->contract);
	ds_spi_get_uuid(i, 5, v->s.node_id);
	v->s.first_seq = ds_spi_get_int64(i, 6);
	v->s.last_seq = ds_spi_get_int64(i, 7);
	v->s.point_count = ds_spi_get_int64(i, 8);
	v->delivered_count = ds_spi_get_int64(i, 9);
	v->min_ts = DatumGetTimestampTz(ds_spi_get(i, 10, &isnull));
	v->max_ts = DatumGetTimestampTz(ds_spi_get(i, 11, &isnull));
	v->s.min_ts_us = ds_ts_to_unix_us(v->min_ts);
	v->s.max_ts_us = ds_ts_to_unix_us(v->max_ts);
	ok &= VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get(i, 12, &isnull))) == DS_HASH_LEN;
	ok &= VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get(i, 13, &isnull))) == DS_HASH_LEN;
	ok &= VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get(i, 14, &isnull))) == DS_HASH_LEN;
	ok &= VARSIZE_ANY_EXHDR(DatumGetByteaPP(ds_spi_get(i, 15, &isnull))) == DS_SIG_LEN;
	if (ok)
	{
		ds_spi_get_bytes(i, 12, v->s.root, DS_HASH_LEN);
		ds_spi_get_bytes(i, 13, v->s.prev_hash, DS_HASH_LEN);
		ds_spi_get_bytes(i, 14, v->s.key_id, DS_HASH_LEN);
		ds_spi_get_bytes(i, 15, v->signature, DS_SIG_LEN);
	}
	v->malformed = !ok;
	v->s.sealed_at_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(i, 16, &isnull)));
	if (with_withheld)
	{
		bytea	   *w = DatumGetByteaPP(ds_spi_get(i, 17, &isnull));

		v->nwithheld = (int) (VARSIZE_ANY_EXHDR(w) / DS_WITHHELD_REC_LEN);
		v->withheld = MemoryContextAlloc(cxt, Max(VARSIZE_ANY_EXHDR(w), 1));
		memcpy(v->withheld, VARDATA_ANY(w), VARSIZE_ANY_EXHDR(w));
	}
	v->root_ok = -1;
}

/*
 * Add the seal's withheld leaves that come next in leaf order (all of
 * them with all), before the next received point.
 */
static void
rseal_add_withheld(ds_hasher *h, RSeal *v, bool all, MemoryContext cxt)
{
	while (v->next_withheld < v->nwithheld)
	{
		const uint8 *rec = v->withheld + v->next_withheld * DS_WITHHELD_REC_LEN;

		if (!all && (int64) ds_get_be64(rec) != v->leaves)
			break;
		if (!ds_merkle_add(h, seal_tree(&v->merkle, cxt), rec + 8))
			elog(ERROR, "could not hash a withheld leaf");
		v->leaves++;
		v->next_withheld++;
	}
}

/*
 * received_asset
 *		Is this an asset received from a provider?
 */
static bool
received_asset(const pg_uuid_t *asset)
{
	DsSavedUser saved;
	bool		found;

	ds_become_owner(&saved);
	SPI_connect();
	found = vexec("SELECT 1 FROM dataspace.subscription_state WHERE asset_id OPERATOR(pg_catalog.=) $1"
				  " UNION ALL SELECT 1 FROM dataspace.received_seal"
				  " WHERE asset_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
				  1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(asset)}, false) > 0;
	SPI_finish();
	ds_restore_user(&saved);
	return found;
}

/* The state of verify_received's pass over the points. */
typedef struct RScan
{
	const pg_uuid_t *asset;
	ds_hasher  *h;
	Sweep		sweep;			/* of RSeals */
	RSeal	  **bypos;			/* the active seals, by chain position */
	int			nbypos;
	int			cap_bypos;
	TimestampTz from;
	TimestampTz to;
	bool		want_loose;
	LooseList	loose;
} RScan;

static void *
rseal_sweep_read(int row, Sweep *sw)
{
	RScan	   *rs = (RScan *) sw->arg;
	RSeal	   *v = MemoryContextAlloc(sw->sealcxt, sizeof(RSeal));
	MemoryContext old = MemoryContextSwitchTo(sw->rowcxt);

	rseal_read(row, rs->asset, v, true, sw->sealcxt);
	MemoryContextSwitchTo(old);
	return v;
}

static const ds_seal *
rseal_fields(const void *seal)
{
	return &((const RSeal *) seal)->s;
}

/* A received seal the pass is past: what its points say. */
static int
rseal_finish(void *seal, Sweep *sw)
{
	RSeal	   *v = (RSeal *) seal;
	RScan	   *rs = (RScan *) sw->arg;
	int			code = PR_OK;

	if (v->malformed)
		code = PR_OK;			/* its header's verdict stands */
	else if (v->nonce_bad)
		code = PR_VALUE;
	else if (v->delivered_count > 0)
	{
		rseal_add_withheld(rs->h, v, true, sw->sealcxt);
		if (v->found < v->delivered_count)
			code = PR_MISSING;
		else if (v->found > v->delivered_count || v->leaves != v->s.point_count)
			code = PR_ADDED;
		else
		{
			if (v->root_ok < 0)
				v->root_ok = seal_tree_matches(rs->h, &v->merkle, v->s.root);
			if (!v->root_ok)
				code = PR_VALUE;
			else if (!ds_seal_span_matches(&v->span, &v->s, v->nwithheld == 0))
				code = PR_RANGE;
		}
	}
	else if (v->found > 0)
		code = PR_ADDED;
	if (v->merkle)
		pfree(v->merkle);
	pfree(v->withheld);
	pfree(v);
	return code;
}

static int
cmp_rseal_pos(const void *a, const void *b)
{
	int64		x = (*(RSeal *const *) a)->s.chain_pos;
	int64		y = (*(RSeal *const *) b)->s.chain_pos;

	return (x > y) - (x < y);
}

/* The active received seals by chain position, which each point names. */
static void
rseal_remap(Sweep *sw)
{
	RScan	   *rs = (RScan *) sw->arg;

	if (sw->nactive > rs->cap_bypos)
	{
		rs->cap_bypos = sw->nactive * 2;
		rs->bypos = repalloc_huge(rs->bypos, sizeof(RSeal *) * rs->cap_bypos);
	}
	memcpy(rs->bypos, sw->active, sizeof(RSeal *) * sw->nactive);
	rs->nbypos = sw->nactive;
	qsort(rs->bypos, rs->nbypos, sizeof(RSeal *), cmp_rseal_pos);
}

static const SweepKind rseal_kind = {rseal_sweep_read, rseal_fields, rseal_finish, rseal_remap};

/*
 * received_point_row
 *		One received point, in seq order: add its leaf to its seal, after
 *		the withheld leaves before it, or account for it as loose.
 */
static void
received_point_row(int row, void *arg)
{
	RScan	   *rs = (RScan *) arg;
	HeapTuple	tup = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	int64		seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
	double		value = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	bytea	   *nonce = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
	int64		pos = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	RSeal		key;
	RSeal	   *keyp = &key;
	RSeal	  **found;
	RSeal	   *v;
	ds_hasher  *h = rs->h;
	uint8		leaf[DS_HASH_LEN];

	sweep_point(&rs->sweep, seq);
	key.s.chain_pos = pos;
	found = bsearch(&keyp, rs->bypos, rs->nbypos, sizeof(RSeal *), cmp_rseal_pos);
	v = found ? *found : NULL;
	if (v == NULL || seq < v->s.first_seq || seq > v->s.last_seq)
	{
		/*
		 * In no seal to report: a point of a seal outside the interval (its
		 * chain position kept, to be looked up), or of none.
		 */
		if (rs->want_loose && ts >= rs->from && ts <= rs->to)
			loose_add(&rs->loose, seq, 0, v == NULL ? pos : 0);
		return;
	}
	loose_end_run(&rs->loose);
	v->found++;
	if (v->malformed || v->nonce_bad || v->found > v->delivered_count)
		return;
	rseal_add_withheld(h, v, false, rs->sweep.sealcxt);
	if (VARSIZE_ANY_EXHDR(nonce) != DS_NONCE_LEN)
	{
		v->nonce_bad = true;
		return;
	}
	ds_seal_span_add(&v->span, &v->s, v->leaves, seq, ds_ts_to_unix_us(ts));
	if (!ds_leaf_hash(h, rs->asset->data, seq, ds_ts_to_unix_us(ts), value,
					  (const uint8 *) VARDATA_ANY(nonce), leaf) ||
		!ds_merkle_add(h, seal_tree(&v->merkle, rs->sweep.sealcxt), leaf))
		elog(ERROR, "could not hash point");
	v->leaves++;

	/*
	 * The seal's last delivered point: its withheld leaves follow, then its
	 * root; the tree goes, as in verify_run.
	 */
	if (v->found == v->delivered_count)
	{
		rseal_add_withheld(h, v, true, rs->sweep.sealcxt);
		if (v->leaves == v->s.point_count)
			v->root_ok = seal_tree_matches(h, &v->merkle, v->s.root);
	}
}

/* What checks a received seal's header: its contract's terms, as last read. */
typedef struct RTerms
{
	DsContractTerms terms;
	bool		have;
	const char *why;			/* the terms could not be used */
	MemoryContext cxt;
} RTerms;

/* The seal before a received one, read by header_link. */
static void
received_link_row(int row, HeaderPass *hp)
{
	MemoryContext old = MemoryContextSwitchTo(hp->rowcxt);
	RSeal		v;

	rseal_read(row, hp->asset, &v, false, hp->rowcxt);
	MemoryContextSwitchTo(old);
	header_set_prev(hp, &v.s, v.malformed);
}

/*
 * received_header_row
 *		One received seal, in chain order: its signature under the provider
 *		key its contract pins, its link to the seal before.
 */
static void
received_header_row(int row, void *arg)
{
	HeaderPass *hp = (HeaderPass *) arg;
	RTerms	   *t = (RTerms *) hp->arg;
	MemoryContext old = MemoryContextSwitchTo(hp->rowcxt);
	RSeal		v;
	const char *reason = NULL;

	rseal_read(row, hp->asset, &v, false, hp->rowcxt);
	MemoryContextSwitchTo(old);
	if (!header_begin(hp, v.id, &v.s, v.malformed))
		return;
	if (v.malformed)
		reason = R_BAD_SIGNATURE;
	else
	{
		uint8		msg[DS_SEAL_MSG_MAX];
		size_t		len;
		uint8		seal_pk[DS_PUBKEY_LEN];
		bool		key_revoked = false;
		bool		key_found;

		/* the lookups' results go when their connection ends */
		SPI_connect();
		if (!t->have || memcmp(t->terms.id, v.contract, DS_UUID_LEN) != 0)
		{
			MemoryContextReset(t->cxt);
			old = MemoryContextSwitchTo(t->cxt);
			t->why = ds_contract_terms_load(v.contract, &t->terms);
			t->have = true;
			memcpy(t->terms.id, v.contract, DS_UUID_LEN);
			MemoryContextSwitchTo(old);
		}
		key_found = t->why == NULL &&
			memcmp(t->terms.provider_id, v.s.node_id, DS_UUID_LEN) == 0 &&
			ds_provider_seal_key(t->terms.provider_id, t->terms.provider_key_id,
								 t->terms.provider_pk, v.s.key_id, v.s.sealed_at_us,
								 seal_pk, &key_revoked);
		SPI_finish();
		if (!key_found)
			reason = R_UNKNOWN_KEY;
		else if ((len = ds_seal_message(&v.s, msg, sizeof(msg))) == 0 ||
				 !ds_ed25519_verify(seal_pk, msg, len, v.signature))
			reason = R_BAD_SIGNATURE;
		else if (key_revoked)
			reason = R_KEY_REVOKED;
		else if (v.s.chain_pos != (hp->have_prev ? hp->prev.chain_pos + 1 : 1))
			reason = R_SEAL_MISSING;
		else
		{
			uint8		prev[DS_HASH_LEN];

			if (!hp->have_prev)
				memset(prev, 0, sizeof(prev));
			else if (!ds_seal_hash(hp->h, &hp->prev, prev))
				elog(ERROR, "could not hash a seal");
			if (memcmp(prev, v.s.prev_hash, DS_HASH_LEN) != 0)
				reason = R_CHAIN_BROKEN;
		}
	}
	add_seal_row(hp->res, v.id, reason, sweep_result(hp->sweep, v.s.chain_pos));
	header_next(hp, &v.s, v.malformed);
}

/*
 * received_strays
 *		The seals outside the interval that the loose points name and whose
 *		seq ranges hold them: each is checked on its own, as in verify_run.
 */
static StraySeal *
received_strays(const pg_uuid_t *asset, LooseList *loose, int *nstrays, MemoryContext cxt)
{
	Datum	   *pos = palloc(sizeof(Datum) * Max(loose->n, 1));
	int			npos = 0;
	StraySeal  *strays = NULL;

	*nstrays = 0;
	for (int64 k = 0; k < loose->n; k++)
		if (loose->p[k].chain_pos > 0)
			pos[npos++] = Int64GetDatum(loose->p[k].chain_pos);
	if (npos > 0)
		vexec("SELECT id, chain_pos, first_seq, last_seq FROM dataspace.received_seal"
			  " WHERE asset_id OPERATOR(pg_catalog.=) $1"
			  " AND chain_pos OPERATOR(pg_catalog.=) ANY ($2)",
			  2, (Oid[]) {UUIDOID, INT8ARRAYOID},
			  (Datum[]) {UUIDPGetDatum(asset),
		PointerGetDatum(construct_array(pos, npos, INT8OID, sizeof(int64),
										FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))}, false);
	for (uint64 r = 0; npos > 0 && r < SPI_processed; r++)
	{
		int64		cpos = ds_spi_get_int64((int) r, 2);
		int64		first = ds_spi_get_int64((int) r, 3);
		int64		last = ds_spi_get_int64((int) r, 4);
		bool		claims = false;

		for (int64 k = 0; k < loose->n; k++)
			if (loose->p[k].chain_pos == cpos && loose->p[k].seq >= first &&
				loose->p[k].seq <= last)
				loose->p[k].claimed = claims = true;
		if (claims)
			add_stray(&strays, nstrays, cpos, ds_spi_get_int64((int) r, 1), cxt);
	}
	pfree(pos);
	if (*nstrays > 1)
		qsort(strays, *nstrays, sizeof(StraySeal), cmp_stray);
	return strays;
}

/*
 * verify_received
 *		Verify a received asset as verify_run does a local one: every seal's
 *		signature under the provider key its contract pins, every chain
 *		link, every root recomputed from the received points (their stored
 *		nonces) and the blinded hashes of the withheld ones; the same sweep
 *		over the points, then the same pass over the seals in chain order.
 */
static void
verify_received(const pg_uuid_t *asset, TimestampTz from, TimestampTz to,
				int64 only_seal, VResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;
	DsSavedUser saved;
	SealQueries q;
	int64		lo;
	int64		hi;
	bool		want_loose = only_seal == 0;
	RScan		rs;
	RTerms		terms;
	HeaderPass	hp;
	Datum		values[6];

	ds_become_owner(&saved);
	SPI_connect();
	seal_queries(&q, true, asset, only_seal, from, to);

	memset(&rs, 0, sizeof(rs));
	rs.asset = asset;
	rs.h = ds_backend_hasher();
	rs.from = from;
	rs.to = to;
	rs.want_loose = want_loose;
	rs.loose.cxt = cxt;
	rs.cap_bypos = 16;
	rs.bypos = MemoryContextAlloc(cxt, sizeof(RSeal *) * rs.cap_bypos);
	sweep_begin(&rs.sweep, &rseal_kind, &rs, *vplan(q.feed, q.nargs, q.types, q.per_call),
				q.values, cxt);
	seq_range_to_report(&q, &rs.sweep, &lo, &hi);

	/*
	 * One pass over the received points, in seq order: those in the seq
	 * ranges of the seals to report, and those in the interval.
	 */
	values[0] = UUIDPGetDatum(asset);
	values[1] = Int64GetDatum(lo);
	values[2] = Int64GetDatum(hi);
	values[3] = TimestampTzGetDatum(from);
	values[4] = TimestampTzGetDatum(to);
	values[5] = BoolGetDatum(want_loose);
	cursor_rows(*vplan("SELECT seq, ts, value, nonce, chain_pos FROM dataspace.received_point"
					   " WHERE asset_id OPERATOR(pg_catalog.=) $1"
					   " AND ((seq OPERATOR(pg_catalog.>=) $2 AND seq OPERATOR(pg_catalog.<=) $3)"
					   "  OR ($6 AND ts OPERATOR(pg_catalog.>=) $4 AND ts OPERATOR(pg_catalog.<=) $5))"
					   " ORDER BY seq", 6,
					   (Oid[]) {UUIDOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID},
					   true),
				values, received_point_row, &rs);
	sweep_points_done(&rs.sweep);

	memset(&terms, 0, sizeof(terms));
	terms.cxt = AllocSetContextCreate(cxt, "verify contract terms", ALLOCSET_SMALL_SIZES);
	hp = (HeaderPass) {
		.asset = asset, .from = from, .to = to, .only_seal = only_seal,
		.verify = verify_received, .sweep = &rs.sweep, .h = rs.h, .arg = &terms, .link_sql = q.link,
		.read_link = received_link_row, .res = res
	};
	if (rs.loose.n > 0)
		hp.strays = received_strays(asset, &rs.loose, &hp.nstrays, cxt);
	chain_pass(&hp, &q, received_header_row, cxt);
	MemoryContextDelete(terms.cxt);
	SPI_finish();
	ds_restore_user(&saved);

	add_orphan_rows(res, &rs.loose);
}

static void
require_asset(const pg_uuid_t *asset)
{
	DsSavedUser saved;
	Oid			types[1] = {UUIDOID};
	Datum		values[1];

	values[0] = UUIDPGetDatum(asset);
	ds_become_owner(&saved);
	SPI_connect();
	vexec("SELECT 1 FROM dataspace.asset WHERE id OPERATOR(pg_catalog.=) $1",
		  1, types, values, false);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("asset %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(asset))))));
	SPI_finish();
	ds_restore_user(&saved);
}

/*
 * dataspace.verify_asset(asset, from_ts, to_ts)
 *		returns table (seal_id bigint, ok boolean, reason text)
 */
Datum
dataspace_verify_asset(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	pg_uuid_t  *asset = PG_GETARG_UUID_P(0);
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(2);
	VResult		res = {0};

	InitMaterializedSRF(fcinfo, 0);
	if (from > to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_ts must not be later than to_ts")));
	res.store = rsinfo->setResult;
	res.desc = rsinfo->setDesc;
	if (received_asset(asset))
		verify_received(asset, from, to, 0, &res);
	else
	{
		require_asset(asset);
		verify_run(asset, from, to, 0, &res);
	}
	return (Datum) 0;
}

/*
 * find_seal_asset
 *		The asset of a seal; errors if there is no such seal.
 */
static void
find_seal_asset(int64 seal_id, pg_uuid_t *asset)
{
	DsSavedUser saved;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(seal_id);
	ds_become_owner(&saved);
	SPI_connect();
	vexec("SELECT asset_id FROM dataspace.seal WHERE id OPERATOR(pg_catalog.=) $1",
		  1, types, values, false);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("seal %lld does not exist", (long long) seal_id)));
	ds_spi_get_uuid(0, 1, asset->data);
	SPI_finish();
	ds_restore_user(&saved);
}

/*
 * dataspace.verify_seal(seal_id bigint) returns boolean
 *		True when the seal, its chain link and all its points verify (or its
 *		points were dropped under a valid retention record).
 */
Datum
dataspace_verify_seal(PG_FUNCTION_ARGS)
{
	int64		seal_id = PG_GETARG_INT64(0);
	pg_uuid_t	asset;
	VResult		res = {0};

	find_seal_asset(seal_id, &asset);
	verify_run(&asset, DT_NOBEGIN, DT_NOEND, seal_id, &res);
	for (int i = 0; i < res.nrows; i++)
		if (res.rows[i].seal_id == seal_id)
			PG_RETURN_BOOL(res.rows[i].ok == 1);
	PG_RETURN_BOOL(false);
}

/*
 * find_point_seal
 *		The seal of the point (asset $1, seq $2, batch $3) as SPI's one
 *		row, or none: the first by last_seq of the seals ending at or after
 *		it whose range and batches hold it.  Seals overlap in seq only as
 *		far as concurrent writers interleaved, so the index scan stops
 *		within a few entries.  The planner cannot know that: it sees
 *		first_seq <= $2 filter every later seal, and for a point early in a
 *		long chain it would read them all.  The ordered index scan is the
 *		one plan left to it, for this statement only.
 */
static void
find_point_seal(Datum *values, Oid *types)
{
	int			guc_level = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	vexec("SELECT " DS_SEAL_COLUMNS " FROM dataspace.seal"
		  " WHERE asset_id OPERATOR(pg_catalog.=) $1 AND last_seq OPERATOR(pg_catalog.>=) $2"
		  " AND first_seq OPERATOR(pg_catalog.<=) $2 AND $3 OPERATOR(pg_catalog.=) ANY (batch_ids)"
		  " ORDER BY last_seq LIMIT 1",
		  3, types, values, true);
	AtEOXact_GUC(true, guc_level);
}

/*
 * dataspace.point_proof(asset uuid, seq bigint) returns jsonb
 *		A self-contained inclusion proof of one point (docs/encoding.md).
 *		The proof is checked before it is returned: a point whose seal does
 *		not verify gets an error, never a proof.
 */
Datum
dataspace_point_proof(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *asset = PG_GETARG_UUID_P(0);
	int64		seq = PG_GETARG_INT64(1);
	MemoryContext cxt = CurrentMemoryContext;
	ds_hasher  *h = ds_backend_hasher();
	DsSavedUser saved;
	DsKeyring  *ring;
	const DsKey *key;
	Oid			types[4] = {UUIDOID, INT8OID, INT8OID, INT8ARRAYOID};
	Datum		values[4];
	bool		isnull;
	int64		batch;
	DsSealRow	seal;
	ds_proof   *proof;
	uint8		(*leaves)[DS_HASH_LEN];
	int64		index = -1;
	int			n;
	char	   *json;
	char		why[256];

	require_asset(asset);
	ring = ds_keyring_load();
	proof = MemoryContextAllocZero(cxt, sizeof(ds_proof));

	ds_become_owner(&saved);
	SPI_connect();
	values[0] = UUIDPGetDatum(asset);
	values[1] = Int64GetDatum(seq);
	vexec("SELECT batch_id FROM dataspace.point WHERE asset_id OPERATOR(pg_catalog.=) $1"
		  " AND seq OPERATOR(pg_catalog.=) $2", 2, types, values, false);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("asset %s has no point with seq %lld",
						ds_uuid_text(asset->data), (long long) seq)));
	batch = ds_spi_get_int64(0, 1);

	values[2] = Int64GetDatum(batch);
	find_point_seal(values, types);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("point %lld of asset %s is not sealed yet",
						(long long) seq, ds_uuid_text(asset->data)),
				 errhint("Run dataspace.seal_pending(), or wait for the background sealer.")));
	{
		MemoryContext spi = MemoryContextSwitchTo(cxt);

		ds_seal_row_read(0, &seal);
		MemoryContextSwitchTo(spi);
	}
	if (seal.malformed)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("seal %lld of asset %s is damaged", (long long) seal.id,
						ds_uuid_text(asset->data)),
				 errhint("Run dataspace.verify_asset() on the asset.")));

	values[1] = Int64GetDatum(seal.s.first_seq);
	values[2] = Int64GetDatum(seal.s.last_seq);
	{
		Datum	   *elems = palloc(sizeof(Datum) * seal.nbatches);

		for (int i = 0; i < seal.nbatches; i++)
			elems[i] = Int64GetDatum(seal.batch_ids[i]);
		values[3] = PointerGetDatum(construct_array(elems, seal.nbatches, INT8OID, 8,
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	}
	vexec("SELECT seq, ts, value FROM dataspace.point"
		  " WHERE asset_id OPERATOR(pg_catalog.=) $1"
		  " AND seq OPERATOR(pg_catalog.>=) $2 AND seq OPERATOR(pg_catalog.<=) $3"
		  " AND batch_id OPERATOR(pg_catalog.=) ANY ($4) ORDER BY seq",
		  4, types, values, false);
	n = (int) SPI_processed;
	if (n != seal.s.point_count)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("seal %lld of asset %s does not verify", (long long) seal.id,
						ds_uuid_text(asset->data)),
				 errdetail("The seal covers %lld points; %d are stored.",
						   (long long) seal.s.point_count, n),
				 errhint("Run dataspace.verify_asset() on the asset.")));
	leaves = MemoryContextAlloc(cxt, (Size) DS_HASH_LEN * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		int64		s = ds_spi_get_int64(i, 1);
		TimestampTz ts = DatumGetTimestampTz(ds_spi_get(i, 2, &isnull));
		double		v = DatumGetFloat8(ds_spi_get(i, 3, &isnull));
		uint8		nonce[DS_NONCE_LEN];

		if (!ds_leaf_nonce(h, seal.seed, asset->data, s, nonce) ||
			!ds_leaf_hash(h, asset->data, s, ds_ts_to_unix_us(ts), v, nonce, leaves[i]))
			elog(ERROR, "could not hash point");
		if (s == seq)
		{
			index = i;
			proof->seq = s;
			proof->ts_us = ds_ts_to_unix_us(ts);
			proof->ts_text_us = proof->ts_us;
			proof->value = v;
			memcpy(proof->nonce, nonce, DS_NONCE_LEN);
			memcpy(proof->leaf_hash, leaves[i], DS_HASH_LEN);
		}
	}
	SPI_finish();
	ds_restore_user(&saved);

	if (index < 0)
		elog(ERROR, "point %lld vanished from its seal", (long long) seq);
	key = ds_keyring_find(ring, seal.s.key_id);
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("seal %lld was signed with a key this node does not know",
						(long long) seal.id)));

	memcpy(proof->asset_id, asset->data, DS_UUID_LEN);
	proof->leaf_index = (uint64) index;
	if (!ds_merkle_path(h, (const uint8 (*)[DS_HASH_LEN]) leaves, (uint64) n,
						(uint64) index, proof->path, &proof->path_len))
		elog(ERROR, "could not compute Merkle path");
	proof->seal_id = seal.id;
	proof->seal = seal.s;
	memcpy(proof->public_key, key->public_key, DS_PUBKEY_LEN);
	memcpy(proof->signature, seal.signature, DS_SIG_LEN);
	if (!ds_seal_hash(h, &seal.s, proof->seal_hash))
		elog(ERROR, "could not hash seal");

	if (ds_proof_check(h, proof, why, sizeof(why)) != DS_PROOF_VALID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("seal %lld of asset %s does not verify", (long long) seal.id,
						ds_uuid_text(asset->data)),
				 errdetail("The proof built from the stored data fails: %s.", why),
				 errhint("Run dataspace.verify_asset() on the asset.")));

	json = palloc(DS_PROOF_JSON_MAX);
	if (ds_proof_to_json(proof, json, DS_PROOF_JSON_MAX) == 0)
		elog(ERROR, "could not encode proof");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/*
 * dataspace.verify_proof(proof jsonb) returns boolean
 *		Check a proof with nothing but the proof.  A proof of the wrong
 *		shape is an error; a well-formed proof that does not check out is
 *		false.  Whether its public key is one you trust is yours to check.
 */
Datum
dataspace_verify_proof(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	char		why[256];
	ds_proof_result r;

	why[0] = '\0';
	r = ds_proof_verify(ds_backend_hasher(), text, strlen(text), why, sizeof(why));
	/* the reasons are clauses; a detail is a sentence */
	why[0] = pg_toupper((unsigned char) why[0]);
	if (r == DS_PROOF_MALFORMED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed point proof"),
				 errdetail("%s.", why),
				 errhint("A proof is the object dataspace.point_proof() returns; docs/encoding.md lists its members.")));
	if (r == DS_PROOF_INVALID)
		ereport(DEBUG1,
				(errmsg_internal("point proof does not verify: %s", why)));
	PG_RETURN_BOOL(r == DS_PROOF_VALID);
}
