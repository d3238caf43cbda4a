/*
 * hnswcore.h
 *		The one HNSW core: the search of a level and its candidate heaps,
 *		served to the in-memory build graph and to the on-disk graph through
 *		a small access interface (HnswGraphOps).
 *
 * The search is written once, here, as an always-inlined function; each
 * graph calls it with a constant table of its own access functions, so the
 * compiler inlines those into the loop (the in-memory build makes no
 * indirect call per neighbour: the build's speed is the reason for this
 * form).  The neighbour-selection heuristic and the rule for re-pruning a
 * full list are in hnswutils.c (HnswSelect, HnswRepruneList,
 * HnswRepruneMembers), over arrays of vectors and distances that both
 * graphs fill.
 */
#ifndef FIRSTSIGHT_HNSWCORE_H
#define FIRSTSIGHT_HNSWCORE_H

#include "hnsw.h"

#include "miscadmin.h"
#include "utils/float.h"

#pragma GCC visibility push(hidden)

/*
 * An element met by a search: its distance to the query and the graph's
 * handle for it (the build's element number; an index into the on-disk
 * search's loaded candidates).
 */
typedef struct HnswItem
{
	float		distance;
	int32		id;
} HnswItem;

/*
 * A binary heap of items, nearest on top (min) or farthest on top (max).
 * (Not lib/binaryheap.h: it calls a comparator through a pointer for every
 * step and cannot grow in PostgreSQL 15; not lib/pairingheap.h: one
 * allocation per item, where a level search pushes a few thousand and the
 * build's time is mostly this loop.  The scan's heap of discarded elements,
 * which lives across searches and is drained in order, is a pairing heap.)
 */
typedef struct HnswHeap
{
	HnswItem   *items;
	int			n;
	int			cap;
	bool		max;
} HnswHeap;

static inline void
HnswHeapInit(HnswHeap *h, int cap, bool max)
{
	h->cap = Max(cap, 16);
	h->items = palloc(sizeof(HnswItem) * h->cap);
	h->n = 0;
	h->max = max;
}

static inline bool
HnswHeapAbove(const HnswHeap *h, HnswItem a, HnswItem b)
{
	return h->max ? a.distance > b.distance : a.distance < b.distance;
}

