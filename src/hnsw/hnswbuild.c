/*
 * hnswbuild.c
 *		Building an embedding_hnsw index.
 *
 * The graph is built in memory, with plain arrays indexed by element number
 * and the SIMD kernels called directly, while it fits maintenance_work_mem.
 * Then every element is given its TID (elements are packed into pages in
 * build order), the pages are written through the buffer manager and WAL-
 * logged once with log_newpage_range.  If the graph outgrows
 * maintenance_work_mem, what is built so far is written out and the rest of
 * the heap is inserted with the on-disk insert path, with a NOTICE.
 *
 * With max_parallel_maintenance_workers, the graph lives in one dynamic
 * shared memory segment (arrays indexed by element number, as in a serial
 * build) and the leader and its workers scan the heap in parallel and insert
 * into it together: an element's neighbour lists are read under its LWLock
 * in shared mode and changed under it in exclusive mode, one lock held at a
 * time; vectors never change once an element is published.  The segment is
 * sized from the table's estimated rows within maintenance_work_mem; rows
 * that find it full are left out and inserted on disk by the leader after
 * the graph is written, by a second scan that skips the rows in the graph.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "embedding/embedding.h"
#include "hnsw.h"
#include "hnswcore.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * Each slot of the build's lists also keeps what the neighbour heuristic
 * made of its link the last time the list was pruned (HNSW_LINK_*): a list
 * whose members all have a known verdict takes a newcomer with a few
 * distances to the newcomer instead of the heuristic's distances between
 * all pairs of members (HnswSelect).
 */
#define PHASE_LOAD	2
#define PHASE_WRITE 3
#define PHASE_DISK	4

/*
 * One element of the graph.  Its neighbour lists are HnswSlots(m, level)
 * consecutive slots from slot on, in the slot arrays of the build (element
 * numbers, -1 empty; distances; heuristic states), level 0 first.
 */
typedef struct BuildElement
{
	ItemPointerData heaptid;
	ItemPointerData tid;		/* assigned when written */
	int16		level;
	bool		done;			/* its insert has finished: it is reachable */
	uint32		slot;
	LWLock		lock;			/* parallel build: guards the lists */
} BuildElement;

/*
 * What the participants of a build share: in the dynamic shared memory
 * segment of a parallel build, in the leader's memory otherwise.  The graph
 * arrays follow it (offsets from the start of this struct); a parallel
 * build's heap scan descriptor is at scanOff.
 */
typedef struct BuildShared
{
	slock_t		mutex;			/* n, slotUsed, entry, counts */
	int			n;
	int			entry;
	int			entryLevel;
	Size		slotUsed;
	bool		overflow;		/* a row found the graph full */
	double		reltuples;
	double		indtuples;
	/* parallel build */
	int			cap;
	Size		slotCap;
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			tranche;
	Size		elemsOff,
				vecsOff,
				nbrOff,
				ndOff,
				nsOff,
				scanOff;
} BuildShared;

typedef struct BuildState
{
	Relation	heap;
	Relation	index;
	HnswInfo	info;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;
	BuildShared *sh;
	bool		parallel;
	bool		leader;
	/* the graph: elements, vectors and slot arrays */
	BuildElement *elems;
	float	   *vecs;
	int32	   *nbr;
	float	   *nd;
	uint8	   *ns;
	int			cap;
	Size		slotCap;
	Size		memUsed;
	Size		memLimit;
	bool		onDisk;			/* past the in-memory phase */
	double		indtuples;		/* this participant's */
	double		reltuples;
	/* search scratch: visit stamps per element */
	uint32	   *stamp;
	uint32		curStamp;
	float	   *qbuf;
	/* second scan of a parallel build that overflowed: the graph's rows, sorted */
	ItemPointerData *inGraph;
	int			nInGraph;
} BuildState;

#define ELEM_VEC(bs, id)	((bs)->vecs + (Size) (id) * (bs)->info.dims)
#define ELEM_LIST(bs, id, lc)	((Size) (bs)->elems[id].slot + HnswLevelStart((bs)->info.m, (lc)))

/* a (distance, element number) pair: the build's HnswItem */
typedef HnswItem Pair;

/* distance between two build elements' vectors */
static inline float
Dist(BuildState *bs, const float *a, const float *b)
{
	return HnswDistance(bs->info.metric, bs->info.dims, a, b);
}

static inline void
LockElem(BuildState *bs, int id, LWLockMode mode)
{
	if (bs->parallel)
		LWLockAcquire(&bs->elems[id].lock, mode);
}

static inline void
UnlockElem(BuildState *bs, int id)
{
	if (bs->parallel)
		LWLockRelease(&bs->elems[id].lock);
}

/* copy element id's level-lc list (another participant may be changing it); count returned */
static int
CopyList(BuildState *bs, int id, int lc, int32 *out)
{
	const int32 *nbr = bs->nbr + ELEM_LIST(bs, id, lc);
	int			slots = HnswLevelSlots(bs->info.m, lc);
	int			k = 0;

	LockElem(bs, id, LW_SHARED);
	while (k < slots && nbr[k] >= 0)
	{
		Assert(nbr[k] < bs->cap && nbr[k] != id);
		out[k] = nbr[k];
		k++;
	}
	UnlockElem(bs, id);
	return k;
}

/*
 * The invariants of a list of the build's graph (as HnswAssertList's on
 * disk), with its lock held: the owner has the level; valid slots first,
 * each to another element of that level or higher, none twice.
 */
