/*
 * blas.h
 *		Many-to-many cosine similarity through OpenBLAS.
 */
#ifndef FIRSTSIGHT_BLAS_H
#define FIRSTSIGHT_BLAS_H

/* called for every pair (0-based row of a, 0-based row of b) within the threshold */
typedef void (*FsPairCallback) (void *arg, int i, int j, double distance);

/*
 * Every pair of rows of a (m x d) and b (n x d), row-major, whose cosine
 * distance is at most max_distance.  Rows must already have unit length
 * (FsNormalizeRows); zero rows never match.  Works in blocks so memory stays
 * bounded by block_bytes whatever m and n are.
 */
extern void FsCosinePairs(const float *a, int m, const float *b, int n, int d,
						  double max_distance, Size block_bytes,
						  FsPairCallback cb, void *arg);

/* scale each of the m rows of x (m x d) to unit length; zero rows stay zero */
extern void FsNormalizeRows(float *x, int m, int d);

/* an array's embeddings (deconstructed) as unit rows, NULLs as zero rows; see blas.c */
extern float *FsUnitRows(Datum *elems, bool *nulls, int m, int d, const char *input, bool *zero);

#endif
