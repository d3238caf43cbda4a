/*
 * simd.h
 *		The distance kernel table.
 *
 * Every distance in firstsight is computed through one table of function
 * pointers.  The scalar table is installed first; at load time CPU detection
 * picks the fastest table the CPU supports, and the setting firstsight.simd
 * can force a lower one.  Nothing outside src/simd touches an intrinsic.
 */
#ifndef FIRSTSIGHT_SIMD_H
#define FIRSTSIGHT_SIMD_H

#include <math.h>

typedef enum FsKernelId
{
	FS_KERNEL_SCALAR = 0,
	FS_KERNEL_AVX2,
	FS_KERNEL_AVX512,
	FS_KERNEL_NEON
} FsKernelId;

#define FS_KERNEL_COUNT 4

typedef struct FsKernels
{
	const char *name;
	/* sum of (a[i] - b[i])^2 */
	float		(*l2sq) (int n, const float *a, const float *b);
	/* sum of a[i] * b[i] */
	float		(*dot) (int n, const float *a, const float *b);
	/* dot product, |a|^2 and |b|^2 in one pass */
	void		(*cosparts) (int n, const float *a, const float *b,
							 float *dot, float *aa, float *bb);
	/* sum of |a[i] - b[i]| */
	float		(*l1) (int n, const float *a, const float *b);
	/* sum of a[i]^2 */
	float		(*normsq) (int n, const float *a);
} FsKernels;

/* the active table; never NULL */
extern const FsKernels *fs_kernels;

/* per-instruction-set tables; NULL where not compiled for this architecture */
extern const FsKernels fs_kernels_scalar;
extern const FsKernels *FsKernelsAvx2(void);
extern const FsKernels *FsKernelsAvx512(void);
extern const FsKernels *FsKernelsNeon(void);

extern bool FsKernelSupported(FsKernelId id);
extern FsKernelId FsKernelBest(void);
extern const FsKernels *FsKernelTable(FsKernelId id);
extern const char *FsKernelName(FsKernelId id);

/* cosine similarity from the kernel parts, clamped to [-1, 1]; NaN for a zero vector */
static inline double
FsCosineSimilarity(int n, const float *a, const float *b)
{
	float		dot,
				aa,
				bb;
	double		sim;

	fs_kernels->cosparts(n, a, b, &dot, &aa, &bb);
	sim = (double) dot / sqrt((double) aa * (double) bb);
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return sim;
}

/*
 * sum of a[i]^2 accumulated in double, as pgvector's norm does: finite for
 * every vector of finite float4 elements (|a|^2 of [3e38] overflows float4)
 */
static inline double
FsNormSquaredDouble(int n, const float *a)
{
	double		s = 0;

	for (int i = 0; i < n; i++)
		s += (double) a[i] * (double) a[i];
	return s;
}

#endif