static inline void
AssertMemList(BuildState *bs, int id, int lc)
{
#ifdef USE_ASSERT_CHECKING
	const int32 *nbr = bs->nbr + ELEM_LIST(bs, id, lc);
	int			slots = HnswLevelSlots(bs->info.m, lc);
	bool		ended = false;

	Assert(lc >= 0 && lc <= bs->elems[id].level);
	for (int i = 0; i < slots; i++)
	{
		Assert(!(nbr[i] >= 0 && ended));
		ended |= nbr[i] < 0;
		if (nbr[i] < 0)
			continue;
		Assert(nbr[i] != id && nbr[i] < bs->cap && bs->elems[nbr[i]].level >= lc);
		for (int j = 0; j < i; j++)
			Assert(nbr[j] != nbr[i]);
	}
#endif
}

/*
 * The in-memory graph as HnswSearchLayerCore sees it: an element's handle is
 * its element number; the visited set is a stamp per element.
 */
typedef struct MemGraph
{
	BuildState *bs;
	const float *q;
} MemGraph;

static inline int
MemNeighbors(void *g, int32 id, int lc, int32 *refs)
{
	BuildState *bs = ((MemGraph *) g)->bs;
	int			nl = CopyList(bs, id, lc, refs);
	int			k = 0;

	for (int i = 0; i < nl; i++)
	{
		int32		e = refs[i];

		if (bs->stamp[e] == bs->curStamp)
			continue;
		bs->stamp[e] = bs->curStamp;
		refs[k++] = e;
	}
	return k;
}

static inline int
MemVisit(void *g, int32 ref, int lc, float bound, HnswItem *item)
{
	MemGraph   *mg = (MemGraph *) g;

	item->distance = Dist(mg->bs, mg->q, ELEM_VEC(mg->bs, ref));
	item->id = ref;
	return HNSW_VISIT_LIVE;
}

static const HnswGraphOps MemGraphOps = {MemNeighbors, MemVisit, NULL};

/* append member to element e's level-lc list if it has room and lacks it */
static void
MemAppendLink(BuildState *bs, int e, int member, int lc)
{
	Size		start = ELEM_LIST(bs, e, lc);
	int32	   *nbr = bs->nbr + start;
	int			slots = HnswLevelSlots(bs->info.m, lc);
	int			used = 0;
	bool		present = false;

	LockElem(bs, e, LW_EXCLUSIVE);
	while (used < slots && nbr[used] >= 0)
		present |= nbr[used++] == member;
	if (!present && used < slots)
	{
		nbr[used] = member;
		bs->nd[start + used] = Dist(bs, ELEM_VEC(bs, e), ELEM_VEC(bs, member));
		bs->ns[start + used] = HNSW_LINK_UNKNOWN;
	}
	UnlockElem(bs, e);
}

/* the shared counters and entry point: under the mutex in a parallel build */
static inline void
LockShared(BuildState *bs)
{
	if (bs->parallel)
		SpinLockAcquire(&bs->sh->mutex);
}

static inline void
UnlockShared(BuildState *bs)
{
	if (bs->parallel)
		SpinLockRelease(&bs->sh->mutex);
}

/* an element's insert has finished (its links are in place for the others) */
static inline void
MarkDone(BuildState *bs, int id)
{
	pg_write_barrier();
	bs->elems[id].done = true;
}

static inline bool
IsDone(BuildState *bs, int id)
{
	bool		done = bs->elems[id].done;

	pg_read_barrier();
	return done;
}

/* the entry point and its level, as another participant may have just changed them */
static void
GetEntry(BuildState *bs, int *entry, int *level)
{
	LockShared(bs);
	*entry = bs->sh->entry;
	*level = bs->sh->entryLevel;
	UnlockShared(bs);
}

/*
 * The in-memory graph as HnswInsertCore sees it: handles are element
 * numbers; g is the newcomer's (MemInsert).
 */
typedef struct MemInsert
{
	BuildState *bs;
	int			id;
	const float *vec;
} MemInsert;

/* the entry point; the first element becomes it, unless another participant's came first */
static bool
MemBegin(void *g, int level, HnswItem *entry, int *entryLevel)
{
	MemInsert  *mi = (MemInsert *) g;
	BuildState *bs = mi->bs;
	int			ep;

	GetEntry(bs, &ep, entryLevel);
	if (ep < 0)
	{
		bool		first;

		LockShared(bs);
		first = bs->sh->entry < 0;
		if (first)
		{
			bs->sh->entry = mi->id;
			bs->sh->entryLevel = level;
		}
		UnlockShared(bs);
		if (first)
		{
			*entryLevel = level;
			return false;
		}
		GetEntry(bs, &ep, entryLevel);
	}
	entry->id = ep;
	entry->distance = Dist(bs, mi->vec, ELEM_VEC(bs, ep));
	return true;
}

/*
 * Search level lc for the newcomer from the entries (HnswSearchLayerCore
 * over MemGraphOps, with a new visit stamp); result ascending in *out,
 * count returned.  In a parallel build others can link to the newcomer
 * before its own insert is done, so the search may meet it: it is walked
 * through, never a result (that would be a self-link).
 */
static int
MemSearch(void *g, const HnswItem *entries, int nentries, int ef, int lc, HnswItem **out)
{
	MemInsert  *mi = (MemInsert *) g;
	BuildState *bs = mi->bs;
	MemGraph	mg = {bs, mi->vec};
	HnswHeap	res;
	bool	   *walk = palloc(sizeof(bool) * Max(nentries, 1));

	if (++bs->curStamp == 0)
	{
		memset(bs->stamp, 0, sizeof(uint32) * bs->cap);
		bs->curStamp = 1;
	}
	bs->stamp[mi->id] = bs->curStamp;
	for (int i = 0; i < nentries; i++)
	{
		bs->stamp[entries[i].id] = bs->curStamp;
		walk[i] = entries[i].id == mi->id;
	}
	HnswSearchLayerCore(&MemGraphOps, &mg, entries, walk, nentries, ef, lc, &res);
	pfree(walk);
	qsort(res.items, res.n, sizeof(Pair), HnswItemCmp);
	*out = res.items;
	return res.n;
}

