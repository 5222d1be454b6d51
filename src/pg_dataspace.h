/*-------------------------------------------------------------------------
 *
 * pg_dataspace.h
 *		Declarations shared by the backend parts of pg_dataspace.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_DATASPACE_H
#define PG_DATASPACE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "policy.h"

/* guc.c */
typedef enum DataspaceMode
{
	DATASPACE_MODE_NODE,
	DATASPACE_MODE_HUB
} DataspaceMode;

extern int	dataspace_mode;
extern char *dataspace_node_name;
extern char *dataspace_key_file;
extern char *dataspace_database;
extern int	dataspace_sealer_naptime;
extern int	dataspace_sealer_min_interval;
extern int	dataspace_sealer_chunk_points;
extern char *dataspace_hub;
extern char *dataspace_hub_public_key;
extern char *dataspace_endpoint;
extern int	dataspace_sync_interval;
extern int	dataspace_hub_refusals_per_minute;
extern int	dataspace_replication_naptime;
extern int	dataspace_replication_batch_points;
extern int	dataspace_replication_batch_bytes;

extern void dataspace_define_gucs(void);

/*
 * The channel a node's consumers listen on over their replication
 * connections: notified without payload when the sealer sealed something,
 * with DS_NOTIFY_TREE_HEAD when the node cached a new tree head of the
 * hub's anchor log (its consumers then ask for it: src/replication.c).
 */
#define DS_NOTIFY_CHANNEL	"dataspace_sealed"
#define DS_NOTIFY_TREE_HEAD	"tree head"

/* policyfuncs.c */
extern void ds_policy_from_jsonb(Jsonb *jb, ds_policy *out);

/* utility.c */
extern void ds_utility_hook_install(void);

#endif							/* PG_DATASPACE_H */
