/*-------------------------------------------------------------------------
 *
 * ingest.c
 *		The write path of dataspace.point: batch tagging, the asset check,
 *		the pending queue, append-only guards, waking the sealer at commit.
 *
 * Nothing here runs per row except two cheap functions: the STABLE default
 * dataspace.current_batch() (a cached number) and the CHECK function
 * dataspace.point_ok() (the time and value ranges, a cached lookup of the
 * asset, and a note of the row's seq in backend memory).  Per-row triggers
 * are avoided on purpose: any BEFORE ROW trigger or volatile default turns
 * COPY into row-by-row inserts.  The statement trigger writes the
 * statement's runs (batch, asset, seq range) to dataspace.pending_batch;
 * the sealer reads each run's points through the primary key after commit.
 *
 * The runs are what writers say, so they are bounded by what the writer's
 * session can have drawn: a seq above the point_seq value read when the
 * transaction's first INSERT statement started, and at most its value when
 * the statement ended.  A writer calling point_ok() by hand can only
 * widen a run of its own batch within that window; the sealer seals the
 * rows it finds, never the notes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "ingest.h"
#include "keys.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_current_batch);
PG_FUNCTION_INFO_V1(dataspace_point_ok);
PG_FUNCTION_INFO_V1(dataspace_point_queue_trigger);
PG_FUNCTION_INFO_V1(dataspace_refuse_change_trigger);

/* The batch of the current transaction; 0 until its first point. */
static int64 xact_batch = 0;

/*
 * point_seq's last value when the transaction's first INSERT statement
 * began; -1 before that.  Every seq drawn later is above it.
 */
static int64 xact_seq_floor = -1;

/* Whether to wake the sealer when this transaction commits. */
static bool xact_wake_sealer = false;

/*
 * The transaction's per-row state, in hash tables in TopTransactionContext
 * (one COPY may carry the points of thousands of assets).  Each entry
 * remembers the subtransaction that made it, so that an aborted
 * subtransaction's entries can be forgotten; a subtransaction started
 * later has a larger id.  The entry of the previous row is tried first:
 * consecutive rows are mostly of one asset.
 */

/* An asset point_ok looked up and locked (KEY SHARE) */
typedef struct CheckedAsset
{
	pg_uuid_t	asset;			/* hash key */
	SubTransactionId subid;
} CheckedAsset;

static HTAB *checked_assets = NULL;
static CheckedAsset *last_checked = NULL;

/* Rows noted by point_ok and not yet written to pending_batch */
typedef struct NoteKey
{
	pg_uuid_t	asset;
	SubTransactionId subid;
	int64		batch;
} NoteKey;

typedef struct PointNote
{
	NoteKey		key;			/* hash key; zeroed before it is filled */
	int64		first_seq;
	int64		last_seq;
	int64		points;
} PointNote;

static HTAB *notes = NULL;
static PointNote *last_note = NULL;

/* Set only while drop_points deletes whole sealed runs. */
bool		ds_retention_in_progress = false;

static bool callbacks_registered = false;

/*
 * The write path's two statements, planned once per backend.  The plan
 * cache replans them when anything they depend on changes (the extension
 * dropped and created again, a new index, ANALYZE), as it does for any
 * prepared statement; without saved plans, both were parsed and planned
 * again in every transaction.
 */
static SPIPlanPtr queue_plan = NULL;

static void
ingest_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (xact_wake_sealer)
				ds_wake_sealer();
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ds_ingest_reset();
			xact_wake_sealer = false;
			xact_seq_floor = -1;
			/* TopTransactionContext, and the tables in it, go away */
			checked_assets = NULL;
			last_checked = NULL;
			notes = NULL;
			last_note = NULL;
			break;
		default:
			break;
	}
}

static void
ingest_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS hs;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;

	/*
	 * Forget the rows of the subtransaction and of its children: they are
	 * gone, and so are the runs they wrote and the row locks they took on
	 * the assets.
	 */
	if (notes != NULL)
	{
		PointNote  *n;

		hash_seq_init(&hs, notes);
		while ((n = hash_seq_search(&hs)) != NULL)
			if (n->key.subid >= mySubid)
				(void) hash_search(notes, &n->key, HASH_REMOVE, NULL);
		last_note = NULL;
	}
	if (checked_assets != NULL)
	{
		CheckedAsset *c;

		hash_seq_init(&hs, checked_assets);
		while ((c = hash_seq_search(&hs)) != NULL)
			if (c->subid >= mySubid)
				(void) hash_search(checked_assets, &c->asset, HASH_REMOVE, NULL);
		last_checked = NULL;
	}
}

