/*
 * test_validate.c - the verdict logic of validate.c on recorded measurements:
 * the boot and prompt records of real integrations (trained model under TCG
 * and KVM, a random-weight model), with the limits of etc/auton.conf and the
 * accelerator multipliers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

/* A trained-model integration recorded under TCG (boot and the spec's three prompts). */
static const char *const recorded_good =
    "{\"boot\":{\"ok\":true,\"boot_ms\":412,\"kernel_ready_s\":0.031,\"slm_loading\":true,"
    "\"neural_ready\":true,\"runtime_ok\":true,\"slm_failed\":false,\"slm_error\":\"\","
    "\"panic\":false},"
    "\"prompts\":["
    "{\"prompt\":\"PCI device 8086:10d3 is\",\"output\":\"an Intel 82574L Gigabit Network "
    "Connection.\",\"tokens\":7,\"ms\":348,\"tok_s\":36.4,\"pool_peak\":1122752,"
    "\"backend\":\"neural\",\"expect_any\":[\"82574L\"],\"reject\":[\"AMD\",\"Realtek\"]},"
    "{\"prompt\":\"Install nginx on Debian\",\"output\":\"sudo apt-get install nginx\","
    "\"tokens\":5,\"ms\":285,\"tok_s\":36.7,\"pool_peak\":1122752,\"backend\":\"neural\","
    "\"expect_any\":[\"apt-get install nginx\",\"apt install nginx\"]},"
    "{\"prompt\":\"List all PCI devices:\",\"output\":\"lspci -nn\",\"tokens\":3,\"ms\":321,"
    "\"tok_s\":26.6,\"pool_peak\":1122752,\"backend\":\"neural\",\"expect_any\":[\"lspci\"],"
    "\"min_chars\":5}]}";

/* A random-weight model: runs, says nothing right. */
static const char *const recorded_random =
    "{\"boot\":{\"ok\":true,\"boot_ms\":388,\"slm_loading\":true,\"neural_ready\":true,"
    "\"runtime_ok\":true,\"panic\":false},"
    "\"prompts\":[{\"prompt\":\"PCI device 8086:10d3 is\",\"output\":\"Xilinx Ltd.Ltd.Ltd.1b "
    "Hauppauge 7c0 Vendor Vendor\",\"tokens\":16,\"ms\":5310,\"tok_s\":3.1,"
    "\"pool_peak\":9961472,\"backend\":\"neural\",\"expect_any\":[\"82574L\"]}]}";

static void limits(struct aut_validate_limits *l, double mult)
{
    memset(l, 0, sizeof *l);
    l->boot_max_ms = 10000 * mult;
    l->latency_max_ms = 5000 * mult;
    l->latency_tokens = 50;
    l->pool_peak_max_bytes = 150.0 * 1048576;
    l->min_output_chars = 10;
    l->expect_neural = true;
    aut_coherence_limits_default(&l->coherence);
}

static const cJSON *find(const cJSON *checks, const char *name)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, checks) if (!strcmp(cJSON_GetObjectItem(c, "name")->valuestring, name))
        return c;
    fail_msg("no check %s", name);
    return NULL;
}

static bool passed(const cJSON *checks, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(find(checks, name), "pass"));
}

static void test_good_recording_passes_every_check(void **state)
{
    cJSON *r = cJSON_Parse(recorded_good), *checks = cJSON_CreateArray();
    struct aut_validate_limits l;
    limits(&l, 1);
    const cJSON *first = NULL;
    assert_int_equal(aut_validate(r, &l, checks, &first), 0);
    assert_null(first);
    /* 3 boot checks, 4 per prompt, prompts_answered, pool_peak */
    assert_int_equal(cJSON_GetArraySize(checks), 3 + 3 * 4 + 2);
    cJSON_Delete(checks);
    cJSON_Delete(r);
}

static void test_random_recording_fails_on_accuracy_and_latency_only_without_multiplier(
    void **state)
{
    cJSON *r = cJSON_Parse(recorded_random), *checks = cJSON_CreateArray();
    struct aut_validate_limits l;
    limits(&l, 1);
    const cJSON *first = NULL;
    int failed = aut_validate(r, &l, checks, &first);
    assert_false(passed(checks, "prompt[0].accurate"));
    /* 5310 ms for 16 tokens at 3.1 tok/s projects to 16.3 s for 50: too slow for KVM's limit */
    assert_false(passed(checks, "prompt[0].latency"));
    assert_true(passed(checks, "boot_time"));
    assert_int_equal(failed, 2 + !passed(checks, "prompt[0].coherent"));
    assert_string_equal(cJSON_GetObjectItem(first, "class")->valuestring, "inference");
    cJSON_Delete(checks);

    /* the TCG multiplier (60) lifts the latency limit, not the accuracy check */
    checks = cJSON_CreateArray();
    limits(&l, 60);
    aut_validate(r, &l, checks, NULL);
    assert_true(passed(checks, "prompt[0].latency"));
    assert_false(passed(checks, "prompt[0].accurate"));
    cJSON_Delete(checks);
    cJSON_Delete(r);
}

