/*
 * hnswvacuum.c
 *		VACUUM of an embedding_hnsw index, in three passes:
 *		1. mark the elements of dead heap tuples deleted and erase their
 *		   vectors at once (the bytes of an erased face do not stay on disk);
 *		   then wait for the inserts that began before (they may have chosen
 *		   a deleted element as a neighbour);
 *		2. repair every live element that linked to a deleted one: its new
 *		   links are chosen with the heuristic among its live links and the
 *		   live links of the deleted ones (two hops);
 *		   elements left with too few links search the graph for new ones,
 *		   from an entry point moved off any deleted element beforehand;
 *		3. drop the deleted elements' own links and free their slots
 *		   (HNSW_FREE; their pages go into the free space map): an insert
 *		   overwrites a freed slot with a new element (ReuseFreeSlot);
 *		and, at the end (amvacuumcleanup; an autovacuum that removed nothing
 *		skips it), give every live element the deletions left outside the
 *		tree of kept links (hnsw.h) a kept link from its nearest element in
 *		it (HnswRelinkKeptTree in hnswtree.c, which uses index_check's
 *		walk), so later inserts cannot cut it off from searches.
 *		A scan that still holds the TID of a freed element may read the new
 *		element in its slot: a real element at its true distance, which it
 *		may return or walk on from (a scan keeps its own copies of the heap
 *		TIDs it returns, so it never returns the old row by the new element);
 *		one that meets a freed slot searches again from the entry point
 *		(hnswscan.c, Search).
 */
#include "postgres.h"

#include "postmaster/autovacuum.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/* pass 1: mark dead elements deleted and erase them; returns the deleted set */
static HnswVisited *
MarkDeleted(HnswInfo *info, IndexBulkDeleteCallback callback, void *state,
			IndexBulkDeleteResult *stats, int64 *ndeleted, int64 *pending)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);
	HnswVisited *deleted = HnswVisitedCreate(1024);

	*ndeleted = 0;
	*pending = 0;
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBufferExtended(info->index, MAIN_FORKNUM, blk, RBM_NORMAL, NULL);
		GenericXLogState *xs = NULL;
		Page		page;
		OffsetNumber maxoff;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			ItemPointerData tid;

			ItemPointerSet(&tid, blk, off);
			/*
			 * A freed slot is nothing to repair: nothing links to it, and an
			 * insert may fill it with a live element while this VACUUM runs
			 * (taken for deleted, the repair would cut that element's links
			 * in; TAP 101 round 2 found one unreachable after a crash).
			 */
			if (tup->deleted == HNSW_FREE)
				continue;
			if (tup->deleted)
			{
				HnswVisitedAdd(deleted, &tid);
				/* still linked: an earlier VACUUM did not finish (crash) */
				if (ItemPointerIsValid(&tup->neighbors[0].tid))
					(*pending)++;
				continue;
			}
			stats->num_index_tuples++;
			if (!callback(&tup->heaptid, state))
				continue;
			if (xs == NULL)
			{
				xs = GenericXLogStart(info->index);
				page = GenericXLogRegisterBuffer(xs, buf, 0);
				tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			}
			tup->deleted = HNSW_DELETED;
			ItemPointerSetInvalid(&tup->heaptid);
			memset(HnswTupleVector(tup, info->m), 0, sizeof(float) * info->dims);
			HnswVisitedAdd(deleted, &tid);
			stats->tuples_removed++;
			stats->num_index_tuples--;
			(*ndeleted)++;
		}
		if (xs)
			GenericXLogFinish(xs);
		UnlockReleaseBuffer(buf);
	}
	return deleted;
}

