/*
 * hnswutils.c
 *		Pages, element tuples, distances, the visited set, layer search,
 *		neighbour selection and on-disk insertion of embedding_hnsw.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/pg_prng.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "simd/simd.h"
#include "storage/buf_internals.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/rel.h"

/* fill in what searches need from the index's metapage and options */
void
HnswInitInfo(HnswInfo *info, Relation index)
{
	HnswMetaPageData meta;

	HnswReadMeta(index, &meta);
	info->index = index;
	info->m = meta.m;
	info->efConstruction = meta.efConstruction;
	info->dims = meta.dims;
	info->metric = (HnswMetric) meta.metric;
	info->maxLevel = meta.maxLevel;
	info->ml = 1.0 / log((double) info->m);
}

/* the highest level an element may have so that its tuple fits a page */
int
HnswMaxLevelFor(int m, int dims)
{
	Size		room = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - sizeof(ItemIdData) - 16;
	int			level = -1;

	while (level < HNSW_MAX_LEVEL && MAXALIGN(HnswTupleSize(m, level + 1, dims)) <= room)
		level++;
	return level;
}

/* a random level with P(level >= l) = m^-l */
int
HnswRandomLevel(double ml, int maxLevel)
{
	double		r = pg_prng_double(&pg_global_prng_state);
	int			level;

	if (r <= 0)
		r = 1e-12;
	level = (int) floor(-log(r) * ml);
	return Min(level, maxLevel);
}

/*
 * copy a value for the index; cosine stores unit vectors; false for a zero
 * vector under cosine.  The norm is taken in double: in float4, |v|^2 of
 * [3e38] overflows and the "unit" vector would be all zeros, and that of a
 * vector of denormals underflows to 0.
 */
bool
HnswPrepareVector(HnswMetric metric, const float *in, float *out, int dims)
{
	double		norm;

	memcpy(out, in, sizeof(float) * dims);
	if (metric != HNSW_METRIC_COSINE)
		return true;
	norm = sqrt(FsNormSquaredDouble(dims, out));
	if (norm == 0 || !isfinite(norm))
		return false;
	for (int i = 0; i < dims; i++)
		out[i] = (float) (out[i] / norm);
	return true;
}

/*
 * A distance computed in double, as a float4 that keeps its order.  Up to
 * 2^127 it is the distance itself; above, where float4 runs out (the squared
 * distance of [3e38] and [-3e38] is 3.6e77), it is 2^127 * (1 + (log2|d| -
 * 127) / 256): still increasing in |d|, below FLT_MAX (2^128) for every
 * distance of vectors of at most HNSW_MAX_DIM finite float4 elements (|d| <
 * 2^272), and about 32,000 steps per doubling apart.
 */
static float
HnswWideToFloat(double d)
{
	double		a = fabs(d);
	double		r;

	if (a <= 0x1p127)
		return (float) d;
	r = 0x1p127 * (1.0 + (log2(a) - 127.0) / 256.0);
	Assert(r < (double) FLT_MAX);
	return (float) (d < 0 ? -r : r);
}

/* HnswDistance in double, for the distances float4 cannot hold */
static float
HnswDistanceWide(HnswMetric metric, int dims, const float *a, const float *b)
{
	double		d = 0;

	for (int i = 0; i < dims; i++)
	{
		if (metric == HNSW_METRIC_L2)
		{
			double		diff = (double) a[i] - (double) b[i];

			d += diff * diff;
		}
		else if (metric == HNSW_METRIC_L1)
			d += fabs((double) a[i] - (double) b[i]);
		else
			d += (double) a[i] * (double) b[i];
	}
	if (metric == HNSW_METRIC_IP)
		d = -d;
	else if (metric == HNSW_METRIC_COSINE)
		d = 1.0 - d;
	return HnswWideToFloat(d);
}

/*
 * The distance the graph is ordered by (smaller is closer).  Any value the
 * type accepts may overflow float4 here (|[3e38] - [-3e38]|^2, or the dot
 * product of two large vectors, which may even be inf - inf): the float4
 * kernels then say +inf or NaN, and every such element would tie with every
 * other (pgvector's +inf), so that the inserts all link to the same few
 * elements, and NaN compares false to everything.  Such a distance, or one
 * above 2^127, is taken again in double and mapped into float4 in order
 * (HnswWideToFloat): never inf, never NaN, for any two vectors of finite
 * elements.  Ordinary data never takes that path.
 */
float
HnswDistance(HnswMetric metric, int dims, const float *a, const float *b)
{
	float		d = 0;

	switch (metric)
	{
		case HNSW_METRIC_L2:
			d = fs_kernels->l2sq(dims, a, b);
			break;
		case HNSW_METRIC_IP:
			d = -fs_kernels->dot(dims, a, b);
			break;
		case HNSW_METRIC_COSINE:
			d = 1.0f - fs_kernels->dot(dims, a, b);
			break;
		case HNSW_METRIC_L1:
			d = fs_kernels->l1(dims, a, b);
			break;
	}
	/* also true for NaN */
	if (unlikely(!(fabsf(d) <= 0x1p127f)))
		d = HnswDistanceWide(metric, dims, a, b);
	return d;
}

