/*
 * bench.h
 *		Shared by the kernel benchmark's files.
 */
#ifndef FIRSTSIGHT_BENCH_H
#define FIRSTSIGHT_BENCH_H

#include <stdbool.h>

#include "simd/simd.h"

/* the auto-vectorised baseline table (baseline.c) */
extern const FsKernels bench_autovec;

#endif
