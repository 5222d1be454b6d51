/*-------------------------------------------------------------------------
 *
 * hubsync.c
 *		The hub-sync background worker of a node (docs/hub.md).
 *
 * One round: connect to dataspace.hub, have the hub prove it holds the
 * pinned key (a signed hello over a fresh nonce), learn what the hub knows
 * of this node, register if it knows nothing, publish the node's public
 * assets that changed and withdraw those no longer public, then cache the
 * approved participants and the catalog, checking every registration and
 * publication signature locally.  Rounds come every dataspace.sync_interval
 * or when dataspace.sync_now() asks; the node works the same while the hub
 * is away, and the next round catches up.
 *
 * Every wait, connecting included, is on the latch and the socket, so the
 * worker answers SIGTERM and SIGHUP at once and never blocks in libpq.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "anchor.h"
#include "audit.h"
#include "contract.h"
#include "contractmsg.h"
#include "dbworker.h"
#include "gossip.h"
#include "jsonread.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "sealstore.h"
#include "submission.h"
#include "witness.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_sync_now);
PGDLLEXPORT void dataspace_hubsync_main(Datum main_arg);

/* how long one remote step may take */
#define REMOTE_TIMEOUT_MS 30000


/* The connection, kept between rounds. */
static PGconn *hub_conn = NULL;

/*
 * This worker's instance, drawn when it starts and sent in every
 * submission: a copy of this node's data directory running elsewhere
 * draws another, and the hub refuses an instance that comes back after
 * another one took over (docs/hub.md, "Two copies of one node").
 */
static uint8 worker_instance[DS_INSTANCE_LEN];

/* ---------------------------------------------------------------------
 * Talking to the hub without blocking
 * ---------------------------------------------------------------------
 */

static void
wait_socket(PGconn *conn, int io, TimestampTz deadline, const char *doing)
{
	long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
	int			rc;

	if (left <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the hub did not answer in time while %s", doing)));
	rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | io,
						   PQsocket(conn), left, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* the connection's socket counts against max_files_per_process */
static bool hub_fd_acquired = false;

static void
disconnect(void)
{
	if (hub_conn != NULL)
		PQfinish(hub_conn);
	hub_conn = NULL;
	if (hub_fd_acquired)
		ReleaseExternalFD();
	hub_fd_acquired = false;
}

static void
connect_to_hub(void)
{
	const char *keys[3] = {"dbname", "application_name", NULL};
	const char *vals[3] = {dataspace_hub, "pg_dataspace hub sync", NULL};
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), REMOTE_TIMEOUT_MS);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (hub_conn != NULL && PQstatus(hub_conn) == CONNECTION_OK)
		return;
	disconnect();
	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to the hub: out of file descriptors"),
				 errhint("Raise max_files_per_process.")));
	hub_fd_acquired = true;
	/* dbname is expanded as a connection string: dataspace.hub */
	hub_conn = PQconnectStartParams(keys, vals, true);
	if (hub_conn == NULL || PQstatus(hub_conn) == CONNECTION_BAD)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to the hub: %s",
						hub_conn ? PQerrorMessage(hub_conn) : "out of memory")));
	while (st != PGRES_POLLING_OK)
	{
		if (st == PGRES_POLLING_FAILED)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not connect to the hub: %s",
							pchomp(PQerrorMessage(hub_conn)))));
		wait_socket(hub_conn, st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
					deadline, "connecting");
		st = PQconnectPoll(hub_conn);
	}
	if (PQsetnonblocking(hub_conn, 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not make the hub connection non-blocking")));
}

/*
 * Run one statement at the hub with binary parameters and binary results;
 * the result belongs to the caller (PQclear).
 */
static PGresult *
remote(const char *sql, int nparams, const char *const *values,
	   const int *lengths, ExecStatusType expect)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), REMOTE_TIMEOUT_MS);
	int			formats[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	PGresult   *last = NULL;
	PGresult   *r;
	int			flushed;

	Assert(nparams <= 8);
	if (!PQsendQueryParams(hub_conn, sql, nparams, NULL, values, lengths, formats, 1))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a request to the hub: %s",
						pchomp(PQerrorMessage(hub_conn)))));
	while ((flushed = PQflush(hub_conn)) == 1)
		wait_socket(hub_conn, WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, deadline, "sending");
	if (flushed < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a request to the hub: %s",
						pchomp(PQerrorMessage(hub_conn)))));
	for (;;)
	{
		while (PQisBusy(hub_conn))
		{
			wait_socket(hub_conn, WL_SOCKET_READABLE, deadline, "waiting for an answer");
			if (!PQconsumeInput(hub_conn))
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("lost the connection to the hub: %s",
								pchomp(PQerrorMessage(hub_conn)))));
		}
		r = PQgetResult(hub_conn);
		if (r == NULL)
			break;
		if (last)
			PQclear(last);
		last = r;
	}
	if (last == NULL || PQresultStatus(last) != expect)
	{
		char	   *msg = pstrdup(last ? PQresultErrorMessage(last) : PQerrorMessage(hub_conn));

		if (last)
			PQclear(last);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the hub refused a request: %s", pchomp(msg))));
	}
	return last;
}

/* Binary result values. */
static void
get_fixed(PGresult *r, int row, int col, uint8 *out, size_t len, const char *what)
{
	if (PQgetisnull(r, row, col) || (size_t) PQgetlength(r, row, col) != len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the hub sent a malformed %s", what)));
	memcpy(out, PQgetvalue(r, row, col), len);
}

static int64
get_int64(PGresult *r, int row, int col)
{
	uint64		v;

	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the hub sent a malformed integer")));
	memcpy(&v, PQgetvalue(r, row, col), 8);
	return (int64) pg_ntoh64(v);
}

static Datum
get_bytea(PGresult *r, int row, int col)
{
	return ds_bytea_datum((const uint8 *) PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

static Datum
get_text(PGresult *r, int row, int col)
{
	return PointerGetDatum(cstring_to_text_with_len(PQgetvalue(r, row, col),
													PQgetlength(r, row, col)));
}

/* ---------------------------------------------------------------------
 * One round
 * ---------------------------------------------------------------------
 */

typedef struct RoundState
{
	DsSigner   *signer;
	uint8		hub_id[DS_UUID_LEN];
	int64		next_counter;
	bool		registered;
	char	   *status;
	char	   *suspension_reason;	/* the hub's, while suspended */
	bool		was_suspended;	/* as of the last round */
	bool		refused;		/* the hub refused a submission this round */
	bool		recached;		/* participants cached again after a refusal */
	uint8		hub_key_id[DS_HASH_LEN];	/* the key the hub knows us by */
	/* the audit log's head when the round began: committed entries only */
	bool		audit_head;
	int64		audit_seq;
	uint8		audit_hash[DS_HASH_LEN];
	int64		audit_at_us;
} RoundState;

/* The hub proves it holds the pinned key over a nonce of ours. */
static void
check_hub_identity(RoundState *st)
{
	uint8		nonce[DS_HELLO_NONCE_LEN];
	uint8		pinned[DS_PUBKEY_LEN];
	uint8		pk[DS_PUBKEY_LEN];
	uint8		sig[DS_SIG_LEN];
	const char *values[1];
	int			lengths[1] = {DS_HELLO_NONCE_LEN};
	PGresult   *r;
	const uint8 *msg;
	size_t		msglen;
	ds_msg_reader mr;
	uint8		echoed[DS_HELLO_NONCE_LEN];
	int64		at;

	if (dataspace_hub_public_key == NULL || dataspace_hub_public_key[0] == '\0' ||
		!ds_hex_decode(dataspace_hub_public_key, strlen(dataspace_hub_public_key),
					   pinned, DS_PUBKEY_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("dataspace.hub_public_key is not set"),
				 errhint("Pin the hub's key: SELECT encode(public_key, 'hex') FROM dataspace.node_info() on the hub.")));
	if (!pg_strong_random(nonce, sizeof(nonce)))
		elog(ERROR, "could not generate a nonce");
	values[0] = (const char *) nonce;
	r = remote("SELECT message, public_key, signature FROM dataspace.hub_hello($1::bytea)",
			   1, values, lengths, PGRES_TUPLES_OK);
	if (PQntuples(r) != 1)
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("the hub sent no hello")));
	get_fixed(r, 0, 1, pk, DS_PUBKEY_LEN, "public key");
	get_fixed(r, 0, 2, sig, DS_SIG_LEN, "signature");
	msg = (const uint8 *) PQgetvalue(r, 0, 0);
	msglen = PQgetlength(r, 0, 0);
	if (memcmp(pk, pinned, DS_PUBKEY_LEN) != 0)
	{
		PQclear(r);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the hub's key is not the pinned dataspace.hub_public_key"),
				 errdetail("The hub presented key %s.", ds_hex(pk, DS_PUBKEY_LEN))));
	}
	if (!ds_ed25519_verify(pinned, msg, msglen, sig) ||
		!ds_msg_read_begin(&mr, msg, msglen, DS_MSG_HUB_HELLO) ||
		!ds_msg_read_fixed(&mr, st->hub_id, DS_UUID_LEN) ||
		!ds_msg_read_fixed(&mr, echoed, DS_HELLO_NONCE_LEN) ||
		!ds_msg_read_int64(&mr, &at) || !ds_msg_read_end(&mr) ||
		memcmp(echoed, nonce, DS_HELLO_NONCE_LEN) != 0)
	{
		PQclear(r);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the hub could not prove that it holds the pinned key")));
	}
	PQclear(r);
}

/* The status and suspension reason in columns col and col + 1 of r's row 0. */
static void
take_status(RoundState *st, PGresult *r, int col)
{
	st->status = pnstrdup(PQgetvalue(r, 0, col), PQgetlength(r, 0, col));
	st->suspension_reason = PQgetisnull(r, 0, col + 1) ? NULL :
		pnstrdup(PQgetvalue(r, 0, col + 1), PQgetlength(r, 0, col + 1));
}

/* What the hub knows of us: registration, status, last counter. */
static void
learn_whoami(RoundState *st)
{
	PGresult   *r = remote("SELECT node_id, last_counter, key_id, status, suspension_reason"
						   " FROM dataspace.hub_whoami()"
						   " WHERE node_id IS NOT NULL",
						   0, NULL, NULL, PGRES_TUPLES_OK);

	st->registered = PQntuples(r) == 1;
	if (st->registered)
	{
		uint8		node_id[DS_UUID_LEN];
		int64		last = get_int64(r, 0, 1);

		get_fixed(r, 0, 0, node_id, DS_UUID_LEN, "node id");
		get_fixed(r, 0, 2, st->hub_key_id, DS_HASH_LEN, "key id");
		if (memcmp(node_id, st->signer->node_id, DS_UUID_LEN) != 0)
		{
			PQclear(r);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the hub role of this node is registered as participant %s, not as this node (%s)",
							ds_uuid_text(node_id), ds_uuid_text(st->signer->node_id)),
					 errhint("Each node needs a login role of its own at the hub.")));
		}
		take_status(st, r, 3);
		/* a restored node may be behind the hub's count: catch up */
		if (last >= st->next_counter)
			st->next_counter = last + 1;
	}
	PQclear(r);
}

/*
 * Sign and send one submission with the given key of this node; returns
 * NULL if accepted, else the hub's reason.
 */
static char *
submit_as(RoundState *st, const DsSigner *signer, const char *kind, const char *payload)
{
	ds_submission s;
	uint8	   *msg = palloc(DS_SUBMISSION_MAX);
	size_t		len;
	uint8		sig[DS_SIG_LEN];
	const char *values[2];
	int			lengths[2];
	PGresult   *r;
	char	   *reason = NULL;

	memset(&s, 0, sizeof(s));
	memcpy(s.hub_id, st->hub_id, DS_UUID_LEN);
	memcpy(s.node_id, signer->node_id, DS_UUID_LEN);
	s.counter = st->next_counter++;
	s.submitted_at_us = ds_ts_to_unix_us(GetCurrentTimestamp());
	memcpy(s.instance, worker_instance, DS_INSTANCE_LEN);
	strlcpy(s.kind, kind, sizeof(s.kind));
	s.payload = (const uint8 *) payload;
	s.payload_len = strlen(payload);
	memcpy(s.key_id, signer->key_id, DS_HASH_LEN);
	len = ds_submission_encode(&s, msg, DS_SUBMISSION_MAX);
	if (len == 0 || !ds_signer_sign(signer, msg, len, sig))
		elog(ERROR, "could not sign a %s submission", kind);

	values[0] = (const char *) msg;
	lengths[0] = (int) len;
	values[1] = (const char *) sig;
	lengths[1] = DS_SIG_LEN;
	r = remote("SELECT accepted, reason FROM dataspace.hub_submit($1::bytea, $2::bytea)",
			   2, values, lengths, PGRES_TUPLES_OK);
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) != 1)
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION),
						errmsg("the hub sent a malformed answer to a submission")));
	if (PQgetvalue(r, 0, 0)[0] == 0)
	{
		reason = PQgetisnull(r, 0, 1) ? pstrdup("no reason given") :
			pnstrdup(PQgetvalue(r, 0, 1), PQgetlength(r, 0, 1));
		st->refused = true;
	}
	PQclear(r);
	return reason;
}

