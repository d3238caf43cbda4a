/*
 * kernels_bench.c
 *		ns per distance of every firstsight kernel table the CPU supports,
 *		against an auto-vectorised baseline compiled like pgvector's kernels.
 *
 * The kernels are the project's real sources (every .c file of src/simd),
 * called through the same FsKernels function pointers the SQL functions use.
 * A fixed working set of vector pairs is cycled through: by default 16 KB,
 * which stays in L1 (warm cache, the arithmetic is measured); --ws 4194304
 * puts it in L2/L3, closer to a scan where the bytes come from memory.  Each
 * cell is the median of several runs; each run is calibrated to last about
 * --ms milliseconds.
 *
 * Vectors start --offset bytes (default 8) past a 64-byte boundary: an
 * embedding's elements sit 8 bytes into its datum, and a datum's place in a
 * page is arbitrary, so 64-byte-aligned data would flatter the 512-bit loads
 * (on this class of CPU a load that crosses a cache line costs about double).
 *
 * usage: kernels_bench [--runs N] [--ms MS] [--dims 128,512,1024] [--ws BYTES]
 *                      [--offset BYTES]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define MAXPAIRS 4096
#define MAXDIMS 16
#define NFUNCS 4

typedef enum
{
	F_L2SQ,
	F_DOT,
	F_COSPARTS,
	F_L1
} Func;

static const char *const func_names[NFUNCS] = {"l2sq", "dot", "cosparts", "l1"};

static volatile double sink;
static int npairs;			/* pairs in the working set */