static inline void
HnswHeapPush(HnswHeap *h, HnswItem it)
{
	int			i;

	if (h->n == h->cap)
	{
		h->cap *= 2;
		h->items = repalloc(h->items, sizeof(HnswItem) * h->cap);
	}
	i = h->n++;
	while (i > 0 && HnswHeapAbove(h, it, h->items[(i - 1) / 2]))
	{
		h->items[i] = h->items[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->items[i] = it;
}

static inline HnswItem
HnswHeapPop(HnswHeap *h)
{
	HnswItem	top = h->items[0];
	HnswItem	last = h->items[--h->n];
	int			i = 0;

	Assert(h->n >= 0);
	for (;;)
	{
		int			l = 2 * i + 1;
		int			best;

		if (l >= h->n)
			break;
		best = (l + 1 < h->n && HnswHeapAbove(h, h->items[l + 1], h->items[l])) ? l + 1 : l;
		if (!HnswHeapAbove(h, h->items[best], last))
			break;
		h->items[i] = h->items[best];
		i = best;
	}
	if (h->n > 0)
		h->items[i] = last;
	return top;
}

/* ascending distance, for qsort */
extern int	HnswItemCmp(const void *a, const void *b);

/* what a graph's visit function made of a neighbour */
#define HNSW_VISIT_SKIP		0	/* nothing for the search (too far, or a stale link below the level) */
#define HNSW_VISIT_LIVE		1	/* a live element: a candidate and a possible result */
#define HNSW_VISIT_WALK		2	/* walked through, never a result (deleted; the build's newcomer itself) */

/*
 * What the search needs from a graph.  g is the graph's own state (with the
 * query in it).
 *
 * neighbors: the level-lc neighbours of the element with handle id that
 * the search has not visited yet, marked visited now; writes up to
 * 2 * HNSW_MAX_M opaque neighbour references to refs and returns how many.
 *
 * visit: the element behind ref (one of the last neighbors call's): fills
 * item (distance to the query, handle) and returns HNSW_VISIT_*; bound is
 * the search's worst result distance when it has ef results, else +inf
 * (the on-disk graph copies nothing of an element no nearer).
 *
 * discard (may be NULL): an element the search met and leaves out of its
 * result; worst is the result's worst distance now.
 */
typedef struct HnswGraphOps
{
	int			(*neighbors) (void *g, int32 id, int lc, int32 *refs);
	int			(*visit) (void *g, int32 ref, int lc, float bound, HnswItem *item);
	void		(*discard) (void *g, const HnswItem *item, float worst);
} HnswGraphOps;

/*
 * Search one level from the entries (already marked visited; walk[i]: entry
 * i is walked through, never a result) for the ef live elements nearest to
 * the query: best-first expansion of candidates, a candidate farther than
 * the worst of ef results ends the search.  The results are left in res (a
 * max-heap, unsorted).  A walked-through element is expanded as if it were
 * as near as the element that led to it, at most ef of them per search:
 * deleted elements linked to each other all seem that near, and once more
 * than about one link in 2m leads to one (a VACUUM deleting a tenth of a
 * 32-d index) they form one component that a search flooded whole (4,132
 * repair searches took 25 s).
 */
static pg_attribute_always_inline void
HnswSearchLayerCore(const HnswGraphOps *ops, void *g, const HnswItem *entries, const bool *walk,
					int nentries, int ef, int lc, HnswHeap *res)
{
	HnswHeap	cand;
	int32		refs[HNSW_MAX_M * 2];
	int			bridges = 0;

	Assert(ef >= 1);
	HnswHeapInit(&cand, Max(ef * 2, nentries), false);
	HnswHeapInit(res, Max(ef, nentries) + 2, true);
	for (int i = 0; i < nentries; i++)
	{
		HnswHeapPush(&cand, entries[i]);
		if (!walk[i])
			HnswHeapPush(res, entries[i]);
	}
	while (res->n > ef)
	{
		HnswItem	d = HnswHeapPop(res);

		if (ops->discard)
			ops->discard(g, &d, res->items[0].distance);
	}

	while (cand.n > 0)
	{
		HnswItem	c = HnswHeapPop(&cand);
		int			nrefs;

		if (res->n >= ef && c.distance > res->items[0].distance)
			break;
		CHECK_FOR_INTERRUPTS();
		nrefs = ops->neighbors(g, c.id, lc, refs);
		Assert(nrefs >= 0 && nrefs <= HNSW_MAX_M * 2);
		for (int i = 0; i < nrefs; i++)
		{
			HnswItem	e;
			float		bound = res->n < ef ? get_float4_infinity() : res->items[0].distance;

			switch (ops->visit(g, refs[i], lc, bound, &e))
			{
				case HNSW_VISIT_SKIP:
					continue;
				case HNSW_VISIT_WALK:
					if (bridges++ >= ef)
						continue;
					e.distance = c.distance;
					HnswHeapPush(&cand, e);
					continue;
				default:
					break;
			}
			if (res->n < ef || e.distance < res->items[0].distance)
			{
				HnswHeapPush(&cand, e);
				HnswHeapPush(res, e);
				if (res->n > ef)
				{
					HnswItem	d = HnswHeapPop(res);

					if (ops->discard)
						ops->discard(g, &d, res->items[0].distance);
				}
			}
			else if (ops->discard)
				ops->discard(g, &e, res->items[0].distance);
		}
	}
	pfree(cand.items);
}

/*
 * The neighbour-selection heuristic and the re-pruning of a full list, for
 * both graphs (hnswutils.c).  Candidates are given nearest first by their
 * distance to the list's owner (dist) and their vectors (vecs).
 */

/* the heuristic's verdict on a link, kept with the build's lists */
#define HNSW_LINK_UNKNOWN	0	/* appended to a list with room, never checked */
#define HNSW_LINK_SELECTED	1	/* no nearer selected member is closer to it than the owner */
#define HNSW_LINK_PRUNED	2	/* kept only to fill the list */

extern int	HnswSelect(HnswMetric metric, int dims, const float *const *vecs, const float *dist,
					   const uint8 *known, int n, int ie, int max, uint8 *st, int *chosen);

/* what HnswReprune decided for a full list and a newcomer */
typedef struct HnswReprune
{
	int			nchosen;		/* candidates that stay in the list, chosen[] */
	int			chosen[HNSW_MAX_M * 2 + 1];
	uint8		st[HNSW_MAX_M * 2 + 1]; /* HNSW_LINK_* of each candidate */
	bool		newcomerIn;		/* the newcomer is among the chosen */
	int			leftOut;		/* the candidate left out (not the newcomer), or -1 */
} HnswReprune;

extern bool HnswRepruneList(HnswMetric metric, int dims, const float *const *vecs, const float *dist,
							const uint8 *known, int n, int ie, int max, bool force, HnswReprune *r);

/*
 * A full list's members as HnswRepruneMembers sees them, by slot: distance
 * to the owner, vector, the heuristic's last verdict (known, may be NULL:
 * the on-disk graph keeps none) and whether the member stays whatever the
 * re-pruning decides (skip, may be NULL: the on-disk graph's kept links).
 */
typedef struct HnswListMembers
{
	int			n;
	const float *dist;
	const float *const *vecs;
	const uint8 *known;
	const bool *skip;
} HnswListMembers;

extern bool HnswRepruneMembers(HnswMetric metric, int dims, const HnswListMembers *lm, float newDist,
							   const float *newVec, bool force, HnswReprune *r, int *order);

/*
 * The insert of one element, for both graphs (HnswInsertCore in
 * hnswinsert.c): level search and neighbour selection on each level from
 * the top down, the element's own lists, then the links back to it with the
 * rules of level 0 (some finished neighbour must take it; on disk, one of
 * them keeps it: the tree of kept links).  Each graph gives its own access;
 * g is its state, with the newcomer and its vector.  Handles are the
 * graph's (the build's element numbers; the on-disk insert's loaded
 * elements).  The per-level work is in the search (HnswSearchLayerCore,
 * inlined per graph): these are called a few times per level.
 *
 * begin: the entry point and its level (locks taken); false when the graph
 * is empty.  search: the ef elements of level lc nearest the newcomer from
 * the entries, ascending, in *out; how many.  vector: an element's vector.
 * setList: the newcomer's level-lc list, w[chosen[0..k-1]].  write (may be
 * NULL): put the newcomer where the others can link to it.  backLink: a
 * link from n to the newcomer (HnswAddBackLink's force and keep; returns
 * HNSW_BACKLINK_*).  finished (may be NULL: all are): n's own insert has
 * finished.  keepsLinks: level-0 back-links make the newcomer's kept link
 * (on disk; the build grows the tree when it writes the graph).
 * keepFromDescendants (with keepsLinks): the last way to a kept link, down
 * the kept links from w.  end: the new entry point when level is above
 * entryLevel; locks released.
 */
typedef struct HnswInsertOps
{
	bool		(*begin) (void *g, int level, HnswItem *entry, int *entryLevel);
	int			(*search) (void *g, const HnswItem *entries, int nentries, int ef, int lc, HnswItem **out);
	const float *(*vector) (void *g, int32 id);
	void		(*setList) (void *g, int lc, const HnswItem *w, const int *chosen, int k);
	void		(*write) (void *g);
	int			(*backLink) (void *g, const HnswItem *n, int lc, bool force, int keep);
	bool		(*finished) (void *g, int32 id);
	bool		keepsLinks;
	bool		(*keepFromDescendants) (void *g, const HnswItem *w, int n);
	void		(*end) (void *g, int level, int entryLevel);
} HnswInsertOps;

extern void HnswInsertCore(const HnswInsertOps *ops, void *g, const HnswInfo *info, int level);

/*
 * The build's level-0 lists as its builder of the kept-link tree sees them
 * (HnswBuildKeptTree in hnswtree.c): the build's slot arrays (element
 * numbers, -1 empty; distances; heuristic verdicts), where element e's
 * level-0 list starts in them (list0), and the distance between two
 * elements.  g is the build's state.
 */
typedef struct HnswMemLists
{
	void	   *g;
	int			n;				/* elements */
	int			entry;			/* the entry point, -1: none */
	int			slots;			/* of a level-0 list */
	int32	   *nbr;
	float	   *nd;
	uint8	   *ns;
	Size		(*list0) (void *g, int32 e);
	float		(*distance) (void *g, int32 a, int32 b);
} HnswMemLists;

extern void HnswBuildKeptTree(const HnswMemLists *ml, int32 *keptOwner, int16 *keptSlot);

#pragma GCC visibility pop

#endif