/* Sign and send one submission with the current key. */
static char *
submit(RoundState *st, const char *kind, const char *payload)
{
	return submit_as(st, st->signer, kind, payload);
}

static void push_contract_steps(RoundState *st, const DsSigner *signer, bool only_signer);
static void cache_participants(RoundState *st);
static void contract_alarm(const uint8 id[DS_UUID_LEN], const char *why);

/*
 * Announce this node's key rotations the hub has not seen, oldest first
 * (docs/hub.md, "Key rotation"): each rotate_key submission is signed by
 * the key the hub knows, and carries the announcement of the next key
 * signed by that key and the next key's proof of possession.  A node that
 * rotated twice while the hub was away sends two.  Runs before anything
 * else of the round, since the hub accepts nothing signed by a key it
 * does not know.  Before each, the contract steps this node took under
 * the key the hub holds and has not delivered go out, signed by that key:
 * after the rotation the hub takes steps under the new key only (a
 * revocation right before the rotation that follows a key theft).
 */
static void
announce_rotations(RoundState *st)
{
	uint8		cur[DS_HASH_LEN];
	int			sent = 0;

	memcpy(cur, st->hub_key_id, DS_HASH_LEN);
	if (ds_spi_exec("SELECT 1 FROM dataspace.node_key WHERE key_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {BYTEAOID}, (Datum[]) {ds_bytea_datum(cur, DS_HASH_LEN)},
					NULL, true, -1) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the hub knows this node by key %s, which is not a key of this node",
						ds_hex(cur, DS_HASH_LEN)),
				 errhint("The hub operator must check the participant's registration.")));
	while (memcmp(cur, st->signer->key_id, DS_HASH_LEN) != 0)
	{
		ds_json_writer w;
		char	   *payload = palloc(2048);
		uint8		next[DS_HASH_LEN];
		uint8		pk[DS_PUBKEY_LEN];
		uint8		sig[DS_SIG_LEN];
		uint8		pop[DS_SIG_LEN];
		bytea	   *ann;
		bool		isnull;
		DsSigner   *old;
		char	   *reason;

		if (ds_spi_exec("SELECT key_id, public_key, announcement, announcement_signature,"
						" possession_signature FROM dataspace.node_key"
						" WHERE previous_key_id OPERATOR(pg_catalog.=) $1",
						1, (Oid[]) {BYTEAOID}, (Datum[]) {ds_bytea_datum(cur, DS_HASH_LEN)},
						NULL, false, -1) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key %s of this node is not followed by an announced key",
							ds_hex(cur, DS_HASH_LEN))));
		ds_spi_get_bytes(0, 1, next, DS_HASH_LEN);
		ds_spi_get_bytes(0, 2, pk, DS_PUBKEY_LEN);
		ann = DatumGetByteaPCopy(ds_spi_get(0, 3, &isnull));
		ds_spi_get_bytes(0, 4, sig, DS_SIG_LEN);
		(void) ds_spi_get(0, 5, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("key %s of this node has no proof of possession",
							ds_hex(next, DS_HASH_LEN))));
		ds_spi_get_bytes(0, 5, pop, DS_SIG_LEN);

		ds_json_writer_init(&w, payload, 2048);
		ds_json_put(&w, "{");
		ds_json_put(&w, "\"announcement\": \"%s\"",
					ds_hex((const uint8 *) VARDATA_ANY(ann), VARSIZE_ANY_EXHDR(ann)));
		ds_json_put(&w, ",");
		ds_json_put_hex(&w, "announcement_signature", sig, DS_SIG_LEN);
		ds_json_put(&w, ",");
		ds_json_put_hex(&w, "possession_signature", pop, DS_SIG_LEN);
		ds_json_put(&w, ",");
		ds_json_put_hex(&w, "public_key", pk, DS_PUBKEY_LEN);
		ds_json_put(&w, "}");
		if (ds_json_done(&w) == 0)
			elog(ERROR, "key announcement too long");

		old = ds_signer_load_key(cur);
		if (st->status != NULL && strcmp(st->status, "approved") == 0)
			push_contract_steps(st, old, true);
		reason = submit_as(st, old, "rotate_key", payload);
		if (reason)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the hub refused this node's key rotation to %s: %s",
							ds_hex(next, DS_HASH_LEN), reason)));
		ds_audit_append("key.announce", ds_hex(next, DS_HASH_LEN),
						ds_audit_json(2, "previous_key_id", ds_hex(cur, DS_HASH_LEN),
									  "hub_id", ds_uuid_text(st->hub_id)));
		memcpy(cur, next, DS_HASH_LEN);
		sent++;
	}
	memcpy(st->hub_key_id, cur, DS_HASH_LEN);
	if (sent > 0)
		ereport(LOG,
				(errmsg("announced %d key rotation%s of this node at the hub",
						sent, sent == 1 ? "" : "s")));
}

/*
 * Publish this node's key revocations the hub has not stored, for keys
 * the hub knows (docs/security.md).  The revocation record was signed by
 * revoke_node_key; the submission is signed by the current key.
 */
static void
publish_revocations(RoundState *st)
{
	const char *values[1] = {(const char *) st->signer->node_id};
	int			lengths[1] = {DS_UUID_LEN};
	PGresult   *r;
	int			n;
	int			nhub;
	uint8		(*hub_kids)[DS_HASH_LEN];
	bool	   *hub_revoked;
	SPITupleTable *tt;

	n = ds_spi_exec("SELECT key_id, revocation, revocation_signature, revocation_reason"
					" FROM dataspace.node_key WHERE revocation IS NOT NULL ORDER BY revoked_at",
					0, NULL, NULL, NULL, true, -1);
	if (n == 0)
		return;
	tt = SPI_tuptable;
	r = remote("SELECT key_id, revoked_at IS NOT NULL FROM dataspace.participant_key"
			   " WHERE node_id = $1::uuid", 1, values, lengths, PGRES_TUPLES_OK);
	nhub = PQntuples(r);
	hub_kids = palloc(sizeof(*hub_kids) * Max(nhub, 1));
	hub_revoked = palloc(sizeof(bool) * Max(nhub, 1));
	for (int j = 0; j < nhub; j++)
	{
		if (PQgetlength(r, j, 0) == DS_HASH_LEN)
			memcpy(hub_kids[j], PQgetvalue(r, j, 0), DS_HASH_LEN);
		else
			memset(hub_kids[j], 0, DS_HASH_LEN);
		hub_revoked[j] = PQgetlength(r, j, 1) == 1 && PQgetvalue(r, j, 1)[0] != 0;
	}
	PQclear(r);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		bytea	   *kid = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		bytea	   *rec = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		bytea	   *sig = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		char	   *why = SPI_getvalue(tt->vals[i], tt->tupdesc, 4);
		bool		known = false;
		bool		revoked = false;
		ds_json_writer w;
		char	   *payload;
		char	   *reason;

		for (int j = 0; j < nhub; j++)
			if (memcmp(hub_kids[j], VARDATA_ANY(kid), DS_HASH_LEN) == 0)
			{
				known = true;
				revoked = hub_revoked[j];
			}
		if (!known || revoked)
			continue;
		payload = palloc(4096);
		ds_json_writer_init(&w, payload, 4096);
		ds_json_put(&w, "{\"reason\": ");
		ds_json_put_string(&w, why ? why : "");
		ds_json_put(&w, ",");
		ds_json_put(&w, "\"revocation\": \"%s\"",
					ds_hex((const uint8 *) VARDATA_ANY(rec), VARSIZE_ANY_EXHDR(rec)));
		ds_json_put(&w, ",");
		ds_json_put_hex(&w, "revocation_signature", (const uint8 *) VARDATA_ANY(sig),
						VARSIZE_ANY_EXHDR(sig));
		ds_json_put(&w, "}");
		if (ds_json_done(&w) == 0)
		{
			ereport(WARNING,
					(errmsg("the revocation reason of key %s is too long to publish",
							ds_hex((const uint8 *) VARDATA_ANY(kid), DS_HASH_LEN))));
			continue;
		}
		reason = submit(st, "revoke_key", payload);
		if (reason)
			ereport(WARNING,
					(errmsg("the hub refused the revocation of key %s: %s",
							ds_hex((const uint8 *) VARDATA_ANY(kid), DS_HASH_LEN), reason)));
		else
			ereport(LOG,
					(errmsg("published the revocation of key %s at the hub",
							ds_hex((const uint8 *) VARDATA_ANY(kid), DS_HASH_LEN))));
	}
}

static void
register_node(RoundState *st)
{
	DsNode		node;
	ds_json_writer w;
	char	   *payload = palloc(2048);
	char	   *reason;

	if (!ds_node_load(&node))
		elog(ERROR, "node identity vanished");
	ds_json_writer_init(&w, payload, 2048);
	ds_json_put(&w, "{\"endpoint\":");
	ds_json_put_string(&w, dataspace_endpoint ? dataspace_endpoint : "");
	ds_json_put(&w, ",\"name\":");
	ds_json_put_string(&w, node.name);
	ds_json_put(&w, ",");
	ds_json_put_hex(&w, "public_key", st->signer->public_key, DS_PUBKEY_LEN);
	ds_json_put(&w, "}");
	if (ds_json_done(&w) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("node name or endpoint too long to register")));
	reason = submit(st, "register", payload);
	if (reason)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the hub refused this node's registration: %s", reason)));
	ereport(LOG, (errmsg("registered node \"%s\" at the hub; waiting for approval", node.name)));
	st->registered = true;
	st->status = "pending";
}

/*
 * Publish public assets whose descriptor changed, withdraw those no longer
 * public.  Private assets are never named to the hub.
 */
static void
publish_assets(RoundState *st)
{
	int			n;
	int64		published = 0;

	n = ds_spi_exec("SELECT a.id, pg_catalog.jsonb_build_object("
					" 'asset_id', a.id, 'name', a.name, 'kind', a.kind, 'value_type', a.value_type,"
					" 'unit', a.unit, 'description', a.description, 'tags', pg_catalog.to_jsonb(a.tags),"
					" 'twin', t.name)::text"
					" FROM dataspace.asset a JOIN dataspace.twin t ON t.id OPERATOR(pg_catalog.=) a.twin_id"
					" LEFT JOIN dataspace.hub_publication p ON p.asset_id OPERATOR(pg_catalog.=) a.id"
					" WHERE a.visibility OPERATOR(pg_catalog.=) 'public'"
					" AND a.node_id OPERATOR(pg_catalog.=) $1"
					" AND p.descriptor IS DISTINCT FROM pg_catalog.jsonb_build_object("
					" 'asset_id', a.id, 'name', a.name, 'kind', a.kind, 'value_type', a.value_type,"
					" 'unit', a.unit, 'description', a.description, 'tags', pg_catalog.to_jsonb(a.tags),"
					" 'twin', t.name)::text ORDER BY a.id",
					1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(st->signer->node_id)},
					NULL, true, -1);
	if (n > 0)
	{
		SPITupleTable *tt = SPI_tuptable;
		char	  **ids = palloc(sizeof(char *) * n);
		char	  **descs = palloc(sizeof(char *) * n);

		for (int i = 0; i < n; i++)
		{
			ids[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
			descs[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, 2);
		}
		for (int i = 0; i < n; i++)
		{
			char	   *reason = submit(st, "publish_asset", descs[i]);

			if (reason)
			{
				ereport(WARNING,
						(errmsg("the hub refused to publish asset %s: %s", ids[i], reason)));
				continue;
			}
			ds_spi_exec("INSERT INTO dataspace.hub_publication (asset_id, descriptor, published_at)"
						" VALUES ($1::uuid, $2, pg_catalog.now())"
						" ON CONFLICT (asset_id) DO UPDATE SET descriptor = EXCLUDED.descriptor,"
						" published_at = EXCLUDED.published_at",
						2, (Oid[]) {TEXTOID, TEXTOID},
						(Datum[]) {CStringGetTextDatum(ids[i]), CStringGetTextDatum(descs[i])},
						NULL, false, 1);
			published++;
		}
	}

	/* published before, private or gone now */
	n = ds_spi_exec("SELECT p.asset_id FROM dataspace.hub_publication p"
					" WHERE NOT EXISTS (SELECT FROM dataspace.asset a"
					" WHERE a.id OPERATOR(pg_catalog.=) p.asset_id"
					" AND a.visibility OPERATOR(pg_catalog.=) 'public')",
					0, NULL, NULL, NULL, true, -1);
	if (n > 0)
	{
		SPITupleTable *tt = SPI_tuptable;
		char	  **ids = palloc(sizeof(char *) * n);

		for (int i = 0; i < n; i++)
			ids[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		for (int i = 0; i < n; i++)
		{
			char	   *payload = psprintf("{\"asset_id\":\"%s\"}", ids[i]);
			char	   *reason = submit(st, "withdraw_asset", payload);

			if (reason)
			{
				ereport(WARNING,
						(errmsg("the hub refused to withdraw asset %s: %s", ids[i], reason)));
				continue;
			}
			ds_spi_exec("DELETE FROM dataspace.hub_publication WHERE asset_id OPERATOR(pg_catalog.=) $1::uuid",
						1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(ids[i])},
						NULL, false, 1);
		}
	}
	if (published > 0)
		ereport(DEBUG1, (errmsg_internal("published " INT64_FORMAT " assets at the hub", published)));
}

