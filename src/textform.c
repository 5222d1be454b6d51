/*-------------------------------------------------------------------------
 *
 * textform.c
 *		Text forms of uuids, instants, durations and doubles (textform.h).
 *
 *-------------------------------------------------------------------------
 */
#include "textform.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"
#include "seal.h"

/*
 * ds_uuid_format
 *		uuid text: 8-4-4-4-12 lower-case hex digits and a terminator, 37
 *		bytes in all.
 */
void
ds_uuid_format(const uint8_t uuid[DS_UUID_LEN], char *out)
{
	/* ds_hex_encode writes a terminator after the digits */
	char		hex[DS_UUID_LEN * 2 + 1];
	int			o = 0;

	ds_hex_encode(uuid, DS_UUID_LEN, hex);
	for (int i = 0; i < DS_UUID_LEN * 2; i++)
	{
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = '\0';
}

bool
ds_uuid_parse(const char *in, size_t len, uint8_t uuid[DS_UUID_LEN])
{
	char		hex[DS_UUID_LEN * 2];
	int			o = 0;

	if (len != DS_UUID_TEXT_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (in[i] != '-')
				return false;
			continue;
		}
		hex[o++] = in[i];
	}
	return ds_is_lower_hex(hex, sizeof(hex)) &&
		ds_hex_decode(hex, sizeof(hex), uuid, DS_UUID_LEN);
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date and back (H. Hinnant's
 * algorithms, exact for every year we accept).
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/*
 * ds_format_ts
 *		ISO 8601 in UTC with six fractional digits; astronomical years, four
 *		digits for 0000-9999, a sign otherwise ("-4712", "+10000").
 */
bool
ds_format_ts(int64_t unix_us, char *out, size_t cap)
{
	int64_t		days = unix_us / DS_US_PER_DAY;
	int64_t		rem = unix_us % DS_US_PER_DAY;
	int64_t		y;
	int			m;
	int			d;
	int			n;

	if (rem < 0)
	{
		rem += DS_US_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999)
		n = snprintf(out, cap, "%04" PRId64, y);
	else if (y > 9999)
		n = snprintf(out, cap, "+%" PRId64, y);
	else
		n = snprintf(out, cap, "-%04" PRId64, -y);
	if (n < 0 || (size_t) n >= cap)
		return false;
	n = snprintf(out + n, cap - (size_t) n, "-%02d-%02dT%02d:%02d:%02d.%06dZ",
				 m, d,
				 (int) (rem / INT64_C(3600000000)),
				 (int) (rem / 60000000 % 60),
				 (int) (rem / 1000000 % 60),
				 (int) (rem % 1000000));
	return n > 0 && (size_t) n < cap;
}

static bool
digits(const char *s, int n, int64_t *out)
{
	int64_t		v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * ds_parse_ts
 *		Read exactly the form ds_format_ts writes, for years -9999..+99999;
 *		anything else (another zone, fewer digits, a 61st second) is refused.
 */
bool
ds_parse_ts(const char *in, size_t len, int64_t *unix_us)
{
	const char *p = in;
	const char *end = in + len;
	int			ydigits = 0;
	int64_t		y;
	int64_t		mo,
				d,
				hh,
				mi,
				ss,
				us;
	char		back[DS_TS_TEXT_MAX];
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len < 4 || len >= DS_TS_TEXT_MAX)
		return false;
	if (*p == '+' || *p == '-')
		p++;
	while (p + ydigits < end && p[ydigits] >= '0' && p[ydigits] <= '9')
		ydigits++;
	if (ydigits < 4 || ydigits > 5 || !digits(p, ydigits, &y))
		return false;
	if (in[0] == '-')
		y = -y;
	p += ydigits;
	/* "-MM-DDTHH:MM:SS.ffffffZ" */
	if (end - p != 23 || p[0] != '-' || p[3] != '-' || p[6] != 'T' ||
		p[9] != ':' || p[12] != ':' || p[15] != '.' || p[22] != 'Z')
		return false;
	if (!digits(p + 1, 2, &mo) || !digits(p + 4, 2, &d) ||
		!digits(p + 7, 2, &hh) || !digits(p + 10, 2, &mi) ||
		!digits(p + 13, 2, &ss) || !digits(p + 16, 6, &us))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || hh > 23 ||
		mi > 59 || ss > 59)
		return false;
	*unix_us = days_from_civil(y, (int) mo, (int) d) * DS_US_PER_DAY +
		((hh * 60 + mi) * 60 + ss) * INT64_C(1000000) + us;

	/* One text per instant: 29 February of a common year, "+0999" and the like fail here. */
	return ds_format_ts(*unix_us, back, sizeof(back)) &&
		strlen(back) == len && memcmp(back, in, len) == 0;
}

/*
 * ds_format_double
 *		The shortest decimal that reads back as the same finite double, as a
 *		JSON number.
 */
bool
ds_format_double(double value, char *out, size_t cap)
{
	if (!isfinite(value))
		return false;
	for (int prec = 1; prec <= 17; prec++)
	{
		int			n = snprintf(out, cap, "%.*g", prec, value);

		if (n < 0 || (size_t) n >= cap)
			return false;
		if (strtod(out, NULL) == value)
			return true;
	}
	return false;
}