static const float *
MemVector(void *g, int32 id)
{
	return ELEM_VEC(((MemInsert *) g)->bs, id);
}

/*
 * The newcomer's level-lc list.  Nobody links to the newcomer before its
 * links back are made, after all its lists are written; links found in the
 * list all the same would stay after the chosen ones if room is left.
 */
static void
MemSetList(void *g, int lc, const HnswItem *w, const int *chosen, int k)
{
	MemInsert  *mi = (MemInsert *) g;
	BuildState *bs = mi->bs;
	Size		start = ELEM_LIST(bs, mi->id, lc);
	int			slots = HnswLevelSlots(bs->info.m, lc);
	int			had = 0;
	Pair		early[HNSW_MAX_M * 2];
	int			used = k;

	Assert(k <= slots);
	LockElem(bs, mi->id, LW_EXCLUSIVE);
	while (had < slots && bs->nbr[start + had] >= 0)
	{
		early[had] = (Pair) {bs->nd[start + had], bs->nbr[start + had]};
		had++;
	}
	for (int i = 0; i < k; i++)
	{
		bs->nbr[start + i] = w[chosen[i]].id;
		bs->nd[start + i] = w[chosen[i]].distance;
		bs->ns[start + i] = HNSW_LINK_SELECTED;
	}
	for (int j = 0; j < had && used < slots; j++)
	{
		bool		dup = false;

		for (int i = 0; i < k && !dup; i++)
			dup = w[chosen[i]].id == early[j].id;
		if (!dup)
		{
			bs->nbr[start + used] = early[j].id;
			bs->nd[start + used] = early[j].distance;
			bs->ns[start + used] = HNSW_LINK_UNKNOWN;
			used++;
		}
	}
	for (int i = used; i < had; i++)
		bs->nbr[start + i] = -1;
	AssertMemList(bs, mi->id, lc);
	UnlockElem(bs, mi->id);
}

/*
 * A link from element n to the newcomer on level lc: in a free slot, else
 * by the rule for a full list (HnswRepruneMembers, with the verdicts the
 * list keeps); force: the newcomer must get in.  Holds n's lock while it
 * reads and changes n's list; the member a full list leaves out is offered
 * to the newcomer's list after that lock is released (one lock at a time:
 * no lock order to keep).  The build makes no kept link (keep): the tree is
 * grown when the graph is written.
 */
static int
MemBackLink(void *g, const HnswItem *n, int lc, bool force, int keep)
{
	MemInsert  *mi = (MemInsert *) g;
	BuildState *bs = mi->bs;
	int			e = mi->id;
	Size		start = ELEM_LIST(bs, n->id, lc);
	int32	   *nbr = bs->nbr + start;
	float	   *nd = bs->nd + start;
	uint8	   *ns = bs->ns + start;
	int			slots = HnswLevelSlots(bs->info.m, lc);
	int			used = 0;
	const float *vecs[HNSW_MAX_M * 2];
	int			order[HNSW_MAX_M * 2 + 1];
	HnswListMembers lm = {.n = slots, .dist = nd, .vecs = vecs, .known = ns, .skip = NULL};
	HnswReprune r;
	int32		chosen[HNSW_MAX_M * 2];
	float		chosenDist[HNSW_MAX_M * 2];
	uint8		chosenSt[HNSW_MAX_M * 2];
	int			leftOut;

	LockElem(bs, n->id, LW_EXCLUSIVE);
	AssertMemList(bs, n->id, lc);
	while (used < slots && nbr[used] >= 0)
	{
		if (nbr[used] == e)
		{
			UnlockElem(bs, n->id);
			return HNSW_BACKLINK_MADE;
		}
		used++;
	}
	if (used < slots)
	{
		nbr[used] = e;
		nd[used] = n->distance;
		ns[used] = HNSW_LINK_UNKNOWN;
		AssertMemList(bs, n->id, lc);
		UnlockElem(bs, n->id);
		return HNSW_BACKLINK_MADE;
	}
	for (int s = 0; s < slots; s++)
		vecs[s] = ELEM_VEC(bs, nbr[s]);
	if (!HnswRepruneMembers(bs->info.metric, bs->info.dims, &lm, n->distance, mi->vec, force, &r, order))
	{
		UnlockElem(bs, n->id);
		return HNSW_BACKLINK_NONE;
	}
	Assert(r.nchosen == slots);
	for (int i = 0; i < slots; i++)
	{
		int			s = order[r.chosen[i]];

		chosen[i] = s >= 0 ? nbr[s] : e;
		chosenDist[i] = s >= 0 ? nd[s] : n->distance;
		chosenSt[i] = r.st[r.chosen[i]];
	}
	leftOut = r.leftOut >= 0 ? nbr[order[r.leftOut]] : -1;
	memcpy(nbr, chosen, sizeof(int32) * slots);
	memcpy(nd, chosenDist, sizeof(float) * slots);
	memcpy(ns, chosenSt, sizeof(uint8) * slots);
	AssertMemList(bs, n->id, lc);
	UnlockElem(bs, n->id);
	/* the member left out may have lost its last way in: the newcomer links to it if it has room */
	if (leftOut >= 0)
		MemAppendLink(bs, e, leftOut, lc);
	return HNSW_BACKLINK_MADE;
}

static bool
MemFinished(void *g, int32 id)
{
	return IsDone(((MemInsert *) g)->bs, id);
}

