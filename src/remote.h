/*-------------------------------------------------------------------------
 *
 * remote.h
 *		libpq from a background worker without blocking: every wait is on
 *		the latch and the socket (remote.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_REMOTE_H
#define DS_REMOTE_H

#include "postgres.h"

#include "libpq-fe.h"

extern PGconn *ds_remote_connect(const char *const *keys, const char *const *vals,
								 const char *peer, int timeout_ms);
extern void ds_remote_finish(PGconn *conn);
extern PGresult *ds_remote_exec(PGconn *conn, const char *peer, const char *sql,
								int nparams, const char *const *values,
								const int *lengths, ExecStatusType expect,
								int timeout_ms);
extern void ds_remote_result_guard(PGresult *res, MemoryContext cxt);

#endif							/* DS_REMOTE_H */
