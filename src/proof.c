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

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outside PostgreSQL (fuzz targets, tests) there is no c.h to define this. */
#ifndef pg_attribute_printf
#if defined(__GNUC__)
#define pg_attribute_printf(f, a) __attribute__((format(printf, f, a)))
#else
#define pg_attribute_printf(f, a)
#endif
#endif

/* Longest string member we ever need (hex of a signature). */
#define MAX_STRING 160
/* Longest JSON number we read. */
#define MAX_NUMBER 400

typedef struct reader
{
	const char *start;
	const char *p;
	const char *end;
	char	   *why;
	size_t		whylen;
	bool		failed;
} reader;

static void fail(reader *r, const char *fmt,...) pg_attribute_printf(2, 3);
static void say(char *why, size_t whylen, const char *fmt,...) pg_attribute_printf(3, 4);

static void
fail(reader *r, const char *fmt,...)
{
	va_list		ap;

	if (r->failed)
		return;
	r->failed = true;
	if (r->why == NULL || r->whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, r->whylen, fmt, ap);
	va_end(ap);
}

static void
say(char *why, size_t whylen, const char *fmt,...)
{
	va_list		ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static void
skip_ws(reader *r)
{
	while (r->p < r->end &&
		   (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool
expect(reader *r, char c)
{
	skip_ws(r);
	if (r->p >= r->end || *r->p != c)
	{
		fail(r, "expected \"%c\" at offset %ld", c, (long) (r->p - r->start));
		return false;
	}
	r->p++;
	return true;
}

/*
 * A JSON string into out (NUL-terminated).  Escapes are decoded; nothing in
 * a valid proof needs a character outside ASCII, so \u escapes above 0x7f
 * and raw control or non-ASCII bytes are refused.
 */
static bool
read_string(reader *r, const char *what, char *out, size_t cap, size_t *outlen)
{
	size_t		n = 0;

	skip_ws(r);
	if (r->p >= r->end || *r->p != '"')
	{
		fail(r, "%s is not a string", what);
		return false;
	}
	r->p++;
	while (r->p < r->end && *r->p != '"')
	{
		unsigned char c = (unsigned char) *r->p++;

		if (c < 0x20 || c >= 0x80)
		{
			fail(r, "unexpected character in a string");
			return false;
		}
		if (c == '\\')
		{
			if (r->p >= r->end)
				break;
			c = (unsigned char) *r->p++;
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
					break;
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'u':
					{
						unsigned int cp = 0;

						if (r->end - r->p < 4)
						{
							fail(r, "truncated escape in a string");
							return false;
						}
						for (int i = 0; i < 4; i++)
						{
							char		d = *r->p++;

							cp <<= 4;
							if (d >= '0' && d <= '9')
								cp |= (unsigned int) (d - '0');
							else if (d >= 'a' && d <= 'f')
								cp |= (unsigned int) (d - 'a' + 10);
							else if (d >= 'A' && d <= 'F')
								cp |= (unsigned int) (d - 'A' + 10);
							else
							{
								fail(r, "bad escape in a string");
								return false;
							}
						}
						if (cp == 0 || cp >= 0x80)
						{
							fail(r, "unexpected character in a string");
							return false;
						}
						c = (unsigned char) cp;
						break;
					}
				default:
					fail(r, "bad escape in a string");
					return false;
			}
		}
		if (n + 1 >= cap)
		{
			fail(r, "%s is too long", what);
			return false;
		}
		out[n++] = (char) c;
	}
	if (r->p >= r->end)
	{
		fail(r, "unterminated string");
		return false;
	}
	r->p++;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return true;
}

/*
 * The text of a JSON number, checked against the JSON grammar, into out.
 * *integral tells whether it has neither fraction nor exponent.
 */
static bool
read_number_text(reader *r, const char *what, char *out, size_t cap, bool *integral)
{
	const char *start;
	size_t		n;

	skip_ws(r);
	start = r->p;
	*integral = true;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
	{
		r->p = start;
		fail(r, "%s is not a number", what);
		return false;
	}
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.')
	{
		*integral = false;
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		{
			fail(r, "%s is not a valid JSON number", what);
			return false;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
	{
		*integral = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		{
			fail(r, "%s is not a valid JSON number", what);
			return false;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	n = (size_t) (r->p - start);
	if (n + 1 > cap)
	{
		fail(r, "%s is too long a number", what);
		return false;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	return true;
}

static bool
read_int64(reader *r, const char *member, int64_t *out)
{
	char		text[MAX_NUMBER];
	bool		integral;
	const char *s;
	bool		neg = false;
	uint64_t	v = 0;

	if (!read_number_text(r, member, text, sizeof(text), &integral))
		return false;
	if (!integral)
	{
		fail(r, "%s is not an integer", member);
		return false;
	}
	s = text;
	if (*s == '-')
	{
		neg = true;
		s++;
	}
	for (; *s; s++)
	{
		uint64_t	d = (uint64_t) (*s - '0');

		if (v > (UINT64_MAX - d) / 10)
		{
			fail(r, "%s is out of range", member);
			return false;
		}
		v = v * 10 + d;
	}
	if ((!neg && v > (uint64_t) INT64_MAX) ||
		(neg && v > (uint64_t) INT64_MAX + 1))
	{
		fail(r, "%s is out of range", member);
		return false;
	}
	*out = neg ? (int64_t) (0 - v) : (int64_t) v;
	return true;
}

static bool
read_double(reader *r, const char *member, double *out)
{
	char		text[MAX_NUMBER];
	bool		integral;
	char	   *end;

	if (!read_number_text(r, member, text, sizeof(text), &integral))
		return false;
	*out = strtod(text, &end);
	if (*end != '\0')
	{
		fail(r, "%s is not a number", member);
		return false;
	}
	/* Overflow gives an infinity, which check rule 1 reports as invalid. */
	return true;
}

static bool
is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
read_hex(reader *r, const char *member, uint8_t *out, size_t outlen)
{
	char		text[MAX_STRING];
	size_t		n;

	if (!read_string(r, member, text, sizeof(text), &n))
		return false;
	if (n != outlen * 2 || !is_lower_hex(text, n) ||
		!ds_hex_decode(text, n, out, outlen))
	{
		fail(r, "%s is not %zu lower-case hex digits", member,
			 outlen * 2);
		return false;
	}
	return true;
}

static bool
read_uuid(reader *r, const char *member, uint8_t out[DS_UUID_LEN])
{
	char		text[MAX_STRING];
	size_t		n;

	if (!read_string(r, member, text, sizeof(text), &n))
		return false;
	if (!ds_uuid_parse(text, n, out))
	{
		fail(r, "%s is not a lower-case uuid", member);
		return false;
	}
	return true;
}

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

static int
member_index(const char *const *names, int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/*
 * Read "{ "name": value, ... }", calling one_member for each name.  seen
 * collects the members' bits; missing and repeated members are refused.
 */
typedef bool (*member_reader) (reader *r, int which, ds_proof *p);

static bool
read_object(reader *r, const char *what, const char *const *names, int count,
			member_reader one_member, ds_proof *p)
{
	uint32_t	seen = 0;
	char		name[MAX_STRING];

	skip_ws(r);
	if (r->p >= r->end || *r->p != '{')
	{
		fail(r, "%s is not a JSON object", what);
		return false;
	}
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == '}')
		r->p++;
	else
	{
		for (;;)
		{
			int			which;

			if (!read_string(r, "a member name", name, sizeof(name), NULL))
				return false;
			which = member_index(names, count, name);
			if (which < 0)
			{
				fail(r, "%s has an unknown member \"%s\"", what, name);
				return false;
			}
			if (seen & (UINT32_C(1) << which))
			{
				fail(r, "%s has member \"%s\" twice", what, name);
				return false;
			}
			seen |= UINT32_C(1) << which;
			if (!expect(r, ':') || !one_member(r, which, p))
				return false;
			skip_ws(r);
			if (r->p < r->end && *r->p == ',')
			{
				r->p++;
				continue;
			}
			if (!expect(r, '}'))
				return false;
			break;
		}
	}
	for (int i = 0; i < count; i++)
		if (!(seen & (UINT32_C(1) << i)))
		{
			fail(r, "%s has no member \"%s\"", what, names[i]);
			return false;
		}
	return true;
}

static bool
read_seal_member(reader *r, int which, ds_proof *p)
{
	ds_seal    *s = &p->seal;
	char		text[MAX_STRING];
	char		name[64];

	snprintf(name, sizeof(name), "member \"seal.%s\"", seal_members[which]);

	switch (which)
	{
		case S_ID:
			return read_int64(r, name, &p->seal_id);
		case S_NODE_ID:
			return read_uuid(r, name, s->node_id);
		case S_ASSET_ID:
			return read_uuid(r, name, s->asset_id);
		case S_CHAIN_POS:
			return read_int64(r, name, &s->chain_pos);
		case S_PREV_HASH:
			return read_hex(r, name, s->prev_hash, DS_HASH_LEN);
		case S_MERKLE_ROOT:
			return read_hex(r, name, s->root, DS_HASH_LEN);
		case S_POINT_COUNT:
			return read_int64(r, name, &s->point_count);
		case S_FIRST_SEQ:
			return read_int64(r, name, &s->first_seq);
		case S_LAST_SEQ:
			return read_int64(r, name, &s->last_seq);
		case S_MIN_TS_US:
			return read_int64(r, name, &s->min_ts_us);
		case S_MAX_TS_US:
			return read_int64(r, name, &s->max_ts_us);
		case S_SEALED_AT_US:
			return read_int64(r, name, &s->sealed_at_us);
		case S_ALGORITHM:
			if (!read_string(r, name, text, sizeof(text), NULL))
				return false;
			if (strcmp(text, DS_ALGORITHM_ED25519) != 0)
			{
				fail(r, "%s is not \"%s\"", name, DS_ALGORITHM_ED25519);
				return false;
			}
			return true;
		case S_KEY_ID:
			return read_hex(r, name, s->key_id, DS_HASH_LEN);
		case S_PUBLIC_KEY:
			return read_hex(r, name, p->public_key, DS_PUBKEY_LEN);
		case S_SIGNATURE:
			return read_hex(r, name, p->signature, DS_SIG_LEN);
		case S_SEAL_HASH:
			return read_hex(r, name, p->seal_hash, DS_HASH_LEN);
	}
	return false;
}

static bool
read_path(reader *r, ds_proof *p)
{
	p->path_len = 0;
	skip_ws(r);
	if (r->p >= r->end || *r->p != '[')
	{
		fail(r, "member \"path\" is not an array");
		return false;
	}
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']')
	{
		r->p++;
		return true;
	}
	for (;;)
	{
		if (p->path_len >= DS_MAX_TREE_DEPTH)
		{
			fail(r, "member \"path\" has more than %d hashes", DS_MAX_TREE_DEPTH);
			return false;
		}
		if (!read_hex(r, "an element of member \"path\"", p->path[p->path_len], DS_HASH_LEN))
			return false;
		p->path_len++;
		skip_ws(r);
		if (r->p < r->end && *r->p == ',')
		{
			r->p++;
			continue;
		}
		return expect(r, ']');
	}
}

static bool
read_top_member(reader *r, int which, ds_proof *p)
{
	char		text[MAX_STRING];
	size_t		n;
	int64_t		v;
	char		name[64];

	snprintf(name, sizeof(name), "member \"%s\"", top_members[which]);

	switch (which)
	{
		case M_FORMAT:
			if (!read_string(r, name, text, sizeof(text), NULL))
				return false;
			if (strcmp(text, DS_PROOF_FORMAT) != 0)
			{
				fail(r, "%s is not \"%s\"", name, DS_PROOF_FORMAT);
				return false;
			}
			return true;
		case M_VERSION:
			if (!read_int64(r, name, &v))
				return false;
			if (v != DS_PROOF_VERSION)
			{
				fail(r, "proof version %" PRId64 " is not supported", v);
				return false;
			}
			return true;
		case M_ASSET_ID:
			return read_uuid(r, name, p->asset_id);
		case M_SEQ:
			return read_int64(r, name, &p->seq);
		case M_TS:
			if (!read_string(r, name, text, sizeof(text), &n))
				return false;
			if (!ds_parse_ts(text, n, &p->ts_text_us))
			{
				fail(r, "%s is not a timestamp of the form YYYY-MM-DDTHH:MM:SS.ffffffZ", name);
				return false;
			}
			return true;
		case M_TS_US:
			return read_int64(r, name, &p->ts_us);
		case M_VALUE:
			return read_double(r, name, &p->value);
		case M_NONCE:
			return read_hex(r, name, p->nonce, DS_NONCE_LEN);
		case M_LEAF_HASH:
			return read_hex(r, name, p->leaf_hash, DS_HASH_LEN);
		case M_LEAF_INDEX:
			if (!read_int64(r, name, &v))
				return false;
			if (v < 0)
			{
				fail(r, "%s is negative", name);
				return false;
			}
			p->leaf_index = (uint64_t) v;
			return true;
		case M_PATH:
			return read_path(r, p);
		case M_SEAL:
			return read_object(r, name, seal_members, S_COUNT,
							   read_seal_member, p);
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
	reader		r;

	memset(out, 0, sizeof(*out));
	if (json == NULL || len > DS_PROOF_INPUT_MAX)
	{
		say(why, whylen, "proof text is longer than %d bytes", DS_PROOF_INPUT_MAX);
		return DS_PROOF_MALFORMED;
	}
	r.start = json;
	r.p = json;
	r.end = json + len;
	r.why = why;
	r.whylen = whylen;
	r.failed = false;
	if (!read_object(&r, "the proof", top_members, M_TOP_COUNT, read_top_member, out))
		return DS_PROOF_MALFORMED;
	skip_ws(&r);
	if (r.p != r.end)
	{
		say(why, whylen, "unexpected text after the proof object");
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
		say(why, whylen, "\"ts\" and \"ts_us\" name different instants");
		return DS_PROOF_INVALID;
	}
	if (!isfinite(p->value))
	{
		say(why, whylen, "\"value\" is not finite");
		return DS_PROOF_INVALID;
	}
	/* 2 */
	if (!ds_leaf_hash(h, p->asset_id, p->seq, p->ts_us, p->value, p->nonce, leaf))
	{
		say(why, whylen, "could not hash the leaf");
		return DS_PROOF_INVALID;
	}
	if (memcmp(leaf, p->leaf_hash, DS_HASH_LEN) != 0)
	{
		say(why, whylen, "\"leaf_hash\" does not match the point");
		return DS_PROOF_INVALID;
	}
	/* 3 */
	if (memcmp(p->asset_id, s->asset_id, DS_UUID_LEN) != 0)
	{
		say(why, whylen, "\"asset_id\" differs from the seal's");
		return DS_PROOF_INVALID;
	}
	if (p->seq < s->first_seq || p->seq > s->last_seq)
	{
		say(why, whylen, "\"seq\" lies outside the seal's seq range");
		return DS_PROOF_INVALID;
	}
	if (p->ts_us < s->min_ts_us || p->ts_us > s->max_ts_us)
	{
		say(why, whylen, "\"ts_us\" lies outside the seal's time range");
		return DS_PROOF_INVALID;
	}
	if (s->point_count <= 0 || p->leaf_index >= (uint64_t) s->point_count)
	{
		say(why, whylen, "\"leaf_index\" is not below the seal's point count");
		return DS_PROOF_INVALID;
	}
	/* 4 */
	if (p->path_len != ds_merkle_path_length(p->leaf_index, (uint64_t) s->point_count))
	{
		say(why, whylen, "\"path\" has the wrong length for its leaf index and point count");
		return DS_PROOF_INVALID;
	}
	if (!ds_merkle_verify_path(h, leaf, p->leaf_index, (uint64_t) s->point_count,
							   (const uint8_t (*)[DS_HASH_LEN]) p->path,
							   p->path_len, s->root))
	{
		say(why, whylen, "\"path\" does not lead to the seal's Merkle root");
		return DS_PROOF_INVALID;
	}
	/* 5 */
	if (!ds_key_id(h, p->public_key, hash) ||
		memcmp(hash, s->key_id, DS_HASH_LEN) != 0)
	{
		say(why, whylen, "\"key_id\" is not the hash of \"public_key\"");
		return DS_PROOF_INVALID;
	}
	/* 6 */
	msglen = ds_seal_message(s, msg, sizeof(msg));
	if (msglen == 0 || !ds_sha256(h, msg, msglen, hash))
	{
		say(why, whylen, "could not encode the seal message");
		return DS_PROOF_INVALID;
	}
	if (memcmp(hash, p->seal_hash, DS_HASH_LEN) != 0)
	{
		say(why, whylen, "\"seal_hash\" does not match the seal's members");
		return DS_PROOF_INVALID;
	}
	/* 7 */
	if (!ds_ed25519_verify(p->public_key, msg, msglen, p->signature))
	{
		say(why, whylen, "the signature does not verify under \"public_key\"");
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
		say(why, whylen, "out of memory");
		return DS_PROOF_MALFORMED;
	}
	r = ds_proof_parse(json, len, p, why, whylen);
	if (r == DS_PROOF_VALID)
		r = ds_proof_check(h, p, why, whylen);
	free(p);
	return r;
}

/* Appending writer for ds_proof_to_json: overflow makes the result 0. */
typedef struct writer
{
	char	   *out;
	size_t		cap;
	size_t		len;
	bool		overflow;
} writer;

static void put(writer *w, const char *fmt,...) pg_attribute_printf(2, 3);

static void
put(writer *w, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->out + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= w->cap - w->len)
		w->overflow = true;
	else
		w->len += (size_t) n;
}

static void
put_hex(writer *w, const char *name, const uint8_t *bytes, size_t len)
{
	char		hex[DS_SIG_LEN * 2 + 1];

	ds_hex_encode(bytes, len, hex);
	hex[len * 2] = '\0';
	put(w, "\"%s\": \"%s\"", name, hex);
}

static void
put_uuid(writer *w, const char *name, const uint8_t uuid[DS_UUID_LEN])
{
	char		text[DS_UUID_TEXT_LEN + 1];

	ds_uuid_format(uuid, text);
	put(w, "\"%s\": \"%s\"", name, text);
}

/*
 * ds_proof_to_json
 *		Write the proof's JSON text; returns its length, 0 if cap is too
 *		small or a member cannot be written.
 */
size_t
ds_proof_to_json(const ds_proof *p, char *out, size_t cap)
{
	writer		w = {out, cap, 0, cap == 0};
	char		ts[DS_TS_TEXT_MAX];
	char		value[64];
	const ds_seal *s = &p->seal;

	if (!ds_format_ts(p->ts_us, ts, sizeof(ts)) ||
		!ds_format_double(p->value, value, sizeof(value)))
		return 0;
	put(&w, "{\"format\": \"%s\", \"version\": %d, ", DS_PROOF_FORMAT, DS_PROOF_VERSION);
	put_uuid(&w, "asset_id", p->asset_id);
	put(&w, ", \"seq\": %" PRId64 ", \"ts\": \"%s\", \"ts_us\": %" PRId64 ", \"value\": %s, ",
		p->seq, ts, p->ts_us, value);
	put_hex(&w, "nonce", p->nonce, DS_NONCE_LEN);
	put(&w, ", ");
	put_hex(&w, "leaf_hash", p->leaf_hash, DS_HASH_LEN);
	put(&w, ", \"leaf_index\": %" PRIu64 ", \"path\": [", p->leaf_index);
	for (int i = 0; i < p->path_len; i++)
	{
		char		hex[DS_HASH_LEN * 2 + 1];

		ds_hex_encode(p->path[i], DS_HASH_LEN, hex);
		hex[DS_HASH_LEN * 2] = '\0';
		put(&w, "%s\"%s\"", i > 0 ? ", " : "", hex);
	}
	put(&w, "], \"seal\": {\"id\": %" PRId64 ", ", p->seal_id);
	put_uuid(&w, "node_id", s->node_id);
	put(&w, ", ");
	put_uuid(&w, "asset_id", s->asset_id);
	put(&w, ", \"chain_pos\": %" PRId64 ", ", s->chain_pos);
	put_hex(&w, "prev_hash", s->prev_hash, DS_HASH_LEN);
	put(&w, ", ");
	put_hex(&w, "merkle_root", s->root, DS_HASH_LEN);
	put(&w, ", \"point_count\": %" PRId64 ", \"first_seq\": %" PRId64
		", \"last_seq\": %" PRId64 ", \"min_ts_us\": %" PRId64
		", \"max_ts_us\": %" PRId64 ", \"sealed_at_us\": %" PRId64
		", \"algorithm\": \"%s\", ",
		s->point_count, s->first_seq, s->last_seq, s->min_ts_us,
		s->max_ts_us, s->sealed_at_us, DS_ALGORITHM_ED25519);
	put_hex(&w, "key_id", s->key_id, DS_HASH_LEN);
	put(&w, ", ");
	put_hex(&w, "public_key", p->public_key, DS_PUBKEY_LEN);
	put(&w, ", ");
	put_hex(&w, "signature", p->signature, DS_SIG_LEN);
	put(&w, ", ");
	put_hex(&w, "seal_hash", p->seal_hash, DS_HASH_LEN);
	put(&w, "}}");
	return w.overflow ? 0 : w.len;
}

/* uuid text: 8-4-4-4-12 lower-case hex digits. */
void
ds_uuid_format(const uint8_t uuid[DS_UUID_LEN], char *out)
{
	char		hex[DS_UUID_LEN * 2];
	int			o = 0;

	ds_hex_encode(uuid, DS_UUID_LEN, hex);
	for (int i = 0; i < DS_UUID_LEN * 2; i++)
	{
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = '\0';
}

bool
ds_uuid_parse(const char *in, size_t len, uint8_t uuid[DS_UUID_LEN])
{
	char		hex[DS_UUID_LEN * 2];
	int			o = 0;

	if (len != DS_UUID_TEXT_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (in[i] != '-')
				return false;
			continue;
		}
		hex[o++] = in[i];
	}
	return is_lower_hex(hex, sizeof(hex)) &&
		ds_hex_decode(hex, sizeof(hex), uuid, DS_UUID_LEN);
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date and back (H. Hinnant's
 * algorithms, exact for every year we accept).
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

#define US_PER_DAY	INT64_C(86400000000)

/*
 * ds_format_ts
 *		ISO 8601 in UTC with six fractional digits; astronomical years, four
 *		digits for 0000-9999, a sign otherwise ("-4712", "+10000").
 */
bool
ds_format_ts(int64_t unix_us, char *out, size_t cap)
{
	int64_t		days = unix_us / US_PER_DAY;
	int64_t		rem = unix_us % US_PER_DAY;
	int64_t		y;
	int			m;
	int			d;
	int			n;

	if (rem < 0)
	{
		rem += US_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		n = snprintf(out, cap, "%04" PRId64, y);
	else if (y > 9999)
		n = snprintf(out, cap, "+%" PRId64, y);
	else
		n = snprintf(out, cap, "-%04" PRId64, -y);
	if (n < 0 || (size_t) n >= cap)
		return false;
	n = snprintf(out + n, cap - (size_t) n, "-%02d-%02dT%02d:%02d:%02d.%06dZ",
				 m, d,
				 (int) (rem / INT64_C(3600000000)),
				 (int) (rem / 60000000 % 60),
				 (int) (rem / 1000000 % 60),
				 (int) (rem % 1000000));
	return n > 0 && (size_t) n < cap;
}

static bool
digits(const char *s, int n, int64_t *out)
{
	int64_t		v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * ds_parse_ts
 *		Read exactly the form ds_format_ts writes, for years -9999..+99999;
 *		anything else (another zone, fewer digits, a 61st second) is refused.
 */
bool
ds_parse_ts(const char *in, size_t len, int64_t *unix_us)
{
	const char *p = in;
	const char *end = in + len;
	int			ydigits = 0;
	int64_t		y;
	int64_t		mo,
				d,
				hh,
				mi,
				ss,
				us;
	char		back[DS_TS_TEXT_MAX];
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len < 4 || len >= DS_TS_TEXT_MAX)
		return false;
	if (*p == '+' || *p == '-')
		p++;
	while (p + ydigits < end && p[ydigits] >= '0' && p[ydigits] <= '9')
		ydigits++;
	if (ydigits < 4 || ydigits > 5 || !digits(p, ydigits, &y))
		return false;
	if (in[0] == '-')
		y = -y;
	p += ydigits;
	/* "-MM-DDTHH:MM:SS.ffffffZ" */
	if (end - p != 23 || p[0] != '-' || p[3] != '-' || p[6] != 'T' ||
		p[9] != ':' || p[12] != ':' || p[15] != '.' || p[22] != 'Z')
		return false;
	if (!digits(p + 1, 2, &mo) || !digits(p + 4, 2, &d) ||
		!digits(p + 7, 2, &hh) || !digits(p + 10, 2, &mi) ||
		!digits(p + 13, 2, &ss) || !digits(p + 16, 6, &us))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || hh > 23 ||
		mi > 59 || ss > 59)
		return false;
	*unix_us = days_from_civil(y, (int) mo, (int) d) * US_PER_DAY +
		((hh * 60 + mi) * 60 + ss) * INT64_C(1000000) + us;

	/* One text per instant: 29 February of a common year, "+0999" and the like fail here. */
	return ds_format_ts(*unix_us, back, sizeof(back)) &&
		strlen(back) == len && memcmp(back, in, len) == 0;
}

/*
 * ds_format_double
 *		The shortest decimal that reads back as the same finite double, as a
 *		JSON number.
 */
bool
ds_format_double(double value, char *out, size_t cap)
{
	if (!isfinite(value))
		return false;
	for (int prec = 1; prec <= 17; prec++)
	{
		int			n = snprintf(out, cap, "%.*g", prec, value);

		if (n < 0 || (size_t) n >= cap)
			return false;
		if (strtod(out, NULL) == value)
			return true;
	}
	return false;
}
