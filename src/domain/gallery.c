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

#include "catalog/pg_type.h"
#include "embedding/embedding.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct GalleryPlanKey
{
	int64		project_id;
	int32		dims;
	Oid			argtype;		/* embedding[] (its OID depends on the install) */
} GalleryPlanKey;

typedef struct GalleryPlanEntry
{
	GalleryPlanKey key;
	SPIPlanPtr	plan;
} GalleryPlanEntry;

static HTAB *gallery_plans = NULL;

/* the kept plan for a project's gallery, prepared on first use */
static SPIPlanPtr
GalleryPlan(int64 project_id, int32 dims, Oid argtype)
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
				 "  FROM firstsight.%s f"
				 "  ORDER BY f.face::firstsight.embedding(%d) OPERATOR(firstsight.<=>) q.face"
				 "  LIMIT 1) g ON true",
				 quote_identifier(relname), dims);
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

PG_FUNCTION_INFO_V1(fs_gallery_nearest);

/* the largest value firstsight.hnsw_ef_search accepts */
#define GALLERY_MAX_EF_SEARCH 1000

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
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		ef_search = Min(PG_GETARG_INT32(2), GALLERY_MAX_EF_SEARCH);
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
	plan = GalleryPlan(project_id, dims, argtype);
	if (ef_search > 0)
	{
		const char *current = GetConfigOption("firstsight.hnsw_ef_search", true, false);

		/* only ever widen; the session's own value may already be larger */
		if (current == NULL || ef_search > pg_strtoint32(current))
		{
			char		buf[16];

			snprintf(buf, sizeof(buf), "%d", ef_search);
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
