/*
 * blas.c
 *		Many-to-many cosine similarity with cblas_sgemm.
 *
 * One matrix product A * B^T of unit rows gives every cosine similarity at
 * once; for batches this beats calling the per-pair kernel m * n times
 * because sgemm reuses each loaded row across many columns.  The identity
 * layer uses it to match a COPY batch against itself and to find duplicate
 * persons in a gallery.
 */
#include "postgres.h"

#include <math.h>
#include <cblas.h>

#include "blas.h"
#include "../embedding/embedding.h"
#include "../simd/simd.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

/* below this many rows on either side, per-pair kernels beat sgemm */
#define FS_SGEMM_MIN_ROWS 16

/* scale rows to unit length */
void
FsNormalizeRows(float *x, int m, int d)
{
	for (int i = 0; i < m; i++)
	{
		float	   *row = x + (Size) i * d;
		double		norm = sqrt((double) fs_kernels->normsq(d, row));

		if (norm > 0)
			for (int k = 0; k < d; k++)
				row[k] = (float) (row[k] / norm);
	}
}

/* every pair within max_distance, computed block by block */
void
FsCosinePairs(const float *a, int m, const float *b, int n, int d,
			  double max_distance, Size block_bytes,
			  FsPairCallback cb, void *arg)
{
	int			rows_per_block;
	float	   *c;
	float		min_sim = (float) (1.0 - max_distance);
	bool	   *bzero;

	if (m == 0 || n == 0)
		return;
	/* zero rows have no direction: they never match */
	bzero = palloc(sizeof(bool) * n);
	for (int j = 0; j < n; j++)
		bzero[j] = fs_kernels->normsq(d, b + (Size) j * d) == 0;
	/*
	 * One side tiny (a single capture against a gallery): sgemm's packing
	 * costs more than it saves (bench/blas: 5-8x slower for 1 x N), so use
	 * the dot-product kernel pair by pair.
	 */
	if (Min(m, n) < FS_SGEMM_MIN_ROWS)
	{
		for (int i = 0; i < m; i++)
		{
			const float *ar = a + (Size) i * d;

			if (fs_kernels->normsq(d, ar) == 0)
				continue;
			for (int j = 0; j < n; j++)
			{
				float		sim = fs_kernels->dot(d, ar, b + (Size) j * d);

				if (sim >= min_sim && !bzero[j])
					cb(arg, i, j, 1.0 - Min(1.0, Max(-1.0, (double) sim)));
			}
		}
		pfree(bzero);
		return;
	}

	rows_per_block = (int) Max(1, Min((Size) m, block_bytes / (sizeof(float) * (Size) n)));
	c = palloc_extended(sizeof(float) * (Size) rows_per_block * n, MCXT_ALLOC_HUGE);

	for (int i0 = 0; i0 < m; i0 += rows_per_block)
	{
		int			rows = Min(rows_per_block, m - i0);

		CHECK_FOR_INTERRUPTS();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, d,
					1.0f, a + (Size) i0 * d, d, b, d, 0.0f, c, n);
		for (int i = 0; i < rows; i++)
		{
			const float *crow = c + (Size) i * n;

			if (fs_kernels->normsq(d, a + (Size) (i0 + i) * d) == 0)
				continue;
			for (int j = 0; j < n; j++)
			{
				if (crow[j] >= min_sim && !bzero[j])
				{
					double		sim = Min(1.0, Max(-1.0, (double) crow[j]));

					cb(arg, i0 + i, j, 1.0 - sim);
				}
			}
		}
	}
	pfree(c);
	pfree(bzero);
}

/* the elements of a one-dimensional embedding[] */
static void
ArrayElements(ArrayType *array, Datum **elems, bool **nulls, int *m)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional")));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign, elems, nulls, m);
}

/* the dimension of the first non-null element, or -1 */
static int
FirstDim(Datum *elems, bool *nulls, int m)
{
	for (int i = 0; i < m; i++)
		if (!nulls[i])
			return DatumGetEmbedding(elems[i])->dim;
	return -1;
}

/*
 * The embeddings of an array as a row-major m x d matrix of unit rows; NULL
 * elements are zero rows.  Every element must have d dimensions ("Every
 * <input> must have the same dimensions.").  zero, unless NULL, gets for each
 * row whether it has no direction (NULL or all zero).
 */
float *
FsUnitRows(Datum *elems, bool *nulls, int m, int d, const char *input, bool *zero)
{
	float	   *x = palloc_extended(sizeof(float) * (Size) Max(m, 1) * d, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	for (int i = 0; i < m; i++)
	{
		Embedding  *e;

		if (zero)
			zero[i] = true;
		if (nulls[i])
			continue;
		e = DatumGetEmbedding(elems[i]);
		if (e->dim != d)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different embedding dimensions %d and %d", d, e->dim),
					 errdetail("Every %s must have the same dimensions.", input)));
		memcpy(x + (Size) i * d, e->x, sizeof(float) * d);
		if (zero)
			zero[i] = fs_kernels->normsq(d, e->x) == 0;
	}
	FsNormalizeRows(x, m, d);
	return x;
}

typedef struct PairSink
{
	Tuplestorestate *store;
	TupleDesc	desc;
} PairSink;

/* append one (i, j, distance) row, 1-based */
static void
EmitPair(void *arg, int i, int j, double distance)
{
	PairSink   *sink = (PairSink *) arg;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = Int32GetDatum(i + 1);
	values[1] = Int32GetDatum(j + 1);
	values[2] = Float8GetDatum(distance);
	tuplestore_putvalues(sink->store, sink->desc, values, nulls);
}

PG_FUNCTION_INFO_V1(similarity_pairs);
/* SQL: every pair of a and b within a cosine distance */
Datum
similarity_pairs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	double		max_distance = PG_GETARG_FLOAT8(2);
	Datum	   *ae,
			   *be;
	bool	   *an,
			   *bn;
	int			m,
				n,
				d;
	float	   *a,
			   *b;
	PairSink	sink;

	if (isnan(max_distance))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_distance must not be NaN")));
	InitMaterializedSRF(fcinfo, 0);
	ArrayElements(PG_GETARG_ARRAYTYPE_P(0), &ae, &an, &m);
	ArrayElements(PG_GETARG_ARRAYTYPE_P(1), &be, &bn, &n);
	d = FirstDim(ae, an, m);
	if (d < 0)
		d = FirstDim(be, bn, n);
	if (d < 0)
		return (Datum) 0;		/* nothing but NULLs: no pairs */

	a = FsUnitRows(ae, an, m, d, "embedding given to similarity_pairs", NULL);
	b = FsUnitRows(be, bn, n, d, "embedding given to similarity_pairs", NULL);
	sink.store = rsinfo->setResult;
	sink.desc = rsinfo->setDesc;
	FsCosinePairs(a, m, b, n, d, max_distance, (Size) work_mem * 1024L, EmitPair, &sink);
	pfree(a);
	pfree(b);
	return (Datum) 0;
}
