/*-------------------------------------------------------------------------
 *
 * fuzz_policy.c
 *		libFuzzer target: the contract policy reader, its contradiction
 *		checks, the canonical form and the decisions (src/policy.c), which
 *		is what check_policy, policy_allows and explain_policy run.
 *
 * Properties checked on every policy the reader accepts:
 *
 *	- the canonical form is written, reads back as the same policy, and is
 *	  a fixed point: canonical(parse(canonical(p))) == canonical(p);
 *	- for instants at and around every bound of the policy, the decision
 *	  agrees with a direct reading of the terms, and explain_policy's first
 *	  line is the decision's text.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer saves the
 *		input as a crash.
 */
static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_policy: %s (%s)\n", what, detail);
	abort();
}

/*
 * expected_verdict
 *		The decision, written independently of ds_policy_decide from the
 *		terms' definitions in docs/policy.md (checked in the same order).
 */
static ds_policy_verdict
expected_verdict(const ds_policy *p, int64_t ts, int64_t now)
{
	if (p->has_validity && p->validity.has_from && now < p->validity.from)
		return DS_POLICY_NOT_YET_VALID;
	if (p->has_validity && p->validity.has_until && now >= p->validity.until)
		return DS_POLICY_EXPIRED;
	if (p->has_data_window && p->data_window.has_from && ts < p->data_window.from)
		return DS_POLICY_BEFORE_WINDOW;
	if (p->has_data_window && p->data_window.has_until && ts >= p->data_window.until)
		return DS_POLICY_AFTER_WINDOW;
	/* now - ts > max_age, in 128 bits so nothing can overflow */
	if (p->has_max_age &&
		(__int128) now - (__int128) ts > (__int128) p->max_age)
		return DS_POLICY_TOO_OLD;
	return DS_POLICY_ALLOWED;
}

/*
 * add_around
 *		Add v - 1, v and v + 1 (those that fit) to the instants to try.
 */
static int
add_around(int64_t *out, int n, int64_t v)
{
	if (v > INT64_MIN)
		out[n++] = v - 1;
	out[n++] = v;
	if (v < INT64_MAX)
		out[n++] = v + 1;
	return n;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One input: a policy's JSON text.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ds_policy p;
	static ds_policy q;
	static char canon[DS_POLICY_TEXT_MAX];
	static char canon2[DS_POLICY_TEXT_MAX];
	static char explain[DS_POLICY_TEXT_MAX];
	char		why[256];
	size_t		len;
	size_t		len2;
	int64_t		instants[32];
	int			n = 0;

	if (!ds_policy_parse((const char *) data, size, &p, why, sizeof(why)))
	{
		if (why[0] == '\0')
			fail("a refused policy without a reason", "");
		return 0;
	}

	len = ds_policy_canonical(&p, canon, sizeof(canon));
	if (len == 0 || len != strlen(canon))
		fail("no canonical form for an accepted policy", "");
	if (!ds_policy_parse(canon, len, &q, why, sizeof(why)))
		fail("the canonical form is refused", why);
	len2 = ds_policy_canonical(&q, canon2, sizeof(canon2));
	if (len2 != len || memcmp(canon, canon2, len) != 0)
		fail("the canonical form is not a fixed point", canon2);
	/* the canonical form keeps every term's meaning */
	if (q.has_data_window != p.has_data_window ||
		q.has_validity != p.has_validity ||
		q.has_max_age != p.has_max_age || q.max_age != p.max_age ||
		q.npurposes != p.npurposes ||
		q.onward_sharing != p.onward_sharing ||
		q.has_max_points_per_day != p.has_max_points_per_day ||
		q.max_points_per_day != p.max_points_per_day ||
		memcmp(&q.data_window, &p.data_window, sizeof(ds_window)) != 0 ||
		memcmp(&q.validity, &p.validity, sizeof(ds_window)) != 0)
		fail("the canonical form reads back as another policy", canon);
	for (int i = 0; i < p.npurposes; i++)
	{
		if (strcmp(q.purposes[i], p.purposes[i]) != 0)
			fail("the canonical form reads back with other purposes", canon);
		if (!ds_policy_permits_purpose(&p, p.purposes[i]))
			fail("a listed purpose is not permitted", p.purposes[i]);
		if (i > 0 && strcmp(p.purposes[i - 1], p.purposes[i]) >= 0)
			fail("purposes are not sorted and unique", p.purposes[i]);
	}

	/* instants at every bound, and the extremes */
	n = add_around(instants, n, 0);
	instants[n++] = INT64_MIN;
	instants[n++] = INT64_MAX;
	if (p.data_window.has_from)
		n = add_around(instants, n, p.data_window.from);
	if (p.data_window.has_until)
		n = add_around(instants, n, p.data_window.until);
	if (p.validity.has_from)
		n = add_around(instants, n, p.validity.from);
	if (p.validity.has_until)
		n = add_around(instants, n, p.validity.until);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
		{
			int64_t		ts = instants[i];
			int64_t		now = instants[j];
			ds_policy_verdict v = ds_policy_decide(&p, ts, now);
			const char *text = ds_policy_verdict_text(v);

			if (v != expected_verdict(&p, ts, now))
				fail("ds_policy_decide disagrees with the terms", canon);
			if (p.has_max_age && ts < INT64_MAX - p.max_age)
			{
				/* a point exactly max_age old is still visible */
				if (ds_policy_decide(&p, ts, ts + p.max_age) == DS_POLICY_TOO_OLD)
					fail("a point of exactly max_age is too old", canon);
			}
			len = ds_policy_explain(&p, ts, now, explain, sizeof(explain));
			if (len == 0 || len != strlen(explain))
				fail("no explanation", canon);
			if (strncmp(explain, text, strlen(text)) != 0 ||
				(explain[strlen(text)] != '\n' && explain[strlen(text)] != '\0'))
				fail("the explanation does not start with the decision", explain);
		}
	return 0;
}
