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
 *
 * Since 0.2.0 (issue 14) outbox_check_payload also refuses personal
 * identifiers and embeddings in other shapes: a string holding a mainland
 * mobile number (11 digits from 13 to 19, spaces, dashes and a +86 prefix
 * allowed) or an ID-card number (18 characters with a valid check digit);
 * under a key naming a phone or an ID document, any number or string with 7
 * or more digits (a masked "138****8000" passes); a string of 32 or more
 * numbers (an embedding written as text); arrays whose nested arrays hold
 * 32 or more numbers or numeric strings together; and objects with 32 or
 * more numbers or numeric strings as values.  The 0.1.0 entry
 * point keeps the earlier screen.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
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

/* words that name a phone number or an identity document, compared as biometric_words */
static const char *const identifier_words[] = {
	"phone", "mobile", "tel", "telephone", "cellphone", "msisdn", "idcard", "idno", "passport",
	"ssn", "sfz", "shenfenzheng", NULL
};

/* is w (len bytes) one of words, case-insensitive, with or without a plural s */
static bool
WordIn(const char *const *words, const char *w, int len)
{
	char		buf[64];

	if (len <= 0 || len >= (int) sizeof(buf))
		return false;
	for (int i = 0; i < len; i++)
		buf[i] = pg_tolower((unsigned char) w[i]);
	buf[len] = '\0';
	for (int i = 0; words[i]; i++)
		if (strcmp(buf, words[i]) == 0 ||
			(len > 3 && buf[len - 1] == 's' && strncmp(buf, words[i], len - 1) == 0 && words[i][len - 1] == '\0'))
			return true;
	return false;
}

/* does a key name a phone number or an ID document ("phone", "id_card", "idCardNo", "mobile_number") */
static bool
KeyIsIdentifier(const char *key, int len)
{
	int			start = 0;
	bool		prev_id = false;

	for (int i = 0; i <= len; i++)
	{
		bool		boundary = i == len || !isalnum((unsigned char) key[i]);
		bool		camel = i > start && i < len && isupper((unsigned char) key[i]) &&
			islower((unsigned char) key[i - 1]);

		if (boundary || camel)
		{
			const char *w = key + start;
			int			wl = i - start;

			if (WordIn(identifier_words, w, wl))
				return true;
			/* "id" followed by "card", "no", "number" or "num" */
			if (prev_id && wl > 0 &&
				(pg_strncasecmp(w, "card", wl) == 0 || pg_strncasecmp(w, "no", wl) == 0 ||
				 pg_strncasecmp(w, "number", wl) == 0 || pg_strncasecmp(w, "num", wl) == 0) &&
				(wl == 2 || wl == 3 || wl == 4 || wl == 6))
				return true;
			if (wl > 0)
				prev_id = wl == 2 && pg_strncasecmp(w, "id", 2) == 0;
			start = boundary ? i + 1 : i;
		}
	}
	return false;
}

/* is d[0..17] (17 digits and a check character) an ID-card number with a valid check digit */
static bool
IdCardChecks(const char *d)
{
	static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[] = "10X98765432";
	int			sum = 0;

	for (int i = 0; i < 17; i++)
		sum += (d[i] - '0') * weights[i];
	return pg_toupper((unsigned char) d[17]) == check[sum % 11];
}

/*
 * does a string hold a mainland mobile number or an ID-card number: runs of
 * digits joined by single spaces or dashes, 11 digits from 13 to 19 (or 13
 * with 86 before), or 17 digits and a check character that checks
 */
static bool
StringHoldsIdentifier(const char *s, int len)
{
	int			i = 0;

	while (i < len)
	{
		char		d[20];
		int			n = 0;

		if (!isdigit((unsigned char) s[i]) || (i > 0 && isdigit((unsigned char) s[i - 1])))
		{
			i++;
			continue;
		}
		while (i < len && n < (int) sizeof(d))
		{
			if (isdigit((unsigned char) s[i]))
				d[n++] = s[i++];
			else if ((s[i] == ' ' || s[i] == '-') && i + 1 < len && isdigit((unsigned char) s[i + 1]) && n > 0)
				i++;
			else
				break;
		}
		if (n == 17 && i < len && (s[i] == 'X' || s[i] == 'x'))
		{
			d[n++] = s[i++];
			if (i >= len || !isalnum((unsigned char) s[i]))
				if (IdCardChecks(d))
					return true;
			continue;
		}
		if (n < (int) sizeof(d) && (i >= len || !isalnum((unsigned char) s[i])))
		{
			const char *m = n == 13 && d[0] == '8' && d[1] == '6' ? d + 2 : d;
			int			ml = m == d ? n : 11;

			if (ml == 11 && m[0] == '1' && m[1] >= '3' && m[1] <= '9')
				return true;
			if (n == 18 && IdCardChecks(d))
				return true;
		}
		while (i < len && isalnum((unsigned char) s[i]))
			i++;
	}
	return false;
}

/*
 * the digits in a string written as a phone or ID number (digits, spaces,
 * dashes, dots, parentheses, a plus, an X check character), else 0: a masked
 * "138****8000" or a hash is not one
 */
static int
DigitCount(const char *s, int len)
{
	int			n = 0;

	for (int i = 0; i < len; i++)
	{
		if (isdigit((unsigned char) s[i]))
			n++;
		else if (strchr(" -.()+", s[i]) == NULL && !((s[i] == 'X' || s[i] == 'x') && i == len - 1))
			return 0;
	}
	return n;
}

