/*-------------------------------------------------------------------------
 *
 * sealer.c
 *		Sealing pending points: the seal round, seal_pending(), retention,
 *		and the background sealer that runs rounds after commits.
 *
 * Writers never touch a seal chain.  Each transaction's points carry its
 * batch id, and each statement lists its runs (batch, asset, seq range) in
 * dataspace.pending_batch; one sealer at a time (an advisory lock) moves
 * committed runs to dataspace.pending_run and turns them into seals, at
 * READ COMMITTED, so that it always sees the chain head the previous sealer
 * committed.  Reading the head under a REPEATABLE READ snapshot would fork
 * the chain; seal_pending() therefore refuses to run in such transactions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "dbworker.h"
#include "ingest.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "sealstore.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_seal_pending);
PG_FUNCTION_INFO_V1(dataspace_drop_points);

PGDLLEXPORT void dataspace_sealer_main(Datum main_arg);

/* advisory lock key (second half) held by whoever seals */
#define SEALER_LOCK_KEY 0x7365616c
#define RETENTION_LOCK_KEY 0x72657465

/* The statements of every seal round, planned once per backend. */
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr pending_plan = NULL;
static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr window_plan = NULL;
static SPIPlanPtr runs_plan = NULL;
static SPIPlanPtr run_done_plan = NULL;
static SPIPlanPtr run_advance_plan = NULL;
static SPIPlanPtr prefix_done_plan = NULL;
static SPIPlanPtr head_plan = NULL;
static SPIPlanPtr config_plan = NULL;


typedef struct SPoint
{
	int64		seq;
	int64		ts_us;
	double		value;
	int64		batch_id;
} SPoint;

typedef struct AssetWork
{
	pg_uuid_t	asset_id;
	int			npoints;
	int			cap;
	SPoint	   *points;
	bool		unsorted;		/* some point came after a higher seq */
	TimestampTz oldest;			/* earliest queued_at of its pending runs */
	int64		held_points;	/* points its pending runs were noted with */
} AssetWork;

typedef struct AssetConfig
{
	int			max_points;
	int			min_points;
	Interval	max_delay;
} AssetConfig;

static int
cmp_spoint(const void *a, const void *b)
{
	int64		x = ((const SPoint *) a)->seq;
	int64		y = ((const SPoint *) b)->seq;

	return (x > y) - (x < y);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static void
lock_sealer(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ds_schema_oid(), SEALER_LOCK_KEY, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * lock_retention
 *		One drop_points of an asset at a time.  Not the sealer lock: the
 *		points it deletes are sealed, the sealer's pending, so sealing goes
 *		on during a long delete.  Assets whose ids hash alike share a lock.
 */
static void
lock_retention(const pg_uuid_t *asset)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, hash_bytes(asset->data, UUID_LEN),
						 RETENTION_LOCK_KEY, 2);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

static void
require_read_committed(const char *what)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run in a REPEATABLE READ or SERIALIZABLE transaction", what),
				 errdetail("Sealing must read the latest seal of each asset; a transaction snapshot could fork the seal chain."),
				 errhint("Run it in a READ COMMITTED transaction, or on its own.")));
}

/* Empty the work list; its memory belongs to the caller's context. */
static void
clear_points(AssetWork *w)
{
	w->points = NULL;
	w->cap = 0;
	w->npoints = 0;
	w->unsorted = false;
}

static void
add_point(AssetWork *w, int64 seq, TimestampTz ts, double value, int64 batch)
{
	if (w->npoints == w->cap)
	{
		w->cap = w->cap == 0 ? 1024 : w->cap * 2;
		if (w->points == NULL)
			w->points = palloc(sizeof(SPoint) * w->cap);
		else
			w->points = repalloc_huge(w->points, sizeof(SPoint) * w->cap);
	}
	if (w->npoints > 0 && seq <= w->points[w->npoints - 1].seq)
		w->unsorted = true;
	w->points[w->npoints].seq = seq;
	w->points[w->npoints].ts_us = ds_ts_to_unix_us(ts);
	w->points[w->npoints].value = value;
	w->points[w->npoints].batch_id = batch;
	w->npoints++;
}

