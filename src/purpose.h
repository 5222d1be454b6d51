/*-------------------------------------------------------------------------
 *
 * purpose.h
 *		The declared purpose of a contract's use, checked at export.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DS_PURPOSE_H
#define DS_PURPOSE_H

#include "policy.h"
#include "seal.h"

extern const char *ds_purpose_refusal(const ds_policy *p, const char *purpose);
extern char *ds_purpose_declared(const uint8 contract[DS_UUID_LEN]);

#endif							/* DS_PURPOSE_H */
