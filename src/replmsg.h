/*-------------------------------------------------------------------------
 *
 * replmsg.h
 *		What peer replication frames and signs (docs/replication.md).
 *
 * The consumer's answer to the provider's challenge is a signed PGDS
 * message of its own type, so that no other signature of the node can
 * stand in for it.  The export batch is a PGDS frame too, unsigned: it
 * only carries seals, each with its own signature.  The delivery receipt
 * is the consumer's countersignature of a batch it committed: the seals
 * by chain position and hash, and the number of points it received.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_REPLMSG_H
#define DS_REPLMSG_H

#include "seal.h"

/* message types of the PGDS frame (1-6, 10-11 and 16-18 are taken) */
#define DS_MSG_EXPORT_AUTH		20
#define DS_MSG_EXPORT_BATCH		21
#define DS_MSG_DELIVERY_RECEIPT 22

#define DS_RECEIPT_MAX			512

#define DS_EXPORT_NONCE_LEN		32
#define DS_EXPORT_AUTH_MAX		256	/* a purpose is at most 64 bytes */

/* entry records of a seal in a batch, in leaf order */
#define DS_ENTRY_POINT			1	/* seq, ts, value bits, nonce */
#define DS_ENTRY_WITHHELD		2	/* blinded leaf hash */
#define DS_ENTRY_POINT_LEN		(1 + 8 + 8 + 8 + DS_NONCE_LEN)
#define DS_ENTRY_WITHHELD_LEN	(1 + DS_HASH_LEN)

/* withheld records as the consumer stores them: leaf index, hash */
#define DS_WITHHELD_REC_LEN		(8 + DS_HASH_LEN)

/*
 * ds_export_auth_message
 *		The bytes the consumer signs: provider, contract, consumer, nonce
 *		and the purpose it declares (empty: none).
 */
static inline size_t
ds_export_auth_message(const uint8_t provider[DS_UUID_LEN],
					   const uint8_t contract[DS_UUID_LEN],
					   const uint8_t consumer[DS_UUID_LEN],
					   const uint8_t nonce[DS_EXPORT_NONCE_LEN],
					   const char *purpose,
					   uint8_t *out, size_t cap)
{
	ds_msg		m;

	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_EXPORT_AUTH);
	ds_msg_bytes(&m, provider, DS_UUID_LEN);
	ds_msg_bytes(&m, contract, DS_UUID_LEN);
	ds_msg_bytes(&m, consumer, DS_UUID_LEN);
	ds_msg_bytes(&m, nonce, DS_EXPORT_NONCE_LEN);
	ds_msg_text(&m, purpose ? purpose : "");
	return ds_msg_ok(&m) ? m.len : 0;
}

/* A delivery receipt: what one committed batch covered. */
typedef struct ds_receipt
{
	uint8_t		contract[DS_UUID_LEN];
	uint8_t		provider[DS_UUID_LEN];
	uint8_t		consumer[DS_UUID_LEN];
	uint8_t		asset[DS_UUID_LEN];
	int64_t		first_pos;		/* chain positions, inclusive */
	int64_t		last_pos;
	uint8_t		seals_digest[DS_HASH_LEN];	/* see docs/encoding.md */
	uint8_t		last_seal_hash[DS_HASH_LEN];
	int64_t		points;			/* points the consumer stored */
	int64_t		received_at_us; /* microseconds since the Unix epoch */
} ds_receipt;

/*
 * ds_receipt_message
 *		The bytes the consumer signs for a receipt, in field order.
 */
static inline size_t
ds_receipt_message(const ds_receipt *rc, uint8_t *out, size_t cap)
{
	ds_msg		m;

	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_DELIVERY_RECEIPT);
	ds_msg_bytes(&m, rc->contract, DS_UUID_LEN);
	ds_msg_bytes(&m, rc->provider, DS_UUID_LEN);
	ds_msg_bytes(&m, rc->consumer, DS_UUID_LEN);
	ds_msg_bytes(&m, rc->asset, DS_UUID_LEN);
	ds_msg_int64(&m, rc->first_pos);
	ds_msg_int64(&m, rc->last_pos);
	ds_msg_bytes(&m, rc->seals_digest, DS_HASH_LEN);
	ds_msg_bytes(&m, rc->last_seal_hash, DS_HASH_LEN);
	ds_msg_int64(&m, rc->points);
	ds_msg_int64(&m, rc->received_at_us);
	return ds_msg_ok(&m) ? m.len : 0;
}

static inline void
ds_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (uint8_t) (v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t
ds_get_be64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif							/* DS_REPLMSG_H */
