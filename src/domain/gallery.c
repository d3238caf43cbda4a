/*
 * gallery.c
 *		The nearest gallery face of each query face (ingestion's matching step).
 *
 * Each project's gallery is its own partition face_p<project_id> with an HNSW
 * index over face::embedding(dims).  The search query names the partition and
 * the dimension, so it cannot be one static statement; instead of building and
 * planning it on every call (dynamic SQL), one SPI plan per (project, dims) is
 * prepared once per backend, kept (SPI_keepplan) and cached in a hash table.
 * Kept plans are plancache entries: an index created or dropped, or the
 * partition replaced, invalidates them and the next execution re-analyses the
 * query text (names are looked up again), so the cache never needs flushing.
 * The project's dimension is taken from the query faces (ingestion has checked
 * them against the project), so no catalog query is needed per call.
 *
 * An optional ef_search widens the index search for this call only: HNSW
 * misses a near-duplicate's gallery face now and then (a few percent of
 * searches at the default candidate list on 512-d faces), and ingestion
 * searches again with a much longer list before a capture becomes a new
 * person.  The setting is applied like a function's SET clause (a GUC nest
 * level, undone when the search ends or by the transaction's abort).
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "access/table.h"
#include "access/tableam.h"
#include "blas/blas.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "embedding/embedding.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "simd/simd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

typedef struct GalleryPlanKey
{
	int64		project_id;
	int32		dims;
	Oid			argtype;		/* embedding[] (its OID depends on the install) */
	int32		kind;			/* GALLERY_ANY, GALLERY_UNMASKED or GALLERY_MASKED */
} GalleryPlanKey;

typedef struct GalleryPlanEntry
{
	GalleryPlanKey key;
	SPIPlanPtr	plan;
} GalleryPlanEntry;

static HTAB *gallery_plans = NULL;

/* which gallery faces a search considers */
#define GALLERY_ANY (-1)
#define GALLERY_UNMASKED 0
#define GALLERY_MASKED 1

