/*
 * outbox.c
 *		SQL-callable helpers of the outbox: payload screening, the commit
 *		wake-up, the signature and the host check.
 *
 * Payload screening is defence in depth: the domain code never puts
 * biometric data into events, and emit_event refuses payloads that look as
 * if it had.  A key naming a face, an embedding, a photo or an image may
 * carry a number, a boolean or null (counts, flags) but never a string, an
 * array or an object; no array may hold 32 or more numbers (an embedding
 * under any name); no string may look like image data or a long base64 or
 * hex blob.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "worker/worker.h"

#define FS_PAYLOAD_MAX_BYTES	65536
#define FS_EMBEDDING_MIN_DIMS	32
#define FS_BLOB_MIN_CHARS		1024

/* words that name biometric data, compared with each word of a key, singular */
static const char *const biometric_words[] = {
	"face", "embedding", "photo", "image", "picture", "biometric", "vector",
	"template", "portrait", "selfie", "snapshot", "thumbnail", "jpeg", "jpg",
	"png", "base64", "faceprint", "iris", "fingerprint", NULL
};

/* one word of a key, lower-case, without a plural s */
static bool
WordIsBiometric(const char *w, int len)
{
	char		buf[64];

	if (len <= 0 || len >= (int) sizeof(buf))
		return false;
	for (int i = 0; i < len; i++)
		buf[i] = pg_tolower((unsigned char) w[i]);
	buf[len] = '\0';
	if (len > 3 && buf[len - 1] == 's')
	{
		for (int i = 0; biometric_words[i]; i++)
			if (strncmp(buf, biometric_words[i], len - 1) == 0 && biometric_words[i][len - 1] == '\0')
				return true;
	}
	for (int i = 0; biometric_words[i]; i++)
		if (strcmp(buf, biometric_words[i]) == 0)
			return true;
	return false;
}

/* does a key (snake_case, kebab-case, camelCase, dotted) name biometric data */
static bool
KeyIsBiometric(const char *key, int len)
{
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		bool		boundary = i == len || !isalnum((unsigned char) key[i]);
		bool		camel = i > start && i < len && isupper((unsigned char) key[i]) &&
			islower((unsigned char) key[i - 1]);

		if (boundary || camel)
		{
			if (WordIsBiometric(key + start, i - start))
				return true;
			start = boundary ? i + 1 : i;
		}
	}
	return false;
}

/* does a string look like an image or a binary blob */
static bool
StringLooksLikeBlob(const char *s, int len)
{
	int			b64 = 0;

	if (len >= 11 && (pg_strncasecmp(s, "data:image/", 11) == 0 ||
					  strncmp(s, "/9j/", 4) == 0 || strncmp(s, "iVBORw0KGgo", 11) == 0))
		return true;
	if (len < FS_BLOB_MIN_CHARS)
		return false;
	for (int i = 0; i < len; i++)
		if (isalnum((unsigned char) s[i]) || s[i] == '+' || s[i] == '/' || s[i] == '=' ||
			s[i] == '\\' || s[i] == '\n' || s[i] == '\r')
			b64++;
	return b64 == len;
}

/* refuse a payload with a reason */
static void
PayloadRefuse(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("event payload must not contain biometric data"),
			 errdetail_internal("%s", detail),
			 errhint("Send identifiers (person, visit, capture ids) and let the receiver fetch what it may see.")));
}

PG_FUNCTION_INFO_V1(fs_outbox_check_payload);
/* raise an error unless payload is a small object free of biometric-looking data */
Datum
fs_outbox_check_payload(PG_FUNCTION_ARGS)
{
	Jsonb	   *payload = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	int			numbers[64];	/* numbers directly in the array at each depth */
	bool		in_array[64];
	char	   *key = NULL;		/* last key read, until its value */

	if (VARSIZE(payload) > FS_PAYLOAD_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("event payload is too large"),
				 errdetail("The payload takes %zu bytes; the limit is %d.",
						   (size_t) VARSIZE(payload), FS_PAYLOAD_MAX_BYTES),
				 errhint("Send identifiers and let the receiver fetch details.")));
	if (!JB_ROOT_IS_OBJECT(payload))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event payload must be a JSON object")));

	it = JsonbIteratorInit(&payload->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (key != NULL)
					PayloadRefuse(psprintf("Key \"%s\" names biometric data and holds %s.", key,
										   tok == WJB_BEGIN_ARRAY ? "an array" : "an object"));
				if (++depth >= (int) lengthof(numbers))
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("event payload is nested too deeply")));
				numbers[depth] = 0;
				in_array[depth] = tok == WJB_BEGIN_ARRAY;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				break;
			case WJB_KEY:
				if (KeyIsBiometric(v.val.string.val, v.val.string.len))
					key = pnstrdup(v.val.string.val, Min(v.val.string.len, 64));
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (v.type == jbvString)
				{
					if (key != NULL)
						PayloadRefuse(psprintf("Key \"%s\" names biometric data and holds a string.", key));
					if (StringLooksLikeBlob(v.val.string.val, v.val.string.len))
						PayloadRefuse("A string looks like image data or a binary blob.");
				}
				if (v.type == jbvNumeric && in_array[depth] &&
					++numbers[depth] >= FS_EMBEDDING_MIN_DIMS)
					PayloadRefuse(psprintf("An array holds %d or more numbers, like an embedding.",
										   FS_EMBEDDING_MIN_DIMS));
				key = NULL;
				break;
			default:
				break;
		}
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(fs_outbox_wake_at_commit);
/* wake the delivery worker when the current transaction commits */
Datum
fs_outbox_wake_at_commit(PG_FUNCTION_ARGS)
{
	FsWorkerWakeAtCommit();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(fs_webhook_signature);
/* the X-Firstsight-Signature value for a body */
Datum
fs_webhook_signature(PG_FUNCTION_ARGS)
{
	text	   *secret = PG_GETARG_TEXT_PP(0);
	text	   *body = PG_GETARG_TEXT_PP(1);
	char		out[FS_SIGNATURE_LEN + 1];

	FsSignature(text_to_cstring(secret), VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

PG_FUNCTION_INFO_V1(fs_webhook_host_check);
/* why the worker would refuse url, or NULL */
Datum
fs_webhook_host_check(PG_FUNCTION_ARGS)
{
	char	   *why = FsHostRefusal(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	if (why == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}

PG_FUNCTION_INFO_V1(fs_webhook_retry_delay);
/* a delay the worker would wait after the attempts-th failed attempt (random: jitter) */
Datum
fs_webhook_retry_delay(PG_FUNCTION_ARGS)
{
	int32		attempts = PG_GETARG_INT32(0);
	double		ms;
	Interval   *result;

	if (attempts < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attempts must be at least 1"),
				 errdetail("The delay follows the attempts-th failed attempt.")));
	ms = FsRetryDelayMs(attempts);
	result = palloc0(sizeof(Interval));
	result->time = (TimeOffset) (ms * 1000.0);
	PG_RETURN_INTERVAL_P(result);
}