/*
 * ds_parse_rfc3339
 *		An RFC 3339 date-time as people write it in a policy:
 *		YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 6 digits, then Z or
 *		an offset +HH:MM / -HH:MM.  Upper-case T and Z only; no leap second.
 */
bool
ds_parse_rfc3339(const char *in, size_t len, int64_t *unix_us)
{
	const char *p = in;
	const char *end = in + len;
	int64_t		y,
				mo,
				d,
				hh,
				mi,
				ss;
	int64_t		frac = 0;
	int64_t		offset_min = 0;
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (len < 20 || len > 32)
		return false;
	if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':')
		return false;
	if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d) ||
		!digits(p + 11, 2, &hh) || !digits(p + 14, 2, &mi) || !digits(p + 17, 2, &ss))
		return false;
	p += 19;
	if (p < end && *p == '.')
	{
		int			n = 0;

		p++;
		while (p < end && *p >= '0' && *p <= '9' && n < 6)
		{
			frac = frac * 10 + (*p - '0');
			p++;
			n++;
		}
		if (n == 0 || (p < end && *p >= '0' && *p <= '9'))
			return false;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (p < end && *p == 'Z')
		p++;
	else if (p < end && (*p == '+' || *p == '-') && end - p == 6 && p[3] == ':')
	{
		int64_t		oh,
					om;

		if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	}
	else
		return false;
	if (p != end)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || hh > 23 || mi > 59 || ss > 59)
		return false;
	/* 29 February of a common year */
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	*unix_us = days_from_civil(y, (int) mo, (int) d) * DS_US_PER_DAY +
		((hh * 60 + mi - offset_min) * 60 + ss) * DS_US_PER_SEC + frac;
	return true;
}

/* Longest duration accepted: about a century. */
#define MAX_DURATION_DAYS 36525

/*
 * ds_parse_duration
 *		An ISO 8601 duration of days, hours, minutes and seconds:
 *		P[nD][T[nH][nM][nS]], whole numbers, at least one part.  Years,
 *		months and weeks are refused: a month has no fixed length.
 */
bool
ds_parse_duration(const char *in, size_t len, int64_t *us)
{
	const char *p = in;
	const char *end = in + len;
	bool		in_time = false;
	bool		any = false;
	bool		time_part = false;
	int			last = -1;		/* order of D, H, M, S seen so far */
	int64_t		total = 0;

	if (len < 3 || *p != 'P')
		return false;
	p++;
	while (p < end)
	{
		int64_t		n = 0;
		int			ndigits = 0;
		int			order;
		int64_t		unit;

		if (*p == 'T')
		{
			if (in_time)
				return false;
			in_time = true;
			p++;
			continue;
		}
		while (p < end && *p >= '0' && *p <= '9')
		{
			if (++ndigits > 9)
				return false;
			n = n * 10 + (*p - '0');
			p++;
		}
		if (ndigits == 0 || p >= end)
			return false;
		switch (*p)
		{
			case 'D':
				order = 0;
				unit = DS_US_PER_DAY;
				if (in_time)
					return false;
				break;
			case 'H':
				order = 1;
				unit = 3600 * DS_US_PER_SEC;
				break;
			case 'M':
				order = 2;
				unit = 60 * DS_US_PER_SEC;
				break;
			case 'S':
				order = 3;
				unit = DS_US_PER_SEC;
				break;
			default:
				return false;
		}
		if (order > 0 && !in_time)
			return false;
		if (order <= last)
			return false;
		last = order;
		if (order > 0)
			time_part = true;
		/* n * unit would overflow for nine digits of days: compare first */
		if (n > (MAX_DURATION_DAYS * DS_US_PER_DAY - total) / unit)
			return false;
		total += n * unit;
		any = true;
		p++;
	}
	if (!any || (in_time && !time_part))
		return false;
	*us = total;
	return true;
}

/*
 * ds_format_duration
 *		The canonical text of a duration: days, then hours, minutes and
 *		seconds, each only when not zero ("P1DT12H", "PT90S" becomes
 *		"PT1M30S"); zero is "PT0S".  Sub-second parts are not representable.
 */
bool
ds_format_duration(int64_t us, char *out, size_t cap)
{
	ds_json_writer w;
	int64_t		s;
	int64_t		days;
	int64_t		h;
	int64_t		m;

	if (us < 0 || us % DS_US_PER_SEC != 0)
		return false;
	s = us / DS_US_PER_SEC;
	days = s / 86400;
	h = s % 86400 / 3600;
	m = s % 3600 / 60;
	s %= 60;
	ds_json_writer_init(&w, out, cap);
	ds_json_put(&w, "P");
	if (days > 0)
		ds_json_put(&w, "%" PRId64 "D", days);
	if (h > 0 || m > 0 || s > 0 || days == 0)
	{
		ds_json_put(&w, "T");
		if (h > 0)
			ds_json_put(&w, "%" PRId64 "H", h);
		if (m > 0)
			ds_json_put(&w, "%" PRId64 "M", m);
		if (s > 0 || (days == 0 && h == 0 && m == 0))
			ds_json_put(&w, "%" PRId64 "S", s);
	}
	return ds_json_done(&w) > 0;
}