/* What fetch_point_row needs: where the rows go. */
typedef struct FetchState
{
	AssetWork  *w;
	MemoryContext keep;
} FetchState;

/*
 * fetch_point_row
 *		Add one row (seq, ts, value, batch_id) of fetch_points' query to the
 *		asset's work list.
 */
static void
fetch_point_row(Datum *values, bool *isnull, void *arg)
{
	FetchState *st = (FetchState *) arg;
	MemoryContext old;

	if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
		elog(ERROR, "unexpected null in a point");
	old = MemoryContextSwitchTo(st->keep);
	add_point(st->w,
			  DatumGetInt64(values[0]),
			  DatumGetTimestampTz(values[1]),
			  DatumGetFloat8(values[2]),
			  DatumGetInt64(values[3]));
	MemoryContextSwitchTo(old);
}

/*
 * scan_points
 *		Run one of the fetch queries below, its rows going straight from the
 *		executor into the asset's work list (ds_spi_scan), without an SPI
 *		tuple table in between.  The points are read by a bitmap scan of the
 *		primary key, not an index scan: a run is read whole, in heap order,
 *		and a 100,000-point run read by index scan cost twice the
 *		instructions (bench/RESULTS.md); the setting is undone after the
 *		query.  Not read-only: the query must take a new snapshot, later
 *		than the one that claimed the runs from the queue, or it could miss
 *		the points of a batch committed in between.
 */
static void
scan_points(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, Datum *values,
			AssetWork *w, MemoryContext keep)
{
	FetchState	st;
	int			guc_level;

	st.w = w;
	st.keep = keep;
	guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_indexscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) ds_spi_scan_kept(plan, sql, nargs, types, values, false, fetch_point_row, &st);
	AtEOXact_GUC(true, guc_level);
}

/*
 * fetch_points
 *		Read the points of an asset's pending runs that start at or before
 *		seq last_first: each run is a seq range of one asset, and the batch
 *		id keeps out other transactions' points in the range.  Each run is
 *		read by its own scan of the primary key's range: OFFSET 0 keeps the
 *		planner from joining the runs to all of the asset's points (a hash
 *		join over every point of the asset, in every round).  The runs come
 *		in order of first_seq, so unless concurrent writers' runs overlap,
 *		the points arrive in seq order and seal_asset need not sort them (a
 *		million points in a thousand runs: a fifth of the seal).
 */
static void
fetch_points(AssetWork *w, MemoryContext keep, int64 last_first)
{
	Oid			types[2] = {UUIDOID, INT8OID};
	Datum		values[2];

	values[0] = UUIDPGetDatum(&w->asset_id);
	values[1] = Int64GetDatum(last_first);
	scan_points(&fetch_plan, "SELECT p.seq, p.ts, p.value, p.batch_id"
				" FROM (SELECT asset_id, batch_id, first_seq, last_seq"
				"  FROM dataspace.pending_run WHERE asset_id OPERATOR(pg_catalog.=) $1"
				"  AND first_seq OPERATOR(pg_catalog.<=) $2"
				"  ORDER BY first_seq OFFSET 0) r CROSS JOIN LATERAL"
				" (SELECT seq, ts, value, batch_id FROM dataspace.point"
				"  WHERE asset_id OPERATOR(pg_catalog.=) r.asset_id"
				"  AND seq OPERATOR(pg_catalog.>=) r.first_seq"
				"  AND seq OPERATOR(pg_catalog.<=) r.last_seq"
				"  AND batch_id OPERATOR(pg_catalog.=) r.batch_id OFFSET 0) p",
				2, types, values, w, keep);
}

/*
 * fetch_window
 *		Read the points of one run (asset, batch) with seq in [lo, hi].
 */
static void
fetch_window(AssetWork *w, MemoryContext keep, int64 batch, int64 lo, int64 hi)
{
	Oid			types[4] = {UUIDOID, INT8OID, INT8OID, INT8OID};
	Datum		values[4];

	values[0] = UUIDPGetDatum(&w->asset_id);
	values[1] = Int64GetDatum(batch);
	values[2] = Int64GetDatum(lo);
	values[3] = Int64GetDatum(hi);
	scan_points(&window_plan, "SELECT seq, ts, value, batch_id FROM dataspace.point"
				" WHERE asset_id OPERATOR(pg_catalog.=) $1"
				" AND batch_id OPERATOR(pg_catalog.=) $2"
				" AND seq OPERATOR(pg_catalog.>=) $3 AND seq OPERATOR(pg_catalog.<=) $4",
				4, types, values, w, keep);
}

