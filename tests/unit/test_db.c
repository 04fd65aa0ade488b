/*
 * test_db.c - autond's job store on a real SQLite file: opening creates it
 * in WAL mode at schema 1 and reopening changes nothing; a newer schema and
 * an uncreatable directory are errors naming them; jobs round-trip, replay
 * by idempotency key, queue by priority then FIFO and never leave a terminal
 * state; pages, events, stages, nightly runs, deliveries and counts; and
 * four threads inserting and appending events at once lose nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "fsutil.h"

struct fx {
    char dir[64];        /* a fresh temporary directory */
    char path[PATH_MAX]; /* dir/state/autond.db: its parent does not exist at first */
    char err[PATH_MAX + 512];
    struct aut_db *db; /* open on path */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_db.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/state/autond.db", f->dir);
    assert_int_equal(aut_db_open(f->path, &f->db, f->err, sizeof f->err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aut_db_close(f->db);
    assert_int_equal(aut_rmtree(f->dir), 0);
    free(f);
    return 0;
}

/* Inserts a queued job with no idempotency key. */
static void add_job(struct aut_db *db, const char *id, const char *arch, int priority,
                    int64_t nightly_id)
{
    struct aut_db_job_new j = {.id = id,
                               .arch = arch,
                               .model = "tiny.gguf",
                               .priority = priority,
                               .request_json = "{\"arch\":\"x\"}",
                               .nightly_id = nightly_id};
    assert_int_equal(aut_db_job_insert(db, &j, 100.0, NULL), 0);
}

static void assert_state(struct aut_db *db, const char *id, const char *state)
{
    cJSON *job = aut_db_job_get(db, id);
    assert_non_null(job);
    assert_string_equal(cJSON_GetObjectItem(job, "state")->valuestring, state);
    cJSON_Delete(job);
}

/* A single text value from the database at path, read with plain SQLite. */
static void sql_text(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
    int src = sqlite3_step(st);
    assert_true(src == SQLITE_ROW || src == SQLITE_DONE);
    snprintf(out, len, "%s", src == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    sqlite3_close(c);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static bool is_null(const cJSON *o, const char *key)
{
    return cJSON_IsNull(cJSON_GetObjectItem(o, key));
}

static void open_creates_the_file_in_wal_mode_at_schema_1(void **state)
{
    struct fx *f = *state;
    char wal[PATH_MAX + 8], text[64];
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(stat(wal, &st), 0);
    sql_text(f->path, "PRAGMA journal_mode", text, sizeof text);
    assert_string_equal(text, "wal");
    sql_text(f->path, "SELECT value FROM meta WHERE key = 'schema_version'", text, sizeof text);
    assert_string_equal(text, "1");
    assert_int_equal(aut_db_schema_version(f->db), 1);
    assert_int_equal(AUT_DB_SCHEMA_VERSION, 1);
}

static void reopen_keeps_the_data_and_the_schema(void **state)
{
    struct fx *f = *state;
    char text[64];
    add_job(f->db, "j1", "x86_64", 0, 0);
    for (int i = 0; i < 2; i++) {
        aut_db_close(f->db);
        f->db = NULL;
        assert_int_equal(aut_db_open(f->path, &f->db, f->err, sizeof f->err), 0);
        assert_int_equal(aut_db_schema_version(f->db), 1);
        assert_state(f->db, "j1", "queued");
    }
    sql_text(f->path, "SELECT count(*) FROM meta", text, sizeof text);
    assert_string_equal(text, "1");
}

static void a_newer_schema_is_refused(void **state)
{
    struct fx *f = *state;
    char text[64];
    struct aut_db *db = NULL;
    aut_db_close(f->db);
    f->db = NULL;
    sql_text(f->path, "UPDATE meta SET value = 2 WHERE key = 'schema_version' RETURNING value",
             text, sizeof text);
    assert_string_equal(text, "2");
    assert_int_equal(aut_db_open(f->path, &db, f->err, sizeof f->err), -EPROTO);
    assert_null(db);
    assert_non_null(strstr(f->err, f->path));
    assert_non_null(strstr(f->err, "schema version 2"));
}

static void a_path_that_cannot_be_created_is_named(void **state)
{
    struct fx *f = *state;
    char file[PATH_MAX], path[PATH_MAX + 32], junk[600];
    struct aut_db *db = NULL;
    snprintf(file, sizeof file, "%s/file", f->dir);
    assert_int_equal(aut_write_file(file, "x", 1, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/sub/autond.db", file);
    assert_true(aut_db_open(path, &db, f->err, sizeof f->err) < 0);
    assert_null(db);
    snprintf(path, sizeof path, "%s/sub", file);
    assert_non_null(strstr(f->err, path));

    /* a file that is not a database: SQLite's word for it, and the path */
    memset(junk, 'j', sizeof junk);
    assert_int_equal(aut_write_file(file, junk, sizeof junk, NULL, 0), 0);
    assert_int_equal(aut_db_open(file, &db, f->err, sizeof f->err), -EIO);
    assert_null(db);
    assert_non_null(strstr(f->err, file));
    assert_non_null(strstr(f->err, "not a database"));
}

static void a_job_round_trips(void **state)
{
    struct fx *f = *state;
    struct aut_db_job_new j = {.id = "job-1",
                               .arch = "x86_64",
                               .model = "hf://tiny",
                               .priority = 3,
                               .request_json = "{\"model\":\"hf://tiny\",\"n\":[1,2]}",
                               .retry_of = "job-0"};
    assert_int_equal(aut_db_job_insert(f->db, &j, 1700000000.5, NULL), 0);
    cJSON *o = aut_db_job_get(f->db, "job-1");
    assert_non_null(o);
    assert_string_equal(str(o, "id"), "job-1");
    assert_int_equal(num(o, "seq"), 1);
    assert_string_equal(str(o, "state"), "queued");
    assert_string_equal(str(o, "arch"), "x86_64");
    assert_string_equal(str(o, "model"), "hf://tiny");
    assert_int_equal(num(o, "priority"), 3);
    assert_string_equal(str(cJSON_GetObjectItem(o, "request"), "model"), "hf://tiny");
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "request"), "n")), 2);
    assert_string_equal(str(o, "retry_of"), "job-0");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "cancel_requested")));
    assert_true(num(o, "created") == 1700000000.5);
    assert_int_equal(num(o, "attempt"), 0);
    const char *nulls[] = {"class",   "stage",      "message", "recommendation", "nightly_id",
                           "summary", "report_dir", "started", "finished"};
    for (size_t i = 0; i < sizeof nulls / sizeof *nulls; i++)
        assert_true(is_null(o, nulls[i]));
    cJSON_Delete(o);

    assert_int_equal(aut_db_job_start(f->db, "job-1", "/r/job-1", 1700000001.0), 0);
    assert_int_equal(aut_db_job_set_stage(f->db, "job-1", "build", 2), 0);
    assert_int_equal(aut_db_job_request_cancel(f->db, "job-1"), 0);
    o = aut_db_job_get(f->db, "job-1");
    assert_string_equal(str(o, "state"), "running");
    assert_string_equal(str(o, "stage"), "build");
    assert_string_equal(str(o, "report_dir"), "/r/job-1");
    assert_int_equal(num(o, "attempt"), 2);
    assert_true(num(o, "started") == 1700000001.0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "cancel_requested")));
    cJSON_Delete(o);

    assert_null(aut_db_job_get(f->db, "nope"));
    assert_int_equal(aut_db_job_insert(f->db, &j, 1.0, NULL), -EEXIST);
    assert_non_null(strstr(aut_db_error(f->db), "job-1"));
    j.id = "job-2";
    j.request_json = "[1]";
    assert_int_equal(aut_db_job_insert(f->db, &j, 1.0, NULL), -EINVAL);
    assert_non_null(strstr(aut_db_error(f->db), "request_json"));
    j.id = "0123456789012345678901234567890123456789012345678901234567890123"; /* 64 */
    j.request_json = NULL;
    assert_int_equal(aut_db_job_insert(f->db, &j, 1.0, NULL), -EINVAL);
}

