/*
 * test_sbuf.c - the growable byte string: appends keep it NUL-terminated
 * across growth, printf appends whole text however long, consume drops a
 * prefix, and sizes that would overflow fail leaving the string as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "sbuf.h"

static void appends_grow_and_stay_terminated(void **state)
{
    struct aut_sbuf b = {0};
    assert_int_equal(aut_sbuf_reserve(&b, 0), 0);
    assert_string_equal(b.p, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(aut_sbuf_append(&b, "abc", 3), 0);
    assert_int_equal(b.len, 3000);
    assert_true(b.cap > 3000);
    assert_int_equal(b.p[3000], '\0');
    assert_memory_equal(b.p + 2997, "abc", 4);
    assert_int_equal(aut_sbuf_append(&b, NULL, 0), 0);
    assert_int_equal(b.len, 3000);
    aut_sbuf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len + b.cap, 0);
}

static void printf_appends_whole_text(void **state)
{
    struct aut_sbuf b = {0};
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(aut_sbuf_printf(&b, "%d-%s", 42, "a"), 0);
    assert_int_equal(aut_sbuf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 4 + 1 + sizeof big - 1 + 1);
    assert_memory_equal(b.p, "42-a[x", 6);
    assert_string_equal(b.p + b.len - 2, "x]");
    aut_sbuf_free(&b);
}

static void consume_drops_a_prefix(void **state)
{
    struct aut_sbuf b = {0};
    assert_int_equal(aut_sbuf_append(&b, "hello world", 11), 0);
    aut_sbuf_consume(&b, 6);
    assert_string_equal(b.p, "world");
    aut_sbuf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    aut_sbuf_free(&b);
}

static void overflowing_sizes_fail_and_change_nothing(void **state)
{
    struct aut_sbuf b = {0};
    assert_int_equal(aut_sbuf_append(&b, "ab", 2), 0);
    size_t cap = b.cap;
    assert_int_equal(aut_sbuf_reserve(&b, SIZE_MAX), -1);
    assert_int_equal(aut_sbuf_reserve(&b, SIZE_MAX / 2 + 2), -1);
    assert_int_equal(aut_sbuf_append(&b, "c", SIZE_MAX - 1), -1);
    assert_int_equal(b.len, 2);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.p, "ab");
    aut_sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_grow_and_stay_terminated),
        cmocka_unit_test(printf_appends_whole_text),
        cmocka_unit_test(consume_drops_a_prefix),
        cmocka_unit_test(overflowing_sizes_fail_and_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
