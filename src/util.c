/*-------------------------------------------------------------------------
 *
 * util.c
 *		Small backend helpers: SPI, owner switching, conversions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "util.h"

/*
 * ds_schema_oid
 *		OID of the dataspace schema; errors if the extension is missing.
 */
Oid
ds_schema_oid(void)
{
	return get_namespace_oid("dataspace", false);
}

/*
 * ds_become_owner
 *		Switch to the owner of the dataspace schema, like RI triggers switch
 *		to the table owner, so that code reached from ordinary roles' inserts
 *		can touch the extension's private tables without granting them.
 */
void
ds_become_owner(DsSavedUser *saved)
{
	HeapTuple	tup;
	Oid			owner;
	Oid			nsp = ds_schema_oid();

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
ds_restore_user(const DsSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * ds_spi_exec
 *		Execute one statement through SPI; error out unless it succeeds and,
 *		when expected >= 0, returns or affects exactly that many rows.
 */
/* The checks of ds_spi_exec and ds_spi_exec_kept, after SPI ran sql. */
static int
exec_result(int rc, const char *sql, int expected)
{
	if (rc < 0)
		elog(ERROR, "SPI failed (%s): %s", SPI_result_code_string(rc), sql);
	if (expected >= 0 && SPI_processed != (uint64) expected)
		elog(ERROR, "unexpected row count " UINT64_FORMAT " (expected %d): %s",
			 SPI_processed, expected, sql);
	return (int) SPI_processed;
}

int
ds_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, bool read_only, int expected)
{
	return exec_result(SPI_execute_with_args(sql, nargs, types, values, nulls,
											 read_only, 0),
					   sql, expected);
}

/*
 * ds_spi_kept_plan
 *		The plan of sql in *slot, prepared on first use and kept for the
 *		backend's life (SPI_keepplan).  For statements run in every
 *		transaction of the write path or in every seal round: parsing and
 *		planning them again each time cost more than running them.  The
 *		plan cache replans a kept plan when what it depends on changes
 *		(the extension dropped and created again, a new index, ANALYZE).
 *		Must be called inside SPI_connect.
 */
static SPIPlanPtr
kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, int cursor_options)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, cursor_options);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed (%s): %s",
				 SPI_result_code_string(SPI_result), sql);
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed: %s", sql);
		*slot = plan;
	}
	return *slot;
}

SPIPlanPtr
ds_spi_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	return kept_plan(slot, sql, nargs, types, 0);
}

/* The kept plans of ds_spi_text_slot, by statement text and options. */
typedef struct TextPlan
{
	char	   *sql;
	int			cursor_options;
	SPIPlanPtr	plan;
	struct TextPlan *next;
} TextPlan;

static TextPlan *text_plans = NULL;

/*
 * ds_spi_text_slot
 *		The kept plan of sql (ds_spi_kept_plan), found by its text, for
 *		callers that pick each statement at run time among constant texts,
 *		where a static slot per call site does not fit.  Every distinct
 *		text stays planned for the backend's life: sql must be one of a
 *		fixed set of constants, never text built from data.
 *		CURSOR_OPT_CUSTOM_PLAN in cursor_options keeps the parse but plans
 *		each execution for its parameter values.  Returns the slot, its
 *		plan prepared, for the _kept functions and SPI_cursor_open.
 */
SPIPlanPtr *
ds_spi_text_slot(const char *sql, int nargs, Oid *types, int cursor_options)
{
	TextPlan   *t;

	for (t = text_plans; t != NULL; t = t->next)
		if (t->cursor_options == cursor_options && strcmp(t->sql, sql) == 0)
			break;
	if (t == NULL)
	{
		t = MemoryContextAllocZero(TopMemoryContext, sizeof(TextPlan));
		t->sql = MemoryContextStrdup(TopMemoryContext, sql);
		t->cursor_options = cursor_options;
		t->next = text_plans;
		text_plans = t;
	}
	(void) kept_plan(&t->plan, sql, nargs, types, cursor_options);
	return &t->plan;
}

/*
 * ds_spi_exec_kept
 *		ds_spi_exec through a kept plan (ds_spi_kept_plan).
 */
int
ds_spi_exec_kept(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types,
				 Datum *values, const char *nulls, bool read_only, int expected)
{
	return exec_result(SPI_execute_plan(ds_spi_kept_plan(slot, sql, nargs, types),
										values, nulls, read_only, 0),
					   sql, expected);
}

/* A DestReceiver that hands each result row to a callback. */
typedef struct DsScanReceiver
{
	DestReceiver pub;
	ds_scan_row_fn fn;
	void	   *arg;
	uint64		rows;
} DsScanReceiver;

/*
 * scan_receive
 *		Deform the row in its slot and hand its values to the callback:
 *		no copy of the tuple is made.
 */
static bool
scan_receive(TupleTableSlot *slot, DestReceiver *self)
{
	DsScanReceiver *r = (DsScanReceiver *) self;

	slot_getallattrs(slot);
	r->fn(slot->tts_values, slot->tts_isnull, r->arg);
	r->rows++;
	return true;
}

/*
 * scan_startup, scan_shutdown, scan_destroy
 *		Nothing to set up or release: the receiver lives on the caller's
 *		stack.
 */
static void
scan_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
scan_shutdown(DestReceiver *self)
{
}

