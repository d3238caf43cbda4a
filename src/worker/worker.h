/*
 * worker.h
 *		Notifications: the outbox wake-up, the delivery worker and its settings.
 *		See src/worker/README.md.
 */
#ifndef FS_WORKER_H
#define FS_WORKER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* the worker's own search_path, whatever the database or role set (issue 14) */
#define FS_WORKER_SEARCH_PATH "firstsight, pg_catalog, pg_temp"

/* settings (firstsight.*) */
extern char *fs_worker_database;
extern char *fs_worker_role;
extern char *fs_webhook_allowed_hosts;
extern char *fs_retention_interval;
extern int	fs_webhook_connect_timeout_ms;
extern int	fs_webhook_timeout_ms;
extern int	fs_webhook_max_attempts;
extern int	fs_webhook_batch_size;
extern int	fs_webhook_retry_base_ms;
extern int	fs_webhook_retry_max_ms;
extern bool fs_webhook_tls_verify;
extern int	fs_worker_naptime_s;
extern int	fs_retention_batch_size;
extern double fs_retention_share;
extern int	fs_retention_batch_time_ms;

/* one delivery of one event to one webhook */
typedef struct FsDelivery
{
	int64		project_id;
	int64		event_id;
	int64		webhook_id;
	int			attempts;		/* before this one */
	char	   *url;
	char	   *event;
	char	   *body;
	char	   *signature;		/* computed in the reading transaction */
	/* filled by FsDeliverBatch */
	bool		refused;		/* host not allowed or URL unusable: not sent */
	bool		ok;				/* 2xx received */
	long		status;			/* HTTP status, 0 when none */
	char	   *error;			/* why it failed, NULL when ok */
	TimestampTz finished_at;
} FsDelivery;

/* worker.c */
extern void FsWorkerInit(void);
extern void FsWorkerWakeAtCommit(void);
extern double FsRetryDelayMs(int attempts);
extern PGDLLEXPORT void FsWorkerMain(Datum arg);

/* delivery.c */
extern void FsDeliveryStart(void);
extern void FsDeliveryStop(void);
extern void FsDeliverBatch(FsDelivery *batch, int n);
extern char *FsHostRefusal(const char *url);
extern void FsSignature(const char *secret, const char *body, size_t len, char *out);

#define FS_SIGNATURE_LEN (7 + 64)	/* "sha256=" + 64 hex digits */

#endif
