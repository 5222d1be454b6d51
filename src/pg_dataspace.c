/*-------------------------------------------------------------------------
 *
 * pg_dataspace.c
 *		Module entry point: settings, shared memory and worker registration.
 *
 * The SQL features work without preloading.  Preloaded
 * (shared_preload_libraries = 'pg_dataspace'), the library also reserves
 * shared memory and starts the background sealer, which seals committed
 * points in dataspace.database as soon as they commit, and hooks utility
 * statements so the sealer never blocks DROP DATABASE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"

#include "dbworker.h"
#include "ingest.h"
#include "pg_dataspace.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
dataspace_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	ds_dbworker_shmem_request();
}

static void
dataspace_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	ds_dbworker_shmem_startup();
}

/*
 * _PG_init
 *		Define settings; when preloaded, also reserve shared memory and
 *		register the background workers (the sealer; on a node, hub sync
 *		and replication).
 */
void
_PG_init(void)
{
	dataspace_define_gucs();

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = dataspace_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = dataspace_shmem_startup;

	ds_dbworker_register(DS_WORKER_SEALER);
	if (dataspace_mode == DATASPACE_MODE_NODE)
	{
		ds_dbworker_register(DS_WORKER_HUBSYNC);
		ds_dbworker_register(DS_WORKER_REPLICATION);
	}
	ds_utility_hook_install();
}
