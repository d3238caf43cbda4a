/*
 * hnswinsert.c
 *		Inserting one heap tuple into an embedding_hnsw index: the on-disk
 *		insert (also the build's, for rows that do not fit its memory), where
 *		the new element is written, and its kept link.  The search, the
 *		neighbour heuristic and the back-link rule are the core's
 *		(hnswcore.h, hnswutils.c).
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "embedding/embedding.h"
#include "hnsw.h"
#include "hnswcore.h"
#include "miscadmin.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Put the element into the slot of a freed one of its level, so of its
 * size, overwritten in place.  VACUUM records each page holding freed
 * slots in the free space map, its value saying the highest level among
 * them (HnswFreeSpaceValue), so an element of level L asks the map for a
 * page with a freed slot of level L or more; a few pages are tried.  Only
 * the same level: a link that VACUUM could not repair (an insert changed
 * the list) or any other stale link to a freed slot then still leads to
 * an element of the level it expects (shrinking a higher slot for a lower
 * element made TAP 102 find 'level 1: link to (8,6) of level 0', and a
 * search copies such a link into new lists).  A slot the element itself
 * links to is not taken.  False when none was found.
 */
static bool
ReuseFreeSlot(HnswInfo *info, HnswElementTuple tup, Size size, bool building, ItemPointer tid)
{
	int			nslots = HnswSlots(info->m, tup->level);
	int			attempts = 16;

	for (int attempt = 0; attempt < attempts; attempt++)
	{
		BlockNumber blk = GetPageWithFreeSpace(info->index, HnswFreeSpaceValue(tup->level));
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		OffsetNumber exact = InvalidOffsetNumber;
		OffsetNumber found = InvalidOffsetNumber;
		int			maxFree = -1;

		if (blk == InvalidBlockNumber)
			return false;
		if (blk < HNSW_HEAD_BLKNO || blk >= RelationGetNumberOfBlocks(info->index))
		{
			RecordPageWithFreeSpace(info->index, blk, 0);
			continue;
		}
		buf = ReadBuffer(info->index, blk);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple t;
			bool		linked = false;

			if (!ItemIdIsNormal(iid))
				continue;
			t = (HnswElementTuple) PageGetItem(page, iid);
			if (t->deleted != HNSW_FREE)
				continue;
			for (int i = 0; i < nslots && !linked && ItemPointerIsValid(&tup->neighbors[i].tid); i++)
				linked = ItemPointerGetBlockNumber(&tup->neighbors[i].tid) == blk &&
					ItemPointerGetOffsetNumber(&tup->neighbors[i].tid) == off;
			if (linked)
				continue;
			if (t->level == tup->level && exact == InvalidOffsetNumber)
				exact = off;
		}
		found = exact;
		if (found != InvalidOffsetNumber)
		{
			GenericXLogState *state;
			Page		wpage = HnswBeginChange(&state, info->index, buf, building, 0);

			Assert(ItemIdGetLength(PageGetItemId(wpage, found)) == size);
			memcpy(PageGetItem(wpage, PageGetItemId(wpage, found)), tup, size);
			HnswFinishChange(state, buf);
			ItemPointerSet(tid, blk, found);
		}
		/* the highest level of the freed slots left on the page, for the map */
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			HnswElementTuple t;

			if (!ItemIdIsNormal(iid))
				continue;
			t = (HnswElementTuple) PageGetItem(page, iid);
			if (t->deleted == HNSW_FREE)
				maxFree = Max(maxFree, (int) t->level);
		}
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(info->index, blk, maxFree >= 0 ? HnswFreeSpaceValue(maxFree) : 0);
		if (found != InvalidOffsetNumber)
			return true;
	}
	return false;
}

