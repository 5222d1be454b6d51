/*-------------------------------------------------------------------------
 *
 * fuzz_twinmodel.c
 *		libFuzzer target: the DTDL v2 twin model checker (src/twinmodel.c),
 *		which is what the twin table's trigger, validate_model() and
 *		create_twin_assets() run on user input.
 *
 * Properties checked on every input:
 *
 *	- the verdict does not depend on whether the model is wanted: checking
 *	  with and without an output gives the same verdict and the same
 *	  sentences;
 *	- a refusal always says why in a non-empty sentence that ends with a
 *	  period, and a valid model says nothing;
 *	- for a valid model, the Telemetry list agrees with the contents: at
 *	  most as many elements, positions increasing and inside contents,
 *	  names non-empty DTDL names, the numeric flag consistent with the
 *	  schema.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twinmodel.h"

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer saves the
 *		input as a crash.
 */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_twinmodel: %s\n", what);
	abort();
}

/* DTDL's name rule: a letter, then letters, digits, '_', not ending in '_'. */
static int
is_dtdl_name(const char *s)
{
	size_t		n = strlen(s);

	if (n == 0 || n > DS_TWIN_NAME_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return s[n - 1] != '_';
}

static int
ends_with_period(const char *s)
{
	size_t		n = strlen(s);

	return n > 0 && s[n - 1] == '.';
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static ds_twin_model model;
	char		why1[1024],
				hint1[1024],
				why2[1024],
				hint2[1024];
	ds_twin_result r1,
				r2;
	int			last = -1;

	memset(why1, 0x55, sizeof(why1));
	memset(why2, 0x55, sizeof(why2));
	why1[0] = why2[0] = hint1[0] = hint2[0] = '\0';
	r1 = ds_twin_model_check((const char *) data, size, &model,
							 why1, sizeof(why1), hint1, sizeof(hint1));
	r2 = ds_twin_model_check((const char *) data, size, NULL,
							 why2, sizeof(why2), hint2, sizeof(hint2));
	if (r1 != r2)
		fail("the verdict depends on whether the model is wanted");
	if (memchr(why1, '\0', sizeof(why1)) == NULL || memchr(hint1, '\0', sizeof(hint1)) == NULL)
		fail("a sentence is not terminated");
	if (strcmp(why1, why2) != 0 || strcmp(hint1, hint2) != 0)
		fail("the sentences depend on whether the model is wanted");

	if (r1 != DS_TWIN_VALID)
	{
		if (r1 != DS_TWIN_BAD_JSON && r1 != DS_TWIN_INVALID && r1 != DS_TWIN_UNSUPPORTED &&
			r1 != DS_TWIN_NO_MEMORY)
			fail("unknown verdict");
		if (!ends_with_period(why1))
			fail("a refusal without a full sentence saying why");
		if (hint1[0] != '\0' && !ends_with_period(hint1))
			fail("a hint that is not a full sentence");
		return 0;
	}

	if (model.ncontents < 0 || model.ncontents > DS_TWIN_MAX_CONTENTS ||
		model.ntelemetry < 0 || model.ntelemetry > model.ncontents)
		fail("telemetry count out of range");
	if (memchr(model.id, '\0', sizeof(model.id)) == NULL || strncmp(model.id, "dtmi:", 5) != 0)
		fail("a valid model without a DTMI @id");
	for (int i = 0; i < model.ntelemetry; i++)
	{
		const ds_twin_telemetry *t = &model.telemetry[i];

		if (t->index <= last || t->index >= model.ncontents)
			fail("telemetry positions not increasing inside contents");
		last = t->index;
		if (memchr(t->name, '\0', sizeof(t->name)) == NULL || !is_dtdl_name(t->name))
			fail("telemetry with a name DTDL does not allow");
		if (t->schema == DS_SCHEMA_NONE)
			fail("telemetry without a schema");
		if (ds_twin_schema_numeric(t->schema) !=
			(t->schema == DS_SCHEMA_DOUBLE || t->schema == DS_SCHEMA_FLOAT ||
			 t->schema == DS_SCHEMA_INTEGER || t->schema == DS_SCHEMA_LONG))
			fail("numeric flag inconsistent with the schema");
		if (ds_twin_schema_name(t->schema) == NULL)
			fail("a schema without a name");
		if (t->unit[0] != '\0' && t->semantic_type[0] == '\0')
			fail("a unit without a semantic type");
	}
	return 0;
}
