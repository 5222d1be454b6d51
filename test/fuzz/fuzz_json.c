/*-------------------------------------------------------------------------
 *
 * fuzz_json.c
 *		libFuzzer target: the strict JSON reader and writer (src/jsonread.c)
 *		and the text forms of instants, durations, uuids and doubles
 *		(src/textform.c) that the proof and policy readers are built on.
 *
 * The input is read as an object of a small made-up vocabulary that
 * uses every reader function:
 *
 *	 "s" string   "i" int64   "d" double   "b" bool   "h" 8 bytes of hex
 *	 "u" uuid     "o" object  "a" array of objects
 *
 * nested up to MAX_DEPTH levels.  Every value read is written back with
 * the writer (or the text form's formatter) and read again; it must come
 * back identical.  Every string is also tried as an instant, an RFC 3339
 * date-time and a duration, and each one accepted must round-trip.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"
#include "seal.h"
#include "textform.h"

#define MAX_DEPTH 8

enum
{
	F_STRING, F_INT, F_DOUBLE, F_BOOL, F_HEX, F_UUID, F_OBJECT, F_ARRAY, F_COUNT
};

static const char *const names[F_COUNT] = {"s", "i", "d", "b", "h", "u", "o", "a"};

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer saves the
 *		input as a crash.
 */
static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_json: %s (%s)\n", what, detail);
	abort();
}

/*
 * reader_over
 *		A reader over a NUL-terminated text the target wrote itself.
 */
static void
reader_over(ds_json_reader *r, const char *text, char *why, size_t whylen)
{
	ds_json_reader_init(r, text, strlen(text), why, whylen);
}

/*
 * check_text_forms
 *		Try a string as each text form; whatever is accepted must come back
 *		from its formatter as the same value.
 */
static void
check_text_forms(const char *s, size_t n)
{
	int64_t		us;
	int64_t		us2;
	char		text[DS_TS_TEXT_MAX];
	uint8_t		uuid[DS_UUID_LEN];
	uint8_t		uuid2[DS_UUID_LEN];
	char		utext[DS_UUID_TEXT_LEN + 1];

	if (ds_parse_ts(s, n, &us))
	{
		if (!ds_format_ts(us, text, sizeof(text)) || strlen(text) != n ||
			memcmp(text, s, n) != 0)
			fail("an instant does not format back to its text", s);
	}
	if (ds_parse_rfc3339(s, n, &us))
	{
		if (!ds_format_ts(us, text, sizeof(text)))
			fail("an RFC 3339 instant cannot be formatted", s);
		if (!ds_parse_ts(text, strlen(text), &us2) || us2 != us)
			fail("an RFC 3339 instant does not read back", text);
		if (!ds_parse_rfc3339(text, strlen(text), &us2) || us2 != us)
		{
			/* the canonical text is RFC 3339 too, for years 0000-9999 */
			if (text[0] != '-' && text[0] != '+')
				fail("the canonical text of an instant is not RFC 3339", text);
		}
	}
	if (ds_parse_duration(s, n, &us))
	{
		if (us < 0)
			fail("a negative duration", s);
		if (!ds_format_duration(us, text, sizeof(text)))
			fail("a duration cannot be formatted", s);
		if (!ds_parse_duration(text, strlen(text), &us2) || us2 != us)
			fail("a duration does not read back", text);
	}
	if (ds_uuid_parse(s, n, uuid))
	{
		ds_uuid_format(uuid, utext);
		if (strlen(utext) != n || memcmp(utext, s, n) != 0)
			fail("a uuid does not format back to its text", s);
		if (!ds_uuid_parse(utext, strlen(utext), uuid2) ||
			memcmp(uuid, uuid2, DS_UUID_LEN) != 0)
			fail("a uuid does not read back", utext);
	}
}

/*
 * check_string
 *		The writer's escaped form of a string reads back as the string.
 */
static void
check_string(const char *s, size_t n)
{
	char		buf[DS_JSON_MAX_STRING * 6 + 3];
	char		back[DS_JSON_MAX_STRING];
	char		why[128];
	size_t		n2;
	ds_json_writer w;
	ds_json_reader r;

	/* the writer's strings are NUL-terminated: an embedded NUL cannot occur */
	if (strlen(s) != n)
		fail("a string read with an embedded NUL", s);
	ds_json_writer_init(&w, buf, sizeof(buf));
	ds_json_put_string(&w, s);
	if (ds_json_done(&w) == 0)
		fail("a string cannot be written", s);
	reader_over(&r, buf, why, sizeof(why));
	if (!ds_json_read_string(&r, "s", back, sizeof(back), &n2) ||
		!ds_json_at_end(&r))
		fail("a written string does not read back", why);
	if (n2 != n || memcmp(back, s, n) != 0)
		fail("a written string reads back different", buf);
	check_text_forms(s, n);
}

typedef struct walk
{
	int			depth;
} walk;

