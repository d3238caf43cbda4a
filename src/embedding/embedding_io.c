/*
 * embedding_io.c
 *		Input, output, typmod and casts of the embedding type.
 *
 * Text, binary and on-disk formats are those of pgvector's vector, so data
 * moves between the two types unchanged.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "embedding.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

/* allocate a zeroed embedding of dim elements */
Embedding *
InitEmbedding(int dim)
{
	Size		size = EMBEDDING_SIZE(dim);
	Embedding  *result = (Embedding *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/* reject a dimension count the type cannot hold */
void
EmbeddingCheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension")));
	if (dim > EMBEDDING_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("embedding cannot have more than %d dimensions", EMBEDDING_MAX_DIM),
				 errdetail("The value has %d dimensions.", dim)));
}

/* reject a value whose dimension count differs from the column's typmod */
void
EmbeddingCheckTypmod(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim),
				 errhint("The column or cast is declared as embedding(%d).", typmod)));
}

/* reject NaN and infinite elements */
void
EmbeddingCheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in embedding")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in embedding")));
}

/*
 * reject a NaN or infinite element of an input value, naming its position
 * (1-based element, of dim) and never the value; where, if not NULL, says
 * more about the position (the character of text input)
 */
void
EmbeddingCheckElementAt(float value, int element, int dim, const char *where)
{
	if (likely(!isnan(value) && !isinf(value)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg(isnan(value) ? "NaN not allowed in embedding" : "infinite value not allowed in embedding"),
			 dim > 0 ? errdetail("Element %d of %d%s.", element, dim, where ? where : "") :
			 errdetail("Element %d%s.", element, where ? where : "")));
}

/* reject an operation on embeddings of different lengths */
void
EmbeddingCheckSameDims(const Embedding *a, const Embedding *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different embedding dimensions %d and %d", a->dim, b->dim)));
}

/*
 * report malformed text input at p: the character position and how many
 * elements were read, never the text (it is a face: issue 14 #3, a
 * deliberate difference from pgvector, which echoes the input)
 */
static void
SyntaxError(const char *input, const char *p, int elements, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type embedding at character %d", (int) (p - input) + 1),
			 errdetail_plural("%s The text is %d characters long; %d element precedes the error.",
							  "%s The text is %d characters long; %d elements precede the error.",
							  elements, detail, (int) strlen(input), elements),
			 errhint("An embedding is written as a bracketed, comma-separated list of numbers, such as '[1,2.5,-3]'.")));
}

/* is c a space for the text format? */
static inline bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* skip spaces */
static inline char *
SkipSpace(char *p)
{
	while (IsSpace(*p))
		p++;
	return p;
}

/* parse element number dim + 1 at *pp, advancing past it */
static float
ParseElement(char **pp, const char *input, int dim)
{
	char	   *p = *pp;
	char	   *end;
	float		val;
	char		where[64];

	/* strtof would skip leading spaces itself and accept hex and words */
	if (*p == '\0' || *p == ',' || *p == ']' || IsSpace(*p))
		SyntaxError(input, p, dim, "An element is missing.");
	errno = 0;
	val = strtof(p, &end);
	if (end == p)
		SyntaxError(input, p, dim, "An element is not a number.");
	if (memchr(p, 'x', end - p) || memchr(p, 'X', end - p))
		SyntaxError(input, p, dim, "Hexadecimal numbers are not accepted.");
	if (errno == ERANGE && isinf(val))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("element %d of the embedding, at character %d, is out of range",
						dim + 1, (int) (p - input) + 1),
				 errdetail("Elements are single-precision floats, at most 3.4028235e+38 in magnitude.")));
	snprintf(where, sizeof(where), ", at character %d", (int) (p - input) + 1);
	EmbeddingCheckElementAt(val, dim + 1, 0, where);
	*pp = end;
	return val;
}

