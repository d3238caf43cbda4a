/*
 * scrub.c
 *		Zero the bytes of a relation's pages that no tuple uses (erasure).
 *
 * Erasing a face (retention or erase_person) writes a new version of the
 * capture row without its embedding and photo, and deletes gallery rows and
 * photo TOAST chunks.  VACUUM (or pruning) later frees the old versions, but
 * freeing only moves line pointers and the remaining tuples: the bytes of the
 * erased embeddings stay in the page's free space, readable in the data file,
 * in base backups and by pageinspect's get_raw_page, until new tuples happen
 * to overwrite them.  scrub_free_space zeroes them.
 *
 * Per page: prune it first if a cleanup lock is free at once (heap and TOAST
 * pages: heap_page_prune removes versions no snapshot can see any more, as
 * opportunistic pruning does, respecting HOT chains), then, under an exclusive
 * lock, zero every byte between the line pointer array and the special space
 * that no line pointer with storage covers: the free space (pd_lower to
 * pd_upper), gaps left between tuples, and the alignment padding after each
 * tuple.  Bytes of live and recently dead tuples, of killed index tuples (a
 * concurrent scan may still look at them) and the special space are never
 * touched, so a reader holding only a pin reads exactly what it read before:
 * nothing it can reach through a line pointer changes.  An index metapage
 * (block 0 of btree and embedding_hnsw) keeps its contents below pd_lower and
 * has only its free space zeroed, and so has a deleted btree page (its safe
 * xid lies there).
 *
 * A page that changed is WAL-logged as a full page image (log_newpage_buffer
 * with the standard layout, so the image leaves out the zeroed free space and
 * replay restores it as zeros): a standby replaying it and crash recovery get
 * the scrubbed page; the WAL is flushed before the function returns (page
 * images give the transaction no xid, so its commit would not).  A page that
 * is already clean is neither dirtied nor logged, so a second scrub writes
 * nothing.
 *
 * Covered: heap pages (tables, their partitions and TOAST tables), btree and
 * embedding_hnsw index pages.  Other index access methods are reported with
 * zero pages and left alone (their page layouts are not known here).
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "domain/scrub.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* what the scrub did to one relation */
typedef struct ScrubCounts
{
	int64		pages;			/* pages read */
	int64		scrubbed;		/* pages changed (and WAL-logged) */
	int64		zeroed;			/* bytes set to zero */
} ScrubCounts;

/* the end of the last page image the scrub logged */
static XLogRecPtr scrub_lsn = InvalidXLogRecPtr;

/* scrub one block: prune (heap), zero, log; adds to counts */
static void
ScrubBlock(Relation rel, BlockNumber blk, BufferAccessStrategy strategy, bool heap, bool meta,
		   ScrubCounts *counts)
{
	Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
	Page		page;
	int			n;

	if (heap && ConditionalLockBufferForCleanup(buf))
	{
		/* free what no snapshot sees any more, as opportunistic pruning would */
		if (!PageIsNew(BufferGetPage(buf)) && !PageIsEmpty(BufferGetPage(buf)))
		{
			int			nnewlpdead;

			heap_page_prune(rel, buf, InvalidTransactionId, GlobalVisTestFor(rel),
							InvalidTransactionId, 0, &nnewlpdead, NULL);
		}
	}
	else
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);

	page = BufferGetPage(buf);
	/* a deleted btree page keeps its safe xid below pd_lower, like a metapage */
	if (!meta && !heap && rel->rd_rel->relam == BTREE_AM_OID && !PageIsNew(page) &&
		PageGetSpecialSize(page) == MAXALIGN(sizeof(BTPageOpaqueData)) &&
		P_ISDELETED((BTPageOpaque) PageGetSpecialPointer(page)))
		meta = true;
	START_CRIT_SECTION();
	n = ScrubPageFreeSpace(page, meta);
	if (n > 0)
	{
		MarkBufferDirty(buf);
		if (RelationNeedsWAL(rel))
			scrub_lsn = log_newpage_buffer(buf, true);
	}
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);

	counts->pages++;
	if (n > 0)
	{
		counts->scrubbed++;
		counts->zeroed += n;
	}
}

/* whether an index's pages are known here: btree or embedding_hnsw */
static bool
ScrubIndexKnown(Relation rel)
{
	char	   *am;
	bool		known;

	if (rel->rd_rel->relam == BTREE_AM_OID)
		return true;
	am = get_am_name(rel->rd_rel->relam);
	known = am != NULL && strcmp(am, "embedding_hnsw") == 0;
	if (am != NULL)
		pfree(am);
	return known;
}

