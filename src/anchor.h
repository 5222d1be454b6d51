/*-------------------------------------------------------------------------
 *
 * anchor.h
 *		The hub's anchor log and the node's checks of it (docs/witness.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_ANCHOR_H
#define DS_ANCHOR_H

#include "postgres.h"

#include "submission.h"

/*
 * Hub: log the anchor of an accepted "anchor" submission and sign the new
 * tree head; NULL, or why the anchor is refused.  Runs inside SPI.
 */
extern char *ds_witness_apply_anchor(const ds_submission *s, const char *payload);

/* The pinned hub key (dataspace.hub_public_key); false if unset. */
extern bool ds_witness_hub_key(uint8 key[DS_PUBKEY_LEN]);

#endif							/* DS_ANCHOR_H */