PG_FUNCTION_INFO_V1(embedding_in);
/* parse '[1,2,3]' */
Datum
embedding_in(PG_FUNCTION_ARGS)
{
	char	   *input = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	size_t		len = strlen(input);
	int			cap = (int) Min(len / 2 + 1, EMBEDDING_MAX_DIM + 1);
	float	   *values = palloc(sizeof(float) * cap);
	int			dim = 0;
	char	   *p = SkipSpace(input);
	Embedding  *result;

	if (*p != '[')
		SyntaxError(input, p, 0, "An embedding must start with \"[\".");
	p = SkipSpace(p + 1);
	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding must have at least 1 dimension")));
	for (;;)
	{
		if (dim >= EMBEDDING_MAX_DIM)
			EmbeddingCheckDim(dim + 1);
		values[dim] = ParseElement(&p, input, dim);
		dim++;
		p = SkipSpace(p);
		if (*p == ']')
			break;
		if (*p != ',')
			SyntaxError(input, p, dim, *p == '\0' ? "The closing \"]\" is missing." :
						"Elements must be separated by commas.");
		p = SkipSpace(p + 1);
	}
	p = SkipSpace(p + 1);
	if (*p != '\0')
		SyntaxError(input, p, dim, "Text follows the closing \"]\".");

	EmbeddingCheckTypmod(typmod, dim);
	result = InitEmbedding(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_out);
/* print '[1,2,3]' with the shortest exact decimal of each element */
Datum
embedding_out(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING_P(0);
	char	   *buf = palloc(e->dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < e->dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(e->x[i], p);
	}
	*p++ = ']';
	*p = '\0';
	PG_FREE_IF_COPY(e, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(embedding_typmod_in);
/* accept embedding(N) for 1 <= N <= 16000 */
Datum
embedding_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("embedding takes one modifier, its number of dimensions.")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type embedding must be at least 1")));
	if (*tl > EMBEDDING_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type embedding cannot exceed %d", EMBEDDING_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

PG_FUNCTION_INFO_V1(embedding_recv);
/* read pgvector's binary format: int16 dim, int16 unused, dim float4 */
Datum
embedding_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim;
	int			unused;
	int			remaining;
	Embedding  *result;

	if (buf->len - buf->cursor < 2 * (int) sizeof(int16))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type embedding"),
				 errdetail("The value is %d bytes long; its header alone takes 4.", buf->len - buf->cursor)));
	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));
	EmbeddingCheckDim(dim);
	EmbeddingCheckTypmod(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type embedding"),
				 errdetail("The reserved field is %d; it must be 0.", unused)));
	remaining = buf->len - buf->cursor;
	if (remaining != dim * (int) sizeof(float))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type embedding"),
				 errdetail("The header declares %d dimensions (%d bytes) but %d bytes follow.",
						   dim, dim * (int) sizeof(float), remaining)));

	result = InitEmbedding(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		EmbeddingCheckElementAt(result->x[i], i + 1, dim, NULL);
	}
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_send);
/* write pgvector's binary format */
Datum
embedding_send(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, e->dim);
	pq_sendint16(&buf, e->unused);
	for (int i = 0; i < e->dim; i++)
		pq_sendfloat4(&buf, e->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(embedding_typmod_cast);
/* check a value against the target's typmod: embedding -> embedding(N) */
Datum
embedding_typmod_cast(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING_P(0);

	EmbeddingCheckTypmod(PG_GETARG_INT32(1), e->dim);
	PG_RETURN_EMBEDDING_P(e);
}

/* one array element as a double, whatever the array's element type */
static double
ArrayElementToDouble(Oid elemtype, Datum d)
{
	switch (elemtype)
	{
		case INT4OID:
			return (double) DatumGetInt32(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case FLOAT4OID:
			return (double) DatumGetFloat4(d);
		case NUMERICOID:
			/* huge values become infinity here and are rejected below */
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, d));
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("unsupported array type %s", format_type_be(elemtype))));
	return 0;					/* keep compiler quiet */
}

PG_FUNCTION_INFO_V1(array_to_embedding);
/* cast integer[], real[], double precision[] or numeric[] to embedding */
Datum
array_to_embedding(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Embedding  *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be one-dimensional")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	EmbeddingCheckDim(n);
	EmbeddingCheckTypmod(typmod, n);

	result = InitEmbedding(n);
	for (int i = 0; i < n; i++)
	{
		double		v = ArrayElementToDouble(elemtype, elems[i]);

		if (isinf((float) v) && (elemtype == NUMERICOID || !isinf(v)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("array element %d of %d is out of range for type embedding", i + 1, n),
					 errdetail("Elements are single-precision floats, at most 3.4028235e+38 in magnitude.")));
		result->x[i] = (float) v;
		EmbeddingCheckElementAt(result->x[i], i + 1, n, " of the array");
	}
	pfree(elems);
	pfree(nulls);
	PG_RETURN_EMBEDDING_P(result);
}

PG_FUNCTION_INFO_V1(embedding_to_float4);
/* cast embedding to real[] */
Datum
embedding_to_float4(PG_FUNCTION_ARGS)
{
	Embedding  *e = PG_GETARG_EMBEDDING_P(0);
	Datum	   *d = palloc(sizeof(Datum) * e->dim);
	ArrayType  *result;

	for (int i = 0; i < e->dim; i++)
		d[i] = Float4GetDatum(e->x[i]);
	result = construct_array(d, e->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(d);
	PG_RETURN_POINTER(result);
}
