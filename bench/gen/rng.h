/*
 * rng.h
 *		The seeded random streams of the face generators
 *		(bench/hnsw/gen_faces.c, bench/masked/gen_masked.c).
 *
 * A stream is seeded by (seed, kind, number) alone, so a vector depends on
 * nothing drawn before it: the same arguments give the same vectors, in any
 * order.  SplitMix64 (uniform), Box-Muller (normal).
 */
#ifndef BENCH_GEN_RNG_H
#define BENCH_GEN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct Rng
{
	uint64_t	s;
	int			have;
	double		spare;
} Rng;

static uint64_t
SplitMix(uint64_t *s)
{
	uint64_t	z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void
RngInit(Rng *r, uint64_t seed, uint64_t kind, uint64_t n)
{
	uint64_t	s = seed * 0x2545F4914F6CDD1Dull + kind * 0x9E3779B97F4A7C15ull + n;

	r->s = SplitMix(&s);
	r->have = 0;
}

/* uniform in (0, 1) */
static double
Uniform(Rng *r)
{
	return ((double) (SplitMix(&r->s) >> 11) + 0.5) / 9007199254740992.0;
}

/* standard normal (Box-Muller) */
static double
Gauss(Rng *r)
{
	double		u,
				v;

	if (r->have)
	{
		r->have = 0;
		return r->spare;
	}
	u = Uniform(r);
	v = Uniform(r);
	r->spare = sqrt(-2.0 * log(u)) * sin(2.0 * M_PI * v);
	r->have = 1;
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* scale x to unit length */
static void
Normalise(double *x, int dims)
{
	double		n = 0;

	for (int k = 0; k < dims; k++)
		n += x[k] * x[k];
	n = sqrt(n);
	for (int k = 0; k < dims; k++)
		x[k] /= n;
}

#endif							/* BENCH_GEN_RNG_H */
