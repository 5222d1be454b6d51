/*-------------------------------------------------------------------------
 *
 * proof.c
 *		Inclusion proofs of one point: strict JSON reader, writer and the
 *		checks of docs/encoding.md ("Inclusion proof").
 *
 * The reader accepts exactly the documented object: every member once,
 * no other member, every value of its documented JSON type, hex in lower
 * case, integers as plain JSON integers.  Anything else is malformed; a
 * well-formed proof whose content does not check out is invalid.  The two
 * are kept apart because the SQL caller treats them differently (error
 * versus false).  Input comes from anywhere, so the reader never trusts a
 * length, never recurses deeper than the object's two levels and never
 * reads past len.
 *
 *-------------------------------------------------------------------------
 */
#include "proof.h"

#include "jsonread.h"
#include "textform.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every member of a proof is required. */
#define ALL_MEMBERS(n) ((UINT32_C(1) << (n)) - 1)

/* Members of the two objects, one bit each, to catch missing and repeated ones. */
enum
{
	M_FORMAT, M_VERSION, M_ASSET_ID, M_SEQ, M_TS, M_TS_US, M_VALUE, M_NONCE,
	M_LEAF_HASH, M_LEAF_INDEX, M_PATH, M_SEAL, M_TOP_COUNT
};

static const char *const top_members[M_TOP_COUNT] = {
	"format", "version", "asset_id", "seq", "ts", "ts_us", "value", "nonce",
	"leaf_hash", "leaf_index", "path", "seal"
};

enum
{
	S_ID, S_NODE_ID, S_ASSET_ID, S_CHAIN_POS, S_PREV_HASH, S_MERKLE_ROOT,
	S_POINT_COUNT, S_FIRST_SEQ, S_LAST_SEQ, S_MIN_TS_US, S_MAX_TS_US,
	S_SEALED_AT_US, S_ALGORITHM, S_KEY_ID, S_PUBLIC_KEY, S_SIGNATURE,
	S_SEAL_HASH, S_COUNT
};

static const char *const seal_members[S_COUNT] = {
	"id", "node_id", "asset_id", "chain_pos", "prev_hash", "merkle_root",
	"point_count", "first_seq", "last_seq", "min_ts_us", "max_ts_us",
	"sealed_at_us", "algorithm", "key_id", "public_key", "signature",
	"seal_hash"
};

static bool
read_seal_member(ds_json_reader *r, int which, void *arg)
{
	ds_proof   *p = arg;
	ds_seal    *s = &p->seal;
	char		text[DS_JSON_MAX_STRING];
	char		name[64];

	snprintf(name, sizeof(name), "member \"seal.%s\"", seal_members[which]);

	switch (which)
	{
		case S_ID:
			return ds_json_read_int64(r, name, &p->seal_id);
		case S_NODE_ID:
			return ds_json_read_uuid(r, name, s->node_id);
		case S_ASSET_ID:
			return ds_json_read_uuid(r, name, s->asset_id);
		case S_CHAIN_POS:
			return ds_json_read_int64(r, name, &s->chain_pos);
		case S_PREV_HASH:
			return ds_json_read_hex(r, name, s->prev_hash, DS_HASH_LEN);
		case S_MERKLE_ROOT:
			return ds_json_read_hex(r, name, s->root, DS_HASH_LEN);
		case S_POINT_COUNT:
			return ds_json_read_int64(r, name, &s->point_count);
		case S_FIRST_SEQ:
			return ds_json_read_int64(r, name, &s->first_seq);
		case S_LAST_SEQ:
			return ds_json_read_int64(r, name, &s->last_seq);
		case S_MIN_TS_US:
			return ds_json_read_int64(r, name, &s->min_ts_us);
		case S_MAX_TS_US:
			return ds_json_read_int64(r, name, &s->max_ts_us);
		case S_SEALED_AT_US:
			return ds_json_read_int64(r, name, &s->sealed_at_us);
		case S_ALGORITHM:
			if (!ds_json_read_string(r, name, text, sizeof(text), NULL))
				return false;
			if (strcmp(text, DS_ALGORITHM_ED25519) != 0)
			{
				ds_json_fail(r, "%s is not \"%s\"", name, DS_ALGORITHM_ED25519);
				return false;
			}
			return true;
		case S_KEY_ID:
			return ds_json_read_hex(r, name, s->key_id, DS_HASH_LEN);
		case S_PUBLIC_KEY:
			return ds_json_read_hex(r, name, p->public_key, DS_PUBKEY_LEN);
		case S_SIGNATURE:
			return ds_json_read_hex(r, name, p->signature, DS_SIG_LEN);
		case S_SEAL_HASH:
			return ds_json_read_hex(r, name, p->seal_hash, DS_HASH_LEN);
	}
	return false;
}

