/*
 * newperson.c
 *		The new-person decision without a project-wide lock held to commit
 *		(issue 21).
 *
 * A capture that no gallery face matches becomes a new person.  Two cameras
 * seeing the same new face at once must not make two persons, so the second
 * must see the first one's person before it decides; but that person is
 * visible to others only once its transaction commits.  Ingestion used to
 * hold a per-project advisory lock from the decision to commit, so every
 * camera with a new face waited for every other one's whole transaction
 * (visits, rollups, the gallery's index inserts, notifications).
 *
 * Here the faces a transaction is making persons of are published in shared
 * memory until it ends ("pending faces": project, transaction id, mask flag,
 * the face).  A decider compares its still unmatched faces with the pending
 * faces of other transactions of its project, each pair against the
 * threshold of its kind (pair_threshold): when one is near, it waits for that
 * transaction to end (XactLockTableWait) and searches the gallery again;
 * otherwise it publishes its own faces and goes on.  Deciders with unrelated
 * faces do not wait for each other.  The comparison and the publication are
 * one step under one LWLock, so of two near faces the second always sees
 * the first.
 *
 * What the search could have missed: a person committed after the search's
 * snapshot was taken.  Every transaction that had published faces bumps its
 * project's generation counter when it ends, after its commit is visible
 * (the transaction callback runs after ProcArrayEndTransaction); a decider
 * reads the counter before its search, and the publication step refuses
 * ("retry") when it has moved since: the caller searches again.
 *
 * Two-phase commit: a transaction PREPAREd with published faces keeps them
 * (their persons are still invisible to others) until COMMIT PREPARED or
 * ROLLBACK PREPARED: at PREPARE its slots pass from its backend to its
 * transaction id (NP_PREPARED), deciders wait for that transaction as for any
 * other, and the first claim after it has ended frees them and bumps the
 * generation (no callback runs at COMMIT PREPARED).  Should the server
 * restart with such a transaction still prepared, its faces are forgotten
 * (shared memory is new): a near face seen before it commits may then make
 * a second person (merge_persons joins them).
 *
 * Shared memory exists only when firstsight is in shared_preload_libraries;
 * without it, and for batches of more than NP_MAX_CLAIM unmatched faces or
 * faces of more than NP_MAX_DIMS dimensions, ingestion keeps the exclusive
 * lock held to commit (src/sql/code/230_ingest.sql, ingest_new_person_check).
 * Nothing of the faces leaves this memory: no log, no message.
 */
#include "postgres.h"

#include <math.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "domain/newperson.h"
#include "embedding/embedding.h"
#include "simd/simd.h"

#define NP_SLOTS		64		/* pending faces, all projects */
#define NP_MAX_DIMS		1024	/* larger faces: the exclusive lock */
#define NP_MAX_CLAIM	16		/* more unmatched faces in a batch: the exclusive lock */
#define NP_GENERATIONS	64		/* generation counters, by project id modulo */
#define NP_PREPARED		(-1)	/* procno of a slot whose transaction is prepared */

typedef struct NpSlot
{
	int64		project;		/* 0: free */
	Oid			dboid;			/* its database (project ids are per database) */
	TransactionId xid;			/* the publishing transaction */
	int			procno;			/* its backend; NP_PREPARED: its transaction is prepared */
	int			dims;
	bool		masked;
	float		face[NP_MAX_DIMS];
} NpSlot;

typedef struct NpShared
{
	LWLock	   *lock;
	pg_atomic_uint64 generation[NP_GENERATIONS];
	NpSlot		slots[NP_SLOTS];
} NpShared;

static NpShared *np = NULL;
static bool np_published = false;	/* this backend has slots */
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
NpShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(NpShared)));
	RequestNamedLWLockTranche("firstsight_new_person", 1);
}

static void
NpShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	np = ShmemInitStruct("firstsight new person", sizeof(NpShared), &found);
	if (!found)
	{
		np->lock = &(GetNamedLWLockTranche("firstsight_new_person"))->lock;
		for (int i = 0; i < NP_GENERATIONS; i++)
			pg_atomic_init_u64(&np->generation[i], 0);
		for (int i = 0; i < NP_SLOTS; i++)
			np->slots[i].project = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

static int
NpGeneration(int64 project)
{
	return (int) ((uint64) project % NP_GENERATIONS);
}

/*
 * At the end of a transaction that published faces: free them, bump the
 * generations.  At PREPARE: keep them for the prepared transaction (its
 * persons are not visible yet), freed by NpReapPrepared once it has ended.
 */
static void
NpXactCallback(XactEvent event, void *arg)
{
	bool		prepare = false;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			break;
		case XACT_EVENT_PREPARE:
			prepare = true;
			break;
		default:
			return;
	}
	if (!np_published || np == NULL)
		return;
	np_published = false;
	LWLockAcquire(np->lock, LW_EXCLUSIVE);
	for (int i = 0; i < NP_SLOTS; i++)
	{
		NpSlot	   *s = &np->slots[i];

		if (s->project != 0 && s->procno == MyProc->pgprocno)
		{
			if (prepare)
			{
				s->procno = NP_PREPARED;
				continue;
			}
			pg_atomic_fetch_add_u64(&np->generation[NpGeneration(s->project)], 1);
			s->project = 0;
		}
	}
	LWLockRelease(np->lock);
}

/*
 * Free the slots of prepared transactions that have ended (COMMIT PREPARED or
 * ROLLBACK PREPARED), bumping their projects' generations as their
 * backends would have.  Caller holds np->lock exclusively.
 */
