/*
 * embedding_ops.c
 *		Distances, element-wise arithmetic, comparison and aggregates of the
 *		embedding type, with pgvector's semantics.  Every distance goes
 *		through the kernel table of src/simd.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "embedding.h"
#include "../simd/simd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

PG_FUNCTION_INFO_V1(embedding_l2_distance);
/* Euclidean distance */
Datum
embedding_l2_distance(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) fs_kernels->l2sq(a->dim, a->x, b->x)));
}

PG_FUNCTION_INFO_V1(embedding_l2_squared_distance);
/* squared Euclidean distance, the index's cheaper equivalent */
Datum
embedding_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) fs_kernels->l2sq(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(embedding_inner_product);
/* inner product */
Datum
embedding_inner_product(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) fs_kernels->dot(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(embedding_negative_inner_product);
/* negative inner product, so that smaller means closer */
Datum
embedding_negative_inner_product(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8(-(double) fs_kernels->dot(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(embedding_cosine_distance);
/* one minus cosine similarity; NaN when either side is a zero vector */
Datum
embedding_cosine_distance(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8(1.0 - FsCosineSimilarity(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(embedding_l1_distance);
/* taxicab distance */
Datum
embedding_l1_distance(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);

	EmbeddingCheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) fs_kernels->l1(a->dim, a->x, b->x));
}

PG_FUNCTION_INFO_V1(embedding_dims);
/* number of dimensions */
Datum
embedding_dims(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);

	PG_RETURN_INT32(a->dim);
}

PG_FUNCTION_INFO_V1(embedding_norm);
/* Euclidean norm */
Datum
embedding_norm(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);

	PG_RETURN_FLOAT8(sqrt(FsNormSquaredDouble(a->dim, a->x)));
}

PG_FUNCTION_INFO_V1(embedding_l2_normalize);
/* scale to unit length; a zero vector stays zero */
Datum
embedding_l2_normalize(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *result = InitEmbedding(a->dim);
	double		norm = sqrt(FsNormSquaredDouble(a->dim, a->x));

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = (float) (a->x[i] / norm);
		for (int i = 0; i < a->dim; i++)
			EmbeddingCheckElement(result->x[i]);
	}
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_subvector);
/* count elements starting at 1-based position start */
Datum
embedding_subvector(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		end = (int64) start + count;
	Embedding  *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension"),
				 errdetail("subvector was asked for %d elements.", count)));
	/* clip to the elements that exist, as substring does */
	if (start < 1)
		start = 1;
	if (end > a->dim + 1)
		end = a->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension"),
				 errdetail("The range asked for lies outside the %d elements.", a->dim)));
	result = InitEmbedding((int) (end - start));
	memcpy(result->x, a->x + start - 1, sizeof(float) * result->dim);
	PG_RETURN_EMBEDDING_P(result);
}

/* reject an infinite result of arithmetic */
static void
CheckOverflow(const Embedding *r)
{
	for (int i = 0; i < r->dim; i++)
		if (isinf(r->x[i]))
			float_overflow_error();
}

PG_FUNCTION_INFO_V1(embedding_add);
/* element-wise sum */
Datum
embedding_add(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);
	Embedding  *r;

	EmbeddingCheckSameDims(a, b);
	r = InitEmbedding(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	CheckOverflow(r);
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_sub);
/* element-wise difference */
Datum
embedding_sub(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);
	Embedding  *r;

	EmbeddingCheckSameDims(a, b);
	r = InitEmbedding(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	CheckOverflow(r);
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_mul);
/* element-wise product */
Datum
embedding_mul(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);
	Embedding  *r;

	EmbeddingCheckSameDims(a, b);
	r = InitEmbedding(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		r->x[i] = a->x[i] * b->x[i];
		if (r->x[i] == 0 && a->x[i] != 0 && b->x[i] != 0)
			float_underflow_error();
	}
	CheckOverflow(r);
	PG_RETURN_EMBEDDING_P(r);
}

PG_FUNCTION_INFO_V1(embedding_concat);
/* append b to a */
Datum
embedding_concat(PG_FUNCTION_ARGS)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);
	Embedding  *r;

	EmbeddingCheckDim(a->dim + b->dim);
	r = InitEmbedding(a->dim + b->dim);
	memcpy(r->x, a->x, sizeof(float) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_EMBEDDING_P(r);
}