/* scrub every block of one relation with storage; one result row */
static void
ScrubRelation(Oid relid, ReturnSetInfo *rsinfo)
{
	Relation	rel = relation_open(relid, RowExclusiveLock);
	ScrubCounts counts = {0, 0, 0};
	bool		heap = rel->rd_rel->relkind == RELKIND_RELATION ||
		rel->rd_rel->relkind == RELKIND_TOASTVALUE ||
		rel->rd_rel->relkind == RELKIND_MATVIEW;
	bool		index = rel->rd_rel->relkind == RELKIND_INDEX;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (RELATION_IS_OTHER_TEMP(rel))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot scrub temporary tables of other sessions")));

	if ((heap && rel->rd_tableam != NULL && rel->rd_rel->relam == HEAP_TABLE_AM_OID) ||
		(index && ScrubIndexKnown(rel)))
	{
		BufferAccessStrategy strategy = GetAccessStrategy(BAS_VACUUM);
		BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
		BlockNumber blk;

		for (blk = 0; blk < nblocks; blk++)
		{
			CHECK_FOR_INTERRUPTS();
			ScrubBlock(rel, blk, strategy, heap, index && blk == 0, &counts);
		}
		FreeAccessStrategy(strategy);
	}

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int64GetDatum(counts.pages);
	values[2] = Int64GetDatum(counts.scrubbed);
	values[3] = Int64GetDatum(counts.zeroed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	relation_close(rel, RowExclusiveLock);
}

/* scrub a table, its TOAST table and the indexes of both */
static void
ScrubTable(Oid relid, ReturnSetInfo *rsinfo)
{
	Relation	rel = table_open(relid, RowExclusiveLock);
	Oid			toastid = rel->rd_rel->reltoastrelid;
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;

	ScrubRelation(relid, rsinfo);
	foreach(lc, indexes)
		ScrubRelation(lfirst_oid(lc), rsinfo);
	if (OidIsValid(toastid))
	{
		Relation	toast = table_open(toastid, RowExclusiveLock);
		List	   *toastindexes = RelationGetIndexList(toast);

		ScrubRelation(toastid, rsinfo);
		foreach(lc, toastindexes)
			ScrubRelation(lfirst_oid(lc), rsinfo);
		list_free(toastindexes);
		table_close(toast, RowExclusiveLock);
	}
	list_free(indexes);
	table_close(rel, RowExclusiveLock);
}

PG_FUNCTION_INFO_V1(fs_scrub_free_space);

/*
 * scrub_free_space(rel regclass)
 *		returns table (relation regclass, pages bigint, pages_scrubbed bigint, bytes_zeroed bigint)
 *
 * A table: itself, its indexes, its TOAST table and its index; a partitioned
 * table: that for every partition; an index: itself.  The caller must own rel.
 */
Datum
fs_scrub_free_space(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	char		relkind;
	List	   *parts;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	/* it writes pages and WAL: not on a standby, not in a read-only transaction */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot scrub during recovery"),
				 errhint("Scrub on the primary; standbys replay its page images.")));
	PreventCommandIfReadOnly("scrub_free_space()");
	scrub_lsn = InvalidXLogRecPtr;
	relkind = get_rel_relkind(relid);
	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), get_rel_name(relid));

	switch (relkind)
	{
		case RELKIND_RELATION:
		case RELKIND_MATVIEW:
		case RELKIND_TOASTVALUE:
			ScrubTable(relid, rsinfo);
			break;
		case RELKIND_PARTITIONED_TABLE:
			LockRelationOid(relid, AccessShareLock);
			parts = find_all_inheritors(relid, AccessShareLock, NULL);
			foreach(lc, parts)
			{
				if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION)
					ScrubTable(lfirst_oid(lc), rsinfo);
			}
			list_free(parts);
			break;
		case RELKIND_INDEX:
			ScrubRelation(relid, rsinfo);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("cannot scrub \"%s\"", get_rel_name(relid)),
					 errdetail("Only tables, partitioned tables, materialized views and indexes have pages to scrub.")));
	}

	/*
	 * Page images alone give the transaction no xid, so its commit would not
	 * wait for the WAL: flush it here, so that a scrub that has returned
	 * survives a crash (and reaches standbys without waiting for the WAL
	 * writer).
	 */
	if (!XLogRecPtrIsInvalid(scrub_lsn))
		XLogFlush(scrub_lsn);
	return (Datum) 0;
}
