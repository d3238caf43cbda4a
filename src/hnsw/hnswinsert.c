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
 * relinking (hnswcheck.c) uses it too, from the tree elements it found.
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

			if (!(ec.nbrs[s].flags & HNSW_LINK_KEPT) || !HnswVisitedAdd(seen, child))
				continue;
			tried++;
			cv = palloc(sizeof(float) * info->dims);
			HnswFetchVector(info, child, cv);
			if (HnswAddBackLink(info, child, 0, newTid, newVec, HnswDistance(info->metric, info->dims, newVec, cv),
								building, true, HNSW_KEEP_ONLY) == HNSW_BACKLINK_KEPT)
				return true;
			pfree(cv);
			queue[tail++] = *child;
		}
		pfree(ec.nbrs);
	}
	return false;
}

/* insert one vector (already prepared for the metric) into the on-disk graph */
void
HnswInsertElement(HnswInfo *info, const float *vec, ItemPointer heaptid, bool building)
{
	HnswMetaPageData meta;
	int			level = HnswRandomLevel(info->ml, info->maxLevel);
	Size		size = HnswTupleSize(info->m, level, info->dims);
	HnswElementTuple tup = palloc0(size);
	HnswCandidate **levelResults[HNSW_MAX_LEVEL + 1];
	int			levelCounts[HNSW_MAX_LEVEL + 1];
	int			levelChosen[HNSW_MAX_LEVEL + 1][HNSW_MAX_M * 2];
	int			levelNChosen[HNSW_MAX_LEVEL + 1];
	ItemPointerData tid;
	LOCKMODE	lockmode = ShareLock;
	int			top;

	tup->heaptid = *heaptid;
	tup->level = level;
	tup->dims = info->dims;
	for (int i = 0; i < HnswSlots(info->m, level); i++)
		ItemPointerSetInvalid(&tup->neighbors[i].tid);
	memcpy(HnswTupleVector(tup, info->m), vec, sizeof(float) * info->dims);

	/* a new top level changes the entry point: serialise with other inserts */
	LockPage(info->index, HNSW_UPDATE_LOCK, lockmode);
	HnswReadMeta(info->index, &meta);
	if (level > meta.entryLevel)
	{
		UnlockPage(info->index, HNSW_UPDATE_LOCK, lockmode);
		lockmode = ExclusiveLock;
		LockPage(info->index, HNSW_UPDATE_LOCK, lockmode);
		HnswReadMeta(info->index, &meta);
	}

	top = Min(level, meta.entryLevel);
	if (meta.entryLevel >= 0)
	{
		HnswCandidate *ep = HnswLoadCandidate(info, &meta.entry, vec, meta.entryLevel);
		HnswCandidate **eps = &ep;
		int			neps = 1;

		for (int lc = meta.entryLevel; lc > top; lc--)
		{
			HnswVisited *visited = HnswVisitedCreate(64);
			int			n;
			HnswCandidate **w = HnswSearchLayer(info, vec, &ep, 1, 1, lc, visited, &n, NULL);

			ep = HnswLoadCandidate(info, n > 0 ? &w[0]->tid : &ep->tid, vec, lc - 1);
		}
		for (int lc = top; lc >= 0; lc--)
		{
			HnswVisited *visited = HnswVisitedCreate(info->efConstruction * 16);
			HnswCandidate **w;
			float	  **vecs;
			int			n;

			w = HnswSearchLayer(info, vec, eps, neps, info->efConstruction, lc, visited, &n, NULL);
			vecs = palloc(sizeof(float *) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				vecs[i] = palloc(sizeof(float) * info->dims);
				HnswFetchVector(info, &w[i]->tid, vecs[i]);
			}
			levelResults[lc] = w;
			levelCounts[lc] = n;
			levelNChosen[lc] = HnswSelectNeighbors(info, w, n, HnswLevelSlots(info->m, lc), vecs, levelChosen[lc]);
			if (HnswFillsPruned(info->metric))
				levelNChosen[lc] = HnswFillPruned(levelNChosen[lc], levelChosen[lc], n, HnswLevelSlots(info->m, lc));
			for (int i = 0; i < levelNChosen[lc]; i++)
			{
				HnswCandidate *c = w[levelChosen[lc][i]];

				tup->neighbors[HnswLevelStart(info->m, lc) + i].tid = c->tid;
				tup->neighbors[HnswLevelStart(info->m, lc) + i].distance = c->distance;
			}
			if (lc > 0)
			{
				/*
				 * The next level down starts from everything found here, or
				 * from the same entries when only deleted elements were found.
				 */
				HnswCandidate **from = n > 0 ? w : eps;
				int			nfrom = n > 0 ? n : neps;

				eps = palloc(sizeof(HnswCandidate *) * nfrom);
				for (int i = 0; i < nfrom; i++)
					eps[i] = HnswLoadCandidate(info, &from[i]->tid, vec, lc - 1);
				neps = nfrom;
			}
		}
	}

	tid = WriteElement(info, tup, size, building);

	/*
	 * Links back from the chosen neighbours.  On level 0 the first link made
	 * is the new element's kept way in; if the heuristic kept it out of every
	 * list, the nearest list with room for a kept link must take it (among
	 * the chosen neighbours, else among all the search found), and if none
	 * has room (lists half kept already), the nearest list at all.
	 */
	for (int lc = top; lc >= 0 && meta.entryLevel >= 0; lc--)
	{
		bool		kept = false;
		bool		linked = false;

		for (int i = 0; i < levelNChosen[lc]; i++)
		{
			HnswCandidate *c = levelResults[lc][levelChosen[lc][i]];
			int			r = HnswAddBackLink(info, &c->tid, lc, &tid, vec, c->distance, building,
											false, lc == 0 && !kept ? HNSW_KEEP_IF_ROOM : HNSW_KEEP_NO);

			kept |= r == HNSW_BACKLINK_KEPT;
			linked |= r != HNSW_BACKLINK_NONE;
		}
		for (int i = 0; lc == 0 && !kept && i < levelNChosen[0]; i++)
		{
			HnswCandidate *c = levelResults[0][levelChosen[0][i]];

			kept = HnswAddBackLink(info, &c->tid, 0, &tid, vec, c->distance, building, true, HNSW_KEEP_ONLY) ==
				HNSW_BACKLINK_KEPT;
		}
		for (int i = 0; lc == 0 && !kept && i < levelCounts[0]; i++)
		{
			HnswCandidate *c = levelResults[0][i];

			kept = HnswAddBackLink(info, &c->tid, 0, &tid, vec, c->distance, building, true, HNSW_KEEP_ONLY) ==
				HNSW_BACKLINK_KEPT;
		}
		if (lc == 0 && !kept && levelCounts[0] > 0)
		{
			ItemPointerData *starts = palloc(sizeof(ItemPointerData) * levelCounts[0]);

			for (int i = 0; i < levelCounts[0]; i++)
				starts[i] = levelResults[0][i]->tid;
			kept = HnswKeepFromKeptDescendants(info, starts, levelCounts[0], &tid, vec, building);
		}
		if (lc == 0 && !kept && !linked && levelNChosen[0] > 0)
		{
			HnswCandidate *c = levelResults[0][levelChosen[0][0]];

			(void) HnswAddBackLink(info, &c->tid, 0, &tid, vec, c->distance, building, true, HNSW_KEEP_NO);
		}
	}

	if (level > meta.entryLevel)
	{
		Buffer		buf;
		GenericXLogState *state;
		Page		page;
		HnswMetaPage m;

		/*
		 * The old entry point has no kept link in (every other element's
		 * kept link comes from one reached before it, so kept links form a
		 * tree from the entry point); the new entry point keeps one to it,
		 * and the tree hangs from the new one.
		 */
		if (meta.entryLevel >= 0)
		{
			float	   *old = palloc(sizeof(float) * info->dims);

			HnswFetchVector(info, &meta.entry, old);
			(void) HnswAddBackLink(info, &tid, 0, &meta.entry, old,
								   HnswDistance(info->metric, info->dims, vec, old), building, true,
								   HNSW_KEEP_IF_ROOM);
		}
		buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = HnswBeginChange(&state, info->index, buf, building, 0);
		m = (HnswMetaPage) PageGetContents(page);
		m->entry = tid;
		m->entryLevel = level;
		HnswFinishChange(state, buf);
		UnlockReleaseBuffer(buf);
	}
	UnlockPage(info->index, HNSW_UPDATE_LOCK, lockmode);
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