/*
 * Audit a participant that this node cached for the first time or whose
 * cached registration changed (a new key, name or endpoint, approval).
 */
static void
audit_participant_cached(const uint8 node_id[DS_UUID_LEN], const char *what,
						 const char *name, const uint8 key_id[DS_HASH_LEN])
{
	ds_audit_append("participant.cache", ds_uuid_text(node_id),
					ds_audit_json(3, "change", what, "name", name,
								  "key_id", ds_hex(key_id, DS_HASH_LEN)));
}

/*
 * One key of a participant's history as the hub shows it (the columns of
 * the query in fetch_key_chain), checked by check_key_chain.
 */
typedef struct ChainKey
{
	uint8		key_id[DS_HASH_LEN];
	uint8		public_key[DS_PUBKEY_LEN];
	int64		valid_from_us;	/* from the signed registration/announcement */
	bool		has_until;
	int64		valid_until_us;
	Datum		announcement;	/* bytea, or 0 for the registered key */
	Datum		announcement_signature;
	Datum		possession_signature;
	bool		revocation_ok;	/* a revocation that verifies */
	ds_key_revoke revocation;
	Datum		revocation_record;
	Datum		revocation_signature;
	char	   *revocation_reason;
} ChainKey;

/*
 * Fetch participant node_id's keys from the hub and check them as a
 * chain: the first is the key the registration is signed with (and
 * self-signed by), each later one is announced in a record signed by the
 * one before it and carries its own proof of possession, and the last is
 * the key the hub shows for the participant.  Revocations are checked
 * too: signed by another key of the chain.  Returns the number of keys, or
 * -1 with *why set.
 */
static int
fetch_key_chain(const uint8 node_id[DS_UUID_LEN], const ds_submission *reg,
				const uint8 *reg_msg, size_t reg_len, const uint8 reg_sig[DS_SIG_LEN],
				const uint8 current_kid[DS_HASH_LEN], const uint8 current_pk[DS_PUBKEY_LEN],
				ChainKey **out, char **why)
{
	const char *values[1] = {(const char *) node_id};
	int			lengths[1] = {DS_UUID_LEN};
	PGresult   *r;
	int			n;
	ChainKey   *keys;
	ds_hasher  *h = ds_backend_hasher();

	r = remote("SELECT key_id, public_key, previous_key_id, announcement, announcement_signature,"
			   " possession_signature, revocation, revocation_signature, revocation_reason"
			   " FROM dataspace.participant_key WHERE node_id = $1::uuid ORDER BY position",
			   1, values, lengths, PGRES_TUPLES_OK);
	n = PQntuples(r);
	keys = palloc0(sizeof(ChainKey) * Max(n, 1));
	*why = NULL;
	for (int i = 0; i < n && *why == NULL; i++)
	{
		ChainKey   *k = &keys[i];
		uint8		kid[DS_HASH_LEN];

		/*
		 * Keys after the current one are rotations the hub accepted after it
		 * answered the participant query: the next round takes them.
		 */
		if (i > 0 && memcmp(keys[i - 1].key_id, current_kid, DS_HASH_LEN) == 0)
		{
			n = i;
			break;
		}

		if (PQgetisnull(r, i, 0) || PQgetlength(r, i, 0) != DS_HASH_LEN ||
			PQgetisnull(r, i, 1) || PQgetlength(r, i, 1) != DS_PUBKEY_LEN)
		{
			*why = pstrdup("the hub sent a malformed key");
			break;
		}
		memcpy(k->key_id, PQgetvalue(r, i, 0), DS_HASH_LEN);
		memcpy(k->public_key, PQgetvalue(r, i, 1), DS_PUBKEY_LEN);
		if (!ds_key_id(h, k->public_key, kid) || memcmp(kid, k->key_id, DS_HASH_LEN) != 0)
			*why = psprintf("key %s is not the id of its public key", ds_hex(k->key_id, DS_HASH_LEN));
		else if (i == 0)
		{
			if (!PQgetisnull(r, i, 2) ||
				memcmp(reg->key_id, k->key_id, DS_HASH_LEN) != 0 ||
				!ds_ed25519_verify(k->public_key, reg_msg, reg_len, reg_sig))
				*why = pstrdup("the registration is not signed by the participant's first key");
			k->valid_from_us = reg->submitted_at_us;
		}
		else
		{
			const uint8 *ann = (const uint8 *) PQgetvalue(r, i, 3);
			size_t		annlen = PQgetlength(r, i, 3);
			ds_key_announce a;

			if (PQgetisnull(r, i, 3) || PQgetisnull(r, i, 4) || PQgetisnull(r, i, 5) ||
				PQgetlength(r, i, 4) != DS_SIG_LEN || PQgetlength(r, i, 5) != DS_SIG_LEN ||
				!ds_key_announce_decode(ann, annlen, &a))
				*why = psprintf("key %s comes without a key announcement",
								ds_hex(k->key_id, DS_HASH_LEN));
			else if (memcmp(a.node_id, node_id, DS_UUID_LEN) != 0 ||
					 memcmp(a.key_id, k->key_id, DS_HASH_LEN) != 0 ||
					 memcmp(a.public_key, k->public_key, DS_PUBKEY_LEN) != 0 ||
					 memcmp(a.previous_key_id, keys[i - 1].key_id, DS_HASH_LEN) != 0)
				*why = psprintf("the announcement of key %s does not follow key %s",
								ds_hex(k->key_id, DS_HASH_LEN),
								ds_hex(keys[i - 1].key_id, DS_HASH_LEN));
			else if (!ds_ed25519_verify(keys[i - 1].public_key, ann, annlen,
										(const uint8 *) PQgetvalue(r, i, 4)))
				*why = psprintf("the announcement of key %s is not signed by key %s",
								ds_hex(k->key_id, DS_HASH_LEN),
								ds_hex(keys[i - 1].key_id, DS_HASH_LEN));
			else if (!ds_ed25519_verify(k->public_key, ann, annlen,
										(const uint8 *) PQgetvalue(r, i, 5)))
				*why = psprintf("key %s has no valid proof of possession",
								ds_hex(k->key_id, DS_HASH_LEN));
			else if (a.created_at_us < keys[i - 1].valid_from_us)
				*why = psprintf("key %s is announced before the key it follows",
								ds_hex(k->key_id, DS_HASH_LEN));
			else
			{
				k->valid_from_us = a.created_at_us;
				keys[i - 1].has_until = true;
				keys[i - 1].valid_until_us = a.created_at_us;
				k->announcement = get_bytea(r, i, 3);
				k->announcement_signature = get_bytea(r, i, 4);
				k->possession_signature = get_bytea(r, i, 5);
			}
		}
	}
	if (*why == NULL && n == 0)
		*why = pstrdup("the hub shows no keys for the participant");
	if (*why == NULL && (memcmp(keys[n - 1].key_id, current_kid, DS_HASH_LEN) != 0 ||
						 memcmp(keys[n - 1].public_key, current_pk, DS_PUBKEY_LEN) != 0))
		*why = psprintf("no chain of key announcements leads to key %s",
						ds_hex(current_kid, DS_HASH_LEN));
	/* revocations, each signed by another key of the chain */
	for (int i = 0; i < n && *why == NULL; i++)
	{
		ChainKey   *k = &keys[i];
		const uint8 *rec = (const uint8 *) PQgetvalue(r, i, 6);
		size_t		reclen = PQgetlength(r, i, 6);
		ds_key_revoke *rv = &k->revocation;

		if (PQgetisnull(r, i, 6))
			continue;
		if (PQgetisnull(r, i, 7) || PQgetlength(r, i, 7) != DS_SIG_LEN ||
			!ds_key_revoke_decode(rec, reclen, rv) ||
			memcmp(rv->node_id, node_id, DS_UUID_LEN) != 0 ||
			memcmp(rv->key_id, k->key_id, DS_HASH_LEN) != 0 ||
			memcmp(rv->signer_key_id, k->key_id, DS_HASH_LEN) == 0)
		{
			ereport(WARNING,
					(errmsg("ignoring the revocation of key %s of participant %s from the hub: it is malformed",
							ds_hex(k->key_id, DS_HASH_LEN), ds_uuid_text(node_id))));
			continue;
		}
		for (int j = 0; j < n; j++)
			if (memcmp(keys[j].key_id, rv->signer_key_id, DS_HASH_LEN) == 0 &&
				ds_ed25519_verify(keys[j].public_key, rec, reclen,
								  (const uint8 *) PQgetvalue(r, i, 7)))
				k->revocation_ok = true;
		if (!k->revocation_ok)
		{
			ereport(WARNING,
					(errmsg("ignoring the revocation of key %s of participant %s from the hub: it does not verify",
							ds_hex(k->key_id, DS_HASH_LEN), ds_uuid_text(node_id))));
			continue;
		}
		k->revocation_record = get_bytea(r, i, 6);
		k->revocation_signature = get_bytea(r, i, 7);
		k->revocation_reason = PQgetisnull(r, i, 8) ? NULL :
			pnstrdup(PQgetvalue(r, i, 8), PQgetlength(r, i, 8));
	}
	PQclear(r);
	*out = keys;
	return *why ? -1 : n;
}

/*
 * Keep the checked key chain of a participant in dataspace.participant_key:
 * new keys, validity ends, and revocations seen for the first time (each
 * audited and reported).
 */
static void
store_key_chain(const uint8 node_id[DS_UUID_LEN], const char *name,
				const ChainKey *keys, int n)
{
	for (int i = 0; i < n; i++)
	{
		const ChainKey *k = &keys[i];
		Oid			types[10] = {UUIDOID, BYTEAOID, BYTEAOID, INT4OID, BYTEAOID, BYTEAOID,
		BYTEAOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		args[10];
		char		nulls[10] = "          ";

		args[0] = ds_uuid_datum(node_id);
		args[1] = ds_bytea_datum(k->key_id, DS_HASH_LEN);
		args[2] = ds_bytea_datum(k->public_key, DS_PUBKEY_LEN);
		args[3] = Int32GetDatum(i + 1);
		if (i > 0)
		{
			args[4] = ds_bytea_datum(keys[i - 1].key_id, DS_HASH_LEN);
			args[5] = k->announcement;
			args[6] = k->announcement_signature;
			args[7] = k->possession_signature;
		}
		else
			nulls[4] = nulls[5] = nulls[6] = nulls[7] = 'n';
		args[8] = TimestampTzGetDatum(ds_unix_us_to_ts(k->valid_from_us));
		if (k->has_until)
			args[9] = TimestampTzGetDatum(ds_unix_us_to_ts(k->valid_until_us));
		else
			nulls[9] = 'n';
		ds_spi_exec("INSERT INTO dataspace.participant_key AS k (node_id, key_id, public_key, position,"
					" previous_key_id, announcement, announcement_signature, possession_signature,"
					" valid_from, valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
					" ON CONFLICT (node_id, key_id) DO UPDATE SET valid_until = EXCLUDED.valid_until"
					" WHERE k.valid_until IS DISTINCT FROM EXCLUDED.valid_until",
					10, types, args, nulls, false, -1);
		if (k->revocation_ok)
		{
			Oid			rtypes[8] = {UUIDOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
			BYTEAOID, BYTEAOID, BYTEAOID};
			Datum		rargs[8];
			char		rnulls[8] = "        ";
			TimestampTz since = ds_unix_us_to_ts(k->revocation.compromised_since_us);

			rargs[0] = args[0];
			rargs[1] = args[1];
			rargs[2] = TimestampTzGetDatum(ds_unix_us_to_ts(k->revocation.revoked_at_us));
			rargs[3] = TimestampTzGetDatum(since);
			if (k->revocation_reason)
				rargs[4] = CStringGetTextDatum(k->revocation_reason);
			else
				rnulls[4] = 'n';
			rargs[5] = k->revocation_record;
			rargs[6] = k->revocation_signature;
			rargs[7] = ds_bytea_datum(k->revocation.signer_key_id, DS_HASH_LEN);
			if (ds_spi_exec("UPDATE dataspace.participant_key SET revoked_at = $3,"
							" compromised_since = $4, revocation_reason = $5, revocation = $6,"
							" revocation_signature = $7, revocation_key_id = $8"
							" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2"
							" AND revoked_at IS NULL",
							8, rtypes, rargs, rnulls, false, -1) == 1)
			{
				ds_audit_append("participant.key_revoked", ds_uuid_text(node_id),
								ds_audit_json(3, "key_id", ds_hex(k->key_id, DS_HASH_LEN),
											  "compromised_since",
											  DatumGetCString(DirectFunctionCall1(timestamptz_out,
																				  TimestampTzGetDatum(since))),
											  "reason", k->revocation_reason));
				ereport(WARNING,
						(errmsg("participant \"%s\" (%s) revoked its key %s: compromised since %s",
								name, ds_uuid_text(node_id), ds_hex(k->key_id, DS_HASH_LEN),
								timestamptz_to_str(since)),
						 errdetail("Seals of this participant signed with that key after that time are not to be trusted.")));
			}
		}
	}
}

/*
 * A participant's key at the hub changed in a way this node refuses (no
 * chain of announcements from the key it holds): keep the cached key,
 * record the alarm once per distinct reason, and report it.
 */
static void
participant_key_alarm(const uint8 node_id[DS_UUID_LEN], const char *why)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		args[2] = {ds_uuid_datum(node_id), CStringGetTextDatum(why)};

	if (ds_spi_exec("UPDATE dataspace.participant SET key_alarm = $2, key_alarm_at = pg_catalog.now()"
					" WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_alarm IS DISTINCT FROM $2",
					2, types, args, NULL, false, -1) > 0)
	{
		ds_audit_append("participant.key_refused", ds_uuid_text(node_id),
						ds_audit_json(1, "reason", why));
		ereport(WARNING,
				(errmsg("refused the key the hub shows for participant %s: %s",
						ds_uuid_text(node_id), why),
				 errdetail("The key this node holds for the participant stays in use."),
				 errhint("A participant's key changes only through a key announcement signed by its previous key; ask the hub operator why it shows another key.")));
	}
}

