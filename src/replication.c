/*-------------------------------------------------------------------------
 *
 * replication.c
 *		The consumer side of peer replication: the replication worker
 *		(docs/replication.md).
 *
 * One worker per node, in dataspace.database, serves every stream: each
 * asset of each active contract in which this node is the consumer.  It
 * keeps one connection per provider (the endpoint the provider published
 * at the hub, cached in dataspace.participant, plus this node's login
 * options from dataspace.provider_login), over TLS only, and LISTENs on
 * it for the provider's sealer, which notifies once per round that sealed
 * something.  For each stream it answers the provider's challenge once
 * per connection and contract, then pulls batches after its cursor.
 *
 * Each batch is verified completely before anything is stored: every
 * seal's signature under the provider key the contract pins, its chain
 * link to the last seal stored, its Merkle root recomputed from the
 * points received and the blinded hashes of the withheld ones, and every
 * point against the contract's policy.  Points, seals and the cursor are
 * then written in one transaction, so a crash loses nothing and doubles
 * nothing.  A batch that does not verify stops its stream (state
 * 'stopped', the seal named in last_error); the other streams go on.
 *
 * In the same transaction as a batch the worker signs a delivery receipt
 * for it (the seals by chain position and hash, the points stored) and
 * queues it in dataspace.receipt_outbox; it hands queued receipts to the
 * provider at the start of the stream's next turn and after the batches
 * of this one.  A crash between the commit and the sending leaves the
 * receipt queued, and it is sent after the restart.
 *
 * Every wait is on the latch and the sockets: SIGTERM, SIGHUP and DROP
 * DATABASE are answered at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "contract.h"
#include "dbworker.h"
#include "keys.h"
#include "gossip.h"
#include "pg_dataspace.h"
#include "purpose.h"
#include "remote.h"
#include "replmsg.h"
#include "submission.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_received_write_trigger);
PGDLLEXPORT void dataspace_replication_main(Datum main_arg);

#define REMOTE_TIMEOUT_MS	60000
#define MAX_PEERS			64
#define MAX_PEER_CONTRACTS	64
#define MAX_BATCHES_PER_ROUND 20
#define MAX_BACKOFF_MS		30000
#define NOTIFIED_ROUND_MS	100

/* Set while the worker stores received rows; the write trigger checks it. */
static bool storing_received = false;

/* The last outbox row handed to the provider in this turn. */
static int64 receipt_after = 0;

#define MAX_RECEIPTS_PER_TURN 1000

/* A provider and the connection to it. */
typedef struct Peer
{
	uint8		provider[DS_UUID_LEN];
	char		name[64];		/* "provider <uuid>", for messages */
	PGconn	   *conn;
	int			nauth;
	uint8		auth[MAX_PEER_CONTRACTS][DS_UUID_LEN];
	char		auth_purpose[MAX_PEER_CONTRACTS][DS_POLICY_PURPOSE_LEN + 1];
	int64		heads_sent;		/* tree size last exchanged; -1: not yet */
	TimestampTz retry_at;
	long		backoff_ms;
} Peer;

static Peer peers[MAX_PEERS];
static int	npeers = 0;

/* One stream of a round. */
typedef struct Stream
{
	uint8		contract[DS_UUID_LEN];
	uint8		provider[DS_UUID_LEN];
	uint8		asset[DS_UUID_LEN];
	char	   *endpoint;
	char	   *options;
	bool		receipts_only;	/* the contract ended with receipts unsent */
} Stream;

/* A seal of a batch, decoded and verified. */
typedef struct InSeal
{
	int64		provider_seal_id;
	ds_seal		s;
	uint8		signature[DS_SIG_LEN];
	uint8		hash[DS_HASH_LEN];
	int64		delivered;
	StringInfoData withheld;
} InSeal;

/* ---------------------------------------------------------------------
 * The write guard of received data
 * ---------------------------------------------------------------------
 */

/*
 * dataspace.received_write_trigger()
 *		Statement trigger on received_point and received_seal: only the
 *		replication worker inserts, nobody updates, deletes or truncates.
 *
 * A superuser may insert too: that is how pg_restore brings received data
 * back.  It grants nothing a superuser lacks (session_replication_role
 * would silence this trigger anyway), and verify_asset checks every
 * received row against a seal only the provider's key can sign.
 */
Datum
dataspace_received_write_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not called as a trigger");
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) || !(storing_received || superuser()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("received data is written by the replication worker only"),
				 errdetail("Table \"%s\" holds what providers sent, verified against their seals.",
						   RelationGetRelationName(td->tg_relation))));
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * Connections
 * ---------------------------------------------------------------------
 */

static Peer *
find_peer(const uint8 provider[DS_UUID_LEN])
{
	for (int i = 0; i < npeers; i++)
		if (memcmp(peers[i].provider, provider, DS_UUID_LEN) == 0)
			return &peers[i];
	if (npeers == MAX_PEERS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many providers for one replication worker"),
				 errdetail("The worker serves at most %d providers.", MAX_PEERS)));
	memset(&peers[npeers], 0, sizeof(Peer));
	peers[npeers].heads_sent = -1;
	memcpy(peers[npeers].provider, provider, DS_UUID_LEN);
	snprintf(peers[npeers].name, sizeof(peers[npeers].name), "provider %s",
			 ds_uuid_text(provider));
	return &peers[npeers++];
}

static void
drop_peer(Peer *p)
{
	if (p->conn)
		ds_remote_finish(p->conn);
	p->conn = NULL;
	p->nauth = 0;
	p->heads_sent = -1;
}

/*
 * add_conninfo
 *		Append the options of a connection string to keys/vals, refusing a
 *		password (it belongs in a password file).
 */
static int
add_conninfo(const char *conninfo, const char *what, const char **keys,
			 const char **vals, int n, int max)
{
	char	   *err = NULL;
	PQconninfoOption *opts;

	if (conninfo == NULL || conninfo[0] == '\0')
		return n;
	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL)
	{
		char	   *msg = pstrdup(err ? pchomp(err) : "out of memory");

		if (err)
			PQfreemem(err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not a valid connection string", what),
				 errdetail_internal("%s", msg)));
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
		{
			PQconninfoFree(opts);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not hold a password", what),
					 errhint("Use a password file (passfile) or a client certificate.")));
		}
		if (n < max - 1)
		{
			keys[n] = pstrdup(o->keyword);
			vals[n] = pstrdup(o->val);
			n++;
		}
	}
	PQconninfoFree(opts);
	return n;
}

/*
 * connect_peer
 *		Connect to the provider over TLS, and listen for its sealer.
 */
