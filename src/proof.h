/*-------------------------------------------------------------------------
 *
 * proof.h
 *		Inclusion proofs of one point: the JSON form, its strict parser and
 *		the checks that make a proof valid.
 *
 * Pure code like seal.c (C library and libcrypto only), so the extension,
 * the fuzz targets and any other program read and check proofs the same
 * way.  docs/encoding.md ("Inclusion proof") is the specification.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_PROOF_H
#define DS_PROOF_H

#include "seal.h"

#define DS_PROOF_FORMAT		"pg_dataspace.point_proof"
#define DS_PROOF_VERSION	1

/* Longest proof text ds_proof_to_json can write, path included. */
#define DS_PROOF_JSON_MAX	(2048 + DS_MAX_TREE_DEPTH * (DS_HASH_LEN * 2 + 4))

/* Longest JSON text the parser accepts; a real proof is far shorter. */
#define DS_PROOF_INPUT_MAX	65536

typedef enum ds_proof_result
{
	DS_PROOF_VALID,				/* every check holds */
	DS_PROOF_INVALID,			/* well formed, but a check fails */
	DS_PROOF_MALFORMED			/* not a proof of the documented shape */
} ds_proof_result;

typedef struct ds_proof
{
	uint8_t		asset_id[DS_UUID_LEN];
	int64_t		seq;
	int64_t		ts_us;			/* the "ts_us" member */
	int64_t		ts_text_us;		/* the "ts" member, read back */
	double		value;
	uint8_t		nonce[DS_NONCE_LEN];
	uint8_t		leaf_hash[DS_HASH_LEN];
	uint64_t	leaf_index;
	int			path_len;
	uint8_t		path[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
	int64_t		seal_id;		/* informative, not signed */
	ds_seal		seal;			/* the signed members */
	uint8_t		public_key[DS_PUBKEY_LEN];
	uint8_t		signature[DS_SIG_LEN];
	uint8_t		seal_hash[DS_HASH_LEN];
} ds_proof;

extern ds_proof_result ds_proof_parse(const char *json, size_t len,
									  ds_proof *out, char *why, size_t whylen);
extern ds_proof_result ds_proof_check(ds_hasher *h, const ds_proof *p,
									  char *why, size_t whylen);
extern ds_proof_result ds_proof_verify(ds_hasher *h, const char *json,
									   size_t len, char *why, size_t whylen);
extern size_t ds_proof_to_json(const ds_proof *p, char *out, size_t cap);

#endif							/* DS_PROOF_H */
