/*-------------------------------------------------------------------------
 *
 * seal.c
 *		Canonical encodings, leaf and Merkle hashing, Ed25519 signatures.
 *
 * Pure code shared by the extension, the agent and the fuzz targets: no
 * PostgreSQL headers, no allocation except OpenSSL's own, no global state.
 * docs/encoding.md specifies every byte written here.
 *
 *-------------------------------------------------------------------------
 */
#include "seal.h"

#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

struct ds_hasher
{
	EVP_MD	   *md;
	EVP_MD_CTX *ctx;

	/*
	 * The provider's own SHA-256 functions and one context of theirs, when
	 * they could be found and pass a known answer; otherwise NULL and the
	 * EVP path is used.
	 */
	void	   *dctx;
	OSSL_FUNC_digest_init_fn *init;
	OSSL_FUNC_digest_update_fn *update;
	OSSL_FUNC_digest_final_fn *final;
	OSSL_FUNC_digest_freectx_fn *freectx;
};

/* SHA-256("abc"), FIPS 180-2 appendix B.1 */
static const uint8_t sha256_abc[DS_HASH_LEN] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
	0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
};

/* Whether an algorithm's name list ("SHA2-256:SHA-256:...") names md. */
static bool
names_md(const char *names, const EVP_MD *md)
{
	char		name[64];

	while (*names != '\0')
	{
		size_t		len = strcspn(names, ":");

		if (len < sizeof(name))
		{
			memcpy(name, names, len);
			name[len] = '\0';
			if (EVP_MD_is_a(md, name))
				return true;
		}
		names += len;
		if (*names == ':')
			names++;
	}
	return false;
}

/*
 * direct_init
 *		Look up SHA-256 in the provider that EVP_MD_fetch chose and keep its
 *		dispatch functions and one context.
 *
 * OpenSSL 3.0's EVP_DigestInit_ex2 frees and allocates the provider's
 * context on every call (a malloc, a free and an OPENSSL_cleanse per hash);
 * calling the same provider's functions through its public dispatch table
 * hashes the short inputs here about twice as fast.  Nothing but the call
 * path changes: the provider, and so the implementation, is the one EVP
 * fetched.  If the functions cannot be found or do not give the known
 * answer, the hasher stays on the EVP path.
 */
static void
direct_init(ds_hasher *h)
{
	const OSSL_PROVIDER *prov = EVP_MD_get0_provider(h->md);
	const OSSL_ALGORITHM *algs;
	const OSSL_ALGORITHM *a;
	OSSL_FUNC_digest_newctx_fn *newctx = NULL;
	int			no_cache = 0;
	int			found = 0;
	uint8_t		out[DS_HASH_LEN];
	size_t		outlen = 0;

	if (prov == NULL)
		return;
	algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_DIGEST, &no_cache);
	if (algs == NULL)
		return;
	for (a = algs; a->algorithm_names != NULL; a++)
	{
		if (!names_md(a->algorithm_names, h->md))
			continue;
		found++;
		for (const OSSL_DISPATCH *d = a->implementation; d->function_id != 0; d++)
			switch (d->function_id)
			{
				case OSSL_FUNC_DIGEST_NEWCTX:
					newctx = OSSL_FUNC_digest_newctx(d);
					break;
				case OSSL_FUNC_DIGEST_INIT:
					h->init = OSSL_FUNC_digest_init(d);
					break;
				case OSSL_FUNC_DIGEST_UPDATE:
					h->update = OSSL_FUNC_digest_update(d);
					break;
				case OSSL_FUNC_DIGEST_FINAL:
					h->final = OSSL_FUNC_digest_final(d);
					break;
				case OSSL_FUNC_DIGEST_FREECTX:
					h->freectx = OSSL_FUNC_digest_freectx(d);
					break;
			}
	}
	OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);

	/* exactly one implementation, so that it is the one EVP fetched */
	if (found == 1 && newctx != NULL && h->init != NULL && h->update != NULL &&
		h->final != NULL && h->freectx != NULL)
		h->dctx = newctx(OSSL_PROVIDER_get0_provider_ctx(prov));
	if (h->dctx != NULL &&
		h->init(h->dctx, NULL) == 1 &&
		h->update(h->dctx, (const unsigned char *) "abc", 3) == 1 &&
		h->final(h->dctx, out, &outlen, sizeof(out)) == 1 &&
		outlen == DS_HASH_LEN && memcmp(out, sha256_abc, DS_HASH_LEN) == 0)
		return;
	if (h->dctx != NULL)
		h->freectx(h->dctx);
	h->dctx = NULL;
}

