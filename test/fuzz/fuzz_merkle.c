/*-------------------------------------------------------------------------
 *
 * fuzz_merkle.c
 *		libFuzzer target: canonical encoding, leaves, the RFC 6962 Merkle
 *		tree, inclusion proofs and seal signatures (src/seal.c), and the
 *		proof writer and checker (src/proof.c) on proofs built from them.
 *
 * The input chooses a run of points (asset, seq, ts, value), a blinding
 * seed, a seal and a signing key.  Properties checked:
 *
 *	- leaf, nonce and seal encodings equal an independent encoding made
 *	  here from docs/encoding.md and hashed with OpenSSL's one-shot API;
 *	- the incremental tree head equals a recursive MTH() after every leaf;
 *	- for every index, the audit path has ds_merkle_path_length() hashes,
 *	  verifies, and stops verifying when any bit of it, the leaf or the
 *	  root changes, or when it is cut short;
 *	- a seal signed with the chosen key verifies and stops verifying when
 *	  its message changes;
 *	- a full proof of a chosen point, written as point_proof writes it,
 *	  is valid for ds_proof_verify().
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "proof.h"

#define MAX_LEAVES 70

/* Instants the proof's "ts" text can carry: years -9999 to 99999. */
#define TS_SPAN		INT64_C(3000000000000000000)

typedef struct input
{
	const uint8_t *p;
	size_t		left;
} input;

static ds_hasher *hasher;

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer saves the
 *		input as a crash.
 */
static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_merkle: %s\n", what);
	abort();
}

/*
 * take
 *		The next n bytes of the input, zeros once it runs out.
 */
static void
take(input *in, void *out, size_t n)
{
	size_t		k = n < in->left ? n : in->left;

	memset(out, 0, n);
	memcpy(out, in->p, k);
	in->p += k;
	in->left -= k;
}

static uint64_t
take_u64(input *in)
{
	uint8_t		b[8];
	uint64_t	v = 0;

	take(in, b, sizeof(b));
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/*
 * sha256
 *		SHA-256 by OpenSSL's one-shot call: not the code under test.
 */
static void
sha256(const void *data, size_t len, uint8_t out[DS_HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 ||
		n != DS_HASH_LEN)
		fail("EVP_Digest failed");
}

static void
be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (56 - 8 * i));
}

/*
 * ref_mth
 *		RFC 6962 MTH(D[0:n]) by its recursive definition.
 */