static void
NpReapPrepared(void)
{
	for (int i = 0; i < NP_SLOTS; i++)
	{
		NpSlot	   *s = &np->slots[i];

		if (s->project != 0 && s->procno == NP_PREPARED && !TransactionIdIsInProgress(s->xid))
		{
			pg_atomic_fetch_add_u64(&np->generation[NpGeneration(s->project)], 1);
			s->project = 0;
		}
	}
}

void
FsNewPersonInit(void)
{
	RegisterXactCallback(NpXactCallback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = NpShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = NpShmemStartup;
}

PG_FUNCTION_INFO_V1(fs_new_person_generation);
/*
 * The project's generation (read before a search), or -1 when the pending
 * faces are not available (firstsight not preloaded): the exclusive lock then.
 */
Datum
fs_new_person_generation(PG_FUNCTION_ARGS)
{
	if (np == NULL)
		PG_RETURN_INT64(-1);
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&np->generation[NpGeneration(PG_GETARG_INT64(0))]));
}

PG_FUNCTION_INFO_V1(fs_new_person_claim);
/*
 * new_person_claim(project, faces, masked, max_distance, masked_max_distance,
 * masked_masked_max_distance, generation): 'claimed' (the faces are
 * published until this transaction ends: make the persons), 'retry' (a
 * transaction with faces ended since generation was read: search again),
 * 'waited' (a near face was pending, or no slot was free: waited for its
 * transaction to end; search again).
 */
Datum
fs_new_person_claim(PG_FUNCTION_ARGS)
{
	int64		project = PG_GETARG_INT64(0);
	ArrayType  *faces = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *masks = PG_GETARG_ARRAYTYPE_P(2);
	double		thr = PG_GETARG_FLOAT8(3);
	double		mthr = PG_GETARG_FLOAT8(4);
	double		mmthr = PG_GETARG_FLOAT8(5);
	uint64		gen = (uint64) PG_GETARG_INT64(6);
	Datum	   *elems,
			   *mask_elems;
	bool	   *nulls,
			   *mask_nulls;
	int			n,
				nm,
				free_slots = 0;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Embedding **e;
	TransactionId xid,
				wait_xid = InvalidTransactionId;
	const char *result;

	if (np == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("new_person_claim needs firstsight in shared_preload_libraries")));
	get_typlenbyvalalign(ARR_ELEMTYPE(faces), &typlen, &typbyval, &typalign);
	deconstruct_array(faces, ARR_ELEMTYPE(faces), typlen, typbyval, typalign, &elems, &nulls, &n);
	deconstruct_array(masks, BOOLOID, 1, true, TYPALIGN_CHAR, &mask_elems, &mask_nulls, &nm);
	if (nm != n || n < 1 || n > NP_MAX_CLAIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("new_person_claim takes 1 to %d faces with as many masked flags", NP_MAX_CLAIM)));
	e = palloc(sizeof(Embedding *) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] || mask_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("new_person_claim takes no null face or flag")));
		e[i] = DatumGetEmbedding(elems[i]);
		if (e[i]->dim > NP_MAX_DIMS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("new_person_claim takes faces of at most %d dimensions", NP_MAX_DIMS)));
	}
	xid = GetTopTransactionId();

	LWLockAcquire(np->lock, LW_EXCLUSIVE);
	NpReapPrepared();
	if (pg_atomic_read_u64(&np->generation[NpGeneration(project)]) != gen)
		result = "retry";
	else
	{
		for (int k = 0; k < NP_SLOTS && !TransactionIdIsValid(wait_xid); k++)
		{
			NpSlot	   *s = &np->slots[k];

			if (s->project == 0)
			{
				free_slots++;
				continue;
			}
			if (s->project != project || s->dboid != MyDatabaseId || s->procno == MyProc->pgprocno)
				continue;
			for (int i = 0; i < n; i++)
			{
				bool		cm = DatumGetBool(mask_elems[i]);
				double		t = cm && s->masked ? mmthr : cm ? mthr : s->masked ? Min(mthr, mmthr) : thr;

				if (e[i]->dim == s->dims &&
					1.0 - FsCosineSimilarity(s->dims, e[i]->x, s->face) <= t)
				{
					wait_xid = s->xid;
					break;
				}
			}
		}
		if (!TransactionIdIsValid(wait_xid) && free_slots < n)
		{
			/* no room: wait for some other transaction's faces to go */
			for (int k = 0; k < NP_SLOTS; k++)
				if (np->slots[k].project != 0 && np->slots[k].procno != MyProc->pgprocno)
				{
					wait_xid = np->slots[k].xid;
					break;
				}
		}
		if (TransactionIdIsValid(wait_xid))
			result = "waited";
		else if (free_slots < n)
		{
			/* only this backend's own faces fill the slots: cannot happen with
			 * NP_MAX_CLAIM * (claims per transaction) below NP_SLOTS, but wait
			 * for nobody and say so */
			result = "full";
		}
		else
		{
			int			i = 0;

			for (int k = 0; k < NP_SLOTS && i < n; k++)
			{
				NpSlot	   *s = &np->slots[k];

				if (s->project != 0)
					continue;
				s->project = project;
				s->dboid = MyDatabaseId;
				s->xid = xid;
				s->procno = MyProc->pgprocno;
				s->dims = e[i]->dim;
				s->masked = DatumGetBool(mask_elems[i]);
				memcpy(s->face, e[i]->x, sizeof(float) * e[i]->dim);
				i++;
			}
			np_published = true;
			result = "claimed";
		}
	}
	LWLockRelease(np->lock);

	if (TransactionIdIsValid(wait_xid))
		XactLockTableWait(wait_xid, NULL, NULL, XLTW_None);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