/*
 * ds_hasher_new
 *		Fetch SHA-256 once and allocate one reusable context.
 *
 * Fetching per hash costs about four times the hash itself for the short
 * inputs hashed here.
 */
ds_hasher *
ds_hasher_new(void)
{
	ds_hasher  *h = OPENSSL_zalloc(sizeof(ds_hasher));

	if (h == NULL)
		return NULL;
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (h->md == NULL || h->ctx == NULL)
	{
		ds_hasher_free(h);
		return NULL;
	}
	direct_init(h);
	return h;
}

void
ds_hasher_free(ds_hasher *h)
{
	if (h == NULL)
		return;
	if (h->dctx != NULL)
		h->freectx(h->dctx);
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	OPENSSL_free(h);
}

bool
ds_hasher_is_direct(const ds_hasher *h)
{
	return h->dctx != NULL;
}

bool
ds_sha256(ds_hasher *h, const void *data, size_t len, uint8_t out[DS_HASH_LEN])
{
	unsigned int outlen = 0;

	if (h->dctx != NULL)
	{
		size_t		n = 0;

		return h->init(h->dctx, NULL) == 1 &&
			h->update(h->dctx, data, len) == 1 &&
			h->final(h->dctx, out, &n, DS_HASH_LEN) == 1 &&
			n == DS_HASH_LEN;
	}
	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1 ||
		EVP_DigestUpdate(h->ctx, data, len) != 1 ||
		EVP_DigestFinal_ex(h->ctx, out, &outlen) != 1)
		return false;
	return outlen == DS_HASH_LEN;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (uint8_t) (v & 0xff);
		v >>= 8;
	}
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/*
 * ds_leaf_nonce
 *		The blinding nonce of one point: the first 16 bytes of
 *		SHA-256(0x02 || seed || asset_id || seq).
 *
 * The seed is secret and per seal.  Inputs are of fixed length and the
 * output is truncated, so this keyed hash is a PRF: knowing the nonces of
 * the points one received says nothing about the nonces of the others,
 * and hence nothing about their values given their leaf hashes.
 */
bool
ds_leaf_nonce(ds_hasher *h, const uint8_t seed[DS_SEED_LEN],
			  const uint8_t asset_id[DS_UUID_LEN], int64_t seq,
			  uint8_t nonce[DS_NONCE_LEN])
{
	uint8_t		buf[1 + DS_SEED_LEN + DS_UUID_LEN + 8];
	uint8_t		digest[DS_HASH_LEN];

	buf[0] = DS_PREFIX_NONCE;
	memcpy(buf + 1, seed, DS_SEED_LEN);
	memcpy(buf + 1 + DS_SEED_LEN, asset_id, DS_UUID_LEN);
	put_be64(buf + 1 + DS_SEED_LEN + DS_UUID_LEN, (uint64_t) seq);
	if (!ds_sha256(h, buf, sizeof(buf), digest))
		return false;
	memcpy(nonce, digest, DS_NONCE_LEN);
	ds_wipe(buf, sizeof(buf));
	return true;
}

/*
 * ds_value_bits
 *		The IEEE 754 binary64 bits a value is sealed as.
 *
 * Negative zero is sealed as positive zero: SQL compares them equal and
 * JSON numbers cannot be relied on to keep the sign of zero.  Callers
 * refuse NaN and infinities before they get here.
 */
uint64_t
ds_value_bits(double value)
{
	uint64_t	bits;

	if (value == 0.0)
		value = 0.0;
	memcpy(&bits, &value, sizeof(bits));
	return bits;
}

/*
 * ds_leaf_hash
 *		SHA-256(0x00 || asset_id || seq || ts_us || value bits || nonce).
 */
