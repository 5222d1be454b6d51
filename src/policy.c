/*-------------------------------------------------------------------------
 *
 * policy.c
 *		Contract policies: strict reader, contradiction checks, canonical
 *		form and decisions (docs/policy.md is the specification).
 *
 * Fail closed: an unknown term, a value of the wrong type or form, and a
 * policy that contradicts itself are all refused when the policy is read,
 * with the first problem named; nothing is guessed or skipped.  A policy
 * read here can only say yes for what it explicitly allows.
 *
 * The canonical form is RFC 8785 JSON (members sorted, no white space,
 * canonical values): the bytes both parties sign in a contract.
 *
 *-------------------------------------------------------------------------
 */
#include "policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonread.h"
#include "textform.h"

enum
{
	T_DATA_WINDOW, T_MAX_AGE, T_VALIDITY, T_PURPOSE, T_ONWARD_SHARING,
	T_MAX_POINTS_PER_DAY, T_COUNT
};

static const char *const terms[T_COUNT] = {
	"data_window", "max_age", "validity", "purpose", "onward_sharing",
	"max_points_per_day"
};

enum
{
	W_FROM, W_UNTIL, W_COUNT
};

static const char *const window_members[W_COUNT] = {"from", "until"};

typedef struct window_arg
{
	const char *term;
	ds_window  *w;
} window_arg;

static bool
read_instant(ds_json_reader *r, const char *what, int64_t *out)
{
	char		text[DS_JSON_MAX_STRING];
	size_t		n;

	if (!ds_json_read_string(r, what, text, sizeof(text), &n))
		return false;
	if (!ds_parse_rfc3339(text, n, out))
	{
		ds_json_fail(r, "%s is not an RFC 3339 date-time such as 2026-01-01T00:00:00Z", what);
		return false;
	}
	return true;
}

static bool
read_window_member(ds_json_reader *r, int which, void *arg)
{
	window_arg *wa = arg;
	char		what[64];

	snprintf(what, sizeof(what), "member \"%s.%s\"", wa->term, window_members[which]);
	if (which == W_FROM)
	{
		wa->w->has_from = true;
		return read_instant(r, what, &wa->w->from);
	}
	wa->w->has_until = true;
	return read_instant(r, what, &wa->w->until);
}

static bool
read_window(ds_json_reader *r, const char *term, ds_window *w)
{
	window_arg	wa = {term, w};
	char		what[64];

	snprintf(what, sizeof(what), "term \"%s\"", term);
	if (!ds_json_read_object(r, what, window_members, W_COUNT, 0,
							 read_window_member, &wa, NULL))
		return false;
	if (!w->has_from && !w->has_until)
	{
		ds_json_fail(r, "%s names neither \"from\" nor \"until\"", what);
		return false;
	}
	if (w->has_from && w->has_until && w->from >= w->until)
	{
		ds_json_fail(r, "%s is empty: \"from\" is not before \"until\"", what);
		return false;
	}
	return true;
}

/*
 * ds_policy_valid_purpose
 *		A purpose: a lower-case token, as an ODRL purpose identifier would be.
 */
