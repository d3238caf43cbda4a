/*
 * pairs_bench.c
 *		Where the sgemm batch (FsCosinePairs, src/blas/blas.c) beats calling
 *		the per-pair kernel M x N times.
 *
 * For each size M x N (unit rows, 512 dimensions by default, random with a
 * fixed seed) it times
 *   sgemm     FsCosinePairs with a 4 MB block (work_mem's default)
 *   cosparts  a double loop over fs_kernels->cosparts, as the <=> operator
 *             computes each distance
 *   dot       a double loop over fs_kernels->dot (enough for unit rows: the
 *             cheapest per-pair loop there is)
 * and checks that all three find the same number of pairs.  Median of
 * several runs.  OpenBLAS uses its default thread count unless
 * OPENBLAS_NUM_THREADS is set.
 *
 * usage: pairs_bench [--dims D] [--runs R] [--threshold T] [MxN ...]
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>

#include "blas/blas.h"
#include "simd/simd.h"

/* port.h maps these to libpgport's; the C library's do here */
#undef printf
#undef fprintf
#undef qsort

static double
NowMs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint64 rng = 0x2545F4914F6CDD1Dull;

static float
RandFloat(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (float) ((double) ((rng * 2685821657736338717ull) >> 40) / 16777216.0 * 2.0 - 1.0);
}

static void
CountPair(void *arg, int i, int j, double distance)
{
	(*(long *) arg)++;
}

static long
LoopCosparts(const float *a, int m, const float *b, int n, int d, double max_distance)
{
	long		count = 0;

	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			float		dot,
						aa,
						bb;
			double		sim;

			fs_kernels->cosparts(d, a + (Size) i * d, b + (Size) j * d, &dot, &aa, &bb);
			sim = (double) dot / sqrt((double) aa * (double) bb);
			if (1.0 - sim <= max_distance)
				count++;
		}
	return count;
}

static long
LoopDot(const float *a, int m, const float *b, int n, int d, double max_distance)
{
	long		count = 0;
	float		min_sim = (float) (1.0 - max_distance);

	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
			if (fs_kernels->dot(d, a + (Size) i * d, b + (Size) j * d) >= min_sim)
				count++;
	return count;
}

static int
CmpDouble(const void *x, const void *y)
{
	double		a = *(const double *) x,
				b = *(const double *) y;

	return (a > b) - (a < b);
}

int
main(int argc, char **argv)
{
	int			d = 512,
				runs = 5;
	double		threshold = 0.8;
	int			sizes[32][2];
	int			nsizes = 0;
	static const int defaults[][2] = {{1, 1000}, {1, 10000}, {10, 10}, {100, 100}, {300, 300},
	{1000, 1000}, {2000, 2000}, {5000, 5000}};

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--dims") == 0 && i + 1 < argc)
			d = atoi(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
			threshold = atof(argv[++i]);
		else if (nsizes < 32 && sscanf(argv[i], "%dx%d", &sizes[nsizes][0], &sizes[nsizes][1]) == 2)
			nsizes++;
		else
		{
			fprintf(stderr, "usage: %s [--dims D] [--runs R] [--threshold T] [MxN ...]\n", argv[0]);
			return 2;
		}
	}
	if (nsizes == 0)
	{
		nsizes = lengthof(defaults);
		memcpy(sizes, defaults, sizeof(defaults));
	}
	if (runs < 1 || runs > 64)
		runs = 5;

	fs_kernels = FsKernelTable(FsKernelBest());
	printf("kernel %s, %d dims, cosine distance <= %g, median of %d runs; OpenBLAS core %s, %d threads\n\n",
		   fs_kernels->name, d, threshold, runs, openblas_get_corename(), openblas_get_num_threads());
	printf("| M x N | pairs | sgemm ms | cosparts loop ms | dot loop ms | cosparts / sgemm | dot / sgemm | sgemm ns/pair | matches |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");

	for (int s = 0; s < nsizes; s++)
	{
		int			m = sizes[s][0],
					n = sizes[s][1];
		float	   *a = palloc(sizeof(float) * (Size) m * d);
		float	   *b = palloc(sizeof(float) * (Size) n * d);
		double		t[3][64],
					med[3];
		long		count[3] = {0, 0, 0};
		int			r_runs = runs;

		for (Size k = 0; k < (Size) m * d; k++)
			a[k] = RandFloat();
		for (Size k = 0; k < (Size) n * d; k++)
			b[k] = RandFloat();
		/* a few near-duplicates so that there is something to find */
		for (int i = 0; i < Min(m, n); i += 7)
			for (int k = 0; k < d; k++)
				b[(Size) i * d + k] = a[(Size) i * d + k] + 0.3f * RandFloat();
		FsNormalizeRows(a, m, d);
		FsNormalizeRows(b, n, d);

		/* the big loops take seconds: fewer runs there */
		if ((double) m * n * d > 5e9)
			r_runs = Min(runs, 3);
		for (int r = -1; r < r_runs; r++)	/* run -1 warms up */
		{
			double		t0;
			long		c;

			t0 = NowMs();
			c = 0;
			FsCosinePairs(a, m, b, n, d, threshold, (Size) 4096 * 1024, CountPair, &c);
			if (r >= 0)
				t[0][r] = NowMs() - t0;
			count[0] = c;

			t0 = NowMs();
			count[1] = LoopCosparts(a, m, b, n, d, threshold);
			if (r >= 0)
				t[1][r] = NowMs() - t0;

			t0 = NowMs();
			count[2] = LoopDot(a, m, b, n, d, threshold);
			if (r >= 0)
				t[2][r] = NowMs() - t0;
		}
		for (int k = 0; k < 3; k++)
		{
			qsort(t[k], r_runs, sizeof(double), CmpDouble);
			med[k] = t[k][r_runs / 2];
		}
		printf("| %dx%d | %.3g | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f | %ld%s |\n",
			   m, n, (double) m * n, med[0], med[1], med[2], med[1] / med[0], med[2] / med[0],
			   med[0] * 1e6 / ((double) m * n), count[0],
			   (count[0] == count[1] && count[0] == count[2]) ? "" : " (loops disagree!)");
		fflush(stdout);
		pfree(a);
		pfree(b);
	}
	return 0;
}
