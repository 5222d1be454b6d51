/*-------------------------------------------------------------------------
 *
 * twinmodel.c
 *		The DTDL v2 subset of twin models: reader and checks
 *		(docs/twin-models.md is the specification).
 *
 * Fail closed: a member this subset does not know, a value of the wrong
 * JSON type or form, and DTDL this version does not support (Commands,
 * Components, complex schemas, extends) are refused, with the first
 * problem named by its element ("contents[2]") and, where known, the
 * element's name.  Nothing is guessed or skipped.
 *
 * Two passes.  The first checks that the whole text is JSON (strings in
 * UTF-8, bounded nesting) without interpreting it.  The second walks the
 * now trusted text through spans, in an order of its own: jsonb prints
 * the members of an object by length and then bytes, so reading members
 * in text order would make the reported problem depend on the spelling
 * of member names, and an element's name would be unknown when its @type
 * is read.  Display strings may hold any Unicode character, which is why
 * strings are scanned here rather than with jsonread.c's ASCII-only
 * ds_json_read_string; numbers go through jsonread.c.
 *
 *-------------------------------------------------------------------------
 */
#include "twinmodel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"

/* A JSON value in the text: [p, end). */
typedef struct tm_span
{
	const char *p;
	const char *end;
} tm_span;

/* Longest member name kept (longer ones are unknown anyway). */
#define TM_MEMBER_NAME_CAP	65
/* Most members of one object the walker keeps. */
#define TM_MAX_MEMBERS		24
/* Longest piece of a user's string quoted in a message, in bytes. */
#define TM_QUOTE_BYTES		64
#define TM_QUOTE_CAP		(TM_QUOTE_BYTES * 6 + 8)

typedef struct tm_member
{
	char		name[TM_MEMBER_NAME_CAP];
	bool		long_name;
	tm_span		value;
} tm_member;

typedef struct tm_object
{
	int			n;
	tm_member	m[TM_MAX_MEMBERS];
	bool		overflow;		/* more members than TM_MAX_MEMBERS */
	char		overflow_name[TM_MEMBER_NAME_CAP];
} tm_object;

/* Names seen so far, to refuse repeated ones. */
typedef struct tm_names
{
	int			n;
	char		name[DS_TWIN_MAX_CONTENTS][DS_TWIN_NAME_MAX + 1];
	int			index[DS_TWIN_MAX_CONTENTS];
} tm_names;

/*
 * An @id seen so far: its text is the string span [p, end), decoded again
 * only when hashes collide.  content is the index in contents (-1: the
 * interface), prop the index in that element's properties (-1: none).
 */
typedef struct tm_id
{
	uint64_t	hash;
	const char *p;				/* NULL: free slot */
	const char *end;
	int			content;
	int			prop;
} tm_id;

typedef struct tm_ctx
{
	const char *start;
	char	   *why;
	size_t		whylen;
	char	   *hint;
	size_t		hintlen;
	ds_twin_result result;
	ds_twin_model *out;
	const char *syntax_error;	/* first pass */
	const char *syntax_at;
	int			content;		/* index in contents being checked */
	tm_id	   *ids;			/* open addressing, idcap slots */
	size_t		idcap;
	size_t		nids;
} tm_ctx;

enum
{
	SCAN_OK, SCAN_SYNTAX, SCAN_TOO_LONG
};

/* Content classes */
typedef enum tm_class
{
	C_NONE, C_TELEMETRY, C_PROPERTY, C_RELATIONSHIP, C_COMMAND, C_COMPONENT
} tm_class;

static const char *const class_names[] = {
	"", "Telemetry", "Property", "Relationship", "Command", "Component"
};

static const char *const schema_names[] = {
	"", "boolean", "date", "dateTime", "double", "duration", "float",
	"integer", "long", "string", "time"
};

#define PRIMITIVE_LIST "boolean, date, dateTime, double, duration, float, integer, long, string, time"

/*
 * DTDL v2 semantic types, their unit types and units (the table of the
 * DTDL v2 reference, "Semantic Type").
 */
static const char *const u_acceleration[] = {"centimetrePerSecondSquared", "gForce", "metrePerSecondSquared", NULL};
static const char *const u_angle[] = {"degreeOfArc", "minuteOfArc", "radian", "secondOfArc", "turn", NULL};
static const char *const u_angular_acceleration[] = {"radianPerSecondSquared", NULL};
static const char *const u_angular_velocity[] = {"degreePerSecond", "radianPerSecond", "revolutionPerMinute", "revolutionPerSecond", NULL};
static const char *const u_area[] = {"acre", "hectare", "squareCentimetre", "squareFoot", "squareInch", "squareKilometre", "squareMetre", "squareMillimetre", NULL};
static const char *const u_capacitance[] = {"farad", "microfarad", "millifarad", "nanofarad", "picofarad", NULL};
static const char *const u_current[] = {"ampere", "microampere", "milliampere", NULL};
static const char *const u_data_rate[] = {"bitPerSecond", "bytePerSecond", "exbibitPerSecond", "exbibytePerSecond", "gibibitPerSecond", "gibibytePerSecond", "kibibitPerSecond", "kibibytePerSecond", "mebibitPerSecond", "mebibytePerSecond", "tebibitPerSecond", "tebibytePerSecond", "yobibitPerSecond", "yobibytePerSecond", "zebibitPerSecond", "zebibytePerSecond", NULL};
static const char *const u_data_size[] = {"bit", "byte", "exbibit", "exbibyte", "gibibit", "gibibyte", "kibibit", "kibibyte", "mebibit", "mebibyte", "tebibit", "tebibyte", "yobibit", "yobibyte", "zebibit", "zebibyte", NULL};
static const char *const u_density[] = {"gramPerCubicMetre", "kilogramPerCubicMetre", NULL};
static const char *const u_length[] = {"astronomicalUnit", "centimetre", "foot", "inch", "kilometre", "metre", "micrometre", "mile", "millimetre", "nanometre", "nauticalMile", NULL};
static const char *const u_charge[] = {"coulomb", NULL};
static const char *const u_energy[] = {"electronvolt", "gigajoule", "joule", "kilojoule", "kilowattHour", "megaelectronvolt", "megajoule", NULL};
static const char *const u_force[] = {"newton", "ounce", "pound", "ton", NULL};
static const char *const u_frequency[] = {"gigahertz", "hertz", "kilohertz", "megahertz", NULL};
static const char *const u_illuminance[] = {"footcandle", "lux", NULL};
static const char *const u_inductance[] = {"henry", "microhenry", "millihenry", NULL};
static const char *const u_luminance[] = {"candelaPerSquareMetre", NULL};
static const char *const u_power[] = {"gigawatt", "horsepower", "kilowatt", "kilowattHourPerYear", "megawatt", "microwatt", "milliwatt", "watt", NULL};
static const char *const u_luminous_flux[] = {"lumen", NULL};
static const char *const u_luminous_intensity[] = {"candela", NULL};
static const char *const u_magnetic_flux[] = {"maxwell", "weber", NULL};
static const char *const u_magnetic_induction[] = {"tesla", NULL};
static const char *const u_mass[] = {"gram", "kilogram", "microgram", "milligram", "slug", "tonne", NULL};
static const char *const u_mass_flow_rate[] = {"gramPerHour", "gramPerSecond", "kilogramPerHour", "kilogramPerSecond", NULL};
static const char *const u_pressure[] = {"bar", "inchesOfMercury", "inchesOfWater", "kilopascal", "millibar", "millimetresOfMercury", "pascal", "poundPerSquareInch", NULL};
static const char *const u_unitless[] = {"percent", "unity", NULL};
static const char *const u_resistance[] = {"kiloohm", "megaohm", "milliohm", "ohm", NULL};
static const char *const u_sound_pressure[] = {"bel", "decibel", NULL};
static const char *const u_temperature[] = {"degreeCelsius", "degreeFahrenheit", "kelvin", NULL};
static const char *const u_time[] = {"day", "hour", "microsecond", "millisecond", "minute", "nanosecond", "second", "year", NULL};
static const char *const u_torque[] = {"newtonMetre", NULL};
static const char *const u_velocity[] = {"centimetrePerSecond", "kilometrePerHour", "kilometrePerSecond", "knot", "metrePerHour", "metrePerSecond", "milePerHour", "milePerSecond", NULL};
static const char *const u_voltage[] = {"kilovolt", "megavolt", "microvolt", "millivolt", "volt", NULL};
static const char *const u_volume[] = {"cubicCentimetre", "cubicFoot", "cubicInch", "cubicMetre", "fluidOunce", "gallon", "litre", "millilitre", NULL};
static const char *const u_volume_flow_rate[] = {"litrePerHour", "litrePerSecond", "millilitrePerHour", "millilitrePerSecond", NULL};

typedef struct tm_semantic
{
	const char *name;
	const char *const *units;
} tm_semantic;

