/*
 * hnswscan.c
 *		Ordered scans of an embedding_hnsw index: ORDER BY col <op> query.
 *
 * The first call searches the graph with ef_search and returns the results
 * nearest first.  With firstsight.hnsw_iterative_scan = relaxed_order, a scan
 * that runs out (because the query's filter dropped rows) resumes its search
 * from the nearest elements it left out, until firstsight.hnsw_max_scan_tuples
 * elements have been visited (see ehnswgettuple).
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/tableam.h"
#include "embedding/embedding.h"
#include "executor/tuptable.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

typedef struct HnswScanOpaqueData
{
	HnswInfo	info;
	MemoryContext ctx;			/* reset at each rescan */
	MemoryContext searchCtx;	/* in ctx: one search's candidates, reset at the next */
	float	   *query;
	bool		started;
	HnswCandidate **results;	/* the last search's result, nearest first */
	int			nresults;
	int			next;
	int64		visits;			/* elements whose distance was computed */
	HnswVisited *visited;		/* every element met, over all searches */
	HnswVisited *returned;
	HnswDiscarded discarded;	/* met but not yet returned */
	bool		draining;		/* past the bound: return discarded in order */
	int			restarts;		/* searches again from the entry point after VACUUM (Resume) */
	bool		ties;			/* searching for ties of the last row (no iterative scan) */
	bool		lastValid;
	float		lastDistance;	/* of the last row returned */
	/* without iterative scan: rows returned that the scan's snapshot sees */
	int			ef;				/* of the last search from the entry point */
	bool		allSeen;		/* it found fewer than ef: there is no more */
	int64		nlive;
	ItemPointerData *unchecked; /* heap TIDs returned, not yet looked at */
	int			nunchecked;
	int			capUnchecked;
	IndexFetchTableData *fetch; /* made when first needed */
	TupleTableSlot *slot;
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
	so->draining = false;
	so->restarts = 0;
	so->ties = false;
	so->lastValid = false;
	so->ef = hnsw_ef_search;
	so->allSeen = false;
	so->nlive = 0;
	so->nunchecked = 0;
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->ctx);
	so->query = palloc0(sizeof(float) * so->info.dims);
	so->searchCtx = AllocSetContextCreate(so->ctx, "embedding_hnsw search", ALLOCSET_DEFAULT_SIZES);
	so->returned = HnswVisitedCreate(256);
	so->capUnchecked = 64;
	so->unchecked = palloc(sizeof(ItemPointerData) * so->capUnchecked);
	so->visited = HnswVisitedCreate(hnsw_ef_search * 16);
	HnswDiscardedInit(&so->discarded, hnsw_iterative_scan != HNSW_ITERATIVE_OFF);
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

/*
 * A search may have followed links that VACUUM made stale meanwhile: the
 * scan read the entry point or a list before VACUUM moved the entry point
 * and repaired the lists around the elements it deleted, and then met one
 * of those elements after VACUUM had cleared its links and freed its slot
 * (HNSW_FREE): a dead end where the element used to lead on.  Such a
 * search may have missed every live row (a scan that resumed from deleted
 * elements after a VACUUM between two FETCHes of a cursor returned none of
 * 300 live rows; TAP 109).  Nothing links to a freed slot, so meeting one
 * (info.freedMet) is the sign; the scan then searches again from the entry
 * point, now a live one (VACUUM moves it before it frees any slot), with a
 * new visited set and new discarded elements.  The rows it returned are
 * not returned again (the returned set).  A link made stale whose slot was
 * taken again leads to a real element, at its true distance: no harm.
 */
#define HNSW_MAX_RESTARTS	16

/*
 * Search from the entry point with ef_search, again while the search met
 * freed slots; fresh: forget what earlier searches visited and left out.
 */
static void
Search(HnswScanOpaque so, bool fresh)
{
	for (int restarts = 0;; restarts++)
	{
		HnswMetaPageData meta;
		uint64		freedBefore = so->info.freedMet;
		MemoryContext old;

		if (restarts > 0 || fresh)
		{
			MemoryContextReset(so->searchCtx);
			old = MemoryContextSwitchTo(so->ctx);
			so->visited = HnswVisitedCreate(hnsw_ef_search * 16);
			HnswDiscardedInit(&so->discarded, hnsw_iterative_scan != HNSW_ITERATIVE_OFF);
			MemoryContextSwitchTo(old);
		}
		old = MemoryContextSwitchTo(so->searchCtx);
		HnswReadMeta(so->info.index, &meta);
		so->results = HnswSearchFromEntryDiscarding(&so->info, &meta, so->query, hnsw_ef_search, so->visited,
													&so->nresults, &so->visits, &so->discarded);
		so->allSeen = so->nresults < so->ef;
		so->next = 0;
		MemoryContextSwitchTo(old);
		if (so->info.freedMet == freedBefore || restarts >= HNSW_MAX_RESTARTS)
			break;
	}
}

