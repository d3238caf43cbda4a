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
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "embedding/embedding.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * What the neighbour heuristic made of a link the last time its list was
 * pruned: selected (no nearer selected member is closer to it than the
 * list's owner), pruned (kept only to fill the list), or unknown (appended
 * to a list with room, never checked).  A list whose members all have a
 * known state takes a newcomer with a few distances to the newcomer instead
 * of the heuristic's distances between all pairs of members.
 */
#define LINK_UNKNOWN	0
#define LINK_SELECTED	1
#define LINK_PRUNED		2

#define PHASE_LOAD	2
#define PHASE_WRITE 3
#define PHASE_DISK	4

typedef struct BuildElement
{
	ItemPointerData heaptid;
	ItemPointerData tid;		/* assigned when written */
	int			level;
	int32	   *nbr;			/* HnswSlots(m, level) element numbers, -1 empty */
	float	   *ndist;
	uint8	   *nsel;			/* per slot: LINK_UNKNOWN, LINK_SELECTED, LINK_PRUNED */
	float	   *vec;
} BuildElement;

typedef struct BuildState
{
	Relation	heap;
	Relation	index;
	HnswInfo	info;
	MemoryContext graphCtx;
	MemoryContext tmpCtx;
	BuildElement *elems;
	int			n;
	int			cap;
	int			entry;
	int			entryLevel;
	Size		memUsed;
	Size		memLimit;
	bool		onDisk;			/* past the in-memory phase */
	double		indtuples;
	double		reltuples;
	/* search scratch: visit stamps per element */
	uint32	   *stamp;
	uint32		curStamp;
	float	   *qbuf;
} BuildState;

/* a (distance, element) pair in a build heap */
typedef struct Pair
{
	float		d;
	int32		id;
} Pair;

typedef struct PairHeap
{
	Pair	   *items;
	int			n;
	int			cap;
	bool		max;
} PairHeap;

static inline bool
PairAbove(const PairHeap *h, Pair a, Pair b)
{
	return h->max ? a.d > b.d : a.d < b.d;
}