static void an_idempotency_key_replays_or_conflicts(void **state)
{
    struct fx *f = *state;
    char existing[AUT_DB_ID_MAX] = "";
    unsigned depth = 0;
    struct aut_db_job_new j = {
        .id = "a", .request_json = "{}", .idem_key = "k1", .idem_hash = "h1"};
    assert_int_equal(aut_db_job_insert(f->db, &j, 1.0, existing), 0);
    j.id = "b";
    assert_int_equal(aut_db_job_insert(f->db, &j, 2.0, existing), 1);
    assert_string_equal(existing, "a");
    assert_null(aut_db_job_get(f->db, "b"));
    assert_int_equal(aut_db_queue_depth(f->db, &depth), 0);
    assert_int_equal(depth, 1);

    j.id = "c";
    j.idem_hash = "h2";
    strcpy(existing, "");
    assert_int_equal(aut_db_job_insert(f->db, &j, 3.0, existing), -EEXIST);
    assert_string_equal(existing, "a");
    assert_non_null(strstr(aut_db_error(f->db), "k1"));
    assert_null(aut_db_job_get(f->db, "c"));

    j.idem_key = "k2"; /* another key: inserted */
    assert_int_equal(aut_db_job_insert(f->db, &j, 4.0, existing), 0);
    assert_int_equal(aut_db_queue_depth(f->db, &depth), 0);
    assert_int_equal(depth, 2);
}