static void
connect_peer(Peer *p, const Stream *s)
{
	const char *keys[64];
	const char *vals[64];
	int			n = 0;
	bool		has_sslmode = false;
	PGresult   *r;

	if (s->endpoint == NULL || s->endpoint[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("%s has published no endpoint", p->name),
				 errhint("The provider sets dataspace.endpoint; the hub-sync worker caches it.")));
	n = add_conninfo(s->endpoint, "the provider's endpoint", keys, vals, n, 60);
	n = add_conninfo(s->options, "dataspace.provider_login.options", keys, vals, n, 60);
	for (int i = 0; i < n; i++)
		if (strcmp(keys[i], "sslmode") == 0)
		{
			has_sslmode = strcmp(vals[i], "require") == 0 ||
				strcmp(vals[i], "verify-ca") == 0 || strcmp(vals[i], "verify-full") == 0;
			if (!has_sslmode)
				vals[i] = "require";
			has_sslmode = true;
		}
	if (!has_sslmode)
	{
		keys[n] = "sslmode";
		vals[n++] = "require";
	}
	keys[n] = "application_name";
	vals[n++] = "pg_dataspace replication";
	keys[n] = "connect_timeout";
	vals[n++] = "30";
	keys[n] = NULL;
	vals[n] = NULL;

	drop_peer(p);
	p->conn = ds_remote_connect(keys, vals, p->name, REMOTE_TIMEOUT_MS);
	if (!PQsslInUse(p->conn))
	{
		drop_peer(p);
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("the connection to %s does not use TLS", p->name)));
	}
	r = ds_remote_exec(p->conn, p->name, "LISTEN " DS_NOTIFY_CHANNEL, 0, NULL, NULL,
					   PGRES_COMMAND_OK, REMOTE_TIMEOUT_MS);
	PQclear(r);
}

/*
 * authenticate
 *		Answer the provider's challenge for one contract, once per
 *		connection and declared purpose.  The provider must name itself as
 *		the contract's provider; the answer is signed here and nowhere
 *		else.  The purpose sent is the one this node declared
 *		(dataspace.declare_purpose), checked against the policy by the
 *		provider, which refuses the export otherwise.
 */
static void
authenticate(Peer *p, const DsContractTerms *t)
{
	PGresult   *r;
	uint8		provider[DS_UUID_LEN];
	uint8		nonce[DS_EXPORT_NONCE_LEN];
	uint8		msg[DS_EXPORT_AUTH_MAX];
	uint8		sig[DS_SIG_LEN];
	size_t		len = 0;
	DsSigner   *signer;
	char	   *purpose = ds_purpose_declared(t->id);
	const char *values[3];
	int			lengths[3];
	int			slot;

	for (slot = 0; slot < p->nauth; slot++)
		if (memcmp(p->auth[slot], t->id, DS_UUID_LEN) == 0)
		{
			if (strcmp(p->auth_purpose[slot], purpose ? purpose : "") == 0)
				return;
			break;				/* declared anew: answer again */
		}
	r = ds_remote_exec(p->conn, p->name,
					   "SELECT provider_id, nonce FROM dataspace.export_challenge()",
					   0, NULL, NULL, PGRES_TUPLES_OK, REMOTE_TIMEOUT_MS);
	if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != DS_UUID_LEN ||
		PQgetlength(r, 0, 1) != DS_EXPORT_NONCE_LEN)
	{
		PQclear(r);
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("%s sent a malformed challenge", p->name)));
	}
	memcpy(provider, PQgetvalue(r, 0, 0), DS_UUID_LEN);
	memcpy(nonce, PQgetvalue(r, 0, 1), DS_EXPORT_NONCE_LEN);
	PQclear(r);
	if (memcmp(provider, t->provider_id, DS_UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the endpoint of %s is served by node %s", p->name, ds_uuid_text(provider)),
				 errdetail("The challenge must come from the contract's provider.")));
	signer = ds_signer_load();
	if (memcmp(signer->node_id, t->consumer_id, DS_UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("this node is not the consumer of contract %s", ds_uuid_text(t->id))));
	if (purpose == NULL || strlen(purpose) <= DS_POLICY_PURPOSE_LEN)
		len = ds_export_auth_message(provider, t->id, t->consumer_id, nonce, purpose,
									 msg, sizeof(msg));
	if (len == 0 || !ds_signer_sign(signer, msg, len, sig))
		elog(ERROR, "could not sign the answer to a challenge");
	values[0] = (const char *) t->id;
	lengths[0] = DS_UUID_LEN;
	values[1] = (const char *) sig;
	lengths[1] = DS_SIG_LEN;
	values[2] = purpose;
	lengths[2] = purpose ? (int) strlen(purpose) : 0;
	r = ds_remote_exec(p->conn, p->name,
					   "SELECT dataspace.export_authenticate($1::uuid, $2::bytea, $3::text)",
					   3, values, lengths, PGRES_TUPLES_OK, REMOTE_TIMEOUT_MS);
	PQclear(r);
	if (slot == p->nauth && p->nauth < MAX_PEER_CONTRACTS)
		p->nauth++;
	if (slot < p->nauth)
	{
		memcpy(p->auth[slot], t->id, DS_UUID_LEN);
		strlcpy(p->auth_purpose[slot], purpose ? purpose : "", sizeof(p->auth_purpose[slot]));
	}
}

/*
 * exchange_heads
 *		Hand the provider this node's newest signed tree head of the hub's
 *		anchor log and check the one it hands back (src/gossip.c): once per
 *		connection, whenever this node's head moved, and whenever the
 *		provider notified that its own head moved (drain_notifications).
 *		What the provider sends is checked as any peer's head; one that is
 *		not a head of this node's hub is reported, never a reason to stop
 *		the stream.
 */