/* read the metapage */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = HnswReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage m;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	m = (HnswMetaPage) PageGetContents(BufferGetPage(buf));
	if (m->magic != HNSW_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid embedding_hnsw index", RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
	if (m->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has version %u, this build reads version %d",
						RelationGetRelationName(index), m->version, HNSW_VERSION),
				 errhint("REINDEX the index.")));
	*meta = *m;
	UnlockReleaseBuffer(buf);
}

/* initialise an empty index page */
void
HnswInitPage(Page page)
{
	PageInit(page, BLCKSZ, 0);
}

/* write the metapage (a new page for a build, else an update) */
void
HnswWriteMeta(Relation index, HnswMetaPageData *meta, bool wal, bool newPage)
{
	Buffer		buf;
	Page		page;
	GenericXLogState *state = NULL;

	if (newPage)
		buf = HnswNewBuffer(index, MAIN_FORKNUM);
	else
		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	if (!newPage)
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	if (wal)
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, newPage ? GENERIC_XLOG_FULL_IMAGE : 0);
	}
	else
		page = BufferGetPage(buf);
	if (newPage)
		HnswInitPage(page);
	memcpy(PageGetContents(page), meta, sizeof(HnswMetaPageData));
	((PageHeader) page)->pd_lower = ((char *) PageGetContents(page) + sizeof(HnswMetaPageData)) - (char *) page;
	if (wal)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* a new, exclusively locked page at the end of a fork */
Buffer
HnswNewBuffer(Relation index, ForkNumber fork)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/*
 * The visited set: open addressing over packed TIDs.  Element TIDs are never
 * zero (block 0 is the metapage), so zero marks an empty slot.
 */
struct HnswVisited
{
	uint64	   *slots;
	uint32		mask;
	uint32		count;
	MemoryContext cxt;			/* where it grows: a scan's set outlives its searches' contexts */
};

/* an empty set sized for about expected members */
HnswVisited *
HnswVisitedCreate(int expected)
{
	HnswVisited *v = palloc(sizeof(HnswVisited));
	uint32		size = 64;

	while (size < (uint32) expected * 2)
		size <<= 1;
	v->slots = palloc0(sizeof(uint64) * size);
	v->mask = size - 1;
	v->count = 0;
	v->cxt = CurrentMemoryContext;
	return v;
}

static inline uint64
PackTid(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) | ItemPointerGetOffsetNumberNoCheck(tid);
}

static inline uint32
HashKey(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

/* grow the table when it is half full */
static void
VisitedGrow(HnswVisited *v)
{
	uint64	   *old = v->slots;
	uint32		oldsize = v->mask + 1;

	v->slots = MemoryContextAllocZero(v->cxt, sizeof(uint64) * oldsize * 2);
	v->mask = oldsize * 2 - 1;
	for (uint32 i = 0; i < oldsize; i++)
	{
		if (old[i] != 0)
		{
			uint32		h = HashKey(old[i]) & v->mask;

			while (v->slots[h] != 0)
				h = (h + 1) & v->mask;
			v->slots[h] = old[i];
		}
	}
	pfree(old);
}

/* add a TID; true when it was not there yet */
bool
HnswVisitedAdd(HnswVisited *v, ItemPointer tid)
{
	uint64		k = PackTid(tid);
	uint32		h = HashKey(k) & v->mask;

	while (v->slots[h] != 0)
	{
		if (v->slots[h] == k)
			return false;
		h = (h + 1) & v->mask;
	}
	v->slots[h] = k;
	if (++v->count * 2 > v->mask)
		VisitedGrow(v);
	return true;
}

/* is a TID in the set? */
bool
HnswVisitedContains(HnswVisited *v, ItemPointer tid)
{
	uint64		k = PackTid(tid);
	uint32		h = HashKey(k) & v->mask;

	while (v->slots[h] != 0)
	{
		if (v->slots[h] == k)
			return true;
		h = (h + 1) & v->mask;
	}
	return false;
}

/* the element tuple at tid on a locked page */
static HnswElementTuple
TupleAt(Page page, ItemPointer tid, Relation index)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" links to a missing element (%u,%u)",
						RelationGetRelationName(index), ItemPointerGetBlockNumber(tid), off),
				 errhint("Run firstsight.index_check on the index, then REINDEX it.")));
	return (HnswElementTuple) PageGetItem(page, PageGetItemId(page, off));
}

/*
 * Pin an index page.  A search visits a thousand or more elements, each on a
 * page of its own, and ReadBuffer finds every one of them through the shared
 * buffer mapping table (a hash lookup under a partition lock, the costliest
 * step of a visit).  Each backend remembers in rd_amcache which buffer last
 * held each block and asks ReadRecentBuffer first, which pins that buffer if
 * it still holds the block (checking its tag) and otherwise fails, so the
 * answer is the same as ReadBuffer's.  The array is freed with the relcache
 * entry (REINDEX, TRUNCATE give a new one); temporary indexes skip it.
 */
typedef struct HnswBufferCache
{
	BlockNumber nblocks;		/* entries in buffers */
	Buffer		buffers[FLEXIBLE_ARRAY_MEMBER];
} HnswBufferCache;

/* the buffer that last held blkno in this backend, or InvalidBuffer */
static inline Buffer
RecentBuffer(Relation index, BlockNumber blkno)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;

	return cache != NULL && blkno < cache->nblocks ? cache->buffers[blkno] : InvalidBuffer;
}

