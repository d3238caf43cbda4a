/*
 * baseline.c
 *		The comparison point for the kernel benchmark: plain C loops with no
 *		intrinsics, left to the compiler's auto-vectoriser.  run.sh compiles
 *		this file with the flags pgvector compiles its distance functions with
 *		(-O2 -march=native -ftree-vectorize -fassociative-math
 *		-fno-signed-zeros -fno-trapping-math -ffp-contract=fast), which let
 *		gcc reassociate the reductions and so vectorise them.
 */
#include <math.h>

#include "bench.h"

/* sum of squared differences */
static float
AutoL2sq(int n, const float *a, const float *b)
{
	float		s = 0;

	for (int i = 0; i < n; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

/* sum of products */
static float
AutoDot(int n, const float *a, const float *b)
{
	float		s = 0;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* dot product and both squared norms in one loop */
static void
AutoCosparts(int n, const float *a, const float *b,
			 float *dot, float *aa, float *bb)
{
	float		sd = 0,
				sa = 0,
				sb = 0;

	for (int i = 0; i < n; i++)
	{
		sd += a[i] * b[i];
		sa += a[i] * a[i];
		sb += b[i] * b[i];
	}
	*dot = sd;
	*aa = sa;
	*bb = sb;
}

/* sum of absolute differences */
static float
AutoL1(int n, const float *a, const float *b)
{
	float		s = 0;

	for (int i = 0; i < n; i++)
		s += fabsf(a[i] - b[i]);
	return s;
}

/* sum of squares */
static float
AutoNormsq(int n, const float *a)
{
	return AutoDot(n, a, a);
}

const FsKernels bench_autovec = {
	"autovec", AutoL2sq, AutoDot, AutoCosparts, AutoL1, AutoNormsq
};