static void the_queue_runs_by_priority_then_fifo_skipping_busy_arches(void **state)
{
    struct fx *f = *state;
    char id[AUT_DB_ID_MAX];
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "aarch64", 0, 0);
    add_job(f->db, "c", "x86_64", 5, 0);
    add_job(f->db, "d", "riscv64", 5, 0);
    add_job(f->db, "e", "x86_64", 0, 0);

    assert_int_equal(aut_db_job_next(f->db, NULL, 0, id), 0);
    assert_string_equal(id, "c");
    const char *busy[] = {"x86_64", NULL, "riscv64", "aarch64"};
    assert_int_equal(aut_db_job_next(f->db, busy, 1, id), 0);
    assert_string_equal(id, "d");
    assert_int_equal(aut_db_job_next(f->db, busy, 3, id), 0);
    assert_string_equal(id, "b");
    assert_int_equal(aut_db_job_next(f->db, busy, 4, id), -ENOENT);

    assert_int_equal(aut_db_job_start(f->db, "c", "/r/c", 1.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "d", "/r/d", 1.0), 0);
    assert_int_equal(aut_db_job_next(f->db, NULL, 0, id), 0);
    assert_string_equal(id, "a"); /* a before b and e: FIFO at equal priority */
    assert_int_equal(aut_db_job_next(f->db, busy, 1, id), 0);
    assert_string_equal(id, "b");
}

static void a_job_starts_only_from_queued(void **state)
{
    struct fx *f = *state;
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "x86_64", 0, 0);
    assert_int_equal(aut_db_job_start(f->db, "a", "/r/a", 1.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "a", "/r/a", 2.0), -ENOENT);
    assert_int_equal(aut_db_job_start(f->db, "missing", "/r/x", 2.0), -ENOENT);
    assert_non_null(strstr(aut_db_error(f->db), "missing"));

    /* canceled while queued: never starts, and cannot be canceled again */
    assert_int_equal(
        aut_db_job_finish(f->db, "b", "canceled", NULL, NULL, "canceled", NULL, NULL, 3.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "b", "/r/b", 4.0), -ENOENT);
    assert_int_equal(aut_db_job_request_cancel(f->db, "b"), -ENOENT);
    assert_int_equal(aut_db_job_set_stage(f->db, "b", "build", 1), -ENOENT);
    assert_state(f->db, "b", "canceled");
}

static void finish_refuses_a_terminal_job(void **state)
{
    struct fx *f = *state;
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "x86_64", 0, 0);
    add_job(f->db, "c", "x86_64", 0, 0);
    assert_null(aut_db_job_last_finished(f->db));
    assert_int_equal(aut_db_job_start(f->db, "a", "/r/a", 1.0), 0);
    assert_int_equal(aut_db_job_set_stage(f->db, "a", "validate", 1), 0);
    assert_int_equal(aut_db_job_finish(f->db, "a", "bogus", NULL, NULL, NULL, NULL, NULL, 2.0),
                     -EINVAL);
    assert_int_equal(aut_db_job_finish(f->db, "a", "committed", NULL, NULL, NULL, NULL, "[]", 2.0),
                     -EINVAL);
    assert_int_equal(aut_db_job_finish(f->db, "a", "committed", NULL, NULL, "ok", "ship it",
                                       "{\"tok_s\":41.5}", 2.0),
                     0);
    assert_int_equal(aut_db_job_finish(f->db, "a", "failed", "build", NULL, NULL, NULL, NULL, 3.0),
                     -ENOENT);

    cJSON *o = aut_db_job_get(f->db, "a");
    assert_string_equal(str(o, "state"), "committed");
    assert_string_equal(str(o, "stage"), "validate"); /* kept: finish passed NULL */
    assert_string_equal(str(o, "message"), "ok");
    assert_string_equal(str(o, "recommendation"), "ship it");
    assert_true(is_null(o, "class"));
    assert_true(num(cJSON_GetObjectItem(o, "summary"), "tok_s") == 41.5);
    assert_true(num(o, "finished") == 2.0);
    cJSON_Delete(o);

    /* the last finished job with a summary */
    assert_int_equal(
        aut_db_job_finish(f->db, "b", "failed", "build", "build", "x", NULL, NULL, 5.0), 0);
    o = aut_db_job_last_finished(f->db);
    assert_string_equal(str(o, "id"), "a");
    cJSON_Delete(o);
    assert_int_equal(aut_db_job_finish(f->db, "c", "rolled_back", "inference", NULL, NULL, NULL,
                                       "{\"tok_s\":1}", 6.0),
                     0);
    o = aut_db_job_last_finished(f->db);
    assert_string_equal(str(o, "id"), "c");
    cJSON_Delete(o);
}

