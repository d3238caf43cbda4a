/*
 * gen_masked.c
 *		Mask-aware face-like embeddings: masked captures of different
 *		identities share a common "mask" component (issue 18).
 *
 * Every face leans the same way (a unit vector W shared by everybody, as real
 * face embeddings do).  Identity i has two Gaussian parts drawn on a decaying
 * spectrum (coordinate k has variance proportional to exp(-k / tau), so the
 * parts live in fewer effective dimensions than the model has, and
 * different people's faces vary in how alike they are): g_i, what the whole
 * face shows, and r_i, what the upper face shows that the whole face hides
 * (on a steeper spectrum: upper faces of different people are more often
 * alike).
 *
 *   unmasked capture: W + a g_i + e s n
 *   masked capture:   W + kappa M + am (1 - hide kappa) (rho g_i + sqrt(1 - rho^2) r_i) + em s n
 *
 * each normalised; n a fresh Gaussian vector of norm about 1 per capture, s^2
 * uniform in [s_lo, s_hi] per capture (pose, light); M a unit vector shared by
 * every mask, kappa how much of the face the mask hides (it shows that much
 * less of the identity): uniform in [k_lo, k_hi] per person (their usual
 * mask), give or take k_jitter per capture.  The mask pulls
 * everybody's masked faces towards M, so two people's masked faces are
 * closer than their unmasked ones; a mask that hides more pulls harder.  W, M and the spectrum's coordinates are disjoint.
 *
 * Two presets: --model small (128-d, dlib-like, fitted to the figures of
 * issue 18) and --model arcface (512-d, figures chosen for an ArcFace-like
 * model: see bench/RESULTS.md).  --stats prints the quantiles of the
 * cosine distances of all pairs by kind of pair (unmasked, masked-unmasked,
 * masked-masked), same person and different persons.  --captures writes one
 * text COPY row per capture: identity, masked, face ('[...]').  Identity i
 * has captures c = 0 .. per-1; capture c is masked when c % 2 == 1 (per 6:
 * three masked, three unmasked).  Every vector comes from a generator seeded
 * by (seed, kind, number) alone: the same arguments give the same rows; a
 * different --seed gives other people.
 *
 * usage: gen_masked --model small|arcface [--identities I] [--per C]
 *                   [--seed S] (--stats | --captures)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gen/rng.h"

#define Max(a, b) ((a) > (b) ? (a) : (b))

typedef struct Model
{
	const char *name;
	int			dims;
	double		tau;			/* spectrum decay of g, in coordinates */
	double		tau_r;			/* spectrum decay of r */
	double		a;				/* identity weight, unmasked */
	double		e;				/* capture noise weight, unmasked */
	double		am;				/* identity weight, masked */
	double		rho;			/* how much of g_i a masked face keeps */
	double		em;				/* capture noise weight, masked */
	double		k_lo, k_hi;		/* range of a person's usual mask weight */
	double		k_jitter;		/* per capture, uniform within +- this */
	double		hide;			/* identity shown under a mask of weight kappa: 1 - hide kappa */
	double		s_lo, s_hi;		/* range of s^2 */
} Model;

static const Model models[] = {
	{"small", 128, 40.0, 2.5, 0.37, 0.19, 0.30, 0.85, 0.18, 0.0, 0.35, 0.12, 1.0, 0.4, 2.0},
	{"arcface", 512, 100.0, 4.0, 3.6, 2.45, 3.0, 0.95, 1.9, 1.0, 2.2, 0.3, 0.2, 0.5, 1.6},
};

enum
{
	KIND_G = 1, KIND_R = 2, KIND_CAPTURE = 3, KIND_MASK = 4
};

static const Model *m;
static uint64_t seed = 1;
static double *spectrum[2];		/* standard deviation per coordinate of g and r (sum of variances 1) */

/* coordinates: 0 = W, 1 = M, 2 .. dims-1 identity spectrum and noise */
static void
SpectrumInit(void)
{
	for (int p = 0; p < 2; p++)
	{
		double		tau = p ? m->tau_r : m->tau;
		double		sum = 0;

		spectrum[p] = calloc(m->dims, sizeof(double));
		for (int k = 2; k < m->dims; k++)
			sum += exp(-(k - 2) / tau);
		for (int k = 2; k < m->dims; k++)
			spectrum[p][k] = sqrt(exp(-(k - 2) / tau) / sum);
	}
}

/* identity part (g or r) of identity id */
static void
Part(int kind, long id, double *x)
{
	Rng			r;

	RngInit(&r, seed, kind, (uint64_t) id);
	for (int k = 0; k < m->dims; k++)
		x[k] = spectrum[kind == KIND_R][k] * Gauss(&r);
}

/* capture c of identity id; masked or not */
static void
Capture(long id, int c, int masked, const double *g, const double *rr, double *x)
{
	Rng			r;
	double		s,
				kappa;
	double		noise = masked ? m->em : m->e;

	/* the person's usual mask, worn a little differently each time */
	RngInit(&r, seed, KIND_MASK, (uint64_t) id);
	kappa = m->k_lo + (m->k_hi - m->k_lo) * Uniform(&r);
	RngInit(&r, seed, KIND_CAPTURE, (uint64_t) id * 1000 + c);
	s = sqrt(m->s_lo + (m->s_hi - m->s_lo) * Uniform(&r));
	kappa = Max(0.0, kappa + m->k_jitter * (2 * Uniform(&r) - 1));
	for (int k = 0; k < m->dims; k++)
	{
		double		v = (k == 0) ? 1.0 : 0.0;

		if (masked)
		{
			if (k == 1)
				v += kappa;
			v += m->am * (1 - m->hide * kappa) * (m->rho * g[k] + sqrt(1 - m->rho * m->rho) * rr[k]);
		}
		else
			v += m->a * g[k];
		if (k >= 2)
			v += noise * s * Gauss(&r) / sqrt((double) (m->dims - 2));
		x[k] = v;
	}
	Normalise(x, m->dims);
}

