/*
 * simd.c
 *		CPU detection and the choice of the active kernel table.
 */
#include "postgres.h"

#include "simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

const FsKernels *fs_kernels = &fs_kernels_scalar;

static const char *const kernel_names[FS_KERNEL_COUNT] = {
	"scalar", "avx2", "avx512", "neon"
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* read extended control register 0: which register states the OS saves */
static uint64
ReadXcr0(void)
{
	uint32		eax,
				edx;

	__asm__ __volatile__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((uint64) edx << 32) | eax;
}

/* does the CPU have AVX2 and FMA, and does the OS save YMM state? */
static bool
CpuHasAvx2(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX) || !(ecx & bit_FMA))
		return false;
	if ((ReadXcr0() & 0x6) != 0x6)
		return false;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return (ebx & bit_AVX2) != 0;
}

/* does the CPU have AVX-512F, and does the OS save ZMM state? */
static bool
CpuHasAvx512(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!CpuHasAvx2())
		return false;
	if ((ReadXcr0() & 0xe6) != 0xe6)
		return false;
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return (ebx & bit_AVX512F) != 0;
}
#endif

/* can this CPU run the given table? */
bool
FsKernelSupported(FsKernelId id)
{
	switch (id)
	{
		case FS_KERNEL_SCALAR:
			return true;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
		case FS_KERNEL_AVX2:
			return CpuHasAvx2();
		case FS_KERNEL_AVX512:
			return CpuHasAvx512();
#endif
#if defined(__aarch64__)
		case FS_KERNEL_NEON:
			return true;
#endif
		default:
			return false;
	}
}

/* the fastest table this CPU supports */
FsKernelId
FsKernelBest(void)
{
	if (FsKernelSupported(FS_KERNEL_AVX512))
		return FS_KERNEL_AVX512;
	if (FsKernelSupported(FS_KERNEL_AVX2))
		return FS_KERNEL_AVX2;
	if (FsKernelSupported(FS_KERNEL_NEON))
		return FS_KERNEL_NEON;
	return FS_KERNEL_SCALAR;
}

/* the table for an id, or NULL when not built for this architecture */
const FsKernels *
FsKernelTable(FsKernelId id)
{
	switch (id)
	{
		case FS_KERNEL_SCALAR:
			return &fs_kernels_scalar;
		case FS_KERNEL_AVX2:
			return FsKernelsAvx2();
		case FS_KERNEL_AVX512:
			return FsKernelsAvx512();
		case FS_KERNEL_NEON:
			return FsKernelsNeon();
	}
	return NULL;
}

/* the name of a table, as firstsight.simd spells it */
const char *
FsKernelName(FsKernelId id)
{
	return kernel_names[id];
}
