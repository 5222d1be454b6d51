/*-------------------------------------------------------------------------
 *
 * contractmsg.c
 *		Canonical contract bytes, contract steps and the transition table
 *		(contractmsg.h; docs/contracts.md is the specification).
 *
 *-------------------------------------------------------------------------
 */
#include "contractmsg.h"

#include <string.h>

#include "submission.h"

/*
 * The transition table.  Negotiation follows the Dataspace Protocol's
 * states: an offer the consumer accepts (ACCEPTED) is agreed by the
 * provider (AGREED); a request the provider accepts is agreed at once; the
 * consumer's node then verifies the agreement (VERIFIED) and the
 * provider's node finalizes it, which starts the agreement's life (active,
 * suspended, revoked).  agree, verify and finalize are taken by the nodes
 * themselves once they have checked the other party's step.  "expired" is
 * never stored: it is what an active or suspended contract is once
 * valid_until has passed.
 */
const ds_transition ds_contract_transitions[] = {
	{"", "offer", DS_ACT_PROVIDER, "OFFERED", "dataspace.offer_contract", true, false},
	{"", "request", DS_ACT_CONSUMER, "REQUESTED", "dataspace.request_contract", true, false},
	{"OFFERED", "accept", DS_ACT_CONSUMER, "ACCEPTED", "dataspace.accept_contract", true, false},
	{"REQUESTED", "accept", DS_ACT_PROVIDER, "AGREED", "dataspace.accept_contract", true, false},
	{"ACCEPTED", "agree", DS_ACT_PROVIDER, "AGREED", DS_STEP_AUTOMATIC, false, false},
	{"AGREED", "verify", DS_ACT_CONSUMER, "VERIFIED", DS_STEP_AUTOMATIC, false, false},
	{"VERIFIED", "finalize", DS_ACT_PROVIDER, "active", DS_STEP_AUTOMATIC, false, false},
	{"OFFERED", "reject", DS_ACT_EITHER, "TERMINATED", "dataspace.reject_contract", false, true},
	{"REQUESTED", "reject", DS_ACT_EITHER, "TERMINATED", "dataspace.reject_contract", false, true},
	{"ACCEPTED", "reject", DS_ACT_EITHER, "TERMINATED", "dataspace.reject_contract", false, true},
	{"AGREED", "reject", DS_ACT_EITHER, "TERMINATED", "dataspace.reject_contract", false, true},
	{"VERIFIED", "reject", DS_ACT_EITHER, "TERMINATED", "dataspace.reject_contract", false, true},
	{"active", "suspend", DS_ACT_PROVIDER, "suspended", "dataspace.suspend_contract", false, true},
	{"suspended", "resume", DS_ACT_PROVIDER, "active", "dataspace.resume_contract", false, false},
	{"active", "revoke", DS_ACT_EITHER, "revoked", "dataspace.revoke_contract", false, true},
	{"suspended", "revoke", DS_ACT_EITHER, "revoked", "dataspace.revoke_contract", false, true},
};

const int	ds_contract_ntransitions =
sizeof(ds_contract_transitions) / sizeof(ds_contract_transitions[0]);

/*
 * ds_contract_find_transition
 *		The row of the table that lets this party take this step from this
 *		state, or NULL: the step is illegal.
 */
const ds_transition *
ds_contract_find_transition(const char *from, const char *step,
							bool actor_is_provider, bool provider_initiated)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
	{
		const ds_transition *t = &ds_contract_transitions[i];
		bool		ok;

		if (strcmp(t->from, from) != 0 || strcmp(t->step, step) != 0)
			continue;
		switch (t->actor)
		{
			case DS_ACT_PROVIDER:
				ok = actor_is_provider;
				break;
			case DS_ACT_CONSUMER:
				ok = !actor_is_provider;
				break;
			case DS_ACT_INITIATOR:
				ok = actor_is_provider == provider_initiated;
				break;
			case DS_ACT_RESPONDER:
				ok = actor_is_provider != provider_initiated;
				break;
			default:
				ok = true;
				break;
		}
		if (ok)
			return t;
	}
	return NULL;
}

/*
 * ds_contract_automatic_step
 *		The step this party's node takes by itself in this state (agree,
 *		verify, finalize), or NULL.
 */
