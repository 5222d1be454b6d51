/*-------------------------------------------------------------------------
 *
 * witness.h
 *		The hub as a digest witness, and the audit log's entries: the signed
 *		messages and the Merkle consistency proofs (docs/witness.md,
 *		docs/audit-log.md, docs/encoding.md).
 *
 * Pure code: C library and libcrypto only, like seal.c, so that the unit
 * tests and any outside verifier agree with the extension byte for byte.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_WITNESS_H
#define DS_WITNESS_H

#include "seal.h"

/*
 * Message types of this file.  1-6 are taken (seal.h, submission.h); these
 * start at 16 to leave room below for other kinds.
 */
#define DS_MSG_AUDIT_ENTRY	16
#define DS_MSG_ANCHOR		17
#define DS_MSG_TREE_HEAD	18

#define DS_AUDIT_TEXT_MAX	8192	/* actor, event, subject: each */
#define DS_AUDIT_DETAIL_MAX 65536
#define DS_AUDIT_MSG_MAX	(DS_AUDIT_DETAIL_MAX + 3 * DS_AUDIT_TEXT_MAX + 256)
#define DS_ANCHOR_MSG_MAX	256
#define DS_TREE_HEAD_MSG_MAX 128
#define DS_CONSISTENCY_MAX	(2 * DS_MAX_TREE_DEPTH + 2)

/* One entry of an audit log, as signed. */
typedef struct ds_audit_entry
{
	uint8_t		node_id[DS_UUID_LEN];
	int64_t		seq;			/* 1, 2, 3, ... without gaps */
	int64_t		at_us;			/* Unix microseconds */
	const char *actor;
	const char *event;
	const char *subject;
	const char *detail;			/* JSON text */
	uint8_t		prev_hash[DS_HASH_LEN]; /* zeros for seq 1 */
	uint8_t		key_id[DS_HASH_LEN];
} ds_audit_entry;

extern size_t ds_audit_entry_message(const ds_audit_entry *e, uint8_t *out,
									 size_t cap);

/*
 * An anchor: the head of one chain of a node (an asset's seal chain or the
 * node's audit log) as the node publishes it to the hub.
 */
#define DS_ANCHOR_ASSET		"asset"
#define DS_ANCHOR_AUDIT_LOG "audit_log"

typedef struct ds_anchor
{
	uint8_t		node_id[DS_UUID_LEN];
	char		subject_kind[16];	/* DS_ANCHOR_ASSET or DS_ANCHOR_AUDIT_LOG */
	uint8_t		subject_id[DS_UUID_LEN];	/* asset id, or the node id */
	int64_t		head_pos;		/* chain_pos of the seal, seq of the entry */
	uint8_t		head_hash[DS_HASH_LEN];
	int64_t		covered;		/* points sealed through head, or entries */
	int64_t		last_ts_us;
	int64_t		anchored_at_us;
} ds_anchor;

extern size_t ds_anchor_message(const ds_anchor *a, uint8_t *out, size_t cap);
extern bool ds_anchor_decode(const uint8_t *buf, size_t len, ds_anchor *out);

/* A signed tree head of the hub's anchor log. */
typedef struct ds_tree_head
{
	uint8_t		hub_id[DS_UUID_LEN];
	int64_t		tree_size;
	uint8_t		root[DS_HASH_LEN];
	int64_t		signed_at_us;
} ds_tree_head;

extern size_t ds_tree_head_message(const ds_tree_head *t, uint8_t *out,
								   size_t cap);
extern bool ds_tree_head_decode(const uint8_t *buf, size_t len,
								ds_tree_head *out);

/* SHA-256(0x00 || data): the RFC 6962 hash of a leaf's bytes. */
extern bool ds_log_leaf_hash(ds_hasher *h, const uint8_t *data, size_t len,
							 uint8_t out[DS_HASH_LEN]);

/* MTH(D[0:n]) of leaf hashes, n >= 1. */
extern bool ds_log_root(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN],
						uint64_t n, uint8_t out[DS_HASH_LEN]);

/* Consistency proofs (RFC 6962 section 2.1.2, RFC 9162 section 2.1.4). */
extern bool ds_merkle_consistency(ds_hasher *h,
								  const uint8_t (*leaves)[DS_HASH_LEN],
								  uint64_t old_size, uint64_t new_size,
								  uint8_t (*proof)[DS_HASH_LEN],
								  int *proof_len);
extern bool ds_merkle_consistency_from(ds_subtree_fn subtree, void *arg,
									   uint64_t old_size, uint64_t new_size,
									   uint8_t (*proof)[DS_HASH_LEN],
									   int *proof_len);
extern bool ds_merkle_verify_consistency(ds_hasher *h,
										 uint64_t old_size, uint64_t new_size,
										 const uint8_t old_root[DS_HASH_LEN],
										 const uint8_t new_root[DS_HASH_LEN],
										 const uint8_t (*proof)[DS_HASH_LEN],
										 int proof_len);

/*
 * A log kept as stored nodes (the hub's anchor log, docs/witness.md): node
 * (level, index) is MTH of the 2^level leaves from index * 2^level on,
 * level 0 the leaf hashes.  An append stores the nodes its leaf completes
 * (one on average); a root or a proof reads O(log n) of them per subtree,
 * where an array of every leaf would read n.
 */
typedef bool (*ds_log_get_fn) (void *arg, int level, uint64_t index,
							   uint8_t out[DS_HASH_LEN]);
typedef bool (*ds_log_put_fn) (void *arg, int level, uint64_t index,
							   const uint8_t hash[DS_HASH_LEN]);

typedef struct ds_log_nodes
{
	ds_hasher  *h;
	ds_log_get_fn get;
	ds_log_put_fn put;			/* used by ds_log_nodes_append only */
	void	   *arg;
} ds_log_nodes;

/* a ds_subtree_fn; arg is a ds_log_nodes */
extern bool ds_log_nodes_subtree(void *arg, uint64_t start, uint64_t size,
								 uint8_t out[DS_HASH_LEN]);
extern bool ds_log_nodes_append(ds_log_nodes *nodes, uint64_t index,
								const uint8_t leaf[DS_HASH_LEN]);

#endif							/* DS_WITNESS_H */
