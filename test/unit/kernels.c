/*
 * kernels.c
 *		Unit test of the distance kernels: every table the CPU supports
 *		against the scalar table, and the scalar table against a double
 *		precision reference.
 *
 * Lengths 1..64 exhaustively (every tail of every main loop) and random
 * lengths up to 2000, each at four misalignments, in buffers of exactly the
 * right size so that valgrind or ASan see any read past the end.  Error
 * bounds follow the condition of each sum: |x - y| <= 1e-5 * sum |terms|,
 * which for the inner product is sum |a_i b_i| (the result itself may cancel
 * to near zero) and for the other kernels equals the exact result.
 *
 *	kernels [SEED]		prints one line, exits 1 on any failure
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "simd.h"

/* plain libc printing: port.h maps these to libpgport, absent when cross-compiling */
#undef printf
#undef fprintf
#undef snprintf

#define MAX_LEN 2000
#define RANDOM_LENGTHS 1000
#define TOLERANCE 1e-5

static uint64 rng_state;
static long failures = 0;
static long checks = 0;

/* xorshift64*: a uniform 64-bit number */
static uint64
NextRandom(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64CONST(2685821657736338717);
}

/* a uniform float in [-1, 1) */
static float
RandomUnit(void)
{
	return (float) ((double) (NextRandom() >> 11) / (double) (UINT64CONST(1) << 53) * 2.0 - 1.0);
}

/* fill x[0..n) with one of several distributions */
static void
FillRandom(float *x, int n, int kind)
{
	for (int i = 0; i < n; i++)
	{
		float		v = RandomUnit();

		switch (kind)
		{
			case 0:				/* uniform in [-1, 1) */
				x[i] = v;
				break;
			case 1:				/* non-negative, like ReLU features */
				x[i] = fabsf(v);
				break;
			case 2:				/* magnitudes spread over 2^-10 .. 2^10 */
				x[i] = ldexpf(v, (int) (NextRandom() % 21) - 10);
				break;
			default:			/* a few large elements among small ones */
				x[i] = (NextRandom() % 16 == 0) ? v * 100.0f : v * 0.01f;
				break;
		}
	}
}

/* compare a kernel result with a reference under a condition-aware bound */
static void
Check(const char *kernel, const char *fn, int n, int off, double got,
	  double want, double scale, double *maxrel)
{
	double		err = fabs(got - want);
	double		rel = scale > 0 ? err / scale : err;

	checks++;
	if (rel > *maxrel)
		*maxrel = rel;
	if (!(err <= TOLERANCE * scale) && !(scale == 0 && err == 0))
	{
		if (failures++ < 20)
			fprintf(stderr, "FAIL %s %s n=%d off=%d: got %.9g want %.9g (|err| %.3g > %.1g * %.9g)\n",
					kernel, fn, n, off, got, want, err, TOLERANCE, scale);
	}
}

/* the exact-size copy of x at a float offset, so reads past n are caught */
static float *
ExactCopy(const float *x, int n, int off)
{
	float	   *buf = malloc(sizeof(float) * (n + off));

	memcpy(buf + off, x, sizeof(float) * n);
	return buf;
}