/* put an element tuple in a freed slot, on the insert page or on a new one; returns its TID */
static ItemPointerData
WriteElement(HnswInfo *info, HnswElementTuple tup, Size size, bool building)
{
	HnswMetaPageData meta;
	Buffer		buf;
	Page		page;
	GenericXLogState *state;
	OffsetNumber off;
	ItemPointerData tid;
	bool		extended = false;

	ItemPointerSetInvalid(&tid);
	if (ReuseFreeSlot(info, tup, size, building, &tid))
		return tid;

	HnswReadMeta(info->index, &meta);
	buf = ReadBuffer(info->index, meta.insertPage);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (PageGetFreeSpace(BufferGetPage(buf)) < MAXALIGN(size))
	{
		UnlockReleaseBuffer(buf);
		buf = HnswNewBuffer(info->index, MAIN_FORKNUM);
		extended = true;
	}
	page = HnswBeginChange(&state, info->index, buf, building, extended ? GENERIC_XLOG_FULL_IMAGE : 0);
	if (extended)
		HnswInitPage(page);
	off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add element to embedding_hnsw index \"%s\"", RelationGetRelationName(info->index));
	HnswFinishChange(state, buf);
	ItemPointerSet(&tid, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);

	if (extended)
	{
		/* later inserts go to the new page */
		buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = HnswBeginChange(&state, info->index, buf, building, 0);
		((HnswMetaPage) PageGetContents(page))->insertPage = ItemPointerGetBlockNumber(&tid);
		HnswFinishChange(state, buf);
		UnlockReleaseBuffer(buf);
	}
	return tid;
}

/*
 * The last way to a kept link for a newcomer none of whose search results
 * has room for one (every list half kept: small m, duplicates, or the hubs
 * of inner product): go down the kept links from the results, nearest
 * first, to an element with room (the tree's leaves have all of theirs).
 * An element reached through a kept link is in the tree when the one it
 * hangs from is.  At most HNSW_KEPT_DESCENT elements are tried.  Without
 * this, a plain link was the last resort, and a later insert re-pruning
 * that list cut the newcomer off: fuzz hnsw_sql found such elements after
 * inserts into indexes with m = 2 and 4 (index_check: "cannot be reached
 * from the entry point"), until the next VACUUM relinked them.  VACUUM's
 * relinking (hnswtree.c) uses it too, from the tree elements it found.
 * starts: where to begin, nearest first.  True when a kept link was made.
 */
#define HNSW_KEPT_DESCENT	1000

bool
HnswKeepFromKeptDescendants(HnswInfo *info, const ItemPointerData *starts, int nstarts, ItemPointer newTid,
							const float *newVec, bool building)
{
	HnswVisited *seen = HnswVisitedCreate(nstarts * 4);
	ItemPointerData *queue = palloc(sizeof(ItemPointerData) * (nstarts + HNSW_KEPT_DESCENT));
	int			head = 0;
	int			tail = 0;
	int			tried = 0;
	int			slots = HnswLevelSlots(info->m, 0);

	HnswVisitedAdd(seen, newTid);
	for (int i = 0; i < nstarts; i++)
		if (HnswVisitedAdd(seen, unconstify(ItemPointerData *, &starts[i])))
			queue[tail++] = starts[i];
	while (head < tail && tried < HNSW_KEPT_DESCENT)
	{
		HnswElementCopy ec;

		CHECK_FOR_INTERRUPTS();
		if (!HnswCopyElement(info, &queue[head++], &ec, false) || ec.deleted)
			continue;
		for (int s = 0; s < slots && ItemPointerIsValid(&ec.nbrs[s].tid) && tried < HNSW_KEPT_DESCENT; s++)
		{
			ItemPointer child = &ec.nbrs[s].tid;
			float	   *cv;
			HnswBackLink bl = {.owner = *child, .lc = 0, .target = *newTid, .targetVec = newVec,
			.force = true, .keep = HNSW_KEEP_ONLY};

			if (!(ec.nbrs[s].flags & HNSW_LINK_KEPT) || !HnswVisitedAdd(seen, child))
				continue;
			tried++;
			cv = palloc(sizeof(float) * info->dims);
			HnswFetchVector(info, child, cv);
			bl.distance = HnswDistance(info->metric, info->dims, newVec, cv);
			if (HnswAddBackLink(info, &bl, building) == HNSW_BACKLINK_KEPT)
				return true;
			pfree(cv);
			queue[tail++] = *child;
		}
		pfree(ec.nbrs);
	}
	return false;
}