static int
CmpDouble(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
Q(const double *v, long n, double q)
{
	long		i = (long) floor(q * (n - 1) + 0.5);

	return n ? v[i] : NAN;
}

int
main(int argc, char **argv)
{
	long		identities = 200;
	int			per = 6;
	int			stats = 0,
				captures = 0;
	const char *model = "small";
	long		n;
	double	   *x,
			   *g,
			   *rr;
	int		   *who,
			   *msk;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model = argv[++i];
		else if (strcmp(argv[i], "--identities") == 0 && i + 1 < argc)
			identities = atol(argv[++i]);
		else if (strcmp(argv[i], "--per") == 0 && i + 1 < argc)
			per = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--stats") == 0)
			stats = 1;
		else if (strcmp(argv[i], "--captures") == 0)
			captures = 1;
		else
		{
			fprintf(stderr, "usage: gen_masked --model small|arcface [--identities I] [--per C] [--seed S] (--stats | --captures)\n");
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strcmp(models[i].name, model) == 0)
			m = &models[i];
	if (m == NULL || identities < 2 || per < 2 || stats == captures)
	{
		fprintf(stderr, "gen_masked: give --model small or arcface, at least 2 identities and 2 captures each, and one of --stats, --captures\n");
		return 2;
	}
	SpectrumInit();
	n = identities * per;
	x = malloc(sizeof(double) * n * m->dims);
	g = malloc(sizeof(double) * m->dims);
	rr = malloc(sizeof(double) * m->dims);
	who = malloc(sizeof(int) * n);
	msk = malloc(sizeof(int) * n);
	for (long id = 0; id < identities; id++)
	{
		Part(KIND_G, id, g);
		Part(KIND_R, id, rr);
		for (int c = 0; c < per; c++)
		{
			long		j = id * per + c;

			who[j] = (int) id;
			msk[j] = c % 2;
			Capture(id, c, msk[j], g, rr, x + j * m->dims);
		}
	}
	if (captures)
	{
		for (long j = 0; j < n; j++)
		{
			printf("%d\t%s\t[", who[j], msk[j] ? "t" : "f");
			for (int k = 0; k < m->dims; k++)
				printf(k ? ",%.6g" : "%.6g", x[j * m->dims + k]);
			printf("]\n");
		}
		return 0;
	}
	else
	{
		/* all pairs, by kind (0 unmasked, 1 masked-unmasked, 2 masked-masked) and same / different */
		static const char *kinds[] = {"unmasked", "masked_unmasked", "masked_masked"};
		double	   *d[3][2];
		long		cnt[3][2] = {{0}};

		for (int k = 0; k < 3; k++)
			for (int s = 0; s < 2; s++)
				d[k][s] = malloc(sizeof(double) * n * (n - 1) / 2);
		for (long i = 0; i < n; i++)
			for (long j = i + 1; j < n; j++)
			{
				double		dot = 0;
				int			k = msk[i] + msk[j];
				int			s = who[i] == who[j];

				for (int t = 0; t < m->dims; t++)
					dot += x[i * m->dims + t] * x[j * m->dims + t];
				d[k][s][cnt[k][s]++] = 1 - dot;
			}
		printf("model %s, %d dims, %ld identities x %d captures, seed %llu\n",
			   m->name, m->dims, identities, per, (unsigned long long) seed);
		printf("%-16s %-9s %8s %8s %8s %8s %8s %8s %8s\n", "pair kind", "persons", "pairs",
			   "min", "p0.1", "p1", "p5", "p25", "median");
		for (int k = 0; k < 3; k++)
			for (int s = 1; s >= 0; s--)
			{
				qsort(d[k][s], cnt[k][s], sizeof(double), CmpDouble);
				if (s)
					printf("%-16s %-9s %8ld %8s %8s %8s %8s %8s %8.4f   p95 %.4f p99 %.4f p99.9 %.4f max %.4f\n",
						   kinds[k], "same", cnt[k][s], "", "", "", "", "",
						   Q(d[k][s], cnt[k][s], 0.5), Q(d[k][s], cnt[k][s], 0.95),
						   Q(d[k][s], cnt[k][s], 0.99), Q(d[k][s], cnt[k][s], 0.999), d[k][s][cnt[k][s] - 1]);
				else
					printf("%-16s %-9s %8ld %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f\n",
						   kinds[k], "different", cnt[k][s], d[k][s][0], Q(d[k][s], cnt[k][s], 0.001),
						   Q(d[k][s], cnt[k][s], 0.01), Q(d[k][s], cnt[k][s], 0.05),
						   Q(d[k][s], cnt[k][s], 0.25), Q(d[k][s], cnt[k][s], 0.5));
			}
	}
	return 0;
}
