/*
 * embedding.h
 *		The embedding type: a float4 vector with pgvector's on-disk layout.
 */
#ifndef FIRSTSIGHT_EMBEDDING_H
#define FIRSTSIGHT_EMBEDDING_H

#include "fmgr.h"

#define EMBEDDING_MAX_DIM 16000

/* same layout as pgvector's Vector: varlena header, dim, unused, elements */
typedef struct Embedding
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of elements */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Embedding;

#define EMBEDDING_SIZE(dim)		(offsetof(Embedding, x) + sizeof(float) * (dim))
#define DatumGetEmbedding(d)	((Embedding *) PG_DETOAST_DATUM(d))
#define PG_GETARG_EMBEDDING_P(n)	DatumGetEmbedding(PG_GETARG_DATUM(n))
#define PG_RETURN_EMBEDDING_P(e)	PG_RETURN_POINTER(e)

extern Embedding *InitEmbedding(int dim);
extern void EmbeddingCheckDim(int dim);
extern void EmbeddingCheckTypmod(int32 typmod, int dim);
extern void EmbeddingCheckElement(float value);
extern void EmbeddingCheckElementAt(float value, int element, int dim, const char *where);
extern void EmbeddingCheckSameDims(const Embedding *a, const Embedding *b);

#endif
