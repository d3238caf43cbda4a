/*
 * kernels_neon.c
 *		NEON distance kernels for aarch64, where Advanced SIMD is always
 *		present.
 */
#include "postgres.h"

#include "simd.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>

/* squared Euclidean distance, NEON */
static float
NeonL2sq(int n, const float *a, const float *b)
{
	float32x4_t s0 = vdupq_n_f32(0),
				s1 = vdupq_n_f32(0),
				s2 = vdupq_n_f32(0),
				s3 = vdupq_n_f32(0);
	int			i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		float32x4_t d0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
		float32x4_t d1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		float32x4_t d2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
		float32x4_t d3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));

		s0 = vfmaq_f32(s0, d0, d0);
		s1 = vfmaq_f32(s1, d1, d1);
		s2 = vfmaq_f32(s2, d2, d2);
		s3 = vfmaq_f32(s3, d3, d3);
	}
	for (; i + 4 <= n; i += 4)
	{
		float32x4_t d = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));

		s0 = vfmaq_f32(s0, d, d);
	}
	r = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
	{
		float		d = a[i] - b[i];

		r += d * d;
	}
	return r;
}

/* inner product, NEON */
static float
NeonDot(int n, const float *a, const float *b)
{
	float32x4_t s0 = vdupq_n_f32(0),
				s1 = vdupq_n_f32(0),
				s2 = vdupq_n_f32(0),
				s3 = vdupq_n_f32(0);
	int			i = 0;
	float		r;

	for (; i + 16 <= n; i += 16)
	{
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
		s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
		s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
		s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
	}
	for (; i + 4 <= n; i += 4)
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
	r = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
	for (; i < n; i++)
		r += a[i] * b[i];
	return r;
}

/* dot product and squared norms, NEON */
static void
NeonCosparts(int n, const float *a, const float *b,
			 float *dot, float *aa, float *bb)
{
	float32x4_t d0 = vdupq_n_f32(0),
				a0 = vdupq_n_f32(0),
				b0 = vdupq_n_f32(0),
				d1 = vdupq_n_f32(0),
				a1 = vdupq_n_f32(0),
				b1 = vdupq_n_f32(0);
	int			i = 0;
	float		rd,
				ra,
				rb;

	for (; i + 8 <= n; i += 8)
	{
		float32x4_t x0 = vld1q_f32(a + i);
		float32x4_t y0 = vld1q_f32(b + i);
		float32x4_t x1 = vld1q_f32(a + i + 4);
		float32x4_t y1 = vld1q_f32(b + i + 4);

		d0 = vfmaq_f32(d0, x0, y0);
		a0 = vfmaq_f32(a0, x0, x0);
		b0 = vfmaq_f32(b0, y0, y0);
		d1 = vfmaq_f32(d1, x1, y1);
		a1 = vfmaq_f32(a1, x1, x1);
		b1 = vfmaq_f32(b1, y1, y1);
	}
	rd = vaddvq_f32(vaddq_f32(d0, d1));
	ra = vaddvq_f32(vaddq_f32(a0, a1));
	rb = vaddvq_f32(vaddq_f32(b0, b1));
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

/* taxicab distance, NEON */
static float
NeonL1(int n, const float *a, const float *b)
{
	float32x4_t s0 = vdupq_n_f32(0),
				s1 = vdupq_n_f32(0);
	int			i = 0;
	float		r;

	for (; i + 8 <= n; i += 8)
	{
		s0 = vaddq_f32(s0, vabdq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
		s1 = vaddq_f32(s1, vabdq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
	}
	r = vaddvq_f32(vaddq_f32(s0, s1));
	for (; i < n; i++)
		r += fabsf(a[i] - b[i]);
	return r;
}

/* squared norm, NEON */
static float
NeonNormsq(int n, const float *a)
{
	return NeonDot(n, a, a);
}

static const FsKernels fs_kernels_neon = {
	"neon", NeonL2sq, NeonDot, NeonCosparts, NeonL1, NeonNormsq
};

/* the NEON table */
const FsKernels *
FsKernelsNeon(void)
{
	return &fs_kernels_neon;
}

#else

const FsKernels *
FsKernelsNeon(void)
{
	return NULL;
}

#endif
