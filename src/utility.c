/*-------------------------------------------------------------------------
 *
 * utility.c
 *		Get the background workers (sealer, hub sync) out of the way of
 *		statements that need their database to themselves.
 *
 * DROP DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ... RENAME
 * and ALTER DATABASE ... SET TABLESPACE refuse to run while any other
 * process is connected to the database; PostgreSQL 15 asks ordinary
 * backends to leave but waits about five seconds for a background worker
 * and then fails.  So, as TimescaleDB does for its scheduler, this hook
 * stops the workers first and keeps them away while the statement runs.
 * After a DROP or a rename away they wait until a database of that name
 * exists again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

#include "dbworker.h"
#include "pg_dataspace.h"

/* how long to wait for the sealer to leave its database */
#define SEALER_STOP_TIMEOUT_MS 10000

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

typedef enum SealerEffect
{
	SEALER_UNAFFECTED,
	SEALER_PAUSE,				/* keep it out while the statement runs */
	SEALER_DATABASE_GONE,		/* ... and afterwards: its database is gone */
	SEALER_DATABASE_BACK		/* its database exists again afterwards */
} SealerEffect;

static bool
is_sealer_database(const char *name)
{
	return name != NULL && dataspace_database != NULL &&
		strcmp(name, dataspace_database) == 0;
}

/*
 * What the statement means for the sealer's database.
 */
static SealerEffect
sealer_effect(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			if (is_sealer_database(((DropdbStmt *) stmt)->dbname))
				return SEALER_DATABASE_GONE;
			break;
		case T_CreatedbStmt:
			{
				CreatedbStmt *c = (CreatedbStmt *) stmt;

				if (is_sealer_database(c->dbname))
					return SEALER_DATABASE_BACK;
				foreach(lc, c->options)
				{
					DefElem    *opt = lfirst_node(DefElem, lc);

					if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL &&
						is_sealer_database(defGetString(opt)))
						return SEALER_PAUSE;
				}
				break;
			}
		case T_RenameStmt:
			{
				RenameStmt *r = (RenameStmt *) stmt;

				if (r->renameType != OBJECT_DATABASE)
					break;
				if (is_sealer_database(r->subname))
					return SEALER_DATABASE_GONE;
				if (is_sealer_database(r->newname))
					return SEALER_DATABASE_BACK;
				break;
			}
		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *a = (AlterDatabaseStmt *) stmt;

				if (!is_sealer_database(a->dbname))
					break;
				foreach(lc, a->options)
				{
					if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
						return SEALER_PAUSE;
				}
				break;
			}
		default:
			break;
	}
	return SEALER_UNAFFECTED;
}

static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

static void
dataspace_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
						 bool readOnlyTree, ProcessUtilityContext context,
						 ParamListInfo params, QueryEnvironment *queryEnv,
						 DestReceiver *dest, QueryCompletion *qc)
{
	SealerEffect effect = sealer_effect(pstmt->utilityStmt);
	bool		done = false;

	if (effect == SEALER_UNAFFECTED || effect == SEALER_DATABASE_BACK)
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
		if (effect == SEALER_DATABASE_BACK)
			ds_dbworker_database_back();
		return;
	}

	if (!ds_dbworker_hold_all(SEALER_STOP_TIMEOUT_MS))
		ereport(WARNING,
				(errmsg("the pg_dataspace workers did not leave database \"%s\" in time",
						dataspace_database)));
	PG_TRY();
	{
		run_utility(pstmt, queryString, readOnlyTree, context, params,
					queryEnv, dest, qc);
		done = true;
	}
	PG_FINALLY();
	{
		ds_dbworker_release_all(done && effect == SEALER_DATABASE_GONE);
	}
	PG_END_TRY();
}

void
ds_utility_hook_install(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = dataspace_ProcessUtility;
}