static void test_boot_limits(void **state)
{
    cJSON *r = cJSON_Parse(recorded_good), *checks = cJSON_CreateArray();
    struct aut_validate_limits l;
    limits(&l, 1);
    l.boot_max_ms = 400; /* the recording booted in 412 ms */
    aut_validate(r, &l, checks, NULL);
    assert_false(passed(checks, "boot_time"));
    cJSON_Delete(checks);

    cJSON *boot = cJSON_GetObjectItem(r, "boot");
    cJSON_ReplaceItemInObject(boot, "neural_ready", cJSON_CreateFalse());
    checks = cJSON_CreateArray();
    limits(&l, 1);
    const cJSON *first = NULL;
    assert_int_equal(aut_validate(r, &l, checks, &first), 1);
    assert_string_equal(cJSON_GetObjectItem(first, "name")->valuestring, "slm_initialised");
    assert_string_equal(cJSON_GetObjectItem(first, "class")->valuestring, "boot");
    cJSON_Delete(checks);
    /* the rule engine alone need not be neural */
    checks = cJSON_CreateArray();
    l.expect_neural = false;
    assert_int_equal(aut_validate(r, &l, checks, NULL), 0);
    cJSON_Delete(checks);
    cJSON_Delete(r);
}

static void test_pool_peak_and_min_chars(void **state)
{
    cJSON *r = cJSON_Parse(recorded_good), *checks = cJSON_CreateArray();
    struct aut_validate_limits l;
    limits(&l, 1);
    l.pool_peak_max_bytes = 1000000; /* below the recorded 1122752 */
    aut_validate(r, &l, checks, NULL);
    assert_false(passed(checks, "pool_peak"));
    cJSON_Delete(checks);
    /* without its min_chars, "lspci -nn" (9 chars) is too short for the spec's > 10 */
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "prompts"), 2),
                               "min_chars");
    checks = cJSON_CreateArray();
    limits(&l, 1);
    aut_validate(r, &l, checks, NULL);
    assert_false(passed(checks, "prompt[2].answered"));
    assert_true(passed(checks, "prompt[0].answered"));
    cJSON_Delete(checks);
    cJSON_Delete(r);
}

static void test_accuracy_rules(void **state)
{
    char why[256];
    cJSON *p = cJSON_Parse("{\"expect_any\":[\"82574L\",\"82574\"],\"expect_all\":[\"intel\"],"
                           "\"reject\":[\"amd\"]}");
    assert_true(aut_validate_accuracy("an Intel 82574L Gigabit", p, why, sizeof why));
    assert_false(aut_validate_accuracy("an Intel 8254x", p, why, sizeof why));
    assert_non_null(strstr(why, "none of [82574L, 82574]"));
    assert_false(aut_validate_accuracy("a Realtek 82574L", p, why, sizeof why));
    assert_non_null(strstr(why, "'intel' missing"));
    assert_false(aut_validate_accuracy("an Intel 82574L, not an AMD", p, why, sizeof why));
    assert_non_null(strstr(why, "rejected 'amd'"));
    cJSON_Delete(p);
    p = cJSON_Parse("{}");
    assert_true(aut_validate_accuracy("anything", p, why, sizeof why));
    cJSON_Delete(p);
}

static void test_no_prompts_fails(void **state)
{
    cJSON *r = cJSON_Parse("{\"boot\":{\"boot_ms\":100,\"runtime_ok\":true,\"neural_ready\":true,"
                           "\"slm_loading\":true},\"prompts\":[]}");
    cJSON *checks = cJSON_CreateArray();
    struct aut_validate_limits l;
    limits(&l, 1);
    assert_int_equal(aut_validate(r, &l, checks, NULL), 1);
    assert_false(passed(checks, "prompts_answered"));
    cJSON_Delete(checks);
    cJSON_Delete(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_recording_passes_every_check),
        cmocka_unit_test(test_random_recording_fails_on_accuracy_and_latency_only_without_multiplier),
        cmocka_unit_test(test_boot_limits),
        cmocka_unit_test(test_pool_peak_and_min_chars),
        cmocka_unit_test(test_accuracy_rules),
        cmocka_unit_test(test_no_prompts_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
