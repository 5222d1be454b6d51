/*-------------------------------------------------------------------------
 *
 * sealstore.h
 *		Reading and writing rows of dataspace.seal.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_SEALSTORE_H
#define DS_SEALSTORE_H

#include "postgres.h"

#include "utils/timestamp.h"

#include "seal.h"

/* The columns ds_seal_row_read expects, in this order. */
#define DS_SEAL_COLUMNS \
	"id, asset_id, node_id, chain_pos, batch_ids, first_seq, last_seq," \
	" point_count, min_ts, max_ts, merkle_root, prev_hash, blinding_seed," \
	" key_id, signature, sealed_at, algorithm"

typedef struct DsSealRow
{
	int64		id;
	ds_seal		s;				/* the signed fields */
	int			nbatches;
	int64	   *batch_ids;		/* sorted */
	uint8		seed[DS_SEED_LEN];
	uint8		signature[DS_SIG_LEN];
	TimestampTz min_ts;
	TimestampTz max_ts;
	bool		malformed;		/* a stored field has the wrong shape */
} DsSealRow;

extern void ds_seal_row_read(int row, DsSealRow *out);
extern int64 ds_seal_row_insert(DsSealRow *r);
extern bool ds_seal_row_has_batch(const DsSealRow *r, int64 batch_id);

#endif							/* DS_SEALSTORE_H */