/* is a string one number ("0.25", "-1e-3") */
static bool
StringIsNumber(const char *s, int len)
{
	int			i = 0;
	bool		digits = false;

	while (i < len && isspace((unsigned char) s[i]))
		i++;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && (isdigit((unsigned char) s[i]) || s[i] == '.'))
		digits |= isdigit((unsigned char) s[i++]) != 0;
	if (digits && i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	}
	while (i < len && isspace((unsigned char) s[i]))
		i++;
	return digits && i == len;
}

/* how many numbers a string holds when it is a list of numbers ("[0.1, 0.2]", "0.1 0.2"), else 0 */
static int
StringNumberList(const char *s, int len)
{
	int			count = 0;
	int			i = 0;

	while (i < len)
	{
		int			start;

		while (i < len && (isspace((unsigned char) s[i]) || strchr("[](){},;", s[i]) != NULL))
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && !isspace((unsigned char) s[i]) && strchr("[](){},;", s[i]) == NULL)
			i++;
		if (!StringIsNumber(s + start, i - start))
			return 0;
		count++;
	}
	return count;
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

/* refuse a payload that carries a raw phone or ID-card number */
static void
PayloadRefuseIdentifier(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("event payload must not contain raw phone or ID-card numbers"),
			 errdetail_internal("%s", detail),
			 errhint("Send the identifier's hash (firstsight.identity_hash) or a masked form such as 138****8000.")));
}

/*
 * raise an error unless payload is a small object free of biometric-looking
 * data; strict (0.2.0): personal identifiers, embeddings as text and nested
 * arrays of numbers too
 */
static void
CheckPayload(Jsonb *payload, bool strict)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	int			numbers[64];	/* numbers in the array at each depth (with its nested arrays when strict) */
	bool		in_array[64];
	char	   *key = NULL;		/* last biometric key read, until its value */
	bool		id_key = false; /* the last key read names a phone or ID document */

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

	in_array[0] = false;
	numbers[0] = 0;
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
				/*
				 * an array's numbers count for the array around it: [[16
				 * numbers], [16 numbers]]; an object's do not (a list of
				 * reports with a few ids each is no embedding)
				 */
				if (strict && tok == WJB_END_ARRAY && depth > 0 && in_array[depth - 1] &&
					(numbers[depth - 1] += numbers[depth]) >= FS_EMBEDDING_MIN_DIMS)
					PayloadRefuse(psprintf("Nested arrays hold %d or more numbers, like an embedding.",
										   FS_EMBEDDING_MIN_DIMS));
				depth--;
				id_key = false;
				break;
			case WJB_KEY:
				if (KeyIsBiometric(v.val.string.val, v.val.string.len))
					key = pnstrdup(v.val.string.val, Min(v.val.string.len, 64));
				id_key = strict && KeyIsIdentifier(v.val.string.val, v.val.string.len);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (v.type == jbvString)
				{
					const char *str = v.val.string.val;
					int			len = v.val.string.len;

					if (key != NULL)
						PayloadRefuse(psprintf("Key \"%s\" names biometric data and holds a string.", key));
					if (StringLooksLikeBlob(str, len))
						PayloadRefuse("A string looks like image data or a binary blob.");
					if (strict && id_key && DigitCount(str, len) >= 7)
						PayloadRefuseIdentifier("A key names a phone or ID number and holds one.");
					if (strict && StringHoldsIdentifier(str, len))
						PayloadRefuseIdentifier("A string holds a phone or ID-card number.");
					if (strict && StringNumberList(str, len) >= FS_EMBEDDING_MIN_DIMS)
						PayloadRefuse(psprintf("A string holds %d or more numbers, like an embedding.",
											   FS_EMBEDDING_MIN_DIMS));
					if (strict && StringIsNumber(str, len) &&
						++numbers[depth] >= FS_EMBEDDING_MIN_DIMS)
						PayloadRefuse(psprintf("An %s holds %d or more numbers, like an embedding.",
											   in_array[depth] ? "array" : "object", FS_EMBEDDING_MIN_DIMS));
				}
				if (v.type == jbvNumeric && strict && id_key)
				{
					char	   *num = DatumGetCString(DirectFunctionCall1(numeric_out,
																		  NumericGetDatum(v.val.numeric)));

					if (DigitCount(num, strlen(num)) >= 7)
						PayloadRefuseIdentifier("A key names a phone or ID number and holds one.");
				}
				/* 0.1.0 counts arrays' numbers only; since 0.2.0 an object's too: {"d1": 0.1, ... "d32": 0.3} */
				if (v.type == jbvNumeric && (in_array[depth] || strict) &&
					++numbers[depth] >= FS_EMBEDDING_MIN_DIMS)
					PayloadRefuse(psprintf("An %s holds %d or more numbers, like an embedding.",
										   in_array[depth] ? "array" : "object", FS_EMBEDDING_MIN_DIMS));
				key = NULL;
				if (tok == WJB_VALUE)
					id_key = false;
				break;
			default:
				break;
		}
	}
}

PG_FUNCTION_INFO_V1(fs_outbox_check_payload);
/* the 0.1.0 screen: biometric keys, long arrays of numbers, blobs */
Datum
fs_outbox_check_payload(PG_FUNCTION_ARGS)
{
	CheckPayload(PG_GETARG_JSONB_P(0), false);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(fs_outbox_screen_payload);
/* the screen since 0.2.0: also phone and ID-card numbers, embeddings as text and nested arrays */
Datum
fs_outbox_screen_payload(PG_FUNCTION_ARGS)
{
	CheckPayload(PG_GETARG_JSONB_P(0), true);
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
