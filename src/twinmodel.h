/*-------------------------------------------------------------------------
 *
 * twinmodel.h
 *		Twin models: the reader and checks of the DTDL v2 subset that
 *		dataspace.twin.model holds (docs/twin-models.md).
 *
 * Pure code (C library only), so the extension, fuzz targets and unit
 * tests read models the same way.  The checker reads JSON text, never
 * trusts a length, never reads past its end, bounds its recursion, and
 * reports the first problem as a full sentence naming the offending
 * element, plus a hint where one helps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_TWINMODEL_H
#define DS_TWINMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of DTDL v2 */
#define DS_TWIN_MAX_CONTENTS	300 /* contents of an interface */
#define DS_TWIN_NAME_MAX		64	/* characters of a name */
#define DS_TWIN_INTERFACE_ID_MAX 128	/* characters of an interface's @id */
#define DS_TWIN_DTMI_MAX		2048	/* characters of any other user DTMI */
#define DS_TWIN_DISPLAY_NAME_MAX 64 /* characters of a displayName */
#define DS_TWIN_TEXT_MAX		512 /* characters of a description, comment */
#define DS_TWIN_MAX_MULTIPLICITY 500
/* Limits of this subset */
#define DS_TWIN_MAX_LANGUAGES	64	/* entries of a language map */
#define DS_TWIN_MAX_DEPTH		32	/* nesting of arrays and objects */

/* Bytes a description may take in UTF-8, with its terminator. */
#define DS_TWIN_TEXT_BYTES		(DS_TWIN_TEXT_MAX * 4 + 1)

typedef enum ds_twin_result
{
	DS_TWIN_VALID,
	DS_TWIN_BAD_JSON,			/* not JSON text (never from a jsonb) */
	DS_TWIN_INVALID,			/* JSON, but not a valid model */
	DS_TWIN_UNSUPPORTED,		/* valid DTDL outside this subset */
	DS_TWIN_NO_MEMORY			/* malloc failed: no verdict */
} ds_twin_result;

typedef enum ds_twin_schema
{
	DS_SCHEMA_NONE,
	DS_SCHEMA_BOOLEAN,
	DS_SCHEMA_DATE,
	DS_SCHEMA_DATETIME,
	DS_SCHEMA_DOUBLE,
	DS_SCHEMA_DURATION,
	DS_SCHEMA_FLOAT,
	DS_SCHEMA_INTEGER,
	DS_SCHEMA_LONG,
	DS_SCHEMA_STRING,
	DS_SCHEMA_TIME
} ds_twin_schema;

/* One Telemetry element of a valid model, as create_twin_assets needs it. */
typedef struct ds_twin_telemetry
{
	int			index;			/* position in contents */
	char		name[DS_TWIN_NAME_MAX + 1];
	ds_twin_schema schema;
	char		semantic_type[32];	/* "" when there is none */
	char		unit[32];		/* "" when there is none */
	bool		has_description;	/* the English one, see twinmodel.c */
	char		description[DS_TWIN_TEXT_BYTES];
} ds_twin_telemetry;

typedef struct ds_twin_model
{
	char		id[DS_TWIN_INTERFACE_ID_MAX + 1];
	int			ncontents;
	int			ntelemetry;
	ds_twin_telemetry telemetry[DS_TWIN_MAX_CONTENTS];
} ds_twin_model;

/*
 * Check the JSON text of a model.  out may be NULL when only the verdict
 * is wanted.  On a refusal why receives a full sentence and hint a full
 * sentence or "".
 */
extern ds_twin_result ds_twin_model_check(const char *json, size_t len,
										  ds_twin_model *out,
										  char *why, size_t whylen,
										  char *hint, size_t hintlen);

extern const char *ds_twin_schema_name(ds_twin_schema s);
extern bool ds_twin_schema_numeric(ds_twin_schema s);

#endif							/* DS_TWINMODEL_H */