/*
 * Cache the approved participants, each checked: the registration
 * self-signed by the participant's first key, for this hub, naming the
 * node it is stored for, and a chain of key announcements from that key
 * to the key the hub shows now (fetch_key_chain).  A participant this node
 * already holds keeps its cached key unless the chain passes through it:
 * the hub cannot replace a key without the old key's signature.
 */
static void
cache_participants(RoundState *st)
{
	PGresult   *r = remote("SELECT node_id, name, public_key, key_id, endpoint, registration,"
						   " registration_signature FROM dataspace.participant"
						   " WHERE status = 'approved'",
						   0, NULL, NULL, PGRES_TUPLES_OK);
	int			n = PQntuples(r);
	ds_hasher  *h = ds_backend_hasher();

	Datum	   *seen = palloc(sizeof(Datum) * Max(n, 1));
	int			nseen = 0;

	for (int i = 0; i < n; i++)
	{
		uint8		node_id[DS_UUID_LEN];
		uint8		pk[DS_PUBKEY_LEN];
		uint8		key_id[DS_HASH_LEN];
		uint8		sig[DS_SIG_LEN];
		uint8		kid[DS_HASH_LEN];
		uint8		cached_kid[DS_HASH_LEN];
		bool		cached;
		ds_submission s;
		const uint8 *reg = (const uint8 *) PQgetvalue(r, i, 5);
		size_t		reglen = PQgetlength(r, i, 5);
		Oid			types[8] = {UUIDOID, TEXTOID, BYTEAOID, BYTEAOID, TEXTOID, BYTEAOID, BYTEAOID};
		Datum		args[7];
		ChainKey   *chain;
		int			nchain;
		char	   *why;

		get_fixed(r, i, 0, node_id, DS_UUID_LEN, "participant id");
		get_fixed(r, i, 2, pk, DS_PUBKEY_LEN, "participant key");
		get_fixed(r, i, 3, key_id, DS_HASH_LEN, "participant key id");
		get_fixed(r, i, 6, sig, DS_SIG_LEN, "registration signature");
		memset(cached_kid, 0, sizeof(cached_kid));
		cached = ds_spi_exec("SELECT key_id FROM dataspace.participant"
							 " WHERE node_id OPERATOR(pg_catalog.=) $1",
							 1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(node_id)},
							 NULL, true, -1) == 1;
		if (cached)
			ds_spi_get_bytes(0, 1, cached_kid, DS_HASH_LEN);
		if (!ds_submission_decode(reg, reglen, &s) || strcmp(s.kind, "register") != 0 ||
			memcmp(s.node_id, node_id, DS_UUID_LEN) != 0 ||
			memcmp(s.hub_id, st->hub_id, DS_UUID_LEN) != 0 ||
			!ds_key_id(h, pk, kid) || memcmp(kid, key_id, DS_HASH_LEN) != 0)
			nchain = -1, why = pstrdup("its registration does not verify");
		else
			nchain = fetch_key_chain(node_id, &s, reg, reglen, sig, key_id, pk, &chain, &why);
		if (nchain >= 0 && cached && memcmp(cached_kid, key_id, DS_HASH_LEN) != 0)
		{
			bool		through = false;

			for (int j = 0; j < nchain; j++)
				if (memcmp(chain[j].key_id, cached_kid, DS_HASH_LEN) == 0)
					through = true;
			if (!through)
				nchain = -1, why = psprintf("no chain of key announcements leads from key %s to key %s",
											ds_hex(cached_kid, DS_HASH_LEN),
											ds_hex(key_id, DS_HASH_LEN));
		}
		if (nchain < 0)
		{
			if (cached && memcmp(cached_kid, key_id, DS_HASH_LEN) != 0)
			{
				/* the cached key stays, and so does the participant */
				participant_key_alarm(node_id, why);
				seen[nseen++] = ds_uuid_datum(node_id);
			}
			else
				ereport(WARNING,
						(errmsg("ignoring participant %s from the hub: %s",
								ds_uuid_text(node_id), why)));
			continue;
		}
		args[0] = ds_uuid_datum(node_id);
		args[1] = get_text(r, i, 1);
		args[2] = ds_bytea_datum(pk, DS_PUBKEY_LEN);
		args[3] = ds_bytea_datum(key_id, DS_HASH_LEN);
		args[4] = get_text(r, i, 4);
		args[5] = get_bytea(r, i, 5);
		args[6] = ds_bytea_datum(sig, DS_SIG_LEN);
		ds_spi_exec("INSERT INTO dataspace.participant AS p (node_id, name, public_key, key_id, endpoint,"
					" status, registration, registration_signature)"
					" VALUES ($1, $2, $3, $4, $5, 'approved', $6, $7)"
					" ON CONFLICT (node_id) DO UPDATE SET name = EXCLUDED.name,"
					" public_key = EXCLUDED.public_key, key_id = EXCLUDED.key_id,"
					" endpoint = EXCLUDED.endpoint, status = 'approved',"
					" registration = EXCLUDED.registration,"
					" registration_signature = EXCLUDED.registration_signature"
					" WHERE p.status OPERATOR(pg_catalog.<>) 'approved'"
					" OR p.name OPERATOR(pg_catalog.<>) EXCLUDED.name"
					" OR p.public_key OPERATOR(pg_catalog.<>) EXCLUDED.public_key"
					" OR p.endpoint OPERATOR(pg_catalog.<>) EXCLUDED.endpoint"
					" OR p.registration OPERATOR(pg_catalog.<>) EXCLUDED.registration"
					" RETURNING p.xmax OPERATOR(pg_catalog.=) '0'::pg_catalog.xid",
					7, types, args, NULL, false, -1);
		if (SPI_processed == 1)
		{
			bool		isnull;
			bool		inserted = ds_spi_getbool(0, 1, &isnull);

			audit_participant_cached(node_id,
									 inserted ? "new" :
									 memcmp(cached_kid, key_id, DS_HASH_LEN) != 0 ? "key rotated" : "changed",
									 TextDatumGetCString(args[1]), key_id);
		}
		store_key_chain(node_id, TextDatumGetCString(args[1]), chain, nchain);
		seen[nseen++] = args[0];
	}
	PQclear(r);
	/* no longer approved at the hub: suspended here too, kept for history */
	n = ds_spi_exec("UPDATE dataspace.participant SET status = 'suspended'"
					" WHERE status OPERATOR(pg_catalog.=) 'approved'"
					" AND node_id OPERATOR(pg_catalog.<>) ALL ($1) RETURNING node_id::text",
					1, (Oid[]) {UUIDARRAYOID},
					(Datum[]) {PointerGetDatum(construct_array(seen, nseen, UUIDOID,
															   UUID_LEN, false, TYPALIGN_CHAR))},
					NULL, false, -1);
	if (n > 0)
	{
		SPITupleTable *tt = SPI_tuptable;
		char	  **ids = palloc(sizeof(char *) * n);

		for (int i = 0; i < n; i++)
			ids[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, 1);
		for (int i = 0; i < n; i++)
			ds_audit_append("participant.suspend", ids[i],
							ds_audit_json(1, "reason", "no longer approved at the hub"));
	}
}

/*
 * Cache the catalog: each entry must be a publication signed by its
 * provider's registered key, naming the asset it is stored for.
 */
static void
cache_catalog(RoundState *st)
{
	PGresult   *r = remote("SELECT asset_id, provider_id, twin_name, name, kind, value_type, unit,"
						   " description, tags, published_at, publication, publication_signature"
						   " FROM dataspace.hub_catalog",
						   0, NULL, NULL, PGRES_TUPLES_OK);
	int			n = PQntuples(r);

	ds_spi_exec("DELETE FROM dataspace.hub_catalog", 0, NULL, NULL, NULL, false, -1);
	for (int i = 0; i < n; i++)
	{
		uint8		asset[DS_UUID_LEN];
		uint8		provider[DS_UUID_LEN];
		uint8		sig[DS_SIG_LEN];
		uint8		pk[DS_PUBKEY_LEN];
		uint8		key_id[DS_HASH_LEN];
		ds_submission s;
		const uint8 *pub = (const uint8 *) PQgetvalue(r, i, 10);
		size_t		publen = PQgetlength(r, i, 10);
		Oid			ptypes[1] = {UUIDOID};
		Datum		pargs[1];
		Datum		args[3];
		bool		ok;

		get_fixed(r, i, 0, asset, DS_UUID_LEN, "asset id");
		get_fixed(r, i, 1, provider, DS_UUID_LEN, "provider id");
		get_fixed(r, i, 11, sig, DS_SIG_LEN, "publication signature");
		pargs[0] = ds_uuid_datum(provider);
		if (ds_spi_exec("SELECT 1 FROM dataspace.participant"
						" WHERE node_id OPERATOR(pg_catalog.=) $1"
						" AND status OPERATOR(pg_catalog.=) 'approved'",
						1, ptypes, pargs, NULL, true, -1) != 1)
			continue;			/* a provider we do not know (yet) */
		ok = ds_submission_decode(pub, publen, &s) &&
			strcmp(s.kind, "publish_asset") == 0 &&
			memcmp(s.node_id, provider, DS_UUID_LEN) == 0;
		/*
		 * Under the provider's key that was valid when it published: a
		 * publication made before a rotation keeps verifying under the
		 * old key of the checked chain.
		 */
		if (ok)
		{
			Datum		kargs[3] = {pargs[0], ds_bytea_datum(s.key_id, DS_HASH_LEN),
			TimestampTzGetDatum(ds_unix_us_to_ts(s.submitted_at_us))};

			ok = ds_spi_exec("SELECT public_key, key_id FROM dataspace.participant_key"
							 " WHERE node_id OPERATOR(pg_catalog.=) $1 AND key_id OPERATOR(pg_catalog.=) $2"
							 " AND valid_from OPERATOR(pg_catalog.<=) $3"
							 " AND (valid_until IS NULL OR valid_until OPERATOR(pg_catalog.>) $3)",
							 3, (Oid[]) {UUIDOID, BYTEAOID, TIMESTAMPTZOID}, kargs,
							 NULL, true, -1) == 1;
			if (ok)
			{
				ds_spi_get_bytes(0, 1, pk, DS_PUBKEY_LEN);
				ds_spi_get_bytes(0, 2, key_id, DS_HASH_LEN);
				ok = ds_ed25519_verify(pk, pub, publen, sig);
			}
		}
		if (ok)
		{
			/* the signed payload names this asset */
			args[0] = PointerGetDatum(cstring_to_text_with_len((const char *) s.payload,
															   s.payload_len));
			args[1] = ds_bytea_datum(pub, publen);
			args[2] = ds_bytea_datum(sig, DS_SIG_LEN);
			ok = ds_spi_exec("INSERT INTO dataspace.hub_catalog (asset_id, provider_id, twin_name, name,"
							 " kind, value_type, unit, description, tags, published_at, publication,"
							 " publication_signature)"
							 " SELECT (j OPERATOR(pg_catalog.->>) 'asset_id')::uuid, $4,"
							 " j OPERATOR(pg_catalog.->>) 'twin', j OPERATOR(pg_catalog.->>) 'name',"
							 " j OPERATOR(pg_catalog.->>) 'kind', j OPERATOR(pg_catalog.->>) 'value_type',"
							 " j OPERATOR(pg_catalog.->>) 'unit', j OPERATOR(pg_catalog.->>) 'description',"
							 " COALESCE(ARRAY(SELECT pg_catalog.jsonb_array_elements_text("
							 " j OPERATOR(pg_catalog.->) 'tags')), '{}'), $5, $2, $3"
							 " FROM (SELECT $1::jsonb AS j) p"
							 " WHERE (j OPERATOR(pg_catalog.->>) 'asset_id')::uuid OPERATOR(pg_catalog.=) $6",
							 6, (Oid[]) {TEXTOID, BYTEAOID, BYTEAOID, UUIDOID, TIMESTAMPTZOID, UUIDOID},
							 (Datum[]) {args[0], args[1], args[2], ds_uuid_datum(provider),
								 TimestampTzGetDatum(ds_unix_us_to_ts(s.submitted_at_us)),
								 ds_uuid_datum(asset)},
							 NULL, false, -1) == 1;
		}
		if (!ok)
			ereport(WARNING,
					(errmsg("ignoring catalog entry %s from the hub: its publication does not verify",
							ds_uuid_text(asset))));
	}
	PQclear(r);
}