static void
PairPush(PairHeap *h, Pair p)
{
	int			i;

	if (h->n == h->cap)
	{
		h->cap *= 2;
		h->items = repalloc(h->items, sizeof(Pair) * h->cap);
	}
	i = h->n++;
	while (i > 0 && PairAbove(h, p, h->items[(i - 1) / 2]))
	{
		h->items[i] = h->items[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->items[i] = p;
}

static Pair
PairPop(PairHeap *h)
{
	Pair		top = h->items[0];
	Pair		last = h->items[--h->n];
	int			i = 0;

	for (;;)
	{
		int			l = 2 * i + 1;
		int			best;

		if (l >= h->n)
			break;
		best = (l + 1 < h->n && PairAbove(h, h->items[l + 1], h->items[l])) ? l + 1 : l;
		if (!PairAbove(h, h->items[best], last))
			break;
		h->items[i] = h->items[best];
		i = best;
	}
	if (h->n > 0)
		h->items[i] = last;
	return top;
}

static int
PairCmp(const void *a, const void *b)
{
	float		da = ((const Pair *) a)->d;
	float		db = ((const Pair *) b)->d;

	return (da > db) - (da < db);
}

/* distance between two build elements' vectors */
static inline float
Dist(BuildState *bs, const float *a, const float *b)
{
	return HnswDistance(bs->info.metric, bs->info.dims, a, b);
}

/* search one level in memory; result sorted ascending in *out, count returned */
static int
SearchLayerMem(BuildState *bs, const float *q, int ep, float epDist, int ef, int lc, Pair **out)
{
	PairHeap	cand,
				res;
	int			m = bs->info.m;

	if (++bs->curStamp == 0)
	{
		memset(bs->stamp, 0, sizeof(uint32) * bs->cap);
		bs->curStamp = 1;
	}
	cand.cap = 64;
	cand.items = palloc(sizeof(Pair) * cand.cap);
	cand.n = 0;
	cand.max = false;
	res.cap = ef + 2;
	res.items = palloc(sizeof(Pair) * res.cap);
	res.n = 0;
	res.max = true;

	bs->stamp[ep] = bs->curStamp;
	PairPush(&cand, (Pair) {epDist, ep});
	PairPush(&res, (Pair) {epDist, ep});
	while (cand.n > 0)
	{
		Pair		c = PairPop(&cand);
		BuildElement *ce = &bs->elems[c.id];
		int32	   *nbr;
		int			slots;

		if (res.n >= ef && c.d > res.items[0].d)
			break;
		nbr = ce->nbr + HnswLevelStart(m, lc);
		slots = HnswLevelSlots(m, lc);
		for (int i = 0; i < slots && nbr[i] >= 0; i++)
		{
			int32		e = nbr[i];
			float		d;

			if (bs->stamp[e] == bs->curStamp)
				continue;
			bs->stamp[e] = bs->curStamp;
			d = Dist(bs, q, bs->elems[e].vec);
			if (res.n < ef || d < res.items[0].d)
			{
				PairPush(&cand, (Pair) {d, e});
				PairPush(&res, (Pair) {d, e});
				if (res.n > ef)
					PairPop(&res);
			}
		}
	}
	pfree(cand.items);
	qsort(res.items, res.n, sizeof(Pair), PairCmp);
	*out = res.items;
	return res.n;
}

/* the heuristic over sorted pairs; writes kept pairs to chosen, returns count */
static int
SelectMem(BuildState *bs, const Pair *cands, int n, int max, Pair *chosen)
{
	int			k = 0;

	for (int i = 0; i < n && k < max; i++)
	{
		bool		keep = true;
		const float *v = bs->elems[cands[i].id].vec;

		for (int j = 0; j < k && keep; j++)
			if (Dist(bs, v, bs->elems[chosen[j].id].vec) < cands[i].d)
				keep = false;
		if (keep)
			chosen[k++] = cands[i];
	}
	return k;
}

/*
 * The heuristic's verdict on each of the n sorted candidates of element
 * owner's list on level lc, one of which (at ie) is the newcomer e; at most
 * max are selected.  Writes LINK_SELECTED / LINK_PRUNED to st.  With every
 * other candidate's state known from the list's last pruning, only the
 * newcomer's distances to selected members are needed: members nearer than
 * the newcomer keep their state; after it, a selected member stays selected
 * unless the newcomer is closer to it than the owner, and a pruned one can
 * only change once some member was unselected (then it is checked again).
 */
static void
PruneStates(BuildState *bs, const Pair *cands, const uint8 *known, int n, int ie, int max, uint8 *st)
{
	bool		allKnown = true;
	int			sel[HNSW_MAX_M * 2 + 1];
	int			k = 0;
	bool		eSel = false;
	bool		removed = false;
	const float *ev = bs->elems[cands[ie].id].vec;

	for (int i = 0; i < n && allKnown; i++)
		allKnown = i == ie || known[i] != LINK_UNKNOWN;
	for (int i = 0; i < n; i++)
	{
		const float *v = bs->elems[cands[i].id].vec;
		bool		keep;

		st[i] = LINK_PRUNED;
		if (k == max)
			continue;
		if (!allKnown || (i > ie && removed && known[i] == LINK_PRUNED) || i == ie)
		{
			/* the heuristic proper: against every member selected so far */
			keep = true;
			for (int j = 0; j < k && keep; j++)
				if (Dist(bs, v, bs->elems[cands[sel[j]].id].vec) < cands[i].d)
					keep = false;
			if (i == ie)
				eSel = keep;
		}
		else if (i < ie || !eSel || known[i] == LINK_PRUNED)
			keep = known[i] == LINK_SELECTED;
		else
		{
			/* selected before the newcomer came: only the newcomer can unselect it */
			keep = Dist(bs, v, ev) >= cands[i].d;
			removed |= !keep;
		}
		if (keep)
		{
			st[i] = LINK_SELECTED;
			sel[k++] = i;
		}
	}
}

/* link element n to newcomer e on level lc, pruning a full list; force: e must get in */
static bool
BackLinkMem(BuildState *bs, int n, int e, float d, int lc, bool force)
{
	int			m = bs->info.m;
	BuildElement *ne = &bs->elems[n];
	int32	   *nbr = ne->nbr + HnswLevelStart(m, lc);
	float	   *nd = ne->ndist + HnswLevelStart(m, lc);
	uint8	   *ns = ne->nsel + HnswLevelStart(m, lc);
	int			slots = HnswLevelSlots(m, lc);
	int			used = 0;
	float		maxd = -1;
	Pair		cands[HNSW_MAX_M * 2 + 1];
	uint8		known[HNSW_MAX_M * 2 + 1];
	uint8		st[HNSW_MAX_M * 2 + 1];
	int			order[HNSW_MAX_M * 2 + 1];
	int			idx[HNSW_MAX_M * 2 + 1];
	int			k = 0;
	int			ie = -1;
	bool		kept = false;

	while (used < slots && nbr[used] >= 0)
	{
		maxd = Max(maxd, nd[used]);
		used++;
	}
	for (int i = 0; i < used; i++)
		if (nbr[i] == e)
			return true;
	if (used < slots)
	{
		nbr[used] = e;
		nd[used] = d;
		ns[used] = LINK_UNKNOWN;
		return true;
	}
	/* farther than every member: the heuristic would rarely keep it */
	if (d >= maxd && !force)
		return false;
	/* members and newcomer, nearest first (insertion sort: the list is short) */
	for (int i = 0; i <= slots; i++)
	{
		Pair		p = i < slots ? (Pair) {nd[i], nbr[i]} : (Pair) {d, e};
		int			j = i;

		while (j > 0 && cands[j - 1].d > p.d)
		{
			cands[j] = cands[j - 1];
			order[j] = order[j - 1];
			j--;
		}
		cands[j] = p;
		order[j] = i;
	}
	for (int i = 0; i <= slots; i++)
	{
		known[i] = order[i] < slots ? ns[order[i]] : LINK_UNKNOWN;
		if (order[i] == slots)
			ie = i;
	}
	PruneStates(bs, cands, known, slots + 1, ie, slots, st);
	for (int i = 0; i <= slots; i++)
		if (st[i] == LINK_SELECTED)
			idx[k++] = i;
	/* as on disk: the list never shrinks; pruned candidates fill it, nearest first */
	k = HnswFillPruned(k, idx, slots + 1, slots);
	for (int i = 0; i < k; i++)
		kept |= idx[i] == ie;
	if (!kept && !force)
		return false;
	if (!kept)
	{
		/* the newcomer takes the farthest member's place, its state unknown */
		int			last = slots;

		while (last >= 0 && last == ie)
			last--;
		for (int i = 0; i < k; i++)
			if (idx[i] == last)
				idx[i] = ie;
		st[ie] = LINK_UNKNOWN;
	}
	for (int i = 0; i < slots; i++)
	{
		nbr[i] = i < k ? cands[idx[i]].id : -1;
		nd[i] = i < k ? cands[idx[i]].d : 0;
		ns[i] = i < k ? st[idx[i]] : LINK_UNKNOWN;
	}
	/* the member left out may have lost its last way in: the newcomer links to it if it has room */
	for (int i = 0; i <= slots; i++)
	{
		bool		taken = false;

		for (int j = 0; j < k && !taken; j++)
			taken = idx[j] == i;
		if (!taken && i != ie)
		{
			int32	   *enbr = bs->elems[e].nbr + HnswLevelStart(m, lc);
			float	   *end = bs->elems[e].ndist + HnswLevelStart(m, lc);
			uint8	   *ens = bs->elems[e].nsel + HnswLevelStart(m, lc);
			int			used = 0;
			bool		present = false;

			while (used < slots && enbr[used] >= 0)
				present |= enbr[used++] == cands[i].id;
			if (!present && used < slots)
			{
				enbr[used] = cands[i].id;
				end[used] = Dist(bs, bs->elems[e].vec, bs->elems[cands[i].id].vec);
				ens[used] = LINK_UNKNOWN;
			}
		}
	}
	return true;
}

/* add element id to the in-memory graph */
static void
InsertMem(BuildState *bs, int id)
{
	BuildElement *el = &bs->elems[id];
	int			m = bs->info.m;
	int			ep = bs->entry;
	float		epDist;
	int			top;

	if (bs->entry < 0)
	{
		bs->entry = id;
		bs->entryLevel = el->level;
		return;
	}
	epDist = Dist(bs, el->vec, bs->elems[ep].vec);
	/* greedy descent through the levels above the element's */
	for (int lc = bs->entryLevel; lc > el->level; lc--)
	{
		bool		changed = true;

		while (changed)
		{
			int32	   *nbr = bs->elems[ep].nbr + HnswLevelStart(m, lc);

			changed = false;
			for (int i = 0; i < HnswLevelSlots(m, lc) && nbr[i] >= 0; i++)
			{
				float		d = Dist(bs, el->vec, bs->elems[nbr[i]].vec);

				if (d < epDist)
				{
					epDist = d;
					ep = nbr[i];
					changed = true;
				}
			}
		}
	}
	top = Min(el->level, bs->entryLevel);
	for (int lc = top; lc >= 0; lc--)
	{
		Pair	   *w;
		Pair		chosen[HNSW_MAX_M * 2];
		int			nw = SearchLayerMem(bs, el->vec, ep, epDist, bs->info.efConstruction, lc, &w);
		int			k = SelectMem(bs, w, nw, HnswLevelSlots(m, lc), chosen);
		int			start = HnswLevelStart(m, lc);

		for (int i = 0; i < k; i++)
		{
			el->nbr[start + i] = chosen[i].id;
			el->ndist[start + i] = chosen[i].d;
			el->nsel[start + i] = LINK_SELECTED;
		}
		{
			bool		linked = false;

			for (int i = 0; i < k; i++)
				linked |= BackLinkMem(bs, chosen[i].id, id, chosen[i].d, lc, false);
			/* on level 0 at least one neighbour must take the newcomer */
			if (!linked && lc == 0 && k > 0)
				BackLinkMem(bs, chosen[0].id, id, chosen[0].d, 0, true);
		}
		ep = w[0].id;
		epDist = w[0].d;
		pfree(w);
	}
	if (el->level > bs->entryLevel)
	{
		bs->entry = id;
		bs->entryLevel = el->level;
	}
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

	for (int i = 0; i < bs->n; i++)
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

/*
 * Give every element one kept level-0 link in (HNSW_LINK_KEPT, see hnsw.h):
 * the first link into it found in element order.  An element nothing links
 * to (the heuristic can leave one so) gets a link from its nearest
 * neighbour, in a free slot or in place of that neighbour's farthest link
 * that is not itself kept.  keptOwner[e], keptSlot[e]: the slot holding e's
 * kept link, or -1.
 */
static void
AssignKeptLinks(BuildState *bs, int32 *keptOwner, int16 *keptSlot)
{
	int			slots = HnswLevelSlots(bs->info.m, 0);
	bool	   *linked = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * Max(bs->n, 1));

	for (int i = 0; i < bs->n; i++)
	{
		keptOwner[i] = keptSlot[i] = -1;
		linked[i] = false;
	}
	for (int i = 0; i < bs->n; i++)
	{
		int			nkept = 0;

		for (int s = 0; s < slots && bs->elems[i].nbr[s] >= 0; s++)
		{
			int32		t = bs->elems[i].nbr[s];

			linked[t] = true;
			if (keptOwner[t] < 0 && nkept < HnswMaxKept(slots))
			{
				keptOwner[t] = i;
				keptSlot[t] = s;
				nkept++;
			}
		}
	}
	for (int e = 0; e < bs->n; e++)
	{
		BuildElement *el = &bs->elems[e];
		int			owner = -1;
		float		od = 0;
		BuildElement *ow;
		int			slot = -1;

		/* linked but every linking list is half kept already: reachable, left so */
		if (keptOwner[e] >= 0 || linked[e] || e == bs->entry)
			continue;
		for (int s = 0; s < slots && el->nbr[s] >= 0; s++)
			if (owner < 0 || el->ndist[s] < od)
			{
				owner = el->nbr[s];
				od = el->ndist[s];
			}
		if (owner < 0)
			continue;			/* a lone element: the graph has one element */
		ow = &bs->elems[owner];
		for (int s = 0; s < slots && slot < 0; s++)
			if (ow->nbr[s] < 0)
				slot = s;
		if (slot < 0)
		{
			for (int s = 0; s < slots; s++)
			{
				int32		t = ow->nbr[s];

				if (keptOwner[t] == owner && keptSlot[t] == s)
					continue;
				if (slot < 0 || ow->ndist[s] > ow->ndist[slot])
					slot = s;
			}
		}
		if (slot < 0)
			continue;			/* every slot is kept: cannot happen with one kept link per element */
		ow->nbr[slot] = e;
		ow->ndist[slot] = od;
		/* a link, kept only while the owner's list has room for kept links */
		{
			int			nkept = 0;

			for (int s = 0; s < slots; s++)
				if (ow->nbr[s] >= 0 && keptOwner[ow->nbr[s]] == owner && keptSlot[ow->nbr[s]] == s)
					nkept++;
			if (nkept < HnswMaxKept(slots))
			{
				keptOwner[e] = owner;
				keptSlot[e] = slot;
			}
		}
		linked[e] = true;
	}
	pfree(linked);
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
	int32	   *keptOwner = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(bs->n, 1));
	int16	   *keptSlot = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int16) * Max(bs->n, 1));

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
	AssignKeptLinks(bs, keptOwner, keptSlot);
	last = AssignTids(bs, HNSW_HEAD_BLKNO);
	HnswInitPage(image);
	for (int i = 0; i < bs->n; i++)
	{
		BuildElement *el = &bs->elems[i];
		Size		sz = HnswTupleSize(m, el->level, bs->info.dims);

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
			if (el->nbr[s] >= 0)
			{
				tup->neighbors[s].tid = bs->elems[el->nbr[s]].tid;
				tup->neighbors[s].distance = el->ndist[s];
				if (keptOwner[el->nbr[s]] == i && keptSlot[el->nbr[s]] == s)
					tup->neighbors[s].flags = HNSW_LINK_KEPT;
			}
			else
				ItemPointerSetInvalid(&tup->neighbors[s].tid);
		}
		memcpy(HnswTupleVector(tup, m), el->vec, sizeof(float) * bs->info.dims);
		{
			OffsetNumber got = PageAddItem(image, (Item) tup, sz, InvalidOffsetNumber, false, false);

			if (got != ItemPointerGetOffsetNumber(&el->tid))
				elog(ERROR, "embedding_hnsw build placed element %d at (%u,%u), expected (%u,%u), size %zu, free %zu",
					 i, cur, got, ItemPointerGetBlockNumber(&el->tid), ItemPointerGetOffsetNumber(&el->tid), sz,
					 PageGetFreeSpace(image));
		}
	}
	if (bs->n > 0)
		FlushPage(bs, image, cur);
	else
	{
		/* an empty index still has a page for inserts */
		FlushPage(bs, image, HNSW_HEAD_BLKNO);
		last = HNSW_HEAD_BLKNO;
	}

	HnswReadMeta(bs->index, &meta);
	meta.insertPage = last;
	meta.elements = bs->n;
	meta.entryLevel = bs->entry >= 0 ? bs->entryLevel : -1;
	if (bs->entry >= 0)
		meta.entry = bs->elems[bs->entry].tid;
	else
		ItemPointerSetInvalid(&meta.entry);
	HnswWriteMeta(bs->index, &meta, false, false);
	pfree(image);
	pfree(tup);
	pfree(keptOwner);
	pfree(keptSlot);
}

