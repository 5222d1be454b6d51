/*-------------------------------------------------------------------------
 *
 * dbworker.c
 *		Shared-memory slots of the background workers that connect to
 *		dataspace.database (the sealer, the hub-sync worker, the replication
 *		worker), and the hold that keeps them out of it.
 *
 * Besides waking a worker, backends use its slot to keep it out of its
 * database while a statement that needs the database to itself runs
 * (DROP DATABASE and the like, see utility.c): holds counts such
 * statements, gone says the database was dropped or renamed away, and no
 * worker connects while either is set.  Slots hold only a pid, a latch
 * and flags: nothing process-local beyond what the postmaster's shared
 * latches already are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "dbworker.h"
#include "pg_dataspace.h"

typedef struct DbWorkerSlot
{
	Oid			database;		/* database it is connected to */
	Latch	   *latch;			/* its latch, NULL when not running */
	pid_t		pid;			/* its pid, 0 when not running */
	bool		connecting;		/* connected, or past the point of waiting */
} DbWorkerSlot;

typedef struct DbWorkerShared
{
	slock_t		mutex;
	int			holds;			/* statements keeping the workers out */
	bool		gone;			/* their database no longer exists */
	DbWorkerSlot slot[DS_WORKER_COUNT];
} DbWorkerShared;

static DbWorkerShared *dbw = NULL;

static const char *const worker_names[DS_WORKER_COUNT] = {
	"pg_dataspace sealer",
	"pg_dataspace hub sync",
	"pg_dataspace replication",
};

static const char *const worker_functions[DS_WORKER_COUNT] = {
	"dataspace_sealer_main",
	"dataspace_hubsync_main",
	"dataspace_replication_main",
};

/*
 * ds_dbworker_register
 *		Register a static worker of the preloaded library (_PG_init).  Never
 *		on a standby; restarted ten seconds after it exits with code 1 or
 *		crashes.
 */
void
ds_dbworker_register(DsWorkerKind kind)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_dataspace");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "%s", worker_functions[kind]);
	snprintf(worker.bgw_name, BGW_MAXLEN, "%s", worker_names[kind]);
	snprintf(worker.bgw_type, BGW_MAXLEN, "%s", worker_names[kind]);
	RegisterBackgroundWorker(&worker);
}

void
ds_dbworker_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(DbWorkerShared)));
}

