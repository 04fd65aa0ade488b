/*
 * test_sampler.c - greedy, temperature, top-k, top-p and reproducibility.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "sampler.h"

static unsigned char mem[1 << 16];

static struct slm_sampler make(uint32_t vocab, float t, uint32_t k, float p, uint64_t seed)
{
    struct slm_pool pool;
    struct slm_sampler s;
    slm_pool_init(&pool, mem, sizeof mem);
    assert_int_equal(slm_sampler_init(&s, vocab, t, k, p, seed, &pool, NULL), 0);
    assert_int_equal(pool.used, slm_sampler_pool_bytes(vocab));
    return s;
}

/* logits = log(probabilities): sampling at temperature 1 must follow them */
static const float probs[5] = {0.4f, 0.3f, 0.15f, 0.1f, 0.05f};

static void logits_of(float *lg)
{
    for (int i = 0; i < 5; i++)
        lg[i] = logf(probs[i]) + 3.0f; /* an offset changes nothing */
}

static void greedy_takes_the_first_maximum(void **state)
{
    (void)state;
    float lg[6] = {0.1f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f};
    struct slm_sampler s = make(6, 0.0f, 40, 0.95f, 1);
    assert_int_equal(slm_sample(&s, lg), 1);
    assert_int_equal(slm_argmax(lg, 6), 1);
}

static void temperature_sampling_follows_the_distribution(void **state)
{
    (void)state;
    float lg[5];
    logits_of(lg);
    struct slm_sampler s = make(5, 1.0f, 0, 1.0f, 7);
    int count[5] = {0};
    const int n = 40000;
    for (int i = 0; i < n; i++)
        count[slm_sample(&s, lg)]++;
    for (int i = 0; i < 5; i++)
        assert_true(fabs((double)count[i] / n - probs[i]) < 0.012);
}

static void top_k_keeps_only_the_k_best(void **state)
{
    (void)state;
    float lg[5];
    logits_of(lg);
    struct slm_sampler s = make(5, 1.0f, 2, 1.0f, 3);
    int count[5] = {0};
    for (int i = 0; i < 20000; i++)
        count[slm_sample(&s, lg)]++;
    assert_int_equal(count[2] + count[3] + count[4], 0);
    /* renormalised: 0.4/0.7 and 0.3/0.7 */
    assert_true(fabs(count[0] / 20000.0 - 0.4 / 0.7) < 0.02);
}

static void top_p_keeps_the_nucleus(void **state)
{
    (void)state;
    float lg[5];
    logits_of(lg);
    struct slm_sampler s = make(5, 1.0f, 0, 0.69f, 5); /* 0.4 + 0.3 >= 0.69 */
    int count[5] = {0};
    for (int i = 0; i < 20000; i++)
        count[slm_sample(&s, lg)]++;
    assert_true(count[0] > 0 && count[1] > 0);
    assert_int_equal(count[2] + count[3] + count[4], 0);
    struct slm_sampler one = make(5, 1.0f, 0, 0.3f, 5); /* first token alone reaches it */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(slm_sample(&one, lg), 0);
}

static void same_seed_same_tokens(void **state)
{
    (void)state;
    float lg[5];
    logits_of(lg);
    int a[64], b[64], c[64];
    struct slm_sampler s1 = make(5, 0.8f, 40, 0.95f, 1234);
    for (int i = 0; i < 64; i++)
        a[i] = slm_sample(&s1, lg);
    struct slm_sampler s2 = make(5, 0.8f, 40, 0.95f, 1234);
    for (int i = 0; i < 64; i++)
        b[i] = slm_sample(&s2, lg);
    struct slm_sampler s3 = make(5, 0.8f, 40, 0.95f, 99);
    for (int i = 0; i < 64; i++)
        c[i] = slm_sample(&s3, lg);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
}

static void bad_parameters_are_refused(void **state)
{
    (void)state;
    struct slm_pool pool;
    struct slm_sampler s;
    struct slm_err err = {0};
    slm_pool_init(&pool, mem, sizeof mem);
    assert_int_equal(slm_sampler_init(&s, 5, -1.0f, 0, 1.0f, 1, &pool, &err), -SLM_E_INVAL);
    assert_int_equal(slm_sampler_init(&s, 5, 1.0f, 0, 0.0f, 1, &pool, &err), -SLM_E_INVAL);
    assert_int_equal(slm_sampler_init(&s, 1u << 20, 1.0f, 0, 1.0f, 1, &pool, &err),
                     -SLM_E_NOMEM);
    assert_non_null(strstr(err.msg, "sampler"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_takes_the_first_maximum),
        cmocka_unit_test(temperature_sampling_follows_the_distribution),
        cmocka_unit_test(top_k_keeps_only_the_k_best),
        cmocka_unit_test(top_p_keeps_the_nucleus),
        cmocka_unit_test(same_seed_same_tokens),
        cmocka_unit_test(bad_parameters_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