/* new links for level lc of an element whose list named deleted elements */
static int
RepairLevel(HnswInfo *info, HnswMetaPageData *meta, ItemPointer self, HnswElementCopy *ec, int lc,
			HnswVisited *deleted, HnswNeighbor *out)
{
	int			start = HnswLevelStart(info->m, lc);
	int			slots = HnswLevelSlots(info->m, lc);
	int			cap = slots * (slots + 1) + info->efConstruction + 1;
	HnswCandidate **cands = palloc(sizeof(HnswCandidate *) * cap);
	float	  **vecs = palloc(sizeof(float *) * cap);
	int		   *chosen = palloc(sizeof(int) * (slots + cap));
	HnswVisited *seen = HnswVisitedCreate(cap);
	int			n = 0;
	int			nkept = 0;
	int			k;

	/* whole slots, padding too: they are compared with memcmp and WAL-logged */
	memset(out, 0, sizeof(HnswNeighbor) * slots);

	HnswVisitedAdd(seen, self);
	for (int i = 0; i < slots && ItemPointerIsValid(&ec->nbrs[start + i].tid); i++)
	{
		ItemPointer t = &ec->nbrs[start + i].tid;
		HnswElementCopy nc;

		if (!HnswVisitedAdd(seen, t) || !HnswCopyElement(info, t, &nc, !HnswVisitedContains(deleted, t)))
			continue;
		if (!HnswVisitedContains(deleted, t) && !nc.deleted &&
			(ec->nbrs[start + i].flags & HNSW_LINK_KEPT))
		{
			/* a kept link to a live element stays as it is */
			out[nkept++] = ec->nbrs[start + i];
			continue;
		}
		if (!HnswVisitedContains(deleted, t) && !nc.deleted)
		{
			cands[n] = palloc0(sizeof(HnswCandidate));
			cands[n]->tid = *t;
			cands[n]->distance = ec->nbrs[start + i].distance;
			vecs[n++] = nc.vec;
			continue;
		}
		/* a deleted neighbour: take its live links on this level instead */
		if (nc.level < lc)
			continue;
		for (int j = 0; j < slots && ItemPointerIsValid(&nc.nbrs[start + j].tid); j++)
		{
			ItemPointer t2 = &nc.nbrs[start + j].tid;
			HnswElementCopy c2;

			if (HnswVisitedContains(deleted, t2) || !HnswVisitedAdd(seen, t2) ||
				!HnswCopyElement(info, t2, &c2, true) || c2.deleted || c2.level < lc)
				continue;
			cands[n] = palloc0(sizeof(HnswCandidate));
			cands[n]->tid = *t2;
			cands[n]->distance = HnswDistance(info->metric, info->dims, ec->vec, c2.vec);
			vecs[n++] = c2.vec;
		}
	}
	/*
	 * Too few left nearby (most of the neighbourhood was deleted): search the
	 * graph for the element as an insert would, deleted elements serving as
	 * bridges until pass 3 clears them.
	 */
	if (n < slots && meta->entryLevel >= lc)
	{
		int			nw;
		HnswCandidate **w = HnswSearchFromEntry(info, meta, ec->vec, info->efConstruction, lc, &nw, NULL);

		for (int i = 0; i < nw && n < cap; i++)
		{
			HnswElementCopy c2;

			if (HnswVisitedContains(deleted, &w[i]->tid) || !HnswVisitedAdd(seen, &w[i]->tid) ||
				!HnswCopyElement(info, &w[i]->tid, &c2, true) || c2.deleted)
				continue;
			cands[n] = w[i];
			vecs[n++] = c2.vec;
		}
	}

	/* nearest first, vectors alongside */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && cands[j]->distance < cands[j - 1]->distance; j--)
		{
			HnswCandidate *tc = cands[j];
			float	   *tv = vecs[j];

			cands[j] = cands[j - 1];
			cands[j - 1] = tc;
			vecs[j] = vecs[j - 1];
			vecs[j - 1] = tv;
		}
	/* keep pruned candidates in the free slots: after heavy deletion, links are scarce */
	k = HnswFillPruned(HnswSelectNeighbors(info, cands, n, slots - nkept, vecs, chosen), chosen, n, slots - nkept);
	for (int i = nkept; i < slots; i++)
	{
		if (i - nkept < k)
		{
			out[i].tid = cands[chosen[i - nkept]]->tid;
			out[i].distance = cands[chosen[i - nkept]]->distance;
		}
		else
		{
			ItemPointerSetInvalid(&out[i].tid);
			out[i].distance = 0;
		}
	}
	return nkept + k;
}

/* live elements that deleted ones linked to: they lost links into them */
static HnswVisited *
TouchedElements(HnswInfo *info, HnswVisited *deleted)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);
	HnswVisited *touched = HnswVisitedCreate(1024);

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(info->index, blk);
		Page		page;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			if (!tup->deleted)
				continue;
			for (int s = 0; s < HnswSlots(info->m, tup->level); s++)
				if (ItemPointerIsValid(&tup->neighbors[s].tid) &&
					!HnswVisitedContains(deleted, &tup->neighbors[s].tid))
					HnswVisitedAdd(touched, &tup->neighbors[s].tid);
		}
		UnlockReleaseBuffer(buf);
	}
	return touched;
}

/*
 * pass 2: repair every live element that linked to a deleted one or was
 * linked from one: new links out, chosen again, and links back in from the
 * chosen, as an insert makes them, so no live element is left unreachable.
 */