void
ds_dbworker_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	dbw = ShmemInitStruct("pg_dataspace workers", sizeof(DbWorkerShared), &found);
	if (!found)
	{
		memset(dbw, 0, sizeof(DbWorkerShared));
		SpinLockInit(&dbw->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
dbworker_detach(int code, Datum arg)
{
	DbWorkerSlot *s = &dbw->slot[DatumGetInt32(arg)];

	SpinLockAcquire(&dbw->mutex);
	s->latch = NULL;
	s->database = InvalidOid;
	s->pid = 0;
	s->connecting = false;
	SpinLockRelease(&dbw->mutex);
}

/*
 * ds_dbworker_attach
 *		A worker takes its slot; it is cleared again at exit.
 */
void
ds_dbworker_attach(DsWorkerKind kind)
{
	DbWorkerSlot *s = &dbw->slot[kind];

	SpinLockAcquire(&dbw->mutex);
	s->pid = MyProcPid;
	s->latch = MyLatch;
	s->connecting = false;
	s->database = InvalidOid;
	SpinLockRelease(&dbw->mutex);
	on_shmem_exit(dbworker_detach, Int32GetDatum(kind));
}

/*
 * ds_dbworker_wait_until_database_free
 *		Before connecting: wait while a hold is in force or the database is
 *		gone.  Waiting here rather than exiting keeps the server log quiet
 *		after the database is dropped.
 */
void
ds_dbworker_wait_until_database_free(DsWorkerKind kind)
{
	bool		logged = false;

	for (;;)
	{
		bool		may;
		bool		gone;

		SpinLockAcquire(&dbw->mutex);
		gone = dbw->gone;
		may = dbw->holds == 0 && !gone;
		if (may)
			dbw->slot[kind].connecting = true;
		SpinLockRelease(&dbw->mutex);
		if (may)
			return;
		if (gone && !logged)
		{
			ereport(LOG,
					(errmsg("%s waits: database \"%s\" was dropped or renamed",
							worker_names[kind], dataspace_database),
					 errhint("It starts when a database of that name exists again; or change dataspace.database and restart the server.")));
			logged = true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 60000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* The worker is connected to MyDatabaseId. */
void
ds_dbworker_connected(DsWorkerKind kind)
{
	SpinLockAcquire(&dbw->mutex);
	dbw->slot[kind].database = MyDatabaseId;
	SpinLockRelease(&dbw->mutex);
}

/*
 * ds_dbworker_latch
 *		The worker's latch, or NULL when it is not running (or, with
 *		this_database_only, serves another database).  Without the
 *		preloaded library there are no workers.
 */
Latch *
ds_dbworker_latch(DsWorkerKind kind, bool this_database_only)
{
	Latch	   *latch = NULL;

	if (dbw == NULL)
		return NULL;
	SpinLockAcquire(&dbw->mutex);
	if (!this_database_only || dbw->slot[kind].database == MyDatabaseId)
		latch = dbw->slot[kind].latch;
	SpinLockRelease(&dbw->mutex);
	return latch;
}

/*
 * ds_dbworker_hold_all
 *		Keep every worker out of dataspace.database for the statement about
 *		to run: terminate those connected (or about to be) and wait until
 *		they have gone.  Returns false if one did not go within timeout_ms.
 *		Every call must be paired with ds_dbworker_release_all().
 */
bool
ds_dbworker_hold_all(int timeout_ms)
{
	pid_t		pids[DS_WORKER_COUNT];
	TimestampTz deadline;

	if (dbw == NULL)
		return true;
	SpinLockAcquire(&dbw->mutex);
	dbw->holds++;
	for (int i = 0; i < DS_WORKER_COUNT; i++)
		pids[i] = dbw->slot[i].connecting ? dbw->slot[i].pid : 0;
	SpinLockRelease(&dbw->mutex);

	for (int i = 0; i < DS_WORKER_COUNT; i++)
	{
		if (pids[i] == 0)
			continue;
		ereport(DEBUG1,
				(errmsg_internal("stopping the %s (PID %d)", worker_names[i], (int) pids[i])));
		if (kill(pids[i], SIGTERM) != 0 && errno != ESRCH)
			ereport(WARNING,
					(errmsg("could not signal the %s (PID %d): %m",
							worker_names[i], (int) pids[i])));
	}

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (;;)
	{
		bool		still = false;

		SpinLockAcquire(&dbw->mutex);
		for (int i = 0; i < DS_WORKER_COUNT; i++)
			if (pids[i] != 0 && dbw->slot[i].pid == pids[i])
				still = true;
		SpinLockRelease(&dbw->mutex);
		if (!still)
			return true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
wake_all(void)
{
	Latch	   *latches[DS_WORKER_COUNT];

	SpinLockAcquire(&dbw->mutex);
	for (int i = 0; i < DS_WORKER_COUNT; i++)
		latches[i] = dbw->slot[i].latch;
	SpinLockRelease(&dbw->mutex);
	for (int i = 0; i < DS_WORKER_COUNT; i++)
		if (latches[i] != NULL)
			SetLatch(latches[i]);
}

/*
 * ds_dbworker_release_all
 *		End a hold.  gone: the database was dropped or renamed, so no worker
 *		may connect until it exists again.
 */
void
ds_dbworker_release_all(bool gone)
{
	if (dbw == NULL)
		return;
	SpinLockAcquire(&dbw->mutex);
	dbw->holds--;
	if (gone)
		dbw->gone = true;
	SpinLockRelease(&dbw->mutex);
	wake_all();
}

/* The workers' database exists again (created, or renamed back). */
void
ds_dbworker_database_back(void)
{
	if (dbw == NULL)
		return;
	SpinLockAcquire(&dbw->mutex);
	dbw->gone = false;
	SpinLockRelease(&dbw->mutex);
	wake_all();
}
