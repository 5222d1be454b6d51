/*-------------------------------------------------------------------------
 *
 * sealstore.c
 *		Reading and writing rows of dataspace.seal.
 *
 * Reading is lenient: a stored field of the wrong shape marks the row
 * malformed instead of raising an error, so that verification can name the
 * broken seal and go on with the others.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "sealstore.h"
#include "util.h"

static bool
get_bytes(int row, int col, uint8 *out, size_t len)
{
	bool		isnull;
	Datum		d = ds_spi_get(row, col, &isnull);
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(d);
	if (VARSIZE_ANY_EXHDR(b) != len)
		return false;
	memcpy(out, VARDATA_ANY(b), len);
	return true;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * ds_seal_row_read
 *		Decode row `row` of SPI_tuptable (columns DS_SEAL_COLUMNS) into out,
 *		allocating in the current memory context.
 */
void
ds_seal_row_read(int row, DsSealRow *out)
{
	bool		isnull;
	bool		ok = true;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	char	   *alg;

	memset(out, 0, sizeof(*out));
	out->id = ds_spi_get_int64(row, 1);
	ds_spi_get_uuid(row, 2, out->s.asset_id);
	ds_spi_get_uuid(row, 3, out->s.node_id);
	out->s.chain_pos = ds_spi_get_int64(row, 4);

	arr = DatumGetArrayTypeP(ds_spi_get(row, 5, &isnull));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &enulls, &n);
	out->batch_ids = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (enulls[i])
			ok = false;
		out->batch_ids[i] = enulls[i] ? 0 : DatumGetInt64(elems[i]);
	}
	out->nbatches = n;
	qsort(out->batch_ids, n, sizeof(int64), cmp_int64);

	out->s.first_seq = ds_spi_get_int64(row, 6);
	out->s.last_seq = ds_spi_get_int64(row, 7);
	out->s.point_count = ds_spi_get_int64(row, 8);
	out->min_ts = DatumGetTimestampTz(ds_spi_get(row, 9, &isnull));
	out->max_ts = DatumGetTimestampTz(ds_spi_get(row, 10, &isnull));
	out->s.min_ts_us = ds_ts_to_unix_us(out->min_ts);
	out->s.max_ts_us = ds_ts_to_unix_us(out->max_ts);
	ok &= get_bytes(row, 11, out->s.root, DS_HASH_LEN);
	ok &= get_bytes(row, 12, out->s.prev_hash, DS_HASH_LEN);
	ok &= get_bytes(row, 13, out->seed, DS_SEED_LEN);
	ok &= get_bytes(row, 14, out->s.key_id, DS_HASH_LEN);
	ok &= get_bytes(row, 15, out->signature, DS_SIG_LEN);
	out->s.sealed_at_us = ds_ts_to_unix_us(DatumGetTimestampTz(ds_spi_get(row, 16, &isnull)));
	alg = TextDatumGetCString(ds_spi_get(row, 17, &isnull));
	ok &= strcmp(alg, DS_ALGORITHM_ED25519) == 0;
	out->malformed = !ok;
}

/*
 * ds_seal_row_insert
 *		Insert a seal made by the sealer; returns its id.
 */
int64
ds_seal_row_insert(DsSealRow *r)
{
	static SPIPlanPtr insert_plan = NULL;
	Oid			types[16] = {UUIDOID, UUIDOID, INT8OID, INT8ARRAYOID, INT8OID, INT8OID,
		INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID, BYTEAOID,
	BYTEAOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID};
	Datum		values[16];
	Datum	   *elems = palloc(sizeof(Datum) * r->nbatches);
	uint8		hash[DS_HASH_LEN];

	for (int i = 0; i < r->nbatches; i++)
		elems[i] = Int64GetDatum(r->batch_ids[i]);
	if (!ds_seal_hash(ds_backend_hasher(), &r->s, hash))
		elog(ERROR, "could not hash seal");

	values[0] = ds_uuid_datum(r->s.asset_id);
	values[1] = ds_uuid_datum(r->s.node_id);
	values[2] = Int64GetDatum(r->s.chain_pos);
	values[3] = PointerGetDatum(construct_array(elems, r->nbatches, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = Int64GetDatum(r->s.first_seq);
	values[5] = Int64GetDatum(r->s.last_seq);
	values[6] = Int64GetDatum(r->s.point_count);
	values[7] = TimestampTzGetDatum(ds_unix_us_to_ts(r->s.min_ts_us));
	values[8] = TimestampTzGetDatum(ds_unix_us_to_ts(r->s.max_ts_us));
	values[9] = ds_bytea_datum(r->s.root, DS_HASH_LEN);
	values[10] = ds_bytea_datum(r->s.prev_hash, DS_HASH_LEN);
	values[11] = ds_bytea_datum(hash, DS_HASH_LEN);
	values[12] = ds_bytea_datum(r->seed, DS_SEED_LEN);
	values[13] = ds_bytea_datum(r->s.key_id, DS_HASH_LEN);
	values[14] = ds_bytea_datum(r->signature, DS_SIG_LEN);
	values[15] = TimestampTzGetDatum(ds_unix_us_to_ts(r->s.sealed_at_us));

	ds_spi_exec_kept(&insert_plan,
					 "INSERT INTO dataspace.seal (asset_id, node_id, chain_pos, batch_ids,"
				" first_seq, last_seq, point_count, min_ts, max_ts, merkle_root,"
				" prev_hash, seal_hash, blinding_seed, key_id, signature, sealed_at)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
				" $15, $16) RETURNING id", 16, types, values, NULL, false, 1);
	r->id = ds_spi_get_int64(0, 1);
	return r->id;
}

/*
 * ds_seal_row_has_batch
 *		Binary search in the sorted batch list.
 */
bool
ds_seal_row_has_batch(const DsSealRow *r, int64 batch_id)
{
	return bsearch(&batch_id, r->batch_ids, r->nbatches, sizeof(int64),
				   cmp_int64) != NULL;
}