static bool read_member(ds_json_reader *r, int which, void *arg);

/*
 * read_nested
 *		An object of the same vocabulary, one level deeper.
 */
static bool
read_nested(ds_json_reader *r, walk *wk)
{
	walk		inner = {wk->depth + 1};

	if (inner.depth > MAX_DEPTH)
	{
		ds_json_fail(r, "nested too deep");
		return false;
	}
	return ds_json_read_object(r, "an object", names, F_COUNT, 0, read_member,
							   &inner, NULL);
}

/*
 * read_element
 *		One element of an "a" array: an object.
 */
static bool
read_element(ds_json_reader *r, int index, void *arg)
{
	(void) index;
	return read_nested(r, arg);
}

/*
 * read_member
 *		Read one member's value with the reader function of its type, then
 *		check that writing it and reading it again gives it back.
 */
static bool
read_member(ds_json_reader *r, int which, void *arg)
{
	walk	   *wk = arg;
	char		text[DS_JSON_MAX_STRING];
	char		buf[512];
	char		why[128];
	size_t		n;
	int64_t		i;
	int64_t		i2;
	double		d;
	double		d2;
	bool		b;
	uint8_t		bytes[8];
	uint8_t		bytes2[8];
	uint8_t		uuid[DS_UUID_LEN];
	uint8_t		uuid2[DS_UUID_LEN];
	ds_json_reader r2;
	ds_json_writer w;

	switch (which)
	{
		case F_STRING:
			if (!ds_json_read_string(r, "member \"s\"", text, sizeof(text), &n))
				return false;
			check_string(text, n);
			return true;
		case F_INT:
			if (!ds_json_read_int64(r, "member \"i\"", &i))
				return false;
			snprintf(buf, sizeof(buf), "%" PRId64, i);
			reader_over(&r2, buf, why, sizeof(why));
			if (!ds_json_read_int64(&r2, "i", &i2) || i2 != i)
				fail("an integer does not read back", buf);
			return true;
		case F_DOUBLE:
			if (!ds_json_read_double(r, "member \"d\"", &d))
				return false;
			if (isnan(d))
				fail("a JSON number read as NaN", "");
			if (!isfinite(d))
			{
				if (ds_format_double(d, buf, sizeof(buf)))
					fail("an infinity was formatted", buf);
				return true;
			}
			if (!ds_format_double(d, buf, sizeof(buf)))
				fail("a finite double cannot be formatted", "");
			reader_over(&r2, buf, why, sizeof(why));
			if (!ds_json_read_double(&r2, "d", &d2) || !ds_json_at_end(&r2) ||
				memcmp(&d, &d2, sizeof(d)) != 0)
				fail("a double does not read back", buf);
			return true;
		case F_BOOL:
			return ds_json_read_bool(r, "member \"b\"", &b);
		case F_HEX:
			if (!ds_json_read_hex(r, "member \"h\"", bytes, sizeof(bytes)))
				return false;
			ds_json_writer_init(&w, buf, sizeof(buf));
			ds_json_put_hex(&w, "h", bytes, sizeof(bytes));
			if (ds_json_done(&w) == 0)
				fail("hex cannot be written", "");
			/* skip the name: "h": */
			reader_over(&r2, buf + 4, why, sizeof(why));
			if (!ds_json_read_hex(&r2, "h", bytes2, sizeof(bytes2)) ||
				memcmp(bytes, bytes2, sizeof(bytes)) != 0)
				fail("hex does not read back", buf);
			return true;
		case F_UUID:
			if (!ds_json_read_uuid(r, "member \"u\"", uuid))
				return false;
			ds_json_writer_init(&w, buf, sizeof(buf));
			ds_json_put_uuid(&w, "u", uuid);
			reader_over(&r2, buf + 4, why, sizeof(why));
			if (ds_json_done(&w) == 0 ||
				!ds_json_read_uuid(&r2, "u", uuid2) ||
				memcmp(uuid, uuid2, sizeof(uuid)) != 0)
				fail("a uuid does not read back", buf);
			return true;
		case F_OBJECT:
			return read_nested(r, wk);
		case F_ARRAY:
			return ds_json_read_array(r, "member \"a\"", read_element, wk);
	}
	return false;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One input: a JSON text, read as an object of the vocabulary above.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ds_json_reader r;
	char		why[256];
	walk		top = {0};
	bool		ok;

	ds_json_reader_init(&r, (const char *) data, size, why, sizeof(why));
	ok = ds_json_read_object(&r, "the document", names, F_COUNT, 0,
							 read_member, &top, NULL);
	if (ok != !r.failed)
		fail("the reader's result and its failed flag disagree", why);
	if (!ok && why[0] == '\0')
		fail("a refusal without a reason", "");
	if (r.p < r.start || r.p > r.end)
		fail("the reader moved outside its input", "");
	if (ok)
		(void) ds_json_at_end(&r);
	return 0;
}
