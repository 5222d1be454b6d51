/*-------------------------------------------------------------------------
 *
 * seal.h
 *		Canonical encodings, leaf and Merkle hashing, Ed25519 signatures.
 *
 * This is pure code: no PostgreSQL headers, no backend calls, only the C
 * library and OpenSSL's libcrypto.  It is compiled into the extension, the
 * agent and the fuzz targets, so all three agree byte for byte.  The
 * encodings are specified in docs/encoding.md; keep the two in step.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_SEAL_H
#define DS_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_HASH_LEN		32
#define DS_UUID_LEN		16
#define DS_NONCE_LEN	16
#define DS_SEED_LEN		32
#define DS_PUBKEY_LEN	32
#define DS_PRIVKEY_LEN	32
#define DS_SIG_LEN		64
#define DS_MAX_TREE_DEPTH 64

/* Signed message framing: magic, format version, type. */
#define DS_MSG_MAGIC	"PGDS"
#define DS_MSG_VERSION	1

typedef enum ds_msg_type
{
	DS_MSG_SEAL = 1,
	DS_MSG_KEY_ANNOUNCE = 2,
	DS_MSG_RETENTION = 3,
	DS_MSG_KEY_REVOKE = 4
} ds_msg_type;

/* Domain-separation prefixes of the hashed byte strings. */
#define DS_PREFIX_LEAF	0x00	/* RFC 6962 leaf */
#define DS_PREFIX_NODE	0x01	/* RFC 6962 interior node */
#define DS_PREFIX_NONCE 0x02	/* per-point blinding nonce */

#define DS_ALGORITHM_ED25519 "ed25519"

/* A SHA-256 context fetched once and reused for many short hashes. */
typedef struct ds_hasher ds_hasher;

extern ds_hasher *ds_hasher_new(void);
extern void ds_hasher_free(ds_hasher *h);
extern bool ds_hasher_is_direct(const ds_hasher *h);
extern bool ds_sha256(ds_hasher *h, const void *data, size_t len,
					  uint8_t out[DS_HASH_LEN]);

/* Leaves and interior nodes. */
extern bool ds_leaf_nonce(ds_hasher *h, const uint8_t seed[DS_SEED_LEN],
						  const uint8_t asset_id[DS_UUID_LEN], int64_t seq,
						  uint8_t nonce[DS_NONCE_LEN]);
extern uint64_t ds_value_bits(double value);
extern bool ds_leaf_hash(ds_hasher *h, const uint8_t asset_id[DS_UUID_LEN],
						 int64_t seq, int64_t ts_us, double value,
						 const uint8_t nonce[DS_NONCE_LEN],
						 uint8_t out[DS_HASH_LEN]);
extern bool ds_node_hash(ds_hasher *h, const uint8_t left[DS_HASH_LEN],
						 const uint8_t right[DS_HASH_LEN],
						 uint8_t out[DS_HASH_LEN]);

/*
 * Incremental RFC 6962 Merkle tree head: add leaf hashes in order, then ask
 * for the root.  Memory is O(log n), so one builder per seal is cheap even
 * when many seals are checked in one pass.
 */
typedef struct ds_merkle
{
	uint64_t	count;
	int			depth;
	uint8_t		stack[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
} ds_merkle;

extern void ds_merkle_init(ds_merkle *m);
extern bool ds_merkle_add(ds_hasher *h, ds_merkle *m,
						  const uint8_t leaf_hash[DS_HASH_LEN]);
extern bool ds_merkle_root(ds_hasher *h, const ds_merkle *m,
						   uint8_t root[DS_HASH_LEN]);

/*
 * A source of subtree hashes: MTH(D[start:start + size]) of a tree's
 * leaves, size >= 1.  Proofs are made from one, so that a tree kept as
 * stored nodes (the hub's anchor log) and one kept as an array of leaf
 * hashes (a seal) share the code.
 */
typedef bool (*ds_subtree_fn) (void *arg, uint64_t start, uint64_t size,
							   uint8_t out[DS_HASH_LEN]);

/* the subtrees of an array of leaf hashes */
typedef struct ds_leaf_array
{
	ds_hasher  *h;
	const uint8_t (*leaves)[DS_HASH_LEN];
} ds_leaf_array;

extern bool ds_leaf_array_subtree(void *arg, uint64_t start, uint64_t size,
								  uint8_t out[DS_HASH_LEN]);

/* Inclusion proofs (RFC 9162 section 2.1.3). */
extern int	ds_merkle_path_length(uint64_t index, uint64_t size);
extern bool ds_merkle_path(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN],
						   uint64_t size, uint64_t index,
						   uint8_t (*path)[DS_HASH_LEN], int *path_len);