/* ---------------------------------------------------------------------
 * Contract steps (docs/contracts.md)
 *
 * Push: this node's steps still in the outbox, in the order they were
 * made; a step the hub refuses is marked with the reason and holds back
 * the later steps of its contract.  Pull: every step of this node's
 * contracts the hub recorded since the last round; the counterparty's are
 * verified and applied (contract.c), each in a subtransaction so that one
 * bad step does not stop the others; this node's own are marked
 * delivered.  A counterparty's step at a number this node used for steps
 * the hub refused is a crossing the counterparty won: contract.c
 * reconciles, superseding this node's steps, which are then neither sent
 * nor holding anything back.  Keys: the participants' keys the hub shows now are checked
 * against the fingerprints the contracts pin, so a hub that substitutes a
 * key under an existing contract is reported.
 * ---------------------------------------------------------------------
 */

/*
 * Whether the hub still has this node approved, asked again only once it
 * refused a submission this round.  The hub may suspend the node in the
 * middle of a round (two copies of it submitted, or its operator acted):
 * then what it shows a suspended participant (no tree heads, no catalog,
 * no other participants) is not the dataspace, and a step it refuses for
 * that is not the step's fault.  So the round stops there, caches and
 * steps as they are, and the steps go once the node is approved again.
 */
static bool
still_approved(RoundState *st)
{
	if (st->refused)
	{
		PGresult   *r = remote("SELECT status, suspension_reason FROM dataspace.hub_whoami()"
							   " WHERE node_id IS NOT NULL", 0, NULL, NULL, PGRES_TUPLES_OK);

		st->refused = false;
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
			take_status(st, r, 0);
		else
			st->status = NULL;	/* no longer registered */
		PQclear(r);
	}
	return st->status != NULL && strcmp(st->status, "approved") == 0;
}

/*
 * A round runs in one transaction, and SPI runs a read-only statement in
 * the snapshot that was active when the round began: without a new one,
 * what the round itself wrote (the participants it cached, the steps it
 * signed again, the tree head it fetched) stays invisible to the round's
 * later reads.  Called between the phases of a round.
 */
static void
round_snapshot_refresh(void)
{
	CommandCounterIncrement();
	PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * Whether the other party of a step the hub refused is still approved
 * there.  This node's cache of the participants may be older than the
 * hub's decision to suspend it: the participants are cached again, once
 * a round, and a granting step whose other party is no longer approved
 * waits for it, as if the cache had known (it would be refused for good
 * otherwise).
 */
static bool
other_party_approved(RoundState *st, pg_uuid_t *other)
{
	if (!st->recached)
	{
		st->recached = true;
		cache_participants(st);
		round_snapshot_refresh();
	}
	return ds_spi_exec("SELECT FROM dataspace.participant WHERE node_id OPERATOR(pg_catalog.=) $1"
					   " AND status OPERATOR(pg_catalog.=) 'approved'",
					   1, (Oid[]) {UUIDOID}, (Datum[]) {UUIDPGetDatum(other)},
					   NULL, true, -1) == 1;
}

static void
push_contract_steps(RoundState *st, const DsSigner *signer, bool only_signer)
{
	int			n;
	SPITupleTable *tt;

	/*
	 * Steps that waited across a rotation the hub has taken would be
	 * refused under their old key: they go signed again under the new one.
	 */
	if (!only_signer && memcmp(st->hub_key_id, st->signer->key_id, DS_HASH_LEN) == 0)
	{
		ds_contract_resign_outbox(st->signer);
		round_snapshot_refresh();
	}

	n = ds_spi_exec("SELECT s.contract_id, s.step_no, s.message, pg_catalog.json_build_object("
					" 'contract', pg_catalog.encode(c.canonical, 'hex'),"
					" 'step', pg_catalog.encode(s.message, 'hex'),"
					" 'signature', pg_catalog.encode(s.signature, 'hex'))::text,"
					" s.step, p.status IS NOT DISTINCT FROM 'approved', o.id"
					" FROM dataspace.contract_step s JOIN dataspace.contract c"
					" ON c.id OPERATOR(pg_catalog.=) s.contract_id"
					" CROSS JOIN LATERAL (SELECT CASE WHEN c.provider_id OPERATOR(pg_catalog.=) s.actor_id"
					" THEN c.consumer_id ELSE c.provider_id END) o(id)"
					" LEFT JOIN dataspace.participant p ON p.node_id OPERATOR(pg_catalog.=) o.id"
					" WHERE s.local AND s.delivered_at IS NULL AND s.delivery_error IS NULL"
					" AND s.superseded_at IS NULL"
					" AND NOT EXISTS (SELECT FROM dataspace.contract_step e"
					" WHERE e.contract_id OPERATOR(pg_catalog.=) s.contract_id"
					" AND e.step_no OPERATOR(pg_catalog.<) s.step_no AND e.delivery_error IS NOT NULL"
					" AND e.superseded_at IS NULL)"
					" ORDER BY s.seq",
					0, NULL, NULL, NULL, true, -1);
	if (n == 0)
		return;
	tt = SPI_tuptable;
	{
		pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * n);
		pg_uuid_t  *others = palloc(sizeof(pg_uuid_t) * n);
		int64	   *nos = palloc(sizeof(int64) * n);
		char	  **payloads = palloc(sizeof(char *) * n);
		bool	   *grants = palloc(sizeof(bool) * n);
		bool	   *refused = palloc0(sizeof(bool) * n);
		bool	   *waits = palloc0(sizeof(bool) * n);

		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = *DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			others[i] = *DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 7, &isnull));
			nos[i] = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			payloads[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, 4);
			grants[i] = !ds_contract_step_withdraws(SPI_getvalue(tt->vals[i], tt->tupdesc, 5));

			/*
			 * A step that grants something waits while the other party is
			 * not approved at the hub, which would refuse it for good.
			 */
			waits[i] = grants[i] && !ds_spi_getbool(i, 6, &isnull);
			if (only_signer && !waits[i])
			{
				bytea	   *m = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
				ds_contract_step step;

				waits[i] = !ds_contract_step_decode((const uint8 *) VARDATA_ANY(m),
													VARSIZE_ANY_EXHDR(m), &step) ||
					memcmp(step.actor_key_id, signer->key_id, DS_HASH_LEN) != 0;
			}
		}
		for (int i = 0; i < n; i++)
		{
			char	   *reason;
			Oid			types[3] = {UUIDOID, INT8OID, TEXTOID};
			Datum		args[3];
			char		nulls[3] = {' ', ' ', ' '};
			bool		held = false;

			/*
			 * A refused step holds back the later ones of its contract, in
			 * this round too; so does one that waits: for the other party's
			 * approval, or, before the rotations, under a key the hub does
			 * not hold yet.
			 */
			for (int j = 0; j < i && !held; j++)
				held = (refused[j] || waits[j]) && memcmp(ids[j].data, ids[i].data, UUID_LEN) == 0;
			if (held || waits[i])
			{
				waits[i] = true;
				continue;
			}
			reason = submit_as(st, signer, "contract_step", payloads[i]);
			if (reason != NULL && !still_approved(st))
			{
				ereport(WARNING,
						(errmsg("step " INT64_FORMAT " of contract %s waits: the hub no longer has this node approved",
								nos[i], ds_uuid_text(ids[i].data)),
						 errdetail("The hub's answer: %s.", reason)));
				return;
			}
			if (reason != NULL && grants[i] && !other_party_approved(st, &others[i]))
			{
				ereport(WARNING,
						(errmsg("step " INT64_FORMAT " of contract %s waits: the hub no longer has the other party approved",
								nos[i], ds_uuid_text(ids[i].data)),
						 errdetail("The hub's answer: %s.", reason)));
				waits[i] = true;
				continue;
			}
			refused[i] = reason != NULL;
			nulls[2] = reason ? ' ' : 'n';

			args[0] = UUIDPGetDatum(&ids[i]);
			args[1] = Int64GetDatum(nos[i]);
			args[2] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
			if (reason)
				contract_alarm(ids[i].data,
							   psprintf("the hub refused this node's step " INT64_FORMAT ": %s",
										nos[i], reason));
			ds_spi_exec("UPDATE dataspace.contract_step SET"
						" delivered_at = CASE WHEN $3 IS NULL THEN pg_catalog.now() END,"
						" delivery_error = $3"
						" WHERE contract_id OPERATOR(pg_catalog.=) $1"
						" AND step_no OPERATOR(pg_catalog.=) $2 AND superseded_at IS NULL",
						3, types, args, nulls, false, 1);
		}
	}
}

/* Record why a contract needs attention, once per distinct reason. */
static void
contract_alarm(const uint8 id[DS_UUID_LEN], const char *why)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		args[2] = {ds_uuid_datum(id), CStringGetTextDatum(why)};

	if (ds_spi_exec("UPDATE dataspace.contract SET alarm = $2"
					" WHERE id OPERATOR(pg_catalog.=) $1 AND alarm IS DISTINCT FROM $2",
					2, types, args, NULL, false, -1) > 0)
		ereport(WARNING,
				(errmsg("contract %s: %s", ds_uuid_text(id), why)));
}

/*
 * Apply one step of the counterparty in a subtransaction: NULL, or why it
 * was not applied.
 */
static char *
receive_one_step(const uint8 *canonical, size_t clen, const uint8 *msg,
				 size_t msglen, const uint8 *sig)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile why = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		char	   *w = NULL;

		if (ds_contract_receive(canonical, clen, msg, msglen, sig, true, &w) == NULL)
			why = MemoryContextStrdup(cxt, w);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		why = pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return why;
}

/*
 * A step that waits for the participant cache (step_key_not_cached) holds
 * back every step after it, so it waits a few rounds, not for ever: a hub
 * that relays a step and withholds the rotation that announced its key
 * would otherwise stop this node's contracts.  After that the step is
 * checked with the cache as it is, and refused.
 */
#define STEP_KEY_WAIT_ROUNDS 3
static int64 key_wait_seq = -1;	/* the hub's seq of the step that waits */
static int	key_wait_rounds = 0;

/*
 * Has the step at the hub's seq waited its rounds?  Counts this one, and
 * logs each round it waits.
 */
static bool
step_key_waited_enough(int64 seq, int64 step_no, const uint8 contract_id[DS_UUID_LEN])
{
	if (seq != key_wait_seq)
	{
		key_wait_seq = seq;
		key_wait_rounds = 0;
	}
	if (++key_wait_rounds > STEP_KEY_WAIT_ROUNDS)
		return true;
	ereport(LOG,
			(errmsg("step " INT64_FORMAT " of contract %s from the hub waits for the participant cache (round %d of %d)",
					step_no, ds_uuid_text(contract_id), key_wait_rounds, STEP_KEY_WAIT_ROUNDS),
			 errdetail("It is signed under a key of its party that this node has not cached; after %d rounds it is checked as the cache stands, and the steps after it wait with it.",
					   STEP_KEY_WAIT_ROUNDS)));
	return false;
}

/*
 * step_key_not_cached
 *		Is this a step of a party under a key after the one the contract
 *		pins (the party rotated) that this node has not cached yet?  The
 *		hub took the rotation before the step, but this round may have read
 *		the participants before the hub took either: the step waits for the
 *		next round's participant cache, instead of being refused for good.
 *		Not if this node refused the party's key chain (key_alarm): then the
 *		step is checked, and refused, now.
 */
static bool
step_key_not_cached(const uint8 *canonical, size_t clen, const uint8 *msg, size_t msglen,
					const uint8 actor[DS_UUID_LEN])
{
	ds_contract c;
	ds_contract_step st;
	const uint8 *pinned;

	if (!ds_contract_decode(canonical, clen, &c) || !ds_contract_step_decode(msg, msglen, &st))
		return false;
	pinned = memcmp(actor, c.provider_id, DS_UUID_LEN) == 0 ? c.provider_key_id : c.consumer_key_id;
	if (memcmp(st.actor_key_id, pinned, DS_HASH_LEN) == 0)
		return false;
	return ds_spi_exec("SELECT FROM dataspace.participant p WHERE p.node_id OPERATOR(pg_catalog.=) $1"
					   " AND p.key_alarm IS NULL AND NOT EXISTS (SELECT FROM dataspace.participant_key k"
					   "  WHERE k.node_id OPERATOR(pg_catalog.=) $1 AND k.key_id OPERATOR(pg_catalog.=) $2)",
					   2, (Oid[]) {UUIDOID, BYTEAOID},
					   (Datum[]) {ds_uuid_datum(actor), ds_bytea_datum(st.actor_key_id, DS_HASH_LEN)},
					   NULL, true, -1) == 1;
}

