/*
 * gen_copy.c
 *		Random embeddings in COPY BINARY format, for loading benchmark tables
 *		fast and reproducibly.
 *
 * Writes rows of an optional int4 id (1, 2, ...) followed by --cols vectors of
 * --dims float4 elements, uniform in [-1, 1), from a fixed-seed xorshift
 * generator: the same arguments always give the same bytes.  The binary form
 * is pgvector's vector send/recv format (int16 dim, int16 0, big-endian
 * float4s), so the same stream loads an embedding column or a vector column.
 *
 * usage: gen_copy --rows N --dims D [--cols C] [--seed S] [--id]
 *   psql -c "COPY t FROM STDIN (FORMAT binary)" < <(gen_copy --rows 1000 --dims 512 --cols 2)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;

/* xorshift64* as a float in [-1, 1) */
static float
RandFloat(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (float) ((double) ((rng * 2685821657736338717ull) >> 40) / 16777216.0 * 2.0 - 1.0);
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

int
main(int argc, char **argv)
{
	long		rows = -1;
	int			dims = -1,
				cols = 1,
				id = 0;
	uint64_t	seed = 42;
	unsigned char *row,
			   *p;
	size_t		rowlen;
	static const unsigned char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			rows = atol(argv[++i]);
		else if (strcmp(argv[i], "--dims") == 0 && i + 1 < argc)
			dims = atoi(argv[++i]);
		else if (strcmp(argv[i], "--cols") == 0 && i + 1 < argc)
			cols = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--id") == 0)
			id = 1;
		else
			rows = -2;
	}
	if (rows < 0 || dims < 1 || dims > 16000 || cols < 1 || cols > 100)
	{
		fprintf(stderr, "usage: %s --rows N --dims D [--cols C] [--seed S] [--id]\n", argv[0]);
		return 2;
	}
	rng = seed * 0x9E3779B97F4A7C15ull + 1;

	rowlen = 2 + (id ? 8 : 0) + (size_t) cols * (4 + 4 + 4 * (size_t) dims);
	row = malloc(rowlen);
	fwrite(header, 1, sizeof(header), stdout);
	for (long r = 0; r < rows; r++)
	{
		p = row;
		Put16(&p, (uint16_t) (cols + id));
		if (id)
		{
			Put32(&p, 4);
			Put32(&p, (uint32_t) (r + 1));
		}
		for (int c = 0; c < cols; c++)
		{
			Put32(&p, (uint32_t) (4 + 4 * dims));
			Put16(&p, (uint16_t) dims);
			Put16(&p, 0);
			for (int k = 0; k < dims; k++)
			{
				float		f = RandFloat();
				uint32_t	u;

				memcpy(&u, &f, 4);
				Put32(&p, u);
			}
		}
		if (fwrite(row, 1, rowlen, stdout) != rowlen)
			return 1;
	}
	p = row;
	Put16(&p, 0xffff);			/* trailer */
	fwrite(row, 1, 2, stdout);
	return fflush(stdout) != 0;
}
