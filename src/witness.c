/*-------------------------------------------------------------------------
 *
 * witness.c
 *		Audit entries, anchors, signed tree heads and Merkle consistency
 *		proofs (witness.h).
 *
 * The anchor log of the hub is an RFC 6962 Merkle tree over the anchors'
 * bytes; a consistency proof shows that the tree of one size is a prefix
 * of the tree of a larger size, so a node holding two signed tree heads
 * knows the hub did not rewrite or drop what it had logged in between.
 *
 *-------------------------------------------------------------------------
 */
#include "witness.h"

#include <string.h>

#include <openssl/crypto.h>

#include "submission.h"

/*
 * ds_audit_entry_message
 *		The signed bytes of an audit entry; 0 if it does not fit.
 */
size_t
ds_audit_entry_message(const ds_audit_entry *e, uint8_t *out, size_t cap)
{
	ds_msg		m;

	if (strlen(e->actor) > DS_AUDIT_TEXT_MAX || strlen(e->event) > DS_AUDIT_TEXT_MAX ||
		strlen(e->subject) > DS_AUDIT_TEXT_MAX || strlen(e->detail) > DS_AUDIT_DETAIL_MAX)
		return 0;
	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_AUDIT_ENTRY);
	ds_msg_bytes(&m, e->node_id, DS_UUID_LEN);
	ds_msg_int64(&m, e->seq);
	ds_msg_int64(&m, e->at_us);
	ds_msg_text(&m, e->actor);
	ds_msg_text(&m, e->event);
	ds_msg_text(&m, e->subject);
	ds_msg_text(&m, e->detail);
	ds_msg_bytes(&m, e->prev_hash, DS_HASH_LEN);
	ds_msg_bytes(&m, e->key_id, DS_HASH_LEN);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_anchor_message
 *		The bytes of an anchor: what the node signs inside its submission
 *		and what the hub logs as one leaf.
 */
size_t
ds_anchor_message(const ds_anchor *a, uint8_t *out, size_t cap)
{
	ds_msg		m;
	size_t		kindlen = strnlen(a->subject_kind, sizeof(a->subject_kind));

	if (kindlen == 0 || kindlen >= sizeof(a->subject_kind))
		return 0;
	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_ANCHOR);
	ds_msg_bytes(&m, a->node_id, DS_UUID_LEN);
	ds_msg_bytes(&m, a->subject_kind, kindlen);
	ds_msg_bytes(&m, a->subject_id, DS_UUID_LEN);
	ds_msg_int64(&m, a->head_pos);
	ds_msg_bytes(&m, a->head_hash, DS_HASH_LEN);
	ds_msg_int64(&m, a->covered);
	ds_msg_int64(&m, a->last_ts_us);
	ds_msg_int64(&m, a->anchored_at_us);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_anchor_decode
 *		Read one anchor; false unless buf is exactly one well-formed anchor
 *		of a known subject kind.
 */
bool
ds_anchor_decode(const uint8_t *buf, size_t len, ds_anchor *out)
{
	ds_msg_reader r;
	const uint8_t *kind;
	size_t		kindlen;

	memset(out, 0, sizeof(*out));
	if (!ds_msg_read_begin(&r, buf, len, DS_MSG_ANCHOR) ||
		!ds_msg_read_fixed(&r, out->node_id, DS_UUID_LEN) ||
		!ds_msg_read_field(&r, &kind, &kindlen) ||
		!ds_msg_read_fixed(&r, out->subject_id, DS_UUID_LEN) ||
		!ds_msg_read_int64(&r, &out->head_pos) ||
		!ds_msg_read_fixed(&r, out->head_hash, DS_HASH_LEN) ||
		!ds_msg_read_int64(&r, &out->covered) ||
		!ds_msg_read_int64(&r, &out->last_ts_us) ||
		!ds_msg_read_int64(&r, &out->anchored_at_us) ||
		!ds_msg_read_end(&r))
		return false;
	if (kindlen == 0 || kindlen >= sizeof(out->subject_kind) ||
		memchr(kind, '\0', kindlen) != NULL)
		return false;
	memcpy(out->subject_kind, kind, kindlen);
	out->subject_kind[kindlen] = '\0';
	if (strcmp(out->subject_kind, DS_ANCHOR_ASSET) != 0 &&
		strcmp(out->subject_kind, DS_ANCHOR_AUDIT_LOG) != 0)
		return false;
	return out->head_pos >= 1 && out->covered >= 0;
}

/*
 * ds_tree_head_message
 *		The signed bytes of a tree head.
 */
