/*
 * kernels_x86.c
 *		AVX2+FMA and AVX-512 distance kernels for x86-64.
 *
 * Each function carries its own target attribute, so the file compiles
 * without -march and the tables are only installed after CPU detection
 * (simd.c) says the instructions exist.  Main loops keep several independent
 * accumulators to hide FMA latency; AVX-512 finishes with a masked load, AVX2
 * with a scalar tail.
 */
#include "postgres.h"

#include "simd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FS_HAVE_X86 1
#include <immintrin.h>
#include <math.h>
#endif

#ifdef FS_HAVE_X86

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

/* add the eight lanes of an AVX register */
AVX2 static inline float
HsumAvx2(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 0x55));
	return _mm_cvtss_f32(lo);
}

/* squared Euclidean distance, AVX2 */
AVX2 static float
Avx2L2sq(int n, const float *a, const float *b)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	int			i = 0;
	float		r;

	for (; i + 32 <= n; i += 32)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		__m256		d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
		__m256		d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));

		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
		s2 = _mm256_fmadd_ps(d2, d2, s2);
		s3 = _mm256_fmadd_ps(d3, d3, s3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	r = HsumAvx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		r += d * d;
	}
	return r;
}

/* inner product, AVX2 */
AVX2 static float
Avx2Dot(int n, const float *a, const float *b)
{
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps(),
				s2 = _mm256_setzero_ps(),
				s3 = _mm256_setzero_ps();
	int			i = 0;
	float		r;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	r = HsumAvx2(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		r += a[i] * b[i];
	return r;
}

/* dot product and squared norms, AVX2 */
AVX2 static void
Avx2Cosparts(int n, const float *a, const float *b,
			 float *dot, float *aa, float *bb)
{
	__m256		d0 = _mm256_setzero_ps(),
				d1 = _mm256_setzero_ps(),
				a0 = _mm256_setzero_ps(),
				a1 = _mm256_setzero_ps(),
				b0 = _mm256_setzero_ps(),
				b1 = _mm256_setzero_ps();
	int			i = 0;
	float		rd,
				ra,
				rb;

	for (; i + 16 <= n; i += 16)
	{
		__m256		x0 = _mm256_loadu_ps(a + i);
		__m256		y0 = _mm256_loadu_ps(b + i);
		__m256		x1 = _mm256_loadu_ps(a + i + 8);
		__m256		y1 = _mm256_loadu_ps(b + i + 8);

		d0 = _mm256_fmadd_ps(x0, y0, d0);
		a0 = _mm256_fmadd_ps(x0, x0, a0);
		b0 = _mm256_fmadd_ps(y0, y0, b0);
		d1 = _mm256_fmadd_ps(x1, y1, d1);
		a1 = _mm256_fmadd_ps(x1, x1, a1);
		b1 = _mm256_fmadd_ps(y1, y1, b1);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x = _mm256_loadu_ps(a + i);
		__m256		y = _mm256_loadu_ps(b + i);

		d0 = _mm256_fmadd_ps(x, y, d0);
		a0 = _mm256_fmadd_ps(x, x, a0);
		b0 = _mm256_fmadd_ps(y, y, b0);
	}
	rd = HsumAvx2(_mm256_add_ps(d0, d1));
	ra = HsumAvx2(_mm256_add_ps(a0, a1));
	rb = HsumAvx2(_mm256_add_ps(b0, b1));
	for (; i < n; i++)
	{
		rd += a[i] * b[i];
		ra += a[i] * a[i];
		rb += b[i] * b[i];
	}
	*dot = rd;
	*aa = ra;
	*bb = rb;
}

/* taxicab distance, AVX2 */
AVX2 static float
Avx2L1(int n, const float *a, const float *b)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		s0 = _mm256_setzero_ps(),
				s1 = _mm256_setzero_ps();
	int			i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));

		s0 = _mm256_add_ps(s0, _mm256_and_ps(d0, absmask));
		s1 = _mm256_add_ps(s1, _mm256_and_ps(d1, absmask));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		s0 = _mm256_add_ps(s0, _mm256_and_ps(d, absmask));
	}
	r = HsumAvx2(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		r += fabsf(a[i] - b[i]);
	return r;
}

