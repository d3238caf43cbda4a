/*
 * hnswcheck.c
 *		firstsight.index_check(regclass): a structural check of an
 *		embedding_hnsw index, one row per problem found.  Its collection of
 *		the elements and its walk of a search (HnswCollectElements,
 *		HnswReachFrom) also serve VACUUM's relink of the kept-link tree
 *		(hnswtree.c).
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "commands/vacuum.h"
#include "funcapi.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

struct HnswCheckState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	int			problems;
};

/* report one problem */
static void
Problem(HnswCheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
Problem(HnswCheckState *cs, const char *fmt,...)
{
	va_list		ap;
	char		buf[512];
	Datum		value;
	bool		isnull = false;

	/* VACUUM's walk collects elements without reporting */
	if (cs == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	value = CStringGetTextDatum(buf);
	tuplestore_putvalues(cs->store, cs->desc, &value, &isnull);
	cs->problems++;
}

/* the element at (blk, off), or NULL */
HnswElemInfo *
HnswLookupElem(HnswElemInfo **elems, OffsetNumber *counts, BlockNumber nblocks, ItemPointer tid)
{
	BlockNumber blk = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	if (blk < HNSW_HEAD_BLKNO || blk >= nblocks || off < FirstOffsetNumber || off > counts[blk])
		return NULL;
	return &elems[blk][off - 1];
}

/*
 * Every element's level, state and heap TID (elems, counts: one entry per
 * block); malformed tuples are reported to cs (NULL: not reported) and left
 * out (level -1).  Returns the highest level of a live element, or -1.
 */
int
HnswCollectElements(Relation index, HnswMetaPageData *meta, BlockNumber nblocks, HnswElemInfo **elems,
				OffsetNumber *counts, HnswCheckState *cs)
{
	int			topLive = -1;

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(index, blk);
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		counts[blk] = maxoff;
		elems[blk] = palloc(sizeof(HnswElemInfo) * Max(maxoff, 1));
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, iid);
			HnswElemInfo   *ei = &elems[blk][off - 1];

			ei->level = -1;
			ei->reached = false;
			if (!ItemIdIsUsed(iid) || ItemIdGetLength(iid) < offsetof(HnswElementTupleData, neighbors))
			{
				Problem(cs, "element (%u,%u): no element tuple at this offset", blk, off);
				continue;
			}
			if (tup->level > meta->maxLevel ||
				ItemIdGetLength(iid) != HnswTupleSize(meta->m, tup->level, meta->dims) ||
				tup->dims != meta->dims)
			{
				Problem(cs, "element (%u,%u): level %d or size %u does not match the index (m %u, dims %u, max level %u)",
						blk, off, tup->level, ItemIdGetLength(iid), meta->m, meta->dims, meta->maxLevel);
				continue;
			}
			ei->level = tup->level;
			ei->deleted = tup->deleted != 0;
			ei->heaptid = tup->heaptid;
			if (!ei->deleted)
				topLive = Max(topLive, tup->level);
		}
		UnlockReleaseBuffer(buf);
	}
	return topLive;
}

void
HnswReachInit(HnswReach *r, Relation index, int m, HnswElemInfo **elems, OffsetNumber *counts, BlockNumber nblocks,
		  bool keptOnly)
{
	r->index = index;
	r->keptOnly = keptOnly;
	r->m = m;
	r->elems = elems;
	r->counts = counts;
	r->nblocks = nblocks;
	r->cap = 1024;
	r->tail = 0;
	r->queue = palloc(sizeof(ItemPointerData) * r->cap);
}

static void
Enqueue(HnswReach *r, HnswElemInfo *e, ItemPointer tid)
{
	e->reached = true;
	if (r->tail == r->cap)
	{
		r->cap *= 2;
		r->queue = repalloc(r->queue, sizeof(ItemPointerData) * r->cap);
	}
	r->queue[r->tail++] = *tid;
}

/*
 * Walk as a search can from the element at tid (on level top and below):
 * on each level from top down to 0, follow that level's links from every
 * element reached from it so far (all of them are on that level), marking
 * and queueing what they lead to.  Links to too-low levels are reported by
 * the link pass.  keptOnly: the tree of kept links, on level 0 only.
 */
void
HnswReachFrom(HnswReach *r, ItemPointer tid, int top)
{
	int			first = r->tail;

	Enqueue(r, HnswLookupElem(r->elems, r->counts, r->nblocks, tid), tid);
	if (r->keptOnly)
		top = 0;
	for (int lc = top; lc >= 0; lc--)
	{
		int			start = HnswLevelStart(r->m, lc);
		int			slots = HnswLevelSlots(r->m, lc);

		for (int head = first; head < r->tail; head++)
		{
			ItemPointerData cur = r->queue[head];
			Buffer		buf = ReadBuffer(r->index, ItemPointerGetBlockNumber(&cur));
			Page		page;
			HnswElementTuple tup;

			CHECK_FOR_INTERRUPTS();
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(&cur)));
			for (int i = 0; i < slots && ItemPointerIsValid(&tup->neighbors[start + i].tid); i++)
			{
				HnswElemInfo   *t = HnswLookupElem(r->elems, r->counts, r->nblocks, &tup->neighbors[start + i].tid);

				if (r->keptOnly && !(tup->neighbors[start + i].flags & HNSW_LINK_KEPT))
					continue;
				if (t != NULL && t->level >= lc && !t->reached)
					Enqueue(r, t, &tup->neighbors[start + i].tid);
			}
			UnlockReleaseBuffer(buf);
		}
	}
}