const ds_transition *
ds_contract_automatic_step(const char *state, bool actor_is_provider)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
	{
		const ds_transition *t = &ds_contract_transitions[i];

		if (strcmp(t->from, state) == 0 && strcmp(t->function, DS_STEP_AUTOMATIC) == 0 &&
			(t->actor == DS_ACT_PROVIDER) == actor_is_provider)
			return t;
	}
	return NULL;
}

/* Is this the name of a step at all? */
bool
ds_contract_step_known(const char *step)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
		if (strcmp(ds_contract_transitions[i].step, step) == 0)
			return true;
	return false;
}

/*
 * Does this step only take rights away (reject, suspend, revoke)?  Such a
 * step asks nothing of the other party, so the hub takes it whatever that
 * party's standing there.
 */
bool
ds_contract_step_withdraws(const char *step)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
		if (strcmp(ds_contract_transitions[i].step, step) == 0)
			return ds_contract_transitions[i].withdraws;
	return false;
}

const char *
ds_contract_actor_name(ds_contract_actor a)
{
	switch (a)
	{
		case DS_ACT_PROVIDER:
			return "provider";
		case DS_ACT_CONSUMER:
			return "consumer";
		case DS_ACT_EITHER:
			return "either party";
		case DS_ACT_INITIATOR:
			return "the party that made the first step";
		case DS_ACT_RESPONDER:
			return "the other party";
	}
	return "?";
}

/*
 * ds_contract_encode
 *		The canonical bytes of a contract, what both parties sign; 0 if cap
 *		is too small or the contract is out of bounds (no asset, too many,
 *		not sorted and distinct).
 */
size_t
ds_contract_encode(const ds_contract *c, uint8_t *out, size_t cap)
{
	ds_msg		m;

	if (c->nassets < 1 || c->nassets > DS_CONTRACT_MAX_ASSETS)
		return 0;
	for (int i = 1; i < c->nassets; i++)
		if (memcmp(c->assets + (i - 1) * DS_UUID_LEN, c->assets + i * DS_UUID_LEN,
				   DS_UUID_LEN) >= 0)
			return 0;
	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_CONTRACT);
	ds_msg_bytes(&m, c->id, DS_UUID_LEN);
	ds_msg_bytes(&m, c->provider_id, DS_UUID_LEN);
	ds_msg_bytes(&m, c->consumer_id, DS_UUID_LEN);
	ds_msg_bytes(&m, c->provider_key_id, DS_HASH_LEN);
	ds_msg_bytes(&m, c->consumer_key_id, DS_HASH_LEN);
	ds_msg_bytes(&m, c->assets, (size_t) c->nassets * DS_UUID_LEN);
	ds_msg_bytes(&m, c->policy, c->policy_len);
	ds_msg_int64(&m, c->valid_from);
	ds_msg_int64(&m, c->valid_until);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_contract_decode
 *		Read canonical contract bytes; assets and policy point into buf.
 *		False for anything that ds_contract_encode would not write.
 */
bool
ds_contract_decode(const uint8_t *buf, size_t len, ds_contract *out)
{
	ds_msg_reader r;
	const uint8_t *assets;
	size_t		alen;
	const uint8_t *policy;

	memset(out, 0, sizeof(*out));
	if (!ds_msg_read_begin(&r, buf, len, DS_MSG_CONTRACT) ||
		!ds_msg_read_fixed(&r, out->id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&r, out->provider_id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&r, out->consumer_id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&r, out->provider_key_id, DS_HASH_LEN) ||
		!ds_msg_read_fixed(&r, out->consumer_key_id, DS_HASH_LEN) ||
		!ds_msg_read_field(&r, &assets, &alen) ||
		!ds_msg_read_field(&r, &policy, &out->policy_len) ||
		!ds_msg_read_int64(&r, &out->valid_from) ||
		!ds_msg_read_int64(&r, &out->valid_until) ||
		!ds_msg_read_end(&r))
		return false;
	if (alen == 0 || alen % DS_UUID_LEN != 0 ||
		alen / DS_UUID_LEN > DS_CONTRACT_MAX_ASSETS)
		return false;
	out->nassets = (int) (alen / DS_UUID_LEN);
	out->assets = assets;
	for (int i = 1; i < out->nassets; i++)
		if (memcmp(assets + (i - 1) * DS_UUID_LEN, assets + i * DS_UUID_LEN,
				   DS_UUID_LEN) >= 0)
			return false;
	if (memcmp(out->provider_id, out->consumer_id, DS_UUID_LEN) == 0 ||
		out->valid_from >= out->valid_until)
		return false;
	out->policy = (const char *) policy;
	return true;
}