/* run one table against scalar and scalar against double on one input */
static void
CheckOne(const FsKernels *k, int n, int off, const float *a0, const float *b0,
		 double *maxrel)
{
	float	   *abuf = ExactCopy(a0, n, off);
	float	   *bbuf = ExactCopy(b0, n, off);
	const float *a = abuf + off;
	const float *b = bbuf + off;
	const FsKernels *s = &fs_kernels_scalar;
	double		sabsdot = 0,
				sl2 = 0,
				sl1 = 0,
				saa = 0,
				sbb = 0,
				ddot = 0;
	float		kd,
				ka,
				kb,
				sd,
				sa,
				sb;

	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		ddot += (double) a[i] * b[i];
		sabsdot += fabs((double) a[i] * b[i]);
		sl2 += d * d;
		sl1 += fabs(d);
		saa += (double) a[i] * a[i];
		sbb += (double) b[i] * b[i];
	}

	if (k == s)
	{
		/* scalar against the double-precision reference */
		Check(k->name, "l2sq", n, off, s->l2sq(n, a, b), sl2, sl2, maxrel);
		Check(k->name, "dot", n, off, s->dot(n, a, b), ddot, sabsdot, maxrel);
		Check(k->name, "l1", n, off, s->l1(n, a, b), sl1, sl1, maxrel);
		Check(k->name, "normsq", n, off, s->normsq(n, a), saa, saa, maxrel);
		s->cosparts(n, a, b, &sd, &sa, &sb);
		Check(k->name, "cosparts.dot", n, off, sd, ddot, sabsdot, maxrel);
		Check(k->name, "cosparts.aa", n, off, sa, saa, saa, maxrel);
		Check(k->name, "cosparts.bb", n, off, sb, sbb, sbb, maxrel);
	}
	else
	{
		Check(k->name, "l2sq", n, off, k->l2sq(n, a, b), s->l2sq(n, a, b), sl2, maxrel);
		Check(k->name, "dot", n, off, k->dot(n, a, b), s->dot(n, a, b), sabsdot, maxrel);
		Check(k->name, "l1", n, off, k->l1(n, a, b), s->l1(n, a, b), sl1, maxrel);
		Check(k->name, "normsq", n, off, k->normsq(n, a), s->normsq(n, a), saa, maxrel);
		k->cosparts(n, a, b, &kd, &ka, &kb);
		s->cosparts(n, a, b, &sd, &sa, &sb);
		Check(k->name, "cosparts.dot", n, off, kd, sd, sabsdot, maxrel);
		Check(k->name, "cosparts.aa", n, off, ka, sa, saa, maxrel);
		Check(k->name, "cosparts.bb", n, off, kb, sb, sbb, maxrel);
		/* identical inputs: l2 and l1 must be exactly zero */
		Check(k->name, "l2sq(a,a)", n, off, k->l2sq(n, a, a), 0, 0, maxrel);
		Check(k->name, "l1(a,a)", n, off, k->l1(n, a, a), 0, 0, maxrel);
	}
	free(abuf);
	free(bbuf);
}

int
main(int argc, char **argv)
{
	static float a[MAX_LEN],
				b[MAX_LEN];
	int			lengths[64 + RANDOM_LENGTHS + 4];
	int			nlengths = 0;
	char		tested[128] = "";
	double		worst = 0;

	rng_state = argc > 1 ? strtoull(argv[1], NULL, 10) : UINT64CONST(20240601);
	if (rng_state == 0)
		rng_state = 1;
	for (int n = 1; n <= 64; n++)
		lengths[nlengths++] = n;
	for (int i = 0; i < RANDOM_LENGTHS; i++)
		lengths[nlengths++] = 65 + (int) (NextRandom() % (MAX_LEN - 64));
	lengths[nlengths++] = 128;
	lengths[nlengths++] = 512;
	lengths[nlengths++] = 1024;
	lengths[nlengths++] = MAX_LEN;

	for (int id = 0; id < FS_KERNEL_COUNT; id++)
	{
		const FsKernels *k = FsKernelTable((FsKernelId) id);
		double		maxrel = 0;
		long		before = checks;

		if (k == NULL || !FsKernelSupported((FsKernelId) id))
			continue;
		for (int li = 0; li < nlengths; li++)
		{
			int			n = lengths[li];
			int			kind = li % 4;

			FillRandom(a, n, kind);
			FillRandom(b, n, kind);
			for (int off = 0; off < 4; off++)
				CheckOne(k, n, off, a, b, &maxrel);
		}
		if (id != FS_KERNEL_SCALAR)
			snprintf(tested + strlen(tested), sizeof(tested) - strlen(tested), " %s",
					 k->name);
		printf("kernel %-7s %ld checks, max error %.2g of the bound's scale\n",
				k->name, checks - before, maxrel);
		if (maxrel > worst)
			worst = maxrel;
	}
	printf("kernels: %s, scalar against double,%s against scalar, %ld checks, max relative error %.2g (bound %.0e)\n",
		   failures ? "FAILED" : "ok", tested[0] ? tested : " none", checks, worst, TOLERANCE);
	return failures ? 1 : 0;
}