size_t
ds_tree_head_message(const ds_tree_head *t, uint8_t *out, size_t cap)
{
	ds_msg		m;

	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_TREE_HEAD);
	ds_msg_bytes(&m, t->hub_id, DS_UUID_LEN);
	ds_msg_int64(&m, t->tree_size);
	ds_msg_bytes(&m, t->root, DS_HASH_LEN);
	ds_msg_int64(&m, t->signed_at_us);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_tree_head_decode
 *		Read one tree head; false unless well-formed with a size >= 1.
 */
bool
ds_tree_head_decode(const uint8_t *buf, size_t len, ds_tree_head *out)
{
	ds_msg_reader r;

	memset(out, 0, sizeof(*out));
	return ds_msg_read_begin(&r, buf, len, DS_MSG_TREE_HEAD) &&
		ds_msg_read_fixed(&r, out->hub_id, DS_UUID_LEN) &&
		ds_msg_read_int64(&r, &out->tree_size) &&
		ds_msg_read_fixed(&r, out->root, DS_HASH_LEN) &&
		ds_msg_read_int64(&r, &out->signed_at_us) &&
		ds_msg_read_end(&r) && out->tree_size >= 1;
}

/*
 * ds_log_leaf_hash
 *		SHA-256(0x00 || data), the RFC 6962 leaf hash of a log entry.
 */
bool
ds_log_leaf_hash(ds_hasher *h, const uint8_t *data, size_t len,
				 uint8_t out[DS_HASH_LEN])
{
	uint8_t		buf[1 + DS_ANCHOR_MSG_MAX];

	if (len > DS_ANCHOR_MSG_MAX)
		return false;
	buf[0] = DS_PREFIX_LEAF;
	memcpy(buf + 1, data, len);
	return ds_sha256(h, buf, len + 1, out);
}

/*
 * ds_log_root
 *		MTH(D[0:n]) of n >= 1 leaf hashes.
 */