bool
ds_leaf_hash(ds_hasher *h, const uint8_t asset_id[DS_UUID_LEN],
			 int64_t seq, int64_t ts_us, double value,
			 const uint8_t nonce[DS_NONCE_LEN], uint8_t out[DS_HASH_LEN])
{
	uint8_t		buf[1 + DS_UUID_LEN + 8 + 8 + 8 + DS_NONCE_LEN];
	uint8_t    *p = buf;

	*p++ = DS_PREFIX_LEAF;
	memcpy(p, asset_id, DS_UUID_LEN);
	p += DS_UUID_LEN;
	put_be64(p, (uint64_t) seq);
	p += 8;
	put_be64(p, (uint64_t) ts_us);
	p += 8;
	put_be64(p, ds_value_bits(value));
	p += 8;
	memcpy(p, nonce, DS_NONCE_LEN);
	return ds_sha256(h, buf, sizeof(buf), out);
}

/*
 * ds_node_hash
 *		SHA-256(0x01 || left || right), RFC 6962 interior node.
 */
bool
ds_node_hash(ds_hasher *h, const uint8_t left[DS_HASH_LEN],
			 const uint8_t right[DS_HASH_LEN], uint8_t out[DS_HASH_LEN])
{
	uint8_t		buf[1 + 2 * DS_HASH_LEN];

	buf[0] = DS_PREFIX_NODE;
	memcpy(buf + 1, left, DS_HASH_LEN);
	memcpy(buf + 1 + DS_HASH_LEN, right, DS_HASH_LEN);
	return ds_sha256(h, buf, sizeof(buf), out);
}

void
ds_merkle_init(ds_merkle *m)
{
	m->count = 0;
	m->depth = 0;
}

/*
 * ds_merkle_add
 *		Append one leaf hash.
 *
 * The stack holds the roots of the perfect subtrees that make up the tree
 * so far, largest first; their sizes are the binary digits of count.
 * Adding a leaf merges equal-sized neighbours, like a binary carry.
 */
bool
ds_merkle_add(ds_hasher *h, ds_merkle *m, const uint8_t leaf_hash[DS_HASH_LEN])
{
	uint64_t	n;

	if (m->depth >= DS_MAX_TREE_DEPTH)
		return false;
	memcpy(m->stack[m->depth++], leaf_hash, DS_HASH_LEN);
	n = ++m->count;
	while ((n & 1) == 0)
	{
		if (!ds_node_hash(h, m->stack[m->depth - 2], m->stack[m->depth - 1],
						  m->stack[m->depth - 2]))
			return false;
		m->depth--;
		n >>= 1;
	}
	return true;
}

/*
 * ds_merkle_root
 *		RFC 6962 Merkle tree head of the leaves added so far.
 *
 * Folding the stack from the right gives exactly MTH(D[n]): the split at
 * the largest power of two below n is the largest subtree on the stack.
 * An empty tree has no root here: a seal always covers at least one point.
 */
bool
ds_merkle_root(ds_hasher *h, const ds_merkle *m, uint8_t root[DS_HASH_LEN])
{
	uint8_t		acc[DS_HASH_LEN];

	if (m->depth == 0)
		return false;
	memcpy(acc, m->stack[m->depth - 1], DS_HASH_LEN);
	for (int i = m->depth - 2; i >= 0; i--)
		if (!ds_node_hash(h, m->stack[i], acc, acc))
			return false;
	memcpy(root, acc, DS_HASH_LEN);
	return true;
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t	k = 1;

	while ((k << 1) < n)
		k <<= 1;
	return k;
}

/* MTH of leaves[0..n), n >= 1. */
static bool
subtree_root(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN], uint64_t n,
			 uint8_t out[DS_HASH_LEN])
{
	ds_merkle	m;

	ds_merkle_init(&m);
	for (uint64_t i = 0; i < n; i++)
		if (!ds_merkle_add(h, &m, leaves[i]))
			return false;
	return ds_merkle_root(h, &m, out);
}

/*
 * ds_merkle_path_length
 *		Number of hashes in the audit path of leaf index in a tree of size.
 */