static void
exchange_heads(Peer *p, const DsContractTerms *t)
{
	bytea	   *msg = NULL;
	bytea	   *sig = NULL;
	int64		size = 0;
	const char *values[2] = {NULL, NULL};
	int			lengths[2] = {0, 0};
	PGresult   *r;

	if (ds_gossip_newest(&msg, &sig, &size))
	{
		values[0] = VARDATA_ANY(msg);
		lengths[0] = VARSIZE_ANY_EXHDR(msg);
		values[1] = VARDATA_ANY(sig);
		lengths[1] = VARSIZE_ANY_EXHDR(sig);
	}
	if (p->heads_sent == size)
		return;
	r = ds_remote_exec(p->conn, p->name,
					   "SELECT message, signature, verdict FROM dataspace.exchange_tree_heads($1::bytea, $2::bytea)",
					   2, values, lengths, PGRES_TUPLES_OK, REMOTE_TIMEOUT_MS);
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && !PQgetisnull(r, 0, 1))
	{
		const char *reason;
		int64		theirs;
		ds_head_verdict v;

		v = ds_gossip_receive(t->provider_id, (const uint8 *) PQgetvalue(r, 0, 0),
							  PQgetlength(r, 0, 0), (const uint8 *) PQgetvalue(r, 0, 1),
							  PQgetlength(r, 0, 1), &reason, &theirs);
		if (v == DS_HEAD_BAD)
			ereport(WARNING,
					(errmsg("%s sent a tree head that is not one of this node's hub: %s",
							p->name, reason)));
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 2) &&
		strncmp(PQgetvalue(r, 0, 2), "bad:", 4) == 0)
		ereport(WARNING,
				(errmsg("%s refused this node's tree head: %s", p->name, PQgetvalue(r, 0, 2))));
	PQclear(r);
	p->heads_sent = size;
}

/* ---------------------------------------------------------------------
 * One batch
 * ---------------------------------------------------------------------
 */

static void
refuse_batch(const Peer *p, const uint8 asset[DS_UUID_LEN], int64 seal_id, int64 chain_pos,
			 const char *reason)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("refused seal " INT64_FORMAT " (chain position " INT64_FORMAT ") of asset %s from %s: %s",
					seal_id, chain_pos, ds_uuid_text(asset), p->name, reason),
			 errdetail("Nothing of this batch was stored and the stream is stopped."),
			 errhint("Repair the cause, then call dataspace.restart_subscription('%s').",
					 ds_uuid_text(asset))));
}

static void
malformed(const Peer *p)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("%s sent a malformed batch", p->name),
			 errdetail("Nothing of this batch was stored and the stream is stopped.")));
}

/* Point arrays of a batch, for one INSERT. */
typedef struct PointArrays
{
	int			n;
	int			cap;
	Datum	   *seq;
	Datum	   *ts;
	Datum	   *value;
	Datum	   *nonce;
	Datum	   *chain_pos;
} PointArrays;

static void
points_add(PointArrays *pa, int64 seq, int64 ts_us, double value, const uint8 *nonce,
		   int64 chain_pos)
{
	if (pa->n == pa->cap)
	{
		pa->cap = pa->cap ? pa->cap * 2 : 16384;
		if (pa->seq == NULL)
		{
			pa->seq = palloc(sizeof(Datum) * pa->cap);
			pa->ts = palloc(sizeof(Datum) * pa->cap);
			pa->value = palloc(sizeof(Datum) * pa->cap);
			pa->nonce = palloc(sizeof(Datum) * pa->cap);
			pa->chain_pos = palloc(sizeof(Datum) * pa->cap);
		}
		else
		{
			pa->seq = repalloc(pa->seq, sizeof(Datum) * pa->cap);
			pa->ts = repalloc(pa->ts, sizeof(Datum) * pa->cap);
			pa->value = repalloc(pa->value, sizeof(Datum) * pa->cap);
			pa->nonce = repalloc(pa->nonce, sizeof(Datum) * pa->cap);
			pa->chain_pos = repalloc(pa->chain_pos, sizeof(Datum) * pa->cap);
		}
	}
	pa->seq[pa->n] = Int64GetDatum(seq);
	pa->ts[pa->n] = TimestampTzGetDatum(ds_unix_us_to_ts(ts_us));
	pa->value[pa->n] = Float8GetDatum(value);
	pa->nonce[pa->n] = ds_bytea_datum(nonce, DS_NONCE_LEN);
	pa->chain_pos[pa->n] = Int64GetDatum(chain_pos);
	pa->n++;
}

/*
 * verify_seal_entries
 *		Recompute one seal's root from its entries; NULL if it matches and
 *		every point is inside the seal and allowed by the contract, else the
 *		reason.  Delivered points go to pa, withheld hashes to in->withheld.
 */
static const char *
verify_seal_entries(InSeal *in, const uint8 *e, size_t elen, const DsContractTerms *t,
					int64 now_us, PointArrays *pa)
{
	ds_hasher  *h = ds_backend_hasher();
	ds_merkle	mk;
	uint8		root[DS_HASH_LEN];
	int64		index = 0;
	int64		prev_seq = PG_INT64_MIN;
	ds_seal_span span = {0};
	const uint8 *end = e + elen;

	initStringInfo(&in->withheld);
	in->delivered = 0;
	if (elen == 0)
		return NULL;			/* nothing delivered: signature and chain only */
	ds_merkle_init(&mk);
	while (e < end)
	{
		uint8		leaf[DS_HASH_LEN];

		if (e[0] == DS_ENTRY_POINT && end - e >= DS_ENTRY_POINT_LEN)
		{
			int64		seq = (int64) ds_get_be64(e + 1);
			int64		ts = (int64) ds_get_be64(e + 9);
			uint64		bits = ds_get_be64(e + 17);
			double		value;

			memcpy(&value, &bits, sizeof(value));
			if (seq <= prev_seq || seq < in->s.first_seq || seq > in->s.last_seq ||
				ts < in->s.min_ts_us || ts > in->s.max_ts_us)
				return "point outside its seal";
			if (ds_policy_decide(&t->policy, ts, now_us) != DS_POLICY_ALLOWED)
				return "point outside the contract";
			if (index < in->s.point_count)
				ds_seal_span_add(&span, &in->s, (uint64) index, seq, ts);
			if (!ds_leaf_hash(h, in->s.asset_id, seq, ts, value, e + 25, leaf))
				elog(ERROR, "could not hash a point");
			points_add(pa, seq, ts, value, e + 25, in->s.chain_pos);
			prev_seq = seq;
			in->delivered++;
			e += DS_ENTRY_POINT_LEN;
		}
		else if (e[0] == DS_ENTRY_WITHHELD && end - e >= DS_ENTRY_WITHHELD_LEN)
		{
			uint8		rec[DS_WITHHELD_REC_LEN];

			memcpy(leaf, e + 1, DS_HASH_LEN);
			ds_put_be64(rec, (uint64) index);
			memcpy(rec + 8, leaf, DS_HASH_LEN);
			appendBinaryStringInfo(&in->withheld, (char *) rec, DS_WITHHELD_REC_LEN);
			e += DS_ENTRY_WITHHELD_LEN;
		}
		else
			return "malformed entry";
		if (!ds_merkle_add(h, &mk, leaf))
			elog(ERROR, "could not hash a point");
		index++;
	}
	if (index < in->s.point_count)
		return "point missing";
	if (index > in->s.point_count)
		return "point added";
	if (!ds_merkle_root(h, &mk, root) || memcmp(root, in->s.root, DS_HASH_LEN) != 0)
		return "value changed";
	if (!ds_seal_span_matches(&span, &in->s, in->withheld.len == 0))
		return "range not as signed";
	return NULL;
}