static void
ref_mth(const uint8_t (*leaves)[DS_HASH_LEN], size_t n, uint8_t out[DS_HASH_LEN])
{
	size_t		k = 1;
	uint8_t		buf[1 + 2 * DS_HASH_LEN];

	if (n == 1)
	{
		memcpy(out, leaves[0], DS_HASH_LEN);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	buf[0] = 0x01;
	ref_mth(leaves, k, buf + 1);
	ref_mth(leaves + k, n - k, buf + 1 + DS_HASH_LEN);
	sha256(buf, sizeof(buf), out);
}

/*
 * ref_field
 *		Append one length-prefixed field of a signed message.
 */
static size_t
ref_field(uint8_t *out, size_t at, const void *data, uint32_t len)
{
	out[at] = (uint8_t) (len >> 24);
	out[at + 1] = (uint8_t) (len >> 16);
	out[at + 2] = (uint8_t) (len >> 8);
	out[at + 3] = (uint8_t) len;
	memcpy(out + at + 4, data, len);
	return at + 4 + len;
}

static size_t
ref_int(uint8_t *out, size_t at, int64_t v)
{
	uint8_t		b[8];

	be64(b, (uint64_t) v);
	return ref_field(out, at, b, 8);
}

/*
 * ref_seal_message
 *		The seal message of docs/encoding.md ("Seal (type 1)").
 */
static size_t
ref_seal_message(const ds_seal *s, uint8_t *out)
{
	size_t		at = 6;

	memcpy(out, "PGDS\x01\x01", 6);
	at = ref_field(out, at, s->node_id, DS_UUID_LEN);
	at = ref_field(out, at, s->asset_id, DS_UUID_LEN);
	at = ref_int(out, at, s->chain_pos);
	at = ref_field(out, at, s->prev_hash, DS_HASH_LEN);
	at = ref_field(out, at, s->root, DS_HASH_LEN);
	at = ref_int(out, at, s->point_count);
	at = ref_int(out, at, s->first_seq);
	at = ref_int(out, at, s->last_seq);
	at = ref_int(out, at, s->min_ts_us);
	at = ref_int(out, at, s->max_ts_us);
	at = ref_int(out, at, s->sealed_at_us);
	at = ref_field(out, at, "ed25519", 7);
	at = ref_field(out, at, s->key_id, DS_HASH_LEN);
	return at;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One input: the points, seed, seal fields and key, as raw bytes.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	input		in = {data, size};
	static uint8_t leaves[MAX_LEAVES][DS_HASH_LEN];
	static int64_t ts[MAX_LEAVES];
	static double values[MAX_LEAVES];
	static uint8_t nonces[MAX_LEAVES][DS_NONCE_LEN];
	static ds_proof proof;
	static char json[DS_PROOF_JSON_MAX];
	uint8_t		path[DS_MAX_TREE_DEPTH][DS_HASH_LEN];
	uint8_t		asset[DS_UUID_LEN];
	uint8_t		seed[DS_SEED_LEN];
	uint8_t		priv[DS_PRIVKEY_LEN];
	uint8_t		pub[DS_PUBKEY_LEN];
	uint8_t		sig[DS_SIG_LEN];
	uint8_t		root[DS_HASH_LEN];
	uint8_t		ref[DS_HASH_LEN];
	uint8_t		hash[DS_HASH_LEN];
	uint8_t		msg[DS_SEAL_MSG_MAX];
	uint8_t		refmsg[DS_SEAL_MSG_MAX];
	uint8_t		buf[64];
	uint8_t		choice[4];
	char		why[256];
	ds_merkle	m;
	ds_seal		s;
	int64_t		first_seq;
	size_t		n;
	size_t		msglen;
	size_t		k;
	int			path_len;

	if (hasher == NULL && (hasher = ds_hasher_new()) == NULL)
		fail("no hasher");

	take(&in, choice, sizeof(choice));
	n = 1 + choice[0] % MAX_LEAVES;
	take(&in, asset, sizeof(asset));
	take(&in, seed, sizeof(seed));
	first_seq = (int64_t) take_u64(&in);
	if (first_seq > INT64_MAX - MAX_LEAVES)
		first_seq = INT64_MAX - MAX_LEAVES;

	/* the leaves, each checked against the encoding of docs/encoding.md */
	ds_merkle_init(&m);
	for (size_t i = 0; i < n; i++)
	{
		int64_t		seq = first_seq + (int64_t) i;
		uint64_t	bits;
		double		zero = 0.0;

		ts[i] = (int64_t) (take_u64(&in) % (uint64_t) TS_SPAN) - TS_SPAN / 10;
		bits = take_u64(&in);
		memcpy(&values[i], &bits, sizeof(double));
		if (!isfinite(values[i]))
			values[i] = (double) (int64_t) bits;

		if (!ds_leaf_nonce(hasher, seed, asset, seq, nonces[i]))
			fail("ds_leaf_nonce failed");
		buf[0] = 0x02;
		memcpy(buf + 1, seed, DS_SEED_LEN);
		memcpy(buf + 1 + DS_SEED_LEN, asset, DS_UUID_LEN);
		be64(buf + 1 + DS_SEED_LEN + DS_UUID_LEN, (uint64_t) seq);
		sha256(buf, 57, hash);
		if (memcmp(hash, nonces[i], DS_NONCE_LEN) != 0)
			fail("ds_leaf_nonce differs from the documented encoding");

		if (!ds_leaf_hash(hasher, asset, seq, ts[i], values[i], nonces[i], leaves[i]))
			fail("ds_leaf_hash failed");
		buf[0] = 0x00;
		memcpy(buf + 1, asset, DS_UUID_LEN);
		be64(buf + 17, (uint64_t) seq);
		be64(buf + 25, (uint64_t) ts[i]);
		/* -0 is sealed as +0 */
		memcpy(&bits, values[i] == 0.0 ? &zero : &values[i], sizeof(bits));
		be64(buf + 33, bits);
		memcpy(buf + 41, nonces[i], DS_NONCE_LEN);
		sha256(buf, 57, hash);
		if (memcmp(hash, leaves[i], DS_HASH_LEN) != 0)
			fail("ds_leaf_hash differs from the documented encoding");

		if (!ds_merkle_add(hasher, &m, leaves[i]) || !ds_merkle_root(hasher, &m, root))
			fail("ds_merkle_add failed");
		ref_mth((const uint8_t (*)[DS_HASH_LEN]) leaves, i + 1, ref);
		if (memcmp(root, ref, DS_HASH_LEN) != 0)
			fail("the incremental tree head differs from MTH()");
	}

	/* every index: the path verifies, and any change to it does not */
	for (size_t i = 0; i < n; i++)
	{
		int			expect = ds_merkle_path_length(i, n);

		if (!ds_merkle_path(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves,
							n, i, path, &path_len))
			fail("ds_merkle_path failed");
		if (path_len != expect || path_len > DS_MAX_TREE_DEPTH)
			fail("the path's length is not ds_merkle_path_length()");
		if (!ds_merkle_verify_path(hasher, leaves[i], i, n,
								   (const uint8_t (*)[DS_HASH_LEN]) path,
								   path_len, root))
			fail("a correct path does not verify");
		if (path_len > 0)
		{
			int			j = choice[1] % path_len;
			int			bit = choice[2] % (DS_HASH_LEN * 8);

			path[j][bit / 8] ^= (uint8_t) (1 << (bit % 8));
			if (ds_merkle_verify_path(hasher, leaves[i], i, n,
									  (const uint8_t (*)[DS_HASH_LEN]) path,
									  path_len, root))
				fail("a path with a flipped bit verifies");
			path[j][bit / 8] ^= (uint8_t) (1 << (bit % 8));
			if (ds_merkle_verify_path(hasher, leaves[i], i, n,
									  (const uint8_t (*)[DS_HASH_LEN]) path,
									  path_len - 1, root))
				fail("a path cut short verifies");
			if (ds_merkle_verify_path(hasher, leaves[(i + 1) % n], i, n,
									  (const uint8_t (*)[DS_HASH_LEN]) path,
									  path_len, root))
				fail("another leaf verifies with this path");
		}
		root[choice[3] % DS_HASH_LEN] ^= 0x80;
		if (ds_merkle_verify_path(hasher, leaves[i], i, n,
								  (const uint8_t (*)[DS_HASH_LEN]) path,
								  path_len, root))
			fail("a path verifies under another root");
		root[choice[3] % DS_HASH_LEN] ^= 0x80;
	}
	if (ds_merkle_path(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves,
					   n, n, path, &path_len))
		fail("a path for an index past the end");

	/* the seal over the run, its message and signature */
	memset(&s, 0, sizeof(s));
	take(&in, s.node_id, DS_UUID_LEN);
	memcpy(s.asset_id, asset, DS_UUID_LEN);
	s.chain_pos = (int64_t) take_u64(&in);
	take(&in, s.prev_hash, DS_HASH_LEN);
	memcpy(s.root, root, DS_HASH_LEN);
	s.point_count = (int64_t) n;
	s.first_seq = first_seq;
	s.last_seq = first_seq + (int64_t) n - 1;
	s.min_ts_us = INT64_MAX;
	s.max_ts_us = INT64_MIN;
	for (size_t i = 0; i < n; i++)
	{
		if (ts[i] < s.min_ts_us)
			s.min_ts_us = ts[i];
		if (ts[i] > s.max_ts_us)
			s.max_ts_us = ts[i];
	}
	s.sealed_at_us = (int64_t) take_u64(&in);
	take(&in, priv, sizeof(priv));
	if (!ds_ed25519_public(priv, pub) || !ds_key_id(hasher, pub, s.key_id))
		fail("no public key for a private key");
	sha256(pub, DS_PUBKEY_LEN, hash);
	if (memcmp(hash, s.key_id, DS_HASH_LEN) != 0)
		fail("ds_key_id is not SHA-256 of the public key");

	msglen = ds_seal_message(&s, msg, sizeof(msg));
	if (msglen == 0 || msglen != ref_seal_message(&s, refmsg) ||
		memcmp(msg, refmsg, msglen) != 0)
		fail("ds_seal_message differs from the documented encoding");
	k = choice[1] % msglen;
	if (ds_seal_message(&s, msg, k) != 0)
		fail("ds_seal_message wrote a message into too small a buffer");
	if (!ds_seal_hash(hasher, &s, hash))
		fail("ds_seal_hash failed");
	sha256(refmsg, msglen, ref);
	if (memcmp(hash, ref, DS_HASH_LEN) != 0)
		fail("ds_seal_hash is not SHA-256 of the seal message");
	if (!ds_ed25519_sign(priv, refmsg, msglen, sig))
		fail("ds_ed25519_sign failed");
	if (!ds_ed25519_verify(pub, refmsg, msglen, sig))
		fail("a signature does not verify");
	refmsg[k] ^= 0x01;
	if (ds_ed25519_verify(pub, refmsg, msglen, sig))
		fail("a signature verifies over another message");
	refmsg[k] ^= 0x01;

	/* a full proof of one point, through the JSON text */
	k = choice[2] % n;
	memset(&proof, 0, sizeof(proof));
	memcpy(proof.asset_id, asset, DS_UUID_LEN);
	proof.seq = first_seq + (int64_t) k;
	proof.ts_us = ts[k];
	proof.ts_text_us = ts[k];
	proof.value = values[k];
	memcpy(proof.nonce, nonces[k], DS_NONCE_LEN);
	memcpy(proof.leaf_hash, leaves[k], DS_HASH_LEN);
	proof.leaf_index = k;
	if (!ds_merkle_path(hasher, (const uint8_t (*)[DS_HASH_LEN]) leaves,
						n, k, proof.path, &proof.path_len))
		fail("ds_merkle_path failed");
	proof.seal_id = (int64_t) (choice[3] + 1);
	proof.seal = s;
	memcpy(proof.public_key, pub, DS_PUBKEY_LEN);
	memcpy(proof.signature, sig, DS_SIG_LEN);
	memcpy(proof.seal_hash, ref, DS_HASH_LEN);
	if (ds_proof_check(hasher, &proof, why, sizeof(why)) != DS_PROOF_VALID)
		fail(why);
	if (ds_proof_to_json(&proof, json, sizeof(json)) == 0)
		fail("ds_proof_to_json failed");
	if (ds_proof_verify(hasher, json, strlen(json), why, sizeof(why)) != DS_PROOF_VALID)
	{
		fprintf(stderr, "%s\n", json);
		fail(why);
	}
	ds_wipe(priv, sizeof(priv));
	return 0;
}