int
ds_merkle_path_length(uint64_t index, uint64_t size)
{
	int			len = 0;

	while (size > 1)
	{
		uint64_t	k = split_point(size);

		if (index < k)
			size = k;
		else
		{
			index -= k;
			size -= k;
		}
		len++;
	}
	return len;
}

/*
 * ds_leaf_array_subtree
 *		A ds_subtree_fn over an array of leaf hashes (arg: a ds_leaf_array).
 */
bool
ds_leaf_array_subtree(void *arg, uint64_t start, uint64_t size, uint8_t out[DS_HASH_LEN])
{
	ds_leaf_array *a = arg;

	return subtree_root(a->h, a->leaves + start, size, out);
}

/*
 * ds_merkle_path
 *		RFC 6962 PATH(index, D[size]), leaf-side first.
 *
 * path must have room for ds_merkle_path_length(index, size) hashes.
 */
bool
ds_merkle_path(ds_hasher *h, const uint8_t (*leaves)[DS_HASH_LEN],
			   uint64_t size, uint64_t index,
			   uint8_t (*path)[DS_HASH_LEN], int *path_len)
{
	ds_leaf_array a = {h, leaves};

	return ds_merkle_path_from(ds_leaf_array_subtree, &a, size, index, path, path_len);
}

/*
 * ds_merkle_path_from
 *		The same path, taking the subtree hashes from a source: the hub's
 *		stored nodes, so that a proof of a large log reads O(log^2 n)
 *		hashes, not n leaves.
 */
bool
ds_merkle_path_from(ds_subtree_fn subtree, void *arg, uint64_t size, uint64_t index,
					uint8_t (*path)[DS_HASH_LEN], int *path_len)
{
	int			len;
	int			pos;
	uint64_t	start = 0;

	if (size == 0 || index >= size)
		return false;
	len = ds_merkle_path_length(index, size);
	if (len > DS_MAX_TREE_DEPTH)
		return false;

	/* Walk top-down; the first sibling found is the last in the path. */
	pos = len;
	while (size > 1)
	{
		uint64_t	k = split_point(size);

		pos--;
		if (index < k)
		{
			if (!subtree(arg, start + k, size - k, path[pos]))
				return false;
			size = k;
		}
		else
		{
			if (!subtree(arg, start, k, path[pos]))
				return false;
			start += k;
			index -= k;
			size -= k;
		}
	}
	*path_len = len;
	return true;
}

/*
 * ds_merkle_verify_path
 *		Check an inclusion proof exactly as RFC 9162 section 2.1.3.2 says.
 */
bool
ds_merkle_verify_path(ds_hasher *h, const uint8_t leaf_hash[DS_HASH_LEN],
					  uint64_t index, uint64_t size,
					  const uint8_t (*path)[DS_HASH_LEN], int path_len,
					  const uint8_t root[DS_HASH_LEN])
{
	uint64_t	fn;
	uint64_t	sn;
	uint8_t		r[DS_HASH_LEN];

	if (size == 0 || index >= size || path_len < 0)
		return false;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, DS_HASH_LEN);
	for (int i = 0; i < path_len; i++)
	{
		if (sn == 0)
			return false;
		if ((fn & 1) == 1 || fn == sn)
		{
			if (!ds_node_hash(h, path[i], r, r))
				return false;
			if ((fn & 1) == 0)
				while ((fn & 1) == 0 && fn != 0)
				{
					fn >>= 1;
					sn >>= 1;
				}
		}
		else if (!ds_node_hash(h, r, path[i], r))
			return false;
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && CRYPTO_memcmp(r, root, DS_HASH_LEN) == 0;
}

void
ds_msg_begin(ds_msg *m, uint8_t *buf, size_t cap, ds_msg_type type)
{
	m->buf = buf;
	m->cap = cap;
	m->len = 0;
	m->overflow = cap < 6;
	if (m->overflow)
		return;
	memcpy(buf, DS_MSG_MAGIC, 4);
	buf[4] = DS_MSG_VERSION;
	buf[5] = (uint8_t) type;
	m->len = 6;
}