/*
 * store_seal
 *		Insert one verified seal.
 */
static void
store_seal(const InSeal *in, const DsContractTerms *t)
{
	Oid			types[19] = {UUIDOID, UUIDOID, INT8OID, UUIDOID, INT8OID, UUIDOID, INT8OID,
		INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID,
	BYTEAOID, BYTEAOID, BYTEAOID, TIMESTAMPTZOID, BYTEAOID};
	Datum		v[19];

	v[0] = ds_uuid_datum(t->provider_id);
	v[1] = ds_uuid_datum(in->s.asset_id);
	v[2] = Int64GetDatum(in->s.chain_pos);
	v[3] = ds_uuid_datum(t->id);
	v[4] = Int64GetDatum(in->provider_seal_id);
	v[5] = ds_uuid_datum(in->s.node_id);
	v[6] = Int64GetDatum(in->s.first_seq);
	v[7] = Int64GetDatum(in->s.last_seq);
	v[8] = Int64GetDatum(in->s.point_count);
	v[9] = Int64GetDatum(in->delivered);
	v[10] = TimestampTzGetDatum(ds_unix_us_to_ts(in->s.min_ts_us));
	v[11] = TimestampTzGetDatum(ds_unix_us_to_ts(in->s.max_ts_us));
	v[12] = ds_bytea_datum(in->s.root, DS_HASH_LEN);
	v[13] = ds_bytea_datum(in->s.prev_hash, DS_HASH_LEN);
	v[14] = ds_bytea_datum(in->hash, DS_HASH_LEN);
	v[15] = ds_bytea_datum(in->s.key_id, DS_HASH_LEN);
	v[16] = ds_bytea_datum(in->signature, DS_SIG_LEN);
	v[17] = TimestampTzGetDatum(ds_unix_us_to_ts(in->s.sealed_at_us));
	v[18] = ds_bytea_datum((const uint8 *) in->withheld.data, in->withheld.len);
	ds_spi_exec("INSERT INTO dataspace.received_seal (provider_id, asset_id, chain_pos,"
				" contract_id, provider_seal_id, node_id, first_seq, last_seq, point_count,"
				" delivered_count, min_ts, max_ts, merkle_root, prev_hash, seal_hash, key_id,"
				" signature, sealed_at, withheld) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
				" $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
				19, types, v, NULL, false, 1);
}

static Datum
array_of(Datum *elems, int n, Oid type, int len, bool byval, char align)
{
	return PointerGetDatum(construct_array(elems, n, type, len, byval, align));
}

/*
 * queue_receipt
 *		Sign the delivery receipt of a batch being stored and queue it in
 *		the outbox, in the batch's transaction: the receipt exists exactly
 *		when the batch does.
 */
static void
queue_receipt(const DsContractTerms *t, const InSeal *seals, int64 nseals, int64 points)
{
	ds_receipt	rc;
	StringInfoData buf;
	uint8		msg[DS_RECEIPT_MAX];
	uint8		sig[DS_SIG_LEN];
	size_t		len;
	DsSigner   *signer;

	memcpy(rc.contract, t->id, DS_UUID_LEN);
	memcpy(rc.provider, t->provider_id, DS_UUID_LEN);
	memcpy(rc.consumer, t->consumer_id, DS_UUID_LEN);
	memcpy(rc.asset, seals[0].s.asset_id, DS_UUID_LEN);
	rc.first_pos = seals[0].s.chain_pos;
	rc.last_pos = seals[nseals - 1].s.chain_pos;
	initStringInfo(&buf);
	for (int64 i = 0; i < nseals; i++)
	{
		uint8		rec[8 + DS_HASH_LEN];

		ds_put_be64(rec, (uint64) seals[i].s.chain_pos);
		memcpy(rec + 8, seals[i].hash, DS_HASH_LEN);
		appendBinaryStringInfo(&buf, (char *) rec, sizeof(rec));
	}
	if (!ds_sha256(ds_backend_hasher(), buf.data, buf.len, rc.seals_digest))
		elog(ERROR, "could not hash the seals of a receipt");
	memcpy(rc.last_seal_hash, seals[nseals - 1].hash, DS_HASH_LEN);
	rc.points = points;
	rc.received_at_us = ds_ts_to_unix_us(GetCurrentTimestamp());

	signer = ds_signer_load();
	if (memcmp(signer->node_id, t->consumer_id, DS_UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("this node is not the consumer of contract %s", ds_uuid_text(t->id))));
	len = ds_receipt_message(&rc, msg, sizeof(msg));
	if (len == 0 || !ds_signer_sign(signer, msg, len, sig))
		elog(ERROR, "could not sign a delivery receipt");
	ds_spi_exec("INSERT INTO dataspace.receipt_outbox (contract_id, provider_id, asset_id,"
				" first_chain_pos, last_chain_pos, points, receipt, signature)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				8, (Oid[]) {UUIDOID, UUIDOID, UUIDOID, INT8OID, INT8OID, INT8OID, BYTEAOID, BYTEAOID},
				(Datum[]) {ds_uuid_datum(rc.contract), ds_uuid_datum(rc.provider),
					ds_uuid_datum(rc.asset), Int64GetDatum(rc.first_pos),
					Int64GetDatum(rc.last_pos), Int64GetDatum(rc.points),
					ds_bytea_datum(msg, len), ds_bytea_datum(sig, DS_SIG_LEN)},
				NULL, false, 1);
}

/*
 * send_receipt
 *		Hand the stream's oldest queued receipt after receipt_after to the
 *		provider, in the current transaction, and mark it sent once the
 *		provider has kept it.  One receipt per transaction, so that one the
 *		provider refuses does not hold back the others.  Sending one twice
 *		is harmless: the provider keeps the first.  Returns 1 if it sent
 *		one, 0 if none is left.
 */
