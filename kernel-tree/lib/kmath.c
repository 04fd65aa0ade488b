/*
 * kmath.c - exp, log, pow, sin, cos in double precision, float wrappers.
 *
 * Classic argument reduction + polynomial: exp reduces by ln2 (Cody-Waite
 * split), log by the binary exponent and evaluates atanh's series, sin/cos
 * reduce by pi/2 with a three-part constant (exact for |x| < 2^20, which
 * covers every RoPE angle a 1M-token context could produce).
 */
#include "kmath.h"

#include <stdint.h>

static inline uint64_t bits_of(double x)
{
    union { double d; uint64_t u; } v = {x};
    return v.u;
}

static inline double double_of(uint64_t u)
{
    union { uint64_t u; double d; } v = {u};
    return v.d;
}

/* Round to nearest, ties away from zero, for |x| < 2^62: what round()
 * does, without calling libm (baseline x86-64 has no roundsd). */
static inline double round_int(double x)
{
    if (!(x > -4.0e18 && x < 4.0e18)) /* already integral (or nan): no UB cast */
        return x;
    return (double)(int64_t)(x >= 0 ? x + 0.5 : x - 0.5);
}

/* 2^k for integer k in the normal range. */
static inline double pow2i(int k)
{
    return double_of((uint64_t)(k + 1023) << 52);
}

double km_exp(double x)
{
    if (x != x)
        return x;
    if (x > 709.78)
        return KM_INFINITY;
    if (x < -745.2)
        return 0.0;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double kd = round_int(x * 1.44269504088896338700);
    int k = (int)kd;
    double r = (x - kd * ln2_hi) - kd * ln2_lo; /* |r| <= ln2/2 */
    /* Taylor to degree 13: error < 2^-60 on |r| <= 0.347 */
    double p = 1.0 / 6227020800.0;
    static const double c[] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                               1.0 / 362880.0,    1.0 / 40320.0,    1.0 / 5040.0,
                               1.0 / 720.0,       1.0 / 120.0,      1.0 / 24.0,
                               1.0 / 6.0,         0.5,              1.0,
                               1.0};
    for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++)
        p = p * r + c[i];
    /* scale in two steps so 2^k never leaves the normal range */
    if (k > 1000)
        return p * pow2i(1000) * pow2i(k - 1000);
    if (k < -1000)
        return p * pow2i(-1000) * pow2i(k + 1000);
    return p * pow2i(k);
}

double km_log(double x)
{
    if (x != x)
        return x;
    if (x < 0)
        return KM_NAN;
    if (x == 0)
        return -KM_INFINITY;
    if (__builtin_isinf(x))
        return x;
    uint64_t u = bits_of(x);
    int e = (int)((u >> 52) & 0x7ff);
    if (e == 0) { /* subnormal: normalise */
        x *= 4503599627370496.0; /* 2^52 */
        u = bits_of(x);
        e = (int)((u >> 52) & 0x7ff) - 52;
    }
    e -= 1023;
    double m = double_of((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL); /* [1,2) */
    if (m > 1.41421356237309504880) {
        m *= 0.5;
        e++;
    }
    /* log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716 */
    double s = (m - 1.0) / (m + 1.0), s2 = s * s, term = s, sum = 0.0;
    for (int i = 1; i <= 39; i += 2) {
        sum += term / i;
        term *= s2;
    }
    return 2.0 * sum + e * 6.93147180559945309417e-01;
}

double km_pow(double x, double y)
{
    if (y == 0.0)
        return 1.0;
    if (!(x > 0.0))
        return KM_NAN;
    return km_exp(y * km_log(x));
}

/* Reduce x to r in [-pi/4, pi/4] and the quadrant q (x = q*pi/2 + r). */
static double reduce_half_pi(double x, int *q)
{
    const double p1 = 1.57079632673412561417e+00, p2 = 6.07710050650619224932e-11,
                 p3 = 2.02226624879595063154e-21;
    double kd = round_int(x * 6.36619772367581382433e-01);
    *q = (int)((int64_t)kd & 3);
    return ((x - kd * p1) - kd * p2) - kd * p3;
}

static double sin_poly(double r)
{
    double r2 = r * r, term = r, sum = r;
    for (int i = 1; i <= 9; i++) {
        term *= -r2 / ((2 * i) * (2 * i + 1));
        sum += term;
    }
    return sum;
}

static double cos_poly(double r)
{
    double r2 = r * r, term = 1.0, sum = 1.0;
    for (int i = 1; i <= 9; i++) {
        term *= -r2 / ((2 * i - 1) * (2 * i));
        sum += term;
    }
    return sum;
}

double km_sin(double x)
{
    if (__builtin_isinf(x) || x != x)
        return KM_NAN;
    int q;
    double r = reduce_half_pi(x, &q);
    switch (q) {
    case 0: return sin_poly(r);
    case 1: return cos_poly(r);
    case 2: return -sin_poly(r);
    default: return -cos_poly(r);
    }
}

double km_cos(double x)
{
    if (__builtin_isinf(x) || x != x)
        return KM_NAN;
    int q;
    double r = reduce_half_pi(x, &q);
    switch (q) {
    case 0: return cos_poly(r);
    case 1: return -sin_poly(r);
    case 2: return -cos_poly(r);
    default: return sin_poly(r);
    }
}

/* Float exp on the forward pass's hot path (SiLU, softmax): reduction by
 * ln2 in float, degree-7 polynomial; within 2 ulp of the rounded result. */
float km_expf(float x)
{
    if (x != x)
        return x;
    if (x > 88.72283f)
        return KM_INFINITY;
    if (x < -103.97208f)
        return 0.0f;
    float kf = (float)(int32_t)(x >= 0 ? x * 1.44269504f + 0.5f : x * 1.44269504f - 0.5f);
    int k = (int)kf;
    float r = (x - kf * 0.693145752f) - kf * 1.42860677e-06f; /* |r| <= 0.3466 */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^k in two steps so subnormal results and k = 128 stay exact */
    int k1 = k / 2, k2 = k - k1;
    union { uint32_t u; float f; } s1 = {(uint32_t)(k1 + 127) << 23}, s2 = {(uint32_t)(k2 + 127) << 23};
    return p * s1.f * s2.f;
}
float km_logf(float x)
{
    return (float)km_log(x);
}
float km_powf(float x, float y)
{
    return (float)km_pow(x, y);
}
float km_sinf(float x)
{
    return (float)km_sin(x);
}
float km_cosf(float x)
{
    return (float)km_cos(x);
}

float km_tanhf(float x)
{
    if (x > 20.0f)
        return 1.0f;
    if (x < -20.0f)
        return -1.0f;
    double e = km_exp(2.0 * x);
    return (float)((e - 1.0) / (e + 1.0));
}