void
ds_msg_bytes(ds_msg *m, const void *data, size_t len)
{
	if (m->overflow)
		return;
	if (len > UINT32_MAX || m->cap - m->len < 4 || m->cap - m->len - 4 < len)
	{
		m->overflow = true;
		return;
	}
	put_be32(m->buf + m->len, (uint32_t) len);
	if (len > 0)
		memcpy(m->buf + m->len + 4, data, len);
	m->len += 4 + len;
}

void
ds_msg_int64(ds_msg *m, int64_t v)
{
	uint8_t		b[8];

	put_be64(b, (uint64_t) v);
	ds_msg_bytes(m, b, 8);
}

void
ds_msg_text(ds_msg *m, const char *s)
{
	ds_msg_bytes(m, s, strlen(s));
}

bool
ds_msg_ok(const ds_msg *m)
{
	return !m->overflow;
}

/*
 * ds_seal_message
 *		The bytes a seal's signature covers; returns their length, or 0 if
 *		cap is too small.
 */
size_t
ds_seal_message(const ds_seal *s, uint8_t *out, size_t cap)
{
	ds_msg		m;

	ds_msg_begin(&m, out, cap, DS_MSG_SEAL);
	ds_msg_bytes(&m, s->node_id, DS_UUID_LEN);
	ds_msg_bytes(&m, s->asset_id, DS_UUID_LEN);
	ds_msg_int64(&m, s->chain_pos);
	ds_msg_bytes(&m, s->prev_hash, DS_HASH_LEN);
	ds_msg_bytes(&m, s->root, DS_HASH_LEN);
	ds_msg_int64(&m, s->point_count);
	ds_msg_int64(&m, s->first_seq);
	ds_msg_int64(&m, s->last_seq);
	ds_msg_int64(&m, s->min_ts_us);
	ds_msg_int64(&m, s->max_ts_us);
	ds_msg_int64(&m, s->sealed_at_us);
	ds_msg_text(&m, DS_ALGORITHM_ED25519);
	ds_msg_bytes(&m, s->key_id, DS_HASH_LEN);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_seal_hash
 *		SHA-256 of the seal message: what the next seal's prev_hash holds.
 */
bool
ds_seal_hash(ds_hasher *h, const ds_seal *s, uint8_t out[DS_HASH_LEN])
{
	uint8_t		buf[DS_SEAL_MSG_MAX];
	size_t		len = ds_seal_message(s, buf, sizeof(buf));

	return len > 0 && ds_sha256(h, buf, len, out);
}

/*
 * ds_seal_leaf_fits
 *		Can the point seq be leaf leaf_index of this seal?  The leaves are
 *		the seal's points in ascending seq, the first at first_seq and the
 *		last at last_seq: leaf_index points lie before it, each with a
 *		smaller seq in the range, and the rest after it.  Its time is the
 *		caller's to check against [min_ts_us, max_ts_us].
 */
bool
ds_seal_leaf_fits(const ds_seal *s, uint64_t leaf_index, int64_t seq)
{
	if (s->point_count <= 0 || leaf_index >= (uint64_t) s->point_count ||
		seq < s->first_seq || seq > s->last_seq)
		return false;
	/* unsigned differences: seq lies in the range, so they cannot wrap */
	if (leaf_index == 0 && seq != s->first_seq)
		return false;
	if (leaf_index == (uint64_t) s->point_count - 1 && seq != s->last_seq)
		return false;
	return leaf_index <= (uint64_t) seq - (uint64_t) s->first_seq &&
		(uint64_t) s->point_count - 1 - leaf_index <=
		(uint64_t) s->last_seq - (uint64_t) seq;
}

/*
 * ds_seal_span_add
 *		Account for point seq at time ts_us as leaf leaf_index of seal s.
 *		Only the signer can make a seal whose points lie outside its signed
 *		ranges, but a time range narrower than its points would hide them
 *		from a check of an interval.
 */
void
ds_seal_span_add(ds_seal_span *sp, const ds_seal *s, uint64_t leaf_index,
				 int64_t seq, int64_t ts_us)
{
	if (sp->n++ == 0)
		sp->ts_lo = sp->ts_hi = ts_us;
	if (ts_us < sp->ts_lo)
		sp->ts_lo = ts_us;
	if (ts_us > sp->ts_hi)
		sp->ts_hi = ts_us;
	if (!ds_seal_leaf_fits(s, leaf_index, seq) ||
		ts_us < s->min_ts_us || ts_us > s->max_ts_us)
		sp->misplaced = true;
}

/*
 * ds_seal_span_matches
 *		Did every leaf added fit the signed ranges?  When every leaf of the
 *		seal was added (all_seen), the earliest and latest times must be
 *		the signed ones too.
 */
bool
ds_seal_span_matches(const ds_seal_span *sp, const ds_seal *s, bool all_seen)
{
	return !sp->misplaced &&
		(!all_seen || (sp->ts_lo == s->min_ts_us && sp->ts_hi == s->max_ts_us));
}

/*
 * ds_ed25519_keygen
 *		A fresh key pair from OpenSSL's CSPRNG, as raw 32-byte strings.
 */
bool
ds_ed25519_keygen(uint8_t pub[DS_PUBKEY_LEN], uint8_t priv[DS_PRIVKEY_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
	EVP_PKEY   *pkey = NULL;
	size_t		publen = DS_PUBKEY_LEN;
	size_t		privlen = DS_PRIVKEY_LEN;
	bool		ok;

	ok = ctx != NULL &&
		EVP_PKEY_keygen_init(ctx) == 1 &&
		EVP_PKEY_generate(ctx, &pkey) == 1 &&
		EVP_PKEY_get_raw_public_key(pkey, pub, &publen) == 1 &&
		EVP_PKEY_get_raw_private_key(pkey, priv, &privlen) == 1 &&
		publen == DS_PUBKEY_LEN && privlen == DS_PRIVKEY_LEN;
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		ds_wipe(priv, DS_PRIVKEY_LEN);
	return ok;
}

bool
ds_ed25519_public(const uint8_t priv[DS_PRIVKEY_LEN], uint8_t pub[DS_PUBKEY_LEN])
{
	EVP_PKEY   *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
													priv, DS_PRIVKEY_LEN);
	size_t		publen = DS_PUBKEY_LEN;
	bool		ok;

	ok = pkey != NULL &&
		EVP_PKEY_get_raw_public_key(pkey, pub, &publen) == 1 &&
		publen == DS_PUBKEY_LEN;
	EVP_PKEY_free(pkey);
	return ok;
}

bool
ds_ed25519_sign(const uint8_t priv[DS_PRIVKEY_LEN], const uint8_t *msg,
				size_t len, uint8_t sig[DS_SIG_LEN])
{
	EVP_PKEY   *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
													priv, DS_PRIVKEY_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t		siglen = DS_SIG_LEN;
	bool		ok;

	ok = pkey != NULL && ctx != NULL &&
		EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 &&
		siglen == DS_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

bool
ds_ed25519_verify(const uint8_t pub[DS_PUBKEY_LEN], const uint8_t *msg,
				  size_t len, const uint8_t sig[DS_SIG_LEN])
{
	EVP_PKEY   *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
												   pub, DS_PUBKEY_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool		ok;

	ok = pkey != NULL && ctx != NULL &&
		EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		EVP_DigestVerify(ctx, sig, DS_SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

/*
 * ds_key_id
 *		A key's fingerprint: SHA-256 of its raw 32-byte public key.
 */
bool
ds_key_id(ds_hasher *h, const uint8_t pub[DS_PUBKEY_LEN], uint8_t out[DS_HASH_LEN])
{
	return ds_sha256(h, pub, DS_PUBKEY_LEN, out);
}

void
ds_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

void
ds_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * ds_hex_decode
 *		Decode exactly outlen bytes from exactly 2 * outlen hex digits.
 */
bool
ds_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	if (inlen != 2 * outlen)
		return false;
	for (size_t i = 0; i < outlen; i++)
	{
		int			hi = hex_digit(in[2 * i]);
		int			lo = hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t) (hi << 4 | lo);
	}
	return true;
}