static void
pull_contract_steps(RoundState *st)
{
	int64		cursor = 0;
	int64		cursor_be;
	const char *values[1];
	int			lengths[1] = {8};
	PGresult   *r;
	int			n;

	if (ds_spi_exec("SELECT hub_cursor FROM dataspace.contract_sync_state", 0, NULL, NULL,
					NULL, true, -1) == 1)
		cursor = ds_spi_get_int64(0, 1);
	cursor_be = (int64) pg_hton64((uint64) cursor);
	values[0] = (const char *) &cursor_be;
	r = remote("SELECT s.seq, c.canonical, s.message, s.signature, s.contract_id, s.step_no,"
			   " s.actor_id FROM dataspace.contract_step s JOIN dataspace.contract c"
			   " ON c.id = s.contract_id WHERE s.seq > $1::bigint ORDER BY s.seq LIMIT 1000",
			   1, values, lengths, PGRES_TUPLES_OK);
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
	{
		int64		seq = get_int64(r, i, 0);
		const uint8 *canonical = (const uint8 *) PQgetvalue(r, i, 1);
		size_t		clen = PQgetlength(r, i, 1);
		const uint8 *msg = (const uint8 *) PQgetvalue(r, i, 2);
		size_t		msglen = PQgetlength(r, i, 2);
		uint8		sig[DS_SIG_LEN];
		uint8		contract_id[DS_UUID_LEN];
		uint8		actor[DS_UUID_LEN];
		int64		step_no = get_int64(r, i, 5);
		char	   *why = NULL;

		get_fixed(r, i, 3, sig, DS_SIG_LEN, "step signature");
		get_fixed(r, i, 4, contract_id, DS_UUID_LEN, "contract id");
		get_fixed(r, i, 6, actor, DS_UUID_LEN, "step actor");
		if (memcmp(actor, st->signer->node_id, DS_UUID_LEN) == 0)
		{
			uint8		hash[DS_HASH_LEN];
			Oid			types[4] = {UUIDOID, INT8OID, BYTEAOID, INT8OID};
			Datum		args[4];

			if (!ds_sha256(ds_backend_hasher(), msg, msglen, hash))
				elog(ERROR, "could not hash a contract step");
			args[0] = ds_uuid_datum(contract_id);
			args[1] = Int64GetDatum(step_no);
			args[2] = ds_bytea_datum(hash, DS_HASH_LEN);
			args[3] = Int64GetDatum(seq);
			if (ds_spi_exec("UPDATE dataspace.contract_step SET hub_seq = $4,"
							" delivered_at = COALESCE(delivered_at, pg_catalog.now()),"
							" delivery_error = NULL"
							" WHERE contract_id OPERATOR(pg_catalog.=) $1 AND step_no OPERATOR(pg_catalog.=) $2"
							" AND step_hash OPERATOR(pg_catalog.=) $3 AND local AND superseded_at IS NULL",
							4, types, args, NULL, false, -1) != 1)
			{
				/* a step the hub refused and this node then superseded cannot come back */
				if (ds_spi_exec("SELECT FROM dataspace.contract_step"
								" WHERE contract_id OPERATOR(pg_catalog.=) $1 AND step_no OPERATOR(pg_catalog.=) $2"
								" AND step_hash OPERATOR(pg_catalog.=) $3 AND superseded_at IS NOT NULL",
								3, types, args, NULL, true, -1) > 0)
					why = psprintf("the hub now holds step " INT64_FORMAT " of this node, which it had refused and this node superseded",
								   step_no);
				else
					why = psprintf("the hub holds a step " INT64_FORMAT " in this node's name that this node did not make",
								   step_no);
			}
		}
		else if (step_key_not_cached(canonical, clen, msg, msglen, actor) &&
				 !step_key_waited_enough(seq, step_no, contract_id))
			break;				/* this step and those after it: next round */
		else
		{
			why = receive_one_step(canonical, clen, msg, msglen, sig);
			if (why == NULL)
				ds_spi_exec("UPDATE dataspace.contract_step SET hub_seq = $3"
							" WHERE contract_id OPERATOR(pg_catalog.=) $1 AND step_no OPERATOR(pg_catalog.=) $2"
							" AND superseded_at IS NULL",
							3, (Oid[]) {UUIDOID, INT8OID, INT8OID},
							(Datum[]) {ds_uuid_datum(contract_id), Int64GetDatum(step_no), Int64GetDatum(seq)},
							NULL, false, -1);
		}
		if (why)
		{
			uint8		hash[DS_HASH_LEN];
			ds_contract_step decoded;

			ereport(WARNING,
					(errmsg("refused step " INT64_FORMAT " of contract %s from the hub: %s",
							step_no, ds_uuid_text(contract_id), why)));

			/*
			 * The alarm holds only the latest reason (the key check below may
			 * replace it in this very round), and the hub can take the step
			 * back: the audit log keeps every refusal, with the hash of the
			 * bytes that were refused.  The step's name is read from those
			 * bytes, not from what the hub says.
			 */
			if (!ds_sha256(ds_backend_hasher(), msg, msglen, hash))
				elog(ERROR, "could not hash a contract step");
			ds_audit_append("contract.step_refused", ds_uuid_text(contract_id),
							ds_audit_json(6,
										  "step_no", psprintf(INT64_FORMAT, step_no),
										  "step", ds_contract_step_decode(msg, msglen, &decoded) ?
										  decoded.step : "(malformed)",
										  "actor", ds_uuid_text(actor),
										  "hub_seq", psprintf(INT64_FORMAT, seq),
										  "step_hash", ds_hex(hash, DS_HASH_LEN),
										  "reason", why));
			contract_alarm(contract_id, psprintf("refused step " INT64_FORMAT " from the hub: %s",
												 step_no, why));
		}
		cursor = seq;
	}
	PQclear(r);
	ds_spi_exec("INSERT INTO dataspace.contract_sync_state AS s (singleton, hub_cursor)"
				" VALUES (true, $1) ON CONFLICT (singleton) DO UPDATE SET hub_cursor = $1",
				1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(cursor)}, NULL, false, 1);
}

/*
 * The keys the hub shows now against the fingerprints this node's
 * contracts pin: the hub cannot swap a party's key under a contract
 * unnoticed.  The pinned keys stay in use; the contract is marked.
 */
static void
check_contract_keys(RoundState *st)
{
	PGresult   *r = remote("SELECT node_id, public_key FROM dataspace.participant",
						   0, NULL, NULL, PGRES_TUPLES_OK);
	int			n = PQntuples(r);

	for (int i = 0; i < n; i++)
	{
		uint8		node_id[DS_UUID_LEN];
		uint8		kid[DS_HASH_LEN];
		Oid			types[2] = {UUIDOID, BYTEAOID};
		Datum		args[2];
		int			m;

		get_fixed(r, i, 0, node_id, DS_UUID_LEN, "participant id");
		if (PQgetisnull(r, i, 1) || PQgetlength(r, i, 1) != DS_PUBKEY_LEN ||
			!ds_key_id(ds_backend_hasher(), (const uint8 *) PQgetvalue(r, i, 1), kid))
			memset(kid, 0, sizeof(kid));
		args[0] = ds_uuid_datum(node_id);
		args[1] = ds_bytea_datum(kid, DS_HASH_LEN);
		/*
		 * A pinned key that the checked key chain leads from to the key the
		 * hub shows is a rotation, not a substitution: the contract still
		 * holds, but its steps need a contract made under the new key.
		 */
		m = ds_spi_exec("SELECT c.id, EXISTS (SELECT FROM dataspace.participant_key k"
						" JOIN dataspace.participant_key n ON n.node_id OPERATOR(pg_catalog.=) k.node_id"
						" AND n.key_id OPERATOR(pg_catalog.=) $2"
						" AND n.position OPERATOR(pg_catalog.>) k.position"
						" WHERE k.node_id OPERATOR(pg_catalog.=) $1"
						" AND k.key_id OPERATOR(pg_catalog.=) CASE WHEN c.provider_id OPERATOR(pg_catalog.=) $1"
						" THEN c.provider_key_id ELSE c.consumer_key_id END)"
						" FROM dataspace.contract c"
						" WHERE (c.provider_id OPERATOR(pg_catalog.=) $1"
						" AND c.provider_key_id OPERATOR(pg_catalog.<>) $2)"
						" OR (c.consumer_id OPERATOR(pg_catalog.=) $1"
						" AND c.consumer_key_id OPERATOR(pg_catalog.<>) $2)",
						2, types, args, NULL, true, -1);
		if (m > 0)
		{
			SPITupleTable *tt = SPI_tuptable;
			uint8	  (*ids)[DS_UUID_LEN] = palloc(m * DS_UUID_LEN);
			bool	   *rotated = palloc(sizeof(bool) * m);
			const char *who = memcmp(node_id, st->signer->node_id, DS_UUID_LEN) == 0 ? " (this node)" : "";

			for (int j = 0; j < m; j++)
			{
				bool		isnull;

				memcpy(ids[j], DatumGetUUIDP(SPI_getbinval(tt->vals[j], tt->tupdesc, 1, &isnull))->data,
					   DS_UUID_LEN);
				rotated[j] = DatumGetBool(SPI_getbinval(tt->vals[j], tt->tupdesc, 2, &isnull));
			}
			for (int j = 0; j < m; j++)
				contract_alarm(ids[j], rotated[j] ?
							   psprintf("participant %s%s rotated its key to %s since the contract pinned its key;"
										" the pinned key stays in use for the contract's data; steps that do not sign the contract are taken under the new key",
										ds_uuid_text(node_id), who, ds_hex(kid, DS_HASH_LEN)) :
							   psprintf("the hub shows participant %s%s with key %s, not the key the contract pins;"
										" the pinned key stays in use",
										ds_uuid_text(node_id), who, ds_hex(kid, DS_HASH_LEN)));
		}
	}
	PQclear(r);
}

static void
sync_contracts(RoundState *st)
{
	pgstat_report_activity(STATE_RUNNING, "moving contract steps");
	push_contract_steps(st, st->signer, false);
	round_snapshot_refresh();
	pull_contract_steps(st);
	round_snapshot_refresh();
	check_contract_keys(st);
}

/* ---------------------------------------------------------------------
 * The digest witness (docs/witness.md): anchors out, signed tree heads
 * and proofs in
 * ---------------------------------------------------------------------
 */

/* An int8 query parameter in binary (network order). */
static const char *
int8_param(int64 v, uint64 *buf)
{
	*buf = pg_hton64((uint64) v);
	return (const char *) buf;
}

/*
 * Send one anchor; on acceptance record it in dataspace.anchor.  Returns
 * false if the hub refused it.
 */