static int64
send_receipt(Peer *p, const Stream *st, MemoryContext cxt)
{
	DsContractTerms t;
	bool		isnull;
	int64		id;
	bytea	   *msg;
	bytea	   *sig;
	const char *values[3];
	int			lengths[3];
	PGresult   *r;

	if (ds_contract_terms_load(st->contract, &t) != NULL)
		return 0;				/* the pull says why */
	if (ds_spi_exec("SELECT id, receipt, signature FROM dataspace.receipt_outbox"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1"
					" AND asset_id OPERATOR(pg_catalog.=) $2 AND sent_at IS NULL"
					" AND abandoned_at IS NULL AND id OPERATOR(pg_catalog.>) $3"
					" ORDER BY id LIMIT 1 FOR UPDATE",
					3, (Oid[]) {UUIDOID, UUIDOID, INT8OID},
					(Datum[]) {ds_uuid_datum(st->contract), ds_uuid_datum(st->asset),
					Int64GetDatum(receipt_after)},
					NULL, false, -1) == 0)
		return 0;
	id = ds_spi_get_int64(0, 1);
	msg = DatumGetByteaPP(ds_spi_get(0, 2, &isnull));
	sig = DatumGetByteaPP(ds_spi_get(0, 3, &isnull));
	authenticate(p, &t);
	receipt_after = id;
	pgstat_report_activity(STATE_RUNNING, psprintf("sending a receipt of asset %s to %s",
												   ds_uuid_text(st->asset), p->name));
	values[0] = (const char *) st->contract;
	lengths[0] = DS_UUID_LEN;
	values[1] = VARDATA_ANY(msg);
	lengths[1] = VARSIZE_ANY_EXHDR(msg);
	values[2] = VARDATA_ANY(sig);
	lengths[2] = VARSIZE_ANY_EXHDR(sig);
	r = ds_remote_exec(p->conn, p->name,
					   "SELECT dataspace.export_receipt($1::uuid, $2::bytea, $3::bytea)",
					   3, values, lengths, PGRES_TUPLES_OK, REMOTE_TIMEOUT_MS);
	PQclear(r);
	ds_spi_exec("UPDATE dataspace.receipt_outbox SET sent_at = pg_catalog.now(),"
				" attempts = attempts OPERATOR(pg_catalog.+) 1, last_error = NULL"
				" WHERE id OPERATOR(pg_catalog.=) $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL, false, 1);
	return 1;
}

/*
 * pull_batch
 *		Fetch, verify and store one batch of one stream, in the current
 *		transaction; returns the number of seals stored.
 */
static int64
pull_batch(Peer *p, const Stream *st, MemoryContext batch_cxt)
{
	int64		now_us = ds_ts_to_unix_us(GetCurrentTimestamp());
	DsContractTerms t;
	const char *why;
	DsNode		node;
	int64		cursor;
	uint8		cur_hash[DS_HASH_LEN];
	int64		cursor_be;
	const char *values[5];
	int			lengths[5];
	int32		maxp_be;
	int32		maxb_be;
	PGresult   *r;
	ds_msg_reader mr;
	uint8		provider[DS_UUID_LEN];
	uint8		asset[DS_UUID_LEN];
	int64		nseals;
	int64		rem_seals;
	int64		rem_points;
	int64		oldest_us;
	InSeal	   *seals;
	PointArrays pa;
	int64		points = 0;
	bool		isnull;

	memset(&pa, 0, sizeof(pa));
	if (!ds_node_load(&node))
		return 0;
	why = ds_contract_terms_load(st->contract, &t);
	if (why == NULL && memcmp(t.consumer_id, node.node_id, DS_UUID_LEN) != 0)
		why = "this node is not its consumer";
	if (why == NULL)
		why = ds_contract_terms_check(&t, st->asset, now_us);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the stream of asset %s cannot run", ds_uuid_text(st->asset)),
				 errdetail("%s", why)));
	if (ds_spi_exec("SELECT 1 FROM dataspace.asset WHERE id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(st->asset)},
					NULL, true, -1) > 0)
		refuse_batch(p, st->asset, 0, 0, "the asset id is a local asset of this node");

	/* the cursor, locked: one writer per stream */
	if (ds_spi_exec("SELECT chain_pos, seal_hash FROM dataspace.subscription_state"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1"
					" AND provider_id OPERATOR(pg_catalog.=) $2"
					" AND state OPERATOR(pg_catalog.=) 'running' FOR UPDATE",
					2, (Oid[]) {UUIDOID, UUIDOID},
					(Datum[]) {ds_uuid_datum(st->asset), ds_uuid_datum(t.provider_id)},
					NULL, false, -1) != 1)
		return 0;
	cursor = ds_spi_get_int64(0, 1);
	memset(cur_hash, 0, sizeof(cur_hash));
	(void) ds_spi_get(0, 2, &isnull);
	if (!isnull)
		ds_spi_get_bytes(0, 2, cur_hash, DS_HASH_LEN);

	authenticate(p, &t);
	exchange_heads(p, &t);

	pgstat_report_activity(STATE_RUNNING, psprintf("pulling asset %s from %s",
												   ds_uuid_text(st->asset), p->name));
	cursor_be = (int64) pg_hton64((uint64) cursor);
	maxp_be = (int32) pg_hton32((uint32) dataspace_replication_batch_points);
	maxb_be = (int32) pg_hton32((uint32) dataspace_replication_batch_bytes);
	values[0] = (const char *) st->contract;
	lengths[0] = DS_UUID_LEN;
	values[1] = (const char *) st->asset;
	lengths[1] = DS_UUID_LEN;
	values[2] = (const char *) &cursor_be;
	lengths[2] = 8;
	values[3] = (const char *) &maxp_be;
	lengths[3] = 4;
	values[4] = (const char *) &maxb_be;
	lengths[4] = 4;
	r = ds_remote_exec(p->conn, p->name,
					   "SELECT dataspace.export_batch($1::uuid, $2::uuid, $3::bigint, $4::integer, $5::integer)",
					   5, values, lengths, PGRES_TUPLES_OK, REMOTE_TIMEOUT_MS);
	ds_remote_result_guard(r, batch_cxt);
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		malformed(p);

	/* decode and verify everything before storing anything */
	if (!ds_msg_read_begin(&mr, (const uint8 *) PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0),
						   DS_MSG_EXPORT_BATCH) ||
		!ds_msg_read_fixed(&mr, provider, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&mr, asset, DS_UUID_LEN) ||
		!ds_msg_read_int64(&mr, &nseals) || !ds_msg_read_int64(&mr, &rem_seals) ||
		!ds_msg_read_int64(&mr, &rem_points) || !ds_msg_read_int64(&mr, &oldest_us) ||
		nseals < 0 || nseals > 100000)
		malformed(p);
	if (memcmp(provider, t.provider_id, DS_UUID_LEN) != 0 ||
		memcmp(asset, st->asset, DS_UUID_LEN) != 0)
		malformed(p);
	seals = palloc0(sizeof(InSeal) * Max(nseals, 1));
	for (int64 i = 0; i < nseals; i++)
	{
		InSeal	   *in = &seals[i];
		const uint8 *entries;
		size_t		elen;
		uint8		msg[DS_SEAL_MSG_MAX];
		size_t		len;
		const char *reason = NULL;
		uint8		seal_pk[DS_PUBKEY_LEN];
		bool		key_revoked;

		memcpy(in->s.asset_id, st->asset, DS_UUID_LEN);
		if (!ds_msg_read_int64(&mr, &in->provider_seal_id) ||
			!ds_msg_read_int64(&mr, &in->s.chain_pos) ||
			!ds_msg_read_fixed(&mr, in->s.node_id, DS_UUID_LEN) ||
			!ds_msg_read_int64(&mr, &in->s.first_seq) ||
			!ds_msg_read_int64(&mr, &in->s.last_seq) ||
			!ds_msg_read_int64(&mr, &in->s.point_count) ||
			!ds_msg_read_int64(&mr, &in->s.min_ts_us) ||
			!ds_msg_read_int64(&mr, &in->s.max_ts_us) ||
			!ds_msg_read_int64(&mr, &in->s.sealed_at_us) ||
			!ds_msg_read_fixed(&mr, in->s.root, DS_HASH_LEN) ||
			!ds_msg_read_fixed(&mr, in->s.prev_hash, DS_HASH_LEN) ||
			!ds_msg_read_fixed(&mr, in->s.key_id, DS_HASH_LEN) ||
			!ds_msg_read_fixed(&mr, in->signature, DS_SIG_LEN) ||
			!ds_msg_read_field(&mr, &entries, &elen))
			malformed(p);

		if (memcmp(in->s.node_id, t.provider_id, DS_UUID_LEN) != 0 ||
			!ds_provider_seal_key(t.provider_id, t.provider_key_id, t.provider_pk,
								  in->s.key_id, in->s.sealed_at_us, seal_pk, &key_revoked))
			reason = "unknown key";
		else if ((len = ds_seal_message(&in->s, msg, sizeof(msg))) == 0 ||
				 !ds_ed25519_verify(seal_pk, msg, len, in->signature))
			reason = "bad signature";
		else if (in->s.chain_pos != cursor + 1)
			reason = "seal missing from chain";
		else if (memcmp(in->s.prev_hash, cur_hash, DS_HASH_LEN) != 0)
			reason = "chain broken";
		else
			reason = verify_seal_entries(in, entries, elen, &t, now_us, &pa);
		if (reason)
			refuse_batch(p, st->asset, in->provider_seal_id, in->s.chain_pos, reason);
		if (!ds_seal_hash(ds_backend_hasher(), &in->s, in->hash))
			elog(ERROR, "could not hash a seal");
		memcpy(cur_hash, in->hash, DS_HASH_LEN);
		cursor = in->s.chain_pos;
		points += in->delivered;
	}
	if (!ds_msg_read_end(&mr))
		malformed(p);

	/* store: seals, points and the cursor in this one transaction */
	storing_received = true;
	PG_TRY();
	{
		for (int64 i = 0; i < nseals; i++)
			store_seal(&seals[i], &t);
		if (pa.n > 0)
		{
			Oid			types[8] = {UUIDOID, UUIDOID, UUIDOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID,
			FLOAT8ARRAYOID, BYTEAARRAYOID, INT8ARRAYOID};
			Datum		v[8];

			v[0] = ds_uuid_datum(t.provider_id);
			v[1] = ds_uuid_datum(st->asset);
			v[2] = ds_uuid_datum(t.id);
			v[3] = array_of(pa.seq, pa.n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			v[4] = array_of(pa.ts, pa.n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			v[5] = array_of(pa.value, pa.n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			v[6] = array_of(pa.nonce, pa.n, BYTEAOID, -1, false, TYPALIGN_INT);
			v[7] = array_of(pa.chain_pos, pa.n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
			ds_spi_exec("INSERT INTO dataspace.received_point (provider_id, asset_id, seq, ts,"
						" value, nonce, chain_pos, contract_id)"
						" SELECT $1, $2, u.seq, u.ts, u.value, u.nonce, u.chain_pos, $3"
						" FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6),"
						" pg_catalog.unnest($7), pg_catalog.unnest($8)) AS u(seq, ts, value, nonce, chain_pos)",
						8, types, v, NULL, false, pa.n);
		}
	}
	PG_FINALLY();
	{
		storing_received = false;
	}
	PG_END_TRY();
	if (nseals > 0)
		queue_receipt(&t, seals, nseals, points);
	{
		Oid			types[9] = {UUIDOID, INT8OID, BYTEAOID, INT8OID, INT8OID, INT8OID, INT8OID,
		TIMESTAMPTZOID, UUIDOID};
		Datum		v[9];
		char		nulls[9] = {' ', ' ', cursor > 0 ? ' ' : 'n', ' ', ' ', ' ', ' ',
		oldest_us != 0 ? ' ' : 'n', ' '};

		v[0] = ds_uuid_datum(st->asset);
		v[1] = Int64GetDatum(cursor);
		v[2] = ds_bytea_datum(cur_hash, DS_HASH_LEN);
		v[3] = Int64GetDatum(points);
		v[4] = Int64GetDatum(nseals);
		v[5] = Int64GetDatum(rem_points);
		v[6] = Int64GetDatum(rem_seals);
		v[7] = TimestampTzGetDatum(ds_unix_us_to_ts(oldest_us));
		v[8] = ds_uuid_datum(t.id);
		ds_spi_exec("UPDATE dataspace.subscription_state SET chain_pos = $2, seal_hash = $3,"
					" points_received = points_received OPERATOR(pg_catalog.+) $4,"
					" seals_received = seals_received OPERATOR(pg_catalog.+) $5,"
					" lag_points = $6, lag_seals = $7, oldest_unreceived = $8,"
					" last_received_at = CASE WHEN $5 OPERATOR(pg_catalog.>) 0"
					" THEN pg_catalog.now() ELSE last_received_at END,"
					" last_attempt = pg_catalog.now(), last_error = NULL, last_error_at = NULL,"
					" contract_id = $9"
					" WHERE asset_id OPERATOR(pg_catalog.=) $1",
					9, types, v, nulls, false, 1);
	}
	return nseals;
}

/* ---------------------------------------------------------------------
 * Rounds
 * ---------------------------------------------------------------------
 */

/*
 * list_streams
 *		Make sure every asset of every active contract of this node as
 *		consumer has its stream row, bound to the contract's provider, and
 *		return the running ones, then, marked receipts_only, each asset of
 *		a contract no longer in force that has receipts still unsent: the
 *		provider takes those (docs/replication.md, "Delivery receipts").
 */
static Stream *
list_streams(int *n, MemoryContext cxt)
{
	DsNode		node;
	Stream	   *out = NULL;

	*n = 0;
	if (dataspace_mode != DATASPACE_MODE_NODE || !ds_node_load(&node))
		return NULL;
	ds_spi_exec("INSERT INTO dataspace.subscription_state AS s (asset_id, provider_id, contract_id)"
				" SELECT DISTINCT ON (a.id) a.id, c.provider_id, c.id"
				" FROM dataspace.contract c, pg_catalog.unnest(c.asset_ids) AS a(id)"
				" WHERE c.consumer_id OPERATOR(pg_catalog.=) $1"
				" AND c.state OPERATOR(pg_catalog.=) 'active'"
				" AND c.valid_until OPERATOR(pg_catalog.>) pg_catalog.now()"
				" AND NOT EXISTS (SELECT FROM dataspace.asset l WHERE l.id OPERATOR(pg_catalog.=) a.id)"
				" ORDER BY a.id, c.valid_until DESC"
				" ON CONFLICT (asset_id) DO UPDATE SET contract_id = EXCLUDED.contract_id"
				" WHERE s.provider_id OPERATOR(pg_catalog.=) EXCLUDED.provider_id"
				" AND s.contract_id OPERATOR(pg_catalog.<>) EXCLUDED.contract_id"
				" AND NOT EXISTS (SELECT FROM dataspace.contract o"
				" WHERE o.id OPERATOR(pg_catalog.=) s.contract_id"
				" AND o.state OPERATOR(pg_catalog.=) 'active'"
				" AND o.valid_until OPERATOR(pg_catalog.>) pg_catalog.now())",
				1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(node.node_id)}, NULL, false, -1);
	*n = ds_spi_exec("SELECT s.contract_id, s.provider_id, s.asset_id, p.endpoint, l.options, false"
					 " FROM dataspace.subscription_state s"
					 " JOIN dataspace.contract c ON c.id OPERATOR(pg_catalog.=) s.contract_id"
					 " LEFT JOIN dataspace.participant p ON p.node_id OPERATOR(pg_catalog.=) s.provider_id"
					 " LEFT JOIN dataspace.provider_login l ON l.provider_id OPERATOR(pg_catalog.=) s.provider_id"
					 " WHERE s.state OPERATOR(pg_catalog.=) 'running'"
					 " AND c.consumer_id OPERATOR(pg_catalog.=) $1"
					 " AND c.provider_id OPERATOR(pg_catalog.=) s.provider_id"
					 " AND c.state OPERATOR(pg_catalog.=) 'active'"
					 " AND c.valid_from OPERATOR(pg_catalog.<=) pg_catalog.now()"
					 " AND c.valid_until OPERATOR(pg_catalog.>) pg_catalog.now()"
					 " UNION ALL"
					 " SELECT DISTINCT o.contract_id, o.provider_id, o.asset_id, p.endpoint, l.options, true"
					 " FROM dataspace.receipt_outbox o"
					 " JOIN dataspace.contract c ON c.id OPERATOR(pg_catalog.=) o.contract_id"
					 " LEFT JOIN dataspace.participant p ON p.node_id OPERATOR(pg_catalog.=) o.provider_id"
					 " LEFT JOIN dataspace.provider_login l ON l.provider_id OPERATOR(pg_catalog.=) o.provider_id"
					 " WHERE o.sent_at IS NULL AND o.abandoned_at IS NULL"
					 " AND c.consumer_id OPERATOR(pg_catalog.=) $1"
					 " AND c.provider_id OPERATOR(pg_catalog.=) o.provider_id"
					 " AND NOT (c.state OPERATOR(pg_catalog.=) 'active'"
					 " AND c.valid_from OPERATOR(pg_catalog.<=) pg_catalog.now()"
					 " AND c.valid_until OPERATOR(pg_catalog.>) pg_catalog.now())"
					 " ORDER BY 2, 3",
					 1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(node.node_id)},
					 NULL, false, -1);	/* not read-only: it must see the rows just made */
	if (*n > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		bool		isnull;

		out = palloc0(sizeof(Stream) * *n);
		for (int i = 0; i < *n; i++)
		{
			ds_spi_get_uuid(i, 1, out[i].contract);
			ds_spi_get_uuid(i, 2, out[i].provider);
			ds_spi_get_uuid(i, 3, out[i].asset);
			out[i].endpoint = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 4);
			out[i].options = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 5);
			out[i].receipts_only = ds_spi_getbool(i, 6, &isnull);
		}
		MemoryContextSwitchTo(old);
	}
	return out;
}

