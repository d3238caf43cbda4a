/*
 * hnswinsert.c
 *		Inserting one heap tuple into an embedding_hnsw index.
 */
#include "postgres.h"

#include "embedding/embedding.h"
#include "hnsw.h"
#include "utils/memutils.h"

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
