/*
 * test_lib.c - the freestanding lib: kfmt against libc's snprintf, kmath
 * against libm, and the SLM pool allocator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/kfmt.h"
#include "lib/kmath.h"
#include "pool.h"

#define CHECK_FMT(...)                                                                        \
    do {                                                                                       \
        char a[128], b[128];                                                                   \
        int ra = kfmt_snprintf(a, sizeof a, __VA_ARGS__);                                      \
        int rb = snprintf(b, sizeof b, __VA_ARGS__);                                           \
        assert_string_equal(a, b);                                                             \
        assert_int_equal(ra, rb);                                                              \
    } while (0)

static void kfmt_matches_libc(void **state)
{
    (void)state;
    CHECK_FMT("plain");
    CHECK_FMT("%d|%i|%u", -42, 7, 4000000000u);
    CHECK_FMT("%5d|%-5d|%05d|%x|%X|%08llx", 42, 42, -42, 0xbeefu, 0xbeefu, 0x1234ull);
    CHECK_FMT("%s|%10s|%-10s|%.3s|%.*s", "abc", "abc", "abc", "abcdef", 2, "xyz");
    CHECK_FMT("%c%c|%%|%zu|%zd|%ld|%lld", 'o', 'k', (size_t)123, (ptrdiff_t)-5, -7L, -9LL);
    CHECK_FMT("%llu|%lld", 18446744073709551615ull, (long long)(-9223372036854775807LL - 1));
    CHECK_FMT("%3u.%03u", 0u, 1u);
    CHECK_FMT("%hhu|%hu|%jd", (unsigned char)200, (unsigned short)60000, (intmax_t)-1);
}

static void kfmt_truncates_and_counts(void **state)
{
    (void)state;
    char buf[6];
    int r = kfmt_snprintf(buf, sizeof buf, "hello world %d", 42);
    assert_int_equal(r, 14);
    assert_string_equal(buf, "hello");
    assert_int_equal(kfmt_snprintf(NULL, 0, "%s", "abc"), 3);
    char p[32], q[32];
    kfmt_snprintf(p, sizeof p, "%p", (void *)0x1234);
    snprintf(q, sizeof q, "%p", (void *)0x1234);
    assert_string_equal(p, q);
}

/* ulp distance between two floats of the same sign */
static long ulps(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    long d = (long)ia - (long)ib;
    return d < 0 ? -d : d;
}

static void kmath_float_functions_within_2_ulp(void **state)
{
    (void)state;
    long worst_exp = 0, worst_log = 0;
    for (int i = -100000; i <= 100000; i++) {
        float x = (float)i * 0.00087f; /* [-87, 87] */
        worst_exp = fmaxl(worst_exp, ulps(km_expf(x), expf(x)));
        float y = (float)(i + 100001) * 0.0137f;
        worst_log = fmaxl(worst_log, ulps(km_logf(y), logf(y)));
    }
    assert_true(worst_exp <= 2);
    assert_true(worst_log <= 1);
    assert_true(km_expf(-200.0f) == 0.0f);
    assert_true(isinf(km_expf(100.0f)));
    assert_true(isnan(km_expf(NAN)));
    assert_true(km_expf(0.0f) == 1.0f);
}

static void kmath_double_functions_match_libm(void **state)
{
    (void)state;
    double worst = 0.0;
    for (int i = -20000; i <= 20000; i++) {
        double x = i * 0.1031; /* RoPE angles up to ~2000 rad */
        worst = fmax(worst, fabs(km_sin(x) - sin(x)));
        worst = fmax(worst, fabs(km_cos(x) - cos(x)));
    }
    assert_true(worst < 1e-13);
    for (int i = 0; i < 64; i++) {
        double e = -2.0 * i / 128.0;
        assert_true(fabs(km_pow(10000.0, e) - pow(10000.0, e)) <= 1e-14 * pow(10000.0, e));
        assert_true(fabs(km_pow(500000.0, e) - pow(500000.0, e)) <= 1e-14 * pow(500000.0, e));
    }
    assert_true(fabs(km_exp(1.0) - M_E) < 1e-15);
    assert_true(fabs(km_log(M_E) - 1.0) < 1e-15);
    assert_true(isnan(km_log(-1.0)));
    assert_true(km_pow(-2.0, 0.0) == 1.0);
    assert_true(fabsf(km_tanhf(0.5f) - tanhf(0.5f)) < 1e-6f);
}

static void pool_aligns_counts_and_resets(void **state)
{
    (void)state;
    static unsigned char mem[4096 + 64];
    struct slm_pool p;
    slm_pool_init(&p, mem + 3, 4096); /* misaligned base: the pool aligns it */
    assert_true(((uintptr_t)p.base % SLM_POOL_ALIGN) == 0);
    void *a = slm_pool_alloc(&p, 10, 0);
    assert_non_null(a);
    assert_int_equal(p.used, slm_pool_cost(10));
    size_t mark = slm_pool_mark(&p);
    void *b = slm_pool_alloc(&p, 100, 256);
    assert_true(((uintptr_t)b % 256) == 0);
    assert_null(slm_pool_alloc(&p, 1u << 20, 0)); /* too big: NULL, nothing consumed */
    assert_null(slm_pool_alloc(&p, SIZE_MAX - 10, 0));
    assert_null(slm_pool_alloc(&p, 8, 48)); /* not a power of two */
    size_t peak = p.peak;
    slm_pool_reset(&p, mark);
    assert_int_equal(p.used, mark);
    assert_int_equal(p.peak, peak);
    unsigned char *z = slm_pool_zalloc(&p, 64, 0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kfmt_matches_libc),
        cmocka_unit_test(kfmt_truncates_and_counts),
        cmocka_unit_test(kmath_float_functions_within_2_ulp),
        cmocka_unit_test(kmath_double_functions_match_libm),
        cmocka_unit_test(pool_aligns_counts_and_resets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