/*
 * xact_table
 *		A hash table in TopTransactionContext.
 */
static HTAB *
xact_table(const char *name, Size keysize, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = TopTransactionContext;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(ingest_xact_callback, NULL);
	RegisterSubXactCallback(ingest_subxact_callback, NULL);
	callbacks_registered = true;
}

/*
 * ds_ingest_reset
 *		Forget the transaction's batch.  The sealer calls this too after it
 *		sealed the current transaction's own points, so that points inserted
 *		later in the same transaction go to a new batch.
 */
void
ds_ingest_reset(void)
{
	xact_batch = 0;
}

/*
 * relation_oid
 *		The OID of one of the extension's relations (tables, sequences).
 */
static Oid
relation_oid(const char *name)
{
	Oid			rel = get_relname_relid(name, ds_schema_oid());

	if (!OidIsValid(rel))
		elog(ERROR, "relation dataspace.%s does not exist", name);
	return rel;
}

/*
 * point_seq_last_value
 *		The last value point_seq handed out, to any session; 0 before the
 *		first.  With CACHE 1, every value drawn later is larger; with a
 *		larger cache a backend hands out values it fetched earlier, and the
 *		runs would miss them, so with check_cache a changed sequence is
 *		refused.
 */
static int64
point_seq_last_value(bool check_cache)
{
	Oid			seq = relation_oid("point_seq");
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	if (check_cache)
	{
		HeapTuple	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(seq));
		int64		cache;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for sequence %u", seq);
		cache = ((Form_pg_sequence) GETSTRUCT(tup))->seqcache;
		ReleaseSysCache(tup);
		if (cache != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("sequence dataspace.point_seq has CACHE " INT64_FORMAT, cache),
					 errdetail("Pending runs are bounded by the sequence's last value, which needs CACHE 1."),
					 errhint("ALTER SEQUENCE dataspace.point_seq CACHE 1;")));
	}
	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(seq);
	fcinfo->args[0].isnull = false;
	result = pg_sequence_last_value(fcinfo);
	return fcinfo->isnull ? 0 : DatumGetInt64(result);
}

/*
 * note_point
 *		Count a row of the transaction's batch in its run.  Rows that do
 *		not carry the batch (a restore of a dump) or a seq drawn since the
 *		floor was read are not the write path's, and are not noted.
 */
static void
note_point(const pg_uuid_t *asset, int64 seq, int64 batch)
{
	SubTransactionId subid;
	PointNote  *n = last_note;

	if (batch != xact_batch || xact_batch == 0 || xact_seq_floor < 0 ||
		seq <= xact_seq_floor)
		return;
	subid = GetCurrentSubTransactionId();

	if (n == NULL || n->key.batch != batch || n->key.subid != subid ||
		memcmp(n->key.asset.data, asset->data, UUID_LEN) != 0)
	{
		NoteKey		key;
		bool		found;

		memset(&key, 0, sizeof(key));
		memcpy(key.asset.data, asset->data, UUID_LEN);
		key.subid = subid;
		key.batch = batch;
		if (notes == NULL)
			notes = xact_table("dataspace point notes", sizeof(NoteKey), sizeof(PointNote));
		n = hash_search(notes, &key, HASH_ENTER, &found);
		if (!found)
		{
			n->first_seq = seq;
			n->last_seq = seq;
			n->points = 0;
		}
		last_note = n;
	}
	n->first_seq = Min(n->first_seq, seq);
	n->last_seq = Max(n->last_seq, seq);
	n->points++;
}

/*
 * dataspace.current_batch() returns bigint
 *		The batch id of this transaction's points (the column default of
 *		dataspace.point.batch_id).  STABLE, so that COPY keeps its batched
 *		path; the number is drawn once per transaction.
 */
Datum
dataspace_current_batch(PG_FUNCTION_ARGS)
{
	if (xact_batch == 0)
	{
		register_callbacks();
		xact_batch = nextval_internal(relation_oid("batch_seq"), false);
	}
	PG_RETURN_INT64(xact_batch);
}