/*
 * The heuristic (HnswSelect) over a level search's results w (ascending):
 * chosen gets the kept indexes, at most max; with inner product the list is
 * filled with the pruned, nearest first (HnswFillsPruned).
 */
static int
SelectLinks(const HnswInsertOps *ops, void *g, const HnswInfo *info, const HnswItem *w, int n, int max,
			int *chosen)
{
	const float **vecs = palloc(sizeof(float *) * Max(n, 1));
	float	   *dist = palloc(sizeof(float) * Max(n, 1));
	uint8	   *st = palloc(Max(n, 1));
	int			k;

	for (int i = 0; i < n; i++)
	{
		vecs[i] = ops->vector(g, w[i].id);
		dist[i] = w[i].distance;
	}
	k = HnswSelect(info->metric, info->dims, vecs, dist, NULL, n, -1, max, st, chosen);
	if (HnswFillsPruned(info->metric))
		k = HnswFillPruned(k, chosen, n, max);
	Assert(k >= 0 && k <= max);
	pfree(vecs);
	pfree(dist);
	pfree(st);
	return k;
}

static inline bool
Finished(const HnswInsertOps *ops, void *g, int32 id)
{
	return ops->finished == NULL || ops->finished(g, id);
}

/*
 * Links back to the newcomer from its chosen neighbours on level lc (w the
 * level's search results, chosen[0..k-1] the chosen ones).  On level 0 at
 * least one neighbour whose own insert has finished must take it (in a
 * parallel build two newcomers can take each other and nothing else, an
 * island nothing older leads to).  Where links are kept (on disk), the
 * first link made on level 0 is the newcomer's kept way in; if the
 * heuristic kept it out of every list, the nearest list with room for a
 * kept link must take it (among the chosen, else among all the search
 * found, else down the kept links from those), and if none has room (lists
 * half kept already), the nearest list takes a plain link.
 */