/*
 * Search level 0 again from the nearest elements the searches so far left
 * out (at most ef_search of them; with ties only, those no farther than
 * the last row returned), with the same visited set: the search goes on
 * where it stopped instead of starting over.  False when there is nothing
 * to resume from.
 */
static bool
Resume(HnswScanOpaque so, bool tiesOnly)
{
	MemoryContext old;
	HnswCandidate **entries;
	int			nentries = 0;
	uint64		freedBefore = so->info.freedMet;

	if (pairingheap_is_empty(so->discarded.heap))
		return false;
	/*
	 * The last search's candidates are done with (its results were all
	 * returned): only what it left out (discarded) and the visited set
	 * remain, both in the scan's context.  Its memory is what bounds the
	 * scan (WithinBounds), so a visited element costs about 100 bytes, not
	 * the few hundred of a candidate with its links.
	 */
	Assert(so->next >= so->nresults);
	MemoryContextReset(so->searchCtx);
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	old = MemoryContextSwitchTo(so->searchCtx);
	entries = palloc(sizeof(HnswCandidate *) * hnsw_ef_search);
	while (nentries < hnsw_ef_search && !pairingheap_is_empty(so->discarded.heap))
	{
		HnswDiscardedItem *d = (HnswDiscardedItem *) pairingheap_first(so->discarded.heap);

		if (tiesOnly && !(d->distance <= so->lastDistance))
			break;
		(void) pairingheap_remove_first(so->discarded.heap);
		entries[nentries++] = HnswLoadCandidate(&so->info, &d->tid, so->query, 0);
		pfree(d);
	}
	if (nentries > 0)
	{
		so->results = HnswSearchLayerDiscarding(&so->info, so->query, entries, nentries, hnsw_ef_search, 0,
												so->visited, &so->nresults, &so->visits, &so->discarded);
		so->next = 0;
	}
	MemoryContextSwitchTo(old);
	/*
	 * Entries or links VACUUM freed since they were met (see Search): the
	 * way on may be lost; an iterative scan searches again from the entry
	 * point (its order is relaxed; the rows it returned are skipped).
	 */
	if (!tiesOnly && so->info.freedMet != freedBefore && so->restarts < HNSW_MAX_RESTARTS)
	{
		so->restarts++;
		Search(so, true);
	}
	return nentries > 0;
}

/* whether an iterative scan may search on: hnsw_max_scan_tuples and the memory bound */
static bool
WithinBounds(HnswScanOpaque so)
{
	double		maxMemory = (double) work_mem * 1024.0 * hnsw_scan_mem_multiplier;

	return so->visits < hnsw_max_scan_tuples &&
		(double) MemoryContextMemAllocated(so->ctx, true) <= maxMemory;
}

/* return a row */
static bool
ReturnRow(IndexScanDesc scan, HnswScanOpaque so, ItemPointer tid, ItemPointer heaptid, float distance)
{
	MemoryContext old = MemoryContextSwitchTo(so->ctx);
	bool		isnew = HnswVisitedAdd(so->returned, tid);

	MemoryContextSwitchTo(old);
	if (!isnew)
		return false;
	so->lastValid = true;
	so->lastDistance = distance;
	if (hnsw_iterative_scan == HNSW_ITERATIVE_OFF)
	{
		if (so->nunchecked == so->capUnchecked)
		{
			so->capUnchecked *= 2;
			so->unchecked = repalloc(so->unchecked, sizeof(ItemPointerData) * so->capUnchecked);
		}
		so->unchecked[so->nunchecked++] = *heaptid;
	}
	scan->xs_heaptid = *heaptid;
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	return true;
}

/*
 * How many of the rows returned so far the scan's snapshot sees.  A row
 * deleted by a transaction that another snapshot may still see is dead to
 * this scan, but VACUUM cannot take it out of the index yet (an open
 * transaction, an ANALYZE's snapshot, autovacuum's own): its element still
 * takes a place among the ef_search nearest.
 */
static int64
LiveReturned(IndexScanDesc scan, HnswScanOpaque so)
{
	if (scan->heapRelation == NULL || scan->xs_snapshot == NULL || !IsMVCCSnapshot(scan->xs_snapshot))
	{
		so->nlive += so->nunchecked;
		so->nunchecked = 0;
		return so->nlive;
	}
	if (so->fetch == NULL)
	{
		so->fetch = table_index_fetch_begin(scan->heapRelation);
		so->slot = table_slot_create(scan->heapRelation, NULL);
	}
	for (int i = 0; i < so->nunchecked; i++)
	{
		ItemPointerData tid = so->unchecked[i];
		bool		call_again = false;
		bool		all_dead = false;

		if (table_index_fetch_tuple(so->fetch, &tid, scan->xs_snapshot, so->slot, &call_again, &all_dead))
			so->nlive++;
		ExecClearTuple(so->slot);
	}
	so->nunchecked = 0;
	return so->nlive;
}

