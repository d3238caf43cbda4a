/*
 * fuzz_embedding_recv.c
 *		libFuzzer target: embedding_recv, the binary input function.
 *
 * The input bytes are the message, given to embedding_recv in a StringInfo
 * the way the backend does (a NUL-terminated copy, cursor 0).  An ERROR is an
 * accepted outcome if it carries one of the input function's error codes.  A
 * value the function accepts must be well formed (dim * 4 + 8 bytes, finite
 * elements), consume the whole message, be exactly the input when sent back
 * with embedding_send, round-trip through embedding_out -> embedding_in, and
 * pass with typmod = dim.
 */
#include "fuzzcheck.h"

#include <stdlib.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* receive the message in a fresh buffer; false on ERROR */
static bool
Receive(const uint8_t *data, size_t size, int32 typmod, Datum *result,
		StringInfo buf)
{
	buf->data = malloc(size + 1);
	memcpy(buf->data, data, size);
	buf->data[size] = '\0';
	buf->len = (int) size;
	buf->maxlen = (int) size + 1;
	buf->cursor = 0;
	return PgStubCall3(embedding_recv, PointerGetDatum(buf),
					   ObjectIdGetDatum(InvalidOid), Int32GetDatum(typmod), result);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StringInfoData buf;
	Datum		d;

	if (size > 1024 * 1024)
		return 0;
	if (Receive(data, size, -1, &d, &buf))
	{
		Embedding  *e = (Embedding *) DatumGetPointer(d);
		bytea	   *sent;
		StringInfoData again;

		CheckEmbedding(e);
		if (VARSIZE(e) != size + 4 || (size_t) e->dim * 4 + 8 != VARSIZE(e))
			PgStubFail("accepted %zu bytes as dim %d (%u bytes)",
					   size, e->dim, (unsigned) VARSIZE(e));
		if (buf.cursor != buf.len)
			PgStubFail("embedding_recv left %d bytes unread", buf.len - buf.cursor);
		sent = CheckBinaryRoundTrip(e, e->dim);
		if (memcmp(VARDATA_ANY(sent), data, size) != 0)
			PgStubFail("embedding_send does not give back the received bytes");
		CheckTextRoundTrip(e);
		if (!Receive(data, size, e->dim, &d, &again))
			PgStubFail("typmod %d rejected: %s", e->dim, pgstub_error.message);
		free(again.data);
	}
	else
		CheckInputError(true);

	free(buf.data);
	PgStubFreeAll();
	return 0;
}
