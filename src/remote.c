/*-------------------------------------------------------------------------
 *
 * remote.c
 *		libpq from a background worker without blocking.
 *
 * Connecting (PQconnectStartParams and PQconnectPoll), sending
 * (PQsendQueryParams, PQflush) and waiting for results (PQconsumeInput)
 * all wait with WaitLatchOrSocket, so a worker answers SIGTERM and
 * SIGHUP at once and DROP DATABASE never waits on the network.  Each
 * connection counts against max_files_per_process (AcquireExternalFD).
 * Error messages name the peer as the caller describes it, never the
 * connection string.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "remote.h"

/*
 * wait_socket
 *		Wait until the socket is ready for io, the latch is set, or the
 *		deadline passes (an error).
 */
static void
wait_socket(PGconn *conn, int io, TimestampTz deadline, const char *peer,
			const char *doing)
{
	long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
	int			rc;

	if (left <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("%s did not answer in time while %s", peer, doing)));
	rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | io,
						   PQsocket(conn), left, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * ds_remote_connect
 *		Connect without blocking; the connection is non-blocking and owns
 *		one external file descriptor (ds_remote_finish gives it back).
 */
PGconn *
ds_remote_connect(const char *const *keys, const char *const *vals,
				  const char *peer, int timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn	   *conn;

	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to %s: out of file descriptors", peer),
				 errhint("Raise max_files_per_process.")));
	conn = PQconnectStartParams(keys, vals, false);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		char	   *msg = pstrdup(conn ? pchomp(PQerrorMessage(conn)) : "out of memory");

		ds_remote_finish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to %s", peer),
				 errdetail_internal("%s", msg)));
	}
	PG_TRY();
	{
		while (st != PGRES_POLLING_OK)
		{
			if (st == PGRES_POLLING_FAILED)
				ereport(ERROR,
						(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
						 errmsg("could not connect to %s", peer),
						 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
			wait_socket(conn, st == PGRES_POLLING_READING ? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
						deadline, peer, "connecting");
			st = PQconnectPoll(conn);
		}
		if (PQsetnonblocking(conn, 1) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not make the connection to %s non-blocking", peer)));
	}
	PG_CATCH();
	{
		ds_remote_finish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return conn;
}

/* Close a connection made by ds_remote_connect. */
void
ds_remote_finish(PGconn *conn)
{
	if (conn == NULL)
		return;
	PQfinish(conn);
	ReleaseExternalFD();
}

/*
 * ds_remote_exec
 *		Run one statement with binary parameters and binary results; the
 *		result belongs to the caller (PQclear, or ds_remote_result_guard).
 *		A result of another status than expect is an error that carries
 *		the peer's message.
 */
PGresult *
ds_remote_exec(PGconn *conn, const char *peer, const char *sql, int nparams,
			   const char *const *values, const int *lengths,
			   ExecStatusType expect, int timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	int			formats[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	PGresult   *last = NULL;
	PGresult   *r;
	int			flushed;

	Assert(nparams <= 8);
	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, lengths, formats, 1))
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a request to %s", peer),
				 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
	while ((flushed = PQflush(conn)) == 1)
		wait_socket(conn, WL_SOCKET_WRITEABLE | WL_SOCKET_READABLE, deadline, peer, "sending");
	if (flushed < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a request to %s", peer),
				 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
	PG_TRY();
	{
		for (;;)
		{
			while (PQisBusy(conn))
			{
				wait_socket(conn, WL_SOCKET_READABLE, deadline, peer, "waiting for an answer");
				if (!PQconsumeInput(conn))
					ereport(ERROR,
							(errcode(ERRCODE_CONNECTION_FAILURE),
							 errmsg("lost the connection to %s", peer),
							 errdetail_internal("%s", pchomp(PQerrorMessage(conn)))));
			}
			r = PQgetResult(conn);
			if (r == NULL)
				break;
			if (last)
				PQclear(last);
			last = r;
		}
	}
	PG_CATCH();
	{
		if (last)
			PQclear(last);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (last == NULL || PQresultStatus(last) != expect)
	{
		const char *primary = last ? PQresultErrorField(last, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		const char *detail = last ? PQresultErrorField(last, PG_DIAG_MESSAGE_DETAIL) : NULL;
		char	   *msg = pstrdup(primary ? primary : pchomp(PQerrorMessage(conn)));
		char	   *det = detail ? pstrdup(detail) : NULL;

		if (last)
			PQclear(last);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("%s refused a request: %s%s%s", peer, msg,
						det ? ": " : "", det ? det : "")));
	}
	return last;
}

static void
clear_result(void *arg)
{
	PQclear((PGresult *) arg);
}

/*
 * ds_remote_result_guard
 *		Clear the result when cxt is reset or deleted, error or not.
 */
void
ds_remote_result_guard(PGresult *res, MemoryContext cxt)
{
	MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));

	cb->func = clear_result;
	cb->arg = res;
	MemoryContextRegisterResetCallback(cxt, cb);
}
