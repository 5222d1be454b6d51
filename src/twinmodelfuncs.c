/*-------------------------------------------------------------------------
 *
 * twinmodelfuncs.c
 *		SQL functions over twin models: validate_model, used by the twin
 *		table's trigger, and model_telemetry, used by create_twin_assets.
 *		The checks themselves are twinmodel.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "twinmodel.h"

PG_FUNCTION_INFO_V1(dataspace_validate_model);
PG_FUNCTION_INFO_V1(dataspace_model_telemetry);

/*
 * check_model
 *		Check a jsonb model; raise an error naming the first problem.
 *
 * out may be NULL.  A jsonb is always JSON text, so the invalid_json_text
 * branch only guards against a reader and jsonb disagreeing.
 */
static void
check_model(Jsonb *jb, ds_twin_model *out)
{
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	char		why[1024];
	char		hint[512];
	ds_twin_result res;

	res = ds_twin_model_check(text, strlen(text), out, why, sizeof(why),
							  hint, sizeof(hint));
	pfree(text);
	if (res == DS_TWIN_VALID)
		return;
	if (hint[0] == '\0')
		snprintf(hint, sizeof(hint), "%s",
				 "The DTDL v2 subset that twin models are checked against is described in docs/twin-models.md.");
	if (res == DS_TWIN_NO_MEMORY)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("%s", why)));
	if (res == DS_TWIN_UNSUPPORTED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unsupported twin model"),
				 errdetail("%s", why),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(res == DS_TWIN_BAD_JSON ? ERRCODE_INVALID_JSON_TEXT :
					 ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid twin model"),
			 errdetail("%s", why),
			 errhint("%s", hint)));
}

/*
 * dataspace.validate_model(model jsonb) returns void
 *		Nothing if the model is in the subset, else an error saying why.
 */
Datum
dataspace_validate_model(PG_FUNCTION_ARGS)
{
	check_model(PG_GETARG_JSONB_P(0), NULL);
	PG_RETURN_VOID();
}

/*
 * dataspace.model_telemetry(model jsonb)
 *		One row per Telemetry element of a valid model, in model order:
 *		content_index, name, schema, semantic_type, unit, description, numeric_schema.
 */
Datum
dataspace_model_telemetry(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ds_twin_model *model = palloc(sizeof(ds_twin_model));

	check_model(PG_GETARG_JSONB_P(0), model);
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < model->ntelemetry; i++)
	{
		ds_twin_telemetry *t = &model->telemetry[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		values[0] = Int32GetDatum(t->index);
		values[1] = CStringGetTextDatum(t->name);
		values[2] = CStringGetTextDatum(ds_twin_schema_name(t->schema));
		if (t->semantic_type[0] != '\0')
			values[3] = CStringGetTextDatum(t->semantic_type);
		else
			nulls[3] = true;
		if (t->unit[0] != '\0')
			values[4] = CStringGetTextDatum(t->unit);
		else
			nulls[4] = true;
		if (t->has_description)
			values[5] = CStringGetTextDatum(t->description);
		else
			nulls[5] = true;
		values[6] = BoolGetDatum(ds_twin_schema_numeric(t->schema));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(model);
	return (Datum) 0;
}