/* Record a stream's error; a batch that did not verify stops it. */
static void
save_stream_error(const Stream *st, const char *error, bool stop)
{
	ds_spi_exec("UPDATE dataspace.subscription_state SET last_error = $2,"
				" last_error_at = pg_catalog.now(), last_attempt = pg_catalog.now(),"
				" state = CASE WHEN $3 THEN 'stopped' ELSE state END"
				" WHERE asset_id OPERATOR(pg_catalog.=) $1",
				3, (Oid[]) {UUIDOID, TEXTOID, BOOLOID},
				(Datum[]) {ds_uuid_datum(st->asset), CStringGetTextDatum(error), BoolGetDatum(stop)},
				NULL, false, -1);
}

/*
 * in_transaction
 *		Run fn in a transaction of its own with SPI; on error, log it,
 *		roll back, and return a copy of the error (else NULL).
 */
static ErrorData *
in_transaction(int64 (*fn) (Peer *, const Stream *, MemoryContext), Peer *p,
			   const Stream *st, int64 *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext batch_cxt = AllocSetContextCreate(cxt, "dataspace replication batch",
													ALLOCSET_DEFAULT_SIZES);
	ErrorData  *volatile edata = NULL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		MemoryContextSwitchTo(batch_cxt);
		SPI_connect();
		*result = fn(p, st, batch_cxt);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
	}
	PG_END_TRY();
	MemoryContextDelete(batch_cxt);
	return edata;
}

