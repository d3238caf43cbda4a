/*
 * delivery.c
 *		HTTP delivery of outbox events with libcurl's multi interface.
 *
 * A batch of deliveries goes out at once, several requests in flight over
 * one multi handle that keeps connections alive between batches.  Each
 * request is a POST of the event's JSON body signed with the webhook's
 * secret.  Requests go only to hosts listed in firstsight.webhook_allowed_hosts,
 * only over http or https, never through a proxy and never following a
 * redirect; TLS peers and host names are verified unless
 * firstsight.webhook_tls_verify is off.  Nothing here touches the database.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/timestamp.h"
#include "worker/worker.h"

static CURLM *multi = NULL;

/* start libcurl once per worker */
void
FsDeliveryStart(void)
{
	if (multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
}

/* close connections and release libcurl */
void
FsDeliveryStop(void)
{
	if (multi == NULL)
		return;
	curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}

/*
 * sha256=<hex HMAC-SHA256 of body under secret> into out (FS_SIGNATURE_LEN + 1).
 * Needs a resource owner (OpenSSL contexts are tracked): call it inside a
 * transaction.
 */
void
FsSignature(const char *secret, const char *body, size_t len, char *out)
{
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	static const char hex[] = "0123456789abcdef";

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_hmac_init(ctx, (const uint8 *) secret, strlen(secret)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) body, len) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		const char *why = pg_hmac_error(ctx);

		pg_hmac_free(ctx);
		elog(ERROR, "could not compute HMAC-SHA256: %s", why);
	}
	pg_hmac_free(ctx);
	memcpy(out, "sha256=", 7);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		out[7 + 2 * i] = hex[mac[i] >> 4];
		out[7 + 2 * i + 1] = hex[mac[i] & 15];
	}
	out[FS_SIGNATURE_LEN] = '\0';
}

/* lower-case copy without IPv6 brackets */
static char *
HostNormalize(const char *host, int len)
{
	char	   *s;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
	{
		host++;
		len -= 2;
	}
	s = pnstrdup(host, len);
	for (char *p = s; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	return s;
}

/* does one allowed-hosts entry ("host", "host:port", "[v6]:port", "*.domain", "*") admit host and port */
static bool
HostEntryMatches(const char *entry, int elen, const char *host, const char *port)
{
	const char *colon = NULL;
	int			hlen = elen;
	char	   *name;
	bool		match;

	if (entry[0] == '[')
	{
		const char *close = memchr(entry, ']', elen);

		if (close != NULL && close + 1 < entry + elen && close[1] == ':')
			colon = close + 1;
	}
	else
	{
		colon = memchr(entry, ':', elen);
		/* a bare IPv6 address has several colons and no port */
		if (colon != NULL && memchr(colon + 1, ':', entry + elen - colon - 1) != NULL)
			colon = NULL;
	}
	if (colon != NULL)
	{
		int			plen = entry + elen - colon - 1;

		if ((int) strlen(port) != plen || strncmp(colon + 1, port, plen) != 0)
			return false;
		hlen = colon - entry;
	}
	if (hlen == 1 && entry[0] == '*')
		return true;
	name = HostNormalize(entry, hlen);
	if (name[0] == '*' && name[1] == '.')
	{
		size_t		hl = strlen(host),
					sl = strlen(name + 1);

		match = hl > sl && strcmp(host + hl - sl, name + 1) == 0;
	}
	else
		match = strcmp(name, host) == 0;
	pfree(name);
	return match;
}

/*
 * Why url must not be called (palloc'd), or NULL when it may.  Entries of
 * firstsight.webhook_allowed_hosts: "host", "host:port", "*.domain" (any
 * subdomain) or "*" (anything); empty allows nothing.
 */
char *
FsHostRefusal(const char *url)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL,
			   *host = NULL,
			   *port = NULL;
	char	   *result = NULL;
	char	   *h;
	const char *p;

	if (u == NULL)
		return pstrdup("out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
	{
		curl_url_cleanup(u);
		return pstrdup("the URL cannot be parsed");
	}
	if (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0)
		result = psprintf("scheme \"%s\" is not http or https", scheme);
	h = HostNormalize(host, strlen(host));
	if (result == NULL)
	{
		bool		allowed = false;

		p = fs_webhook_allowed_hosts ? fs_webhook_allowed_hosts : "";
		while (*p && !allowed)
		{
			const char *end;
			const char *e;

			while (*p == ',' || *p == ' ' || *p == '\t')
				p++;
			end = p;
			while (*end && *end != ',')
				end++;
			e = end;
			while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > p && HostEntryMatches(p, e - p, h, port))
				allowed = true;
			p = end;
		}
		if (!allowed)
			result = psprintf("host \"%s\" port %s is not in firstsight.webhook_allowed_hosts", h, port);
	}
	pfree(h);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return result;
}