Buffer
HnswReadBuffer(Relation index, BlockNumber blkno)
{
	HnswBufferCache *cache = (HnswBufferCache *) index->rd_amcache;
	Buffer		recent = RecentBuffer(index, blkno);
	Buffer		buf;

	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, blkno);
	if (recent != InvalidBuffer &&
#if PG_VERSION_NUM >= 160000
		ReadRecentBuffer(index->rd_locator, MAIN_FORKNUM, blkno, recent)
#else
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, recent)
#endif
		)
		return recent;
	buf = ReadBuffer(index, blkno);
	if (cache == NULL || blkno >= cache->nblocks)
	{
		BlockNumber n = 1024;
		HnswBufferCache *grown;

		while (n <= blkno)
			n *= 2;
		grown = MemoryContextAllocZero(index->rd_indexcxt,
									   offsetof(HnswBufferCache, buffers) + sizeof(Buffer) * n);
		grown->nblocks = n;
		if (cache != NULL)
		{
			memcpy(grown->buffers, cache->buffers, sizeof(Buffer) * cache->nblocks);
			pfree(cache);
		}
		index->rd_amcache = cache = grown;
	}
	cache->buffers[blkno] = buf;
	return buf;
}

/*
 * Ask for the buffer header of the buffer that last held blkno ahead of
 * HnswReadBuffer: pinning reads and changes the header under its spinlock,
 * and headers of a large shared_buffers are rarely in the CPU cache, so the
 * misses of a batch of neighbours overlap instead of stalling one by one.
 */
static inline void
PrefetchBufferHeader(Relation index, BlockNumber blkno)
{
	Buffer		recent = RecentBuffer(index, blkno);

	/* temporary indexes keep no map (their buffers would be negative) */
	if (recent > 0)
		__builtin_prefetch(GetBufferDescriptor(recent - 1));
}

/*
 * The element at tid on the pinned (not locked) buffer buf: its distance to
 * q and its neighbours on level lc.  An element no nearer than bound is of no
 * use to the search: NULL is returned without copying anything (most
 * elements a search meets are such).  The buffer is released.
 */
static HnswCandidate *
LoadCandidateFromBuffer(HnswInfo *info, Buffer buf, ItemPointer tid, const float *q, int lc, float bound,
						float *boundDistance, ItemPointer boundHeaptid)
{
	HnswCandidate *c;
	HnswElementTuple tup;
	float		distance;
	bool		deleted;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = TupleAt(BufferGetPage(buf), tid, info->index);
	deleted = tup->deleted != 0;
	distance = deleted ? get_float4_infinity() :
		HnswDistance(info->metric, info->dims, q, HnswTupleVector(tup, info->m));
	/*
	 * A deleted element is always loaded: the search walks through it (its
	 * vector is gone).  With no bound (+inf) every element is loaded: the
	 * entry point of a search has to be, however far it is.
	 */
	Assert(!isnan(distance));
	if (!deleted && distance >= bound && !isinf(bound))
	{
		/* the caller may keep it for later (an iterative scan's discarded elements) */
		if (boundDistance)
		{
			*boundDistance = distance;
			*boundHeaptid = tup->heaptid;
		}
		UnlockReleaseBuffer(buf);
		return NULL;
	}
	c = palloc(sizeof(HnswCandidate));
	c->tid = *tid;
	c->heaptid = tup->heaptid;
	c->level = tup->level;
	c->deleted = deleted;
	c->distance = distance;
	c->nneighbors = 0;
	c->neighbors = NULL;
	if (lc >= 0 && tup->level >= lc)
	{
		int			start = HnswLevelStart(info->m, lc);
		int			n = HnswLevelSlots(info->m, lc);

		c->neighbors = palloc(sizeof(ItemPointerData) * n);
		for (int i = 0; i < n && ItemPointerIsValid(&tup->neighbors[start + i].tid); i++)
			c->neighbors[c->nneighbors++] = tup->neighbors[start + i].tid;
	}
	UnlockReleaseBuffer(buf);
	return c;
}

/* read one element (see LoadCandidateFromBuffer) */
HnswCandidate *
HnswLoadCandidateBounded(HnswInfo *info, ItemPointer tid, const float *q, int lc, float bound)
{
	return LoadCandidateFromBuffer(info, HnswReadBuffer(info->index, ItemPointerGetBlockNumber(tid)),
								   tid, q, lc, bound, NULL, NULL);
}

/* read one element whatever its distance */
HnswCandidate *
HnswLoadCandidate(HnswInfo *info, ItemPointer tid, const float *q, int lc)
{
	return HnswLoadCandidateBounded(info, tid, q, lc, get_float4_infinity());
}

/* copy the vector of the element at tid */
static void
FetchVector(HnswInfo *info, ItemPointer tid, float *out)
{
	Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(tid));
	HnswElementTuple tup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = TupleAt(BufferGetPage(buf), tid, info->index);
	memcpy(out, HnswTupleVector(tup, info->m), sizeof(float) * info->dims);
	UnlockReleaseBuffer(buf);
}