/* the kept plan for a project's gallery (faces of one kind, or all), prepared on first use */
static SPIPlanPtr
GalleryPlan(int64 project_id, int32 dims, Oid argtype, int32 kind)
{
	GalleryPlanKey key;
	GalleryPlanEntry *entry;
	bool		found;

	if (gallery_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(GalleryPlanKey);
		ctl.entrysize = sizeof(GalleryPlanEntry);
		ctl.hcxt = TopMemoryContext;
		gallery_plans = hash_create("firstsight gallery plans", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	memset(&key, 0, sizeof(key));
	key.project_id = project_id;
	key.dims = dims;
	key.argtype = argtype;
	key.kind = kind;
	entry = hash_search(gallery_plans, &key, HASH_ENTER, &found);
	if (!found)
		entry->plan = NULL;
	if (entry->plan == NULL)
	{
		char		query[1024];
		char		relname[NAMEDATALEN];
		SPIPlanPtr	plan;

		/* identifiers and integers only, never caller text */
		snprintf(relname, sizeof(relname), "face_p" INT64_FORMAT, project_id);
		snprintf(query, sizeof(query),
				 "SELECT q.ord::pg_catalog.int4, g.person_id, g.distance"
				 " FROM pg_catalog.unnest($1) WITH ORDINALITY AS q(face, ord)"
				 " LEFT JOIN LATERAL ("
				 "  SELECT f.person_id, f.face OPERATOR(firstsight.<=>) q.face AS distance"
				 "  FROM firstsight.%s f%s"
				 "  ORDER BY f.face::firstsight.embedding(%d) OPERATOR(firstsight.<=>) q.face"
				 "  LIMIT 1) g ON true",
				 quote_identifier(relname),
				 kind == GALLERY_MASKED ? " WHERE f.masked" :
				 kind == GALLERY_UNMASKED ? " WHERE NOT f.masked" : "",
				 dims);
		plan = SPI_prepare_cursor(query, 1, &argtype, CURSOR_OPT_GENERIC_PLAN);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare for the gallery of project " INT64_FORMAT " failed: %s",
				 project_id, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		entry->plan = plan;
	}
	return entry->plan;
}

/* the largest value firstsight.hnsw_ef_search accepts */
#define GALLERY_MAX_EF_SEARCH 1000

/*
 * The nearest gallery face (of one kind, or of any) of each face of the
 * array in argument 1 of project argument 0, with argument ef_arg (if given)
 * as the least candidate list.  A search of one kind filters the index scan
 * and so runs it as an iterative scan (firstsight.hnsw_iterative_scan =
 * relaxed_order for the call): without it a kind that is rare near the face
 * would be missed among the first ef_search candidates.
 */
static Datum
GalleryNearest(FunctionCallInfo fcinfo, int32 kind, int ef_arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		project_id;
	ArrayType  *faces;
	Oid			argtype;
	int32		dims = 0;
	SPIPlanPtr	plan;
	Datum		values[1];
	int			ret;
	uint64		i;
	int32		ef_search = 0;
	int			guc_level = -1;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	project_id = PG_GETARG_INT64(0);
	faces = PG_GETARG_ARRAYTYPE_P(1);
	if (PG_NARGS() > ef_arg && !PG_ARGISNULL(ef_arg))
		ef_search = Min(PG_GETARG_INT32(ef_arg), GALLERY_MAX_EF_SEARCH);
	argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	if (!OidIsValid(argtype))
		argtype = get_array_type(ARR_ELEMTYPE(faces));

	/* the dimension of the first face (all were checked against the project) */
	if (ArrayGetNItems(ARR_NDIM(faces), ARR_DIMS(faces)) > 0)
	{
		int			first = ARR_LBOUND(faces)[0];
		bool		isnull;
		Datum		d;
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(faces), &typlen, &typbyval, &typalign);
		d = array_get_element(PointerGetDatum(faces), 1, &first, -1,
							  typlen, typbyval, typalign, &isnull);
		if (!isnull)
			dims = DatumGetEmbedding(d)->dim;
	}
	if (dims <= 0)
	{
		/* no usable face: every row unmatched */
		int			n = ArrayGetNItems(ARR_NDIM(faces), ARR_DIMS(faces));

		for (int k = 0; k < n; k++)
		{
			Datum		row[3] = {Int32GetDatum(k + 1), 0, 0};
			bool		nulls[3] = {false, true, true};

			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
		}
		return (Datum) 0;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = GalleryPlan(project_id, dims, argtype, kind);
	if (kind != GALLERY_ANY)
	{
		guc_level = NewGUCNestLevel();
		(void) set_config_option("firstsight.hnsw_iterative_scan", "relaxed_order",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	if (ef_search > 0)
	{
		const char *current = GetConfigOption("firstsight.hnsw_ef_search", true, false);

		/* only ever widen; the session's own value may already be larger */
		if (current == NULL || ef_search > pg_strtoint32(current))
		{
			char		buf[16];

			snprintf(buf, sizeof(buf), "%d", ef_search);
			if (guc_level < 0)
				guc_level = NewGUCNestLevel();
			(void) set_config_option("firstsight.hnsw_ef_search", buf,
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		}
	}
	values[0] = PointerGetDatum(faces);
	ret = SPI_execute_plan(plan, values, NULL, true, 0);
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "gallery search failed: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		Datum		row[3];
		bool		nulls[3];

		for (int c = 0; c < 3; c++)
			row[c] = SPI_getbinval(tup, SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_gallery_nearest);

/*
 * gallery_nearest(project_id bigint, faces embedding[], ef_search integer DEFAULT 0)
 *		returns table (ord integer, person_id bigint, distance float8)
 *
 * ef_search > 0: search with at least this candidate list (capped at 1000);
 * a smaller value than the session's firstsight.hnsw_ef_search changes nothing.
 */
Datum
fs_gallery_nearest(PG_FUNCTION_ARGS)
{
	return GalleryNearest(fcinfo, GALLERY_ANY, 2);
}

PG_FUNCTION_INFO_V1(fs_gallery_nearest_kind);

/*
 * gallery_nearest_kind(project_id bigint, faces embedding[], masked boolean,
 *						ef_search integer DEFAULT 0)
 *		returns table (ord integer, person_id bigint, distance float8)
 *
 * The same among the gallery's masked faces only (masked true) or its
 * unmasked ones (false): ingestion matches each pair kind with its threshold.
 */
Datum
fs_gallery_nearest_kind(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("masked must not be null"),
				 errhint("Pass true for the masked gallery faces, false for the unmasked ones.")));
	return GalleryNearest(fcinfo, PG_GETARG_BOOL(2) ? GALLERY_MASKED : GALLERY_UNMASKED, 3);
}

/*
 * Exact search of a whole batch with OpenBLAS.
 *
 * A COPY of thousands of captures pays one HNSW search per capture (and a
 * wider one per miss).  Reading the project's gallery once and multiplying
 * the batch by it (cblas_sgemm, block by block) costs one pass over the
 * gallery plus 2 * batch * gallery * dims flops, which beats the index once
 * the batch is large enough against the gallery (ingest_batch decides, see
 * the setting exact_search_faces and docs/domain.md).  The result is exact:
 * no near-duplicate is missed, so the wider search before a new person is
 * not needed after it.
 *
 * The gallery partition is read with a plain heap scan under the caller's
 * snapshot, faces copied straight from the buffer into the block matrix:
 * through SPI every 2 kB row was first formed into a new tuple in memory
 * freed after each fetch, and the fresh pages' faults cost several times
 * the scan itself.  Privileges are checked as a query would (SELECT on the
 * partition); a partition under row-level security is refused.
 */

/* gallery rows per block of the similarity matrix */
#define GALLERY_EXACT_ROWS 4096
/* bound on one block of the similarity matrix */
#define GALLERY_EXACT_BLOCK_BYTES ((Size) 32 * 1024 * 1024)

typedef struct ExactState
{
	int			m;				/* query faces */
	int			d;
	const float *q;				/* m x d unit rows */
	const bool *qzero;			/* query rows with no direction */
	float	   *g;				/* GALLERY_EXACT_ROWS x d gallery rows */
	int64	   *persons;		/* their persons */
	bool	   *gmasked;		/* whether each is a masked face */
	int			kinds;			/* 1: nearest of any kind; 2: nearest unmasked and nearest masked */
	float	   *inv_norm;		/* 1 / length of each gallery row (0: no direction) */
	int			n;				/* gallery rows in g */
	float	   *c;				/* rows_per_block x GALLERY_EXACT_ROWS */
	int			rows_per_block;
	float	   *best;			/* best similarity so far per query face (x kinds) */
	int64	   *best_person;
} ExactState;

/* the query faces against the gallery rows collected so far */
static void
ExactFlush(ExactState *st)
{
	int			n = st->n;
	int			d = st->d;

	if (n == 0)
		return;
	CHECK_FOR_INTERRUPTS();
	/* gallery rows are not scaled: each similarity is divided by its row's length */
	for (int j = 0; j < n; j++)
	{
		float		ss = fs_kernels->normsq(d, st->g + (Size) j * d);

		st->inv_norm[j] = ss > 0 ? (float) (1.0 / sqrt((double) ss)) : 0.0f;
	}
	for (int i0 = 0; i0 < st->m; i0 += st->rows_per_block)
	{
		int			rows = Min(st->rows_per_block, st->m - i0);

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, d,
					1.0f, st->q + (Size) i0 * d, d, st->g, d, 0.0f, st->c, n);
		for (int i = 0; i < rows; i++)
		{
			const float *crow = st->c + (Size) i * n;
			int			q = i0 + i;
			float		b[2];
			int			bj[2] = {-1, -1};

			if (st->qzero[q])
				continue;
			for (int k = 0; k < st->kinds; k++)
				b[k] = st->best[q * st->kinds + k];
			for (int j = 0; j < n; j++)
			{
				float		sim = crow[j] * st->inv_norm[j];
				int			k = st->kinds == 2 && st->gmasked[j] ? 1 : 0;

				if (sim > b[k] && st->inv_norm[j] > 0)
				{
					b[k] = sim;
					bj[k] = j;
				}
			}
			for (int k = 0; k < st->kinds; k++)
				if (bj[k] >= 0)
				{
					st->best[q * st->kinds + k] = b[k];
					st->best_person[q * st->kinds + k] = st->persons[bj[k]];
				}
		}
	}
	st->n = 0;
}

/* one pass over the gallery partition: every comparable face into st */
static void
ExactScanGallery(int64 project_id, ExactState *st)
{
	char		relname[NAMEDATALEN];
	Oid			relid;
	Relation	rel;
	AclResult	aclresult;
	AttrNumber	att_person;
	AttrNumber	att_face;
	AttrNumber	att_masked;
	TupleTableSlot *slot;
	TableScanDesc scan;

	snprintf(relname, sizeof(relname), "face_p" INT64_FORMAT, project_id);
	relid = RangeVarGetRelid(makeRangeVar("firstsight", relname, -1), AccessShareLock, false);
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, relname);
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("gallery_nearest_exact cannot read a gallery under row-level security"),
				 errdetail("Project %lld's gallery partition has row-level security for the current user.",
						   (long long) project_id),
				 errhint("Use firstsight.gallery_nearest, or call it as the extension owner.")));
	rel = table_open(relid, NoLock);
	att_person = get_attnum(relid, "person_id");
	att_face = get_attnum(relid, "face");
	att_masked = get_attnum(relid, "masked");
	if (att_person == InvalidAttrNumber || att_face == InvalidAttrNumber || att_masked == InvalidAttrNumber)
		elog(ERROR, "gallery partition %s lacks person_id, face or masked", relname);

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		pd = slot_getattr(slot, att_person, &isnull);
		Datum		fd;
		Embedding  *e;

		if (isnull)
			continue;
		fd = slot_getattr(slot, att_face, &isnull);
		if (isnull)
			continue;
		e = DatumGetEmbedding(fd);
		if (e->dim == st->d)	/* other dimensions are never the nearest */
		{
			bool		mnull;
			Datum		md = slot_getattr(slot, att_masked, &mnull);

			memcpy(st->g + (Size) st->n * st->d, e->x, sizeof(float) * st->d);
			st->gmasked[st->n] = !mnull && DatumGetBool(md);
			st->persons[st->n++] = DatumGetInt64(pd);
			if (st->n == GALLERY_EXACT_ROWS)
				ExactFlush(st);
		}
		if ((Pointer) e != DatumGetPointer(fd))
			pfree(e);
	}
	ExactFlush(st);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
}

