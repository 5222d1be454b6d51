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

#include "libpq-fe.h"

#include "pg_dataspace.h"

int			dataspace_mode = DATASPACE_MODE_NODE;
char	   *dataspace_node_name = NULL;
char	   *dataspace_key_file = NULL;
char	   *dataspace_database = NULL;
int			dataspace_sealer_naptime = 1000;
int			dataspace_sealer_min_interval = 10;
int			dataspace_sealer_chunk_points = 1000000;
char	   *dataspace_hub = NULL;
char	   *dataspace_hub_public_key = NULL;
char	   *dataspace_endpoint = NULL;
int			dataspace_sync_interval = 10000;
int			dataspace_hub_refusals_per_minute = 60;
int			dataspace_replication_naptime = 1000;
int			dataspace_replication_batch_points = 100000;
int			dataspace_replication_batch_bytes = 8 * 1024 * 1024;

static const struct config_enum_entry mode_options[] = {
	{"node", DATASPACE_MODE_NODE, false},
	{"hub", DATASPACE_MODE_HUB, false},
	{NULL, 0, false}
};

/*
 * A hub connection string must parse and carry no password: the setting
 * is readable in pg_settings by superusers and in the configuration file.
 */
static bool
check_hub_conninfo(char **newval, void **extra, GucSource source)
{
	char	   *err = NULL;
	PQconninfoOption *opts;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	opts = PQconninfoParse(*newval, &err);
	if (opts == NULL)
	{
		GUC_check_errdetail("The connection string does not parse: %s", err ? err : "out of memory");
		if (err)
			PQfreemem(err);
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
		{
			PQconninfoFree(opts);
			GUC_check_errdetail("The connection string holds a password.");
			GUC_check_errhint("Put the password in a password file (passfile=...) or use client certificates.");
			return false;
		}
	}
	PQconninfoFree(opts);
	return true;
}

static bool
check_public_key_hex(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0')
		return true;
	if (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
	{
		GUC_check_errdetail("A public key is 64 lower-case hex digits.");
		return false;
	}
	return true;
}

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

	DefineCustomIntVariable("dataspace.sealer_min_interval",
							"Shortest time between the starts of two rounds of the background sealer.",
							"Commits that queue points in the meantime are sealed "
							"together in the next round, instead of one round each.",
							&dataspace_sealer_min_interval,
							10,
							0,
							1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.sealer_chunk_points",
							"Most points the sealer holds in memory for one asset at once.",
							"An asset's pending runs are sealed in parts of at most this "
							"many points (32 bytes each); a larger run is read in windows "
							"of this many seq values.",
							&dataspace_sealer_chunk_points,
							1000000,
							1,
							100000000,
							PGC_SUSET,
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

	DefineCustomStringVariable("dataspace.hub",
							   "Connection string of the hub (empty: no hub).",
							   "It must not hold a password: use a password file "
							   "(passfile) or client certificates.",
							   &dataspace_hub,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   check_hub_conninfo, NULL, NULL);

	DefineCustomStringVariable("dataspace.hub_public_key",
							   "The hub's Ed25519 public key, 64 hex digits, pinned.",
							   "The hub-sync worker talks to no hub that cannot prove "
							   "it holds this key.",
							   &dataspace_hub_public_key,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_public_key_hex, NULL, NULL);

	DefineCustomStringVariable("dataspace.endpoint",
							   "Connection string peers use to reach this node.",
							   "Published at the hub with the node's registration.",
							   &dataspace_endpoint,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.hub_refusals_per_minute",
							"Refused hub submissions recorded one by one per role and minute.",
							"Further refusals of the same role in the same minute are "
							"counted in dataspace.hub_refusal_overflow and logged once.",
							&dataspace_hub_refusals_per_minute,
							60,
							0,
							1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.sync_interval",
							"Time between two rounds of the hub-sync worker.",
							"dataspace.sync_now() starts a round at once.",
							&dataspace_sync_interval,
							10000,
							100,
							24 * 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.replication_naptime",
							"Longest time between two rounds of the replication worker.",
							"The worker is woken at once when a provider it listens to "
							"notifies that it sealed new points.",
							&dataspace_replication_naptime,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.replication_batch_points",
							"Most points the replication worker asks for in one batch.",
							"A batch holds whole seals: a seal larger than this still "
							"comes alone.",
							&dataspace_replication_batch_points,
							100000,
							1,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dataspace.replication_batch_bytes",
							"Most bytes the replication worker asks for in one batch.",
							"A batch holds whole seals: a seal larger than this still "
							"comes alone.",
							&dataspace_replication_batch_bytes,
							8 * 1024 * 1024,
							65536,
							256 * 1024 * 1024,
							PGC_SIGHUP,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("dataspace");
}
