/*
 * ingest.c
 *		Which capture INSERTs take the single-row ingestion path, and which
 *		faces can never be matched (face_norm_problem).
 *
 * A camera's INSERT ... VALUES of one row is matched by a BEFORE ROW trigger
 * (capture_ingest_row) that fills person_id, visit_id, match_distance and the
 * expiry before the row is written: one row version and one set of index
 * entries per capture.  Every other INSERT and every COPY stays with the
 * statement trigger (capture_ingest), which matches all of the statement's
 * rows as one batch and then updates them.
 *
 * Whether a statement writes exactly one row is known from its plan before it
 * runs: an INSERT whose ModifyTable reads a Result node without input (a
 * VALUES list of one row or a SELECT without FROM, scalar subqueries
 * included) and no data-modifying WITH.  An ExecutorStart hook notes such a statement's target relation;
 * the row trigger's WHEN clause (ingest_single_row) asks whether the row
 * being inserted belongs to it, which also clears the note, so one row at
 * most takes the path per statement.  COPY does not pass through the
 * executor's start and never takes it.  When the row path has filled the row
 * (ingest_row_done), the statement trigger's WHEN (ingest_statement_pending)
 * skips the batch for that statement.  Both notes are cleared when the
 * statement ends and when a (sub)transaction aborts.
 */
#include "postgres.h"

#include <float.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"

#include "domain/ingest.h"
#include "embedding/embedding.h"
#include "simd/simd.h"
#include "utils/acl.h"
#include "utils/builtins.h"

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;

/* the relation a one-row INSERT now starting writes to, and that statement */
static Oid	single_row_rel = InvalidOid;
static QueryDesc *single_row_query = NULL;

/* the row path filled the row of the current statement */
static bool row_done = false;

/* the target of a statement that inserts exactly one row into one relation, or InvalidOid */
static Oid
OneRowInsertTarget(QueryDesc *queryDesc)
{
	PlannedStmt *stmt = queryDesc->plannedstmt;
	ModifyTable *mt;
	Plan	   *input;

	if (queryDesc->operation != CMD_INSERT || stmt == NULL || stmt->hasModifyingCTE)
		return InvalidOid;
	if (stmt->planTree == NULL || !IsA(stmt->planTree, ModifyTable))
		return InvalidOid;
	mt = (ModifyTable *) stmt->planTree;
	if (list_length(mt->resultRelations) != 1)
		return InvalidOid;
	input = outerPlan(&mt->plan);
	if (input == NULL || !IsA(input, Result) || outerPlan(input) != NULL)
		return InvalidOid;
	return rt_fetch(linitial_int(mt->resultRelations), stmt->rtable)->relid;
}

static void
IngestExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
	{
		Oid			rel = OneRowInsertTarget(queryDesc);

		if (OidIsValid(rel))
		{
			single_row_rel = rel;
			single_row_query = queryDesc;
		}
	}
}

static void
IngestExecutorEnd(QueryDesc *queryDesc)
{
	if (queryDesc == single_row_query)
	{
		single_row_rel = InvalidOid;
		single_row_query = NULL;
	}
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
IngestForget(void)
{
	single_row_rel = InvalidOid;
	single_row_query = NULL;
	row_done = false;
}

static void
IngestXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		IngestForget();
}

static void
IngestSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		IngestForget();
}

void
FsIngestInit(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = IngestExecutorStart;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = IngestExecutorEnd;
	RegisterXactCallback(IngestXactCallback, NULL);
	RegisterSubXactCallback(IngestSubXactCallback, NULL);
}

PG_FUNCTION_INFO_V1(fs_ingest_single_row);
/*
 * ingest_single_row(rel regclass): true once for the row of a statement that
 * inserts exactly one row into rel (the BEFORE ROW trigger's WHEN)
 */
Datum
fs_ingest_single_row(PG_FUNCTION_ARGS)
{
	Oid			rel = PG_GETARG_OID(0);
	bool		single = OidIsValid(single_row_rel) && single_row_rel == rel;

	single_row_rel = InvalidOid;
	single_row_query = NULL;
	row_done = false;
	PG_RETURN_BOOL(single);
}

PG_FUNCTION_INFO_V1(fs_ingest_row_done);
/* ingest_row_done(): the row path has filled the current statement's row */
Datum
fs_ingest_row_done(PG_FUNCTION_ARGS)
{
	row_done = true;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(fs_ingest_statement_pending);
/*
 * ingest_statement_pending(): false when the row path filled the statement's
 * row (the statement trigger's WHEN); clears the note
 */
Datum
fs_ingest_statement_pending(PG_FUNCTION_ARGS)
{
	bool		pending = !row_done;

	row_done = false;
	PG_RETURN_BOOL(pending);
}

PG_FUNCTION_INFO_V1(fs_face_norm_problem);
/*
 * face_norm_problem(face embedding): why a camera's face can never be
 * matched, or NULL when it can: 'zero' for a zero vector (no direction),
 * 'overflow' when its squared norm, taken in double, exceeds the float4
 * range (the matching's float4 distances would be infinite).  Says nothing
 * about the values.
 */
Datum
fs_face_norm_problem(PG_FUNCTION_ARGS)
{
	Embedding  *face = PG_GETARG_EMBEDDING_P(0);
	double		normsq = FsNormSquaredDouble(face->dim, face->x);

	if (normsq == 0)
		PG_RETURN_TEXT_P(cstring_to_text("zero"));
	if (!(normsq <= (double) FLT_MAX))
		PG_RETURN_TEXT_P(cstring_to_text("overflow"));
	PG_RETURN_NULL();
}

/*
 * role_is_superuser(name): whether a role is a superuser (false for a role
 * that does not exist), from the role cache: a camera's INSERT asks it for the
 * inserting role (require_camera_projects), and reading pg_roles instead
 * locked pg_authid and pg_db_role_setting in every capture's transaction.
 */
PG_FUNCTION_INFO_V1(fs_role_is_superuser);
Datum
fs_role_is_superuser(PG_FUNCTION_ARGS)
{
	Name		role = PG_GETARG_NAME(0);
	Oid			roleid = get_role_oid(NameStr(*role), true);

	PG_RETURN_BOOL(OidIsValid(roleid) && superuser_arg(roleid));
}