static bool
send_anchor(RoundState *st, const ds_anchor *a, int64 head_id)
{
	uint8		msg[DS_ANCHOR_MSG_MAX];
	size_t		len = ds_anchor_message(a, msg, sizeof(msg));
	char	   *hex;
	char	   *reason;
	Oid			types[9] = {TEXTOID, UUIDOID, INT8OID, INT8OID, BYTEAOID, INT8OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, BYTEAOID};
	Datum		args[9];

	if (len == 0)
		elog(ERROR, "could not encode an anchor");
	hex = palloc(2 * len + 1);
	ds_hex_encode(msg, len, hex);
	reason = submit(st, "anchor", psprintf("{\"anchor\":\"%s\"}", hex));
	if (reason)
	{
		ereport(WARNING,
				(errmsg("the hub refused an anchor of %s %s: %s", a->subject_kind,
						ds_uuid_text(a->subject_id), reason)));
		return false;
	}
	args[0] = CStringGetTextDatum(a->subject_kind);
	args[1] = ds_uuid_datum(a->subject_id);
	args[2] = Int64GetDatum(head_id);
	args[3] = Int64GetDatum(a->head_pos);
	args[4] = ds_bytea_datum(a->head_hash, DS_HASH_LEN);
	args[5] = Int64GetDatum(a->covered);
	args[6] = TimestampTzGetDatum(ds_unix_us_to_ts(a->last_ts_us));
	args[7] = TimestampTzGetDatum(ds_unix_us_to_ts(a->anchored_at_us));
	args[8] = ds_bytea_datum(msg, len);
	ds_spi_exec("INSERT INTO dataspace.anchor (subject_kind, subject_id, head_id, head_pos,"
				" head_hash, covered, last_ts, anchored_at, anchor)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9, types, args, NULL, false, 1);
	return true;
}

/*
 * Anchor the chain heads that moved since their last anchor: the seal
 * chains of this node's public assets, and the audit log.  Private assets
 * are never anchored: their ids would tell the hub they exist.  The audit
 * log's head is the one read when the round began: the entries the round
 * appends itself (key.announce, ...) are visible to it by now, and would
 * stay anchored at the hub if the round then failed.
 */
static void
publish_anchors(RoundState *st)
{
	int			n;
	Datum	   *assets;
	ds_anchor	a;

	n = ds_spi_exec("SELECT a.id FROM dataspace.asset a"
					" WHERE a.visibility OPERATOR(pg_catalog.=) 'public'"
					" AND a.node_id OPERATOR(pg_catalog.=) $1"
					" AND (SELECT pg_catalog.max(s.chain_pos) FROM dataspace.seal s"
					" WHERE s.asset_id OPERATOR(pg_catalog.=) a.id)"
					" OPERATOR(pg_catalog.>) COALESCE((SELECT pg_catalog.max(x.head_pos)"
					" FROM dataspace.anchor x WHERE x.subject_kind OPERATOR(pg_catalog.=) 'asset'"
					" AND x.subject_id OPERATOR(pg_catalog.=) a.id), 0)"
					" ORDER BY a.id",
					1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(st->signer->node_id)},
					NULL, true, -1);
	assets = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

		memcpy(u->data, DatumGetUUIDP(ds_spi_get(i, 1, &isnull))->data, UUID_LEN);
		assets[i] = UUIDPGetDatum(u);
	}
	for (int i = 0; i < n; i++)
	{
		DsSealRow	row;
		int64		covered;

		ds_spi_exec("SELECT " DS_SEAL_COLUMNS ", (SELECT pg_catalog.sum(c.point_count)::bigint"
					" FROM dataspace.seal c WHERE c.asset_id OPERATOR(pg_catalog.=) s.asset_id"
					" AND c.chain_pos OPERATOR(pg_catalog.<=) s.chain_pos)"
					" FROM dataspace.seal s WHERE s.asset_id OPERATOR(pg_catalog.=) $1"
					" ORDER BY s.chain_pos DESC LIMIT 1",
					1, (Oid[]) {UUIDOID}, &assets[i], NULL, true, 1);
		ds_seal_row_read(0, &row);
		covered = ds_spi_get_int64(0, 18);
		memset(&a, 0, sizeof(a));
		memcpy(a.node_id, st->signer->node_id, DS_UUID_LEN);
		strlcpy(a.subject_kind, DS_ANCHOR_ASSET, sizeof(a.subject_kind));
		memcpy(a.subject_id, row.s.asset_id, DS_UUID_LEN);
		a.head_pos = row.s.chain_pos;
		if (row.malformed || !ds_seal_hash(ds_backend_hasher(), &row.s, a.head_hash))
		{
			ereport(WARNING,
					(errmsg("not anchoring asset %s: its newest seal is malformed",
							ds_uuid_text(row.s.asset_id))));
			continue;
		}
		a.covered = covered;
		a.last_ts_us = row.s.max_ts_us;
		a.anchored_at_us = ds_ts_to_unix_us(GetCurrentTimestamp());
		send_anchor(st, &a, row.id);
	}

	if (st->audit_head)
	{
		int64		seq = st->audit_seq;

		ds_spi_exec("SELECT COALESCE(pg_catalog.max(head_pos), 0) FROM dataspace.anchor"
					" WHERE subject_kind OPERATOR(pg_catalog.=) 'audit_log'",
					0, NULL, NULL, NULL, true, 1);
		if (seq > ds_spi_get_int64(0, 1))
		{
			memset(&a, 0, sizeof(a));
			memcpy(a.node_id, st->signer->node_id, DS_UUID_LEN);
			strlcpy(a.subject_kind, DS_ANCHOR_AUDIT_LOG, sizeof(a.subject_kind));
			memcpy(a.subject_id, st->signer->node_id, DS_UUID_LEN);
			a.head_pos = seq;
			memcpy(a.head_hash, st->audit_hash, DS_HASH_LEN);
			a.covered = seq;
			a.last_ts_us = st->audit_at_us;
			a.anchored_at_us = ds_ts_to_unix_us(GetCurrentTimestamp());
			send_anchor(st, &a, seq);
		}
	}
}

/*
 * fetch_proof
 *		Run one of the hub's proof functions, sql taking two bigints, and
 *		copy out the proof; false if the hub returned none.
 */
static bool
fetch_proof(const char *sql, int64 a, int64 b, uint8 **proof, size_t *prooflen)
{
	PGresult   *r;
	uint64		b1,
				b2;
	const char *values[2];
	int			lengths[2] = {8, 8};

	values[0] = int8_param(a, &b1);
	values[1] = int8_param(b, &b2);
	r = remote(sql, 2, values, lengths, PGRES_TUPLES_OK);
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
	{
		PQclear(r);
		return false;
	}
	*prooflen = PQgetlength(r, 0, 0);
	*proof = palloc(Max(*prooflen, 1));
	memcpy(*proof, PQgetvalue(r, 0, 0), *prooflen);
	PQclear(r);
	return true;
}

/*
 * included_at_hub
 *		Ask the hub for the inclusion proof of the anchor at leaf index in
 *		the tree of size (root) and check it; the proof is returned for
 *		keeping.  -1 if the hub returned none, 0 if it does not verify.
 */
static int
included_at_hub(const uint8 *anchor, size_t alen, int64 index, int64 size,
				const uint8 root[DS_HASH_LEN], uint8 **proof, size_t *prooflen)
{
	uint8		leaf[DS_HASH_LEN];

	if (!fetch_proof("SELECT dataspace.hub_inclusion_proof($1::bigint, $2::bigint)",
					 index, size, proof, prooflen))
		return -1;
	return ds_log_leaf_hash(ds_backend_hasher(), anchor, alen, leaf) &&
		*prooflen % DS_HASH_LEN == 0 &&
		ds_merkle_verify_path(ds_backend_hasher(), leaf, (uint64) index, (uint64) size,
							  (const uint8 (*)[DS_HASH_LEN]) *proof,
							  (int) (*prooflen / DS_HASH_LEN), root);
}

/*
 * consistent_at_hub
 *		Ask the hub for the consistency proof from (old_size, old_root) to
 *		(new_size, new_root) and check it; the proof is returned for
 *		keeping.  False if it does not verify.
 */
static bool
consistent_at_hub(int64 old_size, const uint8 old_root[DS_HASH_LEN],
				  int64 new_size, const uint8 new_root[DS_HASH_LEN],
				  uint8 **proof, size_t *prooflen)
{
	if (!fetch_proof("SELECT dataspace.hub_consistency_proof($1::bigint, $2::bigint)",
					 old_size, new_size, proof, prooflen))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the hub sent no consistency proof")));
	return *prooflen % DS_HASH_LEN == 0 &&
		ds_merkle_verify_consistency(ds_backend_hasher(), (uint64) old_size,
									 (uint64) new_size, old_root, new_root,
									 (const uint8 (*)[DS_HASH_LEN]) *proof,
									 (int) (*prooflen / DS_HASH_LEN));
}

/*
 * Fetch the hub's newest signed tree head and cache it if it extends the
 * newest cached head (consistency proof checked); otherwise record a fork
 * and return false.
 */
static bool
fetch_tree_head(RoundState *st, int64 *latest_size, uint8 latest_root[DS_HASH_LEN])
{
	PGresult   *r;
	uint8		hubkey[DS_PUBKEY_LEN];
	uint8	   *msg;
	size_t		msglen;
	uint8		sig[DS_SIG_LEN];
	ds_tree_head th;
	int64		cached_size = 0;
	uint8		cached_root[DS_HASH_LEN];
	uint8	   *proof = NULL;
	size_t		prooflen = 0;

	*latest_size = 0;
	if (ds_spi_exec("SELECT tree_size, root_hash FROM dataspace.hub_tree_head"
					" ORDER BY tree_size DESC LIMIT 1", 0, NULL, NULL, NULL, true, -1) == 1)
	{
		cached_size = ds_spi_get_int64(0, 1);
		ds_spi_get_bytes(0, 2, cached_root, DS_HASH_LEN);
		*latest_size = cached_size;
		memcpy(latest_root, cached_root, DS_HASH_LEN);
	}
	r = remote("SELECT tree_size, message, signature FROM dataspace.witness_tree_head"
			   " ORDER BY tree_size DESC LIMIT 1", 0, NULL, NULL, PGRES_TUPLES_OK);
	if (PQntuples(r) == 0)
	{
		PQclear(r);
		if (cached_size > 0)
		{
			static const uint8 nosig[DS_SIG_LEN] = {0};

			memset(&th, 0, sizeof(th));
			ds_witness_record_fork(cached_size, cached_root, &th, nosig, 0, nosig,
								   "the hub shows an empty log", NULL);
			return false;
		}
		return true;
	}
	msglen = PQgetlength(r, 0, 1);
	msg = palloc(Max(msglen, 1));
	memcpy(msg, PQgetvalue(r, 0, 1), msglen);
	get_fixed(r, 0, 2, sig, DS_SIG_LEN, "tree head signature");
	PQclear(r);
	if (!ds_witness_hub_key(hubkey) || !ds_ed25519_verify(hubkey, msg, msglen, sig) ||
		!ds_tree_head_decode(msg, msglen, &th) ||
		memcmp(th.hub_id, st->hub_id, DS_UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the hub sent a tree head that does not verify under the pinned key")));

	if (cached_size > 0)
	{
		if (th.tree_size < cached_size)
		{
			ds_witness_record_fork(cached_size, cached_root, &th, msg, msglen, sig,
								   "the hub shows a smaller log than before", NULL);
			return false;
		}
		if (th.tree_size == cached_size)
		{
			if (memcmp(th.root, cached_root, DS_HASH_LEN) != 0)
			{
				ds_witness_record_fork(cached_size, cached_root, &th, msg, msglen, sig,
									   "the hub shows another root for the same size", NULL);
				return false;
			}
			return true;
		}
		if (!consistent_at_hub(cached_size, cached_root, th.tree_size, th.root,
							   &proof, &prooflen))
		{
			ds_witness_record_fork(cached_size, cached_root, &th, msg, msglen, sig,
								   "the consistency proof does not verify", NULL);
			return false;
		}
	}
	{
		Oid			types[8] = {INT8OID, BYTEAOID, TIMESTAMPTZOID, UUIDOID, BYTEAOID, BYTEAOID,
		INT8OID, BYTEAOID};
		Datum		args[8];
		char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', cached_size ? ' ' : 'n',
		cached_size ? ' ' : 'n'};

		args[0] = Int64GetDatum(th.tree_size);
		args[1] = ds_bytea_datum(th.root, DS_HASH_LEN);
		args[2] = TimestampTzGetDatum(ds_unix_us_to_ts(th.signed_at_us));
		args[3] = ds_uuid_datum(th.hub_id);
		args[4] = ds_bytea_datum(msg, msglen);
		args[5] = ds_bytea_datum(sig, DS_SIG_LEN);
		args[6] = Int64GetDatum(cached_size);
		args[7] = proof ? ds_bytea_datum(proof, prooflen) : ds_bytea_datum((const uint8 *) "", 0);
		ds_spi_exec("INSERT INTO dataspace.hub_tree_head (tree_size, root_hash, signed_at, hub_id,"
					" message, signature, prev_size, consistency_proof)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", 8, types, args, nulls, false, 1);
	}
	/* this node's consumers hand their heads again and get this one */
	Async_Notify(DS_NOTIFY_CHANNEL, DS_NOTIFY_TREE_HEAD);
	*latest_size = th.tree_size;
	memcpy(latest_root, th.root, DS_HASH_LEN);
	return true;
}

/*
 * For each anchor without one, learn its leaf index and fetch its
 * inclusion proof under the newest cached tree head, checked before it is
 * kept.  Later heads are tied to that one by the consistency proofs.
 */
static void
fetch_inclusion_proofs(RoundState *st, int64 size, const uint8 root[DS_HASH_LEN])
{
	int			n;
	SPITupleTable *tt;

	if (size == 0)
		return;
	n = ds_spi_exec("SELECT id, anchor, leaf_index FROM dataspace.anchor"
					" WHERE inclusion_proof IS NULL ORDER BY id", 0, NULL, NULL, NULL, true, -1);
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		bytea	   *anchor = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		int64		index;
		PGresult   *r;
		const char *values[1];
		int			lengths[1];
		uint8	   *proof;
		size_t		prooflen;
		int			included;

		values[0] = VARDATA_ANY(anchor);
		lengths[0] = VARSIZE_ANY_EXHDR(anchor);
		r = remote("SELECT leaf_index FROM dataspace.witness_leaf WHERE anchor = $1::bytea"
				   " ORDER BY leaf_index LIMIT 1", 1, values, lengths, PGRES_TUPLES_OK);
		if (PQntuples(r) != 1)
		{
			PQclear(r);
			continue;			/* not logged (yet): a later round asks again */
		}
		index = get_int64(r, 0, 0);
		PQclear(r);
		if (index >= size)
			continue;			/* logged after the head we hold */

		included = included_at_hub((const uint8 *) VARDATA_ANY(anchor), VARSIZE_ANY_EXHDR(anchor),
								   index, size, root, &proof, &prooflen);
		if (included < 0)
			continue;
		if (included == 0)
		{
			ereport(WARNING,
					(errmsg("the hub's inclusion proof of anchor " INT64_FORMAT " does not verify", id)));
			continue;
		}
		ds_spi_exec("UPDATE dataspace.anchor SET leaf_index = $2, proof_tree_size = $3,"
					" inclusion_proof = $4 WHERE id OPERATOR(pg_catalog.=) $1",
					4, (Oid[]) {INT8OID, INT8OID, INT8OID, BYTEAOID},
					(Datum[]) {Int64GetDatum(id), Int64GetDatum(index), Int64GetDatum(size),
						ds_bytea_datum(proof, prooflen)}, NULL, false, 1);
	}
}