/*
 * Without iterative scan, rows the scan's snapshot does not see do not count
 * among the ef_search nearest: while fewer than ef_search of the rows
 * returned are visible, search again from the entry point with twice the ef
 * (within hnsw_max_scan_tuples) and return what the earlier searches did not.
 * Deleted rows VACUUM could not remove yet (another transaction's snapshot)
 * otherwise filled the ef_search nearest: after deleting all rows but one,
 * the one was not returned (issue 19).  False when there is no more to do.
 */
static bool
SearchPastDeadRows(IndexScanDesc scan, HnswScanOpaque so)
{
	MemoryContext old;
	HnswMetaPageData meta;

	if (so->allSeen || so->ef >= hnsw_max_scan_tuples || so->visits >= hnsw_max_scan_tuples ||
		LiveReturned(scan, so) >= hnsw_ef_search)
		return false;
	so->ef = (int) Min((int64) so->ef * 2, (int64) hnsw_max_scan_tuples);
	MemoryContextReset(so->searchCtx);
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	so->ties = false;
	old = MemoryContextSwitchTo(so->ctx);
	so->visited = HnswVisitedCreate(so->ef * 16);
	HnswDiscardedInit(&so->discarded, false);
	MemoryContextSwitchTo(so->searchCtx);
	HnswReadMeta(so->info.index, &meta);
	so->results = HnswSearchFromEntryDiscarding(&so->info, &meta, so->query, so->ef, so->visited,
												&so->nresults, &so->visits, &so->discarded);
	so->allSeen = so->nresults < so->ef;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * amgettuple: the next heap TID, nearest first.
 *
 * Without iterative scan: the ef_search nearest the search found, then
 * every element as near as the last of them (identical vectors: a camera
 * sends the same one again and again; ef_search = 1 over 20 copies returns
 * all 20, not 1), within hnsw_max_scan_tuples; rows the scan's snapshot
 * does not see do not count among the ef_search (SearchPastDeadRows).
 *
 * relaxed_order: when the rows run out (the query's filter threw them
 * away), the search resumes from the nearest elements it left out, until
 * hnsw_max_scan_tuples elements have been visited or the scan's memory
 * passes work_mem x hnsw_scan_mem_multiplier; then what was left out is
 * returned nearest first.  So a filtered query returns its LIMIT whenever
 * that many qualifying rows are among the elements visited.
 */
bool
ehnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	bool		iterative = hnsw_iterative_scan != HNSW_ITERATIVE_OFF;

	if (!so->started)
	{
		MemoryContext old = MemoryContextSwitchTo(so->ctx);

		PrepareQuery(scan, so);
		MemoryContextSwitchTo(old);
		so->started = true;
		pgstat_count_index_scan(scan->indexRelation);
		Search(so, false);
	}

	for (;;)
	{
		while (so->next < so->nresults)
		{
			HnswCandidate *c = so->results[so->next++];

			if (c->deleted)
				continue;
			if (so->ties && c->distance > so->lastDistance)
			{
				/* a search for ties found farther elements too: not returned */
				so->next = so->nresults;
				break;
			}
			if (ReturnRow(scan, so, &c->tid, &c->heaptid, c->distance))
				return true;
		}
		CHECK_FOR_INTERRUPTS();
		if (so->draining)
		{
			HnswDiscardedItem *d;

			if (pairingheap_is_empty(so->discarded.heap))
				return false;
			d = (HnswDiscardedItem *) pairingheap_remove_first(so->discarded.heap);
			if (ReturnRow(scan, so, &d->tid, &d->heaptid, d->distance))
				return true;
			continue;
		}
		if (!iterative)
		{
			/* ties of the last row */
			so->ties = true;
			if (so->lastValid && so->visits < hnsw_max_scan_tuples && Resume(so, true))
				continue;
			if (!SearchPastDeadRows(scan, so))
				return false;
			continue;
		}
		if (!WithinBounds(so))
		{
			so->draining = true;
			continue;
		}
		if (!Resume(so, false))
			return false;
	}
}

/* amendscan */
void
ehnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (so->fetch)
	{
		ExecDropSingleTupleTableSlot(so->slot);
		table_index_fetch_end(so->fetch);
	}
	MemoryContextDelete(so->ctx);
	pfree(so);
	scan->opaque = NULL;
}
