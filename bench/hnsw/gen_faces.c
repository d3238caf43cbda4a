/*
 * gen_faces.c
 *		Face-like embeddings in COPY BINARY format for bench/hnsw/run.sh.
 *
 * Every identity has a unit centre: normalise(g + A * w), g a Gaussian vector
 * of its own and w a direction shared by everybody (A = 0.3), so centres of
 * different persons have cosine similarity about A^2 / (1 + A^2) = 0.08 give
 * or take 1/sqrt(dims), as real face embeddings that all lean the same way.
 * A capture is normalise(centre + s * h), h a Gaussian vector of norm about 1
 * and s^2 uniform in [0.25, 0.8] per capture, so two captures of one person
 * have cosine similarity 1/sqrt((1 + s1^2)(1 + s2^2)), between 0.55 and 0.8,
 * and captures of different persons about 0.05 (-0.1 to 0.2).
 *
 * Rows of the table (--table): id 1..rows; row r (from 0) is a capture of
 * identity r * identities / rows, so each identity's captures have adjacent
 * ids.  Queries (--queries): qid 1..n; query j is a further capture of
 * identity (j * 7919 + 13) % identities, drawn from its own random stream,
 * so it is in no table.  Every vector comes from a generator seeded by
 * (seed, kind, number) alone: the same arguments give the same bytes.
 *
 * The binary form (int16 dim, int16 0, big-endian float4s) is both
 * pgvector's vector and firstsight.embedding's send/recv format, so one file
 * loads either column.  Each row: int4 id, vector.
 *
 * usage: gen_faces --table|--queries N --rows R --identities I --dims D [--seed S]
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gen/rng.h"

enum
{
	KIND_SHARED = 1, KIND_CENTRE = 2, KIND_ROW = 3, KIND_QUERY = 4
};

static uint64_t seed = 42;
static int	dims = 512;
static double *shared;

/* the unit centre of identity id */
static void
Centre(long id, double *c)
{
	Rng			r;

	RngInit(&r, seed, KIND_CENTRE, (uint64_t) id);
	for (int k = 0; k < dims; k++)
		c[k] = Gauss(&r) + 0.3 * shared[k];
	Normalise(c, dims);
}

/* a capture of centre c drawn from stream (kind, n) */
static void
Capture(const double *c, int kind, long n, double *x)
{
	Rng			r;
	double		s;

	RngInit(&r, seed, kind, (uint64_t) n);
	s = sqrt(0.25 + 0.55 * Uniform(&r));
	for (int k = 0; k < dims; k++)
		x[k] = c[k] + s * Gauss(&r) / sqrt((double) dims);
	Normalise(x, dims);
}

static void
Put16(unsigned char **p, uint16_t v)
{
	v = htons(v);
	memcpy(*p, &v, 2);
	*p += 2;
}

static void
Put32(unsigned char **p, uint32_t v)
{
	v = htonl(v);
	memcpy(*p, &v, 4);
	*p += 4;
}

static void
PutRow(unsigned char *row, size_t rowlen, long id, const double *x)
{
	unsigned char *p = row;

	Put16(&p, 2);
	Put32(&p, 4);
	Put32(&p, (uint32_t) id);
	Put32(&p, (uint32_t) (4 + 4 * dims));
	Put16(&p, (uint16_t) dims);
	Put16(&p, 0);
	for (int k = 0; k < dims; k++)
	{
		float		f = (float) x[k];
		uint32_t	u;

		memcpy(&u, &f, 4);
		Put32(&p, u);
	}
	if (fwrite(row, 1, rowlen, stdout) != rowlen)
		exit(1);
}

int
main(int argc, char **argv)
{
	long		rows = -1,
				identities = -1,
				queries = -1;
	int			table = 0;
	double	   *c,
			   *x;
	unsigned char *row;
	size_t		rowlen;
	Rng			r;
	static const unsigned char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--table") == 0)
			table = 1;
		else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
			queries = atol(argv[++i]);
		else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			rows = atol(argv[++i]);
		else if (strcmp(argv[i], "--identities") == 0 && i + 1 < argc)
			identities = atol(argv[++i]);
		else if (strcmp(argv[i], "--dims") == 0 && i + 1 < argc)
			dims = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else
			rows = -2;
	}
	if (rows < 1 || identities < 1 || identities > rows || dims < 1 || dims > 16000 ||
		(table == (queries >= 0)))
	{
		fprintf(stderr, "usage: %s --table|--queries N --rows R --identities I --dims D [--seed S]\n", argv[0]);
		return 2;
	}

	shared = malloc(sizeof(double) * dims);
	c = malloc(sizeof(double) * dims);
	x = malloc(sizeof(double) * dims);
	RngInit(&r, seed, KIND_SHARED, 0);
	for (int k = 0; k < dims; k++)
		shared[k] = Gauss(&r);
	Normalise(shared, dims);
	for (int k = 0; k < dims; k++)
		shared[k] *= sqrt((double) dims);	/* norm of a Gaussian vector */

	rowlen = 2 + 8 + 4 + 4 + 4 * (size_t) dims;
	row = malloc(rowlen);
	fwrite(header, 1, sizeof(header), stdout);
	if (table)
	{
		long		cur = -1;

		for (long i = 0; i < rows; i++)
		{
			long		id = i * identities / rows;

			if (id != cur)
			{
				Centre(id, c);
				cur = id;
			}
			Capture(c, KIND_ROW, i, x);
			PutRow(row, rowlen, i + 1, x);
		}
	}
	else
	{
		for (long j = 1; j <= queries; j++)
		{
			Centre((j * 7919 + 13) % identities, c);
			Capture(c, KIND_QUERY, j, x);
			PutRow(row, rowlen, j, x);
		}
	}
	row[0] = 0xff;				/* trailer */
	row[1] = 0xff;
	fwrite(row, 1, 2, stdout);
	return fflush(stdout) != 0;
}
