/*-------------------------------------------------------------------------
 *
 * pg_dataspace.c
 *		Module entry point: settings, shared memory and worker registration.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "pg_dataspace.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Define settings; when preloaded, also register the background worker.
 */
void
_PG_init(void)
{
	dataspace_define_gucs();
}