/* Connect to a provider; NULL, or the error (logged). */
static ErrorData *
connect_safely(Peer *p, const Stream *st)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorData  *volatile e = NULL;

	pgstat_report_activity(STATE_RUNNING, psprintf("connecting to %s", p->name));
	PG_TRY();
	{
		connect_peer(p, st);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		e = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	return e;
}

/*
 * receipts_turn
 *		Send the stream's queued receipts, each once per turn.  A refusal by
 *		the provider is noted on the receipt (it stays queued and is tried
 *		again next turn) and does not hold up the stream or the other
 *		receipts; a broken connection is returned like any other error.
 */
static ErrorData *
receipts_turn(Peer *p, const Stream *st)
{
	receipt_after = 0;
	for (int i = 0; i < MAX_RECEIPTS_PER_TURN; i++)
	{
		int64		sent = 0;
		int64		before = receipt_after;
		ErrorData  *e = in_transaction(send_receipt, p, st, &sent);

		if (e == NULL)
		{
			if (sent == 0)
				break;
			continue;
		}
		if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK ||
			receipt_after == before)
			return e;			/* not the receipt's fault */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		ds_spi_exec("UPDATE dataspace.receipt_outbox SET last_error = $2,"
					" attempts = attempts OPERATOR(pg_catalog.+) 1"
					" WHERE id OPERATOR(pg_catalog.=) $1",
					2, (Oid[]) {INT8OID, TEXTOID},
					(Datum[]) {Int64GetDatum(receipt_after), CStringGetTextDatum(e->message)},
					NULL, false, -1);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(e);
	}
	return NULL;
}