/* squared norm, AVX2 */
AVX2 static float
Avx2Normsq(int n, const float *a)
{
	return Avx2Dot(n, a, a);
}

/* lanes of a[i..i+16) that exist, as a mask */
static inline __mmask16
TailMask(int remaining)
{
	return (__mmask16) ((1u << remaining) - 1);
}

/* squared Euclidean distance, AVX-512 */
AVX512 static float
Avx512L2sq(int n, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps(),
				s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));

		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : TailMask(n - i);
		__m512		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));

		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* inner product, AVX-512 */
AVX512 static float
Avx512Dot(int n, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps(),
				s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
	}
	for (; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : TailMask(n - i);

		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* dot product and squared norms, AVX-512 */
AVX512 static void
Avx512Cosparts(int n, const float *a, const float *b,
			   float *dot, float *aa, float *bb)
{
	__m512		d0 = _mm512_setzero_ps(),
				d1 = _mm512_setzero_ps(),
				a0 = _mm512_setzero_ps(),
				a1 = _mm512_setzero_ps(),
				b0 = _mm512_setzero_ps(),
				b1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		x0 = _mm512_loadu_ps(a + i);
		__m512		y0 = _mm512_loadu_ps(b + i);
		__m512		x1 = _mm512_loadu_ps(a + i + 16);
		__m512		y1 = _mm512_loadu_ps(b + i + 16);

		d0 = _mm512_fmadd_ps(x0, y0, d0);
		a0 = _mm512_fmadd_ps(x0, x0, a0);
		b0 = _mm512_fmadd_ps(y0, y0, b0);
		d1 = _mm512_fmadd_ps(x1, y1, d1);
		a1 = _mm512_fmadd_ps(x1, x1, a1);
		b1 = _mm512_fmadd_ps(y1, y1, b1);
	}
	for (; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : TailMask(n - i);
		__m512		x = _mm512_maskz_loadu_ps(m, a + i);
		__m512		y = _mm512_maskz_loadu_ps(m, b + i);

		d0 = _mm512_fmadd_ps(x, y, d0);
		a0 = _mm512_fmadd_ps(x, x, a0);
		b0 = _mm512_fmadd_ps(y, y, b0);
	}
	*dot = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
	*aa = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
	*bb = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

/* taxicab distance, AVX-512 */
AVX512 static float
Avx512L1(int n, const float *a, const float *b)
{
	__m512		s0 = _mm512_setzero_ps(),
				s1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d0));
		s1 = _mm512_add_ps(s1, _mm512_abs_ps(d1));
	}
	for (; i < n; i += 16)
	{
		__mmask16	m = n - i >= 16 ? (__mmask16) 0xffff : TailMask(n - i);
		__m512		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));

		s0 = _mm512_add_ps(s0, _mm512_abs_ps(d));
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* squared norm, AVX-512 */
AVX512 static float
Avx512Normsq(int n, const float *a)
{
	return Avx512Dot(n, a, a);
}

static const FsKernels fs_kernels_avx2 = {
	"avx2", Avx2L2sq, Avx2Dot, Avx2Cosparts, Avx2L1, Avx2Normsq
};

static const FsKernels fs_kernels_avx512 = {
	"avx512", Avx512L2sq, Avx512Dot, Avx512Cosparts, Avx512L1, Avx512Normsq
};

/* the AVX2+FMA table */
const FsKernels *
FsKernelsAvx2(void)
{
	return &fs_kernels_avx2;
}

/* the AVX-512 table */
const FsKernels *
FsKernelsAvx512(void)
{
	return &fs_kernels_avx512;
}

#else							/* not x86-64 */

const FsKernels *
FsKernelsAvx2(void)
{
	return NULL;
}

const FsKernels *
FsKernelsAvx512(void)
{
	return NULL;
}

#endif