static bool
read_path(ds_json_reader *r, ds_proof *p)
{
	p->path_len = 0;
	ds_json_skip_ws(r);
	if (r->p >= r->end || *r->p != '[')
	{
		ds_json_fail(r, "member \"path\" is not an array");
		return false;
	}
	r->p++;
	ds_json_skip_ws(r);
	if (r->p < r->end && *r->p == ']')
	{
		r->p++;
		return true;
	}
	for (;;)
	{
		if (p->path_len >= DS_MAX_TREE_DEPTH)
		{
			ds_json_fail(r, "member \"path\" has more than %d hashes", DS_MAX_TREE_DEPTH);
			return false;
		}
		if (!ds_json_read_hex(r, "an element of member \"path\"", p->path[p->path_len], DS_HASH_LEN))
			return false;
		p->path_len++;
		ds_json_skip_ws(r);
		if (r->p < r->end && *r->p == ',')
		{
			r->p++;
			continue;
		}
		return ds_json_expect(r, ']');
	}
}

static bool
read_top_member(ds_json_reader *r, int which, void *arg)
{
	ds_proof   *p = arg;
	char		text[DS_JSON_MAX_STRING];
	size_t		n;
	int64_t		v;
	char		name[64];

	snprintf(name, sizeof(name), "member \"%s\"", top_members[which]);

	switch (which)
	{
		case M_FORMAT:
			if (!ds_json_read_string(r, name, text, sizeof(text), NULL))
				return false;
			if (strcmp(text, DS_PROOF_FORMAT) != 0)
			{
				ds_json_fail(r, "%s is not \"%s\"", name, DS_PROOF_FORMAT);
				return false;
			}
			return true;
		case M_VERSION:
			if (!ds_json_read_int64(r, name, &v))
				return false;
			if (v != DS_PROOF_VERSION)
			{
				ds_json_fail(r, "proof version %" PRId64 " is not supported", v);
				return false;
			}
			return true;
		case M_ASSET_ID:
			return ds_json_read_uuid(r, name, p->asset_id);
		case M_SEQ:
			return ds_json_read_int64(r, name, &p->seq);
		case M_TS:
			if (!ds_json_read_string(r, name, text, sizeof(text), &n))
				return false;
			if (!ds_parse_ts(text, n, &p->ts_text_us))
			{
				ds_json_fail(r, "%s is not a timestamp of the form YYYY-MM-DDTHH:MM:SS.ffffffZ", name);
				return false;
			}
			return true;
		case M_TS_US:
			return ds_json_read_int64(r, name, &p->ts_us);
		case M_VALUE:
			return ds_json_read_double(r, name, &p->value);
		case M_NONCE:
			return ds_json_read_hex(r, name, p->nonce, DS_NONCE_LEN);
		case M_LEAF_HASH:
			return ds_json_read_hex(r, name, p->leaf_hash, DS_HASH_LEN);
		case M_LEAF_INDEX:
			if (!ds_json_read_int64(r, name, &v))
				return false;
			if (v < 0)
			{
				ds_json_fail(r, "%s is negative", name);
				return false;
			}
			p->leaf_index = (uint64_t) v;
			return true;
		case M_PATH:
			return read_path(r, p);
		case M_SEAL:
			return ds_json_read_object(r, name, seal_members, S_COUNT,
									   ALL_MEMBERS(S_COUNT), read_seal_member,
									   p, NULL);
	}
	return false;
}

/*
 * ds_proof_parse
 *		Read a proof.  Returns DS_PROOF_MALFORMED with a reason in why, or
 *		DS_PROOF_VALID meaning only "well formed": call ds_proof_check next.
 */
