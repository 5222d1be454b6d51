/*-------------------------------------------------------------------------
 *
 * gossip.h
 *		Tree heads of the hub's anchor log exchanged between nodes, and
 *		the evidence kept when they disagree (docs/witness.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_GOSSIP_H
#define DS_GOSSIP_H

#include "postgres.h"

#include "seal.h"
#include "witness.h"

typedef enum ds_head_verdict
{
	DS_HEAD_CONSISTENT,			/* proven part of the log this node sees */
	DS_HEAD_FORKED,				/* proven not to be: evidence recorded */
	DS_HEAD_PENDING,			/* needs a consistency proof from the hub */
	DS_HEAD_BAD					/* not a tree head of the pinned hub */
} ds_head_verdict;

extern const char *ds_head_verdict_name(ds_head_verdict v);

/*
 * Take a signed tree head another node showed (peer NULL: given by hand),
 * keep it in dataspace.peer_tree_head and decide what can be decided from
 * the cached heads alone.  *reason says why; *size is the head's tree size
 * (0 if it does not decode).  Inside SPI.
 */
extern ds_head_verdict ds_gossip_receive(const uint8 *peer, const uint8 *msg, size_t msglen,
										 const uint8 *sig, size_t siglen,
										 const char **reason, int64 *size);

/*
 * This node's newest cached tree head, copied into the current memory
 * context (inside SPI: SPI's); false if it has none.
 */
extern bool ds_gossip_newest(bytea **msg, bytea **sig, int64 *size);

/* A head another node showed, not decided yet. */
typedef struct DsPeerHead
{
	int64		id;
	int64		size;
	uint8		root[DS_HASH_LEN];
	TimestampTz received_at;
} DsPeerHead;

extern int	ds_gossip_pending(DsPeerHead **out, int max);

/*
 * Decide a pending head: consistent or not with the cached head of size
 * against_size (root against_root); if not, record the evidence.
 */
extern void ds_gossip_settle(const DsPeerHead *h, int64 against_size,
							 const uint8 *against_root, bool consistent,
							 const char *reason);

/*
 * Record a tree head inconsistent with the cached ones in
 * dataspace.witness_fork (once per evidence), with a WARNING.  peer: the
 * node that showed it, NULL if the hub itself did.
 */
extern void ds_witness_record_fork(int64 cached_size, const uint8 *cached_root,
								   const ds_tree_head *seen, const uint8 *msg,
								   size_t msglen, const uint8 *sig,
								   const char *reason, const uint8 *peer);

#endif							/* DS_GOSSIP_H */
