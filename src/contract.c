/*-------------------------------------------------------------------------
 *
 * contract.c
 *		Signed data contracts between two participants: the node's
 *		functions (offer, request, accept, reject, suspend, resume,
 *		revoke), the checks of a step received from the counterparty, the
 *		hub's checks of a contract_step submission, and the decisions
 *		contract_allows and explain_policy (docs/contracts.md).
 *
 * Both parties sign the canonical contract bytes (contractmsg.c); every
 * step is a signed message over the contract's hash, the step and the
 * previous step's hash, made by the acting node with its node key inside
 * the operation.  A node takes its own steps at once and queues them for
 * the hub-sync worker; the worker brings the counterparty's steps, and
 * each is verified here against the key the contract pins for its party
 * before it is applied.  The transition table is data (contractmsg.c).
 *
 * Decisions never trust the queryable columns: they read the signed bytes,
 * verify both party signatures and the last step, and only then look at
 * the state, the asset list, the validity and the policy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "audit.h"
#include "contract.h"
#include "contractmsg.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "policy.h"
#include "textform.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_offer_contract);
PG_FUNCTION_INFO_V1(dataspace_request_contract);
PG_FUNCTION_INFO_V1(dataspace_accept_contract);
PG_FUNCTION_INFO_V1(dataspace_reject_contract);
PG_FUNCTION_INFO_V1(dataspace_suspend_contract);
PG_FUNCTION_INFO_V1(dataspace_resume_contract);
PG_FUNCTION_INFO_V1(dataspace_revoke_contract);
PG_FUNCTION_INFO_V1(dataspace_receive_contract_step);
PG_FUNCTION_INFO_V1(dataspace_contract_allows);
PG_FUNCTION_INFO_V1(dataspace_explain_contract);

static const uint8 zero_hash[DS_HASH_LEN];

/* A contract as stored, with its signed bytes decoded. */
typedef struct ContractRow
{
	bool		found;
	uint8	   *canonical;
	size_t		canonical_len;
	ds_contract c;
	char	   *state;
	bool		provider_initiated;
	uint8		provider_pk[DS_PUBKEY_LEN];
	uint8		consumer_pk[DS_PUBKEY_LEN];
	bool		has_provider_sig;
	bool		has_consumer_sig;
	uint8		provider_sig[DS_SIG_LEN];
	uint8		consumer_sig[DS_SIG_LEN];
	int64		last_step_no;
	uint8		last_step_hash[DS_HASH_LEN];
	/* the last step, for decisions */
	uint8	   *last_msg;
	size_t		last_msg_len;
	uint8		last_sig[DS_SIG_LEN];
} ContractRow;

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

static void
require_node(const char *what)
{
	if (dataspace_mode != DATASPACE_MODE_NODE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is a node function", what),
				 errdetail("This server runs with dataspace.mode = 'hub'; contracts are negotiated by nodes.")));
}

static Datum
bytes_datum_or_null(bool present, const uint8 *b, size_t n, char *nullflag)
{
	*nullflag = present ? ' ' : 'n';
	return present ? ds_bytea_datum(b, n) : (Datum) 0;
}

/* Copy a bytea column of the current SPI result into palloc'd memory. */
static uint8 *
spi_bytes_copy(int row, int col, size_t *len, bool *isnull)
{
	Datum		d = ds_spi_get(row, col, isnull);
	bytea	   *b;
	uint8	   *out;

	if (*isnull)
	{
		*len = 0;
		return NULL;
	}
	b = DatumGetByteaPP(d);
	*len = VARSIZE_ANY_EXHDR(b);
	out = palloc(Max(*len, 1));
	memcpy(out, VARDATA_ANY(b), *len);
	return out;
}

static bool
spi_fixed_or_null(int row, int col, uint8 *out, size_t len)
{
	size_t		n;
	bool		isnull;
	uint8	   *b = spi_bytes_copy(row, col, &n, &isnull);

	if (isnull || n != len)
		return false;
	memcpy(out, b, len);
	return true;
}

static char *
ts_text(int64 us)
{
	char		buf[DS_TS_TEXT_MAX];

	if (!ds_format_ts(us, buf, sizeof(buf)))
		return pstrdup("(out of range)");
	return pstrdup(buf);
}

/*
 * load_contract
 *		Read a stored contract and decode its signed bytes; for_update locks
 *		the row, with_last_step also reads the last step's message.
 */
static void
load_contract(const uint8 id[DS_UUID_LEN], bool for_update, bool with_last_step,
			  ContractRow *row)
{
	Datum		args[1] = {ds_uuid_datum(id)};
	Oid			types[1] = {UUIDOID};
	bool		isnull;
	char	   *sql;

	memset(row, 0, sizeof(*row));
	sql = psprintf("SELECT c.canonical, c.state, c.initiator, c.provider_public_key,"
				   " c.consumer_public_key, c.provider_signature, c.consumer_signature,"
				   " c.last_step_no, c.last_step_hash, s.message, s.signature"
				   " FROM dataspace.contract c LEFT JOIN dataspace.contract_step s"
				   " ON %s s.contract_id OPERATOR(pg_catalog.=) c.id"
				   " AND s.step_no OPERATOR(pg_catalog.=) c.last_step_no"
				   " AND s.superseded_at IS NULL"
				   " WHERE c.id OPERATOR(pg_catalog.=) $1%s",
				   with_last_step ? "" : "false AND",
				   for_update ? " FOR UPDATE OF c" : "");
	if (ds_spi_exec(sql, 1, types, args, NULL, !for_update, -1) != 1)
		return;
	row->found = true;
	row->canonical = spi_bytes_copy(0, 1, &row->canonical_len, &isnull);
	row->state = TextDatumGetCString(ds_spi_get(0, 2, &isnull));
	row->provider_initiated = strcmp(TextDatumGetCString(ds_spi_get(0, 3, &isnull)), "provider") == 0;
	spi_fixed_or_null(0, 4, row->provider_pk, DS_PUBKEY_LEN);
	spi_fixed_or_null(0, 5, row->consumer_pk, DS_PUBKEY_LEN);
	row->has_provider_sig = spi_fixed_or_null(0, 6, row->provider_sig, DS_SIG_LEN);
	row->has_consumer_sig = spi_fixed_or_null(0, 7, row->consumer_sig, DS_SIG_LEN);
	row->last_step_no = ds_spi_get_int64(0, 8);
	spi_fixed_or_null(0, 9, row->last_step_hash, DS_HASH_LEN);
	if (with_last_step)
	{
		row->last_msg = spi_bytes_copy(0, 10, &row->last_msg_len, &isnull);
		if (!spi_fixed_or_null(0, 11, row->last_sig, DS_SIG_LEN))
			row->last_msg = NULL;
	}
	if (!ds_contract_decode(row->canonical, row->canonical_len, &row->c))
		memset(&row->c, 0, sizeof(row->c));
}

/* The to-state a step leads to: unique per step name in the table. */
static const char *
step_target(const char *step)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
		if (strcmp(ds_contract_transitions[i].step, step) == 0)
			return ds_contract_transitions[i].to;
	return NULL;
}

/*
 * step_key
 *		The public key a step of party must verify under.  The key the
 *		contract pins (pinned, pinned_pk); or, after the party rotated its
 *		key, a later key of its own chain that the step names.  Either way,
 *		where the chain holds the key, it must have been valid at the step's
 *		time and not compromised by then: a thief of a retired or revoked
 *		key signs nothing that counts after it.  The chain is this node's
 *		own keys for its own steps, else the party's checked chain in
 *		dataspace.participant_key (at the hub: its registry).  A step that
 *		signs the contract bytes (offer, request, accept) needs the pinned
 *		key: the contract pins the key its parties sign it with.  Returns
 *		NULL, or why not.  Call within SPI.
 */
static char *
step_key(const uint8 party[DS_UUID_LEN], const uint8 pinned[DS_HASH_LEN],
		 const uint8 pinned_pk[DS_PUBKEY_LEN], const ds_contract_step *st,
		 uint8 pk[DS_PUBKEY_LEN])
{
	bool		is_pinned = memcmp(st->actor_key_id, pinned, DS_HASH_LEN) == 0;
	TimestampTz at = ds_unix_us_to_ts(st->at);
	const DsKey *k;
	uint8		kid[DS_HASH_LEN];
	DsNode		me;
	const char *key = ds_hex(st->actor_key_id, DS_HASH_LEN);

	if (!is_pinned && st->has_party_signature)
		return psprintf("a %s step signs the contract and must be signed with the key the contract pins",
						st->step);
	if (ds_node_load(&me) && memcmp(me.node_id, party, DS_UUID_LEN) == 0)
	{
		DsKeyring  *ring = ds_keyring_load();
		const DsKey *old = ds_keyring_find(ring, pinned);

		k = ds_keyring_find(ring, st->actor_key_id);
		if (k != NULL && !is_pinned && (old == NULL || k->created_at <= old->created_at))
			k = NULL;
	}
	else
		k = ds_keyring_find(ds_party_keys(party, pinned), st->actor_key_id);
	if (k == NULL)
	{
		/* a party whose chain is not held here: its pinned key alone */
		if (is_pinned)
		{
			memcpy(pk, pinned_pk, DS_PUBKEY_LEN);
			return NULL;
		}
		return psprintf("key %s is not in the checked key chain of participant %s after the key the contract pins",
						key, ds_uuid_text(party));
	}
	memcpy(pk, k->public_key, DS_PUBKEY_LEN);
	if (!ds_key_id(ds_backend_hasher(), pk, kid) || memcmp(kid, st->actor_key_id, DS_HASH_LEN) != 0 ||
		(is_pinned && memcmp(pk, pinned_pk, DS_PUBKEY_LEN) != 0))
		return psprintf("the public key stored for key %s does not match it", key);
	if (at < k->created_at || at >= k->retired_at)
		return psprintf("the step's time %s is outside the validity of key %s", ts_text(st->at), key);
	if (k->revoked && at >= k->compromised_since)
		return psprintf("key %s was revoked as compromised since before the step", key);
	return NULL;
}

/*
 * verify_contract_row
 *		Everything a decision needs to trust a stored contract: the signed
 *		bytes decode and hash as stored, each party's key matches the
 *		fingerprint the contract pins, both party signatures verify over
 *		the same bytes, and the last step is signed by a party and leads
 *		to the stored state.  NULL if so, else why not.
 */
static const char *
verify_contract_row(const ContractRow *row)
{
	ds_hasher  *h = ds_backend_hasher();
	uint8		kid[DS_HASH_LEN];
	ds_contract_step st;
	uint8		pk[DS_PUBKEY_LEN];
	const char *why;
	const char *to;

	if (row->c.nassets == 0)
		return "its signed bytes do not decode";
	if (!ds_key_id(h, row->provider_pk, kid) ||
		memcmp(kid, row->c.provider_key_id, DS_HASH_LEN) != 0)
		return "the provider's stored key is not the one the contract pins";
	if (!ds_key_id(h, row->consumer_pk, kid) ||
		memcmp(kid, row->c.consumer_key_id, DS_HASH_LEN) != 0)
		return "the consumer's stored key is not the one the contract pins";
	if (!row->has_provider_sig)
		return "the provider has not signed it";
	if (!row->has_consumer_sig)
		return "the consumer has not signed it";
	if (!ds_ed25519_verify(row->provider_pk, row->canonical, row->canonical_len,
						   row->provider_sig))
		return "the provider's signature does not verify";
	if (!ds_ed25519_verify(row->consumer_pk, row->canonical, row->canonical_len,
						   row->consumer_sig))
		return "the consumer's signature does not verify";
	if (row->last_msg == NULL ||
		!ds_contract_step_decode(row->last_msg, row->last_msg_len, &st) ||
		memcmp(st.contract_id, row->c.id, DS_UUID_LEN) != 0 ||
		st.step_no != row->last_step_no)
		return "its last step is missing or malformed";
	if (memcmp(st.actor_id, row->c.provider_id, DS_UUID_LEN) == 0)
		why = step_key(row->c.provider_id, row->c.provider_key_id, row->provider_pk, &st, pk);
	else if (memcmp(st.actor_id, row->c.consumer_id, DS_UUID_LEN) == 0)
		why = step_key(row->c.consumer_id, row->c.consumer_key_id, row->consumer_pk, &st, pk);
	else
		return "its last step is not made by a party";
	if (why != NULL)
		return psprintf("its last step's key does not count: %s", why);
	if (!ds_ed25519_verify(pk, row->last_msg, row->last_msg_len, row->last_sig))
		return "its last step's signature does not verify";
	to = step_target(st.step);
	if (to == NULL || strcmp(to, row->state) != 0)
		return "its stored state is not the one its last signed step leads to";
	return NULL;
}