/* Column name of the tuple in slot; *isnull says whether it is NULL. */
static Datum
slot_column(TupleTableSlot *slot, const char *name, bool *isnull)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;

	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return slot_getattr(slot, i + 1, isnull);
	elog(ERROR, "column \"%s\" does not exist in relation %u", name, slot->tts_tableOid);
	return (Datum) 0;
}

/*
 * lock_asset
 *		Look asset up in dataspace.asset and lock its row FOR KEY SHARE, as
 *		SELECT ... FOR KEY SHARE does (ExecLockRows): at READ COMMITTED the
 *		newest version of the row, which a concurrent DELETE may have
 *		removed; at REPEATABLE READ and above, a concurrent change of the
 *		row since the snapshot is a serialization failure.  Returns false if
 *		there is no such asset, else its kind, its name and whether this
 *		node provides it.  One index lookup and one row lock: the query it
 *		replaces spent most of a single-row INSERT's asset check in
 *		executor set-up (bench/RESULTS.md).
 */
static bool
lock_asset(const pg_uuid_t *asset, char **kind, char **name, bool *local)
{
	Relation	rel = table_open(relation_oid("asset"), RowShareLock);
	Relation	idx = index_open(relation_oid("asset_pkey"), AccessShareLock);
	Snapshot	snap = RegisterSnapshot(GetTransactionSnapshot());
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found;
	bool		isnull;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(asset));
	scan = index_beginscan(rel, idx, snap, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	if (found)
	{
		TM_FailureData tmfd;
		ItemPointerData tid = slot->tts_tid;

		switch (table_tuple_lock(rel, &tid, snap, slot, GetCurrentCommandId(false),
								 LockTupleKeyShare, LockWaitBlock,
								 IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
								 &tmfd))
		{
			case TM_Ok:
				/* a newer version, at READ COMMITTED: still this asset? */
				if (tmfd.traversed)
				{
					Datum		id = slot_column(slot, "id", &isnull);

					found = !isnull && memcmp(DatumGetUUIDP(id)->data, asset->data, UUID_LEN) == 0;
				}
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				found = false;	/* deleted */
				break;
			case TM_SelfModified:
				/* as ExecLockRows, which would skip the row */
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("asset %s was changed by the statement that adds points to it",
								DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(asset)))),
						 errhint("Change the asset and add its points in separate statements.")));
				break;
			case TM_Invisible:
			case TM_BeingModified:
			case TM_WouldBlock:
				elog(ERROR, "could not lock the row of asset in dataspace.asset");
		}
	}
	if (found)
	{
		bool		asset_node_null;
		Datum		node_id = slot_column(slot, "node_id", &asset_node_null);
		Relation	node = table_open(relation_oid("node"), AccessShareLock);
		TableScanDesc ns = table_beginscan(node, snap, 0, NULL);
		TupleTableSlot *nslot = table_slot_create(node, NULL);

		*kind = TextDatumGetCString(slot_column(slot, "kind", &isnull));
		*name = TextDatumGetCString(slot_column(slot, "name", &isnull));
		*local = false;
		if (table_scan_getnextslot(ns, ForwardScanDirection, nslot))
		{
			bool		node_null;
			Datum		this_node = slot_column(nslot, "node_id", &node_null);

			*local = !asset_node_null && !node_null &&
				memcmp(DatumGetUUIDP(node_id)->data, DatumGetUUIDP(this_node)->data, UUID_LEN) == 0;
		}
		table_endscan(ns);
		ExecDropSingleTupleTableSlot(nslot);
		table_close(node, AccessShareLock);
	}
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);	/* the row lock needs the table lock kept */
	return found;
}

/*
 * point_in_range
 *		The rules of a point's time and value, which the seal's encoding
 *		needs (docs/encoding.md): a finite time before the year 100000, a
 *		finite value.
 */
static void
point_in_range(TimestampTz ts, float8 value)
{
	static TimestampTz ts_end = 0;	/* 100000-01-01 00:00:00 UTC */

	if (ts_end == 0)
		ts_end = (TimestampTz) (date2j(100000, 1, 1) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
	if (TIMESTAMP_NOT_FINITE(ts) || ts >= ts_end)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("point time %s is out of range", timestamptz_to_str(ts)),
				 errdetail("Points are sealed with a finite time before the year 100000.")));
	if (isnan(value) || isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("point value %s is not finite",
						DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(value)))),
				 errdetail("Points are sealed with a finite value: NaN, Infinity and -Infinity are refused.")));
}

