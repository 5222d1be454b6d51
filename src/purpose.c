/*-------------------------------------------------------------------------
 *
 * purpose.c
 *		The purpose term where data leaves the provider: the consumer
 *		declares the purpose it uses a contract's data for, and the
 *		provider exports only under a permitted one (docs/policy.md).
 *
 * The declaration is the consumer's, kept on its node in
 * dataspace.contract_purpose by dataspace.declare_purpose(), which refuses
 * a purpose the contract's signed policy does not permit.  The
 * replication worker signs the declared purpose into its answer to the
 * provider's challenge (PGDS type 20), so the provider checks it against
 * the same policy and keeps the signed declaration: what the consumer
 * said it would use the data for cannot be denied afterwards.  Both ends
 * decide with ds_purpose_refusal(), so they cannot disagree.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "audit.h"
#include "contract.h"
#include "keys.h"
#include "pg_dataspace.h"
#include "purpose.h"
#include "util.h"

PG_FUNCTION_INFO_V1(dataspace_declare_purpose);

/* "a, b and c": the purposes a policy permits, for messages. */
static char *
permitted_list(const ds_policy *p)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < p->npurposes; i++)
		appendStringInfo(&s, "%s\"%s\"",
						 i == 0 ? "" : (i == p->npurposes - 1 ? " and " : ", "),
						 p->purposes[i]);
	return s.data;
}

/*
 * ds_purpose_refusal
 *		NULL if the policy lets data be used for the declared purpose (NULL
 *		or "": none declared), else why not.
 */
const char *
ds_purpose_refusal(const ds_policy *p, const char *purpose)
{
	bool		declared = purpose != NULL && purpose[0] != '\0';

	if (declared && !ds_policy_valid_purpose(purpose, strlen(purpose)))
		return psprintf("\"%s\" is not a purpose: a purpose is a lower-case token of letters, digits and _ - . : (at most %d, starting with a letter)",
						purpose, DS_POLICY_PURPOSE_LEN);
	if (p->npurposes == 0)
		return NULL;
	if (!declared)
		return psprintf("The contract permits the purpose%s %s only, and no purpose was declared",
						p->npurposes > 1 ? "s" : "", permitted_list(p));
	if (!ds_policy_permits_purpose(p, purpose))
		return psprintf("The contract permits the purpose%s %s only, not \"%s\"",
						p->npurposes > 1 ? "s" : "", permitted_list(p), purpose);
	return NULL;
}

/*
 * ds_purpose_declared
 *		The purpose this node declared for a contract, or NULL.  Inside SPI.
 */
char *
ds_purpose_declared(const uint8 contract[DS_UUID_LEN])
{
	bool		isnull;
	Datum		d;

	if (ds_spi_exec("SELECT purpose FROM dataspace.contract_purpose"
					" WHERE contract_id OPERATOR(pg_catalog.=) $1",
					1, (Oid[]) {UUIDOID}, (Datum[]) {ds_uuid_datum(contract)},
					NULL, true, -1) == 0)
		return NULL;
	d = ds_spi_get(0, 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * dataspace.declare_purpose(contract uuid, purpose text) returns void
 *		The consumer states what it uses the contract's data for.  Refused
 *		unless this node is the consumer of a contract both parties signed
 *		and the signed policy permits the purpose.  A new declaration
 *		replaces the old one; the stream's next connection carries it.
 */
Datum
dataspace_declare_purpose(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *contract = PG_GETARG_UUID_P(0);
	char	   *purpose = text_to_cstring(PG_GETARG_TEXT_PP(1));
	DsNode		node;
	DsContractTerms t;
	const char *why;
	char	   *before;

	if (dataspace_mode != DATASPACE_MODE_NODE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a purpose is declared on a node"),
				 errdetail("This server runs with dataspace.mode = 'hub'.")));
	SPI_connect();
	if (!ds_node_load(&node))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node has no identity yet")));
	why = ds_contract_terms_load(contract->data, &t);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot declare a purpose for contract %s", ds_uuid_text(contract->data)),
				 errdetail("%s.", why),
				 errhint("A purpose is declared for a contract both parties have signed.")));
	if (memcmp(t.consumer_id, node.node_id, DS_UUID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot declare a purpose for contract %s", ds_uuid_text(contract->data)),
				 errdetail("This node is not the contract's consumer.")));
	if (!ds_policy_valid_purpose(purpose, strlen(purpose)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a purpose", purpose),
				 errdetail("A purpose is a lower-case token of letters, digits and _ - . : (at most %d, starting with a letter), as in the policy's \"purpose\" term.",
						   DS_POLICY_PURPOSE_LEN)));
	why = ds_purpose_refusal(&t.policy, purpose);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("contract %s does not permit purpose \"%s\"",
						ds_uuid_text(contract->data), purpose),
				 errdetail("%s.", why)));

	before = ds_purpose_declared(contract->data);
	ds_spi_exec("INSERT INTO dataspace.contract_purpose AS p (contract_id, purpose, declared_at)"
				" VALUES ($1, $2, pg_catalog.now())"
				" ON CONFLICT (contract_id) DO UPDATE SET purpose = excluded.purpose,"
				" declared_at = excluded.declared_at",
				2, (Oid[]) {UUIDOID, TEXTOID},
				(Datum[]) {UUIDPGetDatum(contract), CStringGetTextDatum(purpose)},
				NULL, false, 1);
	ds_audit_append("contract.purpose", ds_uuid_text(contract->data),
					ds_audit_json(2, "purpose", purpose, "before", before));
	SPI_finish();
	PG_RETURN_VOID();
}