/*
 * An asset's seal settings, read with a new snapshot: the round may have
 * waited for the sealer lock behind a transaction that created the asset
 * or changed them.
 */
static void
load_config(const uint8 asset_id[DS_UUID_LEN], AssetConfig *cfg)
{
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	bool		isnull;

	values[0] = ds_uuid_datum(asset_id);
	ds_spi_exec_kept(&config_plan, "SELECT seal_max_points, seal_min_points, seal_max_delay"
					 " FROM dataspace.asset WHERE id OPERATOR(pg_catalog.=) $1",
					 1, types, values, NULL, false, -1);
	if (SPI_processed != 1)
	{
		/* the CHECK constraint makes this impossible short of tampering */
		cfg->max_points = 10000;
		cfg->min_points = 1;
		memset(&cfg->max_delay, 0, sizeof(Interval));
		return;
	}
	cfg->max_points = DatumGetInt32(ds_spi_get(0, 1, &isnull));
	cfg->min_points = DatumGetInt32(ds_spi_get(0, 2, &isnull));
	cfg->max_delay = *DatumGetIntervalP(ds_spi_get(0, 3, &isnull));
}

/*
 * seal_asset
 *		Seal an asset's points (any order on entry) in runs of at most
 *		max_points, chained after the asset's latest seal.  Returns the
 *		number of seals made.
 */
static int64
seal_asset(AssetWork *w, const AssetConfig *cfg, DsSigner *signer)
{
	ds_hasher  *h = ds_backend_hasher();
	Oid			types[1] = {UUIDOID};
	Datum		values[1];
	uint8		prev[DS_HASH_LEN];
	int64		chain_pos;
	int64		nseals = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (w->unsorted)
		qsort(w->points, w->npoints, sizeof(SPoint), cmp_spoint);

	values[0] = UUIDPGetDatum(&w->asset_id);
	ds_spi_exec_kept(&head_plan, "SELECT " DS_SEAL_COLUMNS " FROM dataspace.seal"
					 " WHERE asset_id OPERATOR(pg_catalog.=) $1 ORDER BY chain_pos DESC LIMIT 1",
					 1, types, values, NULL, false, -1);
	if (SPI_processed == 1)
	{
		DsSealRow	head;

		ds_seal_row_read(0, &head);
		if (head.malformed)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("latest seal %lld of asset %s is damaged",
							(long long) head.id, ds_uuid_text(w->asset_id.data)),
					 errdetail("Its stored fields do not have the shape of a seal, so no seal can be chained after it."),
					 errhint("Run dataspace.verify_asset() on the asset to see what changed.")));
		if (!ds_seal_hash(h, &head.s, prev))
			elog(ERROR, "could not hash seal");
		chain_pos = head.s.chain_pos + 1;
	}
	else
	{
		memset(prev, 0, DS_HASH_LEN);
		chain_pos = 1;
	}

	for (int start = 0; start < w->npoints; start += cfg->max_points)
	{
		int			end = Min(w->npoints, start + cfg->max_points);
		DsSealRow	r;
		ds_merkle	m;
		uint8		msg[DS_SEAL_MSG_MAX];
		size_t		msglen;
		int			nb = 0;

		memset(&r, 0, sizeof(r));
		if (!pg_strong_random(r.seed, DS_SEED_LEN))
			elog(ERROR, "could not generate blinding seed");
		ds_merkle_init(&m);
		r.s.min_ts_us = PG_INT64_MAX;
		r.s.max_ts_us = PG_INT64_MIN;
		r.batch_ids = palloc(sizeof(int64) * (end - start));
		for (int i = start; i < end; i++)
		{
			SPoint	   *p = &w->points[i];
			uint8		nonce[DS_NONCE_LEN];
			uint8		leaf[DS_HASH_LEN];

			if (!ds_leaf_nonce(h, r.seed, w->asset_id.data, p->seq, nonce) ||
				!ds_leaf_hash(h, w->asset_id.data, p->seq, p->ts_us, p->value, nonce, leaf) ||
				!ds_merkle_add(h, &m, leaf))
				elog(ERROR, "could not hash point");
			r.s.min_ts_us = Min(r.s.min_ts_us, p->ts_us);
			r.s.max_ts_us = Max(r.s.max_ts_us, p->ts_us);
			r.batch_ids[nb++] = p->batch_id;
		}
		qsort(r.batch_ids, nb, sizeof(int64), cmp_int64);
		r.nbatches = 0;
		for (int i = 0; i < nb; i++)
			if (i == 0 || r.batch_ids[i] != r.batch_ids[i - 1])
				r.batch_ids[r.nbatches++] = r.batch_ids[i];

		memcpy(r.s.node_id, signer->node_id, DS_UUID_LEN);
		memcpy(r.s.asset_id, w->asset_id.data, DS_UUID_LEN);
		r.s.chain_pos = chain_pos;
		memcpy(r.s.prev_hash, prev, DS_HASH_LEN);
		if (!ds_merkle_root(h, &m, r.s.root))
			elog(ERROR, "could not compute Merkle root");
		r.s.point_count = end - start;
		r.s.first_seq = w->points[start].seq;
		r.s.last_seq = w->points[end - 1].seq;
		r.s.sealed_at_us = ds_ts_to_unix_us(now);
		memcpy(r.s.key_id, signer->key_id, DS_HASH_LEN);
		msglen = ds_seal_message(&r.s, msg, sizeof(msg));
		if (msglen == 0 || !ds_signer_sign(signer, msg, msglen, r.signature))
			elog(ERROR, "could not sign seal");
		ds_seal_row_insert(&r);
		if (!ds_sha256(h, msg, msglen, prev))
			elog(ERROR, "could not hash seal");
		chain_pos++;
		nseals++;
		pfree(r.batch_ids);
	}
	return nseals;
}