/* One page of list; checks its ids (space separated) and returns next_cursor. */
static int64_t page(struct aut_db *db, const char *state, unsigned limit, int64_t cursor,
                    const char *want)
{
    cJSON *items = NULL;
    int64_t next = -1;
    char got[256] = "";
    assert_int_equal(aut_db_job_list(db, state, limit, cursor, &items, &next), 0);
    for (int i = 0; i < cJSON_GetArraySize(items); i++) {
        cJSON *job = cJSON_GetArrayItem(items, i);
        assert_true(cJSON_IsObject(cJSON_GetObjectItem(job, "request")));
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", str(job, "id"));
    }
    assert_string_equal(got, want);
    cJSON_Delete(items);
    return next;
}

static void list_pages_newest_first_with_a_cursor_and_a_state(void **state)
{
    struct fx *f = *state;
    char id[8];
    for (int i = 1; i <= 9; i++) {
        snprintf(id, sizeof id, "j%d", i);
        add_job(f->db, id, "x86_64", i % 3, 0); /* priority does not order lists */
    }
    assert_int_equal(aut_db_job_start(f->db, "j2", "/r", 1.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "j4", "/r", 1.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "j6", "/r", 1.0), 0);

    int64_t c = page(f->db, NULL, 4, 0, "j9 j8 j7 j6");
    assert_int_equal(c, 6);
    c = page(f->db, NULL, 4, c, "j5 j4 j3 j2");
    assert_int_equal(page(f->db, NULL, 4, c, "j1"), 0);

    c = page(f->db, "queued", 2, 0, "j9 j8");
    c = page(f->db, "queued", 2, c, "j7 j5");
    assert_int_equal(page(f->db, "queued", 2, c, "j3 j1"), 0);
    assert_int_equal(page(f->db, "running", 3, 0, "j6 j4 j2"), 0);
    assert_int_equal(page(f->db, "failed", 3, 0, ""), 0);

    cJSON *items = NULL;
    int64_t next = 0;
    assert_int_equal(aut_db_job_list(f->db, NULL, 0, 0, &items, &next), -EINVAL);
    assert_int_equal(aut_db_job_list(f->db, NULL, 1001, 0, &items, &next), -EINVAL);
    assert_int_equal(aut_db_job_list(f->db, "sleeping", 10, 0, &items, &next), -EINVAL);
    assert_null(items);
}

