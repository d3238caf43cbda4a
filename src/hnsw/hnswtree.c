/*
 * hnswtree.c
 *		The tree of kept links: its two builders.
 *
 * Every element's kept link (HNSW_LINK_KEPT, see hnsw.h) comes from an
 * element that was itself reached through kept links from the entry point,
 * and re-pruning never drops one: so kept links form a tree from the entry
 * point over every element, and no insert can cut an element off from
 * searches.  An insert makes its element's kept link as it links back
 * (HnswInsertCore); two builders make the tree whole where inserts do not:
 *
 * - the build's (HnswBuildKeptTree), in memory, before the graph is written:
 *   the build's inserts make no kept link, so it starts with no tree at all,
 *   walks the lists from the entry point and flags links that exist (an
 *   element adopts the targets of its own links while it has room),
 *   adding a link only for the few elements left out, in place of the
 *   owner's farthest link that is not kept, with no re-pruning (nobody else
 *   reads the graph yet); its last resort is the nearest tree element of all;
 *
 * - VACUUM's (HnswRelinkKeptTree), on disk, also a spilling build's last
 *   step: it starts from a tree that covers nearly everything (VACUUM cut
 *   what hung from the elements it deleted) and looks from the outside
 *   element's side: it asks the tree elements it links to, then those a
 *   search finds, then the entry point and their kept descendants, for a
 *   kept link through HnswAddBackLink (re-pruning a full list under page
 *   locks, with inserts running), and last makes a plain link.
 *
 * Run on the build's unflagged graph, VACUUM's way would re-prune a list
 * for most elements instead of flagging a link that is there; the build's
 * way cannot run beside inserts.  What they share is the order of their
 * passes over the elements left out (LinkLeftOut).
 */
#include "postgres.h"

#include "commands/vacuum.h"
#include "hnsw.h"
#include "hnswcore.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

/* the first mode of both builders: from a tree element among the element's own links */
#define TREE_OWN		0

/*
 * One pass of a builder over the elements outside the tree, each tried in
 * mode (TREE_OWN or a wider one of the builder's); returns how many it
 * linked into the tree and sets *left to how many are still outside.
 */
typedef int64 (*TreePass) (void *b, int mode, int64 *left);

/*
 * The passes of both builders: a pass that links some goes back to
 * TREE_OWN (the neighbours of those left out may be in the tree now, and a
 * link from one's own neighbour is the best), one that links none widens
 * the mode; until none is left, or the widest mode (lastMode) linked none.
 * Returns the number linked.
 */
static int64
LinkLeftOut(TreePass pass, void *b, int lastMode)
{
	int64		linked = 0;
	int			mode = TREE_OWN;

	for (;;)
	{
		int64		left = 0;
		int64		got = pass(b, mode, &left);

		linked += got;
		if (left == 0 || (got == 0 && mode == lastMode))
			break;
		mode = got > 0 ? TREE_OWN : mode + 1;
	}
	return linked;
}

/* the build's tree as it grows */
typedef struct KeptTree
{
	const HnswMemLists *ml;
	int			slots;
	int32	   *queue;			/* the elements in the tree, in the order they joined */
	int			head;
	int			tail;
	int16	   *nkept;			/* kept links in each element's level-0 list */
	int32	   *keptOwner;		/* the list holding the element's kept link, -1: not in the tree */
	int16	   *keptSlot;		/* and its slot */
} KeptTree;

static inline bool
InTree(KeptTree *kt, int e)
{
	return kt->keptOwner[e] >= 0 || e == kt->ml->entry;
}

static inline bool
HasKeptRoom(KeptTree *kt, int e)
{
	return kt->nkept[e] < HnswMaxKept(kt->slots);
}

/* e joins the tree through slot s of owner's level-0 list */
static void
Adopt(KeptTree *kt, int owner, int s, int e)
{
	/* a kept link comes from an element already in the tree, to one not yet in it */
	Assert(InTree(kt, owner) && !InTree(kt, e));
	kt->keptOwner[e] = owner;
	kt->keptSlot[e] = s;
	kt->nkept[owner]++;
	/* the tree takes at most half of a list's slots (HnswMaxKept) */
	Assert(kt->nkept[owner] <= HnswMaxKept(kt->slots));
	Assert(s >= 0 && s < kt->slots);
	kt->queue[kt->tail++] = e;
}