/*
 * seal_runs
 *		Seal all of an asset's pending runs, in parts of at most
 *		dataspace.sealer_chunk_points points: the longest prefix of the
 *		runs (in order of first_seq) whose noted points fit, or, for a run
 *		larger than that, a window of that many seq values of it, which
 *		holds at most that many of the asset's points.  A seal never spans
 *		two parts, so two seals that share a batch still have disjoint seq
 *		ranges.  Returns the number of seals made.
 */
static int64
seal_runs(AssetWork *w, const AssetConfig *cfg, DsSigner *signer, MemoryContext round_cxt)
{
	MemoryContext part_cxt = AllocSetContextCreate(round_cxt, "dataspace seal part",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(part_cxt);
	int64		chunk = dataspace_sealer_chunk_points;
	int64		made = 0;

	for (;;)
	{
		Oid			types[4] = {UUIDOID, INT8OID, INT8OID, INT8OID};
		Datum		values[4];
		int			nruns;
		int			take = 0;
		int64		sum = 0;

		MemoryContextReset(part_cxt);
		clear_points(w);

		values[0] = UUIDPGetDatum(&w->asset_id);
		values[1] = Int64GetDatum(chunk);
		ds_spi_exec_kept(&runs_plan, "SELECT batch_id, first_seq, last_seq, points"
						 " FROM dataspace.pending_run WHERE asset_id OPERATOR(pg_catalog.=) $1"
						 " ORDER BY first_seq, batch_id LIMIT $2",
						 2, types, values, NULL, false, -1);
		nruns = (int) SPI_processed;
		if (nruns == 0)
			break;
		while (take < nruns)
		{
			int64		p = ds_spi_get_int64(take, 4);

			if (take > 0 && sum + p > chunk)
				break;
			sum += p;
			take++;
		}

		if (sum > chunk)
		{
			/* one run, larger than a part: its next window of seq values */
			int64		batch = ds_spi_get_int64(0, 1);
			int64		lo = ds_spi_get_int64(0, 2);
			int64		last = ds_spi_get_int64(0, 3);
			int64		hi = lo > last - (chunk - 1) ? last : lo + (chunk - 1);

			SPI_freetuptable(SPI_tuptable);
			fetch_window(w, part_cxt, batch, lo, hi);
			values[1] = Int64GetDatum(batch);
			values[2] = Int64GetDatum(hi);
			values[3] = Int64GetDatum(w->npoints);
			if (hi == last)
				ds_spi_exec_kept(&run_done_plan, "DELETE FROM dataspace.pending_run"
								 " WHERE asset_id OPERATOR(pg_catalog.=) $1"
								 " AND batch_id OPERATOR(pg_catalog.=) $2",
								 2, types, values, NULL, false, 1);
			else
				ds_spi_exec_kept(&run_advance_plan, "UPDATE dataspace.pending_run"
								 " SET first_seq = $3 OPERATOR(pg_catalog.+) 1,"
								 " points = GREATEST(points OPERATOR(pg_catalog.-) $4, 1)"
								 " WHERE asset_id OPERATOR(pg_catalog.=) $1"
								 " AND batch_id OPERATOR(pg_catalog.=) $2",
								 4, types, values, NULL, false, 1);
		}
		else
		{
			/* the runs that fit, and any others starting at the same seq */
			int64		last_first = ds_spi_get_int64(take - 1, 2);

			SPI_freetuptable(SPI_tuptable);
			fetch_points(w, part_cxt, last_first);
			values[1] = Int64GetDatum(last_first);
			ds_spi_exec_kept(&prefix_done_plan, "DELETE FROM dataspace.pending_run"
							 " WHERE asset_id OPERATOR(pg_catalog.=) $1"
							 " AND first_seq OPERATOR(pg_catalog.<=) $2",
							 2, types, values, NULL, false, -1);
		}
		if (w->npoints > 0)
			made += seal_asset(w, cfg, signer);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(part_cxt);
	clear_points(w);
	return made;
}

static bool
delay_passed(TimestampTz oldest, const Interval *delay, TimestampTz now)
{
	Datum		due;

	if (oldest == DT_NOEND)
		return false;
	due = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(oldest),
							  IntervalPGetDatum(delay));
	return DatumGetTimestampTz(due) <= now;
}

/*
 * seal_one_asset
 *		Seal one asset's pending runs, if they are due, in a subtransaction,
 *		so that one damaged asset does not stop the others: on error the
 *		runs stay pending and the error is logged as a warning.
 */
static int64
seal_one_asset(AssetWork *w, const uint8 *only_asset, bool force,
			   DsSigner *signer, MemoryContext round_cxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	AssetConfig cfg;
	volatile int64 made = 0;	/* set inside PG_TRY */
	bool		seal_now;
	TimestampTz now = GetCurrentTimestamp();

	load_config(w->asset_id.data, &cfg);
	if (only_asset != NULL)
		seal_now = memcmp(only_asset, w->asset_id.data, DS_UUID_LEN) == 0;
	else
		seal_now = force ||
			w->held_points >= cfg.min_points ||
			delay_passed(w->oldest, &cfg.max_delay, now);
	if (!seal_now)
		return 0;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(round_cxt);
	PG_TRY();
	{
		made = seal_runs(w, &cfg, signer, round_cxt);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(round_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		/* the rollback put the asset's runs back in pending_run */
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not seal asset %s: %s",
						ds_uuid_text(w->asset_id.data), edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->hint ? errhint("%s Its points stay pending meanwhile.", edata->hint)
				 : errhint("Its points stay pending; the sealer tries again in its next round.")));
		made = 0;
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return made;
}

/*
 * ds_seal_round
 *		Seal committed pending points.  With only_asset, seal that asset's
 *		pending points now and keep the rest pending; with force, seal every
 *		asset now; otherwise honour each asset's seal_min_points and
 *		seal_max_delay.  Returns the number of seals made.
 */
int64
ds_seal_round(const uint8 *only_asset, bool force)
{
	MemoryContext round_cxt;
	MemoryContext oldcxt;
	DsSavedUser saved;
	int			nassets;
	AssetWork  *assets;
	uint64		claimed;
	DsSigner   *signer = NULL;
	int64		made = 0;
	int			guc_level;

	require_read_committed("sealing");
	lock_sealer();

	round_cxt = AllocSetContextCreate(CurrentMemoryContext, "dataspace seal round",
									  ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(round_cxt);

	ds_become_owner(&saved);
	SPI_connect();

	/*
	 * The run lookups must use the primary key, even before ANALYZE; the
	 * cost penalty that forces it would otherwise make every round's small
	 * queries JIT-compile (about 130 ms each).  Both settings are undone at
	 * the end of the round, not of the caller's transaction.
	 */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	/*
	 * Committed runs queued since the last round move to pending_run, one
	 * row per asset and batch: no point is read to hold them back.
	 */
	ds_spi_exec_kept(&claim_plan,
					 "WITH claimed AS (DELETE FROM dataspace.pending_batch RETURNING *)"
				" INSERT INTO dataspace.pending_run AS r"
				" (asset_id, batch_id, first_seq, last_seq, points, queued_at)"
				" SELECT asset_id, batch_id, pg_catalog.min(first_seq), pg_catalog.max(last_seq),"
				" pg_catalog.sum(points)::bigint, pg_catalog.min(queued_at)"
				" FROM claimed GROUP BY asset_id, batch_id"
				" ON CONFLICT (asset_id, batch_id) DO UPDATE SET"
				" first_seq = LEAST(r.first_seq, excluded.first_seq),"
				" last_seq = GREATEST(r.last_seq, excluded.last_seq),"
				" points = r.points OPERATOR(pg_catalog.+) excluded.points,"
				" queued_at = LEAST(r.queued_at, excluded.queued_at)",
				0, NULL, NULL, NULL, false, -1);
	claimed = SPI_processed;

	/* every asset with pending runs, new or held by earlier rounds */
	ds_spi_exec_kept(&pending_plan,
					 "SELECT asset_id, pg_catalog.sum(points)::bigint, pg_catalog.min(queued_at)"
					 " FROM dataspace.pending_run GROUP BY asset_id",
				0, NULL, NULL, NULL, false, -1);
	MemoryContextSwitchTo(round_cxt);
	nassets = (int) SPI_processed;
	assets = palloc0(sizeof(AssetWork) * Max(nassets, 1));
	for (int i = 0; i < nassets; i++)
	{
		AssetWork  *w = &assets[i];
		bool		isnull;

		ds_spi_get_uuid(i, 1, w->asset_id.data);
		w->held_points = ds_spi_get_int64(i, 2);
		w->oldest = DatumGetTimestampTz(ds_spi_get(i, 3, &isnull));
	}

	/*
	 * Node-wide problems (an identity bound to another database, a missing
	 * key file) are errors of the whole round, with their own hints, not
	 * failures of one asset: load the signing key before the asset loop.
	 */
	if (nassets > 0)
		signer = ds_signer_load();

	for (int i = 0; i < nassets; i++)
		made += seal_one_asset(&assets[i], only_asset, force, signer, round_cxt);

	AtEOXact_GUC(true, guc_level);
	SPI_finish();
	ds_restore_user(&saved);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(round_cxt);

	/*
	 * This transaction's own batch, if it had one, has just been sealed or
	 * moved to pending_run: its later points must start a new batch.
	 */
	if (claimed > 0)
		ds_ingest_reset();

	/*
	 * Wake the consumers listening at this node: once per round that
	 * sealed something, delivered at commit.  Never per ingest statement:
	 * NOTIFY takes a cluster-wide lock at commit.
	 */
	if (made > 0 && dataspace_mode == DATASPACE_MODE_NODE)
		Async_Notify(DS_NOTIFY_CHANNEL, NULL);
	return made;
}

/*
 * dataspace.seal_pending(asset uuid default null) returns bigint
 *		Seal what is pending now, regardless of the assets' batching
 *		settings; returns the number of seals made.
 */
Datum
dataspace_seal_pending(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *asset = PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0);

	require_read_committed("dataspace.seal_pending()");
	PG_RETURN_INT64(ds_seal_round(asset ? asset->data : NULL, true));
}

/*
 * dataspace.drop_points(asset uuid, before timestamptz) returns bigint
 *		Retention: remove the points of the asset's oldest seals, whole
 *		seals only and only a prefix of the chain, as far as every seal in
 *		it ended before `before`.  The seals stay, so the chain still
 *		verifies, and a signed retention record says which seals lost their
 *		points.  Returns the number of points removed.
 */
Datum
dataspace_drop_points(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *asset = PG_GETARG_UUID_P(0);
	TimestampTz before = PG_GETARG_TIMESTAMPTZ(1);
	DsSavedUser saved;
	Oid			types[4] = {UUIDOID, TIMESTAMPTZOID, INT8OID, INT8OID};
	Datum		values[4];
	bool		isnull;
	int64		through;
	int64		already = 0;
	int64		dropped = 0;
	DsSigner   *signer;
	uint8		msgbuf[256];
	uint8		sig[DS_SIG_LEN];
	ds_msg		m;
	TimestampTz now = GetCurrentTimestamp();

	if (TIMESTAMP_NOT_FINITE(before))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention cut-off must be finite"),
				 errdetail("The signed retention record holds the cut-off as microseconds since 1970."),
				 errhint("To drop every sealed point, pass now().")));
	require_read_committed("dataspace.drop_points()");
	lock_retention(asset);
	ds_become_owner(&saved);
	SPI_connect();

	values[0] = UUIDPGetDatum(asset);
	values[1] = TimestampTzGetDatum(before);
	ds_spi_exec("SELECT 1 FROM dataspace.asset a JOIN dataspace.node n"
				" ON a.node_id OPERATOR(pg_catalog.=) n.node_id"
				" WHERE a.id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL, true, -1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("asset %s is not a local asset of this node",
						ds_uuid_text(asset->data))));

	/* the longest chain prefix whose seals all end before the cut-off */
	/*
	 * Not read-only: a new snapshot, taken after the lock, sees the record
	 * of a drop_points that held it before.
	 */
	ds_spi_exec("SELECT COALESCE(pg_catalog.min(chain_pos)"
				" FILTER (WHERE max_ts OPERATOR(pg_catalog.>=) $2), pg_catalog.max(chain_pos)"
				" OPERATOR(pg_catalog.+) 1, 1) OPERATOR(pg_catalog.-) 1"
				" FROM dataspace.seal WHERE asset_id OPERATOR(pg_catalog.=) $1",
				2, types, values, NULL, false, 1);
	through = ds_spi_get_int64(0, 1);
	ds_spi_exec("SELECT COALESCE(pg_catalog.max(through_chain_pos), 0)"
				" FROM dataspace.retention WHERE asset_id OPERATOR(pg_catalog.=) $1",
				1, types, values, NULL, false, 1);
	already = ds_spi_get_int64(0, 1);
	if (through <= already)
	{
		SPI_finish();
		ds_restore_user(&saved);
		PG_RETURN_INT64(0);
	}

	/* the seals after those an earlier record covers: theirs are gone */
	values[2] = Int64GetDatum(through);
	values[3] = Int64GetDatum(already);
	ds_retention_in_progress = true;
	PG_TRY();
	{
		dropped = ds_spi_exec("DELETE FROM dataspace.point p USING dataspace.seal s"
							  " WHERE s.asset_id OPERATOR(pg_catalog.=) $1"
							  " AND s.chain_pos OPERATOR(pg_catalog.<=) $3"
							  " AND s.chain_pos OPERATOR(pg_catalog.>) $4"
							  " AND p.asset_id OPERATOR(pg_catalog.=) $1"
							  " AND p.seq OPERATOR(pg_catalog.>=) s.first_seq"
							  " AND p.seq OPERATOR(pg_catalog.<=) s.last_seq"
							  " AND p.batch_id OPERATOR(pg_catalog.=) ANY (s.batch_ids)",
							  4, types, values, NULL, false, -1);
	}
	PG_FINALLY();
	{
		ds_retention_in_progress = false;
	}
	PG_END_TRY();

	signer = ds_signer_load();
	ds_msg_begin(&m, msgbuf, sizeof(msgbuf), DS_MSG_RETENTION);
	ds_msg_bytes(&m, signer->node_id, DS_UUID_LEN);
	ds_msg_bytes(&m, asset->data, DS_UUID_LEN);
	ds_msg_int64(&m, through);
	ds_msg_int64(&m, ds_ts_to_unix_us(before));
	ds_msg_int64(&m, ds_ts_to_unix_us(now));
	ds_msg_bytes(&m, signer->key_id, DS_HASH_LEN);
	if (!ds_msg_ok(&m) || !ds_signer_sign(signer, msgbuf, m.len, sig))
		elog(ERROR, "could not sign retention record");
	{
		Oid			rtypes[8] = {UUIDOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		INT8OID, BYTEAOID, BYTEAOID, BYTEAOID};
		Datum		rvalues[8];

		rvalues[0] = UUIDPGetDatum(asset);
		rvalues[1] = Int64GetDatum(through);
		rvalues[2] = TimestampTzGetDatum(before);
		rvalues[3] = TimestampTzGetDatum(now);
		rvalues[4] = Int64GetDatum(dropped);
		rvalues[5] = ds_bytea_datum(signer->key_id, DS_HASH_LEN);
		rvalues[6] = ds_bytea_datum(msgbuf, m.len);
		rvalues[7] = ds_bytea_datum(sig, DS_SIG_LEN);
		ds_spi_exec("INSERT INTO dataspace.retention (asset_id, through_chain_pos, before,"
					" dropped_at, points_dropped, key_id, message, signature)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
					8, rtypes, rvalues, NULL, false, 1);
	}
	(void) isnull;
	SPI_finish();
	ds_restore_user(&saved);
	PG_RETURN_INT64(dropped);
}

