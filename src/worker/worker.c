/*
 * worker.c
 *		The notification worker: settings, the commit wake-up and the loop.
 *
 * One background worker, registered only when firstsight is in
 * shared_preload_libraries, serves the database named in
 * firstsight.worker_database (empty: it waits, connected to nothing).  Each
 * loop it reads a batch of due deliveries in one short transaction, sends
 * them with libcurl outside any transaction, records the outcomes in a
 * second transaction, and when firstsight.retention_interval has passed runs
 * enforce_retention to the end, one paced call at a time between delivery
 * batches (retention_pace: calls sized to firstsight.retention_batch_time,
 * erasing firstsight.retention_share of the time).  It sleeps on its latch; a
 * transaction that wrote deliveries sets that latch when it commits, so the
 * worker wakes at commit rather than polling.  Every ROLLUP_FOLD_MS it folds
 * the BI rollups' delta rows (rollup_fold) in a transaction of its own.  See
 * src/worker/README.md.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "worker/worker.h"

/* settings */
char	   *fs_worker_database = NULL;
char	   *fs_worker_role = NULL;
char	   *fs_webhook_allowed_hosts = NULL;
char	   *fs_retention_interval = NULL;
int			fs_webhook_connect_timeout_ms = 5000;
int			fs_webhook_timeout_ms = 10000;
int			fs_webhook_max_attempts = 12;
int			fs_webhook_batch_size = 64;
int			fs_webhook_retry_base_ms = 1000;
int			fs_webhook_retry_max_ms = 3600 * 1000;
bool		fs_webhook_tls_verify = true;
int			fs_worker_naptime_s = 60;
int			fs_retention_batch_size = 10000;
double		fs_retention_share = 0.3;
int			fs_retention_batch_time_ms = 500;

/* what backends need to wake the worker */
typedef struct FsWorkerShared
{
	slock_t		mutex;
	Latch	   *latch;			/* the worker's latch while it serves a database */
	Oid			dboid;			/* that database */
} FsWorkerShared;

static FsWorkerShared *worker_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_at_commit = false;

/* seconds between retention runs: parsed firstsight.retention_interval, 0 = off */
static int	retention_interval_s = 3600;

/* ---------- settings ---------- */

/*
 * Parse "off" or "<number> <unit>" (s, min, h, d and their long forms; no unit
 * means seconds) into seconds; -1 when it is neither.
 */
static int
RetentionIntervalParse(const char *s)
{
	char	   *end;
	double		n;
	double		mult;

	while (isspace((unsigned char) *s))
		s++;
	if (pg_strcasecmp(s, "off") == 0 || pg_strcasecmp(s, "0") == 0)
		return 0;
	errno = 0;
	n = strtod(s, &end);
	if (end == s || errno != 0 || n <= 0)
		return -1;
	while (isspace((unsigned char) *end))
		end++;
	if (*end == '\0' || pg_strcasecmp(end, "s") == 0 || pg_strcasecmp(end, "sec") == 0 ||
		pg_strcasecmp(end, "second") == 0 || pg_strcasecmp(end, "seconds") == 0)
		mult = 1;
	else if (pg_strcasecmp(end, "min") == 0 || pg_strcasecmp(end, "mins") == 0 ||
			 pg_strcasecmp(end, "minute") == 0 || pg_strcasecmp(end, "minutes") == 0)
		mult = 60;
	else if (pg_strcasecmp(end, "h") == 0 || pg_strcasecmp(end, "hour") == 0 ||
			 pg_strcasecmp(end, "hours") == 0)
		mult = 3600;
	else if (pg_strcasecmp(end, "d") == 0 || pg_strcasecmp(end, "day") == 0 ||
			 pg_strcasecmp(end, "days") == 0)
		mult = 86400;
	else
		return -1;
	n *= mult;
	if (n < 1 || n > 365.0 * 86400)
		return -1;
	return (int) n;
}

/* accept "off" or an interval from one second to a year */
static bool
RetentionIntervalCheck(char **newval, void **extra, GucSource source)
{
	if (RetentionIntervalParse(*newval) < 0)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("invalid firstsight.retention_interval \"%s\"", *newval);
		GUC_check_errhint("Give \"off\" or an interval from 1 second to 365 days, such as \"1h\" or \"15 min\".");
		return false;
	}
	return true;
}