/*
 * ds_contract_step_encode
 *		The signed bytes of a step; 0 if cap is too small or a field is out
 *		of bounds.
 */
size_t
ds_contract_step_encode(const ds_contract_step *s, uint8_t *out, size_t cap)
{
	ds_msg		m;
	size_t		n = strnlen(s->step, sizeof(s->step));

	if (n == 0 || n > DS_STEP_NAME_MAX || s->reason_len > DS_STEP_REASON_MAX ||
		s->step_no < 1)
		return 0;
	ds_msg_begin(&m, out, cap, (ds_msg_type) DS_MSG_CONTRACT_STEP);
	ds_msg_bytes(&m, s->contract_id, DS_UUID_LEN);
	ds_msg_int64(&m, s->step_no);
	ds_msg_bytes(&m, s->step, n);
	ds_msg_bytes(&m, s->actor_id, DS_UUID_LEN);
	ds_msg_bytes(&m, s->actor_key_id, DS_HASH_LEN);
	ds_msg_bytes(&m, s->contract_hash, DS_HASH_LEN);
	ds_msg_bytes(&m, s->prev_hash, DS_HASH_LEN);
	ds_msg_int64(&m, s->at);
	ds_msg_bytes(&m, s->reason, s->reason_len);
	ds_msg_bytes(&m, s->party_signature, s->has_party_signature ? DS_SIG_LEN : 0);
	return ds_msg_ok(&m) ? m.len : 0;
}

/*
 * ds_contract_step_decode
 *		Read a step; reason points into buf.  False for anything that is
 *		not exactly one well-formed step of a known name.
 */
bool
ds_contract_step_decode(const uint8_t *buf, size_t len, ds_contract_step *out)
{
	ds_msg_reader r;
	const uint8_t *name;
	size_t		namelen;
	const uint8_t *reason;
	const uint8_t *psig;
	size_t		psiglen;

	memset(out, 0, sizeof(*out));
	if (!ds_msg_read_begin(&r, buf, len, DS_MSG_CONTRACT_STEP) ||
		!ds_msg_read_fixed(&r, out->contract_id, DS_UUID_LEN) ||
		!ds_msg_read_int64(&r, &out->step_no) ||
		!ds_msg_read_field(&r, &name, &namelen) ||
		!ds_msg_read_fixed(&r, out->actor_id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&r, out->actor_key_id, DS_HASH_LEN) ||
		!ds_msg_read_fixed(&r, out->contract_hash, DS_HASH_LEN) ||
		!ds_msg_read_fixed(&r, out->prev_hash, DS_HASH_LEN) ||
		!ds_msg_read_int64(&r, &out->at) ||
		!ds_msg_read_field(&r, &reason, &out->reason_len) ||
		!ds_msg_read_field(&r, &psig, &psiglen) ||
		!ds_msg_read_end(&r))
		return false;
	if (namelen == 0 || namelen > DS_STEP_NAME_MAX || out->step_no < 1 ||
		out->reason_len > DS_STEP_REASON_MAX ||
		(psiglen != 0 && psiglen != DS_SIG_LEN))
		return false;
	/* text without NUL: "agree\0" must not read as "agree" (one encoding per content) */
	if (memchr(name, '\0', namelen) != NULL ||
		(out->reason_len > 0 && memchr(reason, '\0', out->reason_len) != NULL))
		return false;
	memcpy(out->step, name, namelen);
	out->step[namelen] = '\0';
	if (!ds_contract_step_known(out->step))
		return false;
	out->reason = (const char *) reason;
	out->has_party_signature = psiglen == DS_SIG_LEN;
	if (out->has_party_signature)
		memcpy(out->party_signature, psig, DS_SIG_LEN);
	return true;
}
