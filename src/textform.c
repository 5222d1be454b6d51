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

/* uuid text: 8-4-4-4-12 lower-case hex digits. */
void
ds_uuid_format(const uint8_t uuid[DS_UUID_LEN], char *out)
{
	char		hex[DS_UUID_LEN * 2];
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