static double
NowNs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* xorshift64*: fixed-seed uniform floats in [-1, 1) */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float
RandFloat(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (float) ((double) ((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* run iters x npairs calls of one function; returns elapsed ns */
static double
RunOnce(const FsKernels *k, Func f, int dim, float **a, float **b, long iters)
{
	double		t0 = NowNs();
	double		acc = 0;

	for (long it = 0; it < iters; it++)
	{
		for (int p = 0; p < npairs; p++)
		{
			switch (f)
			{
				case F_L2SQ:
					acc += k->l2sq(dim, a[p], b[p]);
					break;
				case F_DOT:
					acc += k->dot(dim, a[p], b[p]);
					break;
				case F_COSPARTS:
					{
						float		d,
									aa,
									bb;

						k->cosparts(dim, a[p], b[p], &d, &aa, &bb);
						acc += d + aa + bb;
					}
					break;
				case F_L1:
					acc += k->l1(dim, a[p], b[p]);
					break;
			}
		}
	}
	sink += acc;
	return NowNs() - t0;
}

static int
CmpDouble(const void *x, const void *y)
{
	double		a = *(const double *) x,
				b = *(const double *) y;

	return (a > b) - (a < b);
}

/* iterations for one run of about ms milliseconds */
static long
Calibrate(const FsKernels *k, Func f, int dim, float **a, float **b, double ms)
{
	long		iters = 1;
	double		t;

	RunOnce(k, f, dim, a, b, 100);	/* warm up */
	for (;;)
	{
		t = RunOnce(k, f, dim, a, b, iters);
		if (t > ms * 1e6 / 10)
			break;
		iters *= 2;
	}
	return (long) (iters * (ms * 1e6 / t)) + 1;
}

/*
 * Median ns per distance of each table.  Runs are interleaved (run 1 of
 * every table, then run 2, ...) so that a burst of load from elsewhere on a
 * shared machine hits all columns alike instead of one.
 */
static void
Measure(const FsKernels **tables, int ntables, Func f, int dim, float **a, float **b,
		int runs, double ms, double *ns)
{
	long		iters[8];
	double		res[8][64];

	for (int t = 0; t < ntables; t++)
		iters[t] = Calibrate(tables[t], f, dim, a, b, ms);
	for (int r = 0; r < runs; r++)
		for (int t = 0; t < ntables; t++)
			res[t][r] = RunOnce(tables[t], f, dim, a, b, iters[t]) / ((double) iters[t] * npairs);
	for (int t = 0; t < ntables; t++)
	{
		qsort(res[t], runs, sizeof(double), CmpDouble);
		ns[t] = res[t][runs / 2];
	}
}

/*
 * One call's error against the scalar table: relative for l2sq and l1 (sums of
 * non-negative terms); for dot relative to |a||b| (the sum can cancel to near
 * zero); for cosparts the absolute error of the cosine similarity built from
 * the parts.
 */
static double
ErrorVsScalar(const FsKernels *k, Func f, int dim, const float *a, const float *b)
{
	const FsKernels *s = &fs_kernels_scalar;
	float		d,
				aa,
				bb,
				sd,
				saa,
				sbb;
	double		v,
				ref;

	switch (f)
	{
		case F_L2SQ:
			v = k->l2sq(dim, a, b);
			ref = s->l2sq(dim, a, b);
			return fabs(v - ref) / ref;
		case F_DOT:
			v = k->dot(dim, a, b);
			ref = s->dot(dim, a, b);
			return fabs(v - ref) / sqrt((double) s->normsq(dim, a) * s->normsq(dim, b));
		case F_COSPARTS:
			k->cosparts(dim, a, b, &d, &aa, &bb);
			s->cosparts(dim, a, b, &sd, &saa, &sbb);
			return fabs(d / sqrt((double) aa * bb) - sd / sqrt((double) saa * sbb));
		case F_L1:
			v = k->l1(dim, a, b);
			ref = s->l1(dim, a, b);
			return fabs(v - ref) / ref;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int			runs = 11;
	double		ms = 30;
	int			dims[MAXDIMS] = {128, 512, 1024};
	int			ndims = 3;
	long		ws = 16384;
	int			offset = 2;		/* floats: 8 bytes */
	const FsKernels *tables[8];
	int			ntables = 0;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc)
			ms = atof(argv[++i]);
		else if (strcmp(argv[i], "--offset") == 0 && i + 1 < argc)
			offset = atoi(argv[++i]) / (int) sizeof(float) % 16;
		else if (strcmp(argv[i], "--ws") == 0 && i + 1 < argc)
			ws = atol(argv[++i]);
		else if (strcmp(argv[i], "--dims") == 0 && i + 1 < argc)
		{
			char	   *s = argv[++i];

			ndims = 0;
			for (char *tok = strtok(s, ","); tok && ndims < MAXDIMS; tok = strtok(NULL, ","))
				dims[ndims++] = atoi(tok);
		}
		else
		{
			fprintf(stderr, "usage: %s [--runs N] [--ms MS] [--dims 128,512,1024] [--ws BYTES] [--offset BYTES]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 64)
		runs = 7;

	tables[ntables++] = &bench_autovec;
	for (int id = FS_KERNEL_SCALAR; id < FS_KERNEL_COUNT; id++)
		if (FsKernelSupported((FsKernelId) id) && FsKernelTable((FsKernelId) id) != NULL)
			tables[ntables++] = FsKernelTable((FsKernelId) id);

	printf("ns per distance, median of %d runs of ~%.0f ms; working set %ld bytes of vector pairs; "
		   "vectors start %d bytes past a 64-byte boundary\n",
		   runs, ms, ws, offset * (int) sizeof(float));
	printf("autovec = plain loop compiled with pgvector's flags; best = fastest firstsight table;\n"
		   "error: relative (dot: to |a||b|; cosparts: absolute, of the cosine)\n\n");
	printf("| function | dims |");
	for (int t = 0; t < ntables; t++)
		printf(" %s |", tables[t]->name);
	printf(" best/autovec | max error vs scalar |\n|---|---:|");
	for (int t = 0; t < ntables; t++)
		printf("---:|");
	printf("---:|---:|\n");

	for (int di = 0; di < ndims; di++)
	{
		int			dim = dims[di];
		static float *a[MAXPAIRS],
				   *b[MAXPAIRS];

		npairs = (int) (ws / (2 * sizeof(float) * dim));
		if (npairs < 1)
			npairs = 1;
		if (npairs > MAXPAIRS)
			npairs = MAXPAIRS;

		for (int p = 0; p < npairs; p++)
		{
			float	   *pa = aligned_alloc(64, sizeof(float) * (dim + 16));
			float	   *pb = aligned_alloc(64, sizeof(float) * (dim + 16));

			a[p] = pa + offset;
			b[p] = pb + offset;
			for (int k = 0; k < dim; k++)
			{
				a[p][k] = RandFloat();
				b[p][k] = RandFloat();
			}
		}

		for (int f = 0; f < NFUNCS; f++)
		{
			double		ns[8],
						best = 1e30,
						maxerr = 0;

			Measure(tables, ntables, (Func) f, dim, a, b, runs, ms, ns);
			for (int t = 0; t < ntables; t++)
			{
				if (t > 0 && ns[t] < best)
					best = ns[t];
				for (int p = 0; p < npairs; p++)
				{
					double		err = ErrorVsScalar(tables[t], (Func) f, dim, a[p], b[p]);

					if (err > maxerr)
						maxerr = err;
				}
			}
			printf("| %s | %d |", func_names[f], dim);
			for (int t = 0; t < ntables; t++)
				printf(" %.1f |", ns[t]);
			printf(" %.2f | %.1e |\n", best / ns[0], maxerr);
			fflush(stdout);
		}
		for (int p = 0; p < npairs; p++)
		{
			free(a[p] - offset);
			free(b[p] - offset);
		}
	}
	return sink == 12345.0;		/* keep the results alive */
}
