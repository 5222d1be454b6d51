/*-------------------------------------------------------------------------
 *
 * fuzz_proof.c
 *		libFuzzer target: the point proof reader and checker, which is what
 *		dataspace.verify_proof(jsonb) runs on the text of its argument.
 *
 * Besides "no crash, no sanitizer report", two properties are checked:
 *
 *	- ds_proof_verify() agrees with ds_proof_parse() followed by
 *	  ds_proof_check(), so the SQL function and the parts say the same;
 *	- a proof that parses is written back by ds_proof_to_json() (the writer
 *	  of point_proof) as text that parses to the same proof and gets the
 *	  same verdict: the reader and the writer agree on every member.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"
#include "proof.h"

static ds_hasher *hasher;

/*
 * fail
 *		Report a broken property and abort, so that libFuzzer saves the
 *		input as a crash.
 */
static void
fail(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_proof: %s (%s)\n", what, why);
	abort();
}

/*
 * same_proof
 *		Member by member equality of two parsed proofs (ds_proof_parse zeroes
 *		the struct first, so padding compares equal too).
 */
static bool
same_proof(const ds_proof *a, const ds_proof *b)
{
	return memcmp(a, b, sizeof(ds_proof)) == 0;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One input: the proof text, exactly as verify_proof passes it on.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ds_proof p;
	static ds_proof q;
	static char json[DS_PROOF_JSON_MAX];
	char		why[256];
	char		why2[256];
	ds_proof_result whole;
	ds_proof_result parsed;
	ds_proof_result checked;
	size_t		len;

	if (hasher == NULL && (hasher = ds_hasher_new()) == NULL)
		fail("no hasher", "");

	whole = ds_proof_verify(hasher, (const char *) data, size, why, sizeof(why));
	if (whole == DS_PROOF_MALFORMED && why[0] == '\0')
		fail("a malformed proof without a reason", "");

	parsed = ds_proof_parse((const char *) data, size, &p, why2, sizeof(why2));
	checked = parsed == DS_PROOF_VALID ? ds_proof_check(hasher, &p, why2, sizeof(why2)) : parsed;
	if (checked != whole)
		fail("ds_proof_verify disagrees with parse and check", why2);
	if (parsed != DS_PROOF_VALID)
		return 0;
	if (checked == DS_PROOF_INVALID && why2[0] == '\0')
		fail("an invalid proof without a reason", "");

	/*
	 * Write it back.  The writer refuses what it cannot represent: a value
	 * that is not finite and an instant whose text the reader would refuse
	 * (the "ts" member is written from "ts_us").
	 */
	len = ds_proof_to_json(&p, json, sizeof(json));
	if (len == 0)
	{
		if (isfinite(p.value) && p.ts_us == p.ts_text_us)
			fail("a parsed proof could not be written", "");
		return 0;
	}
	if (len != strlen(json))
		fail("ds_proof_to_json returned the wrong length", json);
	if (ds_proof_parse(json, len, &q, why2, sizeof(why2)) != DS_PROOF_VALID)
	{
		/* only an instant beyond the text form's years may fail to read back */
		if (p.ts_us == p.ts_text_us)
			fail("written proof does not read back", why2);
		return 0;
	}
	/* the text member is rewritten from ts_us: compare the rest */
	q.ts_text_us = p.ts_text_us;
	/* -0 and 0 are one value (ds_value_bits) and may be written either way */
	if (p.value == 0.0 && q.value == 0.0)
		q.value = p.value;
	if (!same_proof(&p, &q))
		fail("written proof reads back different", json);
	q.ts_text_us = q.ts_us;
	if (p.ts_text_us == p.ts_us &&
		ds_proof_check(hasher, &q, why2, sizeof(why2)) != checked)
		fail("written proof gets another verdict", why2);
	return 0;
}
