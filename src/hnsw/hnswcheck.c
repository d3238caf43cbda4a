/*
 * hnswcheck.c
 *		firstsight.index_check(regclass): a structural check of an
 *		embedding_hnsw index, one row per problem found.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/pg_am.h"
#include "funcapi.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

/* what the check remembers of each element */
typedef struct ElemInfo
{
	int16		level;			/* -1: no element at this offset */
	bool		deleted;
	bool		reached;		/* found by the walk from the entry point */
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

/* walk level 0 from the entry point; report live elements never reached */
static void
CheckReachable(Relation index, HnswMetaPageData *meta, ElemInfo **elems, OffsetNumber *counts,
			   BlockNumber nblocks, CheckState *cs)
{
	int			cap = 1024;
	int			head = 0,
				tail = 0;
	ItemPointerData *queue = palloc(sizeof(ItemPointerData) * cap);
	int			unreached = 0;

	Lookup(elems, counts, nblocks, &meta->entry)->reached = true;
	queue[tail++] = meta->entry;
	while (head < tail)
	{
		ItemPointerData cur = queue[head++];
		Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(&cur));
		Page		page;
		HnswElementTuple tup;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		tup = (HnswElementTuple) PageGetItem(page, PageGetItemId(page, ItemPointerGetOffsetNumber(&cur)));
		for (int i = 0; i < 2 * meta->m && ItemPointerIsValid(&tup->neighbors[i].tid); i++)
		{
			ElemInfo   *t = Lookup(elems, counts, nblocks, &tup->neighbors[i].tid);

			if (t == NULL || t->level < 0 || t->reached)
				continue;
			t->reached = true;
			if (tail == cap)
			{
				if (head > 0)
				{
					memmove(queue, queue + head, sizeof(ItemPointerData) * (tail - head));
					tail -= head;
					head = 0;
				}
				if (tail == cap)
				{
					cap *= 2;
					queue = repalloc(queue, sizeof(ItemPointerData) * cap);
				}
			}
			queue[tail++] = tup->neighbors[i].tid;
		}
		UnlockReleaseBuffer(buf);
	}
	for (BlockNumber blk = HNSW_HEAD_BLKNO; blk < nblocks; blk++)
		for (OffsetNumber off = FirstOffsetNumber; off <= counts[blk]; off++)
		{
			ElemInfo   *ei = &elems[blk][off - 1];

			if (ei->level >= 0 && !ei->deleted && !ei->reached)
			{
				if (unreached < 10)
					Problem(cs, "element (%u,%u) cannot be reached from the entry point on level 0", blk, off);
				unreached++;
			}
		}
	if (unreached > 10)
		Problem(cs, "%d live elements in all cannot be reached from the entry point", unreached);
	pfree(queue);
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
				Problem(&cs, "element (%u,%u): no element tuple at this offset", blk, off);
				continue;
			}
			if (tup->level > meta.maxLevel ||
				ItemIdGetLength(iid) != HnswTupleSize(meta.m, tup->level, meta.dims) ||
				tup->dims != meta.dims)
			{
				Problem(&cs, "element (%u,%u): level %d or size %u does not match the index (m %u, dims %u, max level %u)",
						blk, off, tup->level, ItemIdGetLength(iid), meta.m, meta.dims, meta.maxLevel);
				continue;
			}
			ei->level = tup->level;
			ei->deleted = tup->deleted != 0;
			if (!ei->deleted)
				topLive = Max(topLive, tup->level);
		}
		UnlockReleaseBuffer(buf);
	}

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
					 * A link to a deleted element is not a fault: deleted
					 * slots are never reused and scans skip them; such links
					 * remain between VACUUM's passes, after a crash inside
					 * VACUUM, or when an insert linked to an element VACUUM
					 * was deleting, and the next VACUUM repairs them.
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
	/* every live element must be reachable on level 0 from the entry point */
	if (topLive >= 0 && meta.entryLevel >= 0)
	{
		ElemInfo   *ep = Lookup(elems, counts, nblocks, &meta.entry);

		if (ep != NULL && ep->level >= 0 && !ep->deleted)
			CheckReachable(index, &meta, elems, counts, nblocks, &cs);
	}

	if (meta.insertPage < HNSW_HEAD_BLKNO || meta.insertPage >= nblocks)
		Problem(&cs, "insert page %u is outside the index (%u blocks)", meta.insertPage, nblocks);

	relation_close(index, lockmode);
	return (Datum) 0;
}
