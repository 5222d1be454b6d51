/*-------------------------------------------------------------------------
 *
 * textform.h
 *		The text forms of uuids, instants, durations and doubles used in
 *		the extension's JSON documents (docs/encoding.md).
 *
 * Pure code (C library only).  Instants are microseconds since the Unix
 * epoch; each has exactly one canonical text.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_TEXTFORM_H
#define DS_TEXTFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_UUID_TEXT_LEN	36
#define DS_TS_TEXT_MAX		40
#define DS_US_PER_SEC		INT64_C(1000000)
#define DS_US_PER_DAY		INT64_C(86400000000)

extern void ds_uuid_format(const uint8_t uuid[16], char *out);
extern bool ds_uuid_parse(const char *in, size_t len, uint8_t uuid[16]);
extern bool ds_format_ts(int64_t unix_us, char *out, size_t cap);
extern bool ds_parse_ts(const char *in, size_t len, int64_t *unix_us);
extern bool ds_parse_rfc3339(const char *in, size_t len, int64_t *unix_us);
extern bool ds_format_duration(int64_t us, char *out, size_t cap);
extern bool ds_parse_duration(const char *in, size_t len, int64_t *us);
extern bool ds_format_double(double value, char *out, size_t cap);

#endif							/* DS_TEXTFORM_H */
