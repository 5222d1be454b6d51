/*-------------------------------------------------------------------------
 *
 * submission.c
 *		Signed submissions to the hub and the hub's hello (submission.h).
 *
 *-------------------------------------------------------------------------
 */
#include "submission.h"

#include <string.h>

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * ds_msg_read_begin
 *		Check the frame ("PGDS", version, type) of a message.
 */
bool
ds_msg_read_begin(ds_msg_reader *r, const uint8_t *buf, size_t len, int type)
{
	r->p = buf;
	r->end = buf + len;
	r->failed = buf == NULL || len < 6 || memcmp(buf, DS_MSG_MAGIC, 4) != 0 ||
		buf[4] != DS_MSG_VERSION || buf[5] != type;
	if (!r->failed)
		r->p += 6;
	return !r->failed;
}

/* The next field, in place. */
bool
ds_msg_read_field(ds_msg_reader *r, const uint8_t **data, size_t *len)
{
	uint64_t	n;

	if (r->failed || r->end - r->p < 4)
		return !(r->failed = true);
	n = get_be(r->p, 4);
	if ((uint64_t) (r->end - r->p - 4) < n)
		return !(r->failed = true);
	*data = r->p + 4;
	*len = (size_t) n;
	r->p += 4 + n;
	return true;
}

/* The next field, which must be exactly len bytes. */
bool
ds_msg_read_fixed(ds_msg_reader *r, uint8_t *out, size_t len)
{
	const uint8_t *data;
	size_t		n;

	if (!ds_msg_read_field(r, &data, &n) || n != len)
		return !(r->failed = true);
	memcpy(out, data, len);
	return true;
}

bool
ds_msg_read_int64(ds_msg_reader *r, int64_t *v)
{
	uint8_t		b[8];

	if (!ds_msg_read_fixed(r, b, 8))
		return false;
	*v = (int64_t) get_be(b, 8);
	return true;
}

/* True when every field was read and nothing is left. */
bool
ds_msg_read_end(ds_msg_reader *r)
{
	return !r->failed && r->p == r->end;
}

/*
 * ds_submission_encode
 *		The signed bytes of a submission; 0 if cap is too small or a field
 *		is out of bounds.
 */
size_t
ds_submission_encode(const ds_submission *s, uint8_t *out, size_t cap)
{
	ds_msg		m;
	size_t		kindlen = strnlen(s->kind, sizeof(s->kind));

	if (kindlen == 0 || kindlen > DS_SUBMISSION_KIND_MAX ||
		s->payload_len > DS_SUBMISSION_PAYLOAD_MAX)
		return 0;
	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_SUBMISSION);
	ds_msg_bytes(&m, s->hub_id, DS_UUID_LEN);
	ds_msg_bytes(&m, s->node_id, DS_UUID_LEN);
	ds_msg_int64(&m, s->counter);
	ds_msg_int64(&m, s->submitted_at_us);
	ds_msg_bytes(&m, s->instance, DS_INSTANCE_LEN);
	ds_msg_bytes(&m, s->kind, kindlen);
	ds_msg_bytes(&m, s->payload, s->payload_len);
	ds_msg_bytes(&m, s->key_id, DS_HASH_LEN);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_submission_decode
 *		Read a submission; the payload points into buf.  False for anything
 *		that is not exactly one well-formed submission.
 */
bool
ds_submission_decode(const uint8_t *buf, size_t len, ds_submission *out)
{
	ds_msg_reader r;
	const uint8_t *kind;
	size_t		kindlen;

	memset(out, 0, sizeof(*out));
	if (!ds_msg_read_begin(&r, buf, len, DS_MSG_SUBMISSION) ||
		!ds_msg_read_fixed(&r, out->hub_id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&r, out->node_id, DS_UUID_LEN) ||
		!ds_msg_read_int64(&r, &out->counter) ||
		!ds_msg_read_int64(&r, &out->submitted_at_us) ||
		!ds_msg_read_fixed(&r, out->instance, DS_INSTANCE_LEN) ||
		!ds_msg_read_field(&r, &kind, &kindlen) ||
		!ds_msg_read_field(&r, &out->payload, &out->payload_len) ||
		!ds_msg_read_fixed(&r, out->key_id, DS_HASH_LEN) ||
		!ds_msg_read_end(&r))
		return false;
	if (kindlen == 0 || kindlen > DS_SUBMISSION_KIND_MAX ||
		out->payload_len > DS_SUBMISSION_PAYLOAD_MAX)
		return false;
	for (size_t i = 0; i < kindlen; i++)
		if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_'))
			return false;
	memcpy(out->kind, kind, kindlen);
	out->kind[kindlen] = '\0';
	return true;
}

/*
 * ds_hub_hello_message
 *		What the hub signs to prove to a node that it holds the pinned key:
 *		its id, the node's fresh nonce and the time.
 */
size_t
ds_hub_hello_message(const uint8_t hub_id[DS_UUID_LEN],
					 const uint8_t nonce[DS_HELLO_NONCE_LEN], int64_t at_us,
					 uint8_t *out, size_t cap)
{
	ds_msg		m;

	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_HUB_HELLO);
	ds_msg_bytes(&m, hub_id, DS_UUID_LEN);
	ds_msg_bytes(&m, nonce, DS_HELLO_NONCE_LEN);
	ds_msg_int64(&m, at_us);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_key_announce_decode
 *		Read a key announcement: node id, new key id, new public key, time,
 *		previous key id.  The signatures over it are checked by the caller.
 */
bool
ds_key_announce_decode(const uint8_t *buf, size_t len, ds_key_announce *out)
{
	ds_msg_reader r;

	return ds_msg_read_begin(&r, buf, len, DS_MSG_KEY_ANNOUNCE) &&
		ds_msg_read_fixed(&r, out->node_id, DS_UUID_LEN) &&
		ds_msg_read_fixed(&r, out->key_id, DS_HASH_LEN) &&
		ds_msg_read_fixed(&r, out->public_key, DS_PUBKEY_LEN) &&
		ds_msg_read_int64(&r, &out->created_at_us) &&
		ds_msg_read_fixed(&r, out->previous_key_id, DS_HASH_LEN) &&
		ds_msg_read_end(&r);
}

/*
 * ds_key_revoke_decode
 *		Read a key revocation: node id, revoked key id, compromised since,
 *		revoked at, the id of the key that signed it.
 */
bool
ds_key_revoke_decode(const uint8_t *buf, size_t len, ds_key_revoke *out)
{
	ds_msg_reader r;

	return ds_msg_read_begin(&r, buf, len, DS_MSG_KEY_REVOKE) &&
		ds_msg_read_fixed(&r, out->node_id, DS_UUID_LEN) &&
		ds_msg_read_fixed(&r, out->key_id, DS_HASH_LEN) &&
		ds_msg_read_int64(&r, &out->compromised_since_us) &&
		ds_msg_read_int64(&r, &out->revoked_at_us) &&
		ds_msg_read_fixed(&r, out->signer_key_id, DS_HASH_LEN) &&
		ds_msg_read_end(&r);
}
