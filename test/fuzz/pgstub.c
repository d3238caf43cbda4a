/*
 * pgstub.c
 *		The minimal PostgreSQL backend the fuzz targets link against.
 *
 * Only what src/embedding/embedding_io.c needs, written after PostgreSQL 15's
 * own code (mcxt.c, elog.c, stringinfo.c, pqformat.c, fmgr.c) so that the
 * code under test sees the same contracts: palloc refuses requests over
 * MaxAllocSize, pq_getmsgint raises "insufficient data left in message" past
 * the end of a message, an ERROR never returns.  float_to_shortest_decimal_bufn
 * comes from PostgreSQL's libpgcommon, or with -DPGSTUB_NO_PGCOMMON from
 * snprintf("%.9g"), which also round-trips every float exactly.
 */
#include "pgstub.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

sigjmp_buf *pgstub_jump = NULL;
PgStubError pgstub_error;

/* ---- memory: every chunk on one list, freed per input ---- */

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	size_t		pad;			/* keeps the payload MAXALIGNed */
} Chunk;

static Chunk *chunks = NULL;
static long live_chunks = 0;

/* allocate a chunk and link it in */
static void *
ChunkAlloc(Size size, bool zero)
{
	Chunk	   *c;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = zero ? calloc(1, sizeof(Chunk) + size) : malloc(sizeof(Chunk) + size);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	c->size = size;
	c->prev = NULL;
	c->next = chunks;
	if (chunks)
		chunks->prev = c;
	chunks = c;
	live_chunks++;
	return c + 1;
}

/* unlink a chunk */
static Chunk *
ChunkUnlink(void *pointer)
{
	Chunk	   *c = (Chunk *) pointer - 1;

	if (c->prev)
		c->prev->next = c->next;
	else
		chunks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	live_chunks--;
	return c;
}

void *
palloc(Size size)
{
	return ChunkAlloc(size, false);
}

