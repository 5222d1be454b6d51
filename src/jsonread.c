/*-------------------------------------------------------------------------
 *
 * jsonread.c
 *		A strict JSON reader and a small writer (see jsonread.h).
 *
 *-------------------------------------------------------------------------
 */
#include "jsonread.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"
#include "textform.h"

void
ds_json_reader_init(ds_json_reader *r, const char *text, size_t len,
					char *why, size_t whylen)
{
	r->start = text;
	r->p = text;
	r->end = text + len;
	r->why = why;
	r->whylen = whylen;
	r->failed = false;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
}

/* True when only white space is left. */
bool
ds_json_at_end(ds_json_reader *r)
{
	ds_json_skip_ws(r);
	return r->p == r->end;
}

/* True, consuming it, when the next token is c. */
bool
ds_json_peek(ds_json_reader *r, char c)
{
	ds_json_skip_ws(r);
	if (r->p < r->end && *r->p == c)
	{
		r->p++;
		return true;
	}
	return false;
}

void
ds_json_fail(ds_json_reader *r, const char *fmt,...)
{
	va_list		ap;

	if (r->failed)
		return;
	r->failed = true;
	if (r->why == NULL || r->whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, r->whylen, fmt, ap);
	va_end(ap);
}

void
ds_say(char *why, size_t whylen, const char *fmt,...)
{
	va_list		ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

void
ds_json_skip_ws(ds_json_reader *r)
{
	while (r->p < r->end &&
		   (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

bool
ds_json_expect(ds_json_reader *r, char c)
{
	ds_json_skip_ws(r);
	if (r->p >= r->end || *r->p != c)
	{
		ds_json_fail(r, "expected \"%c\" at offset %ld", c, (long) (r->p - r->start));
		return false;
	}
	r->p++;
	return true;
}

/*
 * A JSON string into out (NUL-terminated).  Escapes are decoded; nothing in
 * a valid proof needs a character outside ASCII, so \u escapes above 0x7f
 * and raw control or non-ASCII bytes are refused.
 */
bool
ds_json_read_string(ds_json_reader *r, const char *what, char *out, size_t cap, size_t *outlen)
{
	size_t		n = 0;

	ds_json_skip_ws(r);
	if (r->p >= r->end || *r->p != '"')
	{
		ds_json_fail(r, "%s is not a string", what);
		return false;
	}
	r->p++;
	while (r->p < r->end && *r->p != '"')
	{
		unsigned char c = (unsigned char) *r->p++;

		if (c < 0x20 || c >= 0x80)
		{
			ds_json_fail(r, "unexpected character in a string");
			return false;
		}
		if (c == '\\')
		{
			if (r->p >= r->end)
				break;
			c = (unsigned char) *r->p++;
			switch (c)
			{
				case '"':
				case '\\':
				case '/':
					break;
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 't':
					c = '\t';
					break;
				case 'u':
					{
						unsigned int cp = 0;

						if (r->end - r->p < 4)
						{
							ds_json_fail(r, "truncated escape in a string");
							return false;
						}
						for (int i = 0; i < 4; i++)
						{
							char		d = *r->p++;

							cp <<= 4;
							if (d >= '0' && d <= '9')
								cp |= (unsigned int) (d - '0');
							else if (d >= 'a' && d <= 'f')
								cp |= (unsigned int) (d - 'a' + 10);
							else if (d >= 'A' && d <= 'F')
								cp |= (unsigned int) (d - 'A' + 10);
							else
							{
								ds_json_fail(r, "bad escape in a string");
								return false;
							}
						}
						if (cp == 0 || cp >= 0x80)
						{
							ds_json_fail(r, "unexpected character in a string");
							return false;
						}
						c = (unsigned char) cp;
						break;
					}
				default:
					ds_json_fail(r, "bad escape in a string");
					return false;
			}
		}
		if (n + 1 >= cap)
		{
			ds_json_fail(r, "%s is too long", what);
			return false;
		}
		out[n++] = (char) c;
	}
	if (r->p >= r->end)
	{
		ds_json_fail(r, "unterminated string");
		return false;
	}
	r->p++;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return true;
}

/*
 * The text of a JSON number, checked against the JSON grammar, into out.
 * *integral tells whether it has neither fraction nor exponent.
 */
bool
ds_json_read_number_text(ds_json_reader *r, const char *what, char *out, size_t cap, bool *integral)
{
	const char *start;
	size_t		n;

	ds_json_skip_ws(r);
	start = r->p;
	*integral = true;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
	{
		r->p = start;
		ds_json_fail(r, "%s is not a number", what);
		return false;
	}
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.')
	{
		*integral = false;
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		{
			ds_json_fail(r, "%s is not a valid JSON number", what);
			return false;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
	{
		*integral = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		{
			ds_json_fail(r, "%s is not a valid JSON number", what);
			return false;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	n = (size_t) (r->p - start);
	if (n + 1 > cap)
	{
		ds_json_fail(r, "%s is too long a number", what);
		return false;
	}
	memcpy(out, start, n);
	out[n] = '\0';
	return true;
}

bool
ds_json_read_int64(ds_json_reader *r, const char *member, int64_t *out)
{
	char		text[DS_JSON_MAX_NUMBER];
	bool		integral;
	const char *s;
	bool		neg = false;
	uint64_t	v = 0;

	if (!ds_json_read_number_text(r, member, text, sizeof(text), &integral))
		return false;
	if (!integral)
	{
		ds_json_fail(r, "%s is not an integer", member);
		return false;
	}
	s = text;
	if (*s == '-')
	{
		neg = true;
		s++;
	}
	for (; *s; s++)
	{
		uint64_t	d = (uint64_t) (*s - '0');

		if (v > (UINT64_MAX - d) / 10)
		{
			ds_json_fail(r, "%s is out of range", member);
			return false;
		}
		v = v * 10 + d;
	}
	if ((!neg && v > (uint64_t) INT64_MAX) ||
		(neg && v > (uint64_t) INT64_MAX + 1))
	{
		ds_json_fail(r, "%s is out of range", member);
		return false;
	}
	*out = neg ? (int64_t) (0 - v) : (int64_t) v;
	return true;
}

bool
ds_json_read_double(ds_json_reader *r, const char *member, double *out)
{
	char		text[DS_JSON_MAX_NUMBER];
	bool		integral;
	char	   *end;

	if (!ds_json_read_number_text(r, member, text, sizeof(text), &integral))
		return false;
	*out = strtod(text, &end);
	if (*end != '\0')
	{
		ds_json_fail(r, "%s is not a number", member);
		return false;
	}
	/* Overflow gives an infinity, which check rule 1 reports as invalid. */
	return true;
}

bool
ds_is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool
ds_json_read_hex(ds_json_reader *r, const char *member, uint8_t *out, size_t outlen)
{
	char		text[DS_JSON_MAX_STRING];
	size_t		n;

	if (!ds_json_read_string(r, member, text, sizeof(text), &n))
		return false;
	if (n != outlen * 2 || !ds_is_lower_hex(text, n) ||
		!ds_hex_decode(text, n, out, outlen))
	{
		ds_json_fail(r, "%s is not %zu lower-case hex digits", member,
			 outlen * 2);
		return false;
	}
	return true;
}

bool
ds_json_read_uuid(ds_json_reader *r, const char *member, uint8_t out[DS_UUID_LEN])
{
	char		text[DS_JSON_MAX_STRING];
	size_t		n;

	if (!ds_json_read_string(r, member, text, sizeof(text), &n))
		return false;
	if (!ds_uuid_parse(text, n, out))
	{
		ds_json_fail(r, "%s is not a lower-case uuid", member);
		return false;
	}
	return true;
}


bool
ds_json_read_bool(ds_json_reader *r, const char *member, bool *out)
{
	ds_json_skip_ws(r);
	if (r->end - r->p >= 4 && memcmp(r->p, "true", 4) == 0)
	{
		r->p += 4;
		*out = true;
		return true;
	}
	if (r->end - r->p >= 5 && memcmp(r->p, "false", 5) == 0)
	{
		r->p += 5;
		*out = false;
		return true;
	}
	ds_json_fail(r, "%s is not true or false", member);
	return false;
}

int
ds_json_member_index(const char *const *names, int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/*
 * Read "{ "name": value, ... }", calling one_member for each name.  seen
 * collects the members' bits; unknown, repeated and missing required
 * members are refused.
 */
bool
ds_json_read_object(ds_json_reader *r, const char *what,
					const char *const *names, int count,
					uint32_t required, ds_json_member_reader one_member,
					void *arg, uint32_t *seen_out)
{
	uint32_t	seen = 0;
	char		name[DS_JSON_MAX_STRING];

	if (count > DS_JSON_MAX_MEMBERS)
	{
		ds_json_fail(r, "%s defines too many members", what);
		return false;
	}

	ds_json_skip_ws(r);
	if (r->p >= r->end || *r->p != '{')
	{
		ds_json_fail(r, "%s is not a JSON object", what);
		return false;
	}
	r->p++;
	ds_json_skip_ws(r);
	if (r->p < r->end && *r->p == '}')
		r->p++;
	else
	{
		for (;;)
		{
			int			which;

			if (!ds_json_read_string(r, "a member name", name, sizeof(name), NULL))
				return false;
			which = ds_json_member_index(names, count, name);
			if (which < 0)
			{
				ds_json_fail(r, "%s has an unknown member \"%s\"", what, name);
				return false;
			}
			if (seen & (UINT32_C(1) << which))
			{
				ds_json_fail(r, "%s has member \"%s\" twice", what, name);
				return false;
			}
			seen |= UINT32_C(1) << which;
			if (!ds_json_expect(r, ':') || !one_member(r, which, arg))
				return false;
			ds_json_skip_ws(r);
			if (r->p < r->end && *r->p == ',')
			{
				r->p++;
				continue;
			}
			if (!ds_json_expect(r, '}'))
				return false;
			break;
		}
	}
	for (int i = 0; i < count; i++)
		if ((required & (UINT32_C(1) << i)) && !(seen & (UINT32_C(1) << i)))
		{
			ds_json_fail(r, "%s has no member \"%s\"", what, names[i]);
			return false;
		}
	if (seen_out)
		*seen_out = seen;
	return true;
}


bool
ds_json_read_array(ds_json_reader *r, const char *what,
				   ds_json_element_reader one_element, void *arg)
{
	int			n = 0;

	ds_json_skip_ws(r);
	if (r->p >= r->end || *r->p != '[')
	{
		ds_json_fail(r, "%s is not an array", what);
		return false;
	}
	r->p++;
	if (ds_json_peek(r, ']'))
		return true;
	for (;;)
	{
		if (!one_element(r, n++, arg))
			return false;
		if (ds_json_peek(r, ','))
			continue;
		return ds_json_expect(r, ']');
	}
}

void
ds_json_writer_init(ds_json_writer *w, char *out, size_t cap)
{
	w->out = out;
	w->cap = cap;
	w->len = 0;
	w->overflow = cap == 0;
	if (cap > 0)
		out[0] = '\0';
}

size_t
ds_json_done(ds_json_writer *w)
{
	return w->overflow ? 0 : w->len;
}

void
ds_json_put(ds_json_writer *w, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->out + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= w->cap - w->len)
		w->overflow = true;
	else
		w->len += (size_t) n;
}

void
ds_json_put_hex(ds_json_writer *w, const char *name, const uint8_t *bytes, size_t len)
{
	char		hex[DS_SIG_LEN * 2 + 1];

	if (len > DS_SIG_LEN)
	{
		w->overflow = true;
		return;
	}
	ds_hex_encode(bytes, len, hex);
	hex[len * 2] = '\0';
	ds_json_put(w, "\"%s\": \"%s\"", name, hex);
}

void
ds_json_put_uuid(ds_json_writer *w, const char *name, const uint8_t uuid[DS_UUID_LEN])
{
	char		text[DS_UUID_TEXT_LEN + 1];

	ds_uuid_format(uuid, text);
	ds_json_put(w, "\"%s\": \"%s\"", name, text);
}

/* A JSON string of printable ASCII (what our documents hold), escaped. */
void
ds_json_put_string(ds_json_writer *w, const char *s)
{
	ds_json_put(w, "\"");
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
			ds_json_put(w, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			ds_json_put(w, "\\u%04x", c);
		else
			ds_json_put(w, "%c", c);
	}
	ds_json_put(w, "\"");
}
