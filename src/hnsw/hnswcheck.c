/*
 * hnswcheck.c
 *		firstsight.index_check(regclass): a structural check of an
 *		embedding_hnsw index, one row per problem found.
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

/* what the check remembers of each element */
typedef struct ElemInfo
{
	int16		level;			/* -1: no element at this offset */
	bool		deleted;
	bool		reached;		/* found by the walk from the entry point */
	ItemPointerData heaptid;
} ElemInfo;

typedef struct CheckState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	int			problems;
} CheckState;

/* report one problem */
static void
Problem(CheckState *cs, const char *fmt,...) pg_attribute_printf(2, 3);

static void
Problem(CheckState *cs, const char *fmt,...)
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
static ElemInfo *
Lookup(ElemInfo **elems, OffsetNumber *counts, BlockNumber nblocks, ItemPointer tid)
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
static int
CollectElements(Relation index, HnswMetaPageData *meta, BlockNumber nblocks, ElemInfo **elems,
				OffsetNumber *counts, CheckState *cs)
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
		elems[blk] = palloc(sizeof(ElemInfo) * Max(maxoff, 1));
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, iid);
			ElemInfo   *ei = &elems[blk][off - 1];

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

/* the walk of a search over the collected elements */
typedef struct Reach
{
	Relation	index;
	int			m;
	ElemInfo  **elems;
	OffsetNumber *counts;
	BlockNumber nblocks;
	bool		keptOnly;		/* follow kept links only (level 0) */
	ItemPointerData *queue;		/* every element reached so far */
	int			cap;
	int			tail;
} Reach;