/* ---------------------------------------------------------------------
 * Storing steps (node and hub)
 * ---------------------------------------------------------------------
 */

/*
 * store_new_contract
 *		Insert a contract at its first step.
 */
static void
store_new_contract(const uint8 *canonical, size_t len, const ds_contract *c,
				   const uint8 provider_pk[DS_PUBKEY_LEN],
				   const uint8 consumer_pk[DS_PUBKEY_LEN],
				   const ds_contract_step *st, const char *state,
				   const uint8 step_hash[DS_HASH_LEN])
{
	Datum	   *assets = palloc(sizeof(Datum) * c->nassets);
	char	   *policy = pnstrdup(c->policy, c->policy_len);
	bool		by_provider = memcmp(st->actor_id, c->provider_id, DS_UUID_LEN) == 0;
	Oid			types[16] = {UUIDOID, UUIDOID, UUIDOID, BYTEAOID, BYTEAOID, BYTEAOID, BYTEAOID,
		UUIDARRAYOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, BYTEAOID, BYTEAOID, BYTEAOID};
	Datum		args[17];
	char		nulls[17];
	uint8		chash[DS_HASH_LEN];

	memset(nulls, ' ', sizeof(nulls));
	for (int i = 0; i < c->nassets; i++)
		assets[i] = ds_uuid_datum(c->assets + i * DS_UUID_LEN);
	if (!ds_sha256(ds_backend_hasher(), canonical, len, chash))
		elog(ERROR, "could not hash a contract");
	args[0] = ds_uuid_datum(c->id);
	args[1] = ds_uuid_datum(c->provider_id);
	args[2] = ds_uuid_datum(c->consumer_id);
	args[3] = ds_bytea_datum(c->provider_key_id, DS_HASH_LEN);
	args[4] = ds_bytea_datum(c->consumer_key_id, DS_HASH_LEN);
	args[5] = ds_bytea_datum(provider_pk, DS_PUBKEY_LEN);
	args[6] = ds_bytea_datum(consumer_pk, DS_PUBKEY_LEN);
	args[7] = PointerGetDatum(construct_array(assets, c->nassets, UUIDOID, UUID_LEN,
											  false, TYPALIGN_CHAR));
	args[8] = CStringGetTextDatum(policy);
	args[9] = TimestampTzGetDatum(ds_unix_us_to_ts(c->valid_from));
	args[10] = TimestampTzGetDatum(ds_unix_us_to_ts(c->valid_until));
	args[11] = CStringGetTextDatum(state);
	args[12] = CStringGetTextDatum(by_provider ? "provider" : "consumer");
	args[13] = ds_bytea_datum(canonical, len);
	args[14] = ds_bytea_datum(chash, DS_HASH_LEN);
	args[15] = ds_bytea_datum(step_hash, DS_HASH_LEN);
	ds_spi_exec("INSERT INTO dataspace.contract (id, provider_id, consumer_id, provider_key_id,"
				" consumer_key_id, provider_public_key, consumer_public_key, asset_ids, policy,"
				" valid_from, valid_until, state, initiator, canonical, contract_hash,"
				" last_step_no, last_step_hash)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14, $15,"
				" 0, $16)",
				16, types, args, nulls, false, 1);
}

/*
 * store_step
 *		Record a step and move the contract: state, the actor's party
 *		signature if the step carries one, the chain head.  origin is
 *		"local" for a step this node made, "received" for the
 *		counterparty's, "reissued" for one this node took again after its
 *		first attempt lost at the hub (reissue_of: that attempt's hash).
 */
static void
store_step(const ds_contract *c, const ds_contract_step *st, const char *from,
		   const char *to, const uint8 *msg, size_t msglen,
		   const uint8 sig[DS_SIG_LEN], const uint8 step_hash[DS_HASH_LEN],
		   const char *origin, const uint8 *reissue_of, bool by_provider)
{
	bool		local = strcmp(origin, "received") != 0;
	Oid			types[11] = {UUIDOID, INT8OID, TEXTOID, UUIDOID, TEXTOID, TEXTOID, BYTEAOID,
	BYTEAOID, BYTEAOID, BOOLOID, BYTEAOID};
	Datum		args[11];
	char		nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			utypes[6] = {UUIDOID, TEXTOID, INT8OID, BYTEAOID, BYTEAOID, TEXTOID};
	Datum		uargs[6];
	char		unulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	char	   *sql;

	args[0] = ds_uuid_datum(st->contract_id);
	args[1] = Int64GetDatum(st->step_no);
	args[2] = CStringGetTextDatum(st->step);
	args[3] = ds_uuid_datum(st->actor_id);
	args[4] = CStringGetTextDatum(from);
	args[5] = CStringGetTextDatum(to);
	args[6] = ds_bytea_datum(msg, msglen);
	args[7] = ds_bytea_datum(sig, DS_SIG_LEN);
	args[8] = ds_bytea_datum(step_hash, DS_HASH_LEN);
	args[9] = BoolGetDatum(local);
	args[10] = bytes_datum_or_null(reissue_of != NULL, reissue_of, DS_HASH_LEN, &nulls[10]);
	ds_spi_exec("INSERT INTO dataspace.contract_step (contract_id, step_no, step, actor_id,"
				" from_state, to_state, message, signature, step_hash, local, reissue_of)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
				11, types, args, nulls, false, 1);

	uargs[0] = ds_uuid_datum(st->contract_id);
	uargs[1] = CStringGetTextDatum(to);
	uargs[2] = Int64GetDatum(st->step_no);
	uargs[3] = ds_bytea_datum(step_hash, DS_HASH_LEN);
	uargs[4] = bytes_datum_or_null(st->has_party_signature, st->party_signature,
								   DS_SIG_LEN, &unulls[4]);
	if (st->reason_len > 0)
		uargs[5] = PointerGetDatum(cstring_to_text_with_len(st->reason, st->reason_len));
	else
		unulls[5] = 'n';
	sql = psprintf("UPDATE dataspace.contract SET state = $2, last_step_no = $3,"
				   " last_step_hash = $4, %s = COALESCE($5, %s),"
				   " reason = CASE WHEN $6 IS NULL THEN reason ELSE $6 END,"
				   " updated_at = pg_catalog.now()"
				   " WHERE id OPERATOR(pg_catalog.=) $1",
				   by_provider ? "provider_signature" : "consumer_signature",
				   by_provider ? "provider_signature" : "consumer_signature");
	ds_spi_exec(sql, 6, utypes, uargs, unulls, false, 1);

	/* every contract step goes into the audit log in the same transaction */
	{
		char		event[DS_STEP_NAME_MAX + 16];

		snprintf(event, sizeof(event), "contract.%s", st->step);
		ds_audit_append(event, ds_uuid_text(st->contract_id),
						ds_audit_json(reissue_of ? 7 : 6,
									  "step_no", psprintf(INT64_FORMAT, st->step_no),
									  "actor", ds_uuid_text(st->actor_id),
									  "from", from,
									  "to", to,
									  "step_hash", ds_hex(step_hash, DS_HASH_LEN),
									  "origin", origin,
									  "reissue_of", reissue_of ? ds_hex(reissue_of, DS_HASH_LEN) : NULL));
	}
}

/* ---------------------------------------------------------------------
 * The node's own steps
 * ---------------------------------------------------------------------
 */

/*
 * sign_step
 *		Fill in, encode and sign a step of this node; the party signature
 *		over the contract bytes is added when the transition needs one.
 */
static uint8 *
sign_step(DsSigner *signer, ds_contract_step *st, const uint8 *canonical,
		  size_t canonical_len, const uint8 prev_hash[DS_HASH_LEN], int64 step_no,
		  const char *step, const char *reason, bool party_signature,
		  size_t *msglen, uint8 sig[DS_SIG_LEN], uint8 step_hash[DS_HASH_LEN])
{
	uint8	   *msg = palloc(DS_STEP_MSG_MAX);
	ds_contract c;

	if (!ds_contract_decode(canonical, canonical_len, &c))
		elog(ERROR, "could not decode a contract");
	memset(st, 0, sizeof(*st));
	memcpy(st->contract_id, c.id, DS_UUID_LEN);
	st->step_no = step_no;
	strlcpy(st->step, step, sizeof(st->step));
	memcpy(st->actor_id, signer->node_id, DS_UUID_LEN);
	memcpy(st->actor_key_id, signer->key_id, DS_HASH_LEN);
	if (!ds_sha256(ds_backend_hasher(), canonical, canonical_len, st->contract_hash))
		elog(ERROR, "could not hash a contract");
	memcpy(st->prev_hash, prev_hash, DS_HASH_LEN);
	st->at = ds_ts_to_unix_us(GetCurrentTimestamp());
	st->reason = reason ? reason : "";
	st->reason_len = strlen(st->reason);
	if (party_signature)
	{
		if (!ds_signer_sign(signer, canonical, canonical_len, st->party_signature))
			elog(ERROR, "could not sign a contract");
		st->has_party_signature = true;
	}
	*msglen = ds_contract_step_encode(st, msg, DS_STEP_MSG_MAX);
	if (*msglen == 0 || !ds_signer_sign(signer, msg, *msglen, sig) ||
		!ds_sha256(ds_backend_hasher(), msg, *msglen, step_hash))
		elog(ERROR, "could not sign a contract step");
	return msg;
}

/* "accept (the other party), reject (either party)": what may follow a state. */
static char *
allowed_from(const char *state)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < ds_contract_ntransitions; i++)
	{
		const ds_transition *t = &ds_contract_transitions[i];

		if (strcmp(t->from, state) != 0)
			continue;
		appendStringInfo(&buf, "%s%s by %s", buf.len > 0 ? ", " : "", t->step,
						 ds_contract_actor_name(t->actor));
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "no step at all");
	return buf.data;
}

/*
 * check_own_assets
 *		Onward sharing: a node offers (or agrees to a request for) only
 *		assets it provides itself.
 */
static void
check_own_assets(const ds_contract *c, const uint8 me[DS_UUID_LEN])
{
	for (int i = 0; i < c->nassets; i++)
	{
		Datum		args[1] = {ds_uuid_datum(c->assets + i * DS_UUID_LEN)};
		Oid			types[1] = {UUIDOID};
		uint8		owner[DS_UUID_LEN];
		char	   *asset = ds_uuid_text(c->assets + i * DS_UUID_LEN);

		if (ds_spi_exec("SELECT node_id FROM dataspace.asset WHERE id OPERATOR(pg_catalog.=) $1",
						1, types, args, NULL, true, -1) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("asset %s does not exist on this node", asset),
					 errdetail("A provider offers only assets of its own dataspace.asset table.")));
		ds_spi_get_uuid(0, 1, owner);
		if (memcmp(owner, me, DS_UUID_LEN) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("asset %s was not provided by this node", asset),
					 errdetail("The asset belongs to node %s. A node offers only the assets it provides itself: data it received from others is never offered on.",
							   ds_uuid_text(owner)),
					 errhint("Ask the asset's provider for a contract instead.")));
	}
}

