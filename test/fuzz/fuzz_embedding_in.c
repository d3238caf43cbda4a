/*
 * fuzz_embedding_in.c
 *		libFuzzer target: embedding_in, the text input function.
 *
 * The input bytes up to the first NUL are the text.  An ERROR is an accepted
 * outcome if it carries one of the input function's error codes.  A value the
 * function accepts must be well formed, have one element per comma plus one,
 * round-trip through embedding_out -> embedding_in and embedding_send ->
 * embedding_recv to identical bytes, pass with typmod = dim and fail with any
 * other typmod.  The input text must not be modified.
 */
#include "fuzzcheck.h"

#include <stdlib.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check an accepted text */
static void
CheckAccepted(const char *text, Embedding *e)
{
	int			commas = 0;
	Datum		d;

	CheckEmbedding(e);
	for (const char *p = text; *p; p++)
		commas += (*p == ',');
	if (e->dim != commas + 1)
		PgStubFail("dim %d from a text with %d commas", e->dim, commas);

	CheckTextRoundTrip(e);
	CheckBinaryRoundTrip(e, -1);

	if (!PgStubCall3(embedding_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
					 Int32GetDatum(e->dim), &d))
		PgStubFail("typmod %d rejected: %s", e->dim, pgstub_error.message);
	CheckSameBytes(e, (Embedding *) DatumGetPointer(d), "typmod = dim");
	if (PgStubCall3(embedding_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
					Int32GetDatum(e->dim + 1), &d))
		PgStubFail("typmod %d accepted for dim %d", e->dim + 1, e->dim);
	if (pgstub_error.sqlerrcode != ERRCODE_DATA_EXCEPTION)
		PgStubFail("typmod mismatch raised %s", pgstub_error.message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char	   *copy = malloc(size + 1);
	Datum		d;

	memcpy(text, data, size);
	text[size] = '\0';
	memcpy(copy, text, size + 1);

	if (PgStubCall3(embedding_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid),
					Int32GetDatum(-1), &d))
		CheckAccepted(text, (Embedding *) DatumGetPointer(d));
	else
		CheckInputError(false);
	if (memcmp(text, copy, size + 1) != 0)
		PgStubFail("embedding_in modified its input");

	PgStubFreeAll();
	free(text);
	free(copy);
	return 0;
}
