/*-------------------------------------------------------------------------
 *
 * policyfuncs.c
 *		SQL functions over contract policies: check_policy, policy_allows,
 *		explain_policy.  The engine itself is policy.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "policy.h"
#include "pg_dataspace.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_check_policy);
PG_FUNCTION_INFO_V1(dataspace_policy_allows);
PG_FUNCTION_INFO_V1(dataspace_explain_policy);

/*
 * ds_policy_from_jsonb
 *		Read a policy or fail with an error that names the problem.
 */
void
ds_policy_from_jsonb(Jsonb *jb, ds_policy *out)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	char		why[256];

	if (!ds_policy_parse(text, strlen(text), out, why, sizeof(why)))
	{
		why[0] = pg_toupper((unsigned char) why[0]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid contract policy"),
				 errdetail("%s.", why),
				 errhint("docs/policy.md lists the terms a policy may use and their forms.")));
	}
	pfree(text);
}

/* Microseconds since the Unix epoch of a finite timestamptz argument. */
static int64
instant_arg(TimestampTz ts, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite timestamp", name)));
	return ds_ts_to_unix_us(ts);
}

/*
 * dataspace.check_policy(policy jsonb) returns jsonb
 *		The policy in canonical form, or an error naming what is wrong.
 */
Datum
dataspace_check_policy(PG_FUNCTION_ARGS)
{
	ds_policy	p;
	char	   *canonical = palloc(DS_POLICY_TEXT_MAX);

	ds_policy_from_jsonb(PG_GETARG_JSONB_P(0), &p);
	if (ds_policy_canonical(&p, canonical, DS_POLICY_TEXT_MAX) == 0)
		elog(ERROR, "could not write the canonical form of a policy");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(canonical)));
}

/*
 * dataspace.policy_allows(policy jsonb, ts timestamptz, at timestamptz)
 *		May a point with timestamp ts be used at time at?
 */
Datum
dataspace_policy_allows(PG_FUNCTION_ARGS)
{
	ds_policy	p;

	ds_policy_from_jsonb(PG_GETARG_JSONB_P(0), &p);
	PG_RETURN_BOOL(ds_policy_decide(&p, instant_arg(PG_GETARG_TIMESTAMPTZ(1), "ts"),
									instant_arg(PG_GETARG_TIMESTAMPTZ(2), "at"))
				   == DS_POLICY_ALLOWED);
}

/*
 * dataspace.explain_policy(policy jsonb, ts timestamptz, at timestamptz)
 *		The decision and, term by term, why.
 */
Datum
dataspace_explain_policy(PG_FUNCTION_ARGS)
{
	ds_policy	p;
	char	   *text = palloc(DS_POLICY_TEXT_MAX);

	ds_policy_from_jsonb(PG_GETARG_JSONB_P(0), &p);
	if (ds_policy_explain(&p, instant_arg(PG_GETARG_TIMESTAMPTZ(1), "ts"),
						  instant_arg(PG_GETARG_TIMESTAMPTZ(2), "at"),
						  text, DS_POLICY_TEXT_MAX) == 0)
		elog(ERROR, "could not explain a policy");
	PG_RETURN_TEXT_P(cstring_to_text(text));
}
