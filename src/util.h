/*-------------------------------------------------------------------------
 *
 * util.h
 *		Small backend helpers shared by the extension's C files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_UTIL_H
#define DS_UTIL_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "seal.h"

/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define DS_UNIX_EPOCH_OFFSET_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static inline int64
ds_ts_to_unix_us(TimestampTz ts)
{
	return (int64) ts + DS_UNIX_EPOCH_OFFSET_US;
}

static inline TimestampTz
ds_unix_us_to_ts(int64 us)
{
	return (TimestampTz) (us - DS_UNIX_EPOCH_OFFSET_US);
}

/* Run code as the owner of the dataspace schema (the extension's owner). */
typedef struct DsSavedUser
{
	Oid			userid;
	int			sec_context;
} DsSavedUser;

extern Oid	ds_schema_oid(void);
extern void ds_become_owner(DsSavedUser *saved);
extern void ds_restore_user(const DsSavedUser *saved);

/* SPI with a result count check and PostgreSQL-style errors. */
extern int	ds_spi_exec(const char *sql, int nargs, Oid *types, Datum *values,
						const char *nulls, bool read_only, int expected);

static inline bool
ds_spi_getbool(int row, int col, bool *isnull)
{
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[row],
									  SPI_tuptable->tupdesc, col, isnull));
}

/* A query's rows, one at a time, straight from the executor. */
typedef void (*ds_scan_row_fn) (Datum *values, bool *isnull, void *arg);
extern uint64 ds_spi_scan(const char *sql, int nargs, Oid *types, Datum *values,
						  bool read_only, ds_scan_row_fn fn, void *arg);

/* The same through plans prepared once per backend and kept. */
extern SPIPlanPtr ds_spi_kept_plan(SPIPlanPtr *slot, const char *sql, int nargs,
								   Oid *types);
extern SPIPlanPtr *ds_spi_text_slot(const char *sql, int nargs, Oid *types,
									int cursor_options);
extern int	ds_spi_exec_kept(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types,
							 Datum *values, const char *nulls, bool read_only,
							 int expected);
extern uint64 ds_spi_scan_kept(SPIPlanPtr *slot, const char *sql, int nargs,
							   Oid *types, Datum *values, bool read_only,
							   ds_scan_row_fn fn, void *arg);

extern Datum ds_spi_get(int row, int col, bool *isnull);
extern int64 ds_spi_get_int64(int row, int col);
extern void ds_spi_get_bytes(int row, int col, uint8 *out, size_t len);
extern void ds_spi_get_uuid(int row, int col, uint8 out[DS_UUID_LEN]);

extern Datum ds_bytea_datum(const uint8 *data, size_t len);
extern Datum ds_uuid_datum(const uint8 bytes[DS_UUID_LEN]);
extern void ds_bytea_copy(Datum d, uint8 *out, size_t len, const char *what);
extern char *ds_hex(const uint8 *data, size_t len);
extern char *ds_uuid_text(const uint8 bytes[DS_UUID_LEN]);

/* A per-backend SHA-256 context, allocated on first use. */
extern ds_hasher *ds_backend_hasher(void);

#endif							/* DS_UTIL_H */