void *
palloc0(Size size)
{
	return ChunkAlloc(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return ChunkAlloc(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void
pfree(void *pointer)
{
	free(ChunkUnlink(pointer));
}

void *
repalloc(void *pointer, Size size)
{
	Chunk	   *old = (Chunk *) pointer - 1;
	void	   *result;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	result = palloc(size);
	memcpy(result, pointer, Min(old->size, size));
	pfree(pointer);
	return result;
}

void
PgStubFreeAll(void)
{
	while (chunks)
	{
		Chunk	   *next = chunks->next;

		free(chunks);
		chunks = next;
	}
	live_chunks = 0;
}

long
PgStubLiveChunks(void)
{
	return live_chunks;
}

/* ---- errors: ERROR longjmps back to PgStubCall3 ---- */

static int	cur_elevel;

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;			/* notices and debug output are dropped */
	cur_elevel = elevel;
	memset(&pgstub_error, 0, sizeof(pgstub_error));
	pgstub_error.sqlerrcode = ERRCODE_INTERNAL_ERROR;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	pgstub_error.funcname = funcname;
	pgstub_error.lineno = lineno;
	if (cur_elevel > ERROR)
		PgStubFail("%s at %s:%d: %s", cur_elevel == FATAL ? "FATAL" : "PANIC",
				   filename, lineno, pgstub_error.message);
	if (pgstub_jump == NULL)
		PgStubFail("ERROR outside PgStubCall3 at %s:%d: %s",
				   filename, lineno, pgstub_error.message);
	siglongjmp(*pgstub_jump, 1);
}

int
errcode(int sqlerrcode)
{
	pgstub_error.sqlerrcode = sqlerrcode;
	return 0;
}

/* format into one of the error's buffers, as elog.c does (without %m) */
#define PGSTUB_FORMAT(field, fmt) \
	do { \
		va_list		ap; \
		va_start(ap, fmt); \
		vsnprintf(pgstub_error.field, sizeof(pgstub_error.field), fmt, ap); \
		va_end(ap); \
	} while (0)

int
errmsg(const char *fmt,...)
{
	PGSTUB_FORMAT(message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	PGSTUB_FORMAT(message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	PGSTUB_FORMAT(detail, fmt);
	return 0;
}

int
errdetail_plural(const char *fmt_singular, const char *fmt_plural, unsigned long n,...)
{
	va_list		ap;

	/* as elog.c without translation: the singular form for n == 1 */
	va_start(ap, n);
	vsnprintf(pgstub_error.detail, sizeof(pgstub_error.detail), n == 1 ? fmt_singular : fmt_plural, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	char		hint[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(hint, sizeof(hint), fmt, ap);
	va_end(ap);
	return 0;
}

void
PgStubFail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "pgstub: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* ---- fmgr ---- */

bool
PgStubCall3(PGFunction fn, Datum a0, Datum a1, Datum a2, Datum *result)
{
	LOCAL_FCINFO(fcinfo, 3);
	sigjmp_buf	jb;
	sigjmp_buf *volatile save = pgstub_jump;
	volatile bool ok = false;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = a0;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = a1;
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = a2;
	fcinfo->args[2].isnull = false;
	if (sigsetjmp(jb, 0) == 0)
	{
		pgstub_jump = &jb;
		*result = fn(fcinfo);
		if (fcinfo->isnull)
			PgStubFail("function returned NULL");
		ok = true;
	}
	pgstub_jump = save;
	return ok;
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTENDED(datum))
		PgStubFail("pg_detoast_datum: the harness never makes toasted values");
	return datum;
}

/* ---- StringInfo, as in src/common/stringinfo.c ---- */

void
initStringInfo(StringInfo str)
{
	int			size = 1024;

	str->data = (char *) palloc(size);
	str->maxlen = size;
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen;

	if (needed < 0)
		elog(ERROR, "invalid string enlargement request size: %d", needed);
	if (((Size) needed) >= (MaxAllocSize - (Size) str->len))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory"),
				 errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.",
						   str->len, needed)));
	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = 2 * str->maxlen;
	while (needed > newlen)
		newlen = 2 * newlen;
	if (newlen > (int) MaxAllocSize)
		newlen = (int) MaxAllocSize;
	str->data = (char *) repalloc(str->data, newlen);
	str->maxlen = newlen;
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	if (str->len + 1 >= str->maxlen)
		enlargeStringInfo(str, 1);
	str->data[str->len] = ch;
	str->len++;
	str->data[str->len] = '\0';
}

/* ---- pqformat, as in src/backend/libpq/pqformat.c ---- */

void
pq_copymsgbytes(StringInfo msg, char *buf, int datalen)
{
	if (datalen < 0 || datalen > (msg->len - msg->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	memcpy(buf, &msg->data[msg->cursor], datalen);
	msg->cursor += datalen;
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	unsigned int result;
	unsigned char n8;
	uint16		n16;
	uint32		n32;

	switch (b)
	{
		case 1:
			pq_copymsgbytes(msg, (char *) &n8, 1);
			result = n8;
			break;
		case 2:
			pq_copymsgbytes(msg, (char *) &n16, 2);
			result = pg_ntoh16(n16);
			break;
		case 4:
			pq_copymsgbytes(msg, (char *) &n32, 4);
			result = pg_ntoh32(n32);
			break;
		default:
			elog(ERROR, "unsupported integer size %d", b);
			result = 0;			/* keep compiler quiet */
			break;
	}
	return result;
}

float4
pq_getmsgfloat4(StringInfo msg)
{
	union
	{
		float4		f;
		uint32		i;
	}			swap;

	swap.i = pq_getmsgint(msg, 4);
	return swap.f;
}

void
pq_sendfloat4(StringInfo buf, float4 f)
{
	union
	{
		float4		f;
		uint32		i;
	}			swap;

	swap.f = f;
	pq_sendint32(buf, swap.i);
}

void
pq_begintypsend(StringInfo buf)
{
	initStringInfo(buf);
	/* reserve four bytes for the bytea length word */
	appendStringInfoCharMacro(buf, '\0');
	appendStringInfoCharMacro(buf, '\0');
	appendStringInfoCharMacro(buf, '\0');
	appendStringInfoCharMacro(buf, '\0');
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

#ifdef PGSTUB_NO_PGCOMMON
int
float_to_shortest_decimal_bufn(float f, char *result)
{
	/* %.9g is not the shortest form, but it is exact and fits in 15 bytes */
	char		tmp[32];
	int			n = snprintf(tmp, sizeof(tmp), "%.9g", f);

	memcpy(result, tmp, n);
	return n;
}
#endif

/* ---- referenced by the array casts, never reached by the fuzz targets ---- */

#define UNREACHED(name) PgStubFail("%s is not available in the fuzz harness", name)

int32 *
ArrayGetIntegerTypmods(ArrayType *arr, int *n)
{
	UNREACHED("ArrayGetIntegerTypmods");
}

bool
array_contains_nulls(ArrayType *array)
{
	UNREACHED("array_contains_nulls");
}

void
get_typlenbyvalalign(Oid typid, int16 *typlen, bool *typbyval, char *typalign)
{
	UNREACHED("get_typlenbyvalalign");
}

void
deconstruct_array(ArrayType *array, Oid elmtype, int elmlen, bool elmbyval,
				  char elmalign, Datum **elemsp, bool **nullsp, int *nelemsp)
{
	UNREACHED("deconstruct_array");
}

ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen,
				bool elmbyval, char elmalign)
{
	UNREACHED("construct_array");
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	UNREACHED("DirectFunctionCall1Coll");
}

Datum
numeric_float8_no_overflow(PG_FUNCTION_ARGS)
{
	UNREACHED("numeric_float8_no_overflow");
}

char *
format_type_be(Oid type_oid)
{
	UNREACHED("format_type_be");
}