/*
 * dataspace.point_ok(asset uuid, seq bigint, batch bigint, ts timestamptz,
 *					  value double precision) returns boolean
 *		The CHECK constraint of dataspace.point: the time and the value are
 *		in range (point_in_range), the asset exists, is a stream, and is
 *		this node's own; the row is then noted in its run for the
 *		statement trigger (note_point).  Acts like a foreign key without its
 *		per-row trigger: the first lookup of an asset in a transaction takes
 *		a KEY SHARE lock on its row (so it cannot be deleted under us) and is
 *		then cached until the transaction or subtransaction ends.
 *
 *		The lock is what makes the check a guarantee, as a foreign key's is:
 *		asset_check refuses to delete an asset that has points, but it
 *		cannot see a concurrent writer's uncommitted points; the lock makes
 *		the DELETE wait for the writer and then see them.  It costs one row
 *		lock per transaction and asset (a MultiXact when several writers
 *		hold it), not per point.
 */
Datum
dataspace_point_ok(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *asset = PG_GETARG_UUID_P(0);
	int64		seq = PG_GETARG_INT64(1);
	int64		batch = PG_GETARG_INT64(2);
	char	   *kind;
	char	   *name;
	bool		local;

	CheckedAsset *c = last_checked;

	point_in_range(PG_GETARG_TIMESTAMPTZ(3), PG_GETARG_FLOAT8(4));
	if (c == NULL || memcmp(c->asset.data, asset->data, UUID_LEN) != 0)
		c = checked_assets == NULL ? NULL
			: hash_search(checked_assets, asset, HASH_FIND, NULL);
	if (c != NULL)
	{
		last_checked = c;
		note_point(asset, seq, batch);
		PG_RETURN_BOOL(true);
	}

	register_callbacks();
	if (!lock_asset(asset, &kind, &name, &local))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("asset %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(asset)))),
				 errdetail("Points can only be added to a stream asset of this node."),
				 errhint("Create the asset in dataspace.asset first.")));
	if (strcmp(kind, "stream") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("asset \"%s\" is a %s, not a stream", name, kind),
				 errdetail("Data points belong to stream assets.")));
	if (!local)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("asset \"%s\" is provided by another node", name),
				 errdetail("Points of assets received from other nodes arrive through replication only.")));

	if (checked_assets == NULL)
		checked_assets = xact_table("dataspace checked assets", sizeof(pg_uuid_t),
									sizeof(CheckedAsset));
	c = hash_search(checked_assets, asset, HASH_ENTER, NULL);
	c->subid = GetCurrentSubTransactionId();
	last_checked = c;
	note_point(asset, seq, batch);
	PG_RETURN_BOOL(true);
}

/* The columns of pending_batch, in order. */
static Oid	queue_types[6] = {INT8OID, UUIDOID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID};

/*
 * queue_is_plain
 *		Is pending_batch as the install script made it: the six columns, no
 *		index, no trigger, no rule, no row-level security?  Then a run is
 *		queued by a plain heap insert (the executor start-up of an INSERT
 *		through SPI was a tenth of a single-row transaction's time,
 *		bench/RESULTS.md); otherwise, should someone have added any of
 *		these, through SPI so that they take effect.
 */

static bool
queue_is_plain(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relhasindex || rel->trigdesc != NULL || rel->rd_rules != NULL ||
		rel->rd_rel->relrowsecurity || rel->rd_rel->relkind != RELKIND_RELATION ||
		desc->natts != 6 || (desc->constr != NULL && desc->constr->num_check > 0))
		return false;
	for (int i = 0; i < 6; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != queue_types[i])
			return false;
	}
	return true;
}

/*
 * point_queue triggers (BEFORE and AFTER INSERT ... FOR EACH STATEMENT)
 *		Before the transaction's first INSERT statement, read the floor of
 *		its seq values.  After each statement, list the runs it noted in
 *		dataspace.pending_batch (one row per batch and asset), so that
 *		every point is either sealed or pending.  Runs of an enclosing
 *		subtransaction are left to its own statement: if this one aborts,
 *		they must stay.  Rows that arrive with their batch id already set (a
 *		restore of a dump) are not noted, and nothing is queued for them:
 *		they keep the seals they came with.
 */