extern bool ds_merkle_path_from(ds_subtree_fn subtree, void *arg,
								uint64_t size, uint64_t index,
								uint8_t (*path)[DS_HASH_LEN], int *path_len);
extern bool ds_merkle_verify_path(ds_hasher *h,
								  const uint8_t leaf_hash[DS_HASH_LEN],
								  uint64_t index, uint64_t size,
								  const uint8_t (*path)[DS_HASH_LEN],
								  int path_len,
								  const uint8_t root[DS_HASH_LEN]);

/*
 * Message writer: "PGDS", version, type, then fields, each a 4-byte
 * big-endian length followed by that many bytes.  Integers are 8-byte
 * big-endian two's complement.  A writer that runs out of room remembers
 * it and every later call is a no-op; check ds_msg_ok() at the end.
 */
typedef struct ds_msg
{
	uint8_t    *buf;
	size_t		cap;
	size_t		len;
	bool		overflow;
} ds_msg;

extern void ds_msg_begin(ds_msg *m, uint8_t *buf, size_t cap, ds_msg_type type);
extern void ds_msg_bytes(ds_msg *m, const void *data, size_t len);
extern void ds_msg_int64(ds_msg *m, int64_t v);
extern void ds_msg_text(ds_msg *m, const char *s);
extern bool ds_msg_ok(const ds_msg *m);

/* The signed part of a seal. */
typedef struct ds_seal
{
	uint8_t		node_id[DS_UUID_LEN];
	uint8_t		asset_id[DS_UUID_LEN];
	int64_t		chain_pos;		/* 1 for the first seal of the asset */
	uint8_t		prev_hash[DS_HASH_LEN]; /* zeros for the first seal */
	uint8_t		root[DS_HASH_LEN];
	int64_t		point_count;
	int64_t		first_seq;
	int64_t		last_seq;
	int64_t		min_ts_us;
	int64_t		max_ts_us;
	int64_t		sealed_at_us;
	uint8_t		key_id[DS_HASH_LEN];
} ds_seal;

#define DS_SEAL_MSG_MAX 512

extern size_t ds_seal_message(const ds_seal *s, uint8_t *out, size_t cap);
extern bool ds_seal_leaf_fits(const ds_seal *s, uint64_t leaf_index,
							  int64_t seq);

/* A seal's leaves as they come, against its signed seq and time ranges. */
typedef struct ds_seal_span
{
	int64_t		n;				/* leaves added */
	bool		misplaced;		/* one outside the ranges or its place */
	int64_t		ts_lo;			/* earliest time added, microseconds */
	int64_t		ts_hi;			/* latest */
} ds_seal_span;

extern void ds_seal_span_add(ds_seal_span *sp, const ds_seal *s,
							 uint64_t leaf_index, int64_t seq, int64_t ts_us);
extern bool ds_seal_span_matches(const ds_seal_span *sp, const ds_seal *s,
								 bool all_seen);
extern bool ds_seal_hash(ds_hasher *h, const ds_seal *s,
						 uint8_t out[DS_HASH_LEN]);

/* Ed25519 keys and signatures. */
extern bool ds_ed25519_keygen(uint8_t pub[DS_PUBKEY_LEN],
							  uint8_t priv[DS_PRIVKEY_LEN]);
extern bool ds_ed25519_public(const uint8_t priv[DS_PRIVKEY_LEN],
							  uint8_t pub[DS_PUBKEY_LEN]);
extern bool ds_ed25519_sign(const uint8_t priv[DS_PRIVKEY_LEN],
							const uint8_t *msg, size_t len,
							uint8_t sig[DS_SIG_LEN]);
extern bool ds_ed25519_verify(const uint8_t pub[DS_PUBKEY_LEN],
							  const uint8_t *msg, size_t len,
							  const uint8_t sig[DS_SIG_LEN]);
extern bool ds_key_id(ds_hasher *h, const uint8_t pub[DS_PUBKEY_LEN],
					  uint8_t out[DS_HASH_LEN]);

/* Wiping secrets. */
extern void ds_wipe(void *p, size_t len);

/* Hex helpers (lower case). */
extern void ds_hex_encode(const uint8_t *in, size_t len, char *out);
extern bool ds_hex_decode(const char *in, size_t inlen, uint8_t *out,
						  size_t outlen);

#endif							/* DS_SEAL_H */
