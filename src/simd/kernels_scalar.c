/*
 * kernels_scalar.c
 *		Portable distance kernels: the reference every SIMD table is tested
 *		against, and the fallback on CPUs without a faster one.
 *
 * Each kernel keeps four independent float accumulators so that the compiler
 * can overlap the additions without reassociating (no -ffast-math needed).
 */
#include "postgres.h"

#include <math.h>

#include "simd.h"

/* squared Euclidean distance */
static float
ScalarL2sq(int n, const float *a, const float *b)
{
	float		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		float		d0 = a[i] - b[i];
		float		d1 = a[i + 1] - b[i + 1];
		float		d2 = a[i + 2] - b[i + 2];
		float		d3 = a[i + 3] - b[i + 3];

		s0 += d0 * d0;
		s1 += d1 * d1;
		s2 += d2 * d2;
		s3 += d3 * d3;
	}
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		s0 += d * d;
	}
	return (s0 + s1) + (s2 + s3);
}

/* inner product */
static float
ScalarDot(int n, const float *a, const float *b)
{
	float		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

/* dot product and both squared norms in one pass */
static void
ScalarCosparts(int n, const float *a, const float *b,
			   float *dot, float *aa, float *bb)
{
	float		d0 = 0,
				d1 = 0,
				a0 = 0,
				a1 = 0,
				b0 = 0,
				b1 = 0;
	int			i = 0;

	for (; i + 2 <= n; i += 2)
	{
		d0 += a[i] * b[i];
		d1 += a[i + 1] * b[i + 1];
		a0 += a[i] * a[i];
		a1 += a[i + 1] * a[i + 1];
		b0 += b[i] * b[i];
		b1 += b[i + 1] * b[i + 1];
	}
	if (i < n)
	{
		d0 += a[i] * b[i];
		a0 += a[i] * a[i];
		b0 += b[i] * b[i];
	}
	*dot = d0 + d1;
	*aa = a0 + a1;
	*bb = b0 + b1;
}

/* taxicab distance */
static float
ScalarL1(int n, const float *a, const float *b)
{
	float		s0 = 0,
				s1 = 0,
				s2 = 0,
				s3 = 0;
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += fabsf(a[i] - b[i]);
		s1 += fabsf(a[i + 1] - b[i + 1]);
		s2 += fabsf(a[i + 2] - b[i + 2]);
		s3 += fabsf(a[i + 3] - b[i + 3]);
	}
	for (; i < n; i++)
		s0 += fabsf(a[i] - b[i]);
	return (s0 + s1) + (s2 + s3);
}

/* squared Euclidean norm */
static float
ScalarNormsq(int n, const float *a)
{
	return ScalarDot(n, a, a);
}

const FsKernels fs_kernels_scalar = {
	"scalar", ScalarL2sq, ScalarDot, ScalarCosparts, ScalarL1, ScalarNormsq
};