/* the new entry point if the newcomer is above it; its insert has finished */
static void
MemEnd(void *g, int level, int entryLevel)
{
	MemInsert  *mi = (MemInsert *) g;
	BuildState *bs = mi->bs;

	if (level > entryLevel)
	{
		LockShared(bs);
		if (level > bs->sh->entryLevel)
		{
			bs->sh->entry = mi->id;
			bs->sh->entryLevel = level;
		}
		UnlockShared(bs);
	}
	MarkDone(bs, mi->id);
}

/* the build makes no kept link per insert: the tree is grown when the graph is written */
static const HnswInsertOps MemInsertOps = {
	.begin = MemBegin,
	.search = MemSearch,
	.vector = MemVector,
	.setList = MemSetList,
	.write = NULL,
	.backLink = MemBackLink,
	.finished = MemFinished,
	.keepsLinks = false,
	.keepFromDescendants = NULL,
	.end = MemEnd,
};

/* add element id to the in-memory graph: the one insert (HnswInsertCore) over MemInsertOps */
static void
MemInsertElement(BuildState *bs, int id)
{
	MemInsert	mi = {bs, id, ELEM_VEC(bs, id)};

	HnswInsertCore(&MemInsertOps, &mi, &bs->info, bs->elems[id].level);
}

/* bytes one element of this level takes in memory */
static Size
ElementMem(BuildState *bs, int level)
{
	return sizeof(BuildElement) + sizeof(float) * bs->info.dims +
		(sizeof(int32) + sizeof(float) + sizeof(uint8)) * HnswSlots(bs->info.m, level) + 64;
}

/* give every element a TID, packing tuples into pages in build order */
static BlockNumber
AssignTids(BuildState *bs, BlockNumber first)
{
	BlockNumber blk = first;
	Size		lower = SizeOfPageHeaderData;
	Size		upper = BLCKSZ;
	OffsetNumber off = 0;

	for (int i = 0; i < bs->sh->n; i++)
	{
		Size		sz = MAXALIGN(HnswTupleSize(bs->info.m, bs->elems[i].level, bs->info.dims));

		if (lower + sizeof(ItemIdData) + sz > upper)
		{
			blk++;
			lower = SizeOfPageHeaderData;
			upper = BLCKSZ;
			off = 0;
		}
		lower += sizeof(ItemIdData);
		upper -= sz;
		off++;
		ItemPointerSet(&bs->elems[i].tid, blk, off);
	}
	return blk;
}

/* write one full page image as the next block of the index */
static void
FlushPage(BuildState *bs, Page image, BlockNumber expected)
{
	Buffer		buf = HnswNewBuffer(bs->index, MAIN_FORKNUM);

	if (BufferGetBlockNumber(buf) != expected)
		elog(ERROR, "embedding_hnsw build expected block %u, got %u", expected, BufferGetBlockNumber(buf));
	memcpy(BufferGetPage(buf), image, BLCKSZ);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* the build's level-0 lists for the tree builder (HnswMemLists) */
static Size
MemList0(void *g, int32 e)
{
	return ELEM_LIST((BuildState *) g, e, 0);
}

static float
MemDistance(void *g, int32 a, int32 b)
{
	BuildState *bs = (BuildState *) g;

	return Dist(bs, ELEM_VEC(bs, a), ELEM_VEC(bs, b));
}

/* grow the tree of kept links over the in-memory graph (hnswtree.c) */
static void
BuildKeptTree(BuildState *bs, int32 *keptOwner, int16 *keptSlot)
{
	HnswMemLists ml = {
		.g = bs,
		.n = bs->sh->n,
		.entry = bs->sh->entry,
		.slots = HnswLevelSlots(bs->info.m, 0),
		.nbr = bs->nbr,
		.nd = bs->nd,
		.ns = bs->ns,
		.list0 = MemList0,
		.distance = MemDistance,
	};

	HnswBuildKeptTree(&ml, keptOwner, keptSlot);
}

/* write the in-memory graph to pages and the metapage */
static void
WriteGraph(BuildState *bs)
{
	int			m = bs->info.m;
	BlockNumber last;
	Page		image = palloc(BLCKSZ);
	BlockNumber cur = HNSW_HEAD_BLKNO;
	HnswMetaPageData meta;
	Size		maxsz = HnswTupleSize(m, bs->info.maxLevel, bs->info.dims);
	HnswElementTuple tup = palloc0(maxsz);
	int			n = bs->sh->n;
	int32	   *keptOwner = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(n, 1));
	int16	   *keptSlot = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int16) * Max(n, 1));

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
	BuildKeptTree(bs, keptOwner, keptSlot);
	last = AssignTids(bs, HNSW_HEAD_BLKNO);
	HnswInitPage(image);
	for (int i = 0; i < n; i++)
	{
		BuildElement *el = &bs->elems[i];
		Size		sz = HnswTupleSize(m, el->level, bs->info.dims);
		const int32 *nbr = bs->nbr + el->slot;
		const float *nd = bs->nd + el->slot;

		if (ItemPointerGetBlockNumber(&el->tid) != cur)
		{
			FlushPage(bs, image, cur);
			cur = ItemPointerGetBlockNumber(&el->tid);
			HnswInitPage(image);
		}
		memset(tup, 0, sz);
		tup->heaptid = el->heaptid;
		tup->level = el->level;
		tup->dims = bs->info.dims;
		for (int s = 0; s < HnswSlots(m, el->level); s++)
		{
			if (nbr[s] >= 0)
			{
				tup->neighbors[s].tid = bs->elems[nbr[s]].tid;
				tup->neighbors[s].distance = nd[s];
				if (keptOwner[nbr[s]] == i && keptSlot[nbr[s]] == s)
					tup->neighbors[s].flags = HNSW_LINK_KEPT;
			}
			else
				ItemPointerSetInvalid(&tup->neighbors[s].tid);
		}
		memcpy(HnswTupleVector(tup, m), ELEM_VEC(bs, i), sizeof(float) * bs->info.dims);
		{
			OffsetNumber got = PageAddItem(image, (Item) tup, sz, InvalidOffsetNumber, false, false);

			if (got != ItemPointerGetOffsetNumber(&el->tid))
				elog(ERROR, "embedding_hnsw build placed element %d at (%u,%u), expected (%u,%u), size %zu, free %zu",
					 i, cur, got, ItemPointerGetBlockNumber(&el->tid), ItemPointerGetOffsetNumber(&el->tid), sz,
					 PageGetFreeSpace(image));
		}
	}
	if (n > 0)
		FlushPage(bs, image, cur);
	else
	{
		/* an empty index still has a page for inserts */
		FlushPage(bs, image, HNSW_HEAD_BLKNO);
		last = HNSW_HEAD_BLKNO;
	}

	HnswReadMeta(bs->index, &meta);
	meta.insertPage = last;
	meta.elements = n;
	meta.entryLevel = bs->sh->entry >= 0 ? bs->sh->entryLevel : -1;
	if (bs->sh->entry >= 0)
		meta.entry = bs->elems[bs->sh->entry].tid;
	else
		ItemPointerSetInvalid(&meta.entry);
	HnswWriteMeta(bs->index, &meta, false, false);
	pfree(image);
	pfree(tup);
	pfree(keptOwner);
	pfree(keptSlot);
}