/* keep the parsed interval */
static void
RetentionIntervalAssign(const char *newval, void *extra)
{
	retention_interval_s = RetentionIntervalParse(newval);
}

/* define the firstsight.* settings of the worker */
static void
WorkerDefineSettings(void)
{
	DefineCustomStringVariable("firstsight.worker_database",
							   "Database the notification worker serves; empty leaves it idle.",
							   "Needs firstsight in shared_preload_libraries.",
							   &fs_worker_database, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("firstsight.worker_role",
							   "Role the notification worker connects as; empty: the bootstrap superuser.",
							   "A login role granted firstsight_worker (setup_roles) needs no other right.",
							   &fs_worker_role, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("firstsight.webhook_allowed_hosts",
							   "Hosts webhooks may be sent to: comma list of host, host:port, *.domain or *.",
							   "Empty allows none: every delivery is refused until hosts are listed.",
							   &fs_webhook_allowed_hosts, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("firstsight.retention_interval",
							   "How often the worker runs enforce_retention; off to leave it to pg_cron.",
							   NULL, &fs_retention_interval, "1h", PGC_SIGHUP, 0,
							   RetentionIntervalCheck, RetentionIntervalAssign, NULL);
	DefineCustomIntVariable("firstsight.retention_batch_size",
							"Rows enforce_retention erases per transaction when the worker runs it.",
							NULL, &fs_retention_batch_size, 10000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("firstsight.retention_share",
							 "Fraction of the time the worker's retention runs spend erasing (halved while vacuum works on capture or face).",
							 "Between calls the worker pauses; 1 erases without pauses.",
							 &fs_retention_share, 0.3, 0.01, 1.0,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.retention_batch_time",
							"Time one enforce_retention call of the worker should take; its size follows.",
							NULL, &fs_retention_batch_time_ms, 500, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_connect_timeout",
							"Time allowed to connect to a webhook.",
							NULL, &fs_webhook_connect_timeout_ms, 5000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_timeout",
							"Time allowed for a whole webhook request.",
							NULL, &fs_webhook_timeout_ms, 10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_max_attempts",
							"Attempts before a delivery is dead.",
							NULL, &fs_webhook_max_attempts, 12, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_batch_size",
							"Deliveries sent at once (requests in flight).",
							NULL, &fs_webhook_batch_size, 64, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_retry_base",
							"Delay before the second attempt; doubles per attempt, with jitter.",
							NULL, &fs_webhook_retry_base_ms, 1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.webhook_retry_max",
							"Longest delay between attempts.",
							NULL, &fs_webhook_retry_max_ms, 3600000, 10, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("firstsight.webhook_tls_verify",
							 "Verify webhook TLS certificates and host names.",
							 "Turn off only for testing.",
							 &fs_webhook_tls_verify, true, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("firstsight.worker_naptime",
							"Longest sleep of the worker when no commit wakes it.",
							NULL, &fs_worker_naptime_s, 60, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}

/* ---------- shared memory and the commit wake-up ---------- */

/* ask for our shared memory */
static void
WorkerShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(FsWorkerShared)));
}

/* create or attach our shared memory */
static void
WorkerShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("firstsight worker", sizeof(FsWorkerShared), &found);
	if (!found)
	{
		SpinLockInit(&worker_shared->mutex);
		worker_shared->latch = NULL;
		worker_shared->dboid = InvalidOid;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* set the worker's latch if it serves this database */
static void
WorkerWake(void)
{
	Latch	   *latch = NULL;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	if (worker_shared->dboid == MyDatabaseId)
		latch = worker_shared->latch;
	SpinLockRelease(&worker_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/* wake the worker at the end of a transaction that wrote deliveries */
static void
WorkerXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				WorkerWake();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/* remember to wake the worker when this transaction commits */
void
FsWorkerWakeAtCommit(void)
{
	wake_at_commit = true;
}

/* settings, the commit callback, and (only while preloading) the worker */
void
FsWorkerInit(void)
{
	BackgroundWorker worker;

	WorkerDefineSettings();
	RegisterXactCallback(WorkerXactCallback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WorkerShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WorkerShmemStartup;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "firstsight");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "FsWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "firstsight worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "firstsight worker");
	RegisterBackgroundWorker(&worker);
}

/* ---------- the loop ---------- */

static MemoryContext loop_context = NULL;
static TimestampTz last_retention = 0;
/* a retention run in progress: one paced call per loop when its time comes */
static bool retention_active = false;
static TimestampTz retention_next = 0;	/* the next call, not before */
static int	retention_size = 0;		/* rows a pass of the next call */
static int	retention_calls = 0;
static TimestampTz retention_started = 0;	/* when the run began */
static bool retention_erased = false;	/* whether a call of the run erased anything */
static TimestampTz last_fold = 0;

/* milliseconds between folds of the BI rollups' deltas */
#define ROLLUP_FOLD_MS 10000
static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr refuse_plan = NULL;

/*
 * The batch: due deliveries that head their (webhook, subject) queue, i.e.
 * the oldest undelivered, non-dead delivery of that subject for that
 * webhook.  Heads are looked for among the $2 oldest pending deliveries of
 * each enabled webhook (an ordered, early-stopping scan of
 * outbox_delivery_queue per webhook): every earlier delivery of a subject
 * seen there is seen too, so a head found there is a true head, and a
 * webhook whose receiver is down cannot hold back the others.  No per-row
 * subquery: the statistics of a queue table are stale by nature (analyzed
 * while everything was delivered, they promise an empty queue), and with
 * them a per-row NOT EXISTS check was planned as an unparameterized anti
 * join that rescanned the whole queue for every candidate (one batch took
 * 254 s at 20,000 pending).  The outbox row is read by a lateral subquery
 * the planner cannot flatten, a lookup on its whole key for the batch only.
 */
static const char *const fetch_sql =
"WITH heads AS MATERIALIZED ("
"  SELECT DISTINCT ON (q.project_id, q.webhook_id, q.subject)"
"         q.project_id, q.webhook_id, q.event_id, q.attempts, q.next_attempt_at, w.url, w.secret"
"    FROM firstsight.webhook w"
"    CROSS JOIN LATERAL ("
"         SELECT q.project_id, q.webhook_id, q.subject, q.event_id, q.attempts, q.next_attempt_at"
"           FROM firstsight.outbox_delivery q"
"          WHERE q.project_id = w.project_id AND q.webhook_id = w.webhook_id"
"            AND q.delivered_at IS NULL AND NOT q.dead"
"          ORDER BY q.event_id LIMIT $2) q"
"   WHERE w.enabled"
"   ORDER BY q.project_id, q.webhook_id, q.subject, q.event_id),"
" batch AS MATERIALIZED ("
"  SELECT h.* FROM heads h"
"   WHERE h.next_attempt_at <= clock_timestamp()"
"   ORDER BY h.next_attempt_at, h.event_id"
"   LIMIT $1)"
"SELECT b.project_id, b.event_id, b.webhook_id, b.attempts, b.url, b.secret, o.event, o.body"
"  FROM batch b"
"  CROSS JOIN LATERAL ("
"       SELECT o.event, jsonb_build_object('id', o.event_id, 'event', o.event, 'project_id', o.project_id,"
"                          'subject', o.subject, 'created_at', o.created_at, 'data', o.payload)::text AS body"
"         FROM firstsight.outbox o"
"        WHERE o.project_id = b.project_id AND o.event_id = b.event_id OFFSET 0) o"
" ORDER BY b.next_attempt_at, b.event_id";

/* pending deliveries of each webhook looked at per loop: at least 1024, 16 batches */
#define FS_QUEUE_WINDOW()	Max(1024, 16 * fs_webhook_batch_size)

/* the outcome of one attempt: $4 delivered, $5 status, $6 error, $7 at, $8 retry delay ms, $9 max attempts */
static const char *const record_sql =
"UPDATE firstsight.outbox_delivery"
"   SET attempts = attempts + 1, last_attempt_at = $7, last_status = $5, last_error = $6,"
"       delivered_at = CASE WHEN $4 THEN $7 END,"
"       next_attempt_at = $7 + make_interval(secs => $8 / 1000.0),"
"       dead = NOT $4 AND attempts + 1 >= $9"
" WHERE project_id = $1 AND event_id = $2 AND webhook_id = $3 AND delivered_at IS NULL";

/* a refusal: not an attempt, dead at once with the reason */
static const char *const refuse_sql =
"UPDATE firstsight.outbox_delivery"
"   SET dead = true, refused = true, last_attempt_at = $4, last_error = $5"
" WHERE project_id = $1 AND event_id = $2 AND webhook_id = $3 AND delivered_at IS NULL";

/* prepare a statement once per worker (options: CURSOR_OPT_*, 0 for none) */
static SPIPlanPtr
PlanOnce(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, int options)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, types, options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* start a transaction with a snapshot and SPI, reporting what it does */
static void
TxBegin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* commit it and go back to the loop context */
static void
TxEnd(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(loop_context);
}

/* is the extension installed in this database (with the outbox) */
static bool
ExtensionReady(void)
{
	bool		isnull;

	if (SPI_execute("SELECT to_regclass('firstsight.outbox_delivery') IS NOT NULL", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return false;
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* column i of row r as a string in the loop context */
static char *
ColumnString(int r, int i)
{
	char	   *s = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i);
	MemoryContext old = MemoryContextSwitchTo(loop_context);
	char	   *copy = pstrdup(s ? s : "");

	MemoryContextSwitchTo(old);
	return copy;
}

/* column i of row r as int64 */
static int64
ColumnInt64(int r, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/* read the next batch of due deliveries; returns how many (-1: no extension) */
static int
BatchFetch(FsDelivery **out)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];
	FsDelivery *batch;
	int			n;

	TxBegin("firstsight: reading due deliveries");
	if (!ExtensionReady())
	{
		TxEnd();
		return -1;
	}
	args[0] = Int32GetDatum(fs_webhook_batch_size);
	args[1] = Int32GetDatum(FS_QUEUE_WINDOW());
	/* planned afresh each loop (a custom plan), with the queue's current size */
	if (SPI_execute_plan(PlanOnce(&fetch_plan, fetch_sql, 2, types, CURSOR_OPT_CUSTOM_PLAN),
						 args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox");
	n = (int) SPI_processed;
	batch = MemoryContextAllocZero(loop_context, sizeof(FsDelivery) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		FsDelivery *d = &batch[r];
		bool		isnull;

		d->project_id = ColumnInt64(r, 1);
		d->event_id = ColumnInt64(r, 2);
		d->webhook_id = ColumnInt64(r, 3);
		d->attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 4, &isnull));
		d->url = ColumnString(r, 5);
		d->event = ColumnString(r, 7);
		d->body = ColumnString(r, 8);
		/* sign here, inside the transaction; the secret is not kept */
		d->signature = MemoryContextAlloc(loop_context, FS_SIGNATURE_LEN + 1);
		FsSignature(SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 6),
					d->body, strlen(d->body), d->signature);
	}
	TxEnd();
	*out = batch;
	return n;
}

/*
 * Delay before the next attempt after `attempts` failures: d = retry_base *
 * 2^(attempts-1), capped at retry_max, with equal jitter (uniform in [d/2, d])
 * so that deliveries failing together do not retry together.  Also behind
 * firstsight.webhook_retry_delay() (outbox.c).
 */
double
FsRetryDelayMs(int attempts)
{
	double		delay = fs_webhook_retry_base_ms;

	for (int i = 1; i < attempts && delay < fs_webhook_retry_max_ms; i++)
		delay *= 2;
	delay = Min(delay, (double) fs_webhook_retry_max_ms);
	return delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2;
}

/* write the outcome of each delivery */
static void
BatchRecord(FsDelivery *batch, int n)
{
	Oid			rtypes[9] = {INT8OID, INT8OID, INT8OID, BOOLOID, INT4OID, TEXTOID, TIMESTAMPTZOID, FLOAT8OID, INT4OID};
	Oid			ftypes[5] = {INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID};

	TxBegin("firstsight: recording deliveries");
	for (int i = 0; i < n; i++)
	{
		FsDelivery *d = &batch[i];
		Datum		args[9];
		char		nulls[9] = "         ";

		args[0] = Int64GetDatum(d->project_id);
		args[1] = Int64GetDatum(d->event_id);
		args[2] = Int64GetDatum(d->webhook_id);
		if (d->refused)
		{
			args[3] = TimestampTzGetDatum(d->finished_at);
			args[4] = CStringGetTextDatum(d->error);
			if (SPI_execute_plan(PlanOnce(&refuse_plan, refuse_sql, 5, ftypes, 0), args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not record a refused delivery");
			continue;
		}
		args[3] = BoolGetDatum(d->ok);
		args[4] = Int32GetDatum((int32) d->status);
		if (d->status == 0)
			nulls[4] = 'n';
		if (d->error)
			args[5] = CStringGetTextDatum(d->error);
		else
			nulls[5] = 'n';
		args[6] = TimestampTzGetDatum(d->finished_at);
		args[7] = Float8GetDatum(d->ok ? 0 : FsRetryDelayMs(d->attempts + 1));
		args[8] = Int32GetDatum(fs_webhook_max_attempts);
		if (SPI_execute_plan(PlanOnce(&record_plan, record_sql, 9, rtypes, 0), args, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record a delivery");
	}
	TxEnd();
}

/* when the earliest delivery that heads its subject's queue is due (heads as in fetch_sql; $1 window) */
static const char *const next_due_sql =
"SELECT ceil(extract(epoch FROM min(h.next_attempt_at) - clock_timestamp()) * 1000)::int8"
"  FROM (SELECT DISTINCT ON (q.project_id, q.webhook_id, q.subject) q.next_attempt_at"
"          FROM firstsight.webhook w"
"          CROSS JOIN LATERAL ("
"               SELECT q.project_id, q.webhook_id, q.subject, q.event_id, q.next_attempt_at"
"                 FROM firstsight.outbox_delivery q"
"                WHERE q.project_id = w.project_id AND q.webhook_id = w.webhook_id"
"                  AND q.delivered_at IS NULL AND NOT q.dead"
"                ORDER BY q.event_id LIMIT $1) q"
"         WHERE w.enabled"
"         ORDER BY q.project_id, q.webhook_id, q.subject, q.event_id) h";

/* milliseconds until the earliest pending retry, capped at the naptime */
static long
NextDueMs(void)
{
	long		nap = fs_worker_naptime_s * 1000L;
	bool		isnull;
	Datum		d;
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(FS_QUEUE_WINDOW())};

	TxBegin("firstsight: scheduling");
	if (ExtensionReady() &&
		SPI_execute_with_args(next_due_sql, 1, types, args, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			nap = Max(0, Min(nap, DatumGetInt64(d)));
	}
	TxEnd();
	return nap;
}

/*
 * The end of a retention run: scrub_after_retention zeroes the free space of
 * capture and the gallery when the run (or an erasure by request since the
 * previous run) erased something, in its own transaction after the erasures
 * committed.  Skipped where the catalog is older than the function (0.1.0).
 */
static void
RetentionScrub(void)
{
	Oid			types[2] = {TIMESTAMPTZOID, BOOLOID};
	Datum		args[2];
	bool		isnull;

	TxBegin("firstsight: scrub after retention");
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('firstsight.scrub_after_retention(timestamptz,boolean)') IS NOT NULL",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1 ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		TxEnd();
		return;
	}
	args[0] = TimestampTzGetDatum(retention_started);
	args[1] = BoolGetDatum(retention_erased);
	if (SPI_execute_with_args("SELECT firstsight.scrub_after_retention($1, $2)",
							  2, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "scrub_after_retention failed");
	TxEnd();
}

/*
 * One call of a paced retention run: enforce_retention(size) in its own
 * transaction, then retention_pace for the size of the next call and the
 * pause before it (erasure busy firstsight.retention_share of the time, half
 * of that while vacuum works on capture or face).  Starts a run when none is
 * in progress (if the functions exist in this database); ends it when nothing
 * more is due.  Deliveries go on between calls.
 */
static void
RetentionStep(void)
{
	Oid			types[5] = {INT4OID, FLOAT8OID, INT4OID, FLOAT4OID, INT4OID};
	Datum		args[5];
	TimestampTz t0;
	bool		more;
	bool		isnull;
	long		secs;
	int			usecs;
	double		took;
	int			next_size;
	double		pause;

	if (!retention_active)
	{
		TxBegin("firstsight: looking for enforce_retention");
		if (SPI_execute("SELECT count(DISTINCT p.proname) = 2 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
						" WHERE n.nspname = 'firstsight' AND p.proname IN ('enforce_retention', 'retention_pace')",
						true, 1) != SPI_OK_SELECT || SPI_processed != 1 ||
			!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		{
			TxEnd();
			elog(DEBUG1, "firstsight worker: no enforce_retention function in this database yet");
			return;
		}
		TxEnd();
		retention_active = true;
		retention_size = Min(fs_retention_batch_size, 1000);	/* then sized by the time calls take */
		retention_calls = 0;
		retention_started = GetCurrentTimestamp();
		retention_erased = false;
	}

	/* the run ends here if a call fails: the next interval starts a new one */
	retention_active = false;
	t0 = GetCurrentTimestamp();
	args[0] = Int32GetDatum(retention_size);
	TxBegin("firstsight: enforce_retention");
	if (SPI_execute_with_args("SELECT r.more, r.captures_erased OPERATOR(pg_catalog.>) 0 OR r.photos_erased OPERATOR(pg_catalog.>) 0"
							  " OR r.faces_erased OPERATOR(pg_catalog.>) 0 FROM firstsight.enforce_retention($1) r",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "enforce_retention returned no row");
	more = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		retention_erased = true;
	TxEnd();
	retention_calls++;
	if (!more)
	{
		elog(DEBUG1, "firstsight worker: enforce_retention ran %d calls", retention_calls);
		RetentionScrub();
		return;
	}

	TimestampDifference(t0, GetCurrentTimestamp(), &secs, &usecs);
	took = secs + usecs / 1e6;
	args[0] = Int32GetDatum(retention_size);
	args[1] = Float8GetDatum(took);
	args[2] = Int32GetDatum(fs_retention_batch_size);
	args[3] = Float4GetDatum((float4) fs_retention_share);
	args[4] = Int32GetDatum(fs_retention_batch_time_ms);
	TxBegin("firstsight: retention pacing");
	if (SPI_execute_with_args("SELECT p.next_size, p.pause FROM firstsight.retention_pace($1, $2, $3, $4,"
							  " pg_catalog.make_interval(secs => $5 / 1000.0)) p",
							  5, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "retention_pace returned no row");
	next_size = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pause = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	TxEnd();
	retention_size = Max(next_size, 1);
	retention_next = GetCurrentTimestamp() + (TimestampTz) (pause * 1e6);	/* microseconds */
	retention_active = true;
}

/*
 * Fold the BI rollups' delta rows into their counters (rollup_fold, in a
 * transaction of its own): the views are exact without it, the fold keeps the
 * deltas few.  Skipped where the catalog is older than the function (0.1.0).
 */
static void
RollupFold(void)
{
	bool		isnull;

	TxBegin("firstsight: folding rollup deltas");
	if (SPI_execute("SELECT pg_catalog.to_regprocedure('firstsight.rollup_fold()') IS NOT NULL",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1 ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		TxEnd();
		return;
	}
	if (SPI_execute("SELECT firstsight.rollup_fold()", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "rollup_fold failed");
	TxEnd();
}

/* undo a failed step: log it, abort its transaction, go on */
static void
StepFailed(const char *step)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(loop_context);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	MemoryContextSwitchTo(loop_context);
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("firstsight worker: %s failed: %s", step, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 errhint("The worker retries after firstsight.worker_naptime.")));
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* drop the worker's latch from shared memory and close libcurl at exit */
static void
WorkerAtExit(int code, Datum arg)
{
	if (worker_shared != NULL)
	{
		SpinLockAcquire(&worker_shared->mutex);
		if (worker_shared->latch == MyLatch)
		{
			worker_shared->latch = NULL;
			worker_shared->dboid = InvalidOid;
		}
		SpinLockRelease(&worker_shared->mutex);
	}
	FsDeliveryStop();
}

/* reread the configuration; leave (to be restarted) if the database or the role changed */
static void
WorkerReload(const char *serving, const char *as_role)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	if (serving != NULL && strcmp(serving, fs_worker_database) != 0)
	{
		ereport(LOG,
				(errmsg("firstsight worker: firstsight.worker_database changed; restarting")));
		proc_exit(1);
	}
	if (as_role != NULL && strcmp(as_role, fs_worker_role) != 0)
	{
		ereport(LOG,
				(errmsg("firstsight worker: firstsight.worker_role changed; restarting")));
		proc_exit(1);
	}
}

/* the worker: wait for a database, then deliver and sweep until told to stop */
void
FsWorkerMain(Datum arg)
{
	char	   *dbname;
	char	   *role;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* idle, connected to nothing, until a database is named */
	while (fs_worker_database == NULL || fs_worker_database[0] == '\0')
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			WorkerReload(NULL, NULL);
	}
	dbname = MemoryContextStrdup(TopMemoryContext, fs_worker_database);
	role = MemoryContextStrdup(TopMemoryContext, fs_worker_role);
	/* a named role (firstsight.worker_role) instead of the bootstrap superuser */
	BackgroundWorkerInitializeConnection(dbname, role[0] != '\0' ? role : NULL, 0);

	/*
	 * The worker is the bootstrap superuser: nothing the database's owner or
	 * its users put in `public` (or any schema of the database's default
	 * search_path) may be picked up by its statements, e.g. a
	 * public./(float8, numeric) for the retry delay's arithmetic.  Settings
	 * of the database or a role cannot change this one.
	 */
	SetConfigOption("search_path", FS_WORKER_SEARCH_PATH, PGC_SUSET, PGC_S_OVERRIDE);
	ereport(LOG,
			(errmsg("firstsight worker serving database \"%s\" as %s", dbname,
					role[0] != '\0' ? psprintf("role \"%s\"", role) : "the bootstrap superuser")));

	loop_context = AllocSetContextCreate(TopMemoryContext, "firstsight worker loop",
										 ALLOCSET_DEFAULT_SIZES);
	before_shmem_exit(WorkerAtExit, (Datum) 0);
	FsDeliveryStart();
	if (worker_shared != NULL)
	{
		SpinLockAcquire(&worker_shared->mutex);
		worker_shared->latch = MyLatch;
		worker_shared->dboid = MyDatabaseId;
		SpinLockRelease(&worker_shared->mutex);
	}

	for (;;)
	{
		volatile long nap = fs_worker_naptime_s * 1000L;
		volatile bool full = false;

		MemoryContextReset(loop_context);
		MemoryContextSwitchTo(loop_context);

		/* retention: the next call of a run in progress, or a new run, when due */
		if (retention_interval_s == 0)
			retention_active = false;
		else if (retention_active ? GetCurrentTimestamp() >= retention_next :
				 TimestampDifferenceExceeds(last_retention, GetCurrentTimestamp(), retention_interval_s * 1000))
		{
			if (!retention_active)
				last_retention = GetCurrentTimestamp();
			PG_TRY();
			{
				RetentionStep();
			}
			PG_CATCH();
			{
				retention_active = false;
				StepFailed("enforce_retention");
			}
			PG_END_TRY();
		}

		/* the BI rollups' deltas, when due */
		if (TimestampDifferenceExceeds(last_fold, GetCurrentTimestamp(), ROLLUP_FOLD_MS))
		{
			last_fold = GetCurrentTimestamp();
			PG_TRY();
			{
				RollupFold();
			}
			PG_CATCH();
			{
				StepFailed("rollup_fold");
			}
			PG_END_TRY();
		}

		/* one batch of deliveries */
		PG_TRY();
		{
			FsDelivery *batch = NULL;
			int			n = BatchFetch(&batch);

			if (n > 0)
			{
				FsDeliverBatch(batch, n);
				BatchRecord(batch, n);
			}
			full = n >= fs_webhook_batch_size;
			if (n >= 0 && !full)
				nap = NextDueMs();
		}
		PG_CATCH();
		{
			StepFailed("delivery");
		}
		PG_END_TRY();

		if (retention_active)
		{
			long		until = (long) ((retention_next - GetCurrentTimestamp() + 999) / 1000);

			nap = Min(nap, Max(until, 0));
		}
		else if (retention_interval_s > 0)
		{
			long		until = retention_interval_s * 1000L -
				(long) ((GetCurrentTimestamp() - last_retention) / 1000);

			nap = Min(nap, Max(until, 0));
		}
		nap = Min(nap, Max(ROLLUP_FOLD_MS - (long) ((GetCurrentTimestamp() - last_fold) / 1000), 0));
		if (full)
			nap = 0;
		if (nap > 0)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			WorkerReload(dbname, role);
	}
}
