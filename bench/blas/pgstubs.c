/*
 * pgstubs.c
 *		Just enough of the PostgreSQL backend to link src/blas/blas.c into a
 *		stand-alone benchmark.  Memory comes from malloc; interrupts never
 *		happen; the SQL-facing entry points (arrays, tuplestores, errors) are
 *		never called by FsCosinePairs and abort if they are.
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

volatile sig_atomic_t InterruptPending = false;
int			work_mem = 4096;

void
ProcessInterrupts(void)
{
}

void *
palloc(Size size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
		abort();
	return p;
}

void *
palloc_extended(Size size, int flags)
{
	void	   *p = (flags & MCXT_ALLOC_ZERO) ? calloc(1, size ? size : 1) : malloc(size ? size : 1);

	if (p == NULL && !(flags & MCXT_ALLOC_NO_OOM))
		abort();
	return p;
}

void
pfree(void *pointer)
{
	free(pointer);
}

#define UNUSED_IN_BENCH { abort(); }

void		InitMaterializedSRF(FunctionCallInfo fcinfo, bits32 flags) UNUSED_IN_BENCH
void		deconstruct_array(ArrayType *array, Oid elmtype, int elmlen, bool elmbyval,
							  char elmalign, Datum **elemsp, bool **nullsp, int *nelemsp) UNUSED_IN_BENCH
int			errcode(int sqlerrcode) UNUSED_IN_BENCH
int			errmsg(const char *fmt,...) UNUSED_IN_BENCH
int			errdetail(const char *fmt,...) UNUSED_IN_BENCH
bool		errstart_cold(int elevel, const char *domain) UNUSED_IN_BENCH
void		errfinish(const char *filename, int lineno, const char *funcname) UNUSED_IN_BENCH
void		get_typlenbyvalalign(Oid typid, int16 *typlen, bool *typbyval, char *typalign) UNUSED_IN_BENCH
struct varlena *pg_detoast_datum(struct varlena *datum) UNUSED_IN_BENCH
void		tuplestore_putvalues(Tuplestorestate *state, TupleDesc tdesc,
								 Datum *values, bool *isnull) UNUSED_IN_BENCH
