/*-------------------------------------------------------------------------
 *
 * contract.h
 *		Signed data contracts: what the hub and the hub-sync worker call
 *		(contract.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_CONTRACT_H
#define DS_CONTRACT_H

#include "postgres.h"

#include "keys.h"
#include "policy.h"
#include "seal.h"

extern char *ds_contract_receive(const uint8 *canonical, size_t clen,
								 const uint8 *msg, size_t msglen,
								 const uint8 *sig, bool hub_order, char **why);
extern int	ds_contract_resign_outbox(DsSigner *signer);
extern char *ds_hub_contract_step(const uint8 submitter[DS_UUID_LEN],
								  const char *payload);

/* A contract's verified terms, as replication uses them. */
typedef struct DsContractTerms
{
	uint8		id[DS_UUID_LEN];
	uint8		provider_id[DS_UUID_LEN];
	uint8		consumer_id[DS_UUID_LEN];
	uint8		provider_pk[DS_PUBKEY_LEN];
	uint8		consumer_pk[DS_PUBKEY_LEN];
	uint8		provider_key_id[DS_HASH_LEN];
	uint8		consumer_key_id[DS_HASH_LEN];
	int			nassets;
	uint8	   *assets;
	int64		valid_from;		/* microseconds since the Unix epoch */
	int64		valid_until;
	ds_policy	policy;
	char	   *state;
} DsContractTerms;

extern const char *ds_contract_terms_load(const uint8 id[DS_UUID_LEN],
										  DsContractTerms *out);
extern const char *ds_contract_terms_check(const DsContractTerms *t,
										   const uint8 asset[DS_UUID_LEN],
										   int64 now);

#endif							/* DS_CONTRACT_H */