static double EstimateRows(Relation heap, int dims);

/*
 * A parallel build's shared graph, sized for the rows the table's
 * statistics promised (within maintenance_work_mem), is full after n of its
 * rows: the rest goes on disk.  More memory would not have helped; fresh
 * statistics would.
 */
static void
NoticeGraphSizedTooSmall(int n, double rows)
{
	ereport(NOTICE,
			(errmsg("embedding_hnsw graph had room for %d elements, as the table's statistics promised, and the table has %.0f rows", n, rows),
			 errdetail("The other rows are inserted one at a time, as INSERT does, which takes significantly more time."),
			 errhint("ANALYZE the table before building the index.")));
}

/*
 * The in-memory graph is full after n elements of the table's rows (about
 * rows): the rest goes on disk, one insert at a time.  Said as pgvector says
 * it, with what a DBA can do about it: the maintenance_work_mem that would
 * have held the whole graph.
 */
static void
NoticeGraphFull(BuildState *bs, int n, double rows)
{
	double		perElem = (double) bs->memLimit / Max(n, 1);
	double		needMB = ceil(Max(rows, n + 1) * perElem * 1.1 / (1024.0 * 1024.0));

	ereport(NOTICE,
			(errmsg("embedding_hnsw graph no longer fits into maintenance_work_mem after %d tuples", n),
			 errdetail("The other rows of the table (about %.0f of %.0f) are inserted one at a time, as INSERT does, which takes significantly more time.",
					   Max(rows - n, 1), Max(rows, n + 1)),
			 errhint("Set maintenance_work_mem to about %.0f MB or more (it is %d kB) and build the index again.",
					 needMB, maintenance_work_mem)));
}

/* leave the in-memory phase: write the graph out and insert the rest on disk */
static void
SpillToDisk(BuildState *bs)
{
	NoticeGraphFull(bs, bs->sh->n, EstimateRows(bs->heap, bs->info.dims));
	WriteGraph(bs);
	bs->onDisk = true;
	HnswInitInfo(&bs->info, bs->index);
	MemoryContextDelete(bs->graphCtx);
	bs->graphCtx = NULL;
	bs->elems = NULL;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_DISK);
}

/* neighbour slots one element takes, on average over levels */
static double
SlotsPerElement(int m)
{
	/* level 0, and m per level above with P(level >= l) = m^-l: m / (m - 1) on average */
	return 2 * m + 2.0 * m / Max(m - 1, 1);
}

/* grow the serial build's arrays for one more element of the given slot count */
static void
GrowSerial(BuildState *bs, int slots)
{
	MemoryContext old = MemoryContextSwitchTo(bs->graphCtx);

	if (bs->elems == NULL)
	{
		bs->cap = 1024;
		bs->slotCap = (Size) (bs->cap * SlotsPerElement(bs->info.m)) + HnswSlots(bs->info.m, bs->info.maxLevel);
		bs->elems = MemoryContextAllocHuge(bs->graphCtx, sizeof(BuildElement) * bs->cap);
		bs->vecs = MemoryContextAllocHuge(bs->graphCtx, sizeof(float) * bs->info.dims * bs->cap);
		bs->stamp = MemoryContextAllocHuge(bs->graphCtx, sizeof(uint32) * bs->cap);
		memset(bs->stamp, 0, sizeof(uint32) * bs->cap);
		bs->nbr = MemoryContextAllocHuge(bs->graphCtx, sizeof(int32) * bs->slotCap);
		bs->nd = MemoryContextAllocHuge(bs->graphCtx, sizeof(float) * bs->slotCap);
		bs->ns = MemoryContextAllocHuge(bs->graphCtx, sizeof(uint8) * bs->slotCap);
	}
	if (bs->sh->n == bs->cap)
	{
		bs->cap *= 2;
		bs->elems = repalloc_huge(bs->elems, sizeof(BuildElement) * bs->cap);
		bs->vecs = repalloc_huge(bs->vecs, sizeof(float) * bs->info.dims * bs->cap);
		bs->stamp = repalloc_huge(bs->stamp, sizeof(uint32) * bs->cap);
		memset(bs->stamp + bs->cap / 2, 0, sizeof(uint32) * bs->cap / 2);
	}
	if (bs->sh->slotUsed + slots > bs->slotCap)
	{
		bs->slotCap *= 2;
		bs->nbr = repalloc_huge(bs->nbr, sizeof(int32) * bs->slotCap);
		bs->nd = repalloc_huge(bs->nd, sizeof(float) * bs->slotCap);
		bs->ns = repalloc_huge(bs->ns, sizeof(uint8) * bs->slotCap);
	}
	MemoryContextSwitchTo(old);
}

