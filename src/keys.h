/*-------------------------------------------------------------------------
 *
 * keys.h
 *		Node identity and signing keys.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_KEYS_H
#define DS_KEYS_H

#include "postgres.h"

#include "utils/timestamp.h"

#include "seal.h"

typedef struct DsNode
{
	uint8		node_id[DS_UUID_LEN];
	char	   *name;
	char	   *system_identifier;
	Oid			database_oid;
	char	   *database_name;
} DsNode;

/*
 * The current signing key, unwrapped.  The private key lives in memory
 * that is wiped when the context holding the signer is reset or deleted.
 */
typedef struct DsSigner
{
	uint8		node_id[DS_UUID_LEN];
	uint8		key_id[DS_HASH_LEN];
	uint8		public_key[DS_PUBKEY_LEN];
	uint8	   *private_key;	/* DS_PRIVKEY_LEN bytes */
} DsSigner;

/* A public key as verification needs it. */
typedef struct DsKey
{
	uint8		key_id[DS_HASH_LEN];
	uint8		public_key[DS_PUBKEY_LEN];
	TimestampTz created_at;
	TimestampTz retired_at;		/* DT_NOEND while current */
	bool		revoked;
	TimestampTz compromised_since;
} DsKey;

typedef struct DsKeyring
{
	int			nkeys;
	DsKey	   *keys;
} DsKeyring;

extern bool ds_node_load(DsNode *node);
extern void ds_node_ensure(DsNode *node);
extern void ds_node_check_binding(const DsNode *node);
extern DsSigner *ds_signer_load(void);
extern DsSigner *ds_signer_load_key(const uint8 *key_id);
extern bool ds_signer_sign(const DsSigner *signer, const uint8 *msg, size_t len,
						   uint8 sig[DS_SIG_LEN]);
extern DsKeyring *ds_keyring_load(void);
extern DsKeyring *ds_party_keys(const uint8 party[DS_UUID_LEN],
								const uint8 pinned_kid[DS_HASH_LEN]);
extern bool ds_provider_seal_key(const uint8 provider[DS_UUID_LEN],
								 const uint8 pinned_kid[DS_HASH_LEN],
								 const uint8 pinned_pk[DS_PUBKEY_LEN],
								 const uint8 key_id[DS_HASH_LEN], int64 sealed_at_us,
								 uint8 pk_out[DS_PUBKEY_LEN], bool *revoked);
extern bool ds_party_signed(const uint8 party[DS_UUID_LEN],
							const uint8 pinned_kid[DS_HASH_LEN],
							const uint8 pinned_pk[DS_PUBKEY_LEN], int64 at_us,
							const uint8 *msg, size_t len, const uint8 sig[DS_SIG_LEN]);
extern const DsKey *ds_keyring_find(const DsKeyring *ring,
									const uint8 key_id[DS_HASH_LEN]);

#endif							/* DS_KEYS_H */