/*
 * counterparty_key
 *		The approved counterparty's key from the participant cache.
 */
static void
counterparty_key(const uint8 id[DS_UUID_LEN], uint8 pk[DS_PUBKEY_LEN],
				 uint8 key_id[DS_HASH_LEN])
{
	Datum		args[1] = {ds_uuid_datum(id)};
	Oid			types[1] = {UUIDOID};
	bool		isnull;
	char	   *status;
	uint8		kid[DS_HASH_LEN];

	if (ds_spi_exec("SELECT public_key, key_id, status FROM dataspace.participant"
					" WHERE node_id OPERATOR(pg_catalog.=) $1",
					1, types, args, NULL, true, -1) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("participant %s is not known to this node", ds_uuid_text(id)),
				 errdetail("Contracts are made with approved participants of the dataspace.participant cache."),
				 errhint("The hub-sync worker caches the participants the hub has approved; check dataspace.hub_status.")));
	ds_spi_get_bytes(0, 1, pk, DS_PUBKEY_LEN);
	ds_spi_get_bytes(0, 2, key_id, DS_HASH_LEN);
	status = TextDatumGetCString(ds_spi_get(0, 3, &isnull));
	if (strcmp(status, "approved") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("participant %s is %s", ds_uuid_text(id), status),
				 errdetail("Contracts are made with approved participants only.")));
	if (!ds_key_id(ds_backend_hasher(), pk, kid) || memcmp(kid, key_id, DS_HASH_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the cached key of participant %s does not match its key id", ds_uuid_text(id))));
}

static int
asset_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, DS_UUID_LEN);
}

/*
 * create_contract
 *		offer_contract and request_contract: check everything, then sign
 *		the contract bytes and the first step, store both and queue the
 *		step for the hub.
 */
static Datum
create_contract(FunctionCallInfo fcinfo, bool as_provider)
{
	pg_uuid_t  *other = PG_GETARG_UUID_P(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	Jsonb	   *policy_jb = PG_GETARG_JSONB_P(2);
	TimestampTz until = PG_GETARG_TIMESTAMPTZ(3);
	const char *fname = as_provider ? "dataspace.offer_contract()" : "dataspace.request_contract()";
	DsSigner   *signer;
	ds_policy	policy;
	char	   *policy_text = palloc(DS_POLICY_TEXT_MAX);
	size_t		policy_len;
	Datum	   *elems;
	bool	   *elnulls;
	int			nelems;
	uint8	   *assets;
	int			nassets = 0;
	ds_contract c;
	uint8	   *canonical = palloc(DS_CONTRACT_MSG_MAX);
	size_t		canonical_len;
	uint8		other_pk[DS_PUBKEY_LEN];
	uint8		other_kid[DS_HASH_LEN];
	ds_contract_step st;
	uint8	   *msg;
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	uint8		step_hash[DS_HASH_LEN];
	int64		now_us = ds_ts_to_unix_us(GetCurrentTransactionStartTimestamp());
	pg_uuid_t  *result = palloc(sizeof(pg_uuid_t));

	require_node(fname);

	/* the policy, fail closed */
	ds_policy_from_jsonb(policy_jb, &policy);
	policy_len = ds_policy_canonical(&policy, policy_text, DS_POLICY_TEXT_MAX);
	if (policy_len == 0)
		elog(ERROR, "could not write the canonical form of a policy");
	if (policy.has_validity && policy.validity.has_until && policy.validity.until <= now_us)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid contract policy"),
				 errdetail("Its validity ended at %s, before the contract would begin.",
						   ts_text(policy.validity.until))));

	/* validity of the contract */
	if (TIMESTAMP_NOT_FINITE(until))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be a finite timestamp"),
				 errdetail("Every contract ends; a policy can narrow its use further.")));
	if (ds_ts_to_unix_us(until) <= now_us)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_until must be in the future"),
				 errdetail("The contract would end at %s, before it begins now.",
						   ts_text(ds_ts_to_unix_us(until)))));

	/* assets: sorted, distinct, at least one */
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("assets must be a one-dimensional array")));
	deconstruct_array(arr, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &elems, &elnulls, &nelems);
	if (nelems < 1 || nelems > DS_CONTRACT_MAX_ASSETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a contract covers 1 to %d assets", DS_CONTRACT_MAX_ASSETS),
				 errdetail("%d assets were given.", nelems)));
	assets = palloc(nelems * DS_UUID_LEN);
	for (int i = 0; i < nelems; i++)
	{
		if (elnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("assets must not contain NULL")));
		memcpy(assets + i * DS_UUID_LEN, DatumGetUUIDP(elems[i])->data, DS_UUID_LEN);
	}
	qsort(assets, nelems, DS_UUID_LEN, asset_id_cmp);
	for (int i = 0; i < nelems; i++)
		if (i == 0 || memcmp(assets + (nassets - 1) * DS_UUID_LEN, assets + i * DS_UUID_LEN,
							 DS_UUID_LEN) != 0)
			memmove(assets + (nassets++) * DS_UUID_LEN, assets + i * DS_UUID_LEN, DS_UUID_LEN);

	SPI_connect();
	signer = ds_signer_load();
	if (memcmp(other->data, signer->node_id, DS_UUID_LEN) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a node cannot make a contract with itself")));
	counterparty_key(other->data, other_pk, other_kid);

	memset(&c, 0, sizeof(c));
	if (!pg_strong_random(c.id, DS_UUID_LEN))
		elog(ERROR, "could not generate a contract id");
	c.id[6] = (c.id[6] & 0x0f) | 0x40;
	c.id[8] = (c.id[8] & 0x3f) | 0x80;
	memcpy(as_provider ? c.provider_id : c.consumer_id, signer->node_id, DS_UUID_LEN);
	memcpy(as_provider ? c.consumer_id : c.provider_id, other->data, DS_UUID_LEN);
	memcpy(as_provider ? c.provider_key_id : c.consumer_key_id, signer->key_id, DS_HASH_LEN);
	memcpy(as_provider ? c.consumer_key_id : c.provider_key_id, other_kid, DS_HASH_LEN);
	c.nassets = nassets;
	c.assets = assets;
	c.policy = policy_text;
	c.policy_len = policy_len;
	c.valid_from = now_us;
	c.valid_until = ds_ts_to_unix_us(until);

	if (as_provider)
		check_own_assets(&c, signer->node_id);
	else
	{
		for (int i = 0; i < nassets; i++)
		{
			Datum		args[2] = {ds_uuid_datum(assets + i * DS_UUID_LEN), UUIDPGetDatum(other)};
			Oid			types[2] = {UUIDOID, UUIDOID};

			if (ds_spi_exec("SELECT FROM dataspace.hub_catalog WHERE asset_id OPERATOR(pg_catalog.=) $1"
							" AND provider_id OPERATOR(pg_catalog.=) $2",
							2, types, args, NULL, true, -1) != 1)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("asset %s is not in the catalog of provider %s",
								ds_uuid_text(assets + i * DS_UUID_LEN), ds_uuid_text(other->data)),
						 errdetail("A consumer requests assets the provider published at the hub."),
						 errhint("dataspace.hub_catalog lists them.")));
		}
	}

	canonical_len = ds_contract_encode(&c, canonical, DS_CONTRACT_MSG_MAX);
	if (canonical_len == 0)
		elog(ERROR, "could not encode a contract");
	msg = sign_step(signer, &st, canonical, canonical_len, zero_hash, 1,
					as_provider ? "offer" : "request", NULL, true, &msglen, sig, step_hash);
	store_new_contract(canonical, canonical_len, &c,
					   as_provider ? signer->public_key : other_pk,
					   as_provider ? other_pk : signer->public_key,
					   &st, as_provider ? "OFFERED" : "REQUESTED", step_hash);
	store_step(&c, &st, "", as_provider ? "OFFERED" : "REQUESTED", msg, msglen, sig,
			   step_hash, "local", NULL, as_provider);
	SPI_finish();
	memcpy(result->data, c.id, DS_UUID_LEN);
	PG_RETURN_UUID_P(result);
}

Datum
dataspace_offer_contract(PG_FUNCTION_ARGS)
{
	return create_contract(fcinfo, true);
}

Datum
dataspace_request_contract(PG_FUNCTION_ARGS)
{
	return create_contract(fcinfo, false);
}

/*
 * local_step
 *		A step of this node on an existing contract: check the table, sign,
 *		store, queue.  Returns the new state.
 */
static char *
local_step(const uint8 id[DS_UUID_LEN], const char *step, const char *reason)
{
	DsSigner   *signer;
	ContractRow row;
	bool		me_provider;
	const ds_transition *t;
	const uint8 *pinned;
	ds_contract_step st;
	uint8	   *msg;
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	uint8		step_hash[DS_HASH_LEN];
	char	   *result;
	MemoryContext outer = CurrentMemoryContext;

	if (reason != NULL && strlen(reason) > DS_STEP_REASON_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("a reason is at most %d bytes", DS_STEP_REASON_MAX)));
	if (reason != NULL && reason[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("to %s a contract, give a reason", step),
				 errdetail("The reason is signed into the step and shown to the other party.")));
	SPI_connect();
	signer = ds_signer_load();
	load_contract(id, true, false, &row);
	if (!row.found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("contract %s does not exist", ds_uuid_text(id))));
	if (row.c.nassets == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("contract %s cannot be read", ds_uuid_text(id)),
				 errdetail("Its stored canonical bytes do not decode.")));
	if (memcmp(row.c.provider_id, signer->node_id, DS_UUID_LEN) == 0)
		me_provider = true;
	else if (memcmp(row.c.consumer_id, signer->node_id, DS_UUID_LEN) == 0)
		me_provider = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("this node is not a party of contract %s", ds_uuid_text(id))));
	t = ds_contract_find_transition(row.state, step, me_provider, row.provider_initiated);
	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s contract %s in state %s as its %s", step, ds_uuid_text(id),
						row.state, me_provider ? "provider" : "consumer"),
				 errdetail("In state %s the table allows %s.", row.state, allowed_from(row.state)),
				 errhint("docs/contracts.md holds the transition table.")));
	pinned = me_provider ? row.c.provider_key_id : row.c.consumer_key_id;
	if (memcmp(pinned, signer->key_id, DS_HASH_LEN) != 0 &&
		(t->party_signature || ds_keyring_find(ds_keyring_load(), pinned) == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("contract %s pins another key of this node", ds_uuid_text(id)),
				 errdetail("The contract was made under key %s; the node's current key is %s.",
						   ds_hex(pinned, DS_HASH_LEN), ds_hex(signer->key_id, DS_HASH_LEN)),
				 errhint(t->party_signature ?
						 "To %s is to sign the contract with the key it pins; a contract made before a key rotation is renegotiated." :
						 "The pinned key is not one of this node's keys.", step)));
	if (strcmp(step, "accept") == 0)
	{
		/* the other party's signature must be there, and verify */
		const uint8 *opk = me_provider ? row.consumer_pk : row.provider_pk;
		bool		has = me_provider ? row.has_consumer_sig : row.has_provider_sig;

		if (!has || !ds_ed25519_verify(opk, row.canonical, row.canonical_len,
									   me_provider ? row.consumer_sig : row.provider_sig))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("cannot accept contract %s: the other party's signature does not verify",
							ds_uuid_text(id))));
		if (me_provider)
			check_own_assets(&row.c, signer->node_id);
	}
	msg = sign_step(signer, &st, row.canonical, row.canonical_len, row.last_step_hash,
					row.last_step_no + 1, step, reason, t->party_signature,
					&msglen, sig, step_hash);
	store_step(&row.c, &st, row.state, t->to, msg, msglen, sig, step_hash, "local", NULL,
			   me_provider);
	result = MemoryContextStrdup(outer, t->to);
	SPI_finish();
	return result;
}