/* leave the in-memory phase: write the graph out and insert the rest on disk */
static void
SpillToDisk(BuildState *bs)
{
	ereport(NOTICE,
			(errmsg("embedding_hnsw graph no longer fits into maintenance_work_mem after %d tuples", bs->n),
			 errdetail("Building will take significantly more time."),
			 errhint("Increase maintenance_work_mem to speed up builds.")));
	WriteGraph(bs);
	bs->onDisk = true;
	HnswInitInfo(&bs->info, bs->index);
	MemoryContextDelete(bs->graphCtx);
	bs->graphCtx = NULL;
	bs->elems = NULL;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_DISK);
}

/* take one heap tuple into the graph */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	BuildState *bs = (BuildState *) state;
	MemoryContext old;
	Embedding  *e;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpCtx);
	e = DatumGetEmbedding(values[0]);
	if (e->dim != bs->info.dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->info.dims, e->dim)));
	if (!HnswPrepareVector(bs->info.metric, e->x, bs->qbuf, bs->info.dims))
	{
		/* a zero vector has no direction: not indexed under cosine */
		MemoryContextSwitchTo(old);
		MemoryContextReset(bs->tmpCtx);
		return;
	}

	if (bs->onDisk)
		HnswInsertElement(&bs->info, bs->qbuf, tid, true);
	else
	{
		int			level = HnswRandomLevel(bs->info.ml, bs->info.maxLevel);
		Size		need = ElementMem(bs, level);
		BuildElement *el;
		int			slots = HnswSlots(bs->info.m, level);

		if (bs->memUsed + need > bs->memLimit && bs->n > 0)
		{
			SpillToDisk(bs);
			HnswInsertElement(&bs->info, bs->qbuf, tid, true);
			goto done;
		}
		MemoryContextSwitchTo(bs->graphCtx);
		if (bs->n == bs->cap)
		{
			bs->cap *= 2;
			bs->elems = repalloc_huge(bs->elems, sizeof(BuildElement) * bs->cap);
			bs->stamp = repalloc_huge(bs->stamp, sizeof(uint32) * bs->cap);
			memset(bs->stamp + bs->cap / 2, 0, sizeof(uint32) * bs->cap / 2);
		}
		el = &bs->elems[bs->n];
		el->heaptid = *tid;
		el->level = level;
		el->vec = palloc(sizeof(float) * bs->info.dims);
		memcpy(el->vec, bs->qbuf, sizeof(float) * bs->info.dims);
		el->nbr = palloc(sizeof(int32) * slots);
		el->ndist = palloc(sizeof(float) * slots);
		el->nsel = palloc0(sizeof(uint8) * slots);
		memset(el->nbr, 0xff, sizeof(int32) * slots);
		bs->memUsed += need;
		MemoryContextSwitchTo(bs->tmpCtx);
		InsertMem(bs, bs->n++);
	}