/* copy an element's level, state, links and (wantVec) vector under a share lock; false: no such offset */
bool
HnswCopyElement(HnswInfo *info, ItemPointer tid, HnswElementCopy *ec, bool wantVec)
{
	Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(tid));
	Page		page;
	HnswElementTuple tup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (ItemPointerGetOffsetNumber(tid) > PageGetMaxOffsetNumber(page))
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(tid)));
	ec->level = tup->level;
	ec->deleted = tup->deleted != 0;
	ec->nslots = HnswSlots(info->m, tup->level);
	ec->nbrs = palloc(sizeof(HnswNeighbor) * ec->nslots);
	memcpy(ec->nbrs, tup->neighbors, sizeof(HnswNeighbor) * ec->nslots);
	ec->vec = NULL;
	if (wantVec)
	{
		ec->vec = palloc(sizeof(float) * info->dims);
		memcpy(ec->vec, HnswTupleVector(tup, info->m), sizeof(float) * info->dims);
	}
	UnlockReleaseBuffer(buf);
	return true;
}

/* binary heap of candidates; max-heap when max is set, else min-heap */
typedef struct CandHeap
{
	HnswCandidate **items;
	int			n;
	int			cap;
	bool		max;
} CandHeap;

static inline bool
HeapAbove(CandHeap *h, HnswCandidate *a, HnswCandidate *b)
{
	return h->max ? a->distance > b->distance : a->distance < b->distance;
}

static void
HeapInit(CandHeap *h, int cap, bool max)
{
	h->cap = Max(cap, 16);
	h->items = palloc(sizeof(HnswCandidate *) * h->cap);
	h->n = 0;
	h->max = max;
}