static void events_are_numbered_per_job(void **state)
{
    struct fx *f = *state;
    int64_t seq = 0;
    cJSON *ev = NULL;
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "x86_64", 0, 0);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(aut_db_event_add(f->db, "a", "stage", "{\"n\":1}", 10.0 + i, &seq), 0);
        assert_int_equal(seq, i);
    }
    assert_int_equal(aut_db_event_add(f->db, "b", "log", "\"text\"", 20.0, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(aut_db_event_add(f->db, "b", "end", NULL, 21.0, &seq), 0);
    assert_int_equal(seq, 2);

    assert_int_equal(aut_db_events(f->db, "a", 0, 100, &ev), 0);
    assert_int_equal(cJSON_GetArraySize(ev), 3);
    cJSON *first = cJSON_GetArrayItem(ev, 0);
    assert_int_equal(num(first, "seq"), 1);
    assert_true(num(first, "time") == 11.0);
    assert_string_equal(str(first, "type"), "stage");
    assert_int_equal(num(cJSON_GetObjectItem(first, "data"), "n"), 1);
    cJSON_Delete(ev);

    assert_int_equal(aut_db_events(f->db, "a", 1, 1, &ev), 0);
    assert_int_equal(cJSON_GetArraySize(ev), 1);
    assert_int_equal(num(cJSON_GetArrayItem(ev, 0), "seq"), 2);
    cJSON_Delete(ev);
    assert_int_equal(aut_db_events(f->db, "a", 3, 100, &ev), 0);
    assert_int_equal(cJSON_GetArraySize(ev), 0);
    cJSON_Delete(ev);

    assert_int_equal(aut_db_events(f->db, "b", 0, 100, &ev), 0);
    assert_string_equal(str(cJSON_GetArrayItem(ev, 0), "data"), "text");
    assert_true(is_null(cJSON_GetArrayItem(ev, 1), "data"));
    cJSON_Delete(ev);

    assert_int_equal(aut_db_event_add(f->db, "a", "x", "{oops", 1.0, &seq), -EINVAL);
    assert_int_equal(aut_db_event_add(f->db, "ghost", "x", "{}", 1.0, &seq), -ENOENT);
    assert_non_null(strstr(aut_db_error(f->db), "no job ghost"));
    assert_int_equal(aut_db_events(f->db, "a", 0, 0, &ev), -EINVAL);
    assert_int_equal(aut_db_events(f->db, "a", 0, 10001, &ev), -EINVAL);
}

static void stages_begin_end_and_add_up(void **state)
{
    struct fx *f = *state;
    cJSON *out = NULL;
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "x86_64", 0, 0);
    assert_int_equal(aut_db_stage_begin(f->db, "a", 1, "build", 1.0), 0);
    assert_int_equal(aut_db_stage_end(f->db, "a", 1, "build", "ok", 2.5, NULL, 3.5), 0);
    assert_int_equal(aut_db_stage_begin(f->db, "a", 1, "boot", 4.0), 0);
    assert_int_equal(aut_db_stage_end(f->db, "a", 1, "boot", "failed", 1.0, "panic", 5.0), 0);
    assert_int_equal(aut_db_stage_begin(f->db, "a", 2, "build", 6.0), 0);
    assert_int_equal(aut_db_stage_end(f->db, "a", 2, "build", "ok", 3.5, NULL, 9.5), 0);
    assert_int_equal(aut_db_stage_end(f->db, "a", 2, "validate", "skipped", 0, "no", 9.6), 0);
    assert_int_equal(aut_db_stage_begin(f->db, "a", 2, "boot", 10.0), 0);
    assert_int_equal(aut_db_stage_begin(f->db, "b", 1, "build", 1.0), 0);
    assert_int_equal(aut_db_stage_end(f->db, "b", 1, "build", "canceled", 0.5, NULL, 1.5), 0);

    assert_int_equal(aut_db_stage_begin(f->db, "a", 2, "boot", 11.0), -EEXIST);
    assert_int_equal(aut_db_stage_begin(f->db, "ghost", 1, "boot", 11.0), -ENOENT);
    assert_int_equal(aut_db_stage_end(f->db, "a", 2, "boot", "great", 1, NULL, 12.0), -EINVAL);

    assert_int_equal(aut_db_stages(f->db, "a", &out), 0);
    const char *want[][3] = {{"1", "build", "ok"},
                             {"1", "boot", "failed"},
                             {"2", "build", "ok"},
                             {"2", "validate", "skipped"},
                             {"2", "boot", "running"}};
    assert_int_equal(cJSON_GetArraySize(out), 5);
    for (int i = 0; i < 5; i++) {
        cJSON *s = cJSON_GetArrayItem(out, i);
        assert_int_equal(num(s, "attempt"), atoi(want[i][0]));
        assert_string_equal(str(s, "name"), want[i][1]);
        assert_string_equal(str(s, "status"), want[i][2]);
    }
    cJSON *boot = cJSON_GetArrayItem(out, 1);
    assert_true(num(boot, "started") == 4.0 && num(boot, "finished") == 5.0);
    assert_true(num(boot, "duration_s") == 1.0);
    assert_string_equal(str(boot, "message"), "panic");
    assert_true(is_null(cJSON_GetArrayItem(out, 3), "started"));
    assert_true(is_null(cJSON_GetArrayItem(out, 4), "finished"));
    cJSON_Delete(out);

    assert_int_equal(aut_db_stage_stats(f->db, &out), 0);
    char *text = cJSON_PrintUnformatted(out);
    assert_string_equal(text, "[{\"name\":\"boot\",\"count\":1,\"sum_s\":1},"
                              "{\"name\":\"build\",\"count\":3,\"sum_s\":6.5},"
                              "{\"name\":\"validate\",\"count\":1,\"sum_s\":0}]");
    free(text);
    cJSON_Delete(out);
}