/* order by elements, then by length (pgvector's order) */
static int
EmbeddingCmp(const Embedding *a, const Embedding *b)
{
	int			n = Min(a->dim, b->dim);

	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	return (a->dim > b->dim) - (a->dim < b->dim);
}

/* compare the two arguments and free their detoasted copies */
static int
CmpArgs(FunctionCallInfo fcinfo)
{
	Embedding  *a = PG_GETARG_EMBEDDING_P(0);
	Embedding  *b = PG_GETARG_EMBEDDING_P(1);
	int			c = EmbeddingCmp(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return c;
}

PG_FUNCTION_INFO_V1(embedding_cmp);
/* btree support: -1, 0 or 1 */
Datum
embedding_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CmpArgs(fcinfo));
}

#define EMBEDDING_CMP_FN(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(CmpArgs(fcinfo) op 0); \
}

EMBEDDING_CMP_FN(embedding_lt, <)
EMBEDDING_CMP_FN(embedding_le, <=)
EMBEDDING_CMP_FN(embedding_eq, ==)
EMBEDDING_CMP_FN(embedding_ne, !=)
EMBEDDING_CMP_FN(embedding_ge, >=)
EMBEDDING_CMP_FN(embedding_gt, >)

/*
 * Aggregates.  The transition state of avg is a float8[]: element 0 is the
 * count, the rest are running sums in double precision, as pgvector does.
 */

/* the state array's values, checked */
static float8 *
StateValues(ArrayType *state, int *n)
{
	if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "embedding aggregate: corrupt transition state");
	*n = ARR_DIMS(state)[0];
	/* no null bitmap (checked above), so the data follows the fixed header */
	return (float8 *) ((char *) state + ARR_OVERHEAD_NONULLS(1));
}

/* a new state array from values */
static ArrayType *
MakeState(float8 *values, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);
	ArrayType  *a;

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(values[i]);
	a = construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(d);
	return a;
}

PG_FUNCTION_INFO_V1(embedding_accum);
/* add one embedding to the running sums */
Datum
embedding_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Embedding  *e = PG_GETARG_EMBEDDING_P(1);
	int			n;
	float8	   *sv = StateValues(state, &n);
	float8	   *nv;
	ArrayType  *result;

	if (n == 1)
	{
		nv = palloc0(sizeof(float8) * (e->dim + 1));
		n = e->dim + 1;
	}
	else
	{
		if (n - 1 != e->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different embedding dimensions %d and %d", n - 1, e->dim)));
		nv = palloc(sizeof(float8) * n);
		memcpy(nv, sv, sizeof(float8) * n);
	}
	nv[0] += 1;
	for (int i = 0; i < e->dim; i++)
	{
		nv[i + 1] += e->x[i];
		if (isinf(nv[i + 1]))
			float_overflow_error();
	}
	result = MakeState(nv, n);
	pfree(nv);
	PG_RETURN_ARRAYTYPE_P(result);
}

PG_FUNCTION_INFO_V1(embedding_combine);
/* merge two partial states (parallel aggregation) */
Datum
embedding_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *s1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *s2 = PG_GETARG_ARRAYTYPE_P(1);
	int			n1,
				n2;
	float8	   *v1 = StateValues(s1, &n1);
	float8	   *v2 = StateValues(s2, &n2);
	float8	   *nv;
	ArrayType  *result;

	if (n1 == 1)
		PG_RETURN_ARRAYTYPE_P(MakeState(v2, n2));
	if (n2 == 1)
		PG_RETURN_ARRAYTYPE_P(MakeState(v1, n1));
	if (n1 != n2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d", n1 - 1, n2 - 1)));
	nv = palloc(sizeof(float8) * n1);
	for (int i = 0; i < n1; i++)
	{
		nv[i] = v1[i] + v2[i];
		if (isinf(nv[i]))
			float_overflow_error();
	}
	result = MakeState(nv, n1);
	pfree(nv);
	PG_RETURN_ARRAYTYPE_P(result);
}

PG_FUNCTION_INFO_V1(embedding_avg);
/* the mean of the accumulated embeddings; NULL when there were none */
Datum
embedding_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			n;
	float8	   *sv = StateValues(state, &n);
	Embedding  *result;

	if (n == 1 || sv[0] == 0)
		PG_RETURN_NULL();
	result = InitEmbedding(n - 1);
	for (int i = 0; i < n - 1; i++)
	{
		result->x[i] = (float) (sv[i + 1] / sv[0]);
		EmbeddingCheckElement(result->x[i]);
	}
	PG_RETURN_EMBEDDING_P(result);
}
