/*-------------------------------------------------------------------------
 *
 * jsonread.h
 *		A strict reader and a small writer of JSON text, for the documents
 *		the extension defines itself (proofs, policies).
 *
 * Pure code (C library only): the extension, the fuzz targets and the
 * unit tests share it.  The reader never trusts a length, never reads
 * past its end and reports the first problem as a clause in why
 * ("member \"seq\" is not an integer"), for the caller to put in an
 * error detail.  Objects are read against a fixed list of member names:
 * unknown, missing (where required) and repeated members are refused.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_JSONREAD_H
#define DS_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outside PostgreSQL (fuzz targets, tests) there is no c.h to define this. */
#ifndef pg_attribute_printf
#if defined(__GNUC__)
#define pg_attribute_printf(f, a) __attribute__((format(printf, f, a)))
#else
#define pg_attribute_printf(f, a)
#endif
#endif

/* Longest string value the reader accepts. */
#define DS_JSON_MAX_STRING 160
/* Longest JSON number the reader accepts. */
#define DS_JSON_MAX_NUMBER 400
/* Most members an object may define. */
#define DS_JSON_MAX_MEMBERS 32

typedef struct ds_json_reader
{
	const char *start;
	const char *p;
	const char *end;
	char	   *why;
	size_t		whylen;
	bool		failed;
} ds_json_reader;

extern void ds_json_reader_init(ds_json_reader *r, const char *text, size_t len,
								char *why, size_t whylen);
extern bool ds_json_at_end(ds_json_reader *r);
extern void ds_json_fail(ds_json_reader *r, const char *fmt,...) pg_attribute_printf(2, 3);
extern void ds_say(char *why, size_t whylen, const char *fmt,...) pg_attribute_printf(3, 4);
extern void ds_json_skip_ws(ds_json_reader *r);
extern bool ds_json_expect(ds_json_reader *r, char c);
extern bool ds_json_peek(ds_json_reader *r, char c);
extern bool ds_json_read_string(ds_json_reader *r, const char *what, char *out,
								size_t cap, size_t *outlen);
extern bool ds_json_read_number_text(ds_json_reader *r, const char *what, char *out,
									 size_t cap, bool *integral);
extern bool ds_json_read_int64(ds_json_reader *r, const char *member, int64_t *out);
extern bool ds_json_read_double(ds_json_reader *r, const char *member, double *out);
extern bool ds_json_read_bool(ds_json_reader *r, const char *member, bool *out);
extern bool ds_is_lower_hex(const char *s, size_t len);
extern bool ds_json_read_hex(ds_json_reader *r, const char *member, uint8_t *out,
							 size_t outlen);
extern bool ds_json_read_uuid(ds_json_reader *r, const char *member, uint8_t out[16]);
extern int	ds_json_member_index(const char *const *names, int count, const char *name);

/*
 * Objects: one_member is called for each member with its index in names;
 * it reads the value.  required is a bit mask of the members that must be
 * present; *seen (optional) receives the mask of those that were.
 */
typedef bool (*ds_json_member_reader) (ds_json_reader *r, int which, void *arg);
extern bool ds_json_read_object(ds_json_reader *r, const char *what,
								const char *const *names, int count,
								uint32_t required, ds_json_member_reader one_member,
								void *arg, uint32_t *seen);

/* Arrays: one_element is called for each element with its position. */
typedef bool (*ds_json_element_reader) (ds_json_reader *r, int index, void *arg);
extern bool ds_json_read_array(ds_json_reader *r, const char *what,
							   ds_json_element_reader one_element, void *arg);

/* Appending writer: an overflow makes ds_json_done() return 0. */
typedef struct ds_json_writer
{
	char	   *out;
	size_t		cap;
	size_t		len;
	bool		overflow;
} ds_json_writer;

extern void ds_json_writer_init(ds_json_writer *w, char *out, size_t cap);
extern size_t ds_json_done(ds_json_writer *w);
extern void ds_json_put(ds_json_writer *w, const char *fmt,...) pg_attribute_printf(2, 3);
extern void ds_json_put_hex(ds_json_writer *w, const char *name, const uint8_t *bytes,
							size_t len);
extern void ds_json_put_uuid(ds_json_writer *w, const char *name, const uint8_t uuid[16]);
extern void ds_json_put_string(ds_json_writer *w, const char *s);

#endif							/* DS_JSONREAD_H */