static const tm_semantic semantic_types[] = {
	{"Acceleration", u_acceleration},
	{"Angle", u_angle},
	{"AngularAcceleration", u_angular_acceleration},
	{"AngularVelocity", u_angular_velocity},
	{"Area", u_area},
	{"Capacitance", u_capacitance},
	{"Current", u_current},
	{"DataRate", u_data_rate},
	{"DataSize", u_data_size},
	{"Density", u_density},
	{"Distance", u_length},
	{"ElectricCharge", u_charge},
	{"Energy", u_energy},
	{"Force", u_force},
	{"Frequency", u_frequency},
	{"Humidity", u_density},
	{"Illuminance", u_illuminance},
	{"Inductance", u_inductance},
	{"Latitude", u_angle},
	{"Length", u_length},
	{"Longitude", u_angle},
	{"Luminance", u_luminance},
	{"Luminosity", u_power},
	{"LuminousFlux", u_luminous_flux},
	{"LuminousIntensity", u_luminous_intensity},
	{"MagneticFlux", u_magnetic_flux},
	{"MagneticInduction", u_magnetic_induction},
	{"Mass", u_mass},
	{"MassFlowRate", u_mass_flow_rate},
	{"Power", u_power},
	{"Pressure", u_pressure},
	{"RelativeHumidity", u_unitless},
	{"Resistance", u_resistance},
	{"SoundPressure", u_sound_pressure},
	{"Temperature", u_temperature},
	{"Thrust", u_force},
	{"TimeSpan", u_time},
	{"Torque", u_torque},
	{"Velocity", u_velocity},
	{"Voltage", u_voltage},
	{"Volume", u_volume},
	{"VolumeFlowRate", u_volume_flow_rate},
};

#define N_SEMANTIC_TYPES ((int) (sizeof(semantic_types) / sizeof(semantic_types[0])))

/* ---------------------------------------------------------------------
 * Reporting
 * ---------------------------------------------------------------------
 */

/*
 * Record the first refusal: msg is formatted into why as a sentence (a
 * period is added), hint copied when given.  Always returns false, so
 * that callers can "return fail(...)".
 */
static bool
fail(tm_ctx *c, ds_twin_result res, const char *hint, const char *fmt,...)
	pg_attribute_printf(4, 5);

static bool
fail(tm_ctx *c, ds_twin_result res, const char *hint, const char *fmt,...)
{
	va_list		ap;
	size_t		n;

	if (c->result != DS_TWIN_VALID)
		return false;
	c->result = res;
	if (c->why != NULL && c->whylen > 1)
	{
		va_start(ap, fmt);
		vsnprintf(c->why, c->whylen - 1, fmt, ap);
		va_end(ap);
		n = strlen(c->why);
		c->why[n] = '.';
		c->why[n + 1] = '\0';
	}
	if (c->hint != NULL && c->hintlen > 0)
		snprintf(c->hint, c->hintlen, "%s", hint ? hint : "");
	return false;
}

/*
 * Quote a user's string for a message: in double quotes, with quotes,
 * backslashes and control characters escaped, and cut (at a character
 * boundary) after TM_QUOTE_BYTES bytes.
 */