static void a_nightly_run_is_done_when_its_jobs_are(void **state)
{
    struct fx *f = *state;
    int64_t day1 = 0, manual = 0, other = 0;
    cJSON *runs = NULL;
    assert_int_equal(aut_db_nightly_begin(f->db, "schedule", "2024-05-01", 1.0, &day1), 0);
    assert_int_equal(aut_db_nightly_begin(f->db, "schedule", "2024-05-01", 2.0, &other), -EEXIST);
    assert_non_null(strstr(aut_db_error(f->db), "2024-05-01"));
    assert_int_equal(aut_db_nightly_begin(f->db, "manual", NULL, 3.0, &manual), 0);
    assert_int_equal(aut_db_nightly_begin(f->db, "manual", NULL, 4.0, &other), 0);
    assert_true(day1 < manual && manual < other);
    assert_int_equal(aut_db_nightly_begin(f->db, "cron", NULL, 4.0, &other), -EINVAL);
    assert_int_equal(aut_db_nightly_begin(f->db, "schedule", "May 1", 4.0, &other), -EINVAL);
    assert_int_equal(aut_db_nightly_begin(f->db, "schedule", NULL, 4.0, &other), -EINVAL);

    add_job(f->db, "n1", "x86_64", 0, day1);
    add_job(f->db, "n2", "aarch64", 0, day1);
    add_job(f->db, "solo", "x86_64", 0, 0);
    struct aut_db_job_new bad = {.id = "n3", .nightly_id = 999};
    assert_int_equal(aut_db_job_insert(f->db, &bad, 1.0, NULL), -ENOENT);

    assert_int_equal(aut_db_nightly_update(f->db, day1, 5.0), 0);
    assert_int_equal(aut_db_job_start(f->db, "n1", "/r", 5.0), 0);
    assert_int_equal(aut_db_job_finish(f->db, "n1", "committed", NULL, NULL, NULL, NULL, NULL, 6.0),
                     0);
    assert_int_equal(aut_db_nightly_update(f->db, day1, 6.0), 0); /* n2 queued */
    assert_int_equal(aut_db_job_start(f->db, "n2", "/r", 7.0), 0);
    assert_int_equal(aut_db_nightly_update(f->db, day1, 7.0), 0); /* n2 running */
    assert_int_equal(aut_db_job_finish(f->db, "n2", "failed", "boot", NULL, NULL, NULL, NULL, 8.0),
                     0);
    assert_int_equal(aut_db_nightly_update(f->db, day1, 8.0), 1);
    assert_int_equal(aut_db_nightly_update(f->db, day1, 9.0), 1);   /* already done */
    assert_int_equal(aut_db_nightly_update(f->db, manual, 9.0), 1); /* no jobs at all */
    assert_int_equal(aut_db_nightly_update(f->db, 999, 9.0), -ENOENT);

    assert_int_equal(aut_db_nightly_list(f->db, 10, &runs), 0);
    assert_int_equal(cJSON_GetArraySize(runs), 3);
    cJSON *newest = cJSON_GetArrayItem(runs, 0), *first = cJSON_GetArrayItem(runs, 2);
    assert_int_equal(num(newest, "id"), other);
    assert_string_equal(str(newest, "state"), "running");
    assert_true(is_null(newest, "finished") && is_null(newest, "day"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(newest, "jobs")), 0);
    assert_string_equal(str(first, "trigger"), "schedule");
    assert_string_equal(str(first, "day"), "2024-05-01");
    assert_string_equal(str(first, "state"), "done");
    assert_true(num(first, "finished") == 8.0);
    cJSON *jobs = cJSON_GetObjectItem(first, "jobs");
    assert_int_equal(cJSON_GetArraySize(jobs), 2);
    assert_string_equal(str(cJSON_GetArrayItem(jobs, 0), "id"), "n1");
    assert_int_equal(num(cJSON_GetArrayItem(jobs, 1), "nightly_id"), day1);
    cJSON_Delete(runs);
    assert_int_equal(aut_db_nightly_list(f->db, 1, &runs), 0);
    assert_int_equal(cJSON_GetArraySize(runs), 1);
    cJSON_Delete(runs);
}

static void deliveries_are_recorded_and_pending_ones_listed(void **state)
{
    struct fx *f = *state;
    int64_t d1 = 0, d2 = 0, d3 = 0;
    cJSON *out = NULL;
    add_job(f->db, "a", "x86_64", 0, 0);
    add_job(f->db, "b", "x86_64", 0, 0);
    assert_int_equal(
        aut_db_delivery_add(f->db, "a", "http://h/1", "job.finished", "{\"x\":1}", 1.0, &d1), 0);
    assert_int_equal(
        aut_db_delivery_add(f->db, "a", "http://h/2", "job.finished", "{\"x\":2}", 2.0, &d2), 0);
    assert_int_equal(aut_db_delivery_add(f->db, "b", "http://h/3", "job.started", "{}", 3.0, &d3),
                     0);
    assert_int_equal(aut_db_delivery_add(f->db, "ghost", "http://h", "e", "{}", 3.0, &d3), -ENOENT);
    assert_int_equal(aut_db_delivery_update(f->db, d1, 1, "delivered", 200, NULL, 4.0), 0);
    assert_int_equal(aut_db_delivery_update(f->db, d2, 2, "pending", 0, "connection refused", 5.0),
                     0);
    assert_int_equal(aut_db_delivery_update(f->db, 999, 1, "failed", 500, NULL, 5.0), -ENOENT);
    assert_int_equal(aut_db_delivery_update(f->db, d1, 1, "lost", 500, NULL, 5.0), -EINVAL);

    assert_int_equal(aut_db_deliveries(f->db, "a", &out), 0);
    assert_int_equal(cJSON_GetArraySize(out), 2);
    cJSON *one = cJSON_GetArrayItem(out, 0), *two = cJSON_GetArrayItem(out, 1);
    assert_int_equal(num(one, "id"), d1);
    assert_string_equal(str(one, "url"), "http://h/1");
    assert_string_equal(str(one, "event"), "job.finished");
    assert_string_equal(str(one, "state"), "delivered");
    assert_int_equal(num(one, "attempts"), 1);
    assert_int_equal(num(one, "http_status"), 200);
    assert_true(is_null(one, "error"));
    assert_true(num(one, "created") == 1.0 && num(one, "updated") == 4.0);
    assert_null(cJSON_GetObjectItem(one, "body"));
    assert_string_equal(str(two, "error"), "connection refused");
    cJSON_Delete(out);

    assert_int_equal(aut_db_deliveries(f->db, NULL, &out), 0);
    assert_int_equal(cJSON_GetArraySize(out), 2); /* d2 and d3 */
    two = cJSON_GetArrayItem(out, 0);
    assert_int_equal(num(two, "id"), d2);
    assert_string_equal(str(two, "job"), "a");
    assert_string_equal(str(two, "body"), "{\"x\":2}");
    assert_int_equal(num(two, "http_status"), 0);
    assert_int_equal(num(cJSON_GetArrayItem(out, 1), "id"), d3);
    cJSON_Delete(out);
}

