/*
 * hnswscan.c
 *		Ordered scans of an embedding_hnsw index: ORDER BY col <op> query.
 *
 * The first call searches the graph with ef_search and returns the results
 * nearest first.  With firstsight.hnsw_iterative_scan = relaxed_order, a scan
 * that runs out (because the query's filter dropped rows) searches again with
 * twice the list size, skipping what it already returned, until
 * firstsight.hnsw_max_scan_tuples elements have been visited.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "embedding/embedding.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"

typedef struct HnswScanOpaqueData
{
	HnswInfo	info;
	MemoryContext ctx;			/* reset at each rescan */
	float	   *query;
	bool		started;
	HnswCandidate **results;
	int			nresults;
	int			next;
	int			ef;
	int64		visits;
	HnswVisited *returned;
	bool		exhausted;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/* ambeginscan */
IndexScanDesc
ehnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	HnswInitInfo(&so->info, index);
	/*
	 * A search allocates a few hundred kilobytes (a candidate per element
	 * kept, the visited set).  The context keeps its first block across
	 * rescans: with the default sizes every rescan handed its blocks back to
	 * malloc, which gave them back to the kernel, and the unmapping (a TLB
	 * flush on every CPU) cost a tenth of a search.
	 */
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw scan",
									1024 * 1024, 1024 * 1024, ALLOCSET_DEFAULT_MAXSIZE);
	scan->opaque = so;
	return scan;
}

/* amrescan: take the query vector */
void
ehnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;

	MemoryContextReset(so->ctx);
	so->started = false;
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	so->visits = 0;
	so->exhausted = false;
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->ctx);
	so->query = palloc0(sizeof(float) * so->info.dims);
	so->returned = HnswVisitedCreate(256);
	MemoryContextSwitchTo(old);
}

/* the query as the graph sees it; a NULL query still returns rows, in no useful order */
static void
PrepareQuery(IndexScanDesc scan, HnswScanOpaque so)
{
	ScanKey		key = &scan->orderByData[0];

	if (scan->numberOfOrderBys == 0 || (key->sk_flags & SK_ISNULL))
	{
		so->query[0] = 1;
		return;
	}
	{
		Embedding  *e = DatumGetEmbedding(key->sk_argument);

		if (e->dim != so->info.dims)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different embedding dimensions %d and %d", so->info.dims, e->dim)));
		if (!HnswPrepareVector(so->info.metric, e->x, so->query, so->info.dims))
			so->query[0] = 1;	/* zero query under cosine: any order */
	}
}

/* search (again) with the current ef */
static void
Search(HnswScanOpaque so)
{
	HnswMetaPageData meta;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);

	HnswReadMeta(so->info.index, &meta);
	so->results = HnswSearchFromEntry(&so->info, &meta, so->query, so->ef, 0, &so->nresults, &so->visits);
	so->next = 0;
	MemoryContextSwitchTo(old);
}

/* amgettuple: the next heap TID, nearest first */
bool
ehnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (!so->started)
	{
		MemoryContext old = MemoryContextSwitchTo(so->ctx);

		PrepareQuery(scan, so);
		MemoryContextSwitchTo(old);
		so->ef = hnsw_ef_search;
		so->started = true;
		pgstat_count_index_scan(scan->indexRelation);
		Search(so);
	}

	for (;;)
	{
		while (so->next < so->nresults)
		{
			HnswCandidate *c = so->results[so->next++];
			MemoryContext old;
			bool		isnew;

			if (c->deleted)
				continue;
			old = MemoryContextSwitchTo(so->ctx);
			isnew = HnswVisitedAdd(so->returned, &c->tid);
			MemoryContextSwitchTo(old);
			if (!isnew)
				continue;
			scan->xs_heaptid = c->heaptid;
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			return true;
		}
		if (hnsw_iterative_scan == HNSW_ITERATIVE_OFF || so->exhausted ||
			so->visits >= hnsw_max_scan_tuples || so->nresults < so->ef)
			return false;
		/* relaxed order: look further, skipping what was returned */
		so->ef = Min((int64) so->ef * 2, (int64) hnsw_max_scan_tuples);
		if (so->ef <= so->nresults)
			so->exhausted = true;
		CHECK_FOR_INTERRUPTS();
		Search(so);
	}
}

/* amendscan */
void
ehnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