/* grow the tree along level-0 links from the elements queued and not yet walked */
static void
GrowTree(KeptTree *kt)
{
	for (; kt->head < kt->tail; kt->head++)
	{
		int			u = kt->queue[kt->head];
		const int32 *nbr = kt->ml->nbr + kt->ml->list0(kt->ml->g, u);

		for (int s = 0; s < kt->slots && nbr[s] >= 0 && HasKeptRoom(kt, u); s++)
			if (!InTree(kt, nbr[s]))
				Adopt(kt, u, s, nbr[s]);
	}
}

/*
 * Link tree element owner to element e (at distance d) on level 0 and
 * adopt e: in a free slot, else in place of the farthest link that is not
 * kept (its target stays in the tree: the tree's links are kept links).
 */
static bool
MemLinkIntoTree(KeptTree *kt, int owner, int e, float d)
{
	const HnswMemLists *ml = kt->ml;
	Size		start = ml->list0(ml->g, owner);
	int32	   *onbr = ml->nbr + start;
	float	   *ond = ml->nd + start;
	int			slot = -1;

	for (int s = 0; s < kt->slots; s++)
	{
		if (onbr[s] < 0)
		{
			slot = s;
			break;
		}
		if (kt->keptOwner[onbr[s]] == owner && kt->keptSlot[onbr[s]] == s)
			continue;
		if (slot < 0 || ond[s] > ond[slot])
			slot = s;
	}
	if (slot < 0)
		return false;			/* every slot kept: cannot be, at most half are */
	onbr[slot] = e;
	ond[slot] = d;
	ml->ns[start + slot] = HNSW_LINK_UNKNOWN;
	Adopt(kt, owner, slot, e);
	return true;
}

/* the build's one wider mode: from the nearest tree element of all */
#define TREE_NEAREST_OF_ALL	1

/*
 * One pass of the build (TreePass): each element outside the tree is
 * linked from its nearest tree neighbour with room among its own links, or
 * (TREE_NEAREST_OF_ALL) from the nearest tree element with room of all;
 * the tree then grows on from it.
 */
static int64
MemTreePass(void *b, int mode, int64 *left)
{
	KeptTree   *kt = (KeptTree *) b;
	const HnswMemLists *ml = kt->ml;
	int64		linked = 0;

	for (int e = 0; e < ml->n; e++)
	{
		Size		start = ml->list0(ml->g, e);
		const int32 *enbr = ml->nbr + start;
		const float *end = ml->nd + start;
		int			owner = -1;
		float		od = 0;

		if (InTree(kt, e))
			continue;
		CHECK_FOR_INTERRUPTS();
		for (int s = 0; s < kt->slots && enbr[s] >= 0; s++)
			if (InTree(kt, enbr[s]) && HasKeptRoom(kt, enbr[s]) && (owner < 0 || end[s] < od))
			{
				owner = enbr[s];
				od = end[s];
			}
		for (int q = 0; owner < 0 && mode == TREE_NEAREST_OF_ALL && q < kt->tail; q++)
		{
			/* none of its links leads into the tree: the nearest tree element of all */
			float		d = ml->distance(ml->g, e, kt->queue[q]);

			if (HasKeptRoom(kt, kt->queue[q]) && (owner < 0 || d < od))
			{
				owner = kt->queue[q];
				od = d;
			}
		}
		if (owner >= 0 && MemLinkIntoTree(kt, owner, e, od))
		{
			linked++;
			GrowTree(kt);
		}
	}
	*left = ml->n - kt->tail;
	return linked;
}