done:
	bs->indtuples++;
	if ((int64) bs->indtuples % 1000 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpCtx);
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

	bs->heap = heap;
	bs->index = index;
	HnswInitInfo(&bs->info, index);
	bs->graphCtx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw build graph", ALLOCSET_DEFAULT_SIZES);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "embedding_hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
	bs->cap = 1024;
	bs->elems = MemoryContextAllocHuge(bs->graphCtx, sizeof(BuildElement) * bs->cap);
	bs->stamp = MemoryContextAllocHuge(bs->graphCtx, sizeof(uint32) * bs->cap);
	memset(bs->stamp, 0, sizeof(uint32) * bs->cap);
	bs->curStamp = 0;
	bs->qbuf = palloc(sizeof(float) * dims);
	bs->n = 0;
	bs->entry = -1;
	bs->entryLevel = -1;
	bs->memUsed = 0;
	bs->memLimit = (Size) maintenance_work_mem * 1024L;
	bs->onDisk = false;
	bs->indtuples = 0;
}

/* CREATE INDEX / REINDEX */
IndexBuildResult *
ehnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BuildState	bs;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	InitBuild(&bs, heap, index);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
	bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true, BuildCallback, &bs, NULL);
	if (!bs.onDisk)
	{
		WriteGraph(&bs);
		MemoryContextDelete(bs.graphCtx);
	}
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