/*
 * A new element for the vector in bs->qbuf: its number, or -1 when a
 * parallel build's graph is full.  Nobody else can reach it before its
 * inserter links it in.
 */
static int
AddElement(BuildState *bs, ItemPointer heaptid, int level)
{
	int			slots = HnswSlots(bs->info.m, level);
	BuildShared *sh = bs->sh;
	BuildElement *el;
	Size		slot;
	int			id;

	if (bs->parallel)
	{
		LockShared(bs);
		if (sh->n < sh->cap && sh->slotUsed + slots <= sh->slotCap)
		{
			id = sh->n++;
			slot = sh->slotUsed;
			sh->slotUsed += slots;
		}
		else
		{
			sh->overflow = true;
			id = -1;
		}
		UnlockShared(bs);
		if (id < 0)
			return -1;
	}
	else
	{
		GrowSerial(bs, slots);
		id = sh->n++;
		slot = sh->slotUsed;
		sh->slotUsed += slots;
	}
	el = &bs->elems[id];
	el->heaptid = *heaptid;
	ItemPointerSetInvalid(&el->tid);
	el->level = level;
	el->done = false;
	el->slot = (uint32) slot;
	if (bs->parallel)
		LWLockInitialize(&el->lock, sh->tranche);
	memcpy(ELEM_VEC(bs, id), bs->qbuf, sizeof(float) * bs->info.dims);
	memset(bs->nbr + slot, 0xff, sizeof(int32) * slots);
	memset(bs->ns + slot, 0, sizeof(uint8) * slots);
	return id;
}

/* the indexed vector of a heap row in bs->qbuf; false when it is not indexed */
static bool
PrepareRow(BuildState *bs, Datum *values, bool *isnull)
{
	Embedding  *e;

	if (isnull[0])
		return false;
	e = DatumGetEmbedding(values[0]);
	if (e->dim != bs->info.dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->info.dims, e->dim)));
	/* a zero vector has no direction: not indexed under cosine */
	return HnswPrepareVector(bs->info.metric, e->x, bs->qbuf, bs->info.dims);
}

/* take one heap tuple into the graph */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	BuildState *bs = (BuildState *) state;
	MemoryContext old = MemoryContextSwitchTo(bs->tmpCtx);

	if (!PrepareRow(bs, values, isnull))
		goto done;
	if (bs->onDisk)
		HnswInsertElement(&bs->info, bs->qbuf, tid, true);
	else
	{
		int			level = HnswRandomLevel(bs->info.ml, bs->info.maxLevel);
		int			id;

		if (!bs->parallel)
		{
			Size		need = ElementMem(bs, level);

			if (bs->memUsed + need > bs->memLimit && bs->sh->n > 0)
			{
				SpillToDisk(bs);
				HnswInsertElement(&bs->info, bs->qbuf, tid, true);
				bs->indtuples++;
				goto done;
			}
			bs->memUsed += need;
		}
		id = AddElement(bs, tid, level);
		if (id < 0)
			goto done;			/* the shared graph is full: the second scan inserts it */
		MemInsertElement(bs, id);
	}
	bs->indtuples++;
	if ((int64) bs->indtuples % 1000 == 0 && (!bs->parallel || bs->leader))
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 bs->parallel ? (int64) bs->sh->n : (int64) bs->indtuples);
done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

static int
TidCmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/* second scan of a parallel build whose graph filled up: the rows not in it, on disk */
static void
OverflowCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				 bool tupleIsAlive, void *state)
{
	BuildState *bs = (BuildState *) state;
	MemoryContext old = MemoryContextSwitchTo(bs->tmpCtx);

	if (PrepareRow(bs, values, isnull) &&
		bsearch(tid, bs->inGraph, bs->nInGraph, sizeof(ItemPointerData), TidCmp) == NULL)
	{
		HnswInsertElement(&bs->info, bs->qbuf, tid, true);
		bs->indtuples++;
		if ((int64) bs->indtuples % 1000 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
}

/* the per-process part of a build state: options, contexts, scratch */
static void
InitState(BuildState *bs, Relation heap, Relation index)
{
	memset(bs, 0, sizeof(*bs));
	bs->heap = heap;
	bs->index = index;
	HnswInitInfo(&bs->info, index);
	bs->graphCtx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw build graph", ALLOCSET_DEFAULT_SIZES);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
	bs->qbuf = palloc(sizeof(float) * bs->info.dims);
	bs->memLimit = (Size) maintenance_work_mem * 1024L;
}

/* check the indexed column and options; fill the metapage */
static void
InitBuild(BuildState *bs, Relation heap, Relation index)
{
	int			dims = TupleDescAttr(index->rd_att, 0)->atttypmod;
	int			m = HnswGetM(index);
	int			maxLevel;
	HnswMetaPageData meta;

	if (dims < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Index a column declared as embedding(N), or an expression cast to embedding(N).")));
	if (dims > HNSW_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for embedding_hnsw index", HNSW_MAX_DIM),
				 errdetail("The column has %d dimensions.", dims)));
	maxLevel = HnswMaxLevelFor(m, dims);
	if (maxLevel < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an element of %d dimensions with m = %d does not fit an index page", dims, m),
				 errhint("Lower m.")));

	MemSet(&meta, 0, sizeof(meta));
	meta.magic = HNSW_MAGIC;
	meta.version = HNSW_VERSION;
	meta.dims = dims;
	meta.m = m;
	meta.efConstruction = HnswGetEfConstruction(index);
	meta.metric = HnswGetMetric(index);
	meta.maxLevel = maxLevel;
	meta.entryLevel = -1;
	ItemPointerSetInvalid(&meta.entry);
	meta.insertPage = HNSW_HEAD_BLKNO;
	HnswWriteMeta(index, &meta, false, true);

	InitState(bs, heap, index);
	bs->sh = palloc0(sizeof(BuildShared));
	bs->sh->entry = -1;
	bs->sh->entryLevel = -1;
}

/*
 * Parallel build.  The shared segment holds the BuildShared, the parallel
 * heap scan and the graph arrays, at the offsets LayoutShared computes.
 */
#define PARALLEL_KEY_BUILD		UINT64CONST(0xE45E000000000001)
#define BUILD_TRANCHE_NAME		"embedding_hnsw build"

static Size
LayoutShared(BuildShared *sh, int cap, Size slotCap, int dims, Size scanSize)
{
	Size		off = BUFFERALIGN(sizeof(BuildShared));

	sh->cap = cap;
	sh->slotCap = slotCap;
	sh->scanOff = off;
	off = add_size(off, BUFFERALIGN(scanSize));
	sh->elemsOff = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(BuildElement), cap)));
	sh->vecsOff = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(float) * dims, cap)));
	sh->nbrOff = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(int32), slotCap)));
	sh->ndOff = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(float), slotCap)));
	sh->nsOff = off;
	off = add_size(off, MAXALIGN(slotCap));
	return off;
}