/*
 * The build's tree, before the graph is written: grow it from the entry
 * point along level-0 links, each element adopting its newcomers while it
 * has room for kept links (at most half its slots).  An element left out
 * (its tree neighbours' lists are half kept already, or pruning during the
 * build took every link into its small group from outside it: a parallel
 * build of 20,000 rows leaves a few so) is linked from its nearest tree
 * neighbour with room among its own links, or else from the nearest such
 * element of all.  keptOwner[e], keptSlot[e]: the slot holding e's kept
 * link, or -1.
 */
void
HnswBuildKeptTree(const HnswMemLists *ml, int32 *keptOwner, int16 *keptSlot)
{
	int			n = ml->n;
	KeptTree	kt;
	int64		linked;

	for (int i = 0; i < n; i++)
		keptOwner[i] = keptSlot[i] = -1;
	if (n == 0 || ml->entry < 0)
		return;
	kt.ml = ml;
	kt.slots = ml->slots;
	kt.queue = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * n);
	kt.nkept = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int16) * n);
	kt.keptOwner = keptOwner;
	kt.keptSlot = keptSlot;
	memset(kt.nkept, 0, sizeof(int16) * n);
	kt.head = 0;
	kt.tail = 1;
	kt.queue[0] = ml->entry;
	GrowTree(&kt);

	/* a pass of the nearest of all that links none: no tree element has room, cannot be */
	linked = kt.tail < n ? LinkLeftOut(MemTreePass, &kt, TREE_NEAREST_OF_ALL) : 0;
	if (linked > 0)
		elog(DEBUG1, "embedding_hnsw build linked %d element(s) into the kept-link tree", (int) linked);
	Assert(kt.tail <= n);
	pfree(kt.queue);
	pfree(kt.nkept);
}

/* is the element at tid live and reached by the walk? */
static bool
Reached(HnswReach *r, ItemPointer tid)
{
	HnswElemInfo *t = HnswLookupElem(r->elems, r->counts, r->nblocks, tid);

	return t != NULL && t->level >= 0 && !t->deleted && t->reached;
}

/* VACUUM's modes: TREE_OWN, then */
#define RELINK_SEARCH	1		/* also among what a search finds */
#define RELINK_PLAIN	2		/* or else a plain link from the nearest */

/* a level-0 link from owner to bl's target, as keep says (HnswAddBackLink) */
static int
KeepFrom(HnswInfo *info, HnswBackLink *bl, ItemPointer owner, float distance, int keep, bool building)
{
	bl->owner = *owner;
	bl->distance = distance;
	bl->keep = keep;
	return HnswAddBackLink(info, bl, building);
}

/*
 * One element outside the tree of kept links (at self): a kept link into it
 * from its nearest tree element with room, as mode allows.  Returns
 * HNSW_BACKLINK_KEPT, _MADE (a plain link), or _NONE (not now).
 */
