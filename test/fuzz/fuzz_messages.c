/*-------------------------------------------------------------------------
 *
 * fuzz_messages.c
 *		libFuzzer target: the decoders of the signed messages other parties
 *		hand a node (tree heads, anchors, contracts, contract steps:
 *		src/witness.c, src/contractmsg.c) and the hub (submissions:
 *		src/submission.c), and the RFC 6962 consistency proofs of the
 *		hub's log (src/witness.c).
 *
 * The first input byte picks what is fuzzed; the rest is the message.
 * Properties checked:
 *
 *	- a message that decodes re-encodes to exactly the same bytes (one
 *	  encoding per content: a signature over one form cannot be passed off
 *	  for another), and nothing is read past the input;
 *	- for a tree of leaves taken from the input, every consistency proof
 *	  from size m to n made by ds_merkle_consistency verifies, and stops
 *	  verifying when any bit of it or of either root changes, or when it
 *	  is cut short; an arbitrary proof of arbitrary sizes never crashes.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contractmsg.h"
#include "submission.h"
#include "witness.h"

#define MAX_LEAVES 40
/* room for the longest message of every kind */
#define OUT_MAX (DS_SUBMISSION_MAX > DS_CONTRACT_MSG_MAX ? DS_SUBMISSION_MAX : DS_CONTRACT_MSG_MAX)

static ds_hasher *hasher;

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_messages: %s\n", what);
	abort();
}

/* decode, re-encode, compare */
static void
round_trip(const uint8_t *data, size_t len, int kind)
{
	uint8_t    *out = malloc(OUT_MAX);
	size_t		n = 0;
	bool		ok = false;

	if (out == NULL)
		abort();
	switch (kind)
	{
		case 0:
			{
				ds_tree_head t;

				if ((ok = ds_tree_head_decode(data, len, &t)))
					n = ds_tree_head_message(&t, out, OUT_MAX);
				break;
			}
		case 1:
			{
				ds_anchor a;

				if ((ok = ds_anchor_decode(data, len, &a)))
					n = ds_anchor_message(&a, out, OUT_MAX);
				break;
			}
		case 2:
			{
				ds_contract c;

				if ((ok = ds_contract_decode(data, len, &c)))
					n = ds_contract_encode(&c, out, OUT_MAX);
				break;
			}
		case 5:
			{
				ds_submission s;

				if ((ok = ds_submission_decode(data, len, &s)))
					n = ds_submission_encode(&s, out, OUT_MAX);
				break;
			}
		default:
			{
				ds_contract_step s;

				if ((ok = ds_contract_step_decode(data, len, &s)))
					n = ds_contract_step_encode(&s, out, OUT_MAX);
				break;
			}
	}
	if (ok && (n != len || memcmp(out, data, len) != 0))
		fail("a decoded message does not re-encode to the same bytes");
	free(out);
}

static void
consistency(const uint8_t *data, size_t len)
{
	uint8_t		leaves[MAX_LEAVES][DS_HASH_LEN];
	uint8_t		proof[DS_CONSISTENCY_MAX][DS_HASH_LEN];
	uint8_t		old_root[DS_HASH_LEN];
	uint8_t		new_root[DS_HASH_LEN];
	int			plen = 0;
	uint64_t	n;
	uint64_t	m;

	if (len < 2)
		return;
	n = 1 + data[0] % MAX_LEAVES;
	m = 1 + data[1] % n;
	data += 2;
	len -= 2;
	for (uint64_t i = 0; i < n; i++)
	{
		uint8_t		b = len > 0 ? data[i % len] : 0;

		if (!ds_log_leaf_hash(hasher, &b, 1, leaves[i]))
			fail("leaf hash");
		leaves[i][0] ^= (uint8_t) i;
	}
	if (!ds_log_root(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves, m, old_root) ||
		!ds_log_root(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves, n, new_root) ||
		!ds_merkle_consistency(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves, m, n, proof, &plen))
		fail("could not build a consistency proof");
	if (!ds_merkle_verify_consistency(hasher, m, n, old_root, new_root,
									  (const uint8_t (*)[DS_HASH_LEN]) proof, plen))
		fail("a genuine consistency proof does not verify");
	if (plen > 0 &&
		ds_merkle_verify_consistency(hasher, m, n, old_root, new_root,
									 (const uint8_t (*)[DS_HASH_LEN]) proof, plen - 1))
		fail("a consistency proof cut short verifies");
	for (int bit = 0; bit < 8 * DS_HASH_LEN * (plen + 2); bit += 1 + (len > 0 ? data[0] : 7))
	{
		int			which = bit / (8 * DS_HASH_LEN);
		uint8_t    *target = which < plen ? proof[which] : (which == plen ? old_root : new_root);
		int			at = (bit / 8) % DS_HASH_LEN;

		/* when m == n the old root is the new one: changing it alone must fail too */
		target[at] ^= (uint8_t) (1 << (bit % 8));
		if (ds_merkle_verify_consistency(hasher, m, n, old_root, new_root,
										 (const uint8_t (*)[DS_HASH_LEN]) proof, plen))
			fail("a changed consistency proof or root verifies");
		target[at] ^= (uint8_t) (1 << (bit % 8));
	}

	/* arbitrary sizes and proof bytes: an answer, never a crash */
	if (len >= 16)
	{
		uint64_t	a;
		uint64_t	b;
		int			k = (int) ((len - 16) / DS_HASH_LEN);

		memcpy(&a, data, 8);
		memcpy(&b, data + 8, 8);
		if (k > DS_CONSISTENCY_MAX)
			k = DS_CONSISTENCY_MAX;
		memcpy(proof, data + 16, (size_t) k * DS_HASH_LEN);
		(void) ds_merkle_verify_consistency(hasher, a, b, old_root, new_root,
											(const uint8_t (*)[DS_HASH_LEN]) proof, k);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy;

	if (hasher == NULL && (hasher = ds_hasher_new()) == NULL)
		abort();
	if (size < 1)
		return 0;
	/* an exact-size copy, so that AddressSanitizer sees any over-read */
	copy = malloc(size - 1 > 0 ? size - 1 : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data + 1, size - 1);
	if (data[0] % 6 == 4)
		consistency(copy, size - 1);
	else
		round_trip(copy, size - 1, data[0] % 6);
	free(copy);
	return 0;
}