/* response bodies are read and dropped */
static size_t
DiscardBody(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* the easy handle for one delivery; its headers go in *headers */
static CURL *
RequestCreate(FsDelivery *d, struct curl_slist **headers, char *errbuf)
{
	CURL	   *easy = curl_easy_init();
	char	   *line;
	size_t		len = strlen(d->body);
	struct curl_slist *h = NULL;

	if (easy == NULL)
		return NULL;
	/* curl_slist_append copies each line */
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	h = curl_slist_append(h, "User-Agent: firstsight/0.1.0");
	line = psprintf("X-Firstsight-Signature: %s", d->signature);
	h = curl_slist_append(h, line);
	pfree(line);
	line = psprintf("X-Firstsight-Event: %s", d->event);
	h = curl_slist_append(h, line);
	pfree(line);
	line = psprintf("Idempotency-Key: fs-" INT64_FORMAT "-" INT64_FORMAT "-" INT64_FORMAT,
					d->project_id, d->event_id, d->webhook_id);
	h = curl_slist_append(h, line);
	pfree(line);
	line = psprintf("X-Firstsight-Delivery-Attempt: %d", d->attempts + 1);
	h = curl_slist_append(h, line);
	pfree(line);
	*headers = h;

	curl_easy_setopt(easy, CURLOPT_URL, d->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, fs_webhook_tls_verify ? 1L : 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, fs_webhook_tls_verify ? 2L : 0L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) fs_webhook_connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) fs_webhook_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE, 1024L * 1024L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) len);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, DiscardBody);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *) d);
	errbuf[0] = '\0';
	return easy;
}

/* record how one finished transfer went */
static void
RequestFinish(FsDelivery *d, CURL *easy, CURLcode code, const char *errbuf)
{
	d->finished_at = GetCurrentTimestamp();
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &d->status);
	if (code != CURLE_OK)
		d->error = psprintf("%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
	else if (d->status >= 200 && d->status < 300)
		d->ok = true;
	else if (d->status >= 300 && d->status < 400)
		d->error = psprintf("HTTP %ld: redirects are not followed", d->status);
	else
		d->error = psprintf("HTTP %ld", d->status);
}

/*
 * Send a batch; fills refused, ok, status, error and finished_at of each.
 * Interrupts are checked while transfers run, so SIGTERM ends the worker
 * mid-batch: those deliveries stay pending and are sent again later with the
 * same idempotency key.
 */
void
FsDeliverBatch(FsDelivery *batch, int n)
{
	CURL	  **easy = palloc0(sizeof(CURL *) * n);
	struct curl_slist **headers = palloc0(sizeof(struct curl_slist *) * n);
	char	  (*errbuf)[CURL_ERROR_SIZE] = palloc(sizeof(*errbuf) * n);
	int			running = 0;

	for (int i = 0; i < n; i++)
	{
		FsDelivery *d = &batch[i];
		char	   *why = FsHostRefusal(d->url);

		if (why != NULL)
		{
			d->refused = true;
			d->error = why;
			d->finished_at = GetCurrentTimestamp();
			continue;
		}
		easy[i] = RequestCreate(d, &headers[i], errbuf[i]);
		if (easy[i] == NULL || curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
		{
			d->error = pstrdup("could not create the request");
			d->finished_at = GetCurrentTimestamp();
			if (easy[i] != NULL)
				curl_easy_cleanup(easy[i]);
			easy[i] = NULL;
			continue;
		}
		running++;
	}

	while (running > 0)
	{
		CURLMsg    *msg;
		int			left;

		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			FsDelivery *d;
			char	   *priv;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
			d = (FsDelivery *) priv;
			RequestFinish(d, msg->easy_handle, msg->data.result, errbuf[d - batch]);
		}
		if (running > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
		CHECK_FOR_INTERRUPTS();
		/* the latch wait is not in use here: notice the postmaster's death ourselves */
		if (!PostmasterIsAlive())
			proc_exit(1);
	}

	for (int i = 0; i < n; i++)
	{
		if (easy[i] == NULL)
			continue;
		if (batch[i].finished_at == 0)
		{
			batch[i].error = pstrdup("transfer did not finish");
			batch[i].finished_at = GetCurrentTimestamp();
		}
		curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
		curl_slist_free_all(headers[i]);
	}
}
