/*-------------------------------------------------------------------------
 *
 * ingest.h
 *		The write path of dataspace.point, and the sealer it wakes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_INGEST_H
#define DS_INGEST_H

#include "postgres.h"

/* ingest.c */
extern bool ds_retention_in_progress;
extern void ds_ingest_reset(void);

/* sealer.c */
extern void ds_wake_sealer(void);
extern int64 ds_seal_round(const uint8 *only_asset, bool force);

#endif							/* DS_INGEST_H */