static void
HeapPush(CandHeap *h, HnswCandidate *c)
{
	int			i;

	if (h->n == h->cap)
	{
		h->cap *= 2;
		h->items = repalloc(h->items, sizeof(HnswCandidate *) * h->cap);
	}
	i = h->n++;
	while (i > 0 && HeapAbove(h, c, h->items[(i - 1) / 2]))
	{
		h->items[i] = h->items[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->items[i] = c;
}

static HnswCandidate *
HeapPop(CandHeap *h)
{
	HnswCandidate *top = h->items[0];
	HnswCandidate *last = h->items[--h->n];
	int			i = 0;

	for (;;)
	{
		int			l = 2 * i + 1;
		int			best;

		if (l >= h->n)
			break;
		best = (l + 1 < h->n && HeapAbove(h, h->items[l + 1], h->items[l])) ? l + 1 : l;
		if (!HeapAbove(h, h->items[best], last))
			break;
		h->items[i] = h->items[best];
		i = best;
	}
	if (h->n > 0)
		h->items[i] = last;
	return top;
}

/* sort ascending by distance */
static int
CandidateCmp(const void *a, const void *b)
{
	float		da = (*(HnswCandidate *const *) a)->distance;
	float		db = (*(HnswCandidate *const *) b)->distance;

	return (da > db) - (da < db);
}

/* nearest first, for HnswDiscarded's pairing heap (whose first is its greatest) */
static int
DiscardedCmp(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	float		da = ((const HnswDiscardedItem *) a)->distance;
	float		db = ((const HnswDiscardedItem *) b)->distance;

	return (da < db) - (da > db);
}

/* an empty set of discarded elements (in the current memory context) */
void
HnswDiscardedInit(HnswDiscarded *d, bool all)
{
	d->heap = pairingheap_allocate(DiscardedCmp, NULL);
	d->all = all;
	d->count = 0;
	d->cxt = CurrentMemoryContext;
}

/* keep an element the search left out; worst: the result's worst distance now */
static inline void
Discard(HnswDiscarded *d, ItemPointer tid, ItemPointer heaptid, float distance, float worst)
{
	HnswDiscardedItem *item;

	if (d == NULL || (!d->all && !(distance <= worst)) || isnan(distance))
		return;
	item = MemoryContextAlloc(d->cxt, sizeof(HnswDiscardedItem));
	item->tid = *tid;
	item->heaptid = *heaptid;
	item->distance = distance;
	pairingheap_add(d->heap, &item->node);
	d->count++;
}

/*
 * Search one level from the entries; returns up to ef live elements nearest
 * to q, ascending.  Deleted elements are walked through but never returned.
 */
HnswCandidate **
HnswSearchLayer(HnswInfo *info, const float *q, HnswCandidate **entries,
				int nentries, int ef, int lc, HnswVisited *visited,
				int *nresult, int64 *visits)
{
	return HnswSearchLayerDiscarding(info, q, entries, nentries, ef, lc, visited, nresult, visits, NULL);
}

/*
 * HnswSearchLayer, keeping in discarded (unless NULL) the live elements it
 * met and left out of the result, with their distances: a scan resumes from
 * them (pgvector's iterative scan does the same).
 */
HnswCandidate **
HnswSearchLayerDiscarding(HnswInfo *info, const float *q, HnswCandidate **entries,
						  int nentries, int ef, int lc, HnswVisited *visited,
						  int *nresult, int64 *visits, HnswDiscarded *discarded)
{
	CandHeap	cand,
				res;
	HnswCandidate **out;
	ItemPointerData batch[HNSW_MAX_M * 2];
	Buffer		bufs[HNSW_MAX_M * 2];
	int			nbatch;
	int			bridges = 0;
	Size		vecoff = offsetof(HnswElementTupleData, neighbors) + sizeof(HnswNeighbor) * HnswSlots(info->m, 0);

	HeapInit(&cand, ef * 2, false);
	HeapInit(&res, ef + 1, true);
	for (int i = 0; i < nentries; i++)
	{
		HnswVisitedAdd(visited, &entries[i]->tid);
		HeapPush(&cand, entries[i]);
		if (!entries[i]->deleted)
			HeapPush(&res, entries[i]);
	}
	while (res.n > ef)
	{
		HnswCandidate *d = HeapPop(&res);

		Discard(discarded, &d->tid, &d->heaptid, d->distance, res.items[0]->distance);
	}

	while (cand.n > 0)
	{
		HnswCandidate *c = HeapPop(&cand);

		if (res.n >= ef && c->distance > res.items[0]->distance)
			break;
		CHECK_FOR_INTERRUPTS();

		/*
		 * The unvisited neighbours are pinned first and their tuples asked
		 * for ahead of use, so the memory reads of all of them overlap
		 * instead of waiting one after another.  The line pointers are read
		 * without the content lock, only to aim the prefetch: a stale value
		 * costs a wasted prefetch, never a wrong answer (each element is
		 * read under its lock below).
		 */
		nbatch = 0;
		for (int i = 0; i < c->nneighbors; i++)
		{
			if (!HnswVisitedAdd(visited, &c->neighbors[i]))
				continue;
			batch[nbatch] = c->neighbors[i];
			PrefetchBufferHeader(info->index, ItemPointerGetBlockNumber(&batch[nbatch]));
			nbatch++;
		}
		for (int i = 0; i < nbatch; i++)
		{
			bufs[i] = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(&batch[i]));
			__builtin_prefetch(BufferGetPage(bufs[i]));
		}
		for (int i = 0; i < nbatch; i++)
		{
			Page		page = BufferGetPage(bufs[i]);
			OffsetNumber off = ItemPointerGetOffsetNumber(&batch[i]);

			if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
			{
				const char *t = (const char *) page + ItemIdGetOffset(PageGetItemId(page, off));

				/* the header, and the vector's first lines where a level-0 element has it */
				__builtin_prefetch(t);
				for (int l = 0; l < 256; l += 64)
					__builtin_prefetch(t + vecoff + l);
			}
		}
		for (int i = 0; i < nbatch; i++)
		{
			HnswCandidate *e;
			float		bound = res.n < ef ? get_float4_infinity() : res.items[0]->distance;
			float		boundDistance;
			ItemPointerData boundHeaptid;

			e = LoadCandidateFromBuffer(info, bufs[i], &batch[i], q, lc, bound,
										&boundDistance, &boundHeaptid);
			if (visits)
				(*visits)++;
			if (e == NULL)
			{
				Discard(discarded, &batch[i], &boundHeaptid, boundDistance, bound);
				continue;
			}
			/* a stale link (to a slot freed and taken again) may lead below lc */
			if (e->level < lc)
				continue;
			if (e->deleted)
			{
				/*
				 * Walk through it, but it is never a result.  Its vector is
				 * erased, so it is expanded as if it were as near as the
				 * element that led to it: until VACUUM has repaired the lists
				 * around it, it may be the only way to the elements behind.
				 * At most ef of them per search: deleted elements linked to
				 * each other all seem that near, and once more than about
				 * one link in 2m leads to one (a VACUUM deleting a tenth of
				 * a 32-d index) they form one component that a search
				 * flooded whole (4,132 repair searches took 25 s).
				 */
				if (bridges++ >= ef)
					continue;
				e->distance = c->distance;
				HeapPush(&cand, e);
				continue;
			}
			if (res.n < ef || e->distance < res.items[0]->distance)
			{
				HeapPush(&cand, e);
				HeapPush(&res, e);
				if (res.n > ef)
				{
					HnswCandidate *d = HeapPop(&res);

					Discard(discarded, &d->tid, &d->heaptid, d->distance, res.items[0]->distance);
				}
			}
			else
				Discard(discarded, &e->tid, &e->heaptid, e->distance, res.items[0]->distance);
		}
	}

	out = palloc(sizeof(HnswCandidate *) * Max(res.n, 1));
	memcpy(out, res.items, sizeof(HnswCandidate *) * res.n);
	qsort(out, res.n, sizeof(HnswCandidate *), CandidateCmp);
	*nresult = res.n;
	return out;
}

/* greedy descent from the entry point to toLevel + 1, then a search of ef on toLevel */
HnswCandidate **
HnswSearchFromEntry(HnswInfo *info, HnswMetaPageData *meta, const float *q,
					int ef, int toLevel, int *nresult, int64 *visits)
{
	HnswCandidate *ep;
	HnswCandidate **w = NULL;
	int			n = 0;

	if (meta->entryLevel < 0)
	{
		*nresult = 0;
		return NULL;
	}
	ep = HnswLoadCandidate(info, &meta->entry, q, meta->entryLevel);
	for (int lc = meta->entryLevel; lc >= toLevel; lc--)
	{
		HnswVisited *visited = HnswVisitedCreate(lc > toLevel ? 64 : ef * 16);
		int			thisEf = lc > toLevel ? 1 : ef;

		w = HnswSearchLayer(info, q, &ep, 1, thisEf, lc, visited, &n, visits);
		if (lc > toLevel && n > 0)
			ep = HnswLoadCandidate(info, &w[0]->tid, q, lc - 1);
		else if (lc > toLevel)
			ep = HnswLoadCandidate(info, &ep->tid, q, lc - 1);
	}
	*nresult = n;
	return w;
}

/*
 * A scan's first search: greedy descent from the entry point to level 1,
 * then a search of ef on level 0 with the scan's visited set, keeping what
 * it leaves out in discarded.
 *
 * The level-0 search starts from where the descent ended and also from the
 * entry point itself.  The links are directed: the tree of kept links
 * guarantees that every element is reached from the entry point, not from
 * any element, so a search started only where the descent ended could miss
 * an element that no path from there leads to, even with ef above the
 * number of rows (seen: one of 40 rows of huge inner products, in about one
 * build in ten).  The entry point costs one distance; when it is far, the
 * search stops before expanding it.
 */
HnswCandidate **
HnswSearchFromEntryDiscarding(HnswInfo *info, HnswMetaPageData *meta, const float *q,
							  int ef, HnswVisited *visited, int *nresult, int64 *visits,
							  HnswDiscarded *discarded)
{
	HnswCandidate *ep;
	HnswCandidate *entries[2];
	int			nentries = 1;

	if (meta->entryLevel < 0)
	{
		*nresult = 0;
		return NULL;
	}
	ep = HnswLoadCandidate(info, &meta->entry, q, meta->entryLevel);
	for (int lc = meta->entryLevel; lc > 0; lc--)
	{
		HnswVisited *upper = HnswVisitedCreate(64);
		int			n;
		HnswCandidate **w = HnswSearchLayer(info, q, &ep, 1, 1, lc, upper, &n, visits);

		ep = HnswLoadCandidate(info, n > 0 ? &w[0]->tid : &ep->tid, q, lc - 1);
	}
	entries[0] = ep;
	if (!ItemPointerEquals(&ep->tid, &meta->entry))
		entries[nentries++] = HnswLoadCandidate(info, &meta->entry, q, 0);
	return HnswSearchLayerDiscarding(info, q, entries, nentries, ef, 0, visited, nresult, visits, discarded);
}

/*
 * The neighbour-selection heuristic: walk candidates nearest first and keep
 * one only if it is closer to the base than to every one already kept, which
 * keeps links in several directions instead of all into one cluster.
 * vectors[i] is candidate i's vector; chosen gets the kept indexes.
 */
int
HnswSelectNeighbors(HnswInfo *info, HnswCandidate **cands, int ncands, int max,
					float **vectors, int *chosen)
{
	int			nchosen = 0;

	for (int i = 0; i < ncands && nchosen < max; i++)
	{
		bool		keep = true;

		for (int j = 0; j < nchosen && keep; j++)
			if (HnswDistance(info->metric, info->dims, vectors[i], vectors[chosen[j]]) < cands[i]->distance)
				keep = false;
		if (keep)
			chosen[nchosen++] = i;
	}
	return nchosen;
}

/*
 * After the heuristic chose k of n candidates (sorted nearest first), fill
 * the free slots with the pruned ones, nearest first, up to max.  A full list
 * re-pruned on an insert must not shrink: every link dropped may be the last
 * way into some element.  Only the farthest pruned candidate is left out.
 */
int
HnswFillPruned(int k, int *chosen, int n, int max)
{
	for (int i = 0; i < n && k < max; i++)
	{
		bool		taken = false;

		for (int j = 0; j < k && !taken; j++)
			taken = chosen[j] == i;
		if (!taken)
			chosen[k++] = i;
	}
	return k;
}

/* start changing a buffer, through generic WAL unless building */
static Page
BeginChange(GenericXLogState **state, Relation index, Buffer buf, bool building, int flags)
{
	if (building)
	{
		*state = NULL;
		return BufferGetPage(buf);
	}
	*state = GenericXLogStart(index);
	return GenericXLogRegisterBuffer(*state, buf, flags);
}

/* finish a change begun by BeginChange */
static void
FinishChange(GenericXLogState *state, Buffer buf)
{
	if (state)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
}

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
			Page		wpage = BeginChange(&state, info->index, buf, building, 0);

			Assert(ItemIdGetLength(PageGetItemId(wpage, found)) == size);
			memcpy(PageGetItem(wpage, PageGetItemId(wpage, found)), tup, size);
			FinishChange(state, buf);
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
	page = BeginChange(&state, info->index, buf, building, extended ? GENERIC_XLOG_FULL_IMAGE : 0);
	if (extended)
		HnswInitPage(page);
	off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add element to embedding_hnsw index \"%s\"", RelationGetRelationName(info->index));
	FinishChange(state, buf);
	ItemPointerSet(&tid, BufferGetBlockNumber(buf), off);
	UnlockReleaseBuffer(buf);

	if (extended)
	{
		/* later inserts go to the new page */
		buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BeginChange(&state, info->index, buf, building, 0);
		((HnswMetaPage) PageGetContents(page))->insertPage = ItemPointerGetBlockNumber(&tid);
		FinishChange(state, buf);
		UnlockReleaseBuffer(buf);
	}
	return tid;
}