ds_proof_result
ds_proof_parse(const char *json, size_t len, ds_proof *out, char *why,
			   size_t whylen)
{
	ds_json_reader		r;

	memset(out, 0, sizeof(*out));
	if (json == NULL || len > DS_PROOF_INPUT_MAX)
	{
		ds_say(why, whylen, "proof text is longer than %d bytes", DS_PROOF_INPUT_MAX);
		return DS_PROOF_MALFORMED;
	}
	ds_json_reader_init(&r, json, len, why, whylen);
	if (!ds_json_read_object(&r, "the proof", top_members, M_TOP_COUNT,
							 ALL_MEMBERS(M_TOP_COUNT), read_top_member, out, NULL))
		return DS_PROOF_MALFORMED;
	if (!ds_json_at_end(&r))
	{
		ds_say(why, whylen, "unexpected text after the proof object");
		return DS_PROOF_MALFORMED;
	}
	return DS_PROOF_VALID;
}

/*
 * ds_proof_check
 *		The seven rules of docs/encoding.md, in order; the first that fails
 *		is named in why.
 */
ds_proof_result
ds_proof_check(ds_hasher *h, const ds_proof *p, char *why, size_t whylen)
{
	const ds_seal *s = &p->seal;
	uint8_t		leaf[DS_HASH_LEN];
	uint8_t		hash[DS_HASH_LEN];
	uint8_t		msg[DS_SEAL_MSG_MAX];
	size_t		msglen;

	/* 1 */
	if (p->ts_text_us != p->ts_us)
	{
		ds_say(why, whylen, "\"ts\" and \"ts_us\" name different instants");
		return DS_PROOF_INVALID;
	}
	if (!isfinite(p->value))
	{
		ds_say(why, whylen, "\"value\" is not finite");
		return DS_PROOF_INVALID;
	}
	/* 2 */
	if (!ds_leaf_hash(h, p->asset_id, p->seq, p->ts_us, p->value, p->nonce, leaf))
	{
		ds_say(why, whylen, "could not hash the leaf");
		return DS_PROOF_INVALID;
	}
	if (memcmp(leaf, p->leaf_hash, DS_HASH_LEN) != 0)
	{
		ds_say(why, whylen, "\"leaf_hash\" does not match the point");
		return DS_PROOF_INVALID;
	}
	/* 3 */
	if (memcmp(p->asset_id, s->asset_id, DS_UUID_LEN) != 0)
	{
		ds_say(why, whylen, "\"asset_id\" differs from the seal's");
		return DS_PROOF_INVALID;
	}
	if (p->seq < s->first_seq || p->seq > s->last_seq)
	{
		ds_say(why, whylen, "\"seq\" lies outside the seal's seq range");
		return DS_PROOF_INVALID;
	}
	if (p->ts_us < s->min_ts_us || p->ts_us > s->max_ts_us)
	{
		ds_say(why, whylen, "\"ts_us\" lies outside the seal's time range");
		return DS_PROOF_INVALID;
	}
	if (s->point_count <= 0 || p->leaf_index >= (uint64_t) s->point_count)
	{
		ds_say(why, whylen, "\"leaf_index\" is not below the seal's point count");
		return DS_PROOF_INVALID;
	}
	if (!ds_seal_leaf_fits(s, p->leaf_index, p->seq))
	{
		ds_say(why, whylen, "\"leaf_index\" does not fit \"seq\" in the seal's seq range");
		return DS_PROOF_INVALID;
	}
	/* 4 */
	if (p->path_len != ds_merkle_path_length(p->leaf_index, (uint64_t) s->point_count))
	{
		ds_say(why, whylen, "\"path\" has the wrong length for its leaf index and point count");
		return DS_PROOF_INVALID;
	}
	if (!ds_merkle_verify_path(h, leaf, p->leaf_index, (uint64_t) s->point_count,
							   (const uint8_t (*)[DS_HASH_LEN]) p->path,
							   p->path_len, s->root))
	{
		ds_say(why, whylen, "\"path\" does not lead to the seal's Merkle root");
		return DS_PROOF_INVALID;
	}
	/* 5 */
	if (!ds_key_id(h, p->public_key, hash) ||
		memcmp(hash, s->key_id, DS_HASH_LEN) != 0)
	{
		ds_say(why, whylen, "\"key_id\" is not the hash of \"public_key\"");
		return DS_PROOF_INVALID;
	}
	/* 6 */
	msglen = ds_seal_message(s, msg, sizeof(msg));
	if (msglen == 0 || !ds_sha256(h, msg, msglen, hash))
	{
		ds_say(why, whylen, "could not encode the seal message");
		return DS_PROOF_INVALID;
	}
	if (memcmp(hash, p->seal_hash, DS_HASH_LEN) != 0)
	{
		ds_say(why, whylen, "\"seal_hash\" does not match the seal's members");
		return DS_PROOF_INVALID;
	}
	/* 7 */
	if (!ds_ed25519_verify(p->public_key, msg, msglen, p->signature))
	{
		ds_say(why, whylen, "the signature does not verify under \"public_key\"");
		return DS_PROOF_INVALID;
	}
	return DS_PROOF_VALID;
}