static int
DiskLinkIntoTree(HnswInfo *info, HnswMetaPageData *meta, HnswReach *r, ItemPointer self, int mode, bool building)
{
	HnswElementCopy ec;
	HnswNeighbor cands[HNSW_MAX_M * 2];
	int			ncands = 0;
	int			slots = HnswLevelSlots(info->m, 0);
	HnswCandidate **w = NULL;
	int			n = 0;
	int			first = -1;
	HnswBackLink bl = {.lc = 0, .target = *self, .force = true};

	/* its vector and links, as they are now */
	if (!HnswCopyElement(info, self, &ec, true) || ec.deleted)
		return HNSW_BACKLINK_MADE;	/* nothing to do */
	bl.targetVec = ec.vec;

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
		if (KeepFrom(info, &bl, &cands[i].tid, cands[i].distance, HNSW_KEEP_ONLY, building) == HNSW_BACKLINK_KEPT)
			return HNSW_BACKLINK_KEPT;
	if (mode == TREE_OWN)
		return HNSW_BACKLINK_NONE;

	/* the tree elements a search finds, nearest first */
	w = HnswSearchFromEntry(info, meta, ec.vec, info->efConstruction, 0, &n, NULL);
	for (int i = 0; i < n; i++)
	{
		if (ItemPointerEquals(&w[i]->tid, self) || !Reached(r, &w[i]->tid))
			continue;
		if (first < 0)
			first = i;
		if (KeepFrom(info, &bl, &w[i]->tid, w[i]->distance, HNSW_KEEP_ONLY, building) == HNSW_BACKLINK_KEPT)
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
		if (KeepFrom(info, &bl, &meta->entry, HnswDistance(info->metric, info->dims, ec.vec, ev),
					 HNSW_KEEP_ONLY, building) == HNSW_BACKLINK_KEPT)
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
		(void) KeepFrom(info, &bl, &cands[0].tid, cands[0].distance, HNSW_KEEP_NO, building);
	else if (first >= 0)
		(void) KeepFrom(info, &bl, &w[first]->tid, w[first]->distance, HNSW_KEEP_NO, building);
	else if (!ItemPointerEquals(&meta->entry, self))
	{
		float	   *ev = palloc(sizeof(float) * info->dims);

		HnswFetchVector(info, &meta->entry, ev);
		(void) KeepFrom(info, &bl, &meta->entry, HnswDistance(info->metric, info->dims, ec.vec, ev), HNSW_KEEP_NO,
						building);
	}
	return HNSW_BACKLINK_MADE;
}

/* VACUUM's walk and what its passes need */
typedef struct RelinkState
{
	HnswInfo   *info;
	HnswMetaPageData *meta;
	HnswReach  *r;
	bool		building;
} RelinkState;

/*
 * One pass of VACUUM's relink (TreePass): each live element the walk has
 * not reached is given a kept link as mode allows (DiskLinkIntoTree); the
 * walk then goes on from it.  An element given a plain link (RELINK_PLAIN)
 * is not counted as left.
 */
static int64
DiskTreePass(void *b, int mode, int64 *left)
{
	RelinkState *rs = (RelinkState *) b;
	HnswReach  *r = rs->r;
	int64		linked = 0;

	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < r->nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= r->counts[blk]; off++)
		{
			HnswElemInfo *ei = &r->elems[blk][off - 1];
			ItemPointerData self;

			if (ei->level < 0 || ei->deleted || ei->reached)
				continue;
			vacuum_delay_point();
			ItemPointerSet(&self, blk, off);
			switch (DiskLinkIntoTree(rs->info, rs->meta, r, &self, mode, rs->building))
			{
				case HNSW_BACKLINK_KEPT:
					linked++;
					HnswReachFrom(r, &self, 0);
					break;
				case HNSW_BACKLINK_NONE:
					(*left)++;
					break;
			}
		}
	return linked;
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
 * (DiskLinkIntoTree); then the walk goes on from it, so what hangs from it is
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
	HnswElemInfo **elems;
	OffsetNumber *counts;
	HnswReach	r;
	RelinkState rs;
	HnswElemInfo *ep;

	HnswReadMeta(index, &meta);
	nblocks = RelationGetNumberOfBlocks(index);
	if (meta.entryLevel < 0 || nblocks <= HNSW_HEAD_BLKNO)
		return 0;
	elems = palloc0(sizeof(HnswElemInfo *) * nblocks);
	counts = palloc0(sizeof(OffsetNumber) * nblocks);
	(void) HnswCollectElements(index, &meta, nblocks, elems, counts, NULL);
	ep = HnswLookupElem(elems, counts, nblocks, &meta.entry);
	if (ep == NULL || ep->level < 0 || ep->deleted)
		return 0;
	HnswReachInit(&r, index, meta.m, elems, counts, nblocks, true);
	HnswReachFrom(&r, &meta.entry, 0);

	/*
	 * Passes over the elements left out until all are in (LinkLeftOut):
	 * first from their own links only (an element whose neighbours join the
	 * tree later in a pass is taken in the next); when a pass takes none,
	 * from what searches find too; when that takes none either, plain links.
	 */
	rs.info = info;
	rs.meta = &meta;
	rs.r = &r;
	rs.building = building;
	return LinkLeftOut(DiskTreePass, &rs, RELINK_PLAIN);
}
