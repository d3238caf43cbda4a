/*
 * fuzzcheck.h
 *		Invariants shared by the embedding fuzz targets.
 */
#ifndef FIRSTSIGHT_FUZZCHECK_H
#define FIRSTSIGHT_FUZZCHECK_H

#include "pgstub.h"

#include <math.h>

#include "embedding.h"

extern Datum embedding_in(PG_FUNCTION_ARGS);
extern Datum embedding_out(PG_FUNCTION_ARGS);
extern Datum embedding_recv(PG_FUNCTION_ARGS);
extern Datum embedding_send(PG_FUNCTION_ARGS);

/* a value the type accepted: sane header and finite elements */
static inline void
CheckEmbedding(const Embedding *e)
{
	if (e->dim < 1 || e->dim > EMBEDDING_MAX_DIM)
		PgStubFail("dim %d out of range", e->dim);
	if (VARSIZE(e) != EMBEDDING_SIZE(e->dim))
		PgStubFail("varsize %u for dim %d, expected %zu",
				   (unsigned) VARSIZE(e), e->dim, EMBEDDING_SIZE(e->dim));
	if (e->unused != 0)
		PgStubFail("unused field is %d", e->unused);
	for (int i = 0; i < e->dim; i++)
		if (!isfinite(e->x[i]))
			PgStubFail("element %d is not finite", i);
}

/* two embeddings with the same bytes */
static inline void
CheckSameBytes(const Embedding *a, const Embedding *b, const char *what)
{
	if (VARSIZE(a) != VARSIZE(b) || memcmp(a, b, VARSIZE(a)) != 0)
		PgStubFail("%s changed the value (dims %d and %d)", what, a->dim, b->dim);
}

/* an ERROR from an input function must carry one of the codes it documents */
static inline void
CheckInputError(bool binary)
{
	int			code = pgstub_error.sqlerrcode;

	if (code == ERRCODE_DATA_EXCEPTION ||
		code == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		code == (binary ? ERRCODE_INVALID_BINARY_REPRESENTATION :
				 ERRCODE_INVALID_TEXT_REPRESENTATION) ||
		(!binary && code == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE))
		return;
	PgStubFail("unexpected error from %s:%d: %s (%s)",
			   pgstub_error.funcname ? pgstub_error.funcname : "?",
			   pgstub_error.lineno, pgstub_error.message, pgstub_error.detail);
}

/* text output, then text input: must give the same bytes back */
static inline void
CheckTextRoundTrip(Embedding *e)
{
	Datum		out;
	Datum		back;

	if (!PgStubCall3(embedding_out, PointerGetDatum(e), 0, 0, &out))
		PgStubFail("embedding_out failed: %s", pgstub_error.message);
	if (!PgStubCall3(embedding_in, out, ObjectIdGetDatum(InvalidOid),
					 Int32GetDatum(-1), &back))
		PgStubFail("embedding_in rejected embedding_out's \"%.200s\": %s",
				   DatumGetCString(out), pgstub_error.message);
	CheckSameBytes(e, (Embedding *) DatumGetPointer(back), "out -> in");
}

/* binary send, then binary receive: same bytes; returns the payload */
static inline bytea *
CheckBinaryRoundTrip(Embedding *e, int32 typmod)
{
	Datum		sent;
	Datum		back;
	bytea	   *b;
	StringInfoData buf;

	if (!PgStubCall3(embedding_send, PointerGetDatum(e), 0, 0, &sent))
		PgStubFail("embedding_send failed: %s", pgstub_error.message);
	b = (bytea *) DatumGetPointer(sent);
	if (VARSIZE_ANY_EXHDR(b) != 4 + 4 * (size_t) e->dim)
		PgStubFail("embedding_send wrote %zu bytes for dim %d",
				   VARSIZE_ANY_EXHDR(b), e->dim);
	/* as the backend does it: a NUL-terminated copy of the payload */
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len + 1;
	buf.cursor = 0;
	buf.data = palloc(buf.maxlen);
	memcpy(buf.data, VARDATA_ANY(b), buf.len);
	buf.data[buf.len] = '\0';
	if (!PgStubCall3(embedding_recv, PointerGetDatum(&buf),
					 ObjectIdGetDatum(InvalidOid), Int32GetDatum(typmod), &back))
		PgStubFail("embedding_recv rejected embedding_send's output: %s",
				   pgstub_error.message);
	if (buf.cursor != buf.len)
		PgStubFail("embedding_recv left %d bytes unread", buf.len - buf.cursor);
	CheckSameBytes(e, (Embedding *) DatumGetPointer(back), "send -> recv");
	return b;
}

#endif
