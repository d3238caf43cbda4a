/*
 * hnsw.c
 *		The embedding_hnsw handler: options, settings, cost estimate and
 *		operator class validation.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "hnsw.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_OFF;
int			hnsw_max_scan_tuples = 20000;
double		hnsw_scan_mem_multiplier = 1;

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry iterative_options[] = {
	{"off", HNSW_ITERATIVE_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_RELAXED, false},
	{NULL, 0, false}
};

extern Datum embedding_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum embedding_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum embedding_cosine_distance(PG_FUNCTION_ARGS);
extern Datum embedding_l1_distance(PG_FUNCTION_ARGS);

/* define reloptions and settings; called from _PG_init */
void
HnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Maximum number of neighbours per element on upper levels (twice that on level 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction", "Size of the candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION, HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("firstsight.hnsw_ef_search",
							"Size of the candidate list of an embedding_hnsw search.",
							"Larger finds more of the true nearest neighbours and costs more time.",
							&hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("firstsight.hnsw_iterative_scan",
							 "Whether an embedding_hnsw scan continues past ef_search results when rows are filtered out.",
							 "relaxed_order keeps searching, returning rows in nearly (not strictly) ascending distance.",
							 &hnsw_iterative_scan, HNSW_ITERATIVE_OFF, iterative_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.hnsw_max_scan_tuples",
							"Most graph elements an iterative embedding_hnsw scan visits.",
							NULL, &hnsw_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("firstsight.hnsw_scan_mem_multiplier",
							 "Multiple of work_mem an iterative embedding_hnsw scan may use.",
							 "Past it the scan stops searching and returns the elements it met, nearest first.",
							 &hnsw_scan_mem_multiplier, 1, 1, 1000,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/* parse WITH (m = ..., ef_construction = ...) */
static bytea *
ehnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, efConstruction)},
	};
	HnswOptions *opts;

	opts = (HnswOptions *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
											sizeof(HnswOptions), tab, lengthof(tab));
	if (validate && opts && opts->efConstruction < 2 * opts->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be at least twice m"),
				 errdetail("ef_construction is %d and m is %d.", opts->efConstruction, opts->m),
				 errhint("Raise ef_construction to %d or more, or lower m.", 2 * opts->m)));
	return (bytea *) opts;
}

/* the m option of an index */
int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

/* the ef_construction option of an index */
int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/* the metric of an index, from its opclass's distance function */
HnswMetric
HnswGetMetric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, 1);

	if (proc->fn_addr == embedding_l2_squared_distance)
		return HNSW_METRIC_L2;
	if (proc->fn_addr == embedding_negative_inner_product)
		return HNSW_METRIC_IP;
	if (proc->fn_addr == embedding_cosine_distance)
		return HNSW_METRIC_COSINE;
	if (proc->fn_addr == embedding_l1_distance)
		return HNSW_METRIC_L1;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("operator class of index \"%s\" has an unsupported distance function",
					RelationGetRelationName(index)),
			 errhint("Use embedding_l2_ops, embedding_cosine_ops, embedding_ip_ops or embedding_l1_ops.")));
	return HNSW_METRIC_L2;		/* keep compiler quiet */
}

/*
 * Cost.  The first row costs a graph search: about ef_search * 4 elements,
 * whatever the table size (the start-up cost).  The last costs the whole
 * index (the total cost): a scan whose rows are thrown away by a filter
 * goes on (iterative scan) or returns too few.  The planner charges a
 * LIMIT k the start-up cost plus the share k / (rows passing the filter)
 * of the rest, so a selective filter (WHERE project_id = $1 over many
 * projects) makes the index scan as dear as reading the index, and a
 * sequential scan, another index or a partial index wins, as with
 * pgvector.  Both used to be the search's cost, and the planner chose the
 * graph for every filter.
 */
static void
ehnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				  Cost *indexStartupCost, Cost *indexTotalCost,
				  Selectivity *indexSelectivity, double *indexCorrelation,
				  double *indexPages)
{
	GenericCosts costs;
	double		ratio;

	/* without ORDER BY distance the index is useless */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = DBL_MAX;
		*indexTotalCost = DBL_MAX;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/* the share of the index a search reads */
	ratio = Min(1.0, (double) hnsw_ef_search * 4 / Max(path->indexinfo->tuples, 1));

	*indexStartupCost = costs.indexTotalCost * ratio;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/* check an operator class of embedding_hnsw, as contrib/bloom does */
static bool
ehnswvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	CatCList   *proclist,
			   *oprlist;
	bool		hasproc1 = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (procform->amprocnum != 1)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("embedding_hnsw operator class \"%s\" has support function number %d, only 1 is valid",
							opclassname, procform->amprocnum)));
			result = false;
			continue;
		}
		if (!check_amproc_signature(procform->amproc, FLOAT8OID, false, 2, 2, opcintype, opcintype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("embedding_hnsw operator class \"%s\" has a support function 1 with the wrong signature",
							opclassname)));
			result = false;
		}
		hasproc1 = true;
	}
	if (!hasproc1)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("embedding_hnsw operator class \"%s\" is missing support function 1", opclassname)));
		result = false;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != 1 || oprform->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID, opcintype, opcintype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("embedding_hnsw operator class \"%s\" has an invalid operator %s: only strategy 1, an ordering operator returning double precision, is valid",
							opclassname, format_operator(oprform->amopopr))));
			result = false;
		}
	}
	if (oprlist->n_members != 1)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("embedding_hnsw operator class \"%s\" must have exactly one ordering operator", opclassname)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(classtup);
	return result;
}

/* names of the build phases in pg_stat_progress_create_index */
static char *
ehnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case 2:
			return "loading tuples";
		case 3:
			return "writing graph";
		case 4:
			return "inserting on disk";
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(embedding_hnsw_handler);
/* the access method's routine table */
Datum
embedding_hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = ehnswbuild;
	amroutine->ambuildempty = ehnswbuildempty;
	amroutine->aminsert = ehnswinsert;
	amroutine->ambulkdelete = ehnswbulkdelete;
	amroutine->amvacuumcleanup = ehnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = ehnswcostestimate;
	amroutine->amoptions = ehnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = ehnswbuildphasename;
	amroutine->amvalidate = ehnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = ehnswbeginscan;
	amroutine->amrescan = ehnswrescan;
	amroutine->amgettuple = ehnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = ehnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