/* is every version of the heap row behind this element dead to every transaction? */
static bool
HeapRowGone(IndexFetchTableData *fetch, TupleTableSlot *slot, ItemPointer heaptid)
{
	ItemPointerData tid = *heaptid;
	bool		call_again = false;
	bool		all_dead = false;

	if (table_index_fetch_tuple(fetch, &tid, GetActiveSnapshot(), slot, &call_again, &all_dead))
		return false;
	return all_dead;
}

/*
 * Walk the graph from the entry point as a search can (keptOnly: along the
 * tree of kept links, see hnsw.h) and look at the live elements the walk
 * did not reach, leaving out those whose heap row is dead to everyone: an
 * insert interrupted between writing its element and linking to it (a
 * crash, a cancel) leaves such an element behind, its row aborted; no scan
 * returns it and VACUUM removes it.
 *
 * A search walks on each level from the top down, starting from every
 * element reached on the level above and following that level's links; a
 * live element it never reaches is a problem, reported with its table row.
 * An element outside the tree of kept links is not (a search reaches it
 * now), but later inserts can cut it off until a VACUUM links it into the
 * tree: those are counted in a NOTICE.
 */
static void
CheckWalk(Relation index, Relation heap, HnswMetaPageData *meta, HnswElemInfo **elems,
		  OffsetNumber *counts, BlockNumber nblocks, HnswCheckState *cs, bool keptOnly)
{
	HnswReach		r;
	int			unreached = 0;
	int			gone = 0;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
			elems[blk][off - 1].reached = false;
	HnswReachInit(&r, index, meta->m, elems, counts, nblocks, keptOnly);
	HnswReachFrom(&r, &meta->entry, meta->entryLevel);

	fetch = table_index_fetch_begin(heap);
	slot = table_slot_create(heap, NULL);
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
		{
			HnswElemInfo   *ei = &elems[blk][off - 1];

			if (ei->level < 0 || ei->deleted || ei->reached)
				continue;
			if (HeapRowGone(fetch, slot, &ei->heaptid))
				gone++;
			else
			{
				if (!keptOnly && unreached < 10)
					Problem(cs, "element (%u,%u) of level %d, table row (%u,%u), cannot be reached from the entry point",
							blk, off, ei->level, ItemPointerGetBlockNumberNoCheck(&ei->heaptid),
							ItemPointerGetOffsetNumberNoCheck(&ei->heaptid));
				unreached++;
			}
		}
	if (keptOnly)
	{
		if (unreached > 0)
			ereport(NOTICE,
					(errmsg_plural("%d live element is outside the tree of kept links",
								   "%d live elements are outside the tree of kept links",
								   unreached, unreached),
					 errdetail("Searches reach such an element through other links, which later inserts can prune."),
					 errhint("VACUUM links them into the tree.")));
	}
	else
	{
		if (unreached > 10)
			Problem(cs, "%d live elements in all cannot be reached from the entry point", unreached);
		if (gone > 0)
			ereport(NOTICE,
					(errmsg_plural("%d element of a dead table row cannot be reached from the entry point",
								   "%d elements of dead table rows cannot be reached from the entry point",
								   gone, gone),
					 errdetail("An insert interrupted between writing its element and linking to it (a crash, a cancel) leaves such an element; no scan returns it."),
					 errhint("VACUUM removes them.")));
	}
	ExecDropSingleTupleTableSlot(slot);
	table_index_fetch_end(fetch);
	pfree(r.queue);
}

