/*
 * kmath.h - the elementary functions the SLM engine needs, without libm.
 *
 * One implementation for host and kernel, so the host engine and the
 * in-kernel engine compute bit-identical results. Accuracy: within 1-2 ulp
 * of the correctly rounded float result over the ranges the engine uses
 * (tests/unit/test_kmath.c measures it against libm).
 *
 * These use SSE registers: call them from ring 3 / host code only, never
 * from ring-0 kernel code (built -mgeneral-regs-only).
 */
#ifndef AUTON_LIB_KMATH_H
#define AUTON_LIB_KMATH_H

double km_exp(double x);
double km_log(double x); /* x <= 0 -> -inf / nan */
double km_sin(double x);
double km_cos(double x);
double km_pow(double x, double y); /* x > 0 only; x <= 0 -> nan (1 for y == 0) */

static inline float km_sqrtf(float x)
{
    return __builtin_sqrtf(x); /* sqrtss with -fno-math-errno */
}
static inline float km_fabsf(float x)
{
    return __builtin_fabsf(x);
}
float km_expf(float x);
float km_logf(float x);
float km_powf(float x, float y);
float km_sinf(float x);
float km_cosf(float x);
float km_tanhf(float x);

#define KM_INFINITY (__builtin_inff())
#define KM_NAN (__builtin_nanf(""))
#define km_isnan(x) __builtin_isnan(x)
#define km_isinf(x) __builtin_isinf(x)
#define km_isfinite(x) __builtin_isfinite(x)

#endif
