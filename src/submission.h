/*-------------------------------------------------------------------------
 *
 * submission.h
 *		What a node signs for the hub, and what the hub signs for nodes
 *		(docs/hub.md, "Signed submissions").
 *
 * A submission frames one request of a participant (register, publish an
 * asset, ...): the hub it is meant for, the participant, a counter that
 * only grows, the time, the sending instance, the kind, the kind's
 * payload (canonical JSON) and the signing key's id.  The instance is
 * random, drawn when the node's hub-sync worker starts: two running
 * copies of one node send different instances, and the hub sees one
 * return after another took over.  The hub refuses one that is not for it, not
 * signed by the participant the session belongs to, or whose counter is
 * not above the last one it accepted: no forgery, no replay, not even at
 * another hub.
 *
 * Pure code (C library and libcrypto): the hub, the nodes and the fuzz
 * targets decode messages the same way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_SUBMISSION_H
#define DS_SUBMISSION_H

#include "seal.h"

#define DS_MSG_SUBMISSION	5
#define DS_MSG_HUB_HELLO	6

#define DS_SUBMISSION_KIND_MAX	31
#define DS_SUBMISSION_PAYLOAD_MAX	16384
#define DS_SUBMISSION_MAX	(DS_SUBMISSION_PAYLOAD_MAX + 256)
#define DS_HELLO_NONCE_LEN	32
#define DS_INSTANCE_LEN		16
#define DS_HELLO_MAX		128

typedef struct ds_submission
{
	uint8_t		hub_id[DS_UUID_LEN];
	uint8_t		node_id[DS_UUID_LEN];
	int64_t		counter;
	int64_t		submitted_at_us;
	uint8_t		instance[DS_INSTANCE_LEN];
	char		kind[DS_SUBMISSION_KIND_MAX + 1];
	const uint8_t *payload;		/* points into the decoded buffer */
	size_t		payload_len;
	uint8_t		key_id[DS_HASH_LEN];
} ds_submission;

/* Reading framed messages: every field in order, then ds_msg_read_end. */
typedef struct ds_msg_reader
{
	const uint8_t *p;
	const uint8_t *end;
	bool		failed;
} ds_msg_reader;

extern bool ds_msg_read_begin(ds_msg_reader *r, const uint8_t *buf, size_t len,
							  int type);
extern bool ds_msg_read_field(ds_msg_reader *r, const uint8_t **data, size_t *len);
extern bool ds_msg_read_fixed(ds_msg_reader *r, uint8_t *out, size_t len);
extern bool ds_msg_read_int64(ds_msg_reader *r, int64_t *v);
extern bool ds_msg_read_end(ds_msg_reader *r);

/*
 * A key announcement (DS_MSG_KEY_ANNOUNCE, made by rotate_node_key and
 * signed by the previous key) and a key revocation (DS_MSG_KEY_REVOKE,
 * made by revoke_node_key and signed by the key current after it).
 */
typedef struct ds_key_announce
{
	uint8_t		node_id[DS_UUID_LEN];
	uint8_t		key_id[DS_HASH_LEN];
	uint8_t		public_key[DS_PUBKEY_LEN];
	int64_t		created_at_us;
	uint8_t		previous_key_id[DS_HASH_LEN];
} ds_key_announce;

typedef struct ds_key_revoke
{
	uint8_t		node_id[DS_UUID_LEN];
	uint8_t		key_id[DS_HASH_LEN];
	int64_t		compromised_since_us;
	int64_t		revoked_at_us;
	uint8_t		signer_key_id[DS_HASH_LEN];
} ds_key_revoke;

extern bool ds_key_announce_decode(const uint8_t *buf, size_t len, ds_key_announce *out);
extern bool ds_key_revoke_decode(const uint8_t *buf, size_t len, ds_key_revoke *out);

extern size_t ds_submission_encode(const ds_submission *s, uint8_t *out, size_t cap);
extern bool ds_submission_decode(const uint8_t *buf, size_t len, ds_submission *out);
extern size_t ds_hub_hello_message(const uint8_t hub_id[DS_UUID_LEN],
								   const uint8_t nonce[DS_HELLO_NONCE_LEN],
								   int64_t at_us, uint8_t *out, size_t cap);

#endif							/* DS_SUBMISSION_H */
