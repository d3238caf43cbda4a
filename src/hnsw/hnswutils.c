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
#include "hnswcore.h"
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
	info->freedMet = 0;
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
 * The visited set: lib/simplehash.h over element TIDs, each entry with its
 * hash stored (12 bytes) and the table grown at half full.  With the
 * defaults (no stored hash, grown at 0.9 full) every probe past an
 * occupied slot hashed that slot's key again to place it (Robin Hood), and
 * scans at ef_search 40 ran at 0.69x the queries per second of the private
 * hash this replaced (median of 4 pairs, bench/hnsw/ab.sh); so, 0.87-1.04x
 * at ef_search 40-200 (3 pairs, within that bench's noise at load 20).  It
 * grows in the memory context it was created in: a scan's set outlives its
 * searches' contexts.
 */
typedef struct VisitedEntry
{
	ItemPointerData tid;
	char		status;
	uint32		hash;
} VisitedEntry;

static inline uint32
VisitedHash(ItemPointerData tid)
{
	uint64		k = ((uint64) ItemPointerGetBlockNumberNoCheck(&tid) << 16) |
		ItemPointerGetOffsetNumberNoCheck(&tid);

	/* the finaliser of MurmurHash3's 64-bit hash */
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

#define SH_PREFIX		visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE		ItemPointerData
#define SH_KEY			tid
#define SH_HASH_KEY(tb, key) VisitedHash(key)
#define SH_EQUAL(tb, a, b) ItemPointerEquals(&(a), &(b))
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_FILLFACTOR	0.5
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct HnswVisited
{
	visited_hash *hash;
};

/* an empty set sized for about expected members */
HnswVisited *
HnswVisitedCreate(int expected)
{
	HnswVisited *v = palloc(sizeof(HnswVisited));

	v->hash = visited_create(CurrentMemoryContext, Max(expected, 64), NULL);
	return v;
}

/* add a TID; true when it was not there yet */
bool
HnswVisitedAdd(HnswVisited *v, ItemPointer tid)
{
	bool		found;

	(void) visited_insert(v->hash, *tid, &found);
	return !found;
}

/* is a TID in the set? */
bool
HnswVisitedContains(HnswVisited *v, ItemPointer tid)
{
	return visited_lookup(v->hash, *tid) != NULL;
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
	/*
	 * Nothing links to a freed slot (VACUUM frees only what nothing links
	 * to): the link that led here was copied before VACUUM changed the
	 * graph.  The scan counts them (see hnswscan.c).
	 */
	if (tup->deleted == HNSW_FREE)
		info->freedMet++;
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
void
HnswFetchVector(HnswInfo *info, ItemPointer tid, float *out)
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

/* ascending distance, for qsort */
int
HnswItemCmp(const void *a, const void *b)
{
	float		da = ((const HnswItem *) a)->distance;
	float		db = ((const HnswItem *) b)->distance;

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
 * The on-disk graph as HnswSearchLayerCore sees it: an element's handle is
 * its place in cands, the candidates loaded so far (each with a copy of its
 * links on the searched level, taken under its page's share lock).
 */
typedef struct DiskGraph
{
	HnswInfo   *info;
	const float *q;
	HnswVisited *visited;
	HnswDiscarded *discarded;
	int64	   *visits;
	HnswCandidate **cands;
	int			ncands;
	int			capCands;
	/* the last neighbors call's unvisited neighbours, pinned */
	ItemPointerData batch[HNSW_MAX_M * 2];
	Buffer		bufs[HNSW_MAX_M * 2];
	Size		vecoff;			/* where a level-0 element's vector starts */
} DiskGraph;

static inline int32
DiskAddCandidate(DiskGraph *dg, HnswCandidate *c)
{
	if (dg->ncands == dg->capCands)
	{
		dg->capCands *= 2;
		dg->cands = repalloc(dg->cands, sizeof(HnswCandidate *) * dg->capCands);
	}
	dg->cands[dg->ncands] = c;
	return dg->ncands++;
}

/*
 * The unvisited neighbours are pinned first and their tuples asked for
 * ahead of use, so the memory reads of all of them overlap instead of
 * waiting one after another.  The line pointers are read without the
 * content lock, only to aim the prefetch: a stale value costs a wasted
 * prefetch, never a wrong answer (each element is read under its lock in
 * DiskVisit).
 */
static inline int
DiskNeighbors(void *g, int32 id, int lc, int32 *refs)
{
	DiskGraph  *dg = (DiskGraph *) g;
	HnswCandidate *c = dg->cands[id];
	int			nbatch = 0;

	for (int i = 0; i < c->nneighbors; i++)
	{
		if (!HnswVisitedAdd(dg->visited, &c->neighbors[i]))
			continue;
		dg->batch[nbatch] = c->neighbors[i];
		PrefetchBufferHeader(dg->info->index, ItemPointerGetBlockNumber(&dg->batch[nbatch]));
		nbatch++;
	}
	for (int i = 0; i < nbatch; i++)
	{
		dg->bufs[i] = HnswReadBuffer(dg->info->index, ItemPointerGetBlockNumber(&dg->batch[i]));
		__builtin_prefetch(BufferGetPage(dg->bufs[i]));
	}
	for (int i = 0; i < nbatch; i++)
	{
		Page		page = BufferGetPage(dg->bufs[i]);
		OffsetNumber off = ItemPointerGetOffsetNumber(&dg->batch[i]);

		refs[i] = i;
		if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
		{
			const char *t = (const char *) page + ItemIdGetOffset(PageGetItemId(page, off));

			/* the header, and the vector's first lines where a level-0 element has it */
			__builtin_prefetch(t);
			for (int l = 0; l < 256; l += 64)
				__builtin_prefetch(t + dg->vecoff + l);
		}
	}
	return nbatch;
}

/* load a pinned neighbour (the buffer is released) */
static inline int
DiskVisit(void *g, int32 ref, int lc, float bound, HnswItem *item)
{
	DiskGraph  *dg = (DiskGraph *) g;
	HnswCandidate *e;
	float		boundDistance;
	ItemPointerData boundHeaptid;

	e = LoadCandidateFromBuffer(dg->info, dg->bufs[ref], &dg->batch[ref], dg->q, lc, bound,
								&boundDistance, &boundHeaptid);
	if (dg->visits)
		(*dg->visits)++;
	if (e == NULL)
	{
		Discard(dg->discarded, &dg->batch[ref], &boundHeaptid, boundDistance, bound);
		return HNSW_VISIT_SKIP;
	}
	/* a stale link (to a slot freed and taken again) may lead below lc */
	if (e->level < lc)
		return HNSW_VISIT_SKIP;
	item->distance = e->distance;
	item->id = DiskAddCandidate(dg, e);
	/* a deleted element: walked through (its vector is erased), never a result */
	return e->deleted ? HNSW_VISIT_WALK : HNSW_VISIT_LIVE;
}

static inline void
DiskDiscard(void *g, const HnswItem *item, float worst)
{
	DiskGraph  *dg = (DiskGraph *) g;
	HnswCandidate *c = dg->cands[item->id];

	Discard(dg->discarded, &c->tid, &c->heaptid, item->distance, worst);
}

static const HnswGraphOps DiskOps = {DiskNeighbors, DiskVisit, DiskDiscard};
static const HnswGraphOps DiskOpsKeepNone = {DiskNeighbors, DiskVisit, NULL};

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
	DiskGraph	dg;
	HnswHeap	res;
	HnswItem   *items = palloc(sizeof(HnswItem) * Max(nentries, 1));
	bool	   *walk = palloc(sizeof(bool) * Max(nentries, 1));
	HnswCandidate **out;

	dg.info = info;
	dg.q = q;
	dg.visited = visited;
	dg.discarded = discarded;
	dg.visits = visits;
	dg.capCands = Max(ef * 4, nentries);
	dg.cands = palloc(sizeof(HnswCandidate *) * dg.capCands);
	dg.ncands = 0;
	dg.vecoff = offsetof(HnswElementTupleData, neighbors) + sizeof(HnswNeighbor) * HnswSlots(info->m, 0);
	for (int i = 0; i < nentries; i++)
	{
		HnswVisitedAdd(visited, &entries[i]->tid);
		items[i].distance = entries[i]->distance;
		items[i].id = DiskAddCandidate(&dg, entries[i]);
		walk[i] = entries[i]->deleted;
	}
	if (discarded)
		HnswSearchLayerCore(&DiskOps, &dg, items, walk, nentries, ef, lc, &res);
	else
		HnswSearchLayerCore(&DiskOpsKeepNone, &dg, items, walk, nentries, ef, lc, &res);

	qsort(res.items, res.n, sizeof(HnswItem), HnswItemCmp);
	out = palloc(sizeof(HnswCandidate *) * Max(res.n, 1));
	for (int i = 0; i < res.n; i++)
		out[i] = dg.cands[res.items[i].id];
	*nresult = res.n;
	pfree(res.items);
	pfree(dg.cands);
	pfree(items);
	pfree(walk);
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
 * The neighbour-selection heuristic, for every list of both graphs: walk the
 * n candidates nearest first and select one only if it is closer to the
 * list's owner than to every one selected before it, which keeps links in
 * several directions instead of all into one cluster; at most max.  Writes
 * each candidate's verdict (HNSW_LINK_SELECTED / _PRUNED) to st and the
 * selected indexes, in order, to chosen; returns how many.
 *
 * known (may be NULL) are the verdicts of the last pruning of the list, ie
 * the newcomer's index among the candidates (or -1).  With every other
 * candidate's verdict known, only the newcomer's distances to selected
 * members are needed: members nearer than the newcomer keep their verdict;
 * after it, a selected member stays selected unless the newcomer is closer
 * to it than the owner, and a pruned one can only change once some member
 * was unselected (then it is checked again).  The result is the plain
 * heuristic's (the build keeps verdicts; on disk they are not stored).
 */
int
HnswSelect(HnswMetric metric, int dims, const float *const *vecs, const float *dist,
		   const uint8 *known, int n, int ie, int max, uint8 *st, int *chosen)
{
	bool		allKnown = known != NULL && ie >= 0;
	int			k = 0;
	bool		eSel = false;
	bool		removed = false;

	Assert(max <= HNSW_MAX_M * 2);
	for (int i = 0; i < n && allKnown; i++)
		allKnown = i == ie || known[i] != HNSW_LINK_UNKNOWN;
	for (int i = 0; i < n; i++)
	{
		bool		keep;

		Assert(i == 0 || !(dist[i] < dist[i - 1]));
		st[i] = HNSW_LINK_PRUNED;
		if (k == max)
			continue;
		if (!allKnown || (i > ie && removed && known[i] == HNSW_LINK_PRUNED) || i == ie)
		{
			/* the heuristic proper: against every member selected so far */
			keep = true;
			for (int j = 0; j < k && keep; j++)
				if (HnswDistance(metric, dims, vecs[i], vecs[chosen[j]]) < dist[i])
					keep = false;
			if (i == ie)
				eSel = keep;
		}
		else if (i < ie || !eSel || known[i] == HNSW_LINK_PRUNED)
			keep = known[i] == HNSW_LINK_SELECTED;
		else
		{
			/* selected before the newcomer came: only the newcomer can unselect it */
			keep = HnswDistance(metric, dims, vecs[i], vecs[ie]) >= dist[i];
			removed |= !keep;
		}
		if (keep)
		{
			st[i] = HNSW_LINK_SELECTED;
			chosen[k++] = i;
		}
	}
	return k;
}

/*
 * The heuristic over loaded candidates (sorted nearest first), vectors[i]
 * being candidate i's; chosen gets the kept indexes.
 */
int
HnswSelectNeighbors(HnswInfo *info, HnswCandidate **cands, int ncands, int max,
					float **vectors, int *chosen)
{
	float	   *dist = palloc(sizeof(float) * Max(ncands, 1));
	uint8	   *st = palloc(Max(ncands, 1));
	int			k;

	for (int i = 0; i < ncands; i++)
		dist[i] = cands[i]->distance;
	k = HnswSelect(info->metric, info->dims, (const float *const *) vectors, dist, NULL, ncands, -1,
				   max, st, chosen);
	pfree(dist);
	pfree(st);
	return k;
}

/*
 * The rule for a full list taking a newcomer, for both graphs: the n
 * candidates (the members that may be pruned and the newcomer, at ie,
 * nearest first) go through the heuristic for max = n - 1 slots, and the
 * free slots are filled with the pruned, nearest first (a list never
 * shrinks: every link dropped may be the last way into some element), so
 * exactly one candidate is left out.  When that is the newcomer and force
 * is set, the newcomer takes the farthest member's place instead (its
 * verdict unknown).  False when the list stays as it was (the newcomer left
 * out, not force); else r says what stays and which member went.
 */
bool
HnswRepruneList(HnswMetric metric, int dims, const float *const *vecs, const float *dist,
				const uint8 *known, int n, int ie, int max, bool force, HnswReprune *r)
{
	Assert(n == max + 1 && ie >= 0 && ie < n);
	r->nchosen = HnswFillPruned(HnswSelect(metric, dims, vecs, dist, known, n, ie, max, r->st, r->chosen),
								r->chosen, n, max);
	Assert(r->nchosen == max);
	r->newcomerIn = false;
	for (int i = 0; i < r->nchosen; i++)
		r->newcomerIn |= r->chosen[i] == ie;
	if (!r->newcomerIn && !force)
		return false;
	if (!r->newcomerIn)
	{
		int			last = n - 1;

		while (last >= 0 && last == ie)
			last--;
		for (int i = 0; i < r->nchosen; i++)
			if (r->chosen[i] == last)
				r->chosen[i] = ie;
		r->st[ie] = HNSW_LINK_UNKNOWN;
	}
	r->leftOut = -1;
	for (int i = 0; i < n && r->leftOut < 0; i++)
	{
		bool		taken = i == ie;

		for (int j = 0; j < r->nchosen && !taken; j++)
			taken = r->chosen[j] == i;
		if (!taken)
			r->leftOut = i;
	}
	return true;
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
Page
HnswBeginChange(GenericXLogState **state, Relation index, Buffer buf, bool building, int flags)
{
	if (building)
	{
		*state = NULL;
		return BufferGetPage(buf);
	}
	*state = GenericXLogStart(index);
	return GenericXLogRegisterBuffer(*state, buf, flags);
}

/* finish a change begun by HnswBeginChange */
void
HnswFinishChange(GenericXLogState *state, Buffer buf)
{
	if (state)
		GenericXLogFinish(state);
	else
		MarkBufferDirty(buf);
}

/*
 * Links back to a newcomer (HnswAddBackLink), in steps of one purpose each:
 * read the owner's list under its page lock (ReadList), decide what the new
 * link's flags are (NewLinkFlags), write one slot (WriteSlot) when the list
 * has the newcomer or room, else re-prune the list with its page unlocked
 * (Reprune, the rule of HnswRepruneMembers) and write the result if the list
 * is still as it was read (WriteRepruned).
 */

/* what ReadList saw of the owner's level-lc list */
typedef struct BackLinkList
{
	HnswNeighbor before[HNSW_MAX_M * 2];	/* a copy of its slots */
	int			slots;
	int			used;
	int			nkept;
	int			present;		/* the newcomer's slot, or -1 */
} BackLinkList;

/*
 * Pin and lock (exclusive) the page of bl's owner and copy its list into
 * list; InvalidBuffer (nothing locked) when the owner is deleted or below
 * the level.
 */
static Buffer
ReadList(HnswInfo *info, const HnswBackLink *bl, BackLinkList *list)
{
	Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(&bl->owner));
	HnswElementTuple tup;
	const HnswNeighbor *nb;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	tup = TupleAt(BufferGetPage(buf), unconstify(ItemPointerData *, &bl->owner), info->index);
	if (tup->deleted || tup->level < bl->lc)
	{
		UnlockReleaseBuffer(buf);
		return InvalidBuffer;
	}
	list->slots = HnswLevelSlots(info->m, bl->lc);
	list->used = 0;
	list->nkept = 0;
	list->present = -1;
	nb = &tup->neighbors[HnswLevelStart(info->m, bl->lc)];
	memcpy(list->before, nb, sizeof(HnswNeighbor) * list->slots);
	while (list->used < list->slots && ItemPointerIsValid(&nb[list->used].tid))
	{
		if (ItemPointerEquals(unconstify(ItemPointerData *, &nb[list->used].tid),
							  unconstify(ItemPointerData *, &bl->target)))
			list->present = list->used;
		if (nb[list->used].flags & HNSW_LINK_KEPT)
			list->nkept++;
		list->used++;
	}
	HnswAssertList(info, nb, list->slots, tup->level, bl->lc, unconstify(ItemPointerData *, &bl->owner));
	return buf;
}

/*
 * The new link's flags (HNSW_LINK_KEPT when it is to be kept and the list
 * has room for one more kept link), or -1 when keep is HNSW_KEEP_ONLY and
 * it cannot be kept (and is not already).
 */
static int
NewLinkFlags(const HnswInfo *info, const BackLinkList *list, int keep)
{
	int			flags = keep != HNSW_KEEP_NO && list->nkept < HnswKeptRoom(info->metric, list->slots) ? HNSW_LINK_KEPT : 0;

	if (keep == HNSW_KEEP_ONLY && flags == 0 &&
		!(list->present >= 0 && (list->before[list->present].flags & HNSW_LINK_KEPT)))
		return -1;
	return flags;
}

/* write slot s of the owner's level-lc list (its page locked) and WAL-log it */
static void
WriteSlot(HnswInfo *info, Buffer buf, ItemPointer owner, int lc, int s, const HnswNeighbor *nb, bool building)
{
	GenericXLogState *state;
	Page		page = HnswBeginChange(&state, info->index, buf, building, 0);
	HnswElementTuple tup = TupleAt(page, owner, info->index);

	Assert(s >= 0 && s < HnswLevelSlots(info->m, lc));
	tup->neighbors[HnswLevelStart(info->m, lc) + s] = *nb;
	HnswAssertList(info, &tup->neighbors[HnswLevelStart(info->m, lc)], HnswLevelSlots(info->m, lc),
						 tup->level, lc, owner);
	HnswFinishChange(state, buf);
}

/* add a link from element owner to target on level lc if owner has a free slot there */
static void
AppendLinkIfRoom(HnswInfo *info, ItemPointer owner, int lc, ItemPointer target, float distance, bool building)
{
	HnswBackLink bl = {.owner = *owner, .lc = lc, .target = *target};
	BackLinkList list;
	Buffer		buf = ReadList(info, &bl, &list);

	if (buf == InvalidBuffer)
		return;
	if (list.present < 0 && list.used < list.slots)
		WriteSlot(info, buf, owner, lc, list.used,
				  &(HnswNeighbor) {.tid = *target, .flags = 0, .distance = distance}, building);
	UnlockReleaseBuffer(buf);
}

/*
 * The rule for a full list taking a newcomer, for both graphs: its members
 * that may be pruned (all but those skip marks: kept links, which stay
 * where they are) and the newcomer, nearest first (a member before the
 * newcomer at an equal distance), through HnswRepruneList for one slot
 * fewer than candidates.  dist, vecs, known (may be NULL) are the members'
 * by slot.  order[i] gets candidate i's slot in the list, or -1 for the
 * newcomer; r's indexes are candidates'.  False when the list stays as it
 * was.
 */
bool
HnswRepruneMembers(HnswMetric metric, int dims, const HnswListMembers *lm, float newDist, const float *newVec,
				   bool force, HnswReprune *r, int *order)
{
	float		dist[HNSW_MAX_M * 2 + 1];
	const float *vecs[HNSW_MAX_M * 2 + 1];
	uint8		known[HNSW_MAX_M * 2 + 1];
	int			n = 0;
	int			ie = -1;

	Assert(lm->n <= HNSW_MAX_M * 2);
	/* insertion sort: the list is short */
	for (int s = 0; s <= lm->n; s++)
	{
		float		d = s < lm->n ? lm->dist[s] : newDist;
		int			j = n;

		if (s < lm->n && lm->skip && lm->skip[s])
			continue;
		while (j > 0 && dist[j - 1] > d)
		{
			dist[j] = dist[j - 1];
			order[j] = order[j - 1];
			j--;
		}
		dist[j] = d;
		order[j] = s < lm->n ? s : -1;
		n++;
	}
	for (int i = 0; i < n; i++)
	{
		if (order[i] < 0)
			ie = i;
		vecs[i] = order[i] < 0 ? newVec : lm->vecs[order[i]];
		known[i] = order[i] < 0 || lm->known == NULL ? HNSW_LINK_UNKNOWN : lm->known[order[i]];
	}
	Assert(ie >= 0 && n >= 2);
	return HnswRepruneList(metric, dims, vecs, dist, lm->known ? known : NULL, n, ie, n - 1, force, r);
}

/*
 * Re-prune the full list copied in list for the newcomer (HnswRepruneMembers),
 * reading the members' vectors with no page locked: cands gets the
 * candidates (members by order, the newcomer), *leftOutVec the vector of
 * the member left out.  False when the newcomer stays out.
 */
static bool
Reprune(HnswInfo *info, const HnswBackLink *bl, const BackLinkList *list, HnswNeighbor *cands,
		HnswReprune *r, const float **leftOutVec)
{
	float		dist[HNSW_MAX_M * 2];
	const float *vecs[HNSW_MAX_M * 2];
	bool		skip[HNSW_MAX_M * 2];
	int			order[HNSW_MAX_M * 2 + 1];
	HnswListMembers lm = {.n = list->slots, .dist = dist, .vecs = vecs, .known = NULL, .skip = skip};

	for (int s = 0; s < list->slots; s++)
	{
		skip[s] = (list->before[s].flags & HNSW_LINK_KEPT) != 0;
		dist[s] = list->before[s].distance;
		vecs[s] = NULL;
		if (!skip[s])
		{
			float	   *v = palloc(sizeof(float) * info->dims);

			HnswFetchVector(info, unconstify(ItemPointerData *, &list->before[s].tid), v);
			vecs[s] = v;
		}
	}
	if (!HnswRepruneMembers(info->metric, info->dims, &lm, bl->distance, bl->targetVec, bl->force, r, order))
		return false;
	Assert(r->nchosen == list->slots - list->nkept);
	for (int i = 0; i <= r->nchosen; i++)
		cands[i] = order[i] >= 0 ? list->before[order[i]] :
			(HnswNeighbor) {.tid = bl->target, .flags = 0, .distance = bl->distance};
	*leftOutVec = r->leftOut >= 0 ? vecs[order[r->leftOut]] : NULL;
	return true;
}

/*
 * Write the re-pruned list of the owner (kept links first, in their order,
 * then the chosen candidates; the newcomer's link with flags) if it is
 * still the list copied; false if it changed meanwhile (the caller starts
 * over).
 */
static bool
WriteRepruned(HnswInfo *info, const HnswBackLink *bl, const BackLinkList *list, const HnswNeighbor *cands,
			  const HnswReprune *r, uint16 flags, bool building)
{
	ItemPointer owner = unconstify(ItemPointerData *, &bl->owner);
	int			start = HnswLevelStart(info->m, bl->lc);
	Buffer		buf = HnswReadBuffer(info->index, ItemPointerGetBlockNumber(owner));
	HnswElementTuple tup;
	GenericXLogState *state;
	Page		page;
	int			w = 0;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	tup = TupleAt(BufferGetPage(buf), owner, info->index);
	if (memcmp(&tup->neighbors[start], list->before, sizeof(HnswNeighbor) * list->slots) != 0)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	page = HnswBeginChange(&state, info->index, buf, building, 0);
	tup = TupleAt(page, owner, info->index);
	for (int i = 0; i < list->slots; i++)
		if (list->before[i].flags & HNSW_LINK_KEPT)
			tup->neighbors[start + w++] = list->before[i];
	for (int i = 0; i < r->nchosen; i++)
	{
		HnswNeighbor *nb = &tup->neighbors[start + w++];

		memset(nb, 0, sizeof(HnswNeighbor));
		nb->tid = cands[r->chosen[i]].tid;
		nb->distance = cands[r->chosen[i]].distance;
		nb->flags = ItemPointerEquals(&nb->tid, unconstify(ItemPointerData *, &bl->target)) ? flags : 0;
	}
	/* a full list stays full: every slot but the one left out */
	Assert(w == list->slots);
	HnswAssertList(info, &tup->neighbors[start], list->slots, tup->level, bl->lc, owner);
	HnswFinishChange(state, buf);
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Add a link from element bl->owner to the newcomer bl->target on level
 * bl->lc.  A list that has the newcomer already takes only its kept flag, a
 * list with room takes the link in its first free slot; a full list is
 * re-pruned (HnswRepruneMembers) over its members and the newcomer, with
 * the vectors read without holding the owner's page, so the list is checked
 * again before it is written and the work redone if it changed meanwhile.
 * Kept links (HNSW_LINK_KEPT) are never pruned.  bl->force: the newcomer
 * must get in (it takes the farthest member's place when the heuristic
 * turns it away); bl->keep (HNSW_KEEP_*): the new link is to be the
 * newcomer's kept way in, if the list has fewer than HnswMaxKept kept links
 * (_IF_ROOM: else a plain link; _ONLY: else none).  The member a full list
 * leaves out may have lost its last way in: the newcomer, near both, links
 * to it if it has room.  building: no WAL (the build logs its pages when it
 * ends).  Returns HNSW_BACKLINK_NONE when no link was made (the owner is
 * deleted or below the level, or, not force, the heuristic preferred the
 * members, or no room for a kept one), else _MADE or _KEPT.
 */
int
HnswAddBackLink(HnswInfo *info, const HnswBackLink *bl, bool building)
{
	/* an insert that keeps changing the list wins only so many races */
	for (int attempt = 0; attempt < (bl->force ? 1000 : 10); attempt++)
	{
		BackLinkList list;
		Buffer		buf = ReadList(info, bl, &list);
		int			flags;
		HnswNeighbor cands[HNSW_MAX_M * 2 + 1];
		HnswReprune r;
		const float *leftOutVec;

		if (buf == InvalidBuffer)
			return HNSW_BACKLINK_NONE;
		flags = NewLinkFlags(info, &list, bl->keep);
		if (flags < 0)
		{
			UnlockReleaseBuffer(buf);
			return HNSW_BACKLINK_NONE;
		}
		if (list.present >= 0 || list.used < list.slots)
		{
			int			s = list.present >= 0 ? list.present : list.used;
			HnswNeighbor nb = list.present >= 0 ? list.before[s] :
				(HnswNeighbor) {.tid = bl->target, .flags = 0, .distance = bl->distance};

			/* already linked (a repair after VACUUM re-links existing elements): only the flag */
			if (list.present < 0 || (nb.flags & flags) != flags)
			{
				nb.flags |= flags;
				WriteSlot(info, buf, unconstify(ItemPointerData *, &bl->owner), bl->lc, s, &nb, building);
			}
			UnlockReleaseBuffer(buf);
			return (nb.flags & HNSW_LINK_KEPT) ? HNSW_BACKLINK_KEPT : HNSW_BACKLINK_MADE;
		}
		UnlockReleaseBuffer(buf);

		if (!Reprune(info, bl, &list, cands, &r, &leftOutVec))
			return HNSW_BACKLINK_NONE;
		if (!WriteRepruned(info, bl, &list, cands, &r, flags, building))
			continue;
		if (r.leftOut >= 0)
			AppendLinkIfRoom(info, unconstify(ItemPointerData *, &bl->target), bl->lc, &cands[r.leftOut].tid,
							 HnswDistance(info->metric, info->dims, bl->targetVec, leftOutVec), building);
		return flags ? HNSW_BACKLINK_KEPT : HNSW_BACKLINK_MADE;
	}
	return HNSW_BACKLINK_NONE;
}