/*
 * The exact search of the faces (argument 1) against project argument 0's
 * gallery: per face its nearest gallery face (kinds 1), or its nearest
 * unmasked and its nearest masked gallery face (kinds 2, rows with the
 * masked column).
 */
static Datum
GalleryNearestExact(FunctionCallInfo fcinfo, int kinds)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		project_id;
	ArrayType  *faces;
	Datum	   *elems;
	bool	   *nulls;
	int			m;
	int			d = -1;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	ExactState	st;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	project_id = PG_GETARG_INT64(0);
	faces = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(faces) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("faces must be a one-dimensional array")));
	get_typlenbyvalalign(ARR_ELEMTYPE(faces), &typlen, &typbyval, &typalign);
	deconstruct_array(faces, ARR_ELEMTYPE(faces), typlen, typbyval, typalign, &elems, &nulls, &m);

	for (int i = 0; i < m && d < 0; i++)
		if (!nulls[i])
			d = DatumGetEmbedding(elems[i])->dim;
	memset(&st, 0, sizeof(st));
	st.m = m;
	st.d = d;
	st.kinds = kinds;
	st.best = palloc(sizeof(float) * Max(m, 1) * kinds);
	st.best_person = palloc(sizeof(int64) * Max(m, 1) * kinds);
	for (int i = 0; i < m * kinds; i++)
	{
		st.best[i] = -2.0f;		/* below any cosine similarity */
		st.best_person[i] = 0;
	}

	if (d > 0)
	{
		bool	   *qzero = palloc(sizeof(bool) * m);
		float	   *q = FsUnitRows(elems, nulls, m, d, "face of one gallery search", qzero);

		st.q = q;
		st.qzero = qzero;
		st.g = palloc(sizeof(float) * (Size) GALLERY_EXACT_ROWS * d);
		st.persons = palloc(sizeof(int64) * GALLERY_EXACT_ROWS);
		st.gmasked = palloc(sizeof(bool) * GALLERY_EXACT_ROWS);
		st.inv_norm = palloc(sizeof(float) * GALLERY_EXACT_ROWS);
		st.rows_per_block = (int) Max(1, Min((Size) m, GALLERY_EXACT_BLOCK_BYTES / (sizeof(float) * GALLERY_EXACT_ROWS)));
		st.c = palloc_extended(sizeof(float) * (Size) st.rows_per_block * GALLERY_EXACT_ROWS, MCXT_ALLOC_HUGE);
		ExactScanGallery(project_id, &st);
	}

	for (int i = 0; i < m * kinds; i++)
	{
		Datum		row[4];
		bool		rnulls[4] = {false, false, true, true};
		int			c = 0;

		row[c++] = Int32GetDatum(i / kinds + 1);
		if (kinds == 2)
			row[c++] = BoolGetDatum(i % 2 == 1);
		row[c] = row[c + 1] = (Datum) 0;
		rnulls[c] = rnulls[c + 1] = true;
		if (st.best[i] > -2.0f)
		{
			double		sim = Min(1.0, Max(-1.0, (double) st.best[i]));

			row[c] = Int64GetDatum(st.best_person[i]);
			row[c + 1] = Float8GetDatum(1.0 - sim);
			rnulls[c] = rnulls[c + 1] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, rnulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_gallery_nearest_exact);

/*
 * gallery_nearest_exact(project_id bigint, faces embedding[])
 *		returns table (ord integer, person_id bigint, distance float8)
 *
 * Same result as gallery_nearest without the index's approximation.
 */
Datum
fs_gallery_nearest_exact(PG_FUNCTION_ARGS)
{
	return GalleryNearestExact(fcinfo, 1);
}

PG_FUNCTION_INFO_V1(fs_gallery_nearest_exact_kinds);

/*
 * gallery_nearest_exact_kinds(project_id bigint, faces embedding[])
 *		returns table (ord integer, masked boolean, person_id bigint, distance float8)
 *
 * Per face two rows from one pass: its nearest unmasked gallery face (masked
 * false) and its nearest masked one (true); person and distance are null
 * when the gallery has no face of that kind.
 */
Datum
fs_gallery_nearest_exact_kinds(PG_FUNCTION_ARGS)
{
	return GalleryNearestExact(fcinfo, 2);
}
