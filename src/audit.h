/*-------------------------------------------------------------------------
 *
 * audit.h
 *		The append-only, hash-chained, signed audit log (docs/audit-log.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_AUDIT_H
#define DS_AUDIT_H

#include "postgres.h"

#include "seal.h"

/*
 * Append one entry to dataspace.audit_log in the current transaction:
 * event names what happened ("participant.approve"), subject what it
 * happened to (an id), detail_json a JSON object with the rest (NULL for
 * "{}").  The actor is session_user.  Callable from any backend code of
 * the extension, inside or outside SPI; errors out (and so aborts the
 * operation being audited) if the entry cannot be written.
 */
extern void ds_audit_append(const char *event, const char *subject,
							const char *detail_json);

/*
 * A JSON object of text members for detail_json: npairs (name, value)
 * pairs of C strings, a NULL value giving JSON null.
 */
extern char *ds_audit_json(int npairs,...);

/* The head of the local audit log; false if the log is empty. */
extern bool ds_audit_head(int64 *seq, uint8 hash[DS_HASH_LEN], int64 *at_us);

#endif							/* DS_AUDIT_H */