PG_FUNCTION_INFO_V1(hnsw_index_check);
/* check links, levels and the entry point */
Datum
hnsw_index_check(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index;
	HnswMetaPageData meta;
	BlockNumber nblocks;
	HnswElemInfo  **elems;
	OffsetNumber *counts;
	HnswCheckState	cs;
	int			topLive = -1;
	LOCKMODE	lockmode;
	Oid			heapoid;
	Relation	heap;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	cs.store = rsinfo->setResult;
	cs.desc = rsinfo->setDesc;
	cs.problems = 0;

	/*
	 * ShareLock: inserts and VACUUM wait until the check is done (searches
	 * do not).  The check reads page after page and follows links between
	 * them; with writers running it would count the links into pages added
	 * after it started, and elements whose back-links are still being made,
	 * as problems (tens of thousands under eight inserting sessions).  A
	 * standby cannot take it: there the check runs beside WAL replay.
	 */
	lockmode = RecoveryInProgress() ? AccessShareLock : ShareLock;
	/* the table first, then its index, as every other user locks them */
	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
	{
		char	   *name = get_rel_name(indexoid);

		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an embedding_hnsw index", name ? name : "?")));
	}
	heap = table_open(heapoid, AccessShareLock);
	index = relation_open(indexoid, lockmode);
	if (index->rd_rel->relkind != RELKIND_INDEX || index->rd_indam == NULL ||
		index->rd_indam->ambuild != ehnswbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an embedding_hnsw index", RelationGetRelationName(index))));

	HnswReadMeta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	elems = palloc0(sizeof(HnswElemInfo *) * Max(nblocks, 1));
	counts = palloc0(sizeof(OffsetNumber) * Max(nblocks, 1));

	/* first pass: every element's level and state */
	topLive = HnswCollectElements(index, &meta, nblocks, elems, counts, &cs);

	/* second pass: every link of every live element */
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(index, blk);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
		{
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (elems[blk][off - 1].level < 0 || elems[blk][off - 1].deleted)
				continue;
			for (int lc = 0; lc <= tup->level; lc++)
			{
				int			start = HnswLevelStart(meta.m, lc);
				int			slots = HnswLevelSlots(meta.m, lc);
				bool		ended = false;

				for (int i = 0; i < slots; i++)
				{
					ItemPointer t = &tup->neighbors[start + i].tid;
					HnswElemInfo   *target;

					if (!ItemPointerIsValid(t))
					{
						ended = true;
						continue;
					}
					if (ended)
						Problem(&cs, "element (%u,%u) level %d: a link follows an empty slot", blk, off, lc);
					target = HnswLookupElem(elems, counts, nblocks, t);
					if (target == NULL || target->level < 0)
						Problem(&cs, "element (%u,%u) level %d: link to (%u,%u), which is not an element",
								blk, off, lc, ItemPointerGetBlockNumberNoCheck(t), ItemPointerGetOffsetNumberNoCheck(t));
					/*
					 * A link to a deleted element is not a fault: scans skip
					 * deleted elements; such links remain between VACUUM's
					 * passes or after a crash inside VACUUM, and the next
					 * VACUUM repairs them.  (A slot is freed for reuse only
					 * once nothing links to it: VACUUM waits for the inserts
					 * that could.)
					 */
					else if (target->deleted)
						continue;
					else if (target->level < lc)
						Problem(&cs, "element (%u,%u) level %d: link to (%u,%u) of level %d",
								blk, off, lc, ItemPointerGetBlockNumber(t), ItemPointerGetOffsetNumber(t), target->level);
					else if (ItemPointerGetBlockNumber(t) == blk && ItemPointerGetOffsetNumber(t) == off)
						Problem(&cs, "element (%u,%u) level %d: links to itself", blk, off, lc);
				}
			}
		}
		UnlockReleaseBuffer(buf);
	}

	/* the entry point */
	if (topLive < 0 && meta.entryLevel >= 0)
		Problem(&cs, "entry point (%u,%u) set but the index has no live element",
				ItemPointerGetBlockNumberNoCheck(&meta.entry), ItemPointerGetOffsetNumberNoCheck(&meta.entry));
	else if (topLive >= 0)
	{
		HnswElemInfo   *ep = meta.entryLevel >= 0 ? HnswLookupElem(elems, counts, nblocks, &meta.entry) : NULL;

		if (ep == NULL || ep->level < 0)
			Problem(&cs, "entry point is not an element");
		else if (ep->deleted)
			Problem(&cs, "entry point (%u,%u) is deleted",
					ItemPointerGetBlockNumber(&meta.entry), ItemPointerGetOffsetNumber(&meta.entry));
		else if (ep->level != meta.entryLevel)
			Problem(&cs, "entry point level %d differs from the metapage's %d", ep->level, meta.entryLevel);
		else if (topLive > meta.entryLevel)
			Problem(&cs, "a live element has level %d, above the entry point's %d", topLive, meta.entryLevel);
	}
	/* every live element must be reachable from the entry point */
	if (topLive >= 0 && meta.entryLevel >= 0)
	{
		HnswElemInfo   *ep = HnswLookupElem(elems, counts, nblocks, &meta.entry);

		if (ep != NULL && ep->level >= 0 && !ep->deleted)
		{
			CheckWalk(index, heap, &meta, elems, counts, nblocks, &cs, false);
			CheckWalk(index, heap, &meta, elems, counts, nblocks, &cs, true);
		}
	}

	if (meta.insertPage < HNSW_HEAD_BLKNO || meta.insertPage >= nblocks)
		Problem(&cs, "insert page %u is outside the index (%u blocks)", meta.insertPage, nblocks);

	relation_close(index, lockmode);
	table_close(heap, AccessShareLock);
	return (Datum) 0;
}