Datum
dataspace_accept_contract(PG_FUNCTION_ARGS)
{
	require_node("dataspace.accept_contract()");
	PG_RETURN_TEXT_P(cstring_to_text(local_step(PG_GETARG_UUID_P(0)->data, "accept", NULL)));
}

Datum
dataspace_reject_contract(PG_FUNCTION_ARGS)
{
	require_node("dataspace.reject_contract()");
	PG_RETURN_TEXT_P(cstring_to_text(local_step(PG_GETARG_UUID_P(0)->data, "reject",
												text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

Datum
dataspace_suspend_contract(PG_FUNCTION_ARGS)
{
	require_node("dataspace.suspend_contract()");
	PG_RETURN_TEXT_P(cstring_to_text(local_step(PG_GETARG_UUID_P(0)->data, "suspend",
												text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

Datum
dataspace_resume_contract(PG_FUNCTION_ARGS)
{
	require_node("dataspace.resume_contract()");
	PG_RETURN_TEXT_P(cstring_to_text(local_step(PG_GETARG_UUID_P(0)->data, "resume", NULL)));
}

Datum
dataspace_revoke_contract(PG_FUNCTION_ARGS)
{
	require_node("dataspace.revoke_contract()");
	PG_RETURN_TEXT_P(cstring_to_text(local_step(PG_GETARG_UUID_P(0)->data, "revoke",
												text_to_cstring(PG_GETARG_TEXT_PP(1)))));
}

/* ---------------------------------------------------------------------
 * Checking a step: shared by the node (receiving) and the hub
 * ---------------------------------------------------------------------
 */

/*
 * check_step
 *		Does this step, signed by actor_pk, follow from the stored contract
 *		(row, or none for a first step)?  Fills in the transition; returns
 *		NULL, or why not.
 */
static char *
check_step(const uint8 *canonical, size_t clen, const ds_contract *c,
		   const uint8 *msg, size_t msglen, const uint8 *sig,
		   const ds_contract_step *st, const uint8 actor_pk[DS_PUBKEY_LEN],
		   const ContractRow *row, const ds_transition **tp, bool *by_provider)
{
	uint8		chash[DS_HASH_LEN];
	bool		provider_initiated;
	const char *from;

	*by_provider = memcmp(st->actor_id, c->provider_id, DS_UUID_LEN) == 0;
	if (!*by_provider && memcmp(st->actor_id, c->consumer_id, DS_UUID_LEN) != 0)
		return psprintf("the step's signer %s is not a party of contract %s",
						ds_uuid_text(st->actor_id), ds_uuid_text(c->id));
	if (memcmp(st->contract_id, c->id, DS_UUID_LEN) != 0)
		return pstrdup("the step belongs to another contract");
	if (!ds_sha256(ds_backend_hasher(), canonical, clen, chash) ||
		memcmp(chash, st->contract_hash, DS_HASH_LEN) != 0)
		return pstrdup("the step is not over these contract bytes");
	if (st->has_party_signature &&
		memcmp(st->actor_key_id, *by_provider ? c->provider_key_id : c->consumer_key_id,
			   DS_HASH_LEN) != 0)
		return psprintf("the step is signed with a key other than the one contract %s pins for its %s",
						ds_uuid_text(c->id), *by_provider ? "provider" : "consumer");
	if (!ds_ed25519_verify(actor_pk, msg, msglen, sig))
		return pstrdup("the step's signature does not verify");
	if (row != NULL && row->found)
	{
		if (row->canonical_len != clen || memcmp(row->canonical, canonical, clen) != 0)
			return psprintf("the step's contract bytes differ from those stored for contract %s",
							ds_uuid_text(c->id));
		if (st->step_no <= row->last_step_no)
			return psprintf("step " INT64_FORMAT " of contract %s is already recorded",
							st->step_no, ds_uuid_text(c->id));
		if (st->step_no != row->last_step_no + 1 ||
			memcmp(st->prev_hash, row->last_step_hash, DS_HASH_LEN) != 0)
			return psprintf("step " INT64_FORMAT " of contract %s does not follow step " INT64_FORMAT,
							st->step_no, ds_uuid_text(c->id), row->last_step_no);
		from = row->state;
		provider_initiated = row->provider_initiated;
	}
	else
	{
		if (st->step_no != 1 || memcmp(st->prev_hash, zero_hash, DS_HASH_LEN) != 0)
			return psprintf("contract %s is not known here, and step " INT64_FORMAT " is not its first",
							ds_uuid_text(c->id), st->step_no);
		from = "";
		provider_initiated = *by_provider;
	}
	*tp = ds_contract_find_transition(from, st->step, *by_provider, provider_initiated);
	if (*tp == NULL)
		return psprintf("the %s may not %s contract %s in state %s",
						*by_provider ? "provider" : "consumer", st->step,
						ds_uuid_text(c->id), from[0] ? from : "(none)");
	if ((*tp)->party_signature != st->has_party_signature)
		return psprintf("a %s step %s the party's signature over the contract",
						st->step, (*tp)->party_signature ? "needs" : "must not carry");
	if (st->has_party_signature &&
		!ds_ed25519_verify(actor_pk, canonical, clen, st->party_signature))
		return pstrdup("the party's signature over the contract does not verify");
	if (row == NULL || !row->found)
	{
		/* a new contract: its policy must read, fail closed */
		ds_policy	p;
		char		why[256];
		char	   *text = palloc(DS_POLICY_TEXT_MAX);
		size_t		n;

		if (!ds_policy_parse(c->policy, c->policy_len, &p, why, sizeof(why)))
			return psprintf("the contract's policy is invalid: %s", why);
		n = ds_policy_canonical(&p, text, DS_POLICY_TEXT_MAX);
		if (n != c->policy_len || memcmp(text, c->policy, n) != 0)
			return pstrdup("the contract's policy is not in canonical form");
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Crossing steps: following the hub's order (docs/contracts.md)
 *
 * Both parties may act on a contract at about the same time; the hub keeps
 * whichever step reaches it first and refuses the other.  The node whose
 * step lost learns it when the hub shows the counterparty's step at the
 * same number: it rolls its contract back to the state before its own
 * losing steps, marks them superseded (kept, never sent), applies the
 * hub's step, and records all of it in the audit log, in the transaction
 * that applies the step.  An ending step it had asked for (reject, revoke,
 * suspend) is taken again when the table still allows it; nothing else is.
 * ---------------------------------------------------------------------
 */

/* One of this node's steps that lost to the counterparty's at the hub. */
typedef struct LosingStep
{
	int64		step_no;
	char		step[DS_STEP_NAME_MAX + 1];
	uint8		hash[DS_HASH_LEN];
	char	   *reason;			/* as signed; "" if none */
} LosingStep;

typedef struct Reconciliation
{
	int			nlosing;
	LosingStep *losing;
	char	   *reason;			/* the contract's reason before them, or NULL */
} Reconciliation;

/* Is this a step the nodes take by themselves (agree, verify, finalize)? */
static bool
step_is_automatic(const char *step)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
		if (strcmp(ds_contract_transitions[i].step, step) == 0)
			return strcmp(ds_contract_transitions[i].function, DS_STEP_AUTOMATIC) == 0;
	return false;
}

/* Does no step at all lead on from this state (TERMINATED, revoked)? */
static bool
state_is_final(const char *state)
{
	for (int i = 0; i < ds_contract_ntransitions; i++)
		if (strcmp(ds_contract_transitions[i].from, state) == 0)
			return false;
	return true;
}

/*
 * plan_reconciliation
 *		The hub shows the counterparty's step st at a number this node has
 *		already used.  That is a crossing only if every step of this node's
 *		chain from there on is its own and the hub never took it: under an
 *		honest hub those are exactly the steps that lost.  Anything else (a
 *		step of the counterparty at that number, or one of this node's
 *		that the hub took) means two histories signed for one contract and
 *		is refused.  On success row becomes, in memory only, the contract
 *		as it was before the losing steps: state, chain head and this
 *		node's party signature; rc lists the losing steps.  Nothing is
 *		written, so that a winning step that then fails its checks changes
 *		nothing.  Returns NULL, or why not.
 */
static char *
plan_reconciliation(ContractRow *row, const ds_contract_step *st, bool me_provider,
					Reconciliation *rc)
{
	Datum		args[2];
	Oid			types[2] = {UUIDOID, INT8OID};
	const uint8 *me = me_provider ? row->c.provider_id : row->c.consumer_id;
	char	   *id = ds_uuid_text(row->c.id);
	char	   *from = NULL;
	uint8		head[DS_HASH_LEN];
	bool		have_sig = false;
	uint8		my_sig[DS_SIG_LEN];
	bool		isnull;
	uint8	   *m;
	size_t		mlen;
	ds_contract_step own;
	int			n;
	int			n_losing;

	memset(rc, 0, sizeof(*rc));
	if (st->step_no < 2)
		return psprintf("step 1 of contract %s is already recorded", id);
	/*
	 * Read-write SPI calls: they see the steps this transaction stored
	 * since its snapshot, such as an automatic step taken earlier in the
	 * same round.
	 */
	args[0] = ds_uuid_datum(row->c.id);
	args[1] = Int64GetDatum(st->step_no);
	n = ds_spi_exec("SELECT step_no, step, local, delivered_at IS NOT NULL OR hub_seq IS NOT NULL,"
					" step_hash, from_state, message FROM dataspace.contract_step"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1"
					" AND step_no OPERATOR(pg_catalog.>=) $2 AND superseded_at IS NULL"
					" ORDER BY step_no",
					2, types, args, NULL, false, -1);
	rc->losing = palloc0(sizeof(LosingStep) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		LosingStep *ls = &rc->losing[i];

		ls->step_no = ds_spi_get_int64(i, 1);
		strlcpy(ls->step, TextDatumGetCString(ds_spi_get(i, 2, &isnull)), sizeof(ls->step));
		if (!DatumGetBool(ds_spi_get(i, 3, &isnull)))
			return psprintf("step " INT64_FORMAT " of contract %s is already recorded:"
							" this node holds the counterparty's step " INT64_FORMAT
							" and the hub shows another in the same chain",
							st->step_no, id, ls->step_no);
		if (DatumGetBool(ds_spi_get(i, 4, &isnull)))
			return psprintf("the hub took this node's step " INT64_FORMAT " of contract %s"
							" and now shows another step " INT64_FORMAT " in its chain",
							ls->step_no, id, st->step_no);
		if (!spi_fixed_or_null(i, 5, ls->hash, DS_HASH_LEN))
			return psprintf("this node's step " INT64_FORMAT " of contract %s has no hash",
							ls->step_no, id);
		if (i == 0)
			from = TextDatumGetCString(ds_spi_get(i, 6, &isnull));
		m = spi_bytes_copy(i, 7, &mlen, &isnull);
		if (isnull || !ds_contract_step_decode(m, mlen, &own) || own.step_no != ls->step_no)
			return psprintf("this node's step " INT64_FORMAT " of contract %s does not decode",
							ls->step_no, id);
		ls->reason = pnstrdup(own.reason, own.reason_len);
	}
	if (n == 0 || rc->losing[0].step_no != st->step_no)
		return psprintf("the steps of contract %s from step " INT64_FORMAT " on are not in order",
						id, st->step_no);
	n_losing = n;

	/* the chain head before them */
	args[1] = Int64GetDatum(st->step_no - 1);
	if (ds_spi_exec("SELECT step_hash, to_state FROM dataspace.contract_step"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1"
					" AND step_no OPERATOR(pg_catalog.=) $2 AND superseded_at IS NULL",
					2, types, args, NULL, false, -1) != 1 ||
		!spi_fixed_or_null(0, 1, head, DS_HASH_LEN) ||
		strcmp(TextDatumGetCString(ds_spi_get(0, 2, &isnull)), from) != 0)
		return psprintf("the steps of contract %s before step " INT64_FORMAT
						" do not lead to the state that step was taken in",
						id, st->step_no);

	/* this node's party signature and the reason, as they were before */
	args[1] = Int64GetDatum(st->step_no);
	n = ds_spi_exec("SELECT message FROM dataspace.contract_step"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1"
					" AND step_no OPERATOR(pg_catalog.<) $2 AND superseded_at IS NULL"
					" ORDER BY step_no",
					2, types, args, NULL, false, -1);
	for (int i = 0; i < n; i++)
	{
		m = spi_bytes_copy(i, 1, &mlen, &isnull);
		if (isnull || !ds_contract_step_decode(m, mlen, &own))
			return psprintf("a step of contract %s before step " INT64_FORMAT " does not decode",
							id, st->step_no);
		if (memcmp(own.actor_id, me, DS_UUID_LEN) == 0 && own.has_party_signature)
		{
			have_sig = true;
			memcpy(my_sig, own.party_signature, DS_SIG_LEN);
		}
		if (own.reason_len > 0)
			rc->reason = pnstrdup(own.reason, own.reason_len);
	}

	rc->nlosing = n_losing;
	row->state = from;
	row->last_step_no = st->step_no - 1;
	memcpy(row->last_step_hash, head, DS_HASH_LEN);
	if (me_provider)
	{
		row->has_provider_sig = have_sig;
		if (have_sig)
			memcpy(row->provider_sig, my_sig, DS_SIG_LEN);
	}
	else
	{
		row->has_consumer_sig = have_sig;
		if (have_sig)
			memcpy(row->consumer_sig, my_sig, DS_SIG_LEN);
	}
	return NULL;
}

/*
 * apply_reconciliation
 *		Write what plan_reconciliation decided, before the winning step is
 *		stored: the losing steps superseded by it (kept, never sent), the
 *		contract back at the state before them, and an audit entry naming
 *		both sides.
 */
static void
apply_reconciliation(const ContractRow *row, const Reconciliation *rc, bool me_provider,
					 const ds_contract_step *winner, const uint8 winner_hash[DS_HASH_LEN])
{
	Oid			types[3] = {UUIDOID, INT8OID, BYTEAOID};
	Datum		args[3];
	Oid			ctypes[6] = {UUIDOID, TEXTOID, INT8OID, BYTEAOID, BYTEAOID, TEXTOID};
	Datum		cargs[6];
	char		cnulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		has_sig = me_provider ? row->has_provider_sig : row->has_consumer_sig;
	StringInfoData detail;
	char	   *sql;

	args[0] = ds_uuid_datum(row->c.id);
	args[1] = Int64GetDatum(winner->step_no);
	args[2] = ds_bytea_datum(winner_hash, DS_HASH_LEN);
	if (ds_spi_exec("UPDATE dataspace.contract_step SET superseded_at = pg_catalog.now(),"
					" superseded_by = $3"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1"
					" AND step_no OPERATOR(pg_catalog.>=) $2 AND superseded_at IS NULL",
					3, types, args, NULL, false, -1) != rc->nlosing)
		elog(ERROR, "could not supersede the steps of contract %s", ds_uuid_text(row->c.id));

	cargs[0] = ds_uuid_datum(row->c.id);
	cargs[1] = CStringGetTextDatum(row->state);
	cargs[2] = Int64GetDatum(row->last_step_no);
	cargs[3] = ds_bytea_datum(row->last_step_hash, DS_HASH_LEN);
	cargs[4] = bytes_datum_or_null(has_sig, me_provider ? row->provider_sig : row->consumer_sig,
								   DS_SIG_LEN, &cnulls[4]);
	if (rc->reason != NULL)
		cargs[5] = CStringGetTextDatum(rc->reason);
	else
		cnulls[5] = 'n';
	sql = psprintf("UPDATE dataspace.contract SET state = $2, last_step_no = $3,"
				   " last_step_hash = $4, %s = $5, reason = $6, updated_at = pg_catalog.now()"
				   " WHERE id OPERATOR(pg_catalog.=) $1",
				   me_provider ? "provider_signature" : "consumer_signature");
	ds_spi_exec(sql, 6, ctypes, cargs, cnulls, false, 1);

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"superseded\": [");
	for (int i = 0; i < rc->nlosing; i++)
	{
		appendStringInfo(&detail, "%s{\"step_no\": \"" INT64_FORMAT "\", \"step\": ",
						 i > 0 ? ", " : "", rc->losing[i].step_no);
		escape_json(&detail, rc->losing[i].step);
		appendStringInfo(&detail, ", \"step_hash\": \"%s\"}",
						 ds_hex(rc->losing[i].hash, DS_HASH_LEN));
	}
	appendStringInfoString(&detail, "], \"rolled_back_to\": ");
	escape_json(&detail, row->state);
	appendStringInfo(&detail, ", \"by\": {\"step_no\": \"" INT64_FORMAT "\", \"step\": ",
					 winner->step_no);
	escape_json(&detail, winner->step);
	appendStringInfo(&detail, ", \"actor\": \"%s\", \"step_hash\": \"%s\"}}",
					 ds_uuid_text(winner->actor_id), ds_hex(winner_hash, DS_HASH_LEN));
	ds_audit_append("contract.reconcile", ds_uuid_text(row->c.id), detail.data);
}

/*
 * take_automatic_step
 *		After a step of the counterparty, the step this node takes by
 *		itself in the state it led to (agree, verify, finalize), if any:
 *		signed, stored and queued.  Returns the state it leads to, or NULL.
 */
static char *
take_automatic_step(DsSigner *signer, const ContractRow *row, bool me_provider,
					const ds_contract_step *prev, const uint8 prev_hash[DS_HASH_LEN],
					const char *state)
{
	const ds_transition *next = ds_contract_automatic_step(state, me_provider);
	ds_contract_step st;
	uint8	   *msg;
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	uint8		hash[DS_HASH_LEN];

	if (next == NULL)
		return NULL;
	msg = sign_step(signer, &st, row->canonical, row->canonical_len, prev_hash,
					prev->step_no + 1, next->step, NULL, next->party_signature,
					&msglen, sig, hash);
	store_step(&row->c, &st, state, next->to, msg, msglen, sig, hash, "local", NULL,
			   me_provider);
	return pstrdup(next->to);
}

/*
 * resign_contract_outbox
 *		The undelivered steps of one contract (rows first to first + nsteps
 *		- 1 of tt, in order), from the first one under a key other than the
 *		signer's on, signed
 *		again under the signer's key: same numbers, steps and reasons, each
 *		chained to the one before it.  Each old step is superseded by its
 *		new one (reissue_of).  Nothing is done if one of them signs the
 *		contract (that needs the pinned key).  Returns how many.
 */
static int
resign_contract_outbox(DsSigner *signer, const uint8 id[DS_UUID_LEN], int first, int nsteps,
					   SPITupleTable *tt)
{
	ContractRow row;
	ds_contract_step *old = palloc(sizeof(ds_contract_step) * nsteps);
	uint8		prev[DS_HASH_LEN];
	int			from = -1;
	bool		me_provider;

	for (int i = 0; i < nsteps; i++)
	{
		bool		isnull;
		bytea	   *m = DatumGetByteaPP(SPI_getbinval(tt->vals[first + i], tt->tupdesc, 2, &isnull));

		if (!ds_contract_step_decode((const uint8 *) VARDATA_ANY(m), VARSIZE_ANY_EXHDR(m), &old[i]))
			return 0;
		if (from < 0 && memcmp(old[i].actor_key_id, signer->key_id, DS_HASH_LEN) != 0)
			from = i;
		if (from >= 0 && old[i].has_party_signature)
			return 0;
	}
	if (from < 0)
		return 0;
	load_contract(id, true, false, &row);
	if (!row.found)
		return 0;
	me_provider = memcmp(row.c.provider_id, signer->node_id, DS_UUID_LEN) == 0;
	memcpy(prev, old[from].prev_hash, DS_HASH_LEN);
	for (int i = from; i < nsteps; i++)
	{
		HeapTuple	tup = tt->vals[first + i];
		bool		isnull;
		char	   *from_state = SPI_getvalue(tup, tt->tupdesc, 3);
		char	   *to_state = SPI_getvalue(tup, tt->tupdesc, 4);
		uint8		old_hash[DS_HASH_LEN];
		bytea	   *h = DatumGetByteaPP(SPI_getbinval(tup, tt->tupdesc, 5, &isnull));
		ds_contract_step st;
		uint8	   *msg;
		size_t		msglen;
		uint8		sig[DS_SIG_LEN];
		uint8		hash[DS_HASH_LEN];

		memcpy(old_hash, VARDATA_ANY(h), DS_HASH_LEN);
		msg = sign_step(signer, &st, row.canonical, row.canonical_len, prev, old[i].step_no,
						old[i].step, pnstrdup(old[i].reason, old[i].reason_len), false,
						&msglen, sig, hash);
		if (ds_spi_exec("UPDATE dataspace.contract_step SET superseded_at = pg_catalog.now(),"
						" superseded_by = $3"
						" WHERE contract_id OPERATOR(pg_catalog.=) $1 AND step_no OPERATOR(pg_catalog.=) $2"
						" AND superseded_at IS NULL AND local AND delivered_at IS NULL",
						3, (Oid[]) {UUIDOID, INT8OID, BYTEAOID},
						(Datum[]) {ds_uuid_datum(id), Int64GetDatum(old[i].step_no),
						ds_bytea_datum(hash, DS_HASH_LEN)},
						NULL, false, -1) != 1)
			elog(ERROR, "could not supersede step " INT64_FORMAT " of contract %s",
				 old[i].step_no, ds_uuid_text(id));
		store_step(&row.c, &st, from_state, to_state, msg, msglen, sig, hash, "reissued",
				   old_hash, me_provider);
		memcpy(prev, hash, DS_HASH_LEN);
	}
	ereport(LOG,
			(errmsg("contract %s: steps " INT64_FORMAT " to " INT64_FORMAT " signed again under key %s",
					ds_uuid_text(id), old[from].step_no, old[nsteps - 1].step_no,
					ds_hex(signer->key_id, DS_HASH_LEN)),
			 errdetail("They waited in the outbox while the hub took this node's key rotation,"
					   " and the hub takes steps under the registered key only.")));
	return nsteps - from;
}

/*
 * ds_contract_resign_outbox
 *		After the hub took a rotation of this node's key, the steps still in
 *		the outbox under an older key (they waited: for the other party's
 *		approval, or behind a step that did) would be refused there.  Sign
 *		them again under the current key (resign_contract_outbox).  A step
 *		the hub refused keeps its refusal.  Returns how many were signed
 *		again.  Call within SPI.
 */
int
ds_contract_resign_outbox(DsSigner *signer)
{
	int			n;
	int			done = 0;
	SPITupleTable *tt;

	n = ds_spi_exec("SELECT s.contract_id, s.message, s.from_state, s.to_state, s.step_hash"
					" FROM dataspace.contract_step s"
					" WHERE s.local AND s.delivered_at IS NULL AND s.superseded_at IS NULL"
					" AND s.hub_seq IS NULL"
					" AND NOT EXISTS (SELECT FROM dataspace.contract_step e"
					" WHERE e.contract_id OPERATOR(pg_catalog.=) s.contract_id"
					" AND e.delivery_error IS NOT NULL AND e.superseded_at IS NULL)"
					" ORDER BY s.contract_id, s.step_no",
					0, NULL, NULL, NULL, false, -1);
	tt = SPI_tuptable;
	for (int i = 0; i < n;)
	{
		bool		isnull;
		pg_uuid_t  *id = DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		int			j = i + 1;

		while (j < n &&
			   memcmp(DatumGetUUIDP(SPI_getbinval(tt->vals[j], tt->tupdesc, 1, &isnull))->data,
					  id->data, DS_UUID_LEN) == 0)
			j++;
		done += resign_contract_outbox(signer, id->data, i, j - i, tt);
		i = j;
	}
	return done;
}

/*
 * reject_stale_pin
 *		A new contract from the counterparty pins a key of this node that a
 *		rotation has replaced (its cache was behind).  This node can no
 *		longer sign the contract with that key, so it could never accept:
 *		it rejects at once, under its current key, saying why, so that the
 *		counterparty learns to ask again.  Returns the state it leads to.
 */
static char *
reject_stale_pin(DsSigner *signer, const uint8 *canonical, size_t clen,
				 const ds_contract *c, bool me_provider, const ds_contract_step *prev,
				 const uint8 prev_hash[DS_HASH_LEN], const char *state)
{
	const ds_transition *t = ds_contract_find_transition(state, "reject", me_provider,
														 !me_provider);
	const uint8 *pinned = me_provider ? c->provider_key_id : c->consumer_key_id;
	char	   *reason = psprintf("the contract pins key %s of this node, which it has replaced by key %s;"
								  " make the contract again",
								  ds_hex(pinned, DS_HASH_LEN), ds_hex(signer->key_id, DS_HASH_LEN));
	ds_contract_step st;
	uint8	   *msg;
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	uint8		hash[DS_HASH_LEN];

	if (t == NULL)
		elog(ERROR, "no rejection of a contract in state %s", state);
	msg = sign_step(signer, &st, canonical, clen, prev_hash, prev->step_no + 1, t->step,
					reason, t->party_signature, &msglen, sig, hash);
	store_step(c, &st, state, t->to, msg, msglen, sig, hash, "local", NULL, me_provider);
	ereport(LOG,
			(errmsg("contract %s: rejected, since %s", ds_uuid_text(c->id), reason)));
	return pstrdup(t->to);
}

/*
 * follow_reconciliation
 *		The winning step is stored; what now of this node's intent?  The
 *		last losing step the user asked for decides.  An ending one (reject,
 *		revoke; suspend) is taken again, signed over the new chain head with
 *		the same reason, when the table lets this node end the contract from
 *		the state the hub's order led to: reject during the negotiation,
 *		revoke during the agreement's life (suspend only as suspend).  It
 *		only ever narrows what the contract allows.  Any other intent
 *		(accept, resume) is not taken again: the node never grants on its
 *		own, the user acts again if it is still wanted.  Automatic steps
 *		follow the protocol from the new state, unless an ending intent is
 *		pending.  Reports the reconciliation (WARNING, contract.alarm) and
 *		returns the state the contract is in.
 */
static char *
follow_reconciliation(DsSigner *signer, const ContractRow *row, const Reconciliation *rc,
					  bool me_provider, const ds_contract_step *winner,
					  const uint8 winner_hash[DS_HASH_LEN], const char *state)
{
	const LosingStep *intent = NULL;
	const LosingStep *first = &rc->losing[0];
	const ds_transition *again = NULL;
	bool		ending = false;
	const char *role = me_provider ? "provider" : "consumer";
	char	   *id = ds_uuid_text(row->c.id);
	char	   *result = pstrdup(state);
	char	   *outcome;
	char	   *alarm;

	for (int i = rc->nlosing - 1; i >= 0 && intent == NULL; i--)
		if (!step_is_automatic(rc->losing[i].step))
			intent = &rc->losing[i];
	if (intent != NULL)
	{
		if (strcmp(intent->step, "suspend") == 0)
		{
			ending = true;
			again = ds_contract_find_transition(state, "suspend", me_provider,
												row->provider_initiated);
		}
		else if (strcmp(intent->step, "reject") == 0 || strcmp(intent->step, "revoke") == 0)
		{
			ending = true;
			again = ds_contract_find_transition(state, "reject", me_provider,
												row->provider_initiated);
			if (again == NULL)
				again = ds_contract_find_transition(state, "revoke", me_provider,
													row->provider_initiated);
		}
	}

	if (again != NULL)
	{
		ds_contract_step st;
		uint8	   *msg;
		size_t		msglen;
		uint8		sig[DS_SIG_LEN];
		uint8		hash[DS_HASH_LEN];

		msg = sign_step(signer, &st, row->canonical, row->canonical_len, winner_hash,
						winner->step_no + 1, again->step, intent->reason,
						again->party_signature, &msglen, sig, hash);
		store_step(&row->c, &st, state, again->to, msg, msglen, sig, hash, "reissued",
				   intent->hash, me_provider);
		outcome = psprintf("This node's %s is taken again as step " INT64_FORMAT " (%s), which leads to %s.",
						   intent->step, st.step_no, again->step, again->to);
		result = pstrdup(again->to);
	}
	else if (state_is_final(state))
		outcome = pstrdup("The contract has ended; nothing of this node's is taken again.");
	else if (intent != NULL && ending)
		outcome = psprintf("This node's %s is not taken again: the %s may not end the contract in state %s.",
						   intent->step, role, state);
	else if (intent != NULL)
		outcome = psprintf("This node's %s is not taken again: a node never grants on its own; take it again if it is still wanted.",
						   intent->step);
	else
		outcome = pstrdup("Only automatic steps of this node lost; it takes the next one the protocol gives it.");

	/* the protocol's own next step, unless this node wanted the contract ended */
	if (again == NULL && !ending)
	{
		char	   *next = take_automatic_step(signer, row, me_provider, winner, winner_hash, state);

		if (next != NULL)
			result = next;
	}

	ereport(WARNING,
			(errmsg("contract %s: this node's step " INT64_FORMAT " (%s) lost to the counterparty's step " INT64_FORMAT " (%s) at the hub",
					id, first->step_no, first->step, winner->step_no, winner->step),
			 errdetail("%s superseded: kept in dataspace.contract_step and never sent. "
					   "The contract follows the hub's order: it went back to %s, then to %s. %s",
					   rc->nlosing > 1 ?
					   psprintf("This node's steps " INT64_FORMAT " to " INT64_FORMAT " are",
								first->step_no, rc->losing[rc->nlosing - 1].step_no) :
					   psprintf("This node's step " INT64_FORMAT " is", first->step_no),
					   row->state, state, outcome)));
	alarm = psprintf("step " INT64_FORMAT " (%s) of this node lost to the counterparty's step " INT64_FORMAT
					 " (%s) at the hub and is superseded. %s",
					 first->step_no, first->step, winner->step_no, winner->step, outcome);
	ds_spi_exec("UPDATE dataspace.contract SET alarm = $2 WHERE id OPERATOR(pg_catalog.=) $1",
				2, (Oid[]) {UUIDOID, TEXTOID},
				(Datum[]) {ds_uuid_datum(row->c.id), CStringGetTextDatum(alarm)},
				NULL, false, 1);
	return result;
}

/*
 * carried_step_key
 *		A step carried by hand, not in the hub's order, must be under the
 *		key this node's cache holds as the party's current one.  Whoever
 *		holds a key the party has replaced can date a step back to when
 *		that key was valid; only the hub, which takes a party's steps under
 *		its registered key alone, vouches for such a step.  NULL, or why
 *		not.  Call within SPI.
 */
static char *
carried_step_key(const uint8 party[DS_UUID_LEN], const ds_contract_step *st)
{
	uint8		current[DS_HASH_LEN];

	if (ds_spi_exec("SELECT key_id FROM dataspace.participant WHERE node_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(party)},
					NULL, true, -1) != 1)
		return NULL;			/* not cached: the pinned key alone (step_key) */
	ds_spi_get_bytes(0, 1, current, DS_HASH_LEN);
	if (memcmp(current, st->actor_key_id, DS_HASH_LEN) == 0)
		return NULL;
	return psprintf("participant %s has replaced key %s by key %s; a step under a replaced key is taken from the hub only, not carried by hand",
					ds_uuid_text(party), ds_hex(st->actor_key_id, DS_HASH_LEN),
					ds_hex(current, DS_HASH_LEN));
}

/*
 * ds_contract_receive
 *		Apply a step the counterparty made: verified against the key the
 *		contract pins for it (for a new contract: the participant cache's
 *		key, which must be the pinned one), in order after the last step.
 *		Carried by hand, a step must also be under the party's current key
 *		(carried_step_key).
 *		If the step leaves the contract in a state whose next step is this
 *		node's to take by itself (agree, verify, finalize), it takes it; a
 *		new contract that pins a replaced key of this node it rejects
 *		(reject_stale_pin).
 *
 *		hub_order says the step comes in the order the hub recorded steps
 *		(the hub-sync worker): a step at a number this node has already
 *		used for steps the hub never took is then the winner of a crossing,
 *		and the node reconciles (plan_reconciliation).  A step carried by
 *		other means never overrides this node's own.
 *
 *		Returns the state the contract is in, or NULL and why.  Call within
 *		SPI.
 */
char *
ds_contract_receive(const uint8 *canonical, size_t clen, const uint8 *msg,
					size_t msglen, const uint8 *sig, bool hub_order, char **why)
{
	DsSigner   *signer = ds_signer_load();
	ds_contract c;
	ds_contract_step st;
	ContractRow row;
	uint8		pk[DS_PUBKEY_LEN];
	uint8		other_pk[DS_PUBKEY_LEN];
	bool		me_provider;
	bool		by_provider;
	const ds_transition *t;
	uint8		step_hash[DS_HASH_LEN];
	const uint8 *my_kid;
	const uint8 *other_id;
	const uint8 *other_kid;
	Reconciliation rc;
	bool		reconciling = false;
	uint8		my_pk[DS_PUBKEY_LEN];
	bool		stale_pin = false;

	*why = NULL;
	memset(&rc, 0, sizeof(rc));
	if (!ds_contract_decode(canonical, clen, &c))
		return (*why = pstrdup("malformed contract")), NULL;
	if (!ds_contract_step_decode(msg, msglen, &st))
		return (*why = pstrdup("malformed contract step")), NULL;
	me_provider = memcmp(c.provider_id, signer->node_id, DS_UUID_LEN) == 0;
	if (!me_provider && memcmp(c.consumer_id, signer->node_id, DS_UUID_LEN) != 0)
		return (*why = psprintf("this node is not a party of contract %s", ds_uuid_text(c.id))), NULL;
	if (memcmp(st.actor_id, signer->node_id, DS_UUID_LEN) == 0)
		return (*why = pstrdup("the step claims to be this node's own")), NULL;
	other_id = me_provider ? c.consumer_id : c.provider_id;
	other_kid = me_provider ? c.consumer_key_id : c.provider_key_id;
	my_kid = me_provider ? c.provider_key_id : c.consumer_key_id;

	load_contract(c.id, true, false, &row);
	if (row.found)
	{
		memcpy(other_pk, me_provider ? row.consumer_pk : row.provider_pk, DS_PUBKEY_LEN);
		if (memcmp(st.actor_id, other_id, DS_UUID_LEN) != 0)
			memcpy(pk, other_pk, DS_PUBKEY_LEN);	/* check_step names the stranger */
		else if ((*why = step_key(other_id, other_kid, other_pk, &st, pk)) != NULL)
			return NULL;
		else if (!hub_order && (*why = carried_step_key(other_id, &st)) != NULL)
			return NULL;
	}
	else
	{
		Datum		args[1] = {ds_uuid_datum(other_id)};
		Oid			types[1] = {UUIDOID};
		uint8		kid[DS_HASH_LEN];

		memcpy(my_pk, signer->public_key, DS_PUBKEY_LEN);
		if (memcmp(my_kid, signer->key_id, DS_HASH_LEN) != 0)
		{
			/* made before the counterparty learnt of a rotation of ours */
			const DsKey *k = ds_keyring_find(ds_keyring_load(), my_kid);

			if (k == NULL)
				return (*why = psprintf("contract %s pins a key for this node that is not one of its keys",
										ds_uuid_text(c.id))), NULL;
			memcpy(my_pk, k->public_key, DS_PUBKEY_LEN);
			stale_pin = true;
		}
		if (ds_spi_exec("SELECT public_key FROM dataspace.participant"
						" WHERE node_id OPERATOR(pg_catalog.=) $1"
						" AND status OPERATOR(pg_catalog.=) 'approved'",
						1, types, args, NULL, true, -1) != 1)
			return (*why = psprintf("participant %s is not an approved participant known to this node",
									ds_uuid_text(other_id))), NULL;
		ds_spi_get_bytes(0, 1, pk, DS_PUBKEY_LEN);
		if (!ds_key_id(ds_backend_hasher(), pk, kid) || memcmp(kid, other_kid, DS_HASH_LEN) != 0)
			return (*why = psprintf("the key this node holds for participant %s is not the one contract %s pins",
									ds_uuid_text(other_id), ds_uuid_text(c.id))), NULL;
		memcpy(other_pk, pk, DS_PUBKEY_LEN);
	}

	/*
	 * Only the key the contract pins counts, or a later key of the
	 * counterparty's chain that this node checked itself (step_key): a hub
	 * that shows another key for the counterparty cannot sign for it.  Say
	 * which keys are involved, so that a substitution is recognisable.
	 */
	if (!ds_ed25519_verify(pk, msg, msglen, sig))
	{
		const char *role = me_provider ? "consumer" : "provider";

		if (!row.found && memcmp(st.actor_key_id, other_kid, DS_HASH_LEN) != 0)
			*why = psprintf("the step names key %s, but contract %s pins key %s for its %s;"
							" the step's signature does not verify under the pinned key",
							ds_hex(st.actor_key_id, DS_HASH_LEN), ds_uuid_text(c.id),
							ds_hex(other_kid, DS_HASH_LEN), role);
		else
			*why = psprintf("the step's signature does not verify under key %s, %s contract %s pins for its %s",
							ds_hex(st.actor_key_id, DS_HASH_LEN),
							memcmp(st.actor_key_id, other_kid, DS_HASH_LEN) == 0 ?
							"which" : "a later key of the one", ds_uuid_text(c.id), role);
		return NULL;
	}
	if (row.found && st.step_no <= row.last_step_no)
	{
		/*
		 * A step this node has: harmless if it is the very same one.  Read
		 * read-write, so as to see the steps this transaction stored.
		 */
		Datum		args[2] = {ds_uuid_datum(c.id), Int64GetDatum(st.step_no)};
		Oid			types[2] = {UUIDOID, INT8OID};
		uint8		have[DS_HASH_LEN];
		uint8		got[DS_HASH_LEN];

		if (ds_spi_exec("SELECT step_hash FROM dataspace.contract_step"
						" WHERE contract_id OPERATOR(pg_catalog.=) $1 AND step_no OPERATOR(pg_catalog.=) $2"
						" AND superseded_at IS NULL",
						2, types, args, NULL, false, -1) == 1 &&
			spi_fixed_or_null(0, 1, have, DS_HASH_LEN) &&
			ds_sha256(ds_backend_hasher(), msg, msglen, got) &&
			memcmp(have, got, DS_HASH_LEN) == 0)
			return pstrdup(row.state);
		/* another step at a number this node used: a crossing, in the hub's order */
		if (hub_order)
		{
			*why = plan_reconciliation(&row, &st, me_provider, &rc);
			if (*why)
				return NULL;
			reconciling = true;
		}
	}
	*why = check_step(canonical, clen, &c, msg, msglen, sig, &st, pk,
					  &row, &t, &by_provider);
	if (*why)
		return NULL;
	if (!ds_sha256(ds_backend_hasher(), msg, msglen, step_hash))
		elog(ERROR, "could not hash a contract step");
	if (!row.found)
		store_new_contract(canonical, clen, &c,
						   me_provider ? my_pk : other_pk,
						   me_provider ? other_pk : my_pk,
						   &st, t->to, step_hash);
	if (reconciling)
		apply_reconciliation(&row, &rc, me_provider, &st, step_hash);
	store_step(&c, &st, row.found ? row.state : "", t->to, msg, msglen, sig, step_hash,
			   "received", NULL, by_provider);
	if (stale_pin)
		return reject_stale_pin(signer, canonical, clen, &c, me_provider, &st, step_hash, t->to);
	if (reconciling)
		return follow_reconciliation(signer, &row, &rc, me_provider, &st, step_hash, t->to);

	/* the next step may be this node's to take by itself */
	if (row.found)
	{
		char	   *next = take_automatic_step(signer, &row, me_provider, &st, step_hash, t->to);

		if (next != NULL)
			return next;
	}
	return pstrdup(t->to);
}

/*
 * dataspace.receive_contract_step(contract bytea, step bytea, signature bytea)
 *		returns text
 *		Apply a step of the counterparty delivered by other means than the
 *		hub-sync worker; it is checked exactly as the worker checks it.
 */
Datum
dataspace_receive_contract_step(PG_FUNCTION_ARGS)
{
	bytea	   *cb = PG_GETARG_BYTEA_PP(0);
	bytea	   *mb = PG_GETARG_BYTEA_PP(1);
	bytea	   *sb = PG_GETARG_BYTEA_PP(2);
	char	   *why;
	char	   *state;
	text	   *result;

	require_node("dataspace.receive_contract_step()");
	if (VARSIZE_ANY_EXHDR(sb) != DS_SIG_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a step signature is %d bytes", DS_SIG_LEN)));
	SPI_connect();
	state = ds_contract_receive((const uint8 *) VARDATA_ANY(cb), VARSIZE_ANY_EXHDR(cb),
								(const uint8 *) VARDATA_ANY(mb), VARSIZE_ANY_EXHDR(mb),
								(const uint8 *) VARDATA_ANY(sb), false, &why);
	if (state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("contract step refused"),
				 errdetail("%c%s.", pg_toupper((unsigned char) why[0]), why + 1)));
	result = (text *) SPI_palloc(VARHDRSZ + strlen(state));
	SET_VARSIZE(result, VARHDRSZ + strlen(state));
	memcpy(VARDATA(result), state, strlen(state));
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/* ---------------------------------------------------------------------
 * The hub's contract_step submissions
 * ---------------------------------------------------------------------
 */

static bool
hex_member(const char *payload, const char *member, uint8 **out, size_t *len)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(payload), CStringGetTextDatum(member)};
	bool		isnull;
	char	   *hex;
	size_t		n;

	ds_spi_exec("SELECT $1::jsonb OPERATOR(pg_catalog.->>) $2", 2, types, args, NULL, true, 1);
	{
		Datum		d = ds_spi_get(0, 1, &isnull);

		if (isnull)
			return false;
		hex = TextDatumGetCString(d);
	}
	n = strlen(hex);
	if (n % 2 != 0 || n == 0)
		return false;
	*len = n / 2;
	*out = palloc(*len);
	return ds_hex_decode(hex, n, *out, *len);
}

/*
 * A party as the hub knows it: approved (unless any_standing), with its
 * registered key (pk, kid); the key the contract pins must be that key or
 * an earlier one of the party's (it rotated since).  Read with a new
 * snapshot: the caller may have waited for the participant's row lock
 * behind a rotation.
 */
static char *
hub_party_key(const uint8 id[DS_UUID_LEN], const uint8 pinned[DS_HASH_LEN],
			  const char *role, bool any_standing, uint8 pk[DS_PUBKEY_LEN],
			  uint8 kid[DS_HASH_LEN])
{
	Datum		args[2] = {ds_uuid_datum(id), ds_bytea_datum(pinned, DS_HASH_LEN)};
	Oid			types[2] = {UUIDOID, BYTEAOID};
	bool		isnull;
	char	   *status;

	if (ds_spi_exec("SELECT p.public_key, p.key_id, p.status, EXISTS (SELECT FROM dataspace.participant_key k"
					"  WHERE k.node_id OPERATOR(pg_catalog.=) p.node_id AND k.key_id OPERATOR(pg_catalog.=) $2)"
					" FROM dataspace.participant p WHERE p.node_id OPERATOR(pg_catalog.=) $1",
					2, types, args, NULL, false, -1) != 1)
		return psprintf("the contract's %s %s is not a participant", role, ds_uuid_text(id));
	ds_spi_get_bytes(0, 1, pk, DS_PUBKEY_LEN);
	ds_spi_get_bytes(0, 2, kid, DS_HASH_LEN);
	status = TextDatumGetCString(ds_spi_get(0, 3, &isnull));
	if (!any_standing && strcmp(status, "approved") != 0)
		return psprintf("the contract's %s %s is %s", role, ds_uuid_text(id), status);
	if (memcmp(kid, pinned, DS_HASH_LEN) != 0 && !ds_spi_getbool(0, 4, &isnull))
		return psprintf("the contract pins a key for its %s that is not one of its keys", role);
	return NULL;
}

/*
 * ds_hub_contract_step
 *		The hub's check of a contract_step submission whose signature and
 *		counter hub_submit has checked: the step must be signed by the
 *		submitter, a party of the contract, with its registered key (the
 *		pinned one or, after a rotation, a later one: step_key), each
 *		party's pinned key must be one of its keys, the other party must be
 *		approved unless the step only withdraws, and the step must be legal
 *		for that party and follow the last one.  Then the contract and the
 *		step are stored (never any data point).  Returns NULL, or why it is
 *		refused.
 */
char *
ds_hub_contract_step(const uint8 submitter[DS_UUID_LEN], const char *payload)
{
	uint8	   *canonical;
	size_t		clen;
	uint8	   *msg;
	size_t		msglen;
	uint8	   *sig;
	size_t		siglen;
	ds_contract c;
	ds_contract_step st;
	ContractRow row;
	uint8		ppk[DS_PUBKEY_LEN];
	uint8		cpk[DS_PUBKEY_LEN];
	uint8		pkid[DS_HASH_LEN];
	uint8		ckid[DS_HASH_LEN];
	uint8		actor_pk[DS_PUBKEY_LEN];
	char	   *why;
	const ds_transition *t;
	bool		by_provider;
	bool		withdraws;
	uint8		step_hash[DS_HASH_LEN];

	if (!hex_member(payload, "contract", &canonical, &clen) ||
		!hex_member(payload, "step", &msg, &msglen) ||
		!hex_member(payload, "signature", &sig, &siglen) || siglen != DS_SIG_LEN)
		return pstrdup("contract step payload lacks contract, step or signature");
	if (!ds_contract_decode(canonical, clen, &c))
		return pstrdup("malformed contract");
	if (!ds_contract_step_decode(msg, msglen, &st))
		return pstrdup("malformed contract step");
	if (memcmp(st.actor_id, submitter, DS_UUID_LEN) != 0)
		return psprintf("the step is signed by participant %s, not by the submitter",
						ds_uuid_text(st.actor_id));
	by_provider = memcmp(st.actor_id, c.provider_id, DS_UUID_LEN) == 0;

	/*
	 * The actor is approved: hub_submit took its submission.  The other
	 * party must be too, except for a step that only takes rights away,
	 * such as revoking the contract of a participant the hub suspended.
	 */
	withdraws = ds_contract_step_withdraws(st.step);
	if ((why = hub_party_key(c.provider_id, c.provider_key_id, "provider",
							 withdraws && !by_provider, ppk, pkid)) != NULL ||
		(why = hub_party_key(c.consumer_id, c.consumer_key_id, "consumer",
							 withdraws && by_provider, cpk, ckid)) != NULL)
		return why;

	/*
	 * A party signs with its registered key: the pinned one, or after a
	 * rotation a later key of its chain (step_key), never a retired one.
	 */
	if (memcmp(st.actor_key_id, by_provider ? pkid : ckid, DS_HASH_LEN) != 0)
		return psprintf("the step is signed with key %s, not the %s's registered key",
						ds_hex(st.actor_key_id, DS_HASH_LEN), by_provider ? "provider" : "consumer");
	if ((why = step_key(st.actor_id, by_provider ? c.provider_key_id : c.consumer_key_id,
						by_provider ? ppk : cpk, &st, actor_pk)) != NULL)
		return why;
	load_contract(c.id, true, false, &row);
	why = check_step(canonical, clen, &c, msg, msglen, sig, &st, actor_pk,
					 &row, &t, &by_provider);
	if (why)
		return why;
	if (!ds_sha256(ds_backend_hasher(), msg, msglen, step_hash))
		elog(ERROR, "could not hash a contract step");
	if (!row.found)
		store_new_contract(canonical, clen, &c, ppk, cpk, &st, t->to, step_hash);
	store_step(&c, &st, row.found ? row.state : "", t->to, msg, msglen, sig, step_hash,
			   "received", NULL, by_provider);
	ereport(LOG,
			(errmsg("contract %s: step " INT64_FORMAT " (%s) by %s, now %s",
					ds_uuid_text(c.id), st.step_no, st.step, ds_uuid_text(st.actor_id), t->to)));
	return NULL;
}

/* ---------------------------------------------------------------------
 * Decisions: contract_allows, explain_policy(contract, ...)
 * ---------------------------------------------------------------------
 */

/* What one call site keeps between rows: the last contract it judged. */
typedef struct DecisionCache
{
	pg_uuid_t	id;
	bool		found;
	char	   *broken;			/* why the contract cannot be trusted, or NULL */
	char	   *state;
	ds_contract c;
	uint8	   *canonical;
	ds_policy	policy;
} DecisionCache;

static DecisionCache *
decision_load(FunctionCallInfo fcinfo, pg_uuid_t *id)
{
	DecisionCache *dc = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	ContractRow row;

	if (dc != NULL && memcmp(dc->id.data, id->data, UUID_LEN) == 0)
		return dc;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (dc == NULL)
		dc = fcinfo->flinfo->fn_extra = palloc0(sizeof(DecisionCache));
	memset(dc, 0, sizeof(*dc));
	MemoryContextSwitchTo(old);

	SPI_connect();
	load_contract(id->data, false, true, &row);
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	dc->found = row.found;
	if (row.found)
	{
		const char *why = verify_contract_row(&row);
		char		pwhy[256];

		dc->state = pstrdup(row.state);
		if (why)
			dc->broken = pstrdup(why);
		else
		{
			dc->canonical = palloc(row.canonical_len);
			memcpy(dc->canonical, row.canonical, row.canonical_len);
			if (!ds_contract_decode(dc->canonical, row.canonical_len, &dc->c))
				dc->broken = pstrdup("its signed bytes do not decode");
			else if (!ds_policy_parse(dc->c.policy, dc->c.policy_len, &dc->policy, pwhy, sizeof(pwhy)))
				dc->broken = psprintf("its signed policy does not read: %s", pwhy);
		}
	}
	memcpy(dc->id.data, id->data, UUID_LEN);
	MemoryContextSwitchTo(old);
	SPI_finish();
	return dc;
}

/*
 * decide
 *		The verdict on one point of one asset at one time: NULL when allowed,
 *		else the reason.  Fills explain (if given) with the line per check.
 */
static char *
decide(DecisionCache *dc, pg_uuid_t *id, pg_uuid_t *asset, int64 ts, int64 at,
	   StringInfo explain)
{
	bool		in = false;
	ds_policy_verdict v;

	if (!dc->found)
		return psprintf("contract %s does not exist on this node", ds_uuid_text(id->data));
	if (dc->broken)
		return psprintf("the contract does not verify: %s", dc->broken);
	if (explain)
		appendStringInfo(explain, "\nsignatures: provider and consumer signatures and the last step verify"
						 "\nstate: %s", dc->state);
	if (strcmp(dc->state, "active") != 0)
	{
		if (strcmp(dc->state, "suspended") == 0 || strcmp(dc->state, "revoked") == 0)
			return psprintf("the contract is %s", dc->state);
		return psprintf("the contract is not active (state %s)", dc->state);
	}
	for (int i = 0; i < dc->c.nassets; i++)
		if (memcmp(dc->c.assets + i * DS_UUID_LEN, asset->data, DS_UUID_LEN) == 0)
			in = true;
	if (explain)
		appendStringInfo(explain, "\nasset: %s %s the contract", ds_uuid_text(asset->data),
						 in ? "is in" : "is not in");
	if (!in)
		return psprintf("asset %s is not in the contract", ds_uuid_text(asset->data));
	if (explain)
		appendStringInfo(explain, "\ncontract validity: from %s until %s",
						 ts_text(dc->c.valid_from), ts_text(dc->c.valid_until));
	if (at < dc->c.valid_from)
		return pstrdup("the contract is not valid yet");
	if (at >= dc->c.valid_until)
		return psprintf("the contract expired at %s", ts_text(dc->c.valid_until));
	v = ds_policy_decide(&dc->policy, ts, at);
	if (v != DS_POLICY_ALLOWED)
		return pstrdup(ds_policy_verdict_text(v) + strlen("denied: "));
	return NULL;
}

static int64
instant(TimestampTz t, const char *name)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite timestamp", name)));
	return ds_ts_to_unix_us(t);
}

/*
 * dataspace.contract_allows(contract uuid, asset uuid, ts timestamptz,
 *							 at timestamptz DEFAULT now()) returns boolean
 *		May a point of asset stamped ts be used at time at under this
 *		contract?  The stateless terms only (purpose and volume are checked
 *		where data leaves the provider), so usable in row-level security.
 */
Datum
dataspace_contract_allows(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	pg_uuid_t  *asset = PG_GETARG_UUID_P(1);
	int64		ts = instant(PG_GETARG_TIMESTAMPTZ(2), "ts");
	int64		at = instant(PG_GETARG_TIMESTAMPTZ(3), "at");
	DecisionCache *dc = decision_load(fcinfo, id);

	PG_RETURN_BOOL(decide(dc, id, asset, ts, at, NULL) == NULL);
}

/*
 * dataspace.explain_policy(contract uuid, asset uuid, ts timestamptz,
 *							at timestamptz DEFAULT now()) returns text
 *		The verdict on the first line ("allowed" or "denied: " and why),
 *		then what was checked, then the policy term by term.
 */
Datum
dataspace_explain_contract(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	pg_uuid_t  *asset = PG_GETARG_UUID_P(1);
	int64		ts = instant(PG_GETARG_TIMESTAMPTZ(2), "ts");
	int64		at = instant(PG_GETARG_TIMESTAMPTZ(3), "at");
	DecisionCache *dc = decision_load(fcinfo, id);
	StringInfoData lines;
	StringInfoData out;
	char	   *why;

	initStringInfo(&lines);
	why = decide(dc, id, asset, ts, at, &lines);
	initStringInfo(&out);
	appendStringInfo(&out, "%s%s%s", why ? "denied: " : "allowed", why ? why : "", lines.data);
	if (dc->found && dc->broken == NULL)
	{
		char	   *text = palloc(DS_POLICY_TEXT_MAX);
		char	   *nl;

		if (ds_policy_explain(&dc->policy, ts, at, text, DS_POLICY_TEXT_MAX) == 0)
			elog(ERROR, "could not explain a policy");
		/* the policy's own lines, without its verdict line */
		nl = strchr(text, '\n');
		appendStringInfo(&out, "\npolicy: %s%s", ds_policy_verdict_text(ds_policy_decide(&dc->policy, ts, at)),
						 nl ? nl : "");
	}
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}

/*
 * ds_contract_terms_load
 *		The verified terms of a stored contract for replication: NULL if
 *		the contract exists and verifies (signatures, pinned keys, last
 *		step), else why not.  The caller is connected to SPI; out is
 *		allocated in the current memory context.
 */
const char *
ds_contract_terms_load(const uint8 id[DS_UUID_LEN], DsContractTerms *out)
{
	ContractRow row;
	const char *why;
	char		pwhy[256];

	memset(out, 0, sizeof(*out));
	load_contract(id, false, true, &row);
	if (!row.found)
		return psprintf("contract %s does not exist on this node", ds_uuid_text(id));
	why = verify_contract_row(&row);
	if (why)
		return psprintf("contract %s does not verify: %s", ds_uuid_text(id), why);
	if (!ds_policy_parse(row.c.policy, row.c.policy_len, &out->policy, pwhy, sizeof(pwhy)))
		return psprintf("the signed policy of contract %s does not read: %s",
						ds_uuid_text(id), pwhy);
	memcpy(out->id, row.c.id, DS_UUID_LEN);
	memcpy(out->provider_id, row.c.provider_id, DS_UUID_LEN);
	memcpy(out->consumer_id, row.c.consumer_id, DS_UUID_LEN);
	memcpy(out->provider_pk, row.provider_pk, DS_PUBKEY_LEN);
	memcpy(out->consumer_pk, row.consumer_pk, DS_PUBKEY_LEN);
	memcpy(out->provider_key_id, row.c.provider_key_id, DS_HASH_LEN);
	memcpy(out->consumer_key_id, row.c.consumer_key_id, DS_HASH_LEN);
	out->nassets = row.c.nassets;
	out->assets = palloc(row.c.nassets * DS_UUID_LEN);
	memcpy(out->assets, row.c.assets, row.c.nassets * DS_UUID_LEN);
	out->valid_from = row.c.valid_from;
	out->valid_until = row.c.valid_until;
	out->state = row.state;
	return NULL;
}

/*
 * ds_contract_terms_check
 *		May the terms be used now for this asset: NULL if so, else why not
 *		(state, asset, validity of the contract and of its policy).
 */
const char *
ds_contract_terms_check(const DsContractTerms *t, const uint8 asset[DS_UUID_LEN], int64 now)
{
	bool		in = false;

	if (strcmp(t->state, "active") != 0)
		return psprintf("contract %s is %s", ds_uuid_text(t->id), t->state);
	for (int i = 0; i < t->nassets; i++)
		if (memcmp(t->assets + i * DS_UUID_LEN, asset, DS_UUID_LEN) == 0)
			in = true;
	if (!in)
		return psprintf("asset %s is not in contract %s", ds_uuid_text(asset), ds_uuid_text(t->id));
	if (now < t->valid_from)
		return psprintf("contract %s is not valid yet", ds_uuid_text(t->id));
	if (now >= t->valid_until)
		return psprintf("contract %s expired at %s", ds_uuid_text(t->id), ts_text(t->valid_until));
	if (t->policy.has_validity && t->policy.validity.has_from && now < t->policy.validity.from)
		return psprintf("the policy of contract %s is not valid yet", ds_uuid_text(t->id));
	if (t->policy.has_validity && t->policy.validity.has_until && now >= t->policy.validity.until)
		return psprintf("the policy of contract %s expired", ds_uuid_text(t->id));
	return NULL;
}