/* add a link from element n to target on level lc if n has a free slot there */
static void
AppendLinkIfRoom(HnswInfo *info, ItemPointer n, int lc, ItemPointer target, float distance, bool building)
{
	Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(n));
	HnswElementTuple tup;
	int			start = HnswLevelStart(info->m, lc);
	int			slots = HnswLevelSlots(info->m, lc);
	int			used = 0;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	tup = TupleAt(BufferGetPage(buf), n, info->index);
	if (!tup->deleted && tup->level >= lc)
	{
		while (used < slots && ItemPointerIsValid(&tup->neighbors[start + used].tid))
		{
			if (ItemPointerEquals(&tup->neighbors[start + used].tid, target))
				break;
			used++;
		}
		if (used < slots && !ItemPointerIsValid(&tup->neighbors[start + used].tid))
		{
			GenericXLogState *state;
			Page		page = BeginChange(&state, info->index, buf, building, 0);

			tup = TupleAt(page, n, info->index);
			tup->neighbors[start + used].tid = *target;
			tup->neighbors[start + used].flags = 0;
			tup->neighbors[start + used].distance = distance;
			FinishChange(state, buf);
		}
	}
	UnlockReleaseBuffer(buf);
}

/*
 * Add a link from element n to the new element on level lc.  A full list is
 * re-pruned with the heuristic over its members and the newcomer; the
 * vectors for that are read without holding n's page, so the list is checked
 * again before it is written and the work redone if it changed meanwhile.
 * Kept links (HNSW_LINK_KEPT) are never pruned: they stay where they are and
 * the heuristic chooses among the other members for the other slots.
 * force: the newcomer must get in (it takes the farthest member's place when
 * the heuristic turns it away); keep (HNSW_KEEP_*): the new link is to be the
 * newcomer's kept way in, if the list has fewer than HnswMaxKept kept links
 * (_IF_ROOM: else a plain link; _ONLY: else none).  Returns
 * HNSW_BACKLINK_NONE when no link was made (n is deleted or below lc, or,
 * not force, the heuristic preferred the members, or no room for a kept
 * one), else _MADE or _KEPT.
 */