ds_proof_result
ds_proof_verify(ds_hasher *h, const char *json, size_t len, char *why,
				size_t whylen)
{
	ds_proof   *p = malloc(sizeof(ds_proof));
	ds_proof_result r;

	if (p == NULL)
	{
		ds_say(why, whylen, "out of memory");
		return DS_PROOF_MALFORMED;
	}
	r = ds_proof_parse(json, len, p, why, whylen);
	if (r == DS_PROOF_VALID)
		r = ds_proof_check(h, p, why, whylen);
	free(p);
	return r;
}

/*
 * ds_proof_to_json
 *		Write the proof's JSON text; returns its length, 0 if cap is too
 *		small or a member cannot be written.
 */
size_t
ds_proof_to_json(const ds_proof *p, char *out, size_t cap)
{
	ds_json_writer w;
	char		ts[DS_TS_TEXT_MAX];
	char		value[64];
	const ds_seal *s = &p->seal;

	if (!ds_format_ts(p->ts_us, ts, sizeof(ts)) ||
		!ds_format_double(p->value, value, sizeof(value)))
		return 0;
	ds_json_writer_init(&w, out, cap);
	ds_json_put(&w, "{\"format\": \"%s\", \"version\": %d, ", DS_PROOF_FORMAT, DS_PROOF_VERSION);
	ds_json_put_uuid(&w, "asset_id", p->asset_id);
	ds_json_put(&w, ", \"seq\": %" PRId64 ", \"ts\": \"%s\", \"ts_us\": %" PRId64 ", \"value\": %s, ",
		p->seq, ts, p->ts_us, value);
	ds_json_put_hex(&w, "nonce", p->nonce, DS_NONCE_LEN);
	ds_json_put(&w, ", ");
	ds_json_put_hex(&w, "leaf_hash", p->leaf_hash, DS_HASH_LEN);
	ds_json_put(&w, ", \"leaf_index\": %" PRIu64 ", \"path\": [", p->leaf_index);
	for (int i = 0; i < p->path_len; i++)
	{
		char		hex[DS_HASH_LEN * 2 + 1];

		ds_hex_encode(p->path[i], DS_HASH_LEN, hex);
		hex[DS_HASH_LEN * 2] = '\0';
		ds_json_put(&w, "%s\"%s\"", i > 0 ? ", " : "", hex);
	}
	ds_json_put(&w, "], \"seal\": {\"id\": %" PRId64 ", ", p->seal_id);
	ds_json_put_uuid(&w, "node_id", s->node_id);
	ds_json_put(&w, ", ");
	ds_json_put_uuid(&w, "asset_id", s->asset_id);
	ds_json_put(&w, ", \"chain_pos\": %" PRId64 ", ", s->chain_pos);
	ds_json_put_hex(&w, "prev_hash", s->prev_hash, DS_HASH_LEN);
	ds_json_put(&w, ", ");
	ds_json_put_hex(&w, "merkle_root", s->root, DS_HASH_LEN);
	ds_json_put(&w, ", \"point_count\": %" PRId64 ", \"first_seq\": %" PRId64
		", \"last_seq\": %" PRId64 ", \"min_ts_us\": %" PRId64
		", \"max_ts_us\": %" PRId64 ", \"sealed_at_us\": %" PRId64
		", \"algorithm\": \"%s\", ",
		s->point_count, s->first_seq, s->last_seq, s->min_ts_us,
		s->max_ts_us, s->sealed_at_us, DS_ALGORITHM_ED25519);
	ds_json_put_hex(&w, "key_id", s->key_id, DS_HASH_LEN);
	ds_json_put(&w, ", ");
	ds_json_put_hex(&w, "public_key", p->public_key, DS_PUBKEY_LEN);
	ds_json_put(&w, ", ");
	ds_json_put_hex(&w, "signature", p->signature, DS_SIG_LEN);
	ds_json_put(&w, ", ");
	ds_json_put_hex(&w, "seal_hash", p->seal_hash, DS_HASH_LEN);
	ds_json_put(&w, "}}");
	return ds_json_done(&w);
}