static const char *
quote(char *buf, const char *s, size_t n)
{
	size_t		o = 0;
	size_t		i;

	buf[o++] = '"';
	for (i = 0; i < n && i < TM_QUOTE_BYTES; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (ch == '"' || ch == '\\')
		{
			buf[o++] = '\\';
			buf[o++] = (char) ch;
		}
		else if (ch < 0x20 || ch == 0x7f)
			o += (size_t) snprintf(buf + o, 7, "\\u%04x", ch);
		else
			buf[o++] = (char) ch;
	}
	if (i < n)
	{
		/* do not cut a UTF-8 sequence */
		while (o > 1 && ((unsigned char) buf[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 1 && (unsigned char) buf[o - 1] >= 0xC0)
			o--;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------
 * First pass: JSON syntax, over raw text
 * ---------------------------------------------------------------------
 */

/* Move *p past JSON white space. */
static void
skip_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

/* The value of a hex digit, or -1. */
static int
hex_digit(char d)
{
	if (d >= '0' && d <= '9')
		return d - '0';
	if (d >= 'a' && d <= 'f')
		return d - 'a' + 10;
	if (d >= 'A' && d <= 'F')
		return d - 'A' + 10;
	return -1;
}

/* Four hex digits of a \u escape into *cp, moving *p past them. */
static bool
read_hex4(const char **p, const char *end, unsigned int *cp)
{
	*cp = 0;
	if (end - *p < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		int			d = hex_digit((*p)[i]);

		if (d < 0)
			return false;
		*cp = (*cp << 4) | (unsigned int) d;
	}
	*p += 4;
	return true;
}

/* Append one byte to out unless it is full; count it regardless. */
static inline void
put_byte(char *out, size_t cap, size_t *n, unsigned char b)
{
	if (out != NULL && *n + 1 < cap)
		out[*n] = (char) b;
	(*n)++;
}

/*
 * Scan the JSON string at *pp (which points at its opening quote), moving
 * *pp past it.  With out, decode it (NUL-terminated) into out's cap bytes.
 * The string must be UTF-8 without control characters; \u escapes must
 * pair their surrogates; \u0000 is refused (jsonb refuses it too).
 * *nbytes and *nchars receive its decoded length in bytes and characters
 * even when it does not fit.
 */
static int
scan_string(const char **pp, const char *end, char *out, size_t cap,
			size_t *nbytes, size_t *nchars, const char **err)
{
	const char *p = *pp + 1;
	size_t		n = 0;
	size_t		chars = 0;

	while (p < end && *p != '"')
	{
		unsigned char ch = (unsigned char) *p;

		if (ch < 0x20)
		{
			*err = "a control character in a string";
			*pp = p;
			return SCAN_SYNTAX;
		}
		if (ch == '\\')
		{
			unsigned int cp;

			p++;
			if (p >= end)
				break;
			switch (*p++)
			{
				case '"':
					put_byte(out, cap, &n, '"');
					break;
				case '\\':
					put_byte(out, cap, &n, '\\');
					break;
				case '/':
					put_byte(out, cap, &n, '/');
					break;
				case 'b':
					put_byte(out, cap, &n, '\b');
					break;
				case 'f':
					put_byte(out, cap, &n, '\f');
					break;
				case 'n':
					put_byte(out, cap, &n, '\n');
					break;
				case 'r':
					put_byte(out, cap, &n, '\r');
					break;
				case 't':
					put_byte(out, cap, &n, '\t');
					break;
				case 'u':
					if (!read_hex4(&p, end, &cp))
					{
						*err = "a bad \\u escape in a string";
						*pp = p;
						return SCAN_SYNTAX;
					}
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						unsigned int lo;

						if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
						{
							*err = "an unpaired surrogate in a string";
							*pp = p;
							return SCAN_SYNTAX;
						}
						p += 2;
						if (!read_hex4(&p, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
						{
							*err = "an unpaired surrogate in a string";
							*pp = p;
							return SCAN_SYNTAX;
						}
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					}
					else if (cp >= 0xDC00 && cp <= 0xDFFF)
					{
						*err = "an unpaired surrogate in a string";
						*pp = p;
						return SCAN_SYNTAX;
					}
					if (cp == 0)
					{
						*err = "\\u0000 in a string";
						*pp = p;
						return SCAN_SYNTAX;
					}
					if (cp < 0x80)
						put_byte(out, cap, &n, (unsigned char) cp);
					else if (cp < 0x800)
					{
						put_byte(out, cap, &n, (unsigned char) (0xC0 | (cp >> 6)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | (cp & 0x3F)));
					}
					else if (cp < 0x10000)
					{
						put_byte(out, cap, &n, (unsigned char) (0xE0 | (cp >> 12)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | ((cp >> 6) & 0x3F)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | (cp & 0x3F)));
					}
					else
					{
						put_byte(out, cap, &n, (unsigned char) (0xF0 | (cp >> 18)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | ((cp >> 12) & 0x3F)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | ((cp >> 6) & 0x3F)));
						put_byte(out, cap, &n, (unsigned char) (0x80 | (cp & 0x3F)));
					}
					break;
				default:
					*err = "a bad escape in a string";
					*pp = p;
					return SCAN_SYNTAX;
			}
			chars++;
			continue;
		}
		if (ch < 0x80)
		{
			put_byte(out, cap, &n, ch);
			p++;
		}
		else
		{
			int			len;
			unsigned char lo = 0x80,
						hi = 0xBF;

			/* well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates */
			if (ch >= 0xC2 && ch <= 0xDF)
				len = 2;
			else if (ch >= 0xE0 && ch <= 0xEF)
			{
				len = 3;
				if (ch == 0xE0)
					lo = 0xA0;
				else if (ch == 0xED)
					hi = 0x9F;
			}
			else if (ch >= 0xF0 && ch <= 0xF4)
			{
				len = 4;
				if (ch == 0xF0)
					lo = 0x90;
				else if (ch == 0xF4)
					hi = 0x8F;
			}
			else
				len = 0;
			if (len == 0 || end - p < len)
			{
				*err = "a string that is not UTF-8";
				*pp = p;
				return SCAN_SYNTAX;
			}
			for (int i = 1; i < len; i++)
			{
				unsigned char cc = (unsigned char) p[i];

				if (cc < (i == 1 ? lo : 0x80) || cc > (i == 1 ? hi : 0xBF))
				{
					*err = "a string that is not UTF-8";
					*pp = p;
					return SCAN_SYNTAX;
				}
			}
			for (int i = 0; i < len; i++)
				put_byte(out, cap, &n, (unsigned char) p[i]);
			p += len;
		}
		chars++;
	}
	if (p >= end)
	{
		*err = "an unterminated string";
		*pp = p;
		return SCAN_SYNTAX;
	}
	*pp = p + 1;
	if (nbytes)
		*nbytes = n;
	if (nchars)
		*nchars = chars;
	if (out != NULL && cap > 0)
	{
		out[n < cap ? n : cap - 1] = '\0';
		if (n >= cap)
			return SCAN_TOO_LONG;
	}
	return SCAN_OK;
}

/*
 * Move *p past one JSON value, checking its syntax; nesting deeper than
 * DS_TWIN_MAX_DEPTH is refused.  On error c->syntax_error says what.
 */
static bool
skip_value(tm_ctx *c, const char **p, const char *end, int depth)
{
	skip_ws(p, end);
	c->syntax_at = *p;
	if (*p >= end)
	{
		c->syntax_error = "a value is missing";
		return false;
	}
	switch (**p)
	{
		case '"':
			{
				const char *err = NULL;

				if (scan_string(p, end, NULL, 0, NULL, NULL, &err) != SCAN_OK)
				{
					c->syntax_error = err;
					c->syntax_at = *p;
					return false;
				}
				return true;
			}
		case '{':
		case '[':
			{
				char		close = **p == '{' ? '}' : ']';
				bool		object = close == '}';

				if (depth >= DS_TWIN_MAX_DEPTH)
				{
					c->syntax_error = "arrays and objects nested too deeply";
					return false;
				}
				(*p)++;
				skip_ws(p, end);
				if (*p < end && **p == close)
				{
					(*p)++;
					return true;
				}
				for (;;)
				{
					if (object)
					{
						const char *err = NULL;

						skip_ws(p, end);
						c->syntax_at = *p;
						if (*p >= end || **p != '"')
						{
							c->syntax_error = "a member name is missing";
							return false;
						}
						if (scan_string(p, end, NULL, 0, NULL, NULL, &err) != SCAN_OK)
						{
							c->syntax_error = err;
							c->syntax_at = *p;
							return false;
						}
						skip_ws(p, end);
						c->syntax_at = *p;
						if (*p >= end || **p != ':')
						{
							c->syntax_error = "\":\" is missing after a member name";
							return false;
						}
						(*p)++;
					}
					if (!skip_value(c, p, end, depth + 1))
						return false;
					skip_ws(p, end);
					c->syntax_at = *p;
					if (*p < end && **p == ',')
					{
						(*p)++;
						continue;
					}
					if (*p < end && **p == close)
					{
						(*p)++;
						return true;
					}
					c->syntax_error = object ? "\",\" or \"}\" is missing" :
						"\",\" or \"]\" is missing";
					return false;
				}
			}
		case 't':
			if (end - *p >= 4 && memcmp(*p, "true", 4) == 0)
			{
				*p += 4;
				return true;
			}
			break;
		case 'f':
			if (end - *p >= 5 && memcmp(*p, "false", 5) == 0)
			{
				*p += 5;
				return true;
			}
			break;
		case 'n':
			if (end - *p >= 4 && memcmp(*p, "null", 4) == 0)
			{
				*p += 4;
				return true;
			}
			break;
		default:
			{
				ds_json_reader r;
				char		text[DS_JSON_MAX_NUMBER];
				bool		integral;

				ds_json_reader_init(&r, *p, (size_t) (end - *p), NULL, 0);
				if (ds_json_read_number_text(&r, "a value", text, sizeof(text), &integral))
				{
					*p = r.p;
					return true;
				}
				break;
			}
	}
	c->syntax_error = "an unexpected character (not a JSON value, or a number too long)";
	return false;
}

/* ---------------------------------------------------------------------
 * Second pass: walking checked text
 * ---------------------------------------------------------------------
 */

/* The span of the value that starts at *p (after white space). */
static tm_span
next_span(tm_ctx *c, const char **p, const char *end)
{
	tm_span		s;

	skip_ws(p, end);
	s.p = *p;
	(void) skip_value(c, p, end, 0);	/* checked by the first pass */
	s.end = *p;
	return s;
}

/* The JSON type of a span, for messages. */
static const char *
span_type(tm_span s)
{
	switch (*s.p)
	{
		case '"':
			return "string";
		case '{':
			return "object";
		case '[':
			return "array";
		case 't':
		case 'f':
			return "boolean";
		case 'n':
			return "null";
		default:
			return "number";
	}
}

/* Decode a string span; false when it does not fit in cap bytes. */
static bool
span_string(tm_span s, char *out, size_t cap, size_t *nbytes, size_t *nchars)
{
	const char *p = s.p;
	const char *err;

	return scan_string(&p, s.end, out, cap, nbytes, nchars, &err) == SCAN_OK;
}

/* Iterate over the elements of an array span. */
typedef struct tm_iter
{
	const char *p;
	const char *end;
	bool		first;
} tm_iter;

/* Start iterating over the elements or members of an array or object span. */
static void
iter_init(tm_iter *it, tm_span s)
{
	it->p = s.p + 1;
	it->end = s.end;
	it->first = true;
}

/* The next element of an array span, or false at its end. */
static bool
array_next(tm_ctx *c, tm_iter *it, tm_span *elem)
{
	skip_ws(&it->p, it->end);
	if (it->p >= it->end || *it->p == ']')
		return false;
	if (!it->first && *it->p == ',')
		it->p++;
	it->first = false;
	*elem = next_span(c, &it->p, it->end);
	return true;
}

/* The next member of an object span: its decoded name and value. */
static bool
object_next(tm_ctx *c, tm_iter *it, char *name, size_t cap, bool *long_name,
			tm_span *value)
{
	const char *err;
	size_t		nbytes;

	skip_ws(&it->p, it->end);
	if (it->p >= it->end || *it->p == '}')
		return false;
	if (!it->first && *it->p == ',')
	{
		it->p++;
		skip_ws(&it->p, it->end);
	}
	it->first = false;
	*long_name = scan_string(&it->p, it->end, name, cap, &nbytes, NULL, &err) != SCAN_OK;
	skip_ws(&it->p, it->end);
	it->p++;					/* the colon */
	*value = next_span(c, &it->p, it->end);
	return true;
}

/* How many elements an array span has. */
static int
array_length(tm_ctx *c, tm_span s)
{
	tm_iter		it;
	tm_span		e;
	int			n = 0;

	iter_init(&it, s);
	while (array_next(c, &it, &e))
		n++;
	return n;
}

/*
 * Collect the members of an object span.  Repeated names (possible in
 * JSON text, never in a jsonb) are refused.
 */
static bool
collect_members(tm_ctx *c, tm_span s, tm_object *o, const char *where)
{
	tm_iter		it;
	char		name[TM_MEMBER_NAME_CAP];
	bool		long_name;
	tm_span		value;
	char		qb[TM_QUOTE_CAP];

	o->n = 0;
	o->overflow = false;
	iter_init(&it, s);
	while (object_next(c, &it, name, sizeof(name), &long_name, &value))
	{
		for (int i = 0; i < o->n; i++)
			if (!long_name && !o->m[i].long_name && strcmp(o->m[i].name, name) == 0)
				return fail(c, DS_TWIN_INVALID, NULL, "%s has member %s twice",
							where, quote(qb, name, strlen(name)));
		if (o->n == TM_MAX_MEMBERS)
		{
			if (!o->overflow)
				memcpy(o->overflow_name, name, sizeof(name));
			o->overflow = true;
			continue;
		}
		memcpy(o->m[o->n].name, name, sizeof(name));
		o->m[o->n].long_name = long_name;
		o->m[o->n].value = value;
		o->n++;
	}
	return true;
}

/* The value of the member called name, or NULL. */
static tm_span *
member(tm_object *o, const char *name)
{
	for (int i = 0; i < o->n; i++)
		if (!o->m[i].long_name && strcmp(o->m[i].name, name) == 0)
			return &o->m[i].value;
	return NULL;
}

/*
 * The first member whose name is not in allowed (NULL-terminated), or
 * NULL.  *shown receives its quoted name.
 */
static bool
has_unknown_member(tm_object *o, const char *const *allowed, char *shown)
{
	for (int i = 0; i < o->n; i++)
	{
		bool		known = false;

		for (int k = 0; allowed[k] != NULL && !o->m[i].long_name; k++)
			if (strcmp(allowed[k], o->m[i].name) == 0)
				known = true;
		if (!known)
		{
			quote(shown, o->m[i].name, strlen(o->m[i].name));
			return true;
		}
	}
	if (o->overflow)
	{
		quote(shown, o->overflow_name, strlen(o->overflow_name));
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * DTDL rules
 * ---------------------------------------------------------------------
 */

/*
 * Why s (n bytes) is not a DTMI of at most maxlen characters, as a clause
 * ("it has no version"), or NULL if it is one.  System DTMIs (a segment
 * starting with an underscore) are refused: DTDL models may only hold
 * user DTMIs.
 */
static const char *
dtmi_problem(const char *s, size_t n, size_t maxlen, char *buf, size_t cap)
{
	size_t		i;
	size_t		seg;
	size_t		vstart;

	if (n < 5 || memcmp(s, "dtmi:", 5) != 0)
		return "it does not start with \"dtmi:\"";
	i = 5;
	for (;;)
	{
		seg = i;
		while (i < n && s[i] != ':' && s[i] != ';')
		{
			char		ch = s[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				  (ch >= '0' && ch <= '9') || ch == '_'))
				return "a segment holds a character other than a letter, digit or underscore";
			i++;
		}
		if (i == seg)
			return "a segment of its path is empty";
		if (s[seg] >= '0' && s[seg] <= '9')
			return "a segment starts with a digit";
		if (s[seg] == '_')
			return "a segment starts with an underscore (a system DTMI, not allowed in models)";
		if (s[i - 1] == '_')
			return "a segment ends with an underscore";
		if (i >= n)
			return "it has no version (\";\" and a positive integer at the end)";
		if (s[i] == ';')
			break;
		i++;					/* ':' */
	}
	i++;						/* ';' */
	vstart = i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i != n || i == vstart || s[vstart] == '0' || i - vstart > 9)
		return "its version is not a positive integer of at most nine digits without leading zeros";
	if (n > maxlen)
	{
		snprintf(buf, cap, "it is %zu characters long, more than the %zu DTDL allows here", n, maxlen);
		return buf;
	}
	return NULL;
}

/* dtmi_problem over a string span, whose text goes to text. */
static const char *
span_dtmi_problem(tm_span s, size_t maxlen, char *text, size_t cap,
				  char *buf, size_t bufcap)
{
	size_t		nbytes,
				nchars;

	if (!span_string(s, text, cap, &nbytes, &nchars))
	{
		snprintf(buf, bufcap, "it is %zu characters long, more than the %zu DTDL allows here",
				 nchars, maxlen);
		return buf;
	}
	return dtmi_problem(text, nbytes, maxlen, buf, bufcap);
}

/* DTDL's name rule: ^[a-zA-Z](?:[a-zA-Z0-9_]*[a-zA-Z0-9])?$ */
static bool
valid_name(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
	{
		char		ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return s[n - 1] != '_';
}

/* A language tag as BCP 47 spells them: letters, then "-" and subtags. */
static bool
valid_language_tag(const char *s, size_t n)
{
	size_t		i = 0;
	size_t		sub;

	if (n == 0 || n > 35)
		return false;
	sub = 0;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		i++, sub++;
	if (sub == 0 || sub > 8)
		return false;
	while (i < n)
	{
		if (s[i] != '-')
			return false;
		i++;
		sub = 0;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
						 (s[i] >= '0' && s[i] <= '9')))
			i++, sub++;
		if (sub == 0 || sub > 8)
			return false;
	}
	return true;
}

/* A DTDL v2 semantic type by name, or NULL. */
static const tm_semantic *
find_semantic(const char *name)
{
	for (int i = 0; i < N_SEMANTIC_TYPES; i++)
		if (strcmp(semantic_types[i].name, name) == 0)
			return &semantic_types[i];
	return NULL;
}

/* A content class by name, or C_NONE. */
static tm_class
find_class(const char *name)
{
	for (int i = C_TELEMETRY; i <= C_COMPONENT; i++)
		if (strcmp(class_names[i], name) == 0)
			return (tm_class) i;
	return C_NONE;
}

/*
 * The types DTDL v2 itself defines for the elements of a model.  In an
 * @type array, any other string that is no semantic type is an undefined
 * co-type.
 */
static const char *const dtdl_types[] = {
	"Array", "Command", "CommandPayload", "Component", "Enum", "EnumValue",
	"Field", "Interface", "Map", "MapKey", "MapValue", "Object", "Property",
	"Relationship", "Telemetry", NULL
};

static bool
is_dtdl_type(const char *name)
{
	for (int i = 0; dtdl_types[i] != NULL; i++)
		if (strcmp(dtdl_types[i], name) == 0)
			return true;
	return false;
}

/* The prefixes DTDL reserves for its own DTMIs. */
static bool
reserved_dtmi(const char *text)
{
	return strncmp(text, "dtmi:dtdl:", 10) == 0 ||
		strncmp(text, "dtmi:standard:", 14) == 0;
}

#define UNDEFINED_COTYPE_HINT \
	"DTDL names are case-sensitive: if a semantic type such as \"Temperature\" was meant, correct its spelling; otherwise remove the co-type and any members it brings."

static uint64_t
id_hash(const char *s, size_t n)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char) s[i]) * UINT64_C(1099511628211);
	return h;
}

/* Put an entry into a table known to have a free slot. */
static void
id_put(tm_id *table, size_t cap, const tm_id *e)
{
	size_t		i = (size_t) e->hash & (cap - 1);

	while (table[i].p != NULL)
		i = (i + 1) & (cap - 1);
	table[i] = *e;
}

/* "the interface" or "element \"contents[2].properties[0]\"" */
static void
id_owner(char *buf, size_t cap, const tm_id *e)
{
	if (e->content < 0)
		snprintf(buf, cap, "the interface");
	else if (e->prop < 0)
		snprintf(buf, cap, "element \"contents[%d]\"", e->content);
	else
		snprintf(buf, cap, "element \"contents[%d].properties[%d]\"", e->content, e->prop);
}

/*
 * Record the @id of the interface or an element, refusing one that an
 * earlier element (or the interface) has already: every @id names one
 * element of the model.  text is the decoded, valid DTMI of span s.
 */
static bool
register_id(tm_ctx *c, tm_span s, const char *text, int content, int prop,
			const char *where)
{
	size_t		n = strlen(text);
	tm_id		e;
	size_t		i;

	e.hash = id_hash(text, n);
	e.p = s.p;
	e.end = s.end;
	e.content = content;
	e.prop = prop;

	if (c->ids != NULL)
	{
		for (i = (size_t) e.hash & (c->idcap - 1); c->ids[i].p != NULL;
			 i = (i + 1) & (c->idcap - 1))
		{
			char		other[DS_TWIN_DTMI_MAX + 1];
			char		owner[64];
			char		qb[TM_QUOTE_CAP];
			size_t		nbytes,
						nchars;
			tm_span		os;

			if (c->ids[i].hash != e.hash)
				continue;
			os.p = c->ids[i].p;
			os.end = c->ids[i].end;
			if (!span_string(os, other, sizeof(other), &nbytes, &nchars) ||
				nbytes != n || memcmp(other, text, n) != 0)
				continue;
			id_owner(owner, sizeof(owner), &c->ids[i]);
			return fail(c, DS_TWIN_INVALID,
						"An @id identifies one element of the model: give each element an @id of its own, or none.",
						"%s: @id %s is also the @id of %s",
						where, quote(qb, text, n), owner);
		}
	}

	/* keep the table at most half full */
	if (c->nids + 1 > c->idcap / 2)
	{
		size_t		cap = c->idcap ? c->idcap * 2 : 64;
		tm_id	   *t = calloc(cap, sizeof(tm_id));

		if (t == NULL)
			return fail(c, DS_TWIN_NO_MEMORY, NULL,
						"There is not enough memory to compare the @id values of the model");
		for (i = 0; i < c->idcap; i++)
			if (c->ids[i].p != NULL)
				id_put(t, cap, &c->ids[i]);
		free(c->ids);
		c->ids = t;
		c->idcap = cap;
	}
	id_put(c->ids, c->idcap, &e);
	c->nids++;
	return true;
}

/* A primitive schema by name, or DS_SCHEMA_NONE. */
static ds_twin_schema
find_schema(const char *name)
{
	for (int i = DS_SCHEMA_BOOLEAN; i <= DS_SCHEMA_TIME; i++)
		if (strcmp(schema_names[i], name) == 0)
			return (ds_twin_schema) i;
	return DS_SCHEMA_NONE;
}

/* A hint listing the units of a semantic type. */
static void
unit_hint(char *buf, size_t cap, const tm_semantic *st)
{
	size_t		o;

	o = (size_t) snprintf(buf, cap, "The units of semantic type \"%s\" are", st->name);
	for (int i = 0; st->units[i] != NULL && o < cap; i++)
		o += (size_t) snprintf(buf + o, cap - o, "%s %s", i == 0 ? "" : ",", st->units[i]);
	if (o < cap)
		snprintf(buf + o, cap - o, ".");
}

/*
 * displayName, description and comment: a string of at most maxchars
 * characters, or (localizable members) a language map of such strings.
 * english, when given, receives the English text ("en", else the first
 * "en-..." entry) and *has_english whether there is one.
 */
static bool
check_text(tm_ctx *c, const char *where, const char *what, tm_span s,
		   size_t maxchars, bool localizable, char *english, bool *has_english)
{
	char		text[DS_TWIN_TEXT_BYTES];
	size_t		nbytes,
				nchars;
	char		qb[TM_QUOTE_CAP];

	if (has_english)
		*has_english = false;
	if (*s.p == '"')
	{
		if (!span_string(s, text, sizeof(text), &nbytes, &nchars) || nchars > maxchars)
			return fail(c, DS_TWIN_INVALID, NULL,
						"%s: %s is %zu characters long; DTDL allows at most %zu",
						where, what, nchars, maxchars);
		if (english)
		{
			memcpy(english, text, nbytes + 1);
			*has_english = true;
		}
		return true;
	}
	if (*s.p == '{' && localizable)
	{
		tm_iter		it;
		char		tag[TM_MEMBER_NAME_CAP];
		bool		long_tag;
		tm_span		v;
		int			n = 0;
		bool		exact = false;

		iter_init(&it, s);
		while (object_next(c, &it, tag, sizeof(tag), &long_tag, &v))
		{
			if (++n > DS_TWIN_MAX_LANGUAGES)
				return fail(c, DS_TWIN_INVALID, NULL,
							"%s: %s has more than %d languages",
							where, what, DS_TWIN_MAX_LANGUAGES);
			if (long_tag || !valid_language_tag(tag, strlen(tag)))
				return fail(c, DS_TWIN_INVALID,
							"The keys of a language map are language tags such as \"en\" or \"de-CH\".",
							"%s: %s has key %s, which is not a language tag",
							where, what, quote(qb, tag, strlen(tag)));
			if (*v.p != '"')
				return fail(c, DS_TWIN_INVALID, NULL,
							"%s: %s in language %s is a JSON %s, not a string",
							where, what, quote(qb, tag, strlen(tag)), span_type(v));
			if (!span_string(v, text, sizeof(text), &nbytes, &nchars) || nchars > maxchars)
				return fail(c, DS_TWIN_INVALID, NULL,
							"%s: %s in language %s is %zu characters long; DTDL allows at most %zu",
							where, what, quote(qb, tag, strlen(tag)), nchars, maxchars);
			if (english && !exact &&
				(strcmp(tag, "en") == 0 ||
				 (!*has_english && strncmp(tag, "en-", 3) == 0)))
			{
				memcpy(english, text, nbytes + 1);
				*has_english = true;
				exact = strcmp(tag, "en") == 0;
			}
		}
		return true;
	}
	if (localizable)
		return fail(c, DS_TWIN_INVALID, NULL,
					"%s: %s is a JSON %s, not a string or a language map",
					where, what, span_type(s));
	return fail(c, DS_TWIN_INVALID, NULL, "%s: %s is a JSON %s, not a string",
				where, what, span_type(s));
}

/* The optional displayName, description and comment of an object. */
static bool
check_texts(tm_ctx *c, const char *where, tm_object *o,
			char *english_description, bool *has_description)
{
	tm_span    *v;

	if (has_description)
		*has_description = false;
	if ((v = member(o, "displayName")) != NULL &&
		!check_text(c, where, "displayName", *v, DS_TWIN_DISPLAY_NAME_MAX, true, NULL, NULL))
		return false;
	if ((v = member(o, "description")) != NULL &&
		!check_text(c, where, "description", *v, DS_TWIN_TEXT_MAX, true,
					english_description, has_description))
		return false;
	if ((v = member(o, "comment")) != NULL &&
		!check_text(c, where, "comment", *v, DS_TWIN_TEXT_MAX, false, NULL, NULL))
		return false;
	return true;
}

/* An integer member of a Relationship, within [lo, hi]. */
static bool
check_multiplicity(tm_ctx *c, const char *where, const char *what, tm_span s,
				   int64_t lo, int64_t hi)
{
	ds_json_reader r;
	int64_t		v;
	char		why[128];

	if (*s.p != '-' && !(*s.p >= '0' && *s.p <= '9'))
		return fail(c, DS_TWIN_INVALID, NULL, "%s: %s is a JSON %s, not an integer",
					where, what, span_type(s));
	ds_json_reader_init(&r, s.p, (size_t) (s.end - s.p), why, sizeof(why));
	if (!ds_json_read_int64(&r, what, &v))
		return fail(c, DS_TWIN_INVALID, NULL, "%s: %s %.*s is not an integer",
					where, what, (int) (s.end - s.p > 40 ? 40 : s.end - s.p), s.p);
	if (v < lo || v > hi)
	{
		if (lo == hi)
			return fail(c, DS_TWIN_INVALID, NULL,
						"%s: %s is %lld; DTDL v2 allows only %lld",
						where, what, (long long) v, (long long) lo);
		return fail(c, DS_TWIN_INVALID, NULL,
					"%s: %s is %lld; it must lie between %lld and %lld",
					where, what, (long long) v, (long long) lo, (long long) hi);
	}
	return true;
}

static const char *const telemetry_members[] = {
	"@type", "@id", "name", "comment", "description", "displayName",
	"schema", "unit", NULL
};
static const char *const property_members[] = {
	"@type", "@id", "name", "comment", "description", "displayName",
	"schema", "unit", "writable", NULL
};
static const char *const relationship_members[] = {
	"@type", "@id", "name", "comment", "description", "displayName",
	"target", "minMultiplicity", "maxMultiplicity", "writable", "properties", NULL
};

#define ELEMENT_MEMBERS_HINT(cls, list) \
	"A " cls " may have " list "; docs/twin-models.md lists what each means."

/*
 * Check one element of contents (or of a Relationship's properties, when
 * only_property).  path is "contents[2]"; names collects the names of its
 * siblings.
 */
static bool
check_element(tm_ctx *c, tm_span s, const char *path, int index,
			  bool only_property, tm_names *names)
{
	tm_object	obj;
	tm_object  *o = &obj;
	char		where[TM_QUOTE_CAP + 64];
	char		name[DS_TWIN_NAME_MAX + 1] = "";
	char		text[DS_TWIN_DTMI_MAX + 1];
	char		qb[TM_QUOTE_CAP];
	char		hint[512];
	char		buf[96];
	size_t		nbytes,
				nchars;
	tm_span    *v;
	tm_class	cls = C_NONE;
	const tm_semantic *st = NULL;
	char		cotype[TM_QUOTE_CAP] = "";
	ds_twin_schema schema = DS_SCHEMA_NONE;
	const char *problem;
	const char *const *allowed;
	ds_twin_telemetry *tel = NULL;
	bool		ok = false;

	snprintf(where, sizeof(where), "Element \"%s\"", path);
	if (*s.p != '{')
		return fail(c, DS_TWIN_INVALID,
					"Each element of contents is an object such as {\"@type\": \"Telemetry\", \"name\": \"temp\", \"schema\": \"double\"}.",
					"%s is a JSON %s, not an object", where, span_type(s));

	if (!collect_members(c, s, o, where))
		return false;

	/* name it in messages as soon as its name is known to be one */
	if ((v = member(o, "name")) != NULL && *v->p == '"' &&
		span_string(*v, name, sizeof(name), &nbytes, &nchars) &&
		valid_name(name, nbytes))
		snprintf(where, sizeof(where), "Element \"%s\" (\"%s\")", path, name);
	else
		name[0] = '\0';

	/* @type: the content class, and at most one semantic type */
	if ((v = member(o, "@type")) == NULL)
	{
		fail(c, DS_TWIN_INVALID,
			 "Each element names its kind in @type: \"Telemetry\", \"Property\" or \"Relationship\".",
			 "%s has no \"@type\"", where);
		goto done;
	}
	if (*v->p == '"' || *v->p == '[')
	{
		tm_iter		it;
		tm_span		t = *v;
		bool		is_array = *v->p == '[';
		bool		more;
		int			n = 0;

		iter_init(&it, *v);
		for (more = is_array ? array_next(c, &it, &t) : true; more;
			 more = is_array && array_next(c, &it, &t))
		{
			tm_class	k;
			const tm_semantic *sem;

			n++;
			if (*t.p != '"')
			{
				fail(c, DS_TWIN_INVALID, NULL,
					 "%s: @type holds a JSON %s, not a string", where, span_type(t));
				goto done;
			}
			if (!span_string(t, text, sizeof(text), &nbytes, &nchars))
				nbytes = strlen(text);
			if ((k = find_class(text)) != C_NONE)
			{
				if (cls != C_NONE)
				{
					fail(c, DS_TWIN_INVALID, NULL,
						 "%s: @type names two kinds of content, \"%s\" and \"%s\"",
						 where, class_names[cls], class_names[k]);
					goto done;
				}
				cls = k;
			}
			else if (is_array && (sem = find_semantic(text)) != NULL)
			{
				if (st != NULL)
				{
					fail(c, DS_TWIN_INVALID, NULL,
						 "%s: @type names two semantic types, \"%s\" and \"%s\"",
						 where, st->name, sem->name);
					goto done;
				}
				st = sem;
			}
			else if (is_array && !is_dtdl_type(text))
			{
				/* an undefined co-type: valid DTDL, refused below */
				if (cotype[0] == '\0')
					quote(cotype, text, nbytes);
			}
			else
			{
				fail(c, DS_TWIN_INVALID,
					 "This subset reads the content types Telemetry, Property and Relationship, co-typed (in an array) with at most one DTDL v2 semantic type such as \"Temperature\".",
					 is_array ? "%s: @type names %s, a DTDL type that is not a kind of content" :
					 "%s: @type %s is not a DTDL content type",
					 where, quote(qb, text, nbytes));
				goto done;
			}
		}
		if (cls == C_NONE)
		{
			fail(c, DS_TWIN_INVALID,
				 "Name the kind of content first, as in [\"Telemetry\", \"Temperature\"].",
				 "%s: @type names no kind of content (Telemetry, Property or Relationship)",
				 where);
			goto done;
		}
		if (cotype[0] != '\0')
		{
			fail(c, DS_TWIN_UNSUPPORTED, UNDEFINED_COTYPE_HINT,
				 "%s: @type names %s, which is neither a DTDL type nor a DTDL v2 semantic type; this version does not accept undefined co-types",
				 where, cotype);
			goto done;
		}
	}
	else
	{
		fail(c, DS_TWIN_INVALID, NULL,
			 "%s: @type is a JSON %s, not a string or an array of strings",
			 where, span_type(*v));
		goto done;
	}
	if (cls == C_COMMAND)
	{
		fail(c, DS_TWIN_UNSUPPORTED,
			 "A twin model here describes what a data source reports and holds; remove the Command, or describe the state it changes as a writable Property.",
			 "%s is a Command; this version does not accept Commands in twin models", where);
		goto done;
	}
	if (cls == C_COMPONENT)
	{
		fail(c, DS_TWIN_UNSUPPORTED,
			 "Describe the part as a child twin (dataspace.twin.parent_id) with a model of its own, or copy its contents into this interface.",
			 "%s is a Component; this version does not accept Components, which embed another interface by value", where);
		goto done;
	}
	if (only_property && cls != C_PROPERTY)
	{
		fail(c, DS_TWIN_INVALID, NULL,
			 "%s is a %s; the properties of a Relationship must be Properties",
			 where, class_names[cls]);
		goto done;
	}
	if (st != NULL && cls == C_RELATIONSHIP)
	{
		fail(c, DS_TWIN_INVALID, NULL,
			 "%s: a Relationship cannot have a semantic type (\"%s\")", where, st->name);
		goto done;
	}

	/* name */
	if ((v = member(o, "name")) == NULL)
	{
		fail(c, DS_TWIN_INVALID,
			 "Names are programming identifiers of at most 64 characters such as \"oilTemperature\" or \"temp_1\".",
			 "%s has no \"name\"", where);
		goto done;
	}
	if (*v->p != '"')
	{
		fail(c, DS_TWIN_INVALID, NULL, "%s: name is a JSON %s, not a string",
			 where, span_type(*v));
		goto done;
	}
	if (name[0] == '\0')
	{
		char		raw[DS_TWIN_TEXT_BYTES];

		span_string(*v, raw, sizeof(raw), &nbytes, &nchars);
		if (nchars > DS_TWIN_NAME_MAX)
			fail(c, DS_TWIN_INVALID, NULL,
				 "%s: name is %zu characters long; DTDL allows at most %d",
				 where, nchars, DS_TWIN_NAME_MAX);
		else
			fail(c, DS_TWIN_INVALID,
				 "Names are programming identifiers of at most 64 characters such as \"oilTemperature\" or \"temp_1\".",
				 "%s: name %s does not follow DTDL's rule: a letter, then letters, digits and underscores, not ending with an underscore",
				 where, quote(qb, raw, strlen(raw)));
		goto done;
	}
	for (int i = 0; i < names->n; i++)
		if (strcmp(names->name[i], name) == 0)
		{
			fail(c, DS_TWIN_INVALID,
				 only_property ? "The properties of one Relationship need distinct names." :
				 "The contents of one interface need distinct names, whatever their kind.",
				 "%s: name \"%s\" is also the name of element \"%.*s[%d]\"",
				 where, name, (int) (strrchr(path, '[') - path), path, names->index[i]);
			goto done;
		}
	if (names->n < DS_TWIN_MAX_CONTENTS)
	{
		memcpy(names->name[names->n], name, sizeof(name));
		names->index[names->n] = index;
		names->n++;
	}

	/* members this kind of element may have */
	allowed = cls == C_TELEMETRY ? telemetry_members :
		cls == C_PROPERTY ? property_members : relationship_members;
	if (has_unknown_member(o, allowed, qb))
	{
		fail(c, DS_TWIN_INVALID,
			 cls == C_TELEMETRY ?
			 ELEMENT_MEMBERS_HINT("Telemetry", "@type, @id, name, comment, description, displayName, schema and unit") :
			 cls == C_PROPERTY ?
			 ELEMENT_MEMBERS_HINT("Property", "@type, @id, name, comment, description, displayName, schema, unit and writable") :
			 ELEMENT_MEMBERS_HINT("Relationship", "@type, @id, name, comment, description, displayName, target, minMultiplicity, maxMultiplicity, writable and properties"),
			 "%s: member %s is not part of a %s in this subset",
			 where, qb, class_names[cls]);
		goto done;
	}

	/* @id */
	if ((v = member(o, "@id")) != NULL)
	{
		if (*v->p != '"')
		{
			fail(c, DS_TWIN_INVALID, NULL, "%s: @id is a JSON %s, not a string",
				 where, span_type(*v));
			goto done;
		}
		if ((problem = span_dtmi_problem(*v, DS_TWIN_DTMI_MAX, text, sizeof(text), buf, sizeof(buf))) != NULL)
		{
			fail(c, DS_TWIN_INVALID, NULL, "%s: @id %s is not a valid DTMI: %s",
				 where, quote(qb, text, strlen(text)), problem);
			goto done;
		}
		if (reserved_dtmi(text))
		{
			fail(c, DS_TWIN_INVALID,
				 "Use a prefix of your own, such as the reversed domain name of your organisation.",
				 "%s: @id %s uses a prefix DTDL reserves for itself",
				 where, quote(qb, text, strlen(text)));
			goto done;
		}
		if (!register_id(c, *v, text, only_property ? c->content : index,
						 only_property ? index : -1, where))
			goto done;
	}

	if (cls == C_TELEMETRY && c->out != NULL)
	{
		tel = &c->out->telemetry[c->out->ntelemetry];
		memset(tel, 0, sizeof(*tel));
		tel->index = index;
		memcpy(tel->name, name, sizeof(name));
	}
	if (!check_texts(c, where, o, tel ? tel->description : NULL,
					 tel ? &tel->has_description : NULL))
		goto done;

	if (cls == C_TELEMETRY || cls == C_PROPERTY)
	{
		/* schema */
		if ((v = member(o, "schema")) == NULL)
		{
			fail(c, DS_TWIN_INVALID,
				 "A Telemetry or Property names its data type in schema, for example \"double\".",
				 "%s has no \"schema\"", where);
			goto done;
		}
		if (*v->p == '{')
		{
			tm_object	so;
			tm_span    *t;
			char		kind[TM_QUOTE_CAP + 4] = "";

			if (!collect_members(c, *v, &so, where))
				goto done;
			if ((t = member(&so, "@type")) != NULL && *t->p == '"' &&
				span_string(*t, text, 64, &nbytes, &nchars))
				snprintf(kind, sizeof(kind), " (%s)", quote(qb, text, nbytes));
			fail(c, DS_TWIN_UNSUPPORTED,
				 "Use one of the primitive schemas " PRIMITIVE_LIST "; a structured value can be described as several elements.",
				 "%s: schema is a complex schema%s; this version accepts primitive schemas only",
				 where, kind);
			goto done;
		}
		if (*v->p != '"')
		{
			fail(c, DS_TWIN_INVALID, NULL, "%s: schema is a JSON %s, not a string",
				 where, span_type(*v));
			goto done;
		}
		if (!span_string(*v, text, sizeof(text), &nbytes, &nchars))
			nbytes = strlen(text);
		if ((schema = find_schema(text)) == DS_SCHEMA_NONE)
		{
			if (nbytes >= 5 && memcmp(text, "dtmi:", 5) == 0)
				fail(c, DS_TWIN_UNSUPPORTED,
					 "Use one of the primitive schemas " PRIMITIVE_LIST ".",
					 "%s: schema %s refers to a schema by its DTMI; this version accepts primitive schemas only",
					 where, quote(qb, text, nbytes));
			else
				fail(c, DS_TWIN_INVALID,
					 "The primitive schemas are " PRIMITIVE_LIST " (DTDL names are case-sensitive).",
					 "%s: schema %s is not a DTDL primitive schema",
					 where, quote(qb, text, nbytes));
			goto done;
		}

		/* semantic type and unit */
		v = member(o, "unit");
		if (st != NULL && !ds_twin_schema_numeric(schema))
		{
			fail(c, DS_TWIN_INVALID,
				 "Use double, float, integer or long, or drop the semantic type and the unit.",
				 "%s: schema \"%s\" is not numeric, but semantic type \"%s\" needs double, float, integer or long",
				 where, schema_names[schema], st->name);
			goto done;
		}
		if (st != NULL && v == NULL)
		{
			unit_hint(hint, sizeof(hint), st);
			fail(c, DS_TWIN_INVALID, hint, "%s: semantic type \"%s\" needs a unit",
				 where, st->name);
			goto done;
		}
		if (v != NULL && *v->p != '"')
		{
			fail(c, DS_TWIN_INVALID, NULL, "%s: unit is a JSON %s, not a string",
				 where, span_type(*v));
			goto done;
		}
		if (v != NULL)
		{
			bool		found = false;

			if (!span_string(*v, text, sizeof(text), &nbytes, &nchars))
				nbytes = strlen(text);
			if (st == NULL)
			{
				fail(c, DS_TWIN_INVALID,
					 "DTDL v2 allows a unit only together with a semantic type, such as [\"Telemetry\", \"Temperature\"] with \"degreeCelsius\".",
					 "%s: unit %s needs a semantic type in @type",
					 where, quote(qb, text, nbytes));
				goto done;
			}
			for (int i = 0; st->units[i] != NULL; i++)
				if (strcmp(st->units[i], text) == 0)
					found = true;
			if (!found)
			{
				unit_hint(hint, sizeof(hint), st);
				fail(c, DS_TWIN_INVALID, hint,
					 "%s: unit %s is not a unit of semantic type \"%s\"",
					 where, quote(qb, text, nbytes), st->name);
				goto done;
			}
			/* every DTDL v2 unit fits */
			if (tel && nbytes < sizeof(tel->unit))
				memcpy(tel->unit, text, nbytes + 1);
		}
		if (tel)
		{
			tel->schema = schema;
			if (st)
				snprintf(tel->semantic_type, sizeof(tel->semantic_type), "%s", st->name);
		}
	}

	/* writable */
	if ((v = member(o, "writable")) != NULL && *v->p != 't' && *v->p != 'f')
	{
		fail(c, DS_TWIN_INVALID, NULL, "%s: writable is a JSON %s, not true or false",
			 where, span_type(*v));
		goto done;
	}

	if (cls == C_RELATIONSHIP)
	{
		if ((v = member(o, "target")) != NULL)
		{
			if (*v->p != '"')
			{
				fail(c, DS_TWIN_INVALID, NULL, "%s: target is a JSON %s, not a string",
					 where, span_type(*v));
				goto done;
			}
			if ((problem = span_dtmi_problem(*v, DS_TWIN_DTMI_MAX, text, sizeof(text), buf, sizeof(buf))) != NULL)
			{
				fail(c, DS_TWIN_INVALID,
					 "A target names the interface of the twins this relationship may point to, such as \"dtmi:com:example:room;1\".",
					 "%s: target %s is not a valid DTMI: %s",
					 where, quote(qb, text, strlen(text)), problem);
				goto done;
			}
			if (reserved_dtmi(text))
			{
				fail(c, DS_TWIN_INVALID,
					 "A target names the interface of the twins this relationship may point to, a user DTMI such as \"dtmi:com:example:room;1\".",
					 "%s: target %s uses a prefix DTDL reserves for itself",
					 where, quote(qb, text, strlen(text)));
				goto done;
			}
		}
		if ((v = member(o, "minMultiplicity")) != NULL &&
			!check_multiplicity(c, where, "minMultiplicity", *v, 0, 0))
			goto done;
		if ((v = member(o, "maxMultiplicity")) != NULL &&
			!check_multiplicity(c, where, "maxMultiplicity", *v, 1, DS_TWIN_MAX_MULTIPLICITY))
			goto done;
		if ((v = member(o, "properties")) != NULL)
		{
			tm_names	pn;
			tm_iter		it;
			tm_span		e;
			int			n = 0;
			char		sub[64];

			pn.n = 0;
			if (*v->p == '{')
			{
				/* JSON-LD: a set of one may be given as the value itself */
				snprintf(sub, sizeof(sub), "%s.properties[0]", path);
				if (!check_element(c, *v, sub, 0, true, &pn))
					goto done;
			}
			else if (*v->p != '[')
			{
				fail(c, DS_TWIN_INVALID, NULL, "%s: properties is a JSON %s, not an array or an object",
					 where, span_type(*v));
				goto done;
			}
			else if ((n = array_length(c, *v)) > DS_TWIN_MAX_CONTENTS)
			{
				fail(c, DS_TWIN_INVALID, NULL, "%s: properties has %d elements; DTDL allows at most %d",
					 where, n, DS_TWIN_MAX_CONTENTS);
				goto done;
			}
			else
			{
				iter_init(&it, *v);
				n = 0;
				while (array_next(c, &it, &e))
				{
					snprintf(sub, sizeof(sub), "%s.properties[%d]", path, n);
					if (!check_element(c, e, sub, n, true, &pn))
						break;
					n++;
				}
				if (c->result != DS_TWIN_VALID)
					goto done;
			}
		}
	}

	if (tel)
		c->out->ntelemetry++;
	ok = true;
done:
	return ok;
}

static const char *const interface_members[] = {
	"@context", "@id", "@type", "comment", "contents", "description",
	"displayName", "extends", "schemas", NULL
};

/* The interface: the whole model. */
static bool
check_interface(tm_ctx *c, tm_span s)
{
	tm_object	obj;
	tm_object  *o = &obj;
	tm_span    *v;
	char		text[DS_TWIN_DTMI_MAX + 1];
	char		qb[TM_QUOTE_CAP];
	char		buf[96];
	size_t		nbytes,
				nchars;
	const char *problem;
	bool		ok = false;

	if (*s.p != '{')
		return fail(c, DS_TWIN_INVALID,
					"A twin model is one DTDL interface: a JSON object with \"@context\", \"@id\" and \"@type\".",
					"The model is a JSON %s, not an object", span_type(s));
	if (!collect_members(c, s, o, "The interface"))
		return false;

	/* @context */
	if ((v = member(o, "@context")) == NULL)
	{
		fail(c, DS_TWIN_INVALID, "Add \"@context\": \"dtmi:dtdl:context;2\".",
			 "The interface has no \"@context\"");
		goto done;
	}
	if (*v->p == '[')
	{
		tm_iter		it;
		tm_span		e;
		int			n = 0;

		iter_init(&it, *v);
		while (array_next(c, &it, &e))
		{
			if (*e.p != '"')
			{
				fail(c, DS_TWIN_INVALID, NULL, "The interface: @context holds a JSON %s, not a string",
					 span_type(e));
				goto done;
			}
			span_string(e, text, sizeof(text), &nbytes, &nchars);
			if (n == 0 && strcmp(text, "dtmi:dtdl:context;2") != 0)
			{
				fail(c, DS_TWIN_INVALID,
					 "This version reads DTDL v2 models: \"@context\": \"dtmi:dtdl:context;2\".",
					 "The interface: @context starts with %s, not \"dtmi:dtdl:context;2\"",
					 quote(qb, text, strlen(text)));
				goto done;
			}
			if (n > 0)
			{
				fail(c, DS_TWIN_UNSUPPORTED,
					 "Use \"@context\": \"dtmi:dtdl:context;2\" alone and remove what the extension adds.",
					 "The interface: @context names %s besides DTDL v2; this version accepts no language extensions",
					 quote(qb, text, strlen(text)));
				goto done;
			}
			n++;
		}
		if (n == 0)
		{
			fail(c, DS_TWIN_INVALID, "Use \"@context\": \"dtmi:dtdl:context;2\".",
				 "The interface: @context is an empty array");
			goto done;
		}
	}
	else if (*v->p == '"')
	{
		span_string(*v, text, sizeof(text), &nbytes, &nchars);
		if (strcmp(text, "dtmi:dtdl:context;2") != 0)
		{
			fail(c, DS_TWIN_INVALID,
				 "This version reads DTDL v2 models: \"@context\": \"dtmi:dtdl:context;2\".",
				 "The interface: @context is %s, not \"dtmi:dtdl:context;2\"",
				 quote(qb, text, strlen(text)));
			goto done;
		}
	}
	else
	{
		fail(c, DS_TWIN_INVALID, "Use \"@context\": \"dtmi:dtdl:context;2\".",
			 "The interface: @context is a JSON %s, not a string", span_type(*v));
		goto done;
	}

	/* @type */
	if ((v = member(o, "@type")) == NULL)
	{
		fail(c, DS_TWIN_INVALID, "Add \"@type\": \"Interface\".",
			 "The interface has no \"@type\"");
		goto done;
	}
	if (*v->p == '[')
	{
		tm_iter		it;
		tm_span		t;
		bool		found = false;
		char		cotype[TM_QUOTE_CAP] = "";

		iter_init(&it, *v);
		while (array_next(c, &it, &t))
		{
			if (*t.p != '"')
			{
				fail(c, DS_TWIN_INVALID, "Use \"@type\": \"Interface\".",
					 "The interface: @type holds a JSON %s, not a string", span_type(t));
				goto done;
			}
			if (!span_string(t, text, sizeof(text), &nbytes, &nchars))
				nbytes = strlen(text);
			if (strcmp(text, "Interface") == 0)
				found = true;
			else if (is_dtdl_type(text) || find_semantic(text) != NULL)
			{
				fail(c, DS_TWIN_INVALID,
					 "A twin model is one DTDL interface; its elements go into \"contents\".",
					 "The interface: @type names %s, which is not a type of an interface",
					 quote(qb, text, nbytes));
				goto done;
			}
			else if (cotype[0] == '\0')
				quote(cotype, text, nbytes);
		}
		if (!found)
		{
			fail(c, DS_TWIN_INVALID, "Use \"@type\": \"Interface\".",
				 "The interface: @type does not name \"Interface\"");
			goto done;
		}
		if (cotype[0] != '\0')
		{
			fail(c, DS_TWIN_UNSUPPORTED, UNDEFINED_COTYPE_HINT,
				 "The interface: @type names %s, which is not a DTDL type; this version does not accept undefined co-types",
				 cotype);
			goto done;
		}
	}
	else if (*v->p != '"')
	{
		fail(c, DS_TWIN_INVALID, "Use \"@type\": \"Interface\".",
			 "The interface: @type is a JSON %s, not a string or an array of strings",
			 span_type(*v));
		goto done;
	}
	else
	{
		if (!span_string(*v, text, sizeof(text), &nbytes, &nchars))
			nbytes = strlen(text);
		if (strcmp(text, "Interface") != 0)
		{
			fail(c, DS_TWIN_INVALID,
				 "A twin model is one DTDL interface; its elements go into \"contents\".",
				 "The interface: @type is %s, not \"Interface\"", quote(qb, text, nbytes));
			goto done;
		}
	}

	/* @id */
	if ((v = member(o, "@id")) == NULL)
	{
		fail(c, DS_TWIN_INVALID,
			 "Give the interface a DTMI such as \"dtmi:com:example:press;1\".",
			 "The interface has no \"@id\"");
		goto done;
	}
	if (*v->p != '"')
	{
		fail(c, DS_TWIN_INVALID, NULL, "The interface: @id is a JSON %s, not a string",
			 span_type(*v));
		goto done;
	}
	if ((problem = span_dtmi_problem(*v, DS_TWIN_INTERFACE_ID_MAX, text, sizeof(text), buf, sizeof(buf))) != NULL)
	{
		fail(c, DS_TWIN_INVALID,
			 "A DTMI is \"dtmi:\", segments of letters, digits and underscores separated by \":\" (each starting with a letter), \";\" and a version, such as \"dtmi:com:example:press;1\".",
			 "The interface: @id %s is not a valid interface DTMI: %s", quote(qb, text, strlen(text)), problem);
		goto done;
	}
	nbytes = strlen(text);
	if (strncmp(text, "dtmi:dtdl:", 10) == 0 || strncmp(text, "dtmi:standard:", 14) == 0)
	{
		fail(c, DS_TWIN_INVALID,
			 "Use a prefix of your own, such as the reversed domain name of your organisation.",
			 "The interface: @id %s uses a prefix DTDL reserves for itself", quote(qb, text, nbytes));
		goto done;
	}
	if (c->out)
		memcpy(c->out->id, text, nbytes + 1);
	if (!register_id(c, *v, text, -1, -1, "The interface"))
		goto done;

	if (has_unknown_member(o, interface_members, qb))
	{
		fail(c, DS_TWIN_INVALID,
			 "An interface may have @context, @id, @type, comment, contents, description and displayName.",
			 "The interface has an unknown member %s", qb);
		goto done;
	}
	if (member(o, "extends") != NULL)
	{
		fail(c, DS_TWIN_UNSUPPORTED,
			 "Copy the inherited contents into this interface.",
			 "The interface extends other interfaces; this version does not resolve \"extends\"");
		goto done;
	}
	if (member(o, "schemas") != NULL)
	{
		fail(c, DS_TWIN_UNSUPPORTED,
			 "Use the primitive schemas " PRIMITIVE_LIST ".",
			 "The interface defines reusable schemas; this version accepts primitive schemas only");
		goto done;
	}
	if (!check_texts(c, "The interface", o, NULL, NULL))
		goto done;

	/* contents */
	if ((v = member(o, "contents")) != NULL)
	{
		tm_iter		it;
		tm_span		e;
		int			n;
		tm_names	names;
		char		path[32];

		names.n = 0;
		if (*v->p == '{')
		{
			/* JSON-LD: a set of one may be given as the value itself */
			if (c->out)
				c->out->ncontents = 1;
			c->content = 0;
			if (!check_element(c, *v, "contents[0]", 0, false, &names))
				goto done;
		}
		else if (*v->p != '[')
		{
			fail(c, DS_TWIN_INVALID,
				 "The member \"contents\" lists the interface's elements: [{\"@type\": \"Telemetry\", \"name\": \"temp\", \"schema\": \"double\"}, ...].",
				 "The interface: contents is a JSON %s, not an array or an object", span_type(*v));
			goto done;
		}
		else if ((n = array_length(c, *v)) > DS_TWIN_MAX_CONTENTS)
		{
			fail(c, DS_TWIN_INVALID,
				 "Split the description over several twins, for example a parent and its children.",
				 "The interface: contents has %d elements; DTDL allows at most %d", n, DS_TWIN_MAX_CONTENTS);
			goto done;
		}
		else
		{
			if (c->out)
				c->out->ncontents = n;
			iter_init(&it, *v);
			n = 0;
			while (array_next(c, &it, &e))
			{
				snprintf(path, sizeof(path), "contents[%d]", n);
				c->content = n;
				if (!check_element(c, e, path, n, false, &names))
					break;
				n++;
			}
			if (c->result != DS_TWIN_VALID)
				goto done;
		}
	}
	ok = true;
done:
	return ok;
}

/*
 * ds_twin_model_check
 *		Check the JSON text of a twin model against the subset.
 */
ds_twin_result
ds_twin_model_check(const char *json, size_t len, ds_twin_model *out,
					char *why, size_t whylen, char *hint, size_t hintlen)
{
	tm_ctx		c;
	const char *p = json;
	const char *end = json + len;
	tm_span		root;

	memset(&c, 0, sizeof(c));
	c.start = json;
	c.why = why;
	c.whylen = whylen;
	c.hint = hint;
	c.hintlen = hintlen;
	c.result = DS_TWIN_VALID;
	c.out = out;
	if (why && whylen)
		why[0] = '\0';
	if (hint && hintlen)
		hint[0] = '\0';
	if (out)
	{
		out->id[0] = '\0';
		out->ncontents = 0;
		out->ntelemetry = 0;
	}

	/* first pass: JSON text */
	skip_ws(&p, end);
	root.p = p;
	if (!skip_value(&c, &p, end, 0) || (skip_ws(&p, end), p != end))
	{
		fail(&c, DS_TWIN_BAD_JSON, NULL, "The model is not JSON text: %s at offset %ld",
			 c.syntax_error ? c.syntax_error : "text after the value",
			 (long) ((c.syntax_error ? c.syntax_at : p) - json));
		return c.result;
	}
	root.end = p;

	/* second pass: the subset */
	(void) check_interface(&c, root);
	free(c.ids);
	return c.result;
}

/* The DTDL name of a primitive schema ("" for none). */
const char *
ds_twin_schema_name(ds_twin_schema s)
{
	if (s < DS_SCHEMA_NONE || s > DS_SCHEMA_TIME)
		return "";
	return schema_names[s];
}

/* Numeric schemas: what a double precision stream asset can hold. */
bool
ds_twin_schema_numeric(ds_twin_schema s)
{
	return s == DS_SCHEMA_DOUBLE || s == DS_SCHEMA_FLOAT ||
		s == DS_SCHEMA_INTEGER || s == DS_SCHEMA_LONG;
}