bool
ds_policy_valid_purpose(const char *s, size_t n)
{
	if (n == 0 || n > DS_POLICY_PURPOSE_LEN || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

static bool
read_purpose(ds_json_reader *r, int index, void *arg)
{
	ds_policy  *p = arg;
	char		text[DS_JSON_MAX_STRING];
	size_t		n;
	int			at;

	if (index >= DS_POLICY_MAX_PURPOSES)
	{
		ds_json_fail(r, "term \"purpose\" lists more than %d purposes", DS_POLICY_MAX_PURPOSES);
		return false;
	}
	if (!ds_json_read_string(r, "an element of term \"purpose\"", text, sizeof(text), &n))
		return false;
	if (!ds_policy_valid_purpose(text, n))
	{
		ds_json_fail(r, "purpose \"%s\" is not a lower-case token of letters, digits and _ - . : (at most %d, starting with a letter)",
					 text, DS_POLICY_PURPOSE_LEN);
		return false;
	}
	/* keep them sorted: the canonical form lists them in order */
	for (at = 0; at < p->npurposes; at++)
	{
		int			c = strcmp(text, p->purposes[at]);

		if (c == 0)
		{
			ds_json_fail(r, "term \"purpose\" lists \"%s\" twice", text);
			return false;
		}
		if (c < 0)
			break;
	}
	memmove(p->purposes[at + 1], p->purposes[at],
			sizeof(p->purposes[0]) * (size_t) (p->npurposes - at));
	memcpy(p->purposes[at], text, n + 1);
	p->npurposes++;
	return true;
}

static bool
read_term(ds_json_reader *r, int which, void *arg)
{
	ds_policy  *p = arg;
	char		text[DS_JSON_MAX_STRING];
	size_t		n;

	switch (which)
	{
		case T_DATA_WINDOW:
			p->has_data_window = true;
			return read_window(r, "data_window", &p->data_window);
		case T_VALIDITY:
			p->has_validity = true;
			return read_window(r, "validity", &p->validity);
		case T_MAX_AGE:
			if (!ds_json_read_string(r, "term \"max_age\"", text, sizeof(text), &n))
				return false;
			if (!ds_parse_duration(text, n, &p->max_age))
			{
				ds_json_fail(r, "term \"max_age\" is not an ISO 8601 duration of days, hours, minutes and seconds such as P30D or PT12H");
				return false;
			}
			if (p->max_age <= 0)
			{
				ds_json_fail(r, "term \"max_age\" is zero: no point would ever be visible");
				return false;
			}
			p->has_max_age = true;
			return true;
		case T_PURPOSE:
			if (!ds_json_read_array(r, "term \"purpose\"", read_purpose, p))
				return false;
			if (p->npurposes == 0)
			{
				ds_json_fail(r, "term \"purpose\" is empty: it would permit no use at all");
				return false;
			}
			return true;
		case T_ONWARD_SHARING:
			return ds_json_read_bool(r, "term \"onward_sharing\"", &p->onward_sharing);
		case T_MAX_POINTS_PER_DAY:
			if (!ds_json_read_int64(r, "term \"max_points_per_day\"", &p->max_points_per_day))
				return false;
			if (p->max_points_per_day < 1 ||
				p->max_points_per_day > DS_POLICY_MAX_INTEGER)
			{
				ds_json_fail(r, "term \"max_points_per_day\" is not between 1 and %" PRId64,
							 DS_POLICY_MAX_INTEGER);
				return false;
			}
			p->has_max_points_per_day = true;
			return true;
	}
	return false;
}

/*
 * Contradictions between terms, each of which is fine alone.
 */
static bool
check_terms(const ds_policy *p, char *why, size_t whylen)
{
	/*
	 * With a fixed window that ends and a sliding one, a point is visible at
	 * time t only if t - max_age <= ts < until, so never after until +
	 * max_age.  If the permission only starts after that, it grants nothing.
	 */
	if (p->has_data_window && p->data_window.has_until && p->has_max_age &&
		p->has_validity && p->validity.has_from &&
		p->data_window.until + p->max_age <= p->validity.from)
	{
		ds_say(why, whylen, "term \"data_window\" ends more than \"max_age\" before \"validity\" begins: no point would ever be visible");
		return false;
	}
	return true;
}

/*
 * ds_policy_parse
 *		Read and check a policy.  False, with the first problem in why, for
 *		anything but a policy of the documented vocabulary that is
 *		consistent.
 */
bool
ds_policy_parse(const char *json, size_t len, ds_policy *out, char *why,
				size_t whylen)
{
	ds_json_reader r;

	memset(out, 0, sizeof(*out));
	if (json == NULL || len > DS_POLICY_INPUT_MAX)
	{
		ds_say(why, whylen, "the policy is longer than %d bytes", DS_POLICY_INPUT_MAX);
		return false;
	}
	ds_json_reader_init(&r, json, len, why, whylen);
	if (!ds_json_read_object(&r, "the policy", terms, T_COUNT, 0, read_term, out, NULL))
		return false;
	if (!ds_json_at_end(&r))
	{
		ds_say(why, whylen, "unexpected text after the policy");
		return false;
	}
	return check_terms(out, why, whylen);
}

static void
put_instant(ds_json_writer *w, const char *name, int64_t us)
{
	char		text[DS_TS_TEXT_MAX];

	if (!ds_format_ts(us, text, sizeof(text)))
	{
		w->overflow = true;
		return;
	}
	ds_json_put(w, "\"%s\":\"%s\"", name, text);
}

static void
put_window(ds_json_writer *w, const char *term, const ds_window *win, bool *first)
{
	ds_json_put(w, "%s\"%s\":{", *first ? "" : ",", term);
	if (win->has_from)
		put_instant(w, "from", win->from);
	if (win->has_until)
	{
		if (win->has_from)
			ds_json_put(w, ",");
		put_instant(w, "until", win->until);
	}
	ds_json_put(w, "}");
	*first = false;
}

/*
 * ds_policy_canonical
 *		The RFC 8785 text of the policy: members in code-point order, no
 *		white space, instants in the canonical UTC form, durations
 *		normalised, purposes sorted, onward_sharing always present.
 *		Returns its length, 0 if cap is too small.
 */
size_t
ds_policy_canonical(const ds_policy *p, char *out, size_t cap)
{
	ds_json_writer w;
	bool		first = true;
	char		text[64];

	ds_json_writer_init(&w, out, cap);
	ds_json_put(&w, "{");
	/* the member names in code-point order */
	if (p->has_data_window)
		put_window(&w, "data_window", &p->data_window, &first);
	if (p->has_max_age)
	{
		if (!ds_format_duration(p->max_age, text, sizeof(text)))
			return 0;
		ds_json_put(&w, "%s\"max_age\":\"%s\"", first ? "" : ",", text);
		first = false;
	}
	if (p->has_max_points_per_day)
	{
		ds_json_put(&w, "%s\"max_points_per_day\":%" PRId64, first ? "" : ",",
					p->max_points_per_day);
		first = false;
	}
	ds_json_put(&w, "%s\"onward_sharing\":%s", first ? "" : ",",
				p->onward_sharing ? "true" : "false");
	if (p->npurposes > 0)
	{
		ds_json_put(&w, ",\"purpose\":[");
		for (int i = 0; i < p->npurposes; i++)
		{
			if (i > 0)
				ds_json_put(&w, ",");
			ds_json_put_string(&w, p->purposes[i]);
		}
		ds_json_put(&w, "]");
	}
	first = false;
	if (p->has_validity)
		put_window(&w, "validity", &p->validity, &first);
	ds_json_put(&w, "}");
	return ds_json_done(&w);
}

/*
 * ds_policy_decide
 *		May the point with timestamp ts be used at time now?  The stateless
 *		terms only: purpose and volume are checked where data leaves the
 *		provider.
 */
ds_policy_verdict
ds_policy_decide(const ds_policy *p, int64_t ts, int64_t now)
{
	if (p->has_validity)
	{
		if (p->validity.has_from && now < p->validity.from)
			return DS_POLICY_NOT_YET_VALID;
		if (p->validity.has_until && now >= p->validity.until)
			return DS_POLICY_EXPIRED;
	}
	if (p->has_data_window)
	{
		if (p->data_window.has_from && ts < p->data_window.from)
			return DS_POLICY_BEFORE_WINDOW;
		if (p->data_window.has_until && ts >= p->data_window.until)
			return DS_POLICY_AFTER_WINDOW;
	}
	/* now - ts > max_age, written so that it cannot overflow */
	if (p->has_max_age && ts < now && (uint64_t) now - (uint64_t) ts > (uint64_t) p->max_age)
		return DS_POLICY_TOO_OLD;
	return DS_POLICY_ALLOWED;
}

const char *
ds_policy_verdict_text(ds_policy_verdict v)
{
	switch (v)
	{
		case DS_POLICY_ALLOWED:
			return "allowed";
		case DS_POLICY_NOT_YET_VALID:
			return "denied: the policy is not valid yet";
		case DS_POLICY_EXPIRED:
			return "denied: the policy has expired";
		case DS_POLICY_BEFORE_WINDOW:
			return "denied: the point is before the data window";
		case DS_POLICY_AFTER_WINDOW:
			return "denied: the point is after the data window";
		case DS_POLICY_TOO_OLD:
			return "denied: the point is older than max_age";
	}
	return "denied";
}

static void
put_window_text(ds_json_writer *w, const ds_window *win)
{
	char		text[DS_TS_TEXT_MAX];

	if (win->has_from && ds_format_ts(win->from, text, sizeof(text)))
		ds_json_put(w, " from %s", text);
	if (win->has_until && ds_format_ts(win->until, text, sizeof(text)))
		ds_json_put(w, " until %s", text);
}

/*
 * ds_policy_explain
 *		The verdict, then one line per term saying what it asks and whether
 *		this point at this time meets it.  Returns the length, 0 if cap is
 *		too small.
 */
size_t
ds_policy_explain(const ds_policy *p, int64_t ts, int64_t now, char *out,
				  size_t cap)
{
	ds_json_writer w;
	ds_policy_verdict v = ds_policy_decide(p, ts, now);
	char		text[DS_TS_TEXT_MAX];

	ds_json_writer_init(&w, out, cap);
	ds_json_put(&w, "%s", ds_policy_verdict_text(v));
	if (ds_format_ts(ts, text, sizeof(text)))
		ds_json_put(&w, "\npoint: ts %s", text);
	if (ds_format_ts(now, text, sizeof(text)))
		ds_json_put(&w, "\ndecided at: %s", text);
	if (p->has_validity)
	{
		ds_json_put(&w, "\nvalidity:");
		put_window_text(&w, &p->validity);
		ds_json_put(&w, ": %s",
					v == DS_POLICY_NOT_YET_VALID ? "not yet" :
					v == DS_POLICY_EXPIRED ? "expired" : "met");
	}
	else
		ds_json_put(&w, "\nvalidity: not limited by the policy");
	if (p->has_data_window)
	{
		ds_json_put(&w, "\ndata_window:");
		put_window_text(&w, &p->data_window);
		ds_json_put(&w, ": %s",
					(p->data_window.has_from && ts < p->data_window.from) ? "point is before it" :
					(p->data_window.has_until && ts >= p->data_window.until) ? "point is after it" :
					"met");
	}
	else
		ds_json_put(&w, "\ndata_window: not limited by the policy");
	if (p->has_max_age)
	{
		if (ds_format_duration(p->max_age, text, sizeof(text)))
			ds_json_put(&w, "\nmax_age: %s: %s", text,
						(ts < now && (uint64_t) now - (uint64_t) ts > (uint64_t) p->max_age) ?
						"point is older" : "met");
	}
	else
		ds_json_put(&w, "\nmax_age: not limited by the policy");
	if (p->npurposes > 0)
	{
		ds_json_put(&w, "\npurpose:");
		for (int i = 0; i < p->npurposes; i++)
			ds_json_put(&w, "%s %s", i > 0 ? "," : "", p->purposes[i]);
		ds_json_put(&w, " (checked where data leaves the provider)");
	}
	else
		ds_json_put(&w, "\npurpose: any");
	if (p->has_max_points_per_day)
		ds_json_put(&w, "\nmax_points_per_day: %" PRId64 " (checked where data leaves the provider)",
					p->max_points_per_day);
	else
		ds_json_put(&w, "\nmax_points_per_day: not limited by the policy");
	ds_json_put(&w, "\nonward_sharing: %s",
				p->onward_sharing ? "allowed" : "forbidden (the consumer may not offer this data)");
	return ds_json_done(&w);
}

/*
 * ds_policy_permits_purpose
 *		May the data be used for this purpose (NULL: none declared)?
 */
bool
ds_policy_permits_purpose(const ds_policy *p, const char *purpose)
{
	if (p->npurposes == 0)
		return true;
	if (purpose == NULL)
		return false;
	for (int i = 0; i < p->npurposes; i++)
		if (strcmp(p->purposes[i], purpose) == 0)
			return true;
	return false;
}