static void
LinkBack(const HnswInsertOps *ops, void *g, int lc, const HnswItem *w, int n, const int *chosen, int k)
{
	bool		keeps = lc == 0 && ops->keepsLinks;
	bool		kept = false;
	bool		linked = false;

	for (int i = 0; i < k; i++)
	{
		const HnswItem *c = &w[chosen[i]];
		int			r = ops->backLink(g, c, lc, false, keeps && !kept ? HNSW_KEEP_IF_ROOM : HNSW_KEEP_NO);

		kept |= r == HNSW_BACKLINK_KEPT;
		linked |= r != HNSW_BACKLINK_NONE && Finished(ops, g, c->id);
	}
	if (keeps)
	{
		for (int i = 0; !kept && i < k; i++)
			kept = ops->backLink(g, &w[chosen[i]], 0, true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT;
		for (int i = 0; !kept && i < n; i++)
			kept = ops->backLink(g, &w[i], 0, true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT;
		if (!kept && n > 0)
			kept = ops->keepFromDescendants(g, w, n);
	}
	if (lc == 0 && !kept && !linked && k > 0)
	{
		int			f = 0;

		while (f < k - 1 && !Finished(ops, g, w[chosen[f]].id))
			f++;
		(void) ops->backLink(g, &w[chosen[f]], 0, true, HNSW_KEEP_NO);
	}
}

/*
 * Insert one element of the given level (HnswRandomLevel) into a graph,
 * the build's in memory or the on-disk one (see HnswInsertOps): greedy
 * descent from the entry point to the element's level, then on each level
 * a search with ef_construction candidates, started from all of the
 * candidates found on the level above (not only the nearest), and the
 * heuristic's choice among them (it judges every candidate, however far:
 * on face-like data the far links are the ones that lead from one person's
 * captures to another's); the element's lists are written, the element
 * put in place, then the links back on each level (LinkBack), then the
 * entry point moved if the element is above it.  The searches of lower
 * levels read only their own level's lists, so making every level's links
 * after all the searches changes nothing for them.
 */
void
HnswInsertCore(const HnswInsertOps *ops, void *g, const HnswInfo *info, int level)
{
	HnswItem	ep;
	int			entryLevel = -1;
	int			top = -1;
	HnswItem   *w[HNSW_MAX_LEVEL + 1];
	int			nw[HNSW_MAX_LEVEL + 1];
	int			chosen[HNSW_MAX_LEVEL + 1][HNSW_MAX_M * 2];
	int			k[HNSW_MAX_LEVEL + 1];

	Assert(level >= 0 && level <= HNSW_MAX_LEVEL);
	if (ops->begin(g, level, &ep, &entryLevel))
	{
		const HnswItem *eps = &ep;
		int			neps = 1;

		Assert(entryLevel >= 0 && entryLevel <= HNSW_MAX_LEVEL);
		top = Min(level, entryLevel);
		for (int lc = entryLevel; lc > top; lc--)
		{
			HnswItem   *d;

			if (ops->search(g, &ep, 1, 1, lc, &d) > 0)
				ep = d[0];
		}
		for (int lc = top; lc >= 0; lc--)
		{
			nw[lc] = ops->search(g, eps, neps, info->efConstruction, lc, &w[lc]);
			k[lc] = SelectLinks(ops, g, info, w[lc], nw[lc], HnswLevelSlots(info->m, lc), chosen[lc]);
			Assert(k[lc] >= 0 && k[lc] <= HnswLevelSlots(info->m, lc) && k[lc] <= nw[lc]);
			ops->setList(g, lc, w[lc], chosen[lc], k[lc]);
			/* the next level down starts from everything found here, or from the same entries */
			if (nw[lc] > 0)
			{
				eps = w[lc];
				neps = nw[lc];
			}
		}
	}
	if (ops->write)
		ops->write(g);
	for (int lc = top; lc >= 0; lc--)
		LinkBack(ops, g, lc, w[lc], nw[lc], chosen[lc], k[lc]);
	ops->end(g, level, entryLevel);
}

/*
 * The on-disk graph as HnswInsertCore sees it.  A handle is an element the
 * insert met, in els: its TID, its copy as last loaded (with its links of
 * one level: a search's entries are loaded again for a lower level) and its
 * vector once fetched.
 */
typedef struct DiskElem
{
	ItemPointerData tid;
	HnswCandidate *c;
	int			lc;				/* the level whose links c holds */
	float	   *vec;
} DiskElem;

typedef struct DiskInsert
{
	HnswInfo   *info;
	const float *vec;
	bool		building;
	HnswElementTuple tup;
	Size		size;
	ItemPointerData tid;		/* where the element went (write) */
	HnswMetaPageData meta;
	LOCKMODE	lockmode;
	DiskElem   *els;
	int			nels;
	int			capEls;
} DiskInsert;

static int32
DiskHandle(DiskInsert *di, HnswCandidate *c, int lc)
{
	if (di->nels == di->capEls)
	{
		di->capEls *= 2;
		di->els = repalloc(di->els, sizeof(DiskElem) * di->capEls);
	}
	di->els[di->nels].tid = c->tid;
	di->els[di->nels].c = c;
	di->els[di->nels].lc = lc;
	di->els[di->nels].vec = NULL;
	return di->nels++;
}

/* a new top level changes the entry point: serialise with other inserts */
static bool
DiskBegin(void *g, int level, HnswItem *entry, int *entryLevel)
{
	DiskInsert *di = (DiskInsert *) g;
	HnswInfo   *info = di->info;
	HnswCandidate *ep;

	di->lockmode = ShareLock;
	LockPage(info->index, HNSW_UPDATE_LOCK, di->lockmode);
	HnswReadMeta(info->index, &di->meta);
	if (level > di->meta.entryLevel)
	{
		UnlockPage(info->index, HNSW_UPDATE_LOCK, di->lockmode);
		di->lockmode = ExclusiveLock;
		LockPage(info->index, HNSW_UPDATE_LOCK, di->lockmode);
		HnswReadMeta(info->index, &di->meta);
	}
	*entryLevel = di->meta.entryLevel;
	/* only an insert that holds the update lock exclusively puts an element above the entry point */
	Assert(level <= di->meta.entryLevel || di->lockmode == ExclusiveLock);
	if (di->meta.entryLevel < 0)
		return false;
	ep = HnswLoadCandidate(info, &di->meta.entry, di->vec, di->meta.entryLevel);
	entry->distance = ep->distance;
	entry->id = DiskHandle(di, ep, di->meta.entryLevel);
	return true;
}

static int
DiskSearch(void *g, const HnswItem *entries, int nentries, int ef, int lc, HnswItem **out)
{
	DiskInsert *di = (DiskInsert *) g;
	HnswInfo   *info = di->info;
	HnswCandidate **eps = palloc(sizeof(HnswCandidate *) * nentries);
	HnswVisited *visited = HnswVisitedCreate(ef == 1 ? 64 : info->efConstruction * 16);
	HnswCandidate **w;
	int			n;

	for (int i = 0; i < nentries; i++)
	{
		DiskElem   *e = &di->els[entries[i].id];

		/* loaded with the links of another level: again, for this one */
		if (e->lc != lc)
		{
			e->c = HnswLoadCandidate(info, &e->tid, di->vec, lc);
			e->lc = lc;
		}
		eps[i] = e->c;
	}
	w = HnswSearchLayer(info, di->vec, eps, nentries, ef, lc, visited, &n, NULL);
	*out = palloc(sizeof(HnswItem) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		(*out)[i].distance = w[i]->distance;
		(*out)[i].id = DiskHandle(di, w[i], lc);
	}
	return n;
}
static const float *
DiskVector(void *g, int32 id)
{
	DiskInsert *di = (DiskInsert *) g;
	DiskElem   *e = &di->els[id];

	if (e->vec == NULL)
	{
		e->vec = palloc(sizeof(float) * di->info->dims);
		HnswFetchVector(di->info, &e->tid, e->vec);
	}
	return e->vec;
}

static void
DiskSetList(void *g, int lc, const HnswItem *w, const int *chosen, int k)
{
	DiskInsert *di = (DiskInsert *) g;
	HnswNeighbor *list = &di->tup->neighbors[HnswLevelStart(di->info->m, lc)];

	Assert(k <= HnswLevelSlots(di->info->m, lc));
	for (int i = 0; i < k; i++)
	{
		list[i].tid = di->els[w[chosen[i]].id].tid;
		list[i].distance = w[chosen[i]].distance;
	}
	HnswAssertList(di->info, list, HnswLevelSlots(di->info->m, lc), di->tup->level, lc, NULL);
}

static void
DiskWrite(void *g)
{
	DiskInsert *di = (DiskInsert *) g;

	di->tid = WriteElement(di->info, di->tup, di->size, di->building);
}

static int
DiskBackLink(void *g, const HnswItem *n, int lc, bool force, int keep)
{
	DiskInsert *di = (DiskInsert *) g;

	HnswBackLink bl = {.owner = di->els[n->id].tid, .lc = lc, .target = di->tid, .targetVec = di->vec,
		.distance = n->distance, .force = force, .keep = keep};

	return HnswAddBackLink(di->info, &bl, di->building);
}

static bool
DiskKeepFromDescendants(void *g, const HnswItem *w, int n)
{
	DiskInsert *di = (DiskInsert *) g;
	ItemPointerData *starts = palloc(sizeof(ItemPointerData) * n);

	for (int i = 0; i < n; i++)
		starts[i] = di->els[w[i].id].tid;
	return HnswKeepFromKeptDescendants(di->info, starts, n, &di->tid, di->vec, di->building);
}

/*
 * A new top level: the old entry point has no kept link in (every other
 * element's kept link comes from one reached before it, so kept links form
 * a tree from the entry point); the new entry point keeps one to it, and
 * the tree hangs from the new one.
 */
static void
DiskEnd(void *g, int level, int entryLevel)
{
	DiskInsert *di = (DiskInsert *) g;
	HnswInfo   *info = di->info;

	if (level > entryLevel)
	{
		Buffer		buf;
		GenericXLogState *state;
		Page		page;
		HnswMetaPage m;

		if (entryLevel >= 0)
		{
			float	   *old = palloc(sizeof(float) * info->dims);
			HnswBackLink bl = {.owner = di->tid, .lc = 0, .target = di->meta.entry, .targetVec = old,
				.distance = 0, .force = true, .keep = HNSW_KEEP_IF_ROOM};

			HnswFetchVector(info, &di->meta.entry, old);
			bl.distance = HnswDistance(info->metric, info->dims, di->vec, old);
			(void) HnswAddBackLink(info, &bl, di->building);
		}
		buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = HnswBeginChange(&state, info->index, buf, di->building, 0);
		m = (HnswMetaPage) PageGetContents(page);
		m->entry = di->tid;
		m->entryLevel = level;
		HnswFinishChange(state, buf);
		UnlockReleaseBuffer(buf);
	}
	UnlockPage(info->index, HNSW_UPDATE_LOCK, di->lockmode);
}

static const HnswInsertOps DiskInsertOps = {
	.begin = DiskBegin,
	.search = DiskSearch,
	.vector = DiskVector,
	.setList = DiskSetList,
	.write = DiskWrite,
	.backLink = DiskBackLink,
	.finished = NULL,
	.keepsLinks = true,
	.keepFromDescendants = DiskKeepFromDescendants,
	.end = DiskEnd,
};

/* insert one vector (already prepared for the metric) into the on-disk graph */
void
HnswInsertElement(HnswInfo *info, const float *vec, ItemPointer heaptid, bool building)
{
	int			level = HnswRandomLevel(info->ml, info->maxLevel);
	DiskInsert	di;

	memset(&di, 0, sizeof(di));
	di.info = info;
	di.vec = vec;
	di.building = building;
	di.size = HnswTupleSize(info->m, level, info->dims);
	di.tup = palloc0(di.size);
	di.tup->heaptid = *heaptid;
	di.tup->level = level;
	di.tup->dims = info->dims;
	for (int i = 0; i < HnswSlots(info->m, level); i++)
		ItemPointerSetInvalid(&di.tup->neighbors[i].tid);
	memcpy(HnswTupleVector(di.tup, info->m), vec, sizeof(float) * info->dims);
	di.capEls = info->efConstruction * 4;
	di.els = palloc(sizeof(DiskElem) * di.capEls);
	HnswInsertCore(&DiskInsertOps, &di, info, level);
}

/* aminsert: add the tuple's vector to the on-disk graph */
bool
ehnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
			Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
			IndexInfo *indexInfo)
{
	MemoryContext ctx;
	MemoryContext old;
	HnswInfo	info;
	Embedding  *e;
	float	   *vec;

	if (isnull[0])
		return false;

	/* everything of one insert lives in a context freed at its end */
	ctx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	HnswInitInfo(&info, index);
	e = DatumGetEmbedding(values[0]);
	if (e->dim != info.dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info.dims, e->dim)));
	vec = palloc(sizeof(float) * info.dims);
	if (HnswPrepareVector(info.metric, e->x, vec, info.dims))
		HnswInsertElement(&info, vec, heap_tid, false);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
