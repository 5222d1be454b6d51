/*-------------------------------------------------------------------------
 *
 * guc.c
 *		The dataspace.* configuration settings.
 *
 * Every setting the extension reads is defined here, so that their
 * contexts, defaults and descriptions can be reviewed in one place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "pg_dataspace.h"

int			dataspace_mode = DATASPACE_MODE_NODE;
char	   *dataspace_node_name = NULL;
char	   *dataspace_key_file = NULL;
char	   *dataspace_database = NULL;
int			dataspace_sealer_naptime = 1000;

static const struct config_enum_entry mode_options[] = {
	{"node", DATASPACE_MODE_NODE, false},
	{"hub", DATASPACE_MODE_HUB, false},
	{NULL, 0, false}
};

/*
 * dataspace_define_gucs
 *		Define all dataspace.* settings and reserve the prefix.
 *
 * Settings that only make sense at server start (the mode, the sealer's
 * database) are PGC_POSTMASTER when the library is preloaded.  Loaded later
 * by a backend, PostgreSQL refuses to create PGC_POSTMASTER settings (a
 * FATAL error), so they are then read from the configuration file like
 * PGC_SIGHUP settings: there is no sealer to serve a database then, and the
 * mode is read, never acted on, before a server restart.
 */
void
dataspace_define_gucs(void)
{
	GucContext	startup_only = process_shared_preload_libraries_in_progress ?
		PGC_POSTMASTER : PGC_SIGHUP;

	DefineCustomEnumVariable("dataspace.mode",
							 "Whether this database is a dataspace node or the hub.",
							 "A hub holds the participant registry, the public catalog, "
							 "contract agreements and seal anchors; it never stores data points.",
							 &dataspace_mode,
							 DATASPACE_MODE_NODE,
							 mode_options,
							 startup_only,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("dataspace.node_name",
							   "Name this node takes when its identity is created on first use.",
							   "Empty means the name of the database.",
							   &dataspace_node_name,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("dataspace.key_file",
							   "File holding the key that wraps the node's private keys.",
							   "A relative path is taken from the data directory. The file "
							   "is created with mode 0600 on first use.",
							   &dataspace_key_file,
							   "pg_dataspace.key",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("dataspace.database",
							   "Database in which the background sealer runs.",
							   NULL,
							   &dataspace_database,
							   "postgres",
							   startup_only,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.sealer_naptime",
							"Longest time the background sealer sleeps between rounds.",
							"The sealer is also woken when a transaction that queued "
							"points commits.",
							&dataspace_sealer_naptime,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("dataspace");
}