static void
RepairGraph(HnswInfo *info, HnswVisited *deleted, HnswVisited *stillLinked, MemoryContext tmp)
{
	HnswVisited *touched = TouchedElements(info, deleted);
	HnswMetaPageData meta;
	BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);

	HnswReadMeta(info->index, &meta);
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		OffsetNumber maxoff;
		Buffer		buf = ReadBuffer(info->index, blk);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		maxoff = PageGetMaxOffsetNumber(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			MemoryContext old = MemoryContextSwitchTo(tmp);
			ItemPointerData tid;
			HnswElementCopy ec;

			vacuum_delay_point();
			ItemPointerSet(&tid, blk, off);
			if (HnswCopyElement(info, &tid, &ec, true) && !ec.deleted)
			{
				for (int lc = 0; lc <= ec.level; lc++)
				{
					int			start = HnswLevelStart(info->m, lc);
					int			slots = HnswLevelSlots(info->m, lc);
					bool		affected = HnswVisitedContains(touched, &tid);
					HnswNeighbor fresh[HNSW_MAX_M * 2];
					int			nfresh;

					for (int i = 0; i < slots && ItemPointerIsValid(&ec.nbrs[start + i].tid); i++)
						if (HnswVisitedContains(deleted, &ec.nbrs[start + i].tid))
							affected = true;
					if (!affected)
						continue;
					nfresh = RepairLevel(info, &meta, &tid, &ec, lc, deleted, fresh);

					/* write, unless an insert changed the list meanwhile */
					buf = ReadBuffer(info->index, blk);
					LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
					{
						Page		page = BufferGetPage(buf);
						HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

						if (memcmp(&tup->neighbors[start], &ec.nbrs[start], sizeof(HnswNeighbor) * slots) == 0)
						{
							GenericXLogState *xs = GenericXLogStart(info->index);

							page = GenericXLogRegisterBuffer(xs, buf, 0);
							tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
							memcpy(&tup->neighbors[start], fresh, sizeof(HnswNeighbor) * slots);
							HnswAssertList(info, &tup->neighbors[start], slots, tup->level, lc, &tid);
							GenericXLogFinish(xs);
						}
						else
						{
							/*
							 * Left as it is: the deleted elements it still
							 * links to keep their slots until a later VACUUM
							 * (a freed slot takes a new element, maybe of a
							 * lower level than this link's; TAP 101 round 2)
							 */
							for (int i = 0; i < slots && ItemPointerIsValid(&tup->neighbors[start + i].tid); i++)
								if (HnswVisitedContains(deleted, &tup->neighbors[start + i].tid))
									HnswVisitedAdd(stillLinked, &tup->neighbors[start + i].tid);
						}
					}
					UnlockReleaseBuffer(buf);
					for (int i = 0; i < nfresh && i < slots && ItemPointerIsValid(&fresh[i].tid); i++)
					{
						HnswBackLink bl = {.owner = fresh[i].tid, .lc = lc, .target = tid, .targetVec = ec.vec,
							.distance = fresh[i].distance, .force = i == 0,
							.keep = lc == 0 && i == 0 ? HNSW_KEEP_IF_ROOM : HNSW_KEEP_NO};

						(void) HnswAddBackLink(info, &bl, false);
					}
				}
			}
			MemoryContextSwitchTo(old);
			MemoryContextReset(tmp);
		}
	}
}

/* before repair: move the entry point off a deleted element, to a live one of the top level */
static void
FixEntryPoint(HnswInfo *info, HnswVisited *deleted, int64 ndeleted)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);
	HnswMetaPageData meta;
	ItemPointerData best;
	int			bestLevel = -1;
	Buffer		buf;
	GenericXLogState *xs;
	HnswMetaPage mp;

	LockPage(info->index, HNSW_UPDATE_LOCK, ExclusiveLock);
	HnswReadMeta(info->index, &meta);
	ItemPointerSetInvalid(&best);
	if (meta.entryLevel >= 0 && HnswVisitedContains(deleted, &meta.entry))
	{
		for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		{
			Page		page;

			buf = ReadBuffer(info->index, blk);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

				if (!tup->deleted && tup->level > bestLevel)
				{
					bestLevel = tup->level;
					ItemPointerSet(&best, blk, off);
				}
			}
			UnlockReleaseBuffer(buf);
		}
	}
	buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	xs = GenericXLogStart(info->index);
	mp = (HnswMetaPage) PageGetContents(GenericXLogRegisterBuffer(xs, buf, 0));
	if (meta.entryLevel >= 0 && HnswVisitedContains(deleted, &meta.entry))
	{
		mp->entry = best;
		mp->entryLevel = bestLevel;
	}
	mp->deleted += (uint32) ndeleted;
	GenericXLogFinish(xs);
	UnlockReleaseBuffer(buf);
	UnlockPage(info->index, HNSW_UPDATE_LOCK, ExclusiveLock);
}

