/*-------------------------------------------------------------------------
 *
 * contractmsg.h
 *		Signed data contracts: the canonical contract bytes both parties
 *		sign, the signed steps of their negotiation and life, and the
 *		transition table (docs/contracts.md).
 *
 * Pure code (C library and libcrypto): the nodes and the hub encode,
 * decode and judge contract steps the same way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_CONTRACTMSG_H
#define DS_CONTRACTMSG_H

#include "seal.h"

/* message types of the PGDS frame (seal.h and submission.h hold 1-6) */
#define DS_MSG_CONTRACT			10
#define DS_MSG_CONTRACT_STEP	11

#define DS_CONTRACT_MAX_ASSETS	256
#define DS_CONTRACT_MSG_MAX		(4096 + DS_CONTRACT_MAX_ASSETS * DS_UUID_LEN + 512)
#define DS_STEP_NAME_MAX		15
#define DS_STEP_REASON_MAX		1000
#define DS_STEP_MSG_MAX			(DS_STEP_REASON_MAX + 512)

/* The signed content of a contract. */
typedef struct ds_contract
{
	uint8_t		id[DS_UUID_LEN];
	uint8_t		provider_id[DS_UUID_LEN];
	uint8_t		consumer_id[DS_UUID_LEN];
	uint8_t		provider_key_id[DS_HASH_LEN];
	uint8_t		consumer_key_id[DS_HASH_LEN];
	int			nassets;
	const uint8_t *assets;		/* nassets * 16 bytes, sorted, distinct */
	const char *policy;			/* canonical policy text (RFC 8785) */
	size_t		policy_len;
	int64_t		valid_from;		/* microseconds since the Unix epoch */
	int64_t		valid_until;
} ds_contract;

/* One signed step. */
typedef struct ds_contract_step
{
	uint8_t		contract_id[DS_UUID_LEN];
	int64_t		step_no;		/* 1 for the first */
	char		step[DS_STEP_NAME_MAX + 1];
	uint8_t		actor_id[DS_UUID_LEN];
	uint8_t		actor_key_id[DS_HASH_LEN];
	uint8_t		contract_hash[DS_HASH_LEN];
	uint8_t		prev_hash[DS_HASH_LEN]; /* zeros for the first step */
	int64_t		at;				/* microseconds since the Unix epoch */
	const char *reason;			/* may be empty */
	size_t		reason_len;
	bool		has_party_signature;
	uint8_t		party_signature[DS_SIG_LEN];	/* actor's, over the contract */
} ds_contract_step;

extern size_t ds_contract_encode(const ds_contract *c, uint8_t *out, size_t cap);
extern bool ds_contract_decode(const uint8_t *buf, size_t len, ds_contract *out);
extern size_t ds_contract_step_encode(const ds_contract_step *s, uint8_t *out,
									  size_t cap);
extern bool ds_contract_step_decode(const uint8_t *buf, size_t len,
									ds_contract_step *out);

/* Who may take a step, relative to the contract. */
typedef enum ds_contract_actor
{
	DS_ACT_PROVIDER,
	DS_ACT_CONSUMER,
	DS_ACT_EITHER,
	DS_ACT_INITIATOR,			/* the party that made the first step */
	DS_ACT_RESPONDER			/* the other party */
} ds_contract_actor;

typedef struct ds_transition
{
	const char *from;			/* "" before the first step */
	const char *step;
	ds_contract_actor actor;
	const char *to;
	const char *function;		/* the SQL function, or "(automatic)" */
	bool		party_signature;	/* the step carries the actor's signature */
	bool		withdraws;		/* ends or suspends: needs nothing of the other */
} ds_transition;

/* the function of steps the nodes take by themselves */
#define DS_STEP_AUTOMATIC "(automatic)"

extern const ds_transition ds_contract_transitions[];
extern const int ds_contract_ntransitions;

extern const ds_transition *ds_contract_find_transition(const char *from,
														const char *step,
														bool actor_is_provider,
														bool provider_initiated);
extern const ds_transition *ds_contract_automatic_step(const char *state,
													   bool actor_is_provider);
extern bool ds_contract_step_known(const char *step);
extern bool ds_contract_step_withdraws(const char *step);
extern const char *ds_contract_actor_name(ds_contract_actor a);

#endif							/* DS_CONTRACTMSG_H */