/*
 * fetch_received_anchors
 *		Cache the anchors that the providers of this node's received assets
 *		sent to the hub (the hub shows a participant the leaves of assets it
 *		has a contract for as consumer), each with its inclusion proof under
 *		the newest cached tree head, checked before it is kept; so that
 *		verify_anchor can check a received asset with no network.  Leaves
 *		are taken in log order; one that does not check stops that asset
 *		until a later round.
 */
static void
fetch_received_anchors(RoundState *st, int64 size, const uint8 root[DS_HASH_LEN])
{
	int			n;
	SPITupleTable *tt;

	if (size == 0)
		return;
	n = ds_spi_exec("SELECT s.provider_id, s.asset_id,"
					" COALESCE((SELECT pg_catalog.max(r.leaf_index) FROM dataspace.received_anchor r"
					" WHERE r.asset_id OPERATOR(pg_catalog.=) s.asset_id), -1)"
					" FROM dataspace.subscription_state s ORDER BY s.asset_id",
					0, NULL, NULL, NULL, true, -1);
	tt = SPI_tuptable;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		pg_uuid_t  *provider = DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
		pg_uuid_t  *asset = DatumGetUUIDP(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
		int64		after = DatumGetInt64(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
		const char *values[4];
		int			lengths[4];
		uint64		b1,
					b2;
		PGresult   *leaves;
		int			nleaves;
		int64	   *indexes;
		uint8	  **anchors;
		size_t	   *alens;

		values[0] = (const char *) provider->data;
		values[1] = (const char *) asset->data;
		values[2] = int8_param(after, &b1);
		values[3] = int8_param(size, &b2);
		lengths[0] = lengths[1] = DS_UUID_LEN;
		lengths[2] = lengths[3] = 8;
		leaves = remote("SELECT leaf_index, anchor FROM dataspace.witness_leaf"
						" WHERE node_id = $1::uuid AND subject_kind = 'asset'"
						" AND subject_id = $2::uuid AND leaf_index > $3::bigint"
						" AND leaf_index < $4::bigint ORDER BY leaf_index LIMIT 100",
						4, values, lengths, PGRES_TUPLES_OK);
		/* copied out, so that no result is left open on an error */
		nleaves = PQntuples(leaves);
		indexes = palloc(sizeof(int64) * Max(nleaves, 1));
		anchors = palloc(sizeof(uint8 *) * Max(nleaves, 1));
		alens = palloc(sizeof(size_t) * Max(nleaves, 1));
		for (int k = 0; k < nleaves; k++)
		{
			uint64		be;

			if (PQgetisnull(leaves, k, 0) || PQgetlength(leaves, k, 0) != 8)
			{
				nleaves = k;
				break;
			}
			memcpy(&be, PQgetvalue(leaves, k, 0), 8);
			indexes[k] = (int64) pg_ntoh64(be);
			alens[k] = PQgetlength(leaves, k, 1);
			anchors[k] = palloc(Max(alens[k], 1));
			memcpy(anchors[k], PQgetvalue(leaves, k, 1), alens[k]);
		}
		PQclear(leaves);
		for (int k = 0; k < nleaves; k++)
		{
			int64		index = indexes[k];
			size_t		alen = alens[k];
			uint8	   *anchor = anchors[k];
			ds_anchor	a;
			uint8	   *proof;
			size_t		prooflen;
			int			included;

			if (!ds_anchor_decode(anchor, alen, &a) ||
				memcmp(a.node_id, provider->data, DS_UUID_LEN) != 0 ||
				strcmp(a.subject_kind, DS_ANCHOR_ASSET) != 0 ||
				memcmp(a.subject_id, asset->data, DS_UUID_LEN) != 0)
			{
				ereport(WARNING,
						(errmsg("the hub sent a malformed anchor of asset %s",
								ds_uuid_text(asset->data))));
				break;
			}
			included = included_at_hub(anchor, alen, index, size, root, &proof, &prooflen);
			if (included < 0)
				break;
			if (included == 0)
			{
				ereport(WARNING,
						(errmsg("the hub's inclusion proof of leaf " INT64_FORMAT " (asset %s) does not verify",
								index, ds_uuid_text(asset->data))));
				break;
			}
			ds_spi_exec("INSERT INTO dataspace.received_anchor (provider_id, asset_id, leaf_index,"
						" head_pos, head_hash, anchor, proof_tree_size, inclusion_proof)"
						" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
						8, (Oid[]) {UUIDOID, UUIDOID, INT8OID, INT8OID, BYTEAOID, BYTEAOID,
						INT8OID, BYTEAOID},
						(Datum[]) {UUIDPGetDatum(provider), UUIDPGetDatum(asset),
							Int64GetDatum(index), Int64GetDatum(a.head_pos),
							ds_bytea_datum(a.head_hash, DS_HASH_LEN),
							ds_bytea_datum(anchor, alen), Int64GetDatum(size),
						ds_bytea_datum(proof, prooflen)}, NULL, false, -1);
		}
	}
}

/*
 * check_peer_heads
 *		Decide the tree heads other nodes showed this one against the
 *		newest cached head (size, root), fetched at fetched_at: the hub
 *		must prove the smaller of the two a prefix of the larger.  A peer
 *		head larger than this node's newest, kept before the fetch, is one
 *		the hub signed and no longer shows: a fork too.  A larger one kept
 *		after it waits for the next round.
 */
static void
check_peer_heads(RoundState *st, int64 size, const uint8 root[DS_HASH_LEN],
				 TimestampTz fetched_at)
{
	DsPeerHead *heads;
	int			n;

	if (size == 0)
		return;
	n = ds_gossip_pending(&heads, 16);
	for (int i = 0; i < n; i++)
	{
		DsPeerHead *h = &heads[i];
		uint8	   *proof;
		size_t		prooflen;
		bool		ok;

		if (h->size == size)
		{
			ok = memcmp(h->root, root, DS_HASH_LEN) == 0;
			ds_gossip_settle(h, size, root, ok,
							 ok ? "the same root as the cached head of this size"
							 : "the hub signed two roots for the same tree size");
			continue;
		}
		if (h->size > size)
		{
			if (h->received_at < fetched_at)
				ds_gossip_settle(h, size, root, false,
								 "the hub signed a larger log for another node than it shows this node");
			continue;
		}
		ok = consistent_at_hub(h->size, h->root, size, root, &proof, &prooflen);
		ds_gossip_settle(h, size, root, ok,
						 ok ? "the hub proved it a prefix of this node's log"
						 : "the hub cannot prove it a prefix of this node's log");
	}
}

/*
 * One witness step of a round: anchors out, then heads and proofs in,
 * then the heads other nodes showed this one.
 */
static void
witness_round(RoundState *st)
{
	int64		size;
	uint8		root[DS_HASH_LEN];
	TimestampTz fetched_at = GetCurrentTimestamp();

	publish_anchors(st);
	if (!still_approved(st))
		return;
	if (fetch_tree_head(st, &size, root))
	{
		round_snapshot_refresh();
		fetch_inclusion_proofs(st, size, root);
		fetch_received_anchors(st, size, root);
		check_peer_heads(st, size, root, fetched_at);
	}
}

/* Record the round's outcome; say so when the node was suspended since the last. */
static void
save_state(RoundState *st)
{
	Oid			types[4] = {UUIDOID, INT8OID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', st->status ? ' ' : 'n', st->suspension_reason ? ' ' : 'n'};

	args[0] = ds_uuid_datum(st->hub_id);
	args[1] = Int64GetDatum(st->next_counter);
	args[2] = st->status ? CStringGetTextDatum(st->status) : (Datum) 0;
	args[3] = st->suspension_reason ? CStringGetTextDatum(st->suspension_reason) : (Datum) 0;
	ds_spi_exec("INSERT INTO dataspace.hub_sync_state AS s (singleton, hub_id, next_counter,"
				" participant_status, suspension_reason, last_attempt, last_success)"
				" VALUES (true, $1, $2, $3, $4, pg_catalog.now(), pg_catalog.now())"
				" ON CONFLICT (singleton) DO UPDATE SET hub_id = $1, next_counter = $2,"
				" participant_status = $3, suspension_reason = $4, last_attempt = pg_catalog.now(),"
				" last_success = pg_catalog.now(), last_error = NULL, last_error_at = NULL",
				4, types, args, nulls, false, 1);
	if (st->status && strcmp(st->status, "suspended") == 0 && !st->was_suspended)
		ereport(WARNING,
				(errmsg("the hub has suspended this node"),
				 errdetail("The hub's reason: %s.",
						   st->suspension_reason ? st->suspension_reason : "none given")));
}

static void
save_error(const char *error)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(error)};

	ds_spi_exec("INSERT INTO dataspace.hub_sync_state AS s (singleton, last_attempt, last_error, last_error_at)"
				" VALUES (true, pg_catalog.now(), $1, pg_catalog.now())"
				" ON CONFLICT (singleton) DO UPDATE SET last_attempt = pg_catalog.now(),"
				" last_error = $1, last_error_at = pg_catalog.now()",
				1, types, args, NULL, false, 1);
}

static void
sync_round(void)
{
	RoundState	st;

	memset(&st, 0, sizeof(st));
	st.signer = ds_signer_load();
	st.audit_head = ds_audit_head(&st.audit_seq, st.audit_hash, &st.audit_at_us);
	st.next_counter = 1;
	if (ds_spi_exec("SELECT next_counter, participant_status OPERATOR(pg_catalog.=) 'suspended'"
					" FROM dataspace.hub_sync_state", 0, NULL, NULL, NULL, true, -1) == 1)
	{
		bool		isnull;

		st.next_counter = ds_spi_get_int64(0, 1);
		st.was_suspended = ds_spi_getbool(0, 2, &isnull) && !isnull;
	}

	pgstat_report_activity(STATE_RUNNING, "connecting to the hub");
	connect_to_hub();
	check_hub_identity(&st);
	learn_whoami(&st);
	if (st.registered)
	{
		pgstat_report_activity(STATE_RUNNING, "announcing key changes to the hub");
		announce_rotations(&st);
		publish_revocations(&st);
	}
	else
		register_node(&st);
	round_snapshot_refresh();
	if (st.status && strcmp(st.status, "approved") == 0)
	{
		pgstat_report_activity(STATE_RUNNING, "publishing to the hub");
		publish_assets(&st);
		round_snapshot_refresh();
		pgstat_report_activity(STATE_RUNNING, "anchoring at the hub");
		witness_round(&st);
		round_snapshot_refresh();
		if (still_approved(&st))
		{
			pgstat_report_activity(STATE_RUNNING, "caching the hub's catalog");
			cache_participants(&st);
			round_snapshot_refresh();
			cache_catalog(&st);
			round_snapshot_refresh();
			sync_contracts(&st);
		}
	}
	save_state(&st);
}

/* ---------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------
 */

/*
 * dataspace.sync_now() returns boolean
 *		Start a round of the hub-sync worker now; false if it is not running.
 */
Datum
dataspace_sync_now(PG_FUNCTION_ARGS)
{
	Latch	   *latch = ds_dbworker_latch(DS_WORKER_HUBSYNC, true);

	if (latch != NULL)
		SetLatch(latch);
	PG_RETURN_BOOL(latch != NULL);
}

static void
hubsync_exit(int code, Datum arg)
{
	disconnect();
}

/*
 * One round in a transaction of its own; an error is logged, recorded in
 * dataspace.hub_sync_state and drops the connection.  Returns false on
 * error.
 */
static bool
round_in_transaction(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		if (OidIsValid(get_extension_oid("pg_dataspace", true)))
		{
			SPI_connect();
			sync_round();
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* report first: FlushErrorState empties the error stack */
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		disconnect();
		ok = false;

		/* record the error for dataspace.hub_status */
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (OidIsValid(get_extension_oid("pg_dataspace", true)))
		{
			SPI_connect();
			save_error(edata->message);
			SPI_finish();
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
		FreeErrorData(edata);
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

void
dataspace_hubsync_main(Datum main_arg)
{
	long		backoff_ms = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (!pg_strong_random(worker_instance, sizeof(worker_instance)))
		elog(ERROR, "could not generate the worker's instance");

	ds_dbworker_attach(DS_WORKER_HUBSYNC);
	on_shmem_exit(hubsync_exit, 0);
	ds_dbworker_wait_until_database_free(DS_WORKER_HUBSYNC);

	BackgroundWorkerInitializeConnection(dataspace_database, NULL, 0);
	ds_dbworker_connected(DS_WORKER_HUBSYNC);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
	ereport(LOG, (errmsg("pg_dataspace hub sync started in database \"%s\"", dataspace_database)));

	for (;;)
	{
		long		timeout = backoff_ms > 0 ? backoff_ms : dataspace_sync_interval;

		if (dataspace_hub != NULL && dataspace_hub[0] != '\0')
		{
			if (round_in_transaction())
				backoff_ms = 0;
			else
				backoff_ms = backoff_ms == 0 ? 1000 : Min(backoff_ms * 2, dataspace_sync_interval);
			timeout = backoff_ms > 0 ? backoff_ms : dataspace_sync_interval;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			disconnect();		/* the hub may have changed */
		}
	}
}