/* point a participant's build state at the shared graph */
static void
AttachShared(BuildState *bs, BuildShared *sh, bool leader)
{
	char	   *base = (char *) sh;

	bs->sh = sh;
	bs->parallel = true;
	bs->leader = leader;
	bs->cap = sh->cap;
	bs->slotCap = sh->slotCap;
	bs->elems = (BuildElement *) (base + sh->elemsOff);
	bs->vecs = (float *) (base + sh->vecsOff);
	bs->nbr = (int32 *) (base + sh->nbrOff);
	bs->nd = (float *) (base + sh->ndOff);
	bs->ns = (uint8 *) (base + sh->nsOff);
	bs->stamp = MemoryContextAllocHuge(bs->graphCtx, sizeof(uint32) * Max(sh->cap, 1));
	memset(bs->stamp, 0, sizeof(uint32) * Max(sh->cap, 1));
	LWLockRegisterTranche(sh->tranche, BUILD_TRANCHE_NAME);
}

/* one participant's share of the heap scan, into the shared graph */
static void
ParticipateInScan(BuildState *bs, IndexInfo *indexInfo)
{
	BuildShared *sh = bs->sh;
	TableScanDesc scan = table_beginscan_parallel(bs->heap, (ParallelTableScanDesc) ((char *) sh + sh->scanOff));
	double		reltuples;

	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true, bs->leader,
									   BuildCallback, bs, scan);
	SpinLockAcquire(&sh->mutex);
	sh->reltuples += reltuples;
	sh->indtuples += bs->indtuples;
	SpinLockRelease(&sh->mutex);
}

/* entry point of a parallel build worker */
PGDLLEXPORT void ehnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc);

void
ehnsw_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	BuildShared *sh = shm_toc_lookup(toc, PARALLEL_KEY_BUILD, false);
	LOCKMODE	heapLock = sh->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLock = sh->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	Relation	heap = table_open(sh->heaprelid, heapLock);
	Relation	index = index_open(sh->indexrelid, indexLock);
	IndexInfo  *indexInfo = BuildIndexInfo(index);
	BuildState	bs;

	indexInfo->ii_Concurrent = sh->isconcurrent;
	InitState(&bs, heap, index);
	AttachShared(&bs, sh, false);
	ParticipateInScan(&bs, indexInfo);
	MemoryContextDelete(bs.graphCtx);
	MemoryContextDelete(bs.tmpCtx);
	index_close(index, indexLock);
	table_close(heap, heapLock);
}

/* rows the table may hold: its statistics, or as many as fit its pages with the vector inline */
static double
EstimateRows(Relation heap, int dims)
{
	double		reltuples = heap->rd_rel->reltuples;
	BlockNumber pages = RelationGetNumberOfBlocks(heap);
	Size		row = MAXALIGN(SizeofHeapTupleHeader + sizeof(Embedding) + sizeof(float) * dims) + sizeof(ItemIdData);
	double		inline_rows = (double) pages * Max((BLCKSZ - SizeOfPageHeaderData) / row, 1);

	if (reltuples >= 0)
		return Min(reltuples * 1.1 + 1000, Max(inline_rows, reltuples) + 1000);
	return inline_rows + 1000;
}

/*
 * Build with nworkers parallel workers and the leader.  False when no
 * shared segment could be had (the caller builds serially).
 */