int
HnswAddBackLink(HnswInfo *info, ItemPointer n, int lc, ItemPointer newTid, const float *newVec,
				float distance, bool building, bool force, int keep)
{
	int			start = HnswLevelStart(info->m, lc);
	int			slots = HnswLevelSlots(info->m, lc);
	uint16		newFlags = 0;

	/* an insert that keeps changing the list wins only so many races */
	for (int attempt = 0; attempt < (force ? 1000 : 10); attempt++)
	{
		Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(n));
		int			present = -1;
		GenericXLogState *state;
		HnswElementTuple tup;
		HnswNeighbor *list;
		HnswNeighbor before[HNSW_MAX_M * 2];
		int			used = 0;
		int			nkept = 0;
		float	   *base;
		HnswCandidate **cands;
		float	  **vecs;
		int		   *chosen;
		int			ncands = 0;
		int			nchosen;
		int			newIdx = -1;
		bool		kept = false;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		tup = TupleAt(BufferGetPage(buf), n, info->index);
		if (tup->deleted || tup->level < lc)
		{
			UnlockReleaseBuffer(buf);
			return HNSW_BACKLINK_NONE;
		}
		list = &tup->neighbors[start];
		while (used < slots && ItemPointerIsValid(&list[used].tid))
		{
			if (ItemPointerEquals(&list[used].tid, newTid))
				present = used;
			if (list[used].flags & HNSW_LINK_KEPT)
				nkept++;
			used++;
		}
		newFlags = keep != HNSW_KEEP_NO && nkept < HnswMaxKept(slots) ? HNSW_LINK_KEPT : 0;
		if (keep == HNSW_KEEP_ONLY && newFlags == 0 &&
			!(present >= 0 && (list[present].flags & HNSW_LINK_KEPT)))
		{
			UnlockReleaseBuffer(buf);
			return HNSW_BACKLINK_NONE;
		}
		if (present >= 0)
		{
			/* already linked (a repair after VACUUM re-links existing elements) */
			if ((list[present].flags & newFlags) != newFlags)
			{
				Page		page = BeginChange(&state, info->index, buf, building, 0);

				tup = TupleAt(page, n, info->index);
				tup->neighbors[start + present].flags |= newFlags;
				FinishChange(state, buf);
			}
			UnlockReleaseBuffer(buf);
			return (list[present].flags & HNSW_LINK_KEPT) ? HNSW_BACKLINK_KEPT : HNSW_BACKLINK_MADE;
		}
		if (used < slots)
		{
			Page		page = BeginChange(&state, info->index, buf, building, 0);

			tup = TupleAt(page, n, info->index);
			tup->neighbors[start + used].tid = *newTid;
			tup->neighbors[start + used].flags = newFlags;
			tup->neighbors[start + used].distance = distance;
			FinishChange(state, buf);
			UnlockReleaseBuffer(buf);
			return newFlags ? HNSW_BACKLINK_KEPT : HNSW_BACKLINK_MADE;
		}

		/* full: choose again among the members that are not kept and the newcomer */
		memcpy(before, list, sizeof(HnswNeighbor) * slots);
		base = palloc(sizeof(float) * info->dims);
		memcpy(base, HnswTupleVector(tup, info->m), sizeof(float) * info->dims);
		UnlockReleaseBuffer(buf);

		cands = palloc(sizeof(HnswCandidate *) * (slots + 1));
		vecs = palloc(sizeof(float *) * (slots + 1));
		chosen = palloc(sizeof(int) * (slots + 1));
		for (int i = 0; i <= slots; i++)
		{
			if (i < slots && (before[i].flags & HNSW_LINK_KEPT))
				continue;
			cands[ncands] = palloc0(sizeof(HnswCandidate));
			vecs[ncands] = palloc(sizeof(float) * info->dims);
			if (i < slots)
			{
				cands[ncands]->tid = before[i].tid;
				cands[ncands]->distance = before[i].distance;
				FetchVector(info, &before[i].tid, vecs[ncands]);
			}
			else
			{
				cands[ncands]->tid = *newTid;
				cands[ncands]->distance = distance;
				memcpy(vecs[ncands], newVec, sizeof(float) * info->dims);
			}
			ncands++;
		}
		/* sort candidates (their vectors alongside) nearest first */
		for (int i = 1; i < ncands; i++)
			for (int j = i; j > 0 && cands[j]->distance < cands[j - 1]->distance; j--)
			{
				HnswCandidate *tc = cands[j];
				float	   *tv = vecs[j];

				cands[j] = cands[j - 1];
				cands[j - 1] = tc;
				vecs[j] = vecs[j - 1];
				vecs[j - 1] = tv;
			}
		for (int i = 0; i < ncands; i++)
			if (ItemPointerEquals(&cands[i]->tid, newTid))
				newIdx = i;
		/* one candidate more than the free slots: exactly one is left out */
		nchosen = HnswFillPruned(HnswSelectNeighbors(info, cands, ncands, slots - nkept, vecs, chosen),
								 chosen, ncands, slots - nkept);
		for (int i = 0; i < nchosen && !kept; i++)
			kept = chosen[i] == newIdx;

		/*
		 * The newcomer did not make it (it is the one left out): the list
		 * stays as it was, unless the caller needs this link, and then the
		 * newcomer takes the farthest member's place.
		 */
		if (!kept && !force)
			return HNSW_BACKLINK_NONE;
		if (!kept)
		{
			int			last = ncands - 1;

			while (last >= 0 && last == newIdx)
				last--;
			for (int i = 0; i < nchosen; i++)
				if (chosen[i] == last)
					chosen[i] = newIdx;
		}

		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(n));
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		tup = TupleAt(BufferGetPage(buf), n, info->index);
		if (memcmp(&tup->neighbors[start], before, sizeof(HnswNeighbor) * slots) == 0)
		{
			Page		page = BeginChange(&state, info->index, buf, building, 0);
			int			w = 0;

			tup = TupleAt(page, n, info->index);
			/* kept links first, in their order, then the chosen */
			for (int i = 0; i < slots; i++)
				if (before[i].flags & HNSW_LINK_KEPT)
					tup->neighbors[start + w++] = before[i];
			for (int i = 0; i < nchosen; i++)
			{
				HnswNeighbor *nb = &tup->neighbors[start + w++];

				memset(nb, 0, sizeof(HnswNeighbor));
				nb->tid = cands[chosen[i]]->tid;
				nb->distance = cands[chosen[i]]->distance;
				nb->flags = chosen[i] == newIdx ? newFlags : 0;
			}
			for (; w < slots; w++)
			{
				memset(&tup->neighbors[start + w], 0, sizeof(HnswNeighbor));
				ItemPointerSetInvalid(&tup->neighbors[start + w].tid);
			}
			FinishChange(state, buf);
			UnlockReleaseBuffer(buf);

			/*
			 * The member left out may have lost its last way in: the
			 * newcomer, near both, links to it if it has room.
			 */
			for (int i = 0; i < ncands; i++)
			{
				bool		taken = false;

				for (int j = 0; j < nchosen && !taken; j++)
					taken = chosen[j] == i;
				if (!taken && i != newIdx)
					AppendLinkIfRoom(info, newTid, lc, &cands[i]->tid,
									 HnswDistance(info->metric, info->dims, newVec, vecs[i]), building);
			}
			return newFlags ? HNSW_BACKLINK_KEPT : HNSW_BACKLINK_MADE;
		}
		UnlockReleaseBuffer(buf);
	}
	return HNSW_BACKLINK_NONE;
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
				FetchVector(info, &w[i]->tid, vecs[i]);
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

			FetchVector(info, &meta.entry, old);
			(void) HnswAddBackLink(info, &tid, 0, &meta.entry, old,
								   HnswDistance(info->metric, info->dims, vec, old), building, true,
								   HNSW_KEEP_IF_ROOM);
		}
		buf = ReadBuffer(info->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BeginChange(&state, info->index, buf, building, 0);
		m = (HnswMetaPage) PageGetContents(page);
		m->entry = tid;
		m->entryLevel = level;
		FinishChange(state, buf);
		UnlockReleaseBuffer(buf);
	}
	UnlockPage(info->index, HNSW_UPDATE_LOCK, lockmode);
}
