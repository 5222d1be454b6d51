/*-------------------------------------------------------------------------
 *
 * alarm.c
 *		Clearing the alarms the hub-sync worker raises: on a contract
 *		(dataspace.contract.alarm: a refused step, a substituted key, a
 *		crossing lost) and on a participant (dataspace.participant.key_alarm).
 *
 * An alarm stays until an operator has looked at it.  Clearing it is an
 * audited act: the audit log keeps the alarm's text and who cleared it,
 * so that clearing cannot hide that there was one.  A condition that
 * still holds raises the alarm again at the next round.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "audit.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_clear_alarm);
PG_FUNCTION_INFO_V1(dataspace_clear_key_alarm);

/*
 * clear_one
 *		Read and clear one alarm column (inside SPI); the text cleared, in
 *		outer, or NULL if none was set.  Errors if the row does not exist.
 */
static char *
clear_one(const char *select_sql, const char *update_sql, const char *event,
		  const char *what, pg_uuid_t *id, MemoryContext outer)
{
	bool		isnull;
	Datum		d;
	char	   *alarm;

	if (ds_spi_exec(select_sql, 1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(id)},
					NULL, false, -1) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s %s does not exist on this server", what, ds_uuid_text(id->data))));
	d = ds_spi_get(0, 1, &isnull);
	if (isnull)
		return NULL;
	alarm = TextDatumGetCString(d);
	ds_spi_exec(update_sql, 1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(id)},
				NULL, false, 1);
	ds_audit_append(event, ds_uuid_text(id->data), ds_audit_json(1, "alarm", alarm));
	return MemoryContextStrdup(outer, alarm);
}

/*
 * dataspace.clear_alarm(contract uuid) returns text
 *		Clear a contract's alarm; returns what it said (NULL: none).
 */
Datum
dataspace_clear_alarm(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	MemoryContext outer = CurrentMemoryContext;
	char	   *cleared;

	SPI_connect();
	cleared = clear_one("SELECT alarm FROM dataspace.contract WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						"UPDATE dataspace.contract SET alarm = NULL WHERE id OPERATOR(pg_catalog.=) $1",
						"contract.alarm_cleared", "contract", id, outer);
	SPI_finish();
	if (cleared == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(cleared));
}

/*
 * dataspace.clear_key_alarm(participant uuid) returns text
 *		Clear a participant's key alarm; returns what it said (NULL: none).
 */
Datum
dataspace_clear_key_alarm(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	MemoryContext outer = CurrentMemoryContext;
	char	   *cleared;

	SPI_connect();
	cleared = clear_one("SELECT key_alarm FROM dataspace.participant WHERE node_id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
						"UPDATE dataspace.participant SET key_alarm = NULL, key_alarm_at = NULL"
						" WHERE node_id OPERATOR(pg_catalog.=) $1",
						"participant.key_alarm_cleared", "participant", id, outer);
	SPI_finish();
	if (cleared == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(cleared));
}
