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

#include "seal.h"

extern char *ds_contract_receive(const uint8 *canonical, size_t clen,
								 const uint8 *msg, size_t msglen,
								 const uint8 *sig, char **why);
extern char *ds_hub_contract_step(const uint8 submitter[DS_UUID_LEN],
								  const char *payload);

#endif							/* DS_CONTRACT_H */