static void counts_group_by_state_and_class(void **state)
{
    struct fx *f = *state;
    const char *ids[] = {"q1", "q2", "r1", "c1", "f1", "f2", "rb"};
    char **in = NULL;
    size_t n = 9;
    unsigned depth = 0;
    cJSON *out = NULL;
    for (int i = 0; i < 7; i++)
        add_job(f->db, ids[i], "x86_64", 0, 0);
    assert_int_equal(aut_db_job_start(f->db, "r1", "/r", 1.0), 0);
    assert_int_equal(aut_db_job_finish(f->db, "c1", "committed", NULL, NULL, NULL, NULL, NULL, 2.0),
                     0);
    assert_int_equal(aut_db_job_finish(f->db, "f2", "failed", "build", NULL, NULL, NULL, NULL, 2.0),
                     0);
    assert_int_equal(aut_db_job_finish(f->db, "f1", "failed", "build", NULL, NULL, NULL, NULL, 3.0),
                     0);
    assert_int_equal(
        aut_db_job_finish(f->db, "rb", "rolled_back", "inference", NULL, NULL, NULL, NULL, 3.0), 0);

    assert_int_equal(aut_db_job_counts(f->db, &out), 0);
    cJSON *want = cJSON_Parse("{\"queued\":{\"none\":2},\"running\":{\"none\":1},"
                              "\"committed\":{\"none\":1},\"failed\":{\"build\":2},"
                              "\"rolled_back\":{\"inference\":1}}");
    assert_true(cJSON_Compare(out, want, true));
    cJSON_Delete(want);
    cJSON_Delete(out);

    assert_int_equal(aut_db_queue_depth(f->db, &depth), 0);
    assert_int_equal(depth, 2);
    assert_int_equal(aut_db_jobs_in_state(f->db, "failed", &in, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(in[0], "f1"); /* oldest by insertion, not by finish */
    assert_string_equal(in[1], "f2");
    aut_db_ids_free(in, n);
    assert_int_equal(aut_db_jobs_in_state(f->db, "interrupted", &in, &n), 0);
    assert_int_equal(n, 0);
    aut_db_ids_free(in, n);
    assert_int_equal(aut_db_jobs_in_state(f->db, "bogus", &in, &n), -EINVAL);
}

#define THREADS 4
#define PER_THREAD 200

struct worker {
    struct fx *f;
    int index;
    bool own_handle;             /* open a connection of its own (else share f->db) */
    int64_t seqs[PER_THREAD];    /* seq of each event added to "shared" */
    int idem_rc;                 /* the racing idempotent insert's result */
    char idem_id[AUT_DB_ID_MAX]; /* and the job it names */
    int rc;                      /* first failure, 0 if none */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct aut_db *db = w->f->db;
    char id[32], err[512];
    if (w->own_handle && (w->rc = aut_db_open(w->f->path, &db, err, sizeof err)) < 0)
        return NULL;
    struct aut_db_job_new race = {
        .id = id, .request_json = "{}", .idem_key = "k", .idem_hash = "h"};
    snprintf(id, sizeof id, "race-%d", w->index);
    w->idem_rc = aut_db_job_insert(db, &race, 1.0, w->idem_id);
    for (int i = 0; i < PER_THREAD && !w->rc; i++) {
        snprintf(id, sizeof id, "t%d-%03d", w->index, i);
        struct aut_db_job_new j = {.id = id, .arch = "x86_64", .request_json = "{}"};
        int64_t own = 0;
        if ((w->rc = aut_db_job_insert(db, &j, 1.0, NULL)) == 0 &&
            (w->rc = aut_db_event_add(db, "shared", "tick", "{}", 1.0, &w->seqs[i])) == 0 &&
            (w->rc = aut_db_event_add(db, id, "tick", "{}", 1.0, &own)) == 0 && own != 1)
            w->rc = -EPROTO;
    }
    if (w->own_handle)
        aut_db_close(db);
    return NULL;
}

static void concurrent_inserts_and_events_lose_nothing(void **state)
{
    struct fx *f = *state;
    struct worker w[THREADS];
    pthread_t t[THREADS];
    bool seen[THREADS * PER_THREAD + 1] = {false};
    int inserted = 0;
    unsigned depth = 0;
    cJSON *ev = NULL;
    add_job(f->db, "shared", "x86_64", 0, 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.f = f, .index = i, .own_handle = i >= 2};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);

    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].rc, 0);
        inserted += w[i].idem_rc == 0;
        for (int k = 0; k < PER_THREAD; k++) {
            int64_t s = w[i].seqs[k];
            assert_true(s >= 1 && s <= THREADS * PER_THREAD && !seen[s]);
            seen[s] = true;
        }
    }
    assert_int_equal(inserted, 1); /* one key, one job: the others replayed it */
    for (int i = 0; i < THREADS; i++)
        if (w[i].idem_rc == 1)
            assert_non_null(strstr(w[i].idem_id, "race-"));

    assert_int_equal(aut_db_queue_depth(f->db, &depth), 0);
    assert_int_equal(depth, 1 + 1 + THREADS * PER_THREAD);
    assert_int_equal(aut_db_events(f->db, "shared", 0, 10000, &ev), 0);
    assert_int_equal(cJSON_GetArraySize(ev), THREADS * PER_THREAD);
    for (int i = 0; i < THREADS * PER_THREAD; i++)
        assert_int_equal(num(cJSON_GetArrayItem(ev, i), "seq"), i + 1);
    cJSON_Delete(ev);
}