Datum
dataspace_point_queue_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	SubTransactionId subid = GetCurrentSubTransactionId();
	DsSavedUser saved;
	Datum		values[6];
	int64		ceiling;
	HASH_SEQ_STATUS hs;
	PointNote  *n;
	Relation	queue;
	bool		direct;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "point_queue_trigger must fire BEFORE or AFTER INSERT FOR EACH STATEMENT");

	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event))
	{
		if (xact_seq_floor < 0)
		{
			register_callbacks();
			ds_become_owner(&saved);
			xact_seq_floor = point_seq_last_value(true);
			ds_restore_user(&saved);
		}
		return PointerGetDatum(NULL);
	}

	if (notes == NULL || hash_get_num_entries(notes) == 0)
		return PointerGetDatum(NULL);

	ds_become_owner(&saved);
	ceiling = point_seq_last_value(false);
	queue = table_open(relation_oid("pending_batch"), RowExclusiveLock);
	direct = queue_is_plain(queue);
	if (!direct)
		SPI_connect();
	hash_seq_init(&hs, notes);
	while ((n = hash_seq_search(&hs)) != NULL)
	{
		if (n->key.subid < subid || Min(n->last_seq, ceiling) < n->first_seq)
			continue;
		values[0] = Int64GetDatum(n->key.batch);
		values[1] = UUIDPGetDatum(&n->key.asset);
		values[2] = Int64GetDatum(n->first_seq);
		values[3] = Int64GetDatum(Min(n->last_seq, ceiling));
		values[4] = Int64GetDatum(n->points);
		values[5] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		if (direct)
		{
			bool		nulls[6] = {false, false, false, false, false, false};
			HeapTuple	tup = heap_form_tuple(RelationGetDescr(queue), values, nulls);

			simple_heap_insert(queue, tup);
			heap_freetuple(tup);
		}
		else
			(void) ds_spi_exec_kept(&queue_plan,
									"INSERT INTO dataspace.pending_batch"
									" (batch_id, asset_id, first_seq, last_seq, points, queued_at)"
									" VALUES ($1, $2, $3, $4, $5, $6)",
									6, queue_types, values, NULL, false, 1);
		xact_wake_sealer = true;
	}
	if (direct)
		CommandCounterIncrement();
	else
		SPI_finish();
	table_close(queue, NoLock);
	ds_restore_user(&saved);

	/* only now: an error above must leave the notes as they were */
	hash_seq_init(&hs, notes);
	while ((n = hash_seq_search(&hs)) != NULL)
		if (n->key.subid >= subid)
			(void) hash_search(notes, &n->key, HASH_REMOVE, NULL);
	last_note = NULL;
	return PointerGetDatum(NULL);
}

/*
 * refuse_change trigger (BEFORE UPDATE/DELETE/TRUNCATE ... FOR EACH STATEMENT)
 *		Points, seals and retention records are append-only; keys are never
 *		deleted, since old seals are verified with them.  drop_points is the
 *		one sanctioned deletion of points.
 */
Datum
dataspace_refuse_change_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *relname;
	const char *op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "refuse_change_trigger must be called as a trigger");
	relname = RelationGetRelationName(trigdata->tg_relation);
	if (ds_retention_in_progress &&
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) &&
		strcmp(relname, "point") == 0)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		op = "DELETE";
	else
		op = "TRUNCATE";

	if (strcmp(relname, "node_key") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s is not allowed on dataspace.node_key", op),
				 errdetail("Retired and revoked keys are kept: old seals are verified with them."),
				 errhint("Use dataspace.rotate_node_key() or dataspace.revoke_node_key().")));
	if (strcmp(relname, "point") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s is not allowed on dataspace.point", op),
				 errdetail("Data points are append-only: every point is sealed, and a changed point would break its seal."),
				 errhint("To remove old points, use dataspace.drop_points(), which removes whole sealed runs under a signed retention record.")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is not allowed on dataspace.%s", op, relname),
			 errdetail("Rows of dataspace.%s are append-only.", relname)));
	return PointerGetDatum(NULL);
}