/*
 * serve_stream
 *		Pull up to MAX_BATCHES_PER_ROUND batches of one stream; returns the
 *		seals stored.
 */
static int64
serve_stream(const Stream *st)
{
	Peer	   *p = find_peer(st->provider);
	int64		total = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (p->retry_at > now)
		return 0;
	for (int b = 0; b < MAX_BATCHES_PER_ROUND; b++)
	{
		ErrorData  *e = NULL;
		int64		got = 0;

		if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK)
			e = connect_safely(p, st);
		if (e == NULL && b == 0)
			e = receipts_turn(p, st);
		if (e == NULL && st->receipts_only)
			break;
		if (e == NULL)
			e = in_transaction(pull_batch, p, st, &got);
		if (e != NULL)
		{
			bool		stop = e->sqlerrcode == ERRCODE_DATA_CORRUPTED;
			char	   *msg = e->message;

			if (!stop)
			{
				drop_peer(p);
				p->backoff_ms = p->backoff_ms == 0 ? 1000 : Min(p->backoff_ms * 2, MAX_BACKOFF_MS);
				p->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), p->backoff_ms);
			}
			if (e->detail && !stop)
				msg = psprintf("%s: %s", e->message, e->detail);
			/* record it, in a transaction of its own (receipts note their own) */
			if (!st->receipts_only)
			{
				SetCurrentStatementStartTimestamp();
				StartTransactionCommand();
				PushActiveSnapshot(GetTransactionSnapshot());
				SPI_connect();
				save_stream_error(st, msg, stop);
				SPI_finish();
				PopActiveSnapshot();
				CommitTransactionCommand();
			}
			FreeErrorData(e);
			break;
		}
		p->backoff_ms = 0;
		total += got;
		if (got == 0)
			break;
	}
	/* the receipts of this turn's batches, without waiting for the next */
	if (total > 0 && p->conn != NULL)
	{
		ErrorData  *e = receipts_turn(p, st);

		if (e != NULL)
		{
			drop_peer(p);
			FreeErrorData(e);
		}
	}
	return total;
}

/*
 * replication_round
 *		Serve every running stream once; returns the seals stored.
 */
static int64
replication_round(MemoryContext cxt)
{
	Stream	   *streams = NULL;
	int			n = 0;
	int64		total = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (OidIsValid(get_extension_oid("pg_dataspace", true)))
	{
		SPI_connect();
		streams = list_streams(&n, cxt);
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		total += serve_stream(&streams[i]);
	}
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return total;
}

/*
 * drain_notifications
 *		Read what the providers sent while we were not looking; true if any
 *		of them notified.  A connection that broke is dropped.
 */
static bool
drain_notifications(void)
{
	bool		any = false;

	for (int i = 0; i < npeers; i++)
	{
		Peer	   *p = &peers[i];
		PGnotify   *nf;

		if (p->conn == NULL)
			continue;
		if (!PQconsumeInput(p->conn))
		{
			ereport(LOG,
					(errmsg("lost the connection to %s", p->name),
					 errdetail_internal("%s", pchomp(PQerrorMessage(p->conn)))));
			drop_peer(p);
			continue;
		}
		while ((nf = PQnotifies(p->conn)) != NULL)
		{
			/* the provider's head moved: hand it ours again, get its new one */
			if (strcmp(nf->extra, DS_NOTIFY_TREE_HEAD) == 0)
				p->heads_sent = -1;
			any = true;
			PQfreemem(nf);
		}
	}
	return any;
}

/*
 * wait_for_work
 *		Sleep until the latch is set, a provider's socket has something, or
 *		the nap time passes.
 */
static void
wait_for_work(long timeout_ms)
{
	WaitEventSet *set = CreateWaitEventSet(CurrentMemoryContext, npeers + 2);
	WaitEvent	events[MAX_PEERS + 2];

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < npeers; i++)
		if (peers[i].conn != NULL && PQsocket(peers[i].conn) >= 0)
			AddWaitEventToSet(set, WL_SOCKET_READABLE, PQsocket(peers[i].conn), NULL, &peers[i]);
	(void) WaitEventSetWait(set, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

static void
replication_exit(int code, Datum arg)
{
	for (int i = 0; i < npeers; i++)
		drop_peer(&peers[i]);
}

void
dataspace_replication_main(Datum main_arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	ds_dbworker_attach(DS_WORKER_REPLICATION);
	on_shmem_exit(replication_exit, 0);
	ds_dbworker_wait_until_database_free(DS_WORKER_REPLICATION);

	BackgroundWorkerInitializeConnection(dataspace_database, NULL, 0);
	ds_dbworker_connected(DS_WORKER_REPLICATION);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
	ereport(LOG, (errmsg("pg_dataspace replication started in database \"%s\"",
						 dataspace_database)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "dataspace replication loop",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz round_start;
		int64		got;
		bool		notified;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		round_start = GetCurrentTimestamp();
		got = replication_round(loop_cxt);
		notified = drain_notifications();
		if (got > 0)
			continue;
		if (notified)
		{
			/*
			 * Providers decide when they notify, and one could notify in a
			 * loop: after a round that found nothing, the next one begins
			 * NOTIFIED_ROUND_MS after it at the soonest.
			 */
			long		elapsed = TimestampDifferenceMilliseconds(round_start,
																  GetCurrentTimestamp());

			if (elapsed < NOTIFIED_ROUND_MS)
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 NOTIFIED_ROUND_MS - elapsed, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		wait_for_work(dataspace_replication_naptime);
		(void) drain_notifications();
	}
}
