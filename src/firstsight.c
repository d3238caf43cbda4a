/*
 * firstsight.c
 *		Module load: settings and the choice of distance kernels.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "domain/history.h"
#include "domain/ingest.h"
#include "domain/newperson.h"
#include "fmgr.h"
#include "hnsw/hnsw.h"
#include "simd/simd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "worker/worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static int	simd_setting = -1;	/* -1: auto */

static const struct config_enum_entry simd_options[] = {
	{"auto", -1, false},
	{"scalar", FS_KERNEL_SCALAR, false},
	{"avx2", FS_KERNEL_AVX2, false},
	{"avx512", FS_KERNEL_AVX512, false},
	{"neon", FS_KERNEL_NEON, false},
	{NULL, 0, false}
};

/* refuse a kernel this CPU cannot run */
static bool
SimdCheckHook(int *newval, void **extra, GucSource source)
{
	if (*newval >= 0 && !FsKernelSupported((FsKernelId) *newval))
	{
		GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
		GUC_check_errmsg("this CPU cannot run the \"%s\" kernels", FsKernelName((FsKernelId) *newval));
		GUC_check_errhint("The best this CPU supports is \"%s\"; firstsight.simd can only force a kernel the CPU supports.",
						  FsKernelName(FsKernelBest()));
		return false;
	}
	return true;
}

/* install the chosen table */
static void
SimdAssignHook(int newval, void *extra)
{
	FsKernelId	id = newval < 0 ? FsKernelBest() : (FsKernelId) newval;

	fs_kernels = FsKernelTable(id);
}

/* define settings; pick kernels */
void
_PG_init(void)
{
	fs_kernels = FsKernelTable(FsKernelBest());

	DefineCustomEnumVariable("firstsight.simd",
							 "Distance kernels to use: auto, avx512, avx2, neon or scalar.",
							 "auto picks the fastest the CPU supports; naming one forces it.",
							 &simd_setting, -1, simd_options,
							 PGC_USERSET, 0,
							 SimdCheckHook, SimdAssignHook, NULL);

	HnswInit();
	FsWorkerInit();
	FsIngestInit();
	FsNewPersonInit();
	FsHistoryInit();

	MarkGUCPrefixReserved("firstsight");
}

PG_FUNCTION_INFO_V1(simd_kernel);
/* the name of the active kernel table */
Datum
simd_kernel(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(fs_kernels->name));
}

PG_FUNCTION_INFO_V1(simd_kernels_supported);
/* the kernel tables this CPU can run, fastest first */
Datum
simd_kernels_supported(PG_FUNCTION_ARGS)
{
	static const FsKernelId order[] = {FS_KERNEL_AVX512, FS_KERNEL_AVX2, FS_KERNEL_NEON, FS_KERNEL_SCALAR};
	Datum		names[FS_KERNEL_COUNT];
	int			n = 0;

	for (int i = 0; i < FS_KERNEL_COUNT; i++)
		if (FsKernelSupported(order[i]) && FsKernelTable(order[i]) != NULL)
			names[n++] = CStringGetTextDatum(FsKernelName(order[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}
