/*
 * clusters.c
 *		Group faces that belong together: the batch-against-itself step of
 *		ingestion and the duplicate search of merge_persons.
 *
 * All pairs within the loosest threshold come from one OpenBLAS pass
 * (FsCosinePairs); a pair counts when its distance is within the threshold
 * of its kind: unmasked-unmasked, masked-unmasked, or masked-masked (the
 * 0.1.0 form, face_clusters with two thresholds, uses the masked threshold
 * for both kinds with a masked face).  Union-find turns pairs into groups; each element is labelled with
 * the smallest 1-based position of its group.
 */
#include "postgres.h"

#include <math.h>

#include "blas/blas.h"
#include "catalog/pg_type.h"
#include "embedding/embedding.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

typedef struct ClusterState
{
	int		   *parent;
	const bool *masked;
	double		max_distance;
	double		masked_max_distance;	/* masked-unmasked */
	double		masked_masked_max_distance;
} ClusterState;

/* root of i's group, halving the path on the way */
static int
Find(int *parent, int i)
{
	while (parent[i] != i)
	{
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

/* join two groups under the smaller root */
static void
Union(int *parent, int i, int j)
{
	int			a = Find(parent, i);
	int			b = Find(parent, j);

	if (a < b)
		parent[b] = a;
	else if (b < a)
		parent[a] = b;
}

/* pair callback: join when within the pair's threshold */
static void
JoinPair(void *arg, int i, int j, double distance)
{
	ClusterState *st = (ClusterState *) arg;
	double		limit = (st->masked[i] && st->masked[j]) ? st->masked_masked_max_distance :
	(st->masked[i] || st->masked[j]) ? st->masked_max_distance : st->max_distance;

	if (i != j && distance <= limit)
		Union(st->parent, i, j);
}

/* the faces as a row-major matrix of unit rows; NULL faces are zero rows */
static float *
FaceMatrix(Datum *elems, bool *nulls, int m, int *dim)
{
	int			d = -1;

	for (int i = 0; i < m && d < 0; i++)
		if (!nulls[i])
			d = DatumGetEmbedding(elems[i])->dim;
	*dim = d;
	if (d < 0)
		return NULL;
	return FsUnitRows(elems, nulls, m, d, "face in one group search", NULL);
}

/*
 * For each face, the first position of its group; arguments: faces, masked
 * flags, then the thresholds (two: unmasked and masked; three: unmasked,
 * masked-unmasked, masked-masked)
 */
static Datum
FaceClusters(FunctionCallInfo fcinfo, int thresholds)
{
	ArrayType  *faces = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *masks = PG_GETARG_ARRAYTYPE_P(1);
	ClusterState st;
	Datum	   *elems,
			   *mask_elems,
			   *labels;
	bool	   *nulls,
			   *mask_nulls;
	bool	   *masked;
	int			m,
				mm,
				d;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	float	   *x;

	st.max_distance = PG_GETARG_FLOAT8(2);
	st.masked_max_distance = PG_GETARG_FLOAT8(3);
	st.masked_masked_max_distance = thresholds > 2 ? PG_GETARG_FLOAT8(4) : st.masked_max_distance;
	if (isnan(st.max_distance) || isnan(st.masked_max_distance) || isnan(st.masked_masked_max_distance))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("distance thresholds must not be NaN")));
	if (ARR_NDIM(faces) > 1 || ARR_NDIM(masks) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("arrays must be one-dimensional")));
	get_typlenbyvalalign(ARR_ELEMTYPE(faces), &typlen, &typbyval, &typalign);
	deconstruct_array(faces, ARR_ELEMTYPE(faces), typlen, typbyval, typalign, &elems, &nulls, &m);
	deconstruct_array(masks, BOOLOID, 1, true, TYPALIGN_CHAR, &mask_elems, &mask_nulls, &mm);
	if (mm != m)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("faces and masked flags differ in length (%d and %d)", m, mm)));

	masked = palloc(sizeof(bool) * Max(m, 1));
	st.parent = palloc(sizeof(int) * Max(m, 1));
	for (int i = 0; i < m; i++)
	{
		masked[i] = !mask_nulls[i] && DatumGetBool(mask_elems[i]);
		st.parent[i] = i;
	}
	st.masked = masked;

	x = FaceMatrix(elems, nulls, m, &d);
	if (x != NULL && m > 1)
		FsCosinePairs(x, m, x, m, d,
					  Max(st.max_distance, Max(st.masked_max_distance, st.masked_masked_max_distance)),
					  (Size) work_mem * 1024L, JoinPair, &st);

	labels = palloc(sizeof(Datum) * Max(m, 1));
	for (int i = 0; i < m; i++)
		labels[i] = Int32GetDatum(Find(st.parent, i) + 1);
	PG_RETURN_ARRAYTYPE_P(construct_array(labels, m, INT4OID, 4, true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(fs_face_clusters);
/* SQL (0.1.0): face_clusters(faces, masked, max_distance, masked_max_distance) */
Datum
fs_face_clusters(PG_FUNCTION_ARGS)
{
	return FaceClusters(fcinfo, 2);
}

PG_FUNCTION_INFO_V1(fs_face_clusters_kinds);
/*
 * SQL: face_clusters(faces, masked, max_distance, masked_max_distance,
 * masked_masked_max_distance): each pair within its kind's threshold
 */
Datum
fs_face_clusters_kinds(PG_FUNCTION_ARGS)
{
	return FaceClusters(fcinfo, 3);
}
