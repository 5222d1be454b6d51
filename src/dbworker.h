/*-------------------------------------------------------------------------
 *
 * dbworker.h
 *		Shared-memory slots of the background workers that connect to
 *		dataspace.database, and the hold that keeps them out of it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_DBWORKER_H
#define DS_DBWORKER_H

#include "postgres.h"

#include "storage/latch.h"

typedef enum DsWorkerKind
{
	DS_WORKER_SEALER,
	DS_WORKER_HUBSYNC,
	DS_WORKER_REPLICATION,
	DS_WORKER_COUNT
} DsWorkerKind;

extern void ds_dbworker_shmem_request(void);
extern void ds_dbworker_shmem_startup(void);
extern void ds_dbworker_register(DsWorkerKind kind);

/* in the worker */
extern void ds_dbworker_attach(DsWorkerKind kind);
extern void ds_dbworker_wait_until_database_free(DsWorkerKind kind);
extern void ds_dbworker_connected(DsWorkerKind kind);

/* in backends */
extern Latch *ds_dbworker_latch(DsWorkerKind kind, bool this_database_only);
extern bool ds_dbworker_hold_all(int timeout_ms);
extern void ds_dbworker_release_all(bool gone);
extern void ds_dbworker_database_back(void);

#endif							/* DS_DBWORKER_H */
