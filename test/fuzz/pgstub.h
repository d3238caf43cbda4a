/*
 * pgstub.h
 *		The minimal PostgreSQL backend the fuzz targets link against.
 *
 * The backend is not available as a library, so pgstub.c supplies the few
 * services src/embedding/embedding_io.c calls: palloc and friends over malloc
 * (every chunk of one input is freed after it, so a leak or a use after pfree
 * shows up under ASan), ereport as a longjmp back to the harness (an ERROR is
 * an accepted outcome), StringInfo and the pqformat readers and writers
 * written after PostgreSQL's own.  Functions embedding_io.c references but the
 * targets never reach (array casts, catalog lookups) abort loudly.
 */
#ifndef FIRSTSIGHT_PGSTUB_H
#define FIRSTSIGHT_PGSTUB_H

#include "postgres.h"

#include <setjmp.h>

#include "fmgr.h"
#include "lib/stringinfo.h"

/* what the last ERROR said; valid after PGSTUB_TRY returned false */
typedef struct PgStubError
{
	int			sqlerrcode;
	char		message[512];
	char		detail[512];
	const char *funcname;
	int			lineno;
} PgStubError;

extern sigjmp_buf *pgstub_jump;
extern PgStubError pgstub_error;

/* free every chunk palloc'd since the last call */
extern void PgStubFreeAll(void);

/* number of chunks currently allocated */
extern long PgStubLiveChunks(void);

/* call a V1 function with up to three arguments; false when it raised ERROR */
extern bool PgStubCall3(PGFunction fn, Datum a0, Datum a1, Datum a2,
						Datum *result);

/* abort with a message: an invariant of the code under test was broken */
extern void PgStubFail(const char *fmt,...) pg_attribute_printf(1, 2)
			pg_attribute_noreturn();

#endif
