/*-------------------------------------------------------------------------
 *
 * policy.h
 *		Contract policies: the vocabulary, its strict reader, the checks
 *		that refuse contradictions, the canonical form that is signed, and
 *		the decisions (docs/policy.md).
 *
 * Pure code (C library only), so the extension, the fuzz targets and the
 * unit tests read and decide policies the same way.  Instants and
 * durations are microseconds (since the Unix epoch).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_POLICY_H
#define DS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_POLICY_MAX_PURPOSES	16
#define DS_POLICY_PURPOSE_LEN	64	/* longest purpose, without terminator */
#define DS_POLICY_TEXT_MAX		4096	/* longest canonical text */
#define DS_POLICY_INPUT_MAX		16384	/* longest text the reader accepts */

/* Largest integer every JSON reader keeps exactly (RFC 8785 numbers). */
#define DS_POLICY_MAX_INTEGER	INT64_C(9007199254740991)

typedef struct ds_window
{
	bool		has_from;
	bool		has_until;
	int64_t		from;			/* inclusive */
	int64_t		until;			/* exclusive */
} ds_window;

typedef struct ds_policy
{
	bool		has_data_window;
	ds_window	data_window;	/* which points, by their ts */
	bool		has_max_age;
	int64_t		max_age;		/* sliding: points no older than this */
	bool		has_validity;
	ds_window	validity;		/* when the permission may be used */
	int			npurposes;		/* 0: any purpose */
	char		purposes[DS_POLICY_MAX_PURPOSES][DS_POLICY_PURPOSE_LEN + 1];
	bool		onward_sharing; /* may the consumer offer it on (default no) */
	bool		has_max_points_per_day;
	int64_t		max_points_per_day;
} ds_policy;

typedef enum ds_policy_verdict
{
	DS_POLICY_ALLOWED,
	DS_POLICY_NOT_YET_VALID,	/* before validity.from */
	DS_POLICY_EXPIRED,			/* at or after validity.until */
	DS_POLICY_BEFORE_WINDOW,	/* ts before data_window.from */
	DS_POLICY_AFTER_WINDOW,		/* ts at or after data_window.until */
	DS_POLICY_TOO_OLD			/* ts older than max_age at that time */
} ds_policy_verdict;

extern bool ds_policy_parse(const char *json, size_t len, ds_policy *out,
							char *why, size_t whylen);
extern size_t ds_policy_canonical(const ds_policy *p, char *out, size_t cap);
extern ds_policy_verdict ds_policy_decide(const ds_policy *p, int64_t ts,
										  int64_t now);
extern const char *ds_policy_verdict_text(ds_policy_verdict v);
extern size_t ds_policy_explain(const ds_policy *p, int64_t ts, int64_t now,
								char *out, size_t cap);
extern bool ds_policy_valid_purpose(const char *s, size_t n);
extern bool ds_policy_permits_purpose(const ds_policy *p, const char *purpose);

#endif							/* DS_POLICY_H */