static void
scan_destroy(DestReceiver *self)
{
}

/*
 * scan_plan
 *		Run a prepared query, handing each row to fn.
 */
static uint64
scan_plan(SPIPlanPtr plan, const char *sql, int nargs, Oid *types, Datum *values,
		  bool read_only, ds_scan_row_fn fn, void *arg)
{
	SPIExecuteOptions opts;
	ParamListInfo params;
	DsScanReceiver recv;
	int			rc;

	params = makeParamList(nargs);
	for (int i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = types[i];
	}

	memset(&recv, 0, sizeof(recv));
	recv.pub.receiveSlot = scan_receive;
	recv.pub.rStartup = scan_startup;
	recv.pub.rShutdown = scan_shutdown;
	recv.pub.rDestroy = scan_destroy;
	recv.pub.mydest = DestNone;
	recv.fn = fn;
	recv.arg = arg;

	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = read_only;
	opts.dest = (DestReceiver *) &recv;

	/*
	 * With a receiver of its own, SPI reports a SELECT as SPI_OK_UTILITY
	 * (it kept no rows); the receiver counts them.
	 */
	rc = SPI_execute_plan_extended(plan, &opts);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan_extended failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return recv.rows;
}

/*
 * ds_spi_scan
 *		Run one query through SPI and pass every result row to fn as the
 *		executor produced it, without storing it: no SPI tuple table, no
 *		per-row heap_form_tuple copy, no SPI_getbinval.  For queries over
 *		many points (a seal round, verification).  The values passed to fn
 *		are valid only during the call; pass-by-reference ones must be
 *		copied.  Not read-only statements take a new snapshot, as
 *		SPI_execute and SPI_cursor_open do.  Returns the number of rows.
 */
uint64
ds_spi_scan(const char *sql, int nargs, Oid *types, Datum *values,
			bool read_only, ds_scan_row_fn fn, void *arg)
{
	SPIPlanPtr	plan;
	uint64		rows;

	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed (%s): %s",
			 SPI_result_code_string(SPI_result), sql);
	rows = scan_plan(plan, sql, nargs, types, values, read_only, fn, arg);
	SPI_freeplan(plan);
	return rows;
}

/*
 * ds_spi_scan_kept
 *		ds_spi_scan through a kept plan (ds_spi_kept_plan).
 */
uint64
ds_spi_scan_kept(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types,
				 Datum *values, bool read_only, ds_scan_row_fn fn, void *arg)
{
	return scan_plan(ds_spi_kept_plan(slot, sql, nargs, types), sql, nargs, types,
					 values, read_only, fn, arg);
}

Datum
ds_spi_get(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

int64
ds_spi_get_int64(int row, int col)
{
	bool		isnull;
	Datum		d = ds_spi_get(row, col, &isnull);

	if (isnull)
		elog(ERROR, "unexpected null in column %d", col);
	return DatumGetInt64(d);
}

void
ds_spi_get_bytes(int row, int col, uint8 *out, size_t len)
{
	bool		isnull;
	Datum		d = ds_spi_get(row, col, &isnull);

	if (isnull)
		elog(ERROR, "unexpected null in column %d", col);
	ds_bytea_copy(d, out, len, SPI_fname(SPI_tuptable->tupdesc, col));
}

void
ds_spi_get_uuid(int row, int col, uint8 out[DS_UUID_LEN])
{
	bool		isnull;
	Datum		d = ds_spi_get(row, col, &isnull);

	if (isnull)
		elog(ERROR, "unexpected null in column %d", col);
	memcpy(out, DatumGetUUIDP(d)->data, DS_UUID_LEN);
}

Datum
ds_bytea_datum(const uint8 *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return PointerGetDatum(b);
}

Datum
ds_uuid_datum(const uint8 bytes[DS_UUID_LEN])
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

	memcpy(u->data, bytes, DS_UUID_LEN);
	return UUIDPGetDatum(u);
}

/*
 * ds_bytea_copy
 *		Copy a bytea of exactly len bytes; a stored value of another length
 *		is corrupt and reported as such.
 */
void
ds_bytea_copy(Datum d, uint8 *out, size_t len, const char *what)
{
	bytea	   *b = DatumGetByteaPP(d);

	if (VARSIZE_ANY_EXHDR(b) != len)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored %s has %zu bytes, expected %zu",
						what, (size_t) VARSIZE_ANY_EXHDR(b), len)));
	memcpy(out, VARDATA_ANY(b), len);
}

char *
ds_hex(const uint8 *data, size_t len)
{
	char	   *s = palloc(2 * len + 1);

	ds_hex_encode(data, len, s);
	return s;
}

char *
ds_uuid_text(const uint8 bytes[DS_UUID_LEN])
{
	pg_uuid_t	u;

	memcpy(u.data, bytes, DS_UUID_LEN);
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&u)));
}

/*
 * ds_backend_hasher
 *		One SHA-256 context for the life of the backend: fetching the
 *		digest once and reusing its context is four times faster than
 *		one-shot calls for the short inputs hashed here.
 */
ds_hasher *
ds_backend_hasher(void)
{
	static ds_hasher *hasher = NULL;

	if (hasher == NULL)
	{
		hasher = ds_hasher_new();
		if (hasher == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not initialize SHA-256")));
	}
	return hasher;
}