static void bad_arguments_are_errors(void **state)
{
    struct fx *f = *state;
    cJSON *out = NULL;
    int64_t id = 0;
    struct aut_db *db = NULL;
    assert_int_equal(aut_db_job_insert(f->db, NULL, 1.0, NULL), -EINVAL);
    assert_null(aut_db_job_get(f->db, NULL));
    assert_int_equal(aut_db_job_start(f->db, NULL, "/r", 1.0), -EINVAL);
    assert_non_null(strstr(aut_db_error(f->db), "id"));
    assert_int_equal(aut_db_job_set_stage(f->db, NULL, "x", 1), -EINVAL);
    assert_int_equal(aut_db_job_request_cancel(f->db, NULL), -EINVAL);
    assert_int_equal(aut_db_job_finish(f->db, NULL, "failed", 0, 0, 0, 0, 0, 1.0), -EINVAL);
    assert_int_equal(aut_db_stage_begin(f->db, NULL, 1, "x", 1.0), -EINVAL);
    assert_int_equal(aut_db_stages(f->db, NULL, &out), -EINVAL);
    assert_int_equal(aut_db_event_add(f->db, "a", NULL, "{}", 1.0, &id), -EINVAL);
    assert_int_equal(aut_db_nightly_list(f->db, 0, &out), -EINVAL);
    assert_int_equal(aut_db_delivery_add(f->db, NULL, NULL, "e", "{}", 1.0, &id), -EINVAL);
    assert_int_equal(aut_db_open(NULL, &db, f->err, sizeof f->err), -EINVAL);
    assert_null(out);
    assert_null(db);
    aut_db_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(open_creates_the_file_in_wal_mode_at_schema_1, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reopen_keeps_the_data_and_the_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(a_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_path_that_cannot_be_created_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(a_job_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(an_idempotency_key_replays_or_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(the_queue_runs_by_priority_then_fifo_skipping_busy_arches,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_job_starts_only_from_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(finish_refuses_a_terminal_job, setup, teardown),
        cmocka_unit_test_setup_teardown(list_pages_newest_first_with_a_cursor_and_a_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(events_are_numbered_per_job, setup, teardown),
        cmocka_unit_test_setup_teardown(stages_begin_end_and_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(a_nightly_run_is_done_when_its_jobs_are, setup, teardown),
        cmocka_unit_test_setup_teardown(deliveries_are_recorded_and_pending_ones_listed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(counts_group_by_state_and_class, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_inserts_and_events_lose_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_are_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