/* ---------------------------------------------------------------------
 * The background sealer
 * ---------------------------------------------------------------------
 */

/*
 * ds_wake_sealer
 *		Called at commit of a transaction that queued points: set the
 *		sealer's latch if it serves this database.  Without the preloaded
 *		library there is no sealer, and nothing to do.
 */
void
ds_wake_sealer(void)
{
	Latch	   *latch = ds_dbworker_latch(DS_WORKER_SEALER, true);

	if (latch != NULL)
		SetLatch(latch);
}

/*
 * sealer_round_in_transaction
 *		One round in its own transaction, if the extension is installed.
 */
static int64
sealer_round_in_transaction(void)
{
	int64		made = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "sealing pending points");
	if (OidIsValid(get_extension_oid("pg_dataspace", true)))
		made = ds_seal_round(NULL, false);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return made;
}

/*
 * dataspace_sealer_main
 *		Background worker: seal committed batches, woken at their commit or
 *		every dataspace.sealer_naptime.  An error aborts the round, is
 *		logged, and the next round comes after a growing pause (at most a
 *		minute); the worker itself keeps running.
 */
void
dataspace_sealer_main(Datum main_arg)
{
	sigjmp_buf	local_sigjmp_buf;
	long		backoff_ms = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	ds_dbworker_attach(DS_WORKER_SEALER);
	ds_dbworker_wait_until_database_free(DS_WORKER_SEALER);

	BackgroundWorkerInitializeConnection(dataspace_database, NULL, 0);
	/* sealing must read committed chain heads, whatever the default */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	ds_dbworker_connected(DS_WORKER_SEALER);

	ereport(LOG, (errmsg("pg_dataspace sealer started in database \"%s\"",
						 dataspace_database)));

	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		/* error recovery, as the autovacuum launcher does it */
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		MemoryContextSwitchTo(TopMemoryContext);
		RESUME_INTERRUPTS();
		backoff_ms = backoff_ms == 0 ? 1000 : Min(backoff_ms * 2, 60000);
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		long		timeout = backoff_ms > 0 ? backoff_ms : dataspace_sealer_naptime;
		TimestampTz started;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		started = GetCurrentTimestamp();
		(void) sealer_round_in_transaction();
		backoff_ms = 0;

		/*
		 * Every commit that queued points sets the latch.  A round costs
		 * about a millisecond however few points it seals, so under many
		 * small transactions the sealer would spend itself on rounds: let
		 * the commits of the next few milliseconds gather into one.  The
		 * latch stays set meanwhile; only the timeout wakes this wait.
		 */
		if (dataspace_sealer_min_interval > 0)
		{
			long		elapsed_ms = (long) ((GetCurrentTimestamp() - started) / 1000);

			if (elapsed_ms < dataspace_sealer_min_interval)
			{
				(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 dataspace_sealer_min_interval - elapsed_ms,
								 PG_WAIT_EXTENSION);
				CHECK_FOR_INTERRUPTS();
			}
		}
	}
}