static void
ReachInit(Reach *r, Relation index, int m, ElemInfo **elems, OffsetNumber *counts, BlockNumber nblocks,
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
Enqueue(Reach *r, ElemInfo *e, ItemPointer tid)
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
static void
ReachFrom(Reach *r, ItemPointer tid, int top)
{
	int			first = r->tail;

	Enqueue(r, Lookup(r->elems, r->counts, r->nblocks, tid), tid);
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
				ElemInfo   *t = Lookup(r->elems, r->counts, r->nblocks, &tup->neighbors[start + i].tid);

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
CheckWalk(Relation index, Relation heap, HnswMetaPageData *meta, ElemInfo **elems,
		  OffsetNumber *counts, BlockNumber nblocks, CheckState *cs, bool keptOnly)
{
	Reach		r;
	int			unreached = 0;
	int			gone = 0;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
			elems[blk][off - 1].reached = false;
	ReachInit(&r, index, meta->m, elems, counts, nblocks, keptOnly);
	ReachFrom(&r, &meta->entry, meta->entryLevel);

	fetch = table_index_fetch_begin(heap);
	slot = table_slot_create(heap, NULL);
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
		{
			ElemInfo   *ei = &elems[blk][off - 1];

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

/* is the element at tid live and reached by the walk? */
static bool
Reached(Reach *r, ItemPointer tid)
{
	ElemInfo   *t = Lookup(r->elems, r->counts, r->nblocks, tid);

	return t != NULL && t->level >= 0 && !t->deleted && t->reached;
}

#define RELINK_OWN		0		/* from a tree element among its own links */
#define RELINK_SEARCH	1		/* or among what a search finds */
#define RELINK_PLAIN	2		/* or else a plain link from the nearest */

/*
 * One element outside the tree of kept links (at self): a kept link into it
 * from its nearest tree element with room, as mode allows.  Returns
 * HNSW_BACKLINK_KEPT, _MADE (a plain link), or _NONE (not now).
 */
static int
LinkIntoTree(HnswInfo *info, HnswMetaPageData *meta, Reach *r, ItemPointer self, int mode, bool building)
{
	HnswElementCopy ec;
	HnswNeighbor cands[HNSW_MAX_M * 2];
	int			ncands = 0;
	int			slots = HnswLevelSlots(info->m, 0);
	HnswCandidate **w = NULL;
	int			n = 0;
	int			first = -1;

	/* its vector and links, as they are now */
	if (!HnswCopyElement(info, self, &ec, true) || ec.deleted)
		return HNSW_BACKLINK_MADE;	/* nothing to do */

	/* the tree elements it links to on level 0, nearest first */
	for (int i = 0; i < slots && ItemPointerIsValid(&ec.nbrs[i].tid); i++)
	{
		int			j = ncands;

		if (!Reached(r, &ec.nbrs[i].tid))
			continue;
		while (j > 0 && cands[j - 1].distance > ec.nbrs[i].distance)
		{
			cands[j] = cands[j - 1];
			j--;
		}
		cands[j] = ec.nbrs[i];
		ncands++;
	}
	for (int i = 0; i < ncands; i++)
		if (HnswAddBackLink(info, &cands[i].tid, 0, self, ec.vec, cands[i].distance, building,
							true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT)
			return HNSW_BACKLINK_KEPT;
	if (mode == RELINK_OWN)
		return HNSW_BACKLINK_NONE;

	/* the tree elements a search finds, nearest first */
	w = HnswSearchFromEntry(info, meta, ec.vec, info->efConstruction, 0, &n, NULL);
	for (int i = 0; i < n; i++)
	{
		if (ItemPointerEquals(&w[i]->tid, self) || !Reached(r, &w[i]->tid))
			continue;
		if (first < 0)
			first = i;
		if (HnswAddBackLink(info, &w[i]->tid, 0, self, ec.vec, w[i]->distance, building,
							true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT)
			return HNSW_BACKLINK_KEPT;
	}
	/*
	 * The entry point itself: the root of the tree, which may have no kept
	 * link at all (VACUUM moved the entry point to an element whose list is
	 * all plain links) and be neither among an element's own links nor among
	 * the ef nearest when duplicates fill those at distance 0: then nothing
	 * joined the tree (regress hnsw_extremes, about 1 round in 3,000: 45 of
	 * 48 elements outside it after VACUUM).
	 */
	if (!ItemPointerEquals(&meta->entry, self))
	{
		float	   *ev = palloc(sizeof(float) * info->dims);

		HnswFetchVector(info, &meta->entry, ev);
		if (HnswAddBackLink(info, &meta->entry, 0, self, ec.vec, HnswDistance(info->metric, info->dims, ec.vec, ev),
							building, true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT)
			return HNSW_BACKLINK_KEPT;
	}

	/*
	 * Every one of those lists is half kept: down their kept links to one
	 * with room, and last down the whole tree from the entry point.  Without
	 * the entry point, an element whose own links and search results are all
	 * outside the tree (many duplicates of it, all left out: the ef nearest
	 * are at distance 0) got nothing at all and stayed an island: regress
	 * hnsw_extremes under cosine, 1 run in about 60.
	 */
	{
		ItemPointerData *starts = palloc(sizeof(ItemPointerData) * (ncands + n + 1));
		int			nstarts = 0;

		for (int i = 0; i < ncands; i++)
			starts[nstarts++] = cands[i].tid;
		for (int i = 0; i < n; i++)
			if (!ItemPointerEquals(&w[i]->tid, self) && Reached(r, &w[i]->tid))
				starts[nstarts++] = w[i]->tid;
		if (!ItemPointerEquals(&meta->entry, self))
			starts[nstarts++] = meta->entry;
		if (nstarts > 0 && HnswKeepFromKeptDescendants(info, starts, nstarts, self, ec.vec, building))
			return HNSW_BACKLINK_KEPT;
	}
	if (mode == RELINK_SEARCH)
		return HNSW_BACKLINK_NONE;

	/* no room for a kept link anywhere near: a plain one, so searches reach it now */
	if (ncands > 0)
		(void) HnswAddBackLink(info, &cands[0].tid, 0, self, ec.vec, cands[0].distance, building,
							   true, HNSW_KEEP_NO);
	else if (first >= 0)
		(void) HnswAddBackLink(info, &w[first]->tid, 0, self, ec.vec, w[first]->distance, building,
							   true, HNSW_KEEP_NO);
	else if (!ItemPointerEquals(&meta->entry, self))
	{
		float	   *ev = palloc(sizeof(float) * info->dims);

		HnswFetchVector(info, &meta->entry, ev);
		(void) HnswAddBackLink(info, &meta->entry, 0, self, ec.vec,
							   HnswDistance(info->metric, info->dims, ec.vec, ev), building, true, HNSW_KEEP_NO);
	}
	return HNSW_BACKLINK_MADE;
}

/*
 * VACUUM's last step, and a build's that inserted on disk: give every live
 * element outside the tree of kept links (see hnsw.h) a kept link from an
 * element in it.  VACUUM breaks the tree where it deletes an element whose
 * kept links led on, and an element whose lists were all half kept already
 * when it came is left out; such an element can still be reached, but
 * later inserts can prune the links that lead to it and leave it (and what
 * hangs from it) an island no search can enter.  The tree is walked from
 * the entry point; each element left out is linked from its nearest tree
 * element with room for a kept link, among its own level-0 links or, when
 * none of those will do, among what a search for its vector finds
 * (LinkIntoTree); then the walk goes on from it, so what hangs from it is
 * joined with it.  An element
 * that no tree element can take a kept link for gets a plain link from its
 * nearest tree element, so a search reaches it.  Inserts run meanwhile: an
 * element written after the walk began is not looked at.  building: a
 * build's pages, WAL-logged when it ends.  Returns the number of elements
 * linked.
 */
int64
HnswRelinkKeptTree(HnswInfo *info, bool building)
{
	Relation	index = info->index;
	HnswMetaPageData meta;
	BlockNumber nblocks;
	ElemInfo  **elems;
	OffsetNumber *counts;
	Reach		r;
	ElemInfo   *ep;
	int64		linked = 0;

	HnswReadMeta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	if (meta.entryLevel < 0 || nblocks <= HNSW_HEAD_BLKNO)
		return 0;
	elems = palloc0(sizeof(ElemInfo *) * nblocks);
	counts = palloc0(sizeof(OffsetNumber) * nblocks);
	(void) CollectElements(index, &meta, nblocks, elems, counts, NULL);
	ep = Lookup(elems, counts, nblocks, &meta.entry);
	if (ep == NULL || ep->level < 0 || ep->deleted)
		return 0;
	ReachInit(&r, index, meta.m, elems, counts, nblocks, true);
	ReachFrom(&r, &meta.entry, 0);

	/*
	 * Passes over the elements left out until all are in: first from their
	 * own links only (an element whose neighbours join the tree later in a
	 * pass is taken in the next); when a pass takes none, from what searches
	 * find too; when that takes none either, plain links.
	 */
	for (int mode = RELINK_OWN;;)
	{
		int64		before = linked;
		int			left = 0;

		for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
			for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
			{
				ElemInfo   *ei = &elems[blk][off - 1];
				ItemPointerData self;

				if (ei->level < 0 || ei->deleted || ei->reached)
					continue;
				vacuum_delay_point();
				ItemPointerSet(&self, blk, off);
				switch (LinkIntoTree(info, &meta, &r, &self, mode, building))
				{
					case HNSW_BACKLINK_KEPT:
						linked++;
						ReachFrom(&r, &self, 0);
						break;
					case HNSW_BACKLINK_NONE:
						left++;
						break;
				}
			}
		if (left == 0 || mode == RELINK_PLAIN)
			break;
		mode = linked > before ? RELINK_OWN : mode + 1;
	}
	return linked;
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
	ElemInfo  **elems;
	OffsetNumber *counts;
	CheckState	cs;
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
	elems = palloc0(sizeof(ElemInfo *) * Max(nblocks, 1));
	counts = palloc0(sizeof(OffsetNumber) * Max(nblocks, 1));

	/* first pass: every element's level and state */
	topLive = CollectElements(index, &meta, nblocks, elems, counts, &cs);

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
					ElemInfo   *target;

					if (!ItemPointerIsValid(t))
					{
						ended = true;
						continue;
					}
					if (ended)
						Problem(&cs, "element (%u,%u) level %d: a link follows an empty slot", blk, off, lc);
					target = Lookup(elems, counts, nblocks, t);
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
		ElemInfo   *ep = meta.entryLevel >= 0 ? Lookup(elems, counts, nblocks, &meta.entry) : NULL;

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
		ElemInfo   *ep = Lookup(elems, counts, nblocks, &meta.entry);

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