bool
ds_log_root(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n,
			uint8_t out[DS_HASH_LEN])
{
	ds_merkle	m;

	if (n == 0)
		return false;
	ds_merkle_init(&m);
	for (uint64_t i = 0; i < n; i++)
		if (!ds_merkle_add(h, &m, leaves[i]))
			return false;
	return ds_merkle_root(h, &m, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
largest_split(uint64_t n)
{
	uint64_t	k = 1;

	while ((k << 1) < n)
		k <<= 1;
	return k;
}

/*
 * subproof
 *		RFC 6962 SUBPROOF(m, D[start:start + n], b), appended to proof.
 */
static bool
subproof(ds_subtree_fn subtree, void *arg, uint64_t start, uint64_t m,
		 uint64_t n, bool whole, uint8_t (*proof)[DS_HASH_LEN], int *len)
{
	uint64_t	k;

	if (m == n)
	{
		if (whole)
			return true;
		if (*len >= DS_CONSISTENCY_MAX)
			return false;
		return subtree(arg, start, n, proof[(*len)++]);
	}
	k = largest_split(n);
	if (m <= k)
	{
		if (!subproof(subtree, arg, start, m, k, whole, proof, len) ||
			*len >= DS_CONSISTENCY_MAX)
			return false;
		return subtree(arg, start + k, n - k, proof[(*len)++]);
	}
	if (!subproof(subtree, arg, start + k, m - k, n - k, false, proof, len) ||
		*len >= DS_CONSISTENCY_MAX)
		return false;
	return subtree(arg, start, k, proof[(*len)++]);
}

/*
 * ds_merkle_consistency
 *		PROOF(old_size, D[new_size]) for 0 < old_size <= new_size; proof
 *		needs room for DS_CONSISTENCY_MAX hashes.  Equal sizes give an
 *		empty proof.
 */
bool
ds_merkle_consistency(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN],
					  uint64_t old_size, uint64_t new_size,
					  uint8_t (*proof)[DS_HASH_LEN], int *proof_len)
{
	ds_leaf_array a = {h, leaves};

	return ds_merkle_consistency_from(ds_leaf_array_subtree, &a, old_size, new_size,
									  proof, proof_len);
}

/*
 * ds_merkle_consistency_from
 *		The same proof, taking the subtree hashes from a source.
 */
bool
ds_merkle_consistency_from(ds_subtree_fn subtree, void *arg, uint64_t old_size,
						   uint64_t new_size, uint8_t (*proof)[DS_HASH_LEN],
						   int *proof_len)
{
	*proof_len = 0;
	if (old_size == 0 || old_size > new_size)
		return false;
	return subproof(subtree, arg, 0, old_size, new_size, true, proof, proof_len);
}

/*
 * ds_log_nodes_subtree
 *		A ds_subtree_fn over stored nodes (arg: a ds_log_nodes): a complete
 *		subtree at its aligned place is one stored node; any other range is
 *		split as MTH splits it.  The ranges that roots and proofs ask for
 *		are a complete subtree or the right edge of one, so each costs
 *		O(log n) stored nodes.
 */
bool
ds_log_nodes_subtree(void *arg, uint64_t start, uint64_t size, uint8_t out[DS_HASH_LEN])
{
	ds_log_nodes *nodes = arg;
	uint8_t		left[DS_HASH_LEN];
	uint8_t		right[DS_HASH_LEN];
	uint64_t	k;

	if (size == 0)
		return false;
	if ((size & (size - 1)) == 0 && (start & (size - 1)) == 0)
	{
		int			level = 0;

		while (((uint64_t) 1 << level) < size)
			level++;
		return nodes->get(nodes->arg, level, start >> level, out);
	}
	k = largest_split(size);
	return ds_log_nodes_subtree(arg, start, k, left) &&
		ds_log_nodes_subtree(arg, start + k, size - k, right) &&
		ds_node_hash(nodes->h, left, right, out);
}

/*
 * ds_log_nodes_append
 *		Store the nodes that leaf index completes, given its hash (the
 *		leaf itself, level 0, is the caller's to store): the node at
 *		level l above it, for each l while index + 1 is a multiple of 2^l.
 *		Leaves must be appended in order.
 */
bool
ds_log_nodes_append(ds_log_nodes *nodes, uint64_t index, const uint8_t leaf[DS_HASH_LEN])
{
	uint8_t		acc[DS_HASH_LEN];
	uint8_t		left[DS_HASH_LEN];

	memcpy(acc, leaf, DS_HASH_LEN);
	for (int level = 1; level < 64 && ((index + 1) & (((uint64_t) 1 << level) - 1)) == 0; level++)
	{
		uint64_t	at = ((index + 1) >> level) - 1;

		if (!nodes->get(nodes->arg, level - 1, 2 * at, left) ||
			!ds_node_hash(nodes->h, left, acc, acc) ||
			!nodes->put(nodes->arg, level, at, acc))
			return false;
	}
	return true;
}

/*
 * ds_merkle_verify_consistency
 *		Check a consistency proof exactly as RFC 9162 section 2.1.4.2
 *		says.  Equal sizes need an empty proof and equal roots.
 */
bool
ds_merkle_verify_consistency(ds_hasher *h, uint64_t old_size, uint64_t new_size,
							 const uint8_t old_root[DS_HASH_LEN],
							 const uint8_t new_root[DS_HASH_LEN],
							 const uint8_t (*proof)[DS_HASH_LEN], int proof_len)
{
	uint8_t		path[DS_CONSISTENCY_MAX + 1][DS_HASH_LEN];
	int			n = 0;
	uint64_t	fn;
	uint64_t	sn;
	uint8_t		fr[DS_HASH_LEN];
	uint8_t		sr[DS_HASH_LEN];

	if (old_size == 0 || old_size > new_size || proof_len < 0 ||
		proof_len > DS_CONSISTENCY_MAX)
		return false;
	if (old_size == new_size)
		return proof_len == 0 && CRYPTO_memcmp(old_root, new_root, DS_HASH_LEN) == 0;
	if (proof_len == 0)
		return false;
	/* an old tree of a power-of-two size is itself a node of the proof */
	if ((old_size & (old_size - 1)) == 0)
		memcpy(path[n++], old_root, DS_HASH_LEN);
	for (int i = 0; i < proof_len; i++)
		memcpy(path[n++], proof[i], DS_HASH_LEN);

	fn = old_size - 1;
	sn = new_size - 1;
	while ((fn & 1) == 1)
	{
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, path[0], DS_HASH_LEN);
	memcpy(sr, path[0], DS_HASH_LEN);
	for (int i = 1; i < n; i++)
	{
		if (sn == 0)
			return false;
		if ((fn & 1) == 1 || fn == sn)
		{
			if (!ds_node_hash(h, path[i], fr, fr) || !ds_node_hash(h, path[i], sr, sr))
				return false;
			if ((fn & 1) == 0)
				while ((fn & 1) == 0 && fn != 0)
				{
					fn >>= 1;
					sn >>= 1;
				}
		}
		else if (!ds_node_hash(h, sr, path[i], sr))
			return false;
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(fr, old_root, DS_HASH_LEN) == 0 &&
		CRYPTO_memcmp(sr, new_root, DS_HASH_LEN) == 0;
}