static bool
BuildParallel(BuildState *bs, IndexInfo *indexInfo, int nworkers)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		scanSize;
	Size		total;
	BuildShared layout;
	BuildShared *sh;
	int			dims = bs->info.dims;
	double		perElem = sizeof(BuildElement) + sizeof(float) * dims +
		(sizeof(int32) + sizeof(float) + sizeof(uint8)) * SlotsPerElement(bs->info.m) +
		sizeof(uint32) * (nworkers + 1);
	double		fit = (double) bs->memLimit / perElem;
	double		estimate = EstimateRows(bs->heap, dims);
	int			cap = (int) Min(Min(estimate, fit), (double) (INT_MAX / 2));
	Size		slotCap;

	cap = Max(cap, 1);
	slotCap = (Size) (cap * SlotsPerElement(bs->info.m)) + HnswSlots(bs->info.m, bs->info.maxLevel) * 64;

	EnterParallelMode();
	pcxt = CreateParallelContext("firstsight", "ehnsw_parallel_build_main", nworkers);
	snapshot = indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
	scanSize = table_parallelscan_estimate(bs->heap, snapshot);
	memset(&layout, 0, sizeof(layout));
	total = LayoutShared(&layout, cap, slotCap, dims, scanSize);
	shm_toc_estimate_chunk(&pcxt->estimator, total);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}
	sh = shm_toc_allocate(pcxt->toc, total);
	*sh = layout;
	SpinLockInit(&sh->mutex);
	sh->n = 0;
	sh->entry = -1;
	sh->entryLevel = -1;
	sh->slotUsed = 0;
	sh->overflow = false;
	sh->reltuples = 0;
	sh->indtuples = 0;
	sh->heaprelid = RelationGetRelid(bs->heap);
	sh->indexrelid = RelationGetRelid(bs->index);
	sh->isconcurrent = indexInfo->ii_Concurrent;
	sh->tranche = LWLockNewTrancheId();
	table_parallelscan_initialize(bs->heap, (ParallelTableScanDesc) ((char *) sh + sh->scanOff), snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_BUILD, sh);
	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched < nworkers)
		ereport(DEBUG1,
				(errmsg("embedding_hnsw build using %d parallel workers", pcxt->nworkers_launched),
				 errdetail("%d were planned; the others could not be started. The shared graph has room for %d elements.",
						   nworkers, cap),
				 errhint("Raise max_worker_processes or max_parallel_workers.")));
	else
		ereport(DEBUG1,
				(errmsg("embedding_hnsw build using %d parallel workers", pcxt->nworkers_launched),
				 errdetail("The shared graph has room for %d elements.", cap)));

	AttachShared(bs, sh, true);
	bs->indtuples = 0;
	ParticipateInScan(bs, indexInfo);
	WaitForParallelWorkersToFinish(pcxt);

	bs->reltuples = sh->reltuples;
	bs->indtuples = sh->indtuples;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	if (sh->overflow && estimate < fit)
		NoticeGraphSizedTooSmall(sh->n, sh->reltuples);
	else if (sh->overflow)
		NoticeGraphFull(bs, sh->n, sh->reltuples);
	WriteGraph(bs);
	if (sh->overflow)
	{
		/* the rows the full graph left out: on disk, by a second scan */
		bs->nInGraph = sh->n;
		bs->inGraph = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(sh->n, 1));
		for (int i = 0; i < sh->n; i++)
			bs->inGraph[i] = bs->elems[i].heaptid;
		qsort(bs->inGraph, bs->nInGraph, sizeof(ItemPointerData), TidCmp);
	}
	bs->parallel = false;
	bs->elems = NULL;
	bs->sh = NULL;
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);

	if (bs->inGraph != NULL)
	{
		double		inMemory = bs->indtuples;

		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_DISK);
		HnswInitInfo(&bs->info, bs->index);
		bs->onDisk = true;
		bs->indtuples = 0;
		table_index_build_scan(bs->heap, bs->index, indexInfo, true, false, OverflowCallback, bs, NULL);
		bs->indtuples += inMemory;
		pfree(bs->inGraph);
		bs->inGraph = NULL;
	}
	return true;
}

/* CREATE INDEX / REINDEX */
IndexBuildResult *
ehnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BuildState	bs;
	int			nworkers = 0;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	InitBuild(&bs, heap, index);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
	/* PostgreSQL plans workers for B-tree builds only before 17: ask the planner here */
	if (IsNormalProcessingMode() && !IsBootstrapProcessingMode())
		nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	if (nworkers > 0 && BuildParallel(&bs, indexInfo, nworkers))
	{
		/* graph written, and any rows it had no room for inserted on disk */
	}
	else
	{
		bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true, BuildCallback, &bs, NULL);
		if (!bs.onDisk)
			WriteGraph(&bs);
	}
	if (bs.onDisk)
	{
		/*
		 * The rows inserted on disk went in as inserts do, each with a kept
		 * link from the tree if a neighbour had room; link any left out, as
		 * VACUUM does.
		 */
		int64		linked = HnswRelinkKeptTree(&bs.info, true);

		if (linked > 0)
			elog(DEBUG1, "embedding_hnsw build linked " INT64_FORMAT " element(s) into the tree of kept links", linked);
	}
	if (bs.graphCtx)
		MemoryContextDelete(bs.graphCtx);
	MemoryContextDelete(bs.tmpCtx);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* the init fork of an unlogged index: an empty metapage */
void
ehnswbuildempty(Relation index)
{
	Buffer		buf = HnswNewBuffer(index, INIT_FORKNUM);
	Page		page = BufferGetPage(buf);
	HnswMetaPageData meta;
	int			dims = TupleDescAttr(index->rd_att, 0)->atttypmod;
	int			m = HnswGetM(index);

	MemSet(&meta, 0, sizeof(meta));
	meta.magic = HNSW_MAGIC;
	meta.version = HNSW_VERSION;
	meta.dims = dims;
	meta.m = m;
	meta.efConstruction = HnswGetEfConstruction(index);
	meta.metric = HnswGetMetric(index);
	meta.maxLevel = HnswMaxLevelFor(m, dims);
	meta.entryLevel = -1;
	ItemPointerSetInvalid(&meta.entry);
	meta.insertPage = HNSW_HEAD_BLKNO;

	START_CRIT_SECTION();
	HnswInitPage(page);
	memcpy(PageGetContents(page), &meta, sizeof(meta));
	((PageHeader) page)->pd_lower = ((char *) PageGetContents(page) + sizeof(meta)) - (char *) page;
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);

	/* and the empty head page inserts go to */
	buf = HnswNewBuffer(index, INIT_FORKNUM);
	START_CRIT_SECTION();
	HnswInitPage(BufferGetPage(buf));
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}