/*
 * pass 3: clear deleted elements' links (nothing live links to them any
 * more) and free their slots: an insert may overwrite one with a new
 * element of the same level.  Pages with free slots go into the free space
 * map, where inserts look for them.
 */
static void
ClearDeleted(HnswInfo *info, HnswVisited *stillLinked)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(info->index);

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
	{
		Buffer		buf = ReadBuffer(info->index, blk);
		GenericXLogState *xs = NULL;
		Page		page;
		OffsetNumber maxoff;
		int			maxFree = -1;

		vacuum_delay_point();
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));

			ItemPointerData tid;
			bool		keep;

			if (!tup->deleted)
				continue;
			ItemPointerSet(&tid, blk, off);
			keep = HnswVisitedContains(stillLinked, &tid);
			if (!keep)
				maxFree = Max(maxFree, (int) tup->level);
			if (tup->deleted == HNSW_FREE || (keep && !ItemPointerIsValid(&tup->neighbors[0].tid)))
				continue;
			if (xs == NULL)
			{
				xs = GenericXLogStart(info->index);
				page = GenericXLogRegisterBuffer(xs, buf, 0);
				tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
			}
			for (int s = 0; s < HnswSlots(info->m, tup->level); s++)
			{
				ItemPointerSetInvalid(&tup->neighbors[s].tid);
				tup->neighbors[s].flags = 0;
				tup->neighbors[s].distance = 0;
			}
			if (!keep)
				tup->deleted = HNSW_FREE;
		}
		if (xs)
			GenericXLogFinish(xs);
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(info->index, blk, maxFree >= 0 ? HnswFreeSpaceValue(maxFree) : 0);
	}
	FreeSpaceMapVacuum(info->index);
}

/* ambulkdelete */
IndexBulkDeleteResult *
ehnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	HnswInfo	hi;
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	MemoryContext tmp = AllocSetContextCreate(ctx, "embedding_hnsw vacuum element", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	HnswVisited *deleted;
	HnswVisited *stillLinked;
	int64		ndeleted;
	int64		pending;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) MemoryContextAllocZero(old, sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;
	HnswInitInfo(&hi, info->index);
	deleted = MarkDeleted(&hi, callback, callback_state, stats, &ndeleted, &pending);
	stillLinked = HnswVisitedCreate(64);
	if (ndeleted > 0 || pending > 0)
	{
		/*
		 * Wait for the inserts that began before the elements were marked:
		 * they may have chosen one as a neighbour and link to it after the
		 * repair has looked.  Later inserts never choose a deleted element,
		 * so once the repair is done nothing links to the deleted elements
		 * and their slots can be freed for reuse (ClearDeleted).
		 */
		LockPage(hi.index, HNSW_UPDATE_LOCK, ExclusiveLock);
		UnlockPage(hi.index, HNSW_UPDATE_LOCK, ExclusiveLock);
		FixEntryPoint(&hi, deleted, ndeleted);
		RepairGraph(&hi, deleted, stillLinked, tmp);
		ClearDeleted(&hi, stillLinked);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return stats;
}

/* amvacuumcleanup */
IndexBulkDeleteResult *
ehnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	HnswInfo	hi;
	MemoryContext ctx;
	MemoryContext old;
	int64		linked;

	if (info->analyze_only)
		return stats;

	/*
	 * Link the live elements outside the tree of kept links into it
	 * (HnswRelinkKeptTree): the walk reads every page, about 10 us per
	 * element, so an autovacuum that removed nothing from the index (stats
	 * is NULL: no bulk delete ran) skips it; a VACUUM run by hand always
	 * walks.
	 */
	if (stats != NULL || !IsAutoVacuumWorkerProcess())
	{
		ctx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw reachability", ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(ctx);
		HnswInitInfo(&hi, info->index);
		linked = HnswRelinkKeptTree(&hi, false);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(ctx);
		/* routine after deletions (VACUUM's own index messages are DEBUG2) */
		if (linked > 0)
			ereport(DEBUG1,
					(errmsg_plural("index \"%s\": linked %d element into the tree of kept links",
								   "index \"%s\": linked %d elements into the tree of kept links",
								   (unsigned long) linked,
								   RelationGetRelationName(info->index), (int) linked),
					 errdetail("An element outside it (a deleted element's kept link led to it) could be cut off from searches by later inserts.")));
	}

	if (stats == NULL)
	{
		/* nothing was deleted: the heap's count will do */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
