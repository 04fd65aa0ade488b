/*
 * db.c - autond's job store on SQLite (see db.h): opening in WAL mode, the
 * schema migrations, and every query on jobs, stages, events, nightly runs
 * and webhook deliveries. All SQL of the daemon lives here, always with
 * bound parameters; SQLite's result codes become -errno values here too.
 */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fsutil.h"

#define ERR_MAX 512
#define LIST_MAX 1000u
#define EVENTS_MAX 10000u

struct aut_db {
    sqlite3 *conn;
    pthread_mutex_t mu; /* held for the whole of every public call */
    int version;        /* schema version after the migrations */
    char err[ERR_MAX];  /* the last failure, written under mu */
};

/* Migration i takes the schema from version i to i + 1. Static text only:
 * nothing here is built from data. */
static const char *const migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE nightly_runs(id INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL,"
    " day TEXT UNIQUE, state TEXT NOT NULL, started REAL, finished REAL);"
    "CREATE TABLE jobs(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
    " state TEXT NOT NULL, class TEXT, stage TEXT, message TEXT, recommendation TEXT,"
    " arch TEXT, model TEXT, priority INTEGER NOT NULL DEFAULT 0, request TEXT NOT NULL,"
    " idem_key TEXT UNIQUE, idem_hash TEXT,"
    " nightly_id INTEGER REFERENCES nightly_runs(id), retry_of TEXT,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0, report_dir TEXT, summary TEXT,"
    " attempt INTEGER NOT NULL DEFAULT 0, created REAL, started REAL, finished REAL);"
    "CREATE INDEX jobs_queue ON jobs(state, priority DESC, seq);"
    "CREATE INDEX jobs_nightly ON jobs(nightly_id);"
    "CREATE TABLE stages(job TEXT NOT NULL REFERENCES jobs(id), attempt INTEGER NOT NULL,"
    " name TEXT NOT NULL, status TEXT NOT NULL, started REAL, finished REAL,"
    " duration_s REAL, message TEXT, PRIMARY KEY(job, attempt, name));"
    "CREATE TABLE events(job TEXT NOT NULL REFERENCES jobs(id), seq INTEGER NOT NULL,"
    " time REAL, type TEXT NOT NULL, data TEXT, PRIMARY KEY(job, seq));"
    "CREATE TABLE deliveries(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " job TEXT REFERENCES jobs(id), url TEXT NOT NULL, event TEXT, body TEXT,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER,"
    " error TEXT, created REAL, updated REAL);"
    "CREATE INDEX deliveries_job ON deliveries(job);"
    "CREATE INDEX deliveries_state ON deliveries(state);",
};

_Static_assert(sizeof migrations / sizeof *migrations == AUT_DB_SCHEMA_VERSION,
               "one migration per schema version");

/* The columns of a job object, in the order db.h documents them. */
#define JOB_COLS                                                                                   \
    "id, seq, state, class, stage, message, recommendation, arch, model, priority, request,"       \
    " nightly_id, retry_of, cancel_requested, report_dir, summary, created, started, finished,"    \
    " attempt"

/* "done": a job that is not an integration (an agent tool) and succeeded */
static const char *const terminal_states[] = {"committed", "rolled_back", "failed",
                                              "canceled",  "interrupted", "done"};

/* ---- errors, statements, transactions ---- */

static int fail(struct aut_db *db, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a message for aut_db_error; returns rc. */
static int fail(struct aut_db *db, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* Translates an SQLite result code: a missing parent row is -ENOENT, a
 * unique key taken -EEXIST, another constraint -EINVAL, the rest -EIO. */
static int sql_fail(struct aut_db *db, int src, const char *what)
{
    int rc = -EIO;
    if (src == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = -ENOENT;
    else if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = -EEXIST;
    else if ((src & 0xff) == SQLITE_CONSTRAINT)
        rc = -EINVAL;
    else if ((src & 0xff) == SQLITE_NOMEM)
        rc = -ENOMEM;
    return fail(db, rc, "%s: %s", what, sqlite3_errmsg(db->conn));
}

/* Binds one argument per letter of types: s text (NULL binds NULL), f double,
 * i int, u unsigned, l int64_t. Strings must outlive the statement. */
static int bind_all(sqlite3_stmt *st, const char *types, va_list ap)
{
    int src = SQLITE_OK;
    for (int i = 0; src == SQLITE_OK && types[i]; i++) {
        const char *s;
        switch (types[i]) {
        case 's':
            s = va_arg(ap, const char *);
            src = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_STATIC)
                    : sqlite3_bind_null(st, i + 1);
            break;
        case 'f':
            src = sqlite3_bind_double(st, i + 1, va_arg(ap, double));
            break;
        case 'i':
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int));
            break;
        case 'u':
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, unsigned));
            break;
        case 'l':
            src = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
            break;
        default:
            src = SQLITE_MISUSE;
        }
    }
    return src;
}

static int vprepare(struct aut_db *db, sqlite3_stmt **out, const char *what, const char *sql,
                    const char *types, va_list ap)
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
    if (src == SQLITE_OK)
        src = bind_all(st, types, ap);
    if (src != SQLITE_OK) {
        int rc = sql_fail(db, src, what);
        sqlite3_finalize(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* A prepared statement with its parameters bound, for the caller to step
 * and finalize. */
static int query(struct aut_db *db, sqlite3_stmt **out, const char *what, const char *sql,
                 const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = vprepare(db, out, what, sql, types, ap);
    va_end(ap);
    return rc;
}

/* Runs a statement that returns no rows. Returns the number of rows it
 * changed, or negative. */
static int run(struct aut_db *db, const char *what, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = vprepare(db, &st, what, sql, types, ap);
    va_end(ap);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    rc = src == SQLITE_DONE ? sqlite3_changes(db->conn) : sql_fail(db, src, what);
    sqlite3_finalize(st);
    return rc;
}

/* The first column of the first row as an integer: 1 and *out when there is
 * a row, 0 when there is none, or negative. */
static int scalar(struct aut_db *db, int64_t *out, const char *what, const char *sql,
                  const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, types);
    int rc = vprepare(db, &st, what, sql, types, ap);
    va_end(ap);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 1;
    } else {
        rc = src == SQLITE_DONE ? 0 : sql_fail(db, src, what);
    }
    sqlite3_finalize(st);
    return rc;
}

/* IMMEDIATE takes the write lock up front, so a read-then-write inside the
 * transaction cannot be invalidated by another connection's write (which a
 * deferred transaction would report as SQLITE_BUSY, past the busy timeout). */
static int begin(struct aut_db *db)
{
    int src = sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : sql_fail(db, src, "begin a transaction");
}

/* Commits when rc >= 0, else rolls back; returns rc or the commit's error. */
static int end(struct aut_db *db, int rc)
{
    if (rc >= 0) {
        int src = sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL);
        if (src == SQLITE_OK)
            return rc;
        rc = sql_fail(db, src, "commit");
    }
    sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void lock(struct aut_db *db)
{
    pthread_mutex_lock(&db->mu);
    db->err[0] = '\0';
}

static void unlock(struct aut_db *db)
{
    pthread_mutex_unlock(&db->mu);
}

/* ---- rows as JSON ---- */

/* A row as an object keyed by column name: numbers, strings, nulls. */
static cJSON *row_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0, n = sqlite3_column_count(st); o && i < n; i++) {
        cJSON *v;
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            v = cJSON_CreateNumber((double)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT:
            v = cJSON_CreateNumber(sqlite3_column_double(st, i));
            break;
        case SQLITE_TEXT:
            v = cJSON_CreateString((const char *)sqlite3_column_text(st, i));
            break;
        default:
            v = cJSON_CreateNull();
        }
        if (!v || !cJSON_AddItemToObject(o, sqlite3_column_name(st, i), v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return o;
}

enum parsed { ANY, OBJECT_OR_NULL, OBJECT_OR_EMPTY };

/* Replaces the JSON text under key with its parsed value. Text that does
 * not parse (or is not the object asked for) becomes null, or {}. */
static int parse_member(cJSON *o, const char *key, enum parsed want)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    cJSON *v = cJSON_IsString(item) ? cJSON_Parse(item->valuestring) : NULL;
    if (v && want != ANY && !cJSON_IsObject(v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    if (!v)
        v = want == OBJECT_OR_EMPTY ? cJSON_CreateObject() : cJSON_CreateNull();
    if (!v || !cJSON_ReplaceItemInObjectCaseSensitive(o, key, v)) {
        cJSON_Delete(v);
        return -ENOMEM;
    }
    return 0;
}

/* A row of JOB_COLS as the job object of db.h. */
static cJSON *job_json(sqlite3_stmt *st)
{
    cJSON *o = row_json(st);
    if (!o)
        return NULL;
    cJSON *cancel = cJSON_GetObjectItemCaseSensitive(o, "cancel_requested");
    cJSON *b = cJSON_CreateBool(cJSON_IsNumber(cancel) && cancel->valuedouble != 0);
    if (!b || !cJSON_ReplaceItemInObjectCaseSensitive(o, "cancel_requested", b)) {
        cJSON_Delete(b);
        goto fail;
    }
    if (parse_member(o, "request", OBJECT_OR_EMPTY) < 0 ||
        parse_member(o, "summary", OBJECT_OR_NULL) < 0)
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static cJSON *event_json(sqlite3_stmt *st)
{
    cJSON *o = row_json(st);
    if (o && parse_member(o, "data", ANY) < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Steps st, appending up to max rows converted by conv to arr. *more (when
 * not NULL) tells whether rows were left. Returns 0 or negative. */
static int collect(struct aut_db *db, sqlite3_stmt *st, const char *what,
                   cJSON *(*conv)(sqlite3_stmt *), unsigned max, cJSON *arr, bool *more)
{
    unsigned n = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        cJSON *o = conv(st);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            return fail(db, -ENOMEM, "%s: out of memory", what);
        }
        n++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return sql_fail(db, src, what);
    if (more)
        *more = src == SQLITE_ROW;
    return 0;
}

/* A fresh array filled by collect from a statement that the call finalizes. */
static int collect_new(struct aut_db *db, sqlite3_stmt *st, const char *what,
                       cJSON *(*conv)(sqlite3_stmt *), unsigned max, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    int rc = arr ? collect(db, st, what, conv, max, arr, NULL)
                 : fail(db, -ENOMEM, "%s: out of memory", what);
    sqlite3_finalize(st);
    if (rc < 0) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* ---- open, migrate, close ---- */

/* The version in meta, 0 for a database without the meta table. */
static int read_version(struct aut_db *db, int64_t *v)
{
    int64_t n = 0;
    int rc =
        scalar(db, &n, "read the schema version",
               "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", "");
    *v = 0;
    if (rc < 0 || n == 0)
        return rc < 0 ? rc : 0;
    rc = scalar(db, v, "read the schema version",
                "SELECT value FROM meta WHERE key = 'schema_version'", "");
    return rc < 0 ? rc : 0;
}

/* One step: the migration from the version found, in its own transaction
 * (the version is read inside it, so two processes opening the same new
 * database do not both migrate). Returns 1 when a step was applied, 0 at the
 * current version. */
static int migrate_step(struct aut_db *db)
{
    int64_t v = 0;
    int src, rc = begin(db);
    if (rc < 0)
        return rc;
    if ((rc = read_version(db, &v)) < 0)
        return end(db, rc);
    if (v < 0 || v > AUT_DB_SCHEMA_VERSION)
        return end(db,
                   fail(db, -EPROTO, "schema version %lld is not one this build knows (newest %d)",
                        (long long)v, AUT_DB_SCHEMA_VERSION));
    db->version = (int)v;
    if (v == AUT_DB_SCHEMA_VERSION)
        return end(db, 0);
    src = sqlite3_exec(db->conn, migrations[v], NULL, NULL, NULL);
    if (src != SQLITE_OK)
        return end(db, sql_fail(db, src, "migrate the schema"));
    rc = run(db, "record the schema version",
             "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)", "l", v + 1);
    if ((rc = end(db, rc)) < 0)
        return rc;
    db->version = (int)v + 1;
    return 1;
}

/* mkdir -p of the directory path is in. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof dir)
        return aut_fs_fail(err, errlen, -ENAMETOOLONG, "%s", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    int rc = aut_mkdirs(dir, 0755);
    return rc < 0 ? aut_fs_fail(err, errlen, rc, "create directory %s for %s", dir, path) : 0;
}

/* The connection's settings; busy_timeout first, so that switching to WAL
 * waits for another process's lock rather than failing. */
static int configure(struct aut_db *db)
{
    int src = sqlite3_exec(db->conn,
                           "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;"
                           " PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                           NULL, NULL, NULL);
    return src == SQLITE_OK ? 0 : sql_fail(db, src, "configure");
}

int aut_db_open(const char *path, struct aut_db **out, char *err, size_t errlen)
{
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    struct aut_db *db;
    int rc;
    if (!path || !*path || !out)
        return aut_fs_fail(err, errlen, -EINVAL, "open the job store");
    if ((rc = make_parent(path, err, errlen)) < 0)
        return rc;
    if (!(db = calloc(1, sizeof *db)))
        return aut_fs_fail(err, errlen, -ENOMEM, "%s", path);
    if ((rc = -pthread_mutex_init(&db->mu, NULL)) < 0) {
        free(db);
        return aut_fs_fail(err, errlen, rc, "%s", path);
    }
    int src = sqlite3_open_v2(path, &db->conn, flags, NULL);
    if (src != SQLITE_OK) {
        rc = db->conn ? sql_fail(db, src, "open")
                      : fail(db, -ENOMEM, "open: %s", sqlite3_errstr(src));
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    if ((rc = configure(db)) < 0)
        goto fail;
    while ((rc = migrate_step(db)) > 0)
        ;
    if (rc < 0)
        goto fail;
    *out = db;
    return 0;
fail:
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, db->err);
    sqlite3_close_v2(db->conn);
    pthread_mutex_destroy(&db->mu);
    free(db);
    return rc;
}

void aut_db_close(struct aut_db *db)
{
    if (!db)
        return;
    sqlite3_close_v2(db->conn);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

const char *aut_db_error(struct aut_db *db)
{
    return db ? db->err : "no job store";
}

int aut_db_schema_version(struct aut_db *db)
{
    lock(db);
    int v = db->version;
    unlock(db);
    return v;
}

/* ---- jobs ---- */

static bool is_terminal(const char *state)
{
    for (size_t i = 0; i < sizeof terminal_states / sizeof *terminal_states; i++)
        if (!strcmp(state, terminal_states[i]))
            return true;
    return false;
}

static bool is_state(const char *state)
{
    return state && (!strcmp(state, "queued") || !strcmp(state, "running") || is_terminal(state));
}

/* Whether text parses as JSON (as an object when object is set). */
static bool valid_json(const char *text, bool object)
{
    cJSON *v = cJSON_Parse(text);
    bool ok = v && (!object || cJSON_IsObject(v));
    cJSON_Delete(v);
    return ok;
}

/* Says which row a failed insert referred to or collided with: -ENOENT is
 * a missing job (a foreign key), -EEXIST the row already there. */
static int name_row(struct aut_db *db, int rc, const char *what, const char *row)
{
    if (rc == -ENOENT)
        return fail(db, rc, "%s: no job %s", what, row ? row : "(null)");
    if (rc == -EEXIST)
        return fail(db, rc, "%s: %s exists already", what, row ? row : "(null)");
    return rc;
}

/* The id of the job holding idem_key into existing; 1 when the hashes agree
 * (both absent counts as agreeing), -EEXIST when not, 0 when the key is new. */
static int idem_lookup(struct aut_db *db, const struct aut_db_job_new *j,
                       char existing[AUT_DB_ID_MAX])
{
    sqlite3_stmt *st = NULL;
    int rc = query(db, &st, "look up the idempotency key",
                   "SELECT id, idem_hash FROM jobs WHERE idem_key = ?", "s", j->idem_key);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        bool same =
            (!hash && !j->idem_hash) || (hash && j->idem_hash && !strcmp(hash, j->idem_hash));
        if (existing)
            snprintf(existing, AUT_DB_ID_MAX, "%s", id ? id : "");
        rc = same ? 1
                  : fail(db, -EEXIST, "idempotency key %s was used for job %s with another body",
                         j->idem_key, id ? id : "?");
    } else if (src != SQLITE_DONE) {
        rc = sql_fail(db, src, "look up the idempotency key");
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_new_job(struct aut_db *db, const struct aut_db_job_new *j)
{
    if (!j || !j->id || !*j->id || strlen(j->id) >= AUT_DB_ID_MAX)
        return fail(db, -EINVAL, "insert job: id missing or longer than %d bytes",
                    AUT_DB_ID_MAX - 1);
    if (j->request_json && !valid_json(j->request_json, true))
        return fail(db, -EINVAL, "insert job %s: request_json is not a JSON object", j->id);
    if (j->nightly_id < 0)
        return fail(db, -EINVAL, "insert job %s: nightly_id is negative", j->id);
    return 0;
}

int aut_db_job_insert(struct aut_db *db, const struct aut_db_job_new *j, double now,
                      char existing[AUT_DB_ID_MAX])
{
    lock(db);
    int rc = check_new_job(db, j);
    if (rc < 0 || (rc = begin(db)) < 0)
        goto out;
    /* the key lookup and the insert share one write transaction, so two
     * requests with the same key cannot both insert */
    rc = j->idem_key ? idem_lookup(db, j, existing) : 0;
    if (rc == 0) {
        rc = run(db, "insert job",
                 "INSERT INTO jobs(id, state, arch, model, priority, request, idem_key, idem_hash,"
                 " nightly_id, retry_of, created) VALUES(?, 'queued', ?, ?, ?, ?, ?, ?,"
                 " NULLIF(?, 0), ?, ?)",
                 "sssissslsf", j->id, j->arch, j->model, j->priority,
                 j->request_json ? j->request_json : "{}", j->idem_key, j->idem_hash, j->nightly_id,
                 j->retry_of, now);
        if (rc == -ENOENT)
            fail(db, rc, "insert job %s: no nightly run %lld", j->id, (long long)j->nightly_id);
        else if (rc == -EEXIST)
            name_row(db, rc, "insert job", j->id);
        rc = rc < 0 ? rc : 0;
    }
    rc = end(db, rc); /* 1 (a replay) commits nothing */
out:
    unlock(db);
    return rc;
}

/* The one job of a statement selecting JOB_COLS, or NULL; finalizes st. */
static cJSON *one_job(struct aut_db *db, sqlite3_stmt *st, const char *what)
{
    cJSON *o = NULL;
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW && !(o = job_json(st)))
        fail(db, -ENOMEM, "%s: out of memory", what);
    else if (src != SQLITE_ROW && src != SQLITE_DONE)
        sql_fail(db, src, what);
    sqlite3_finalize(st);
    return o;
}

cJSON *aut_db_job_get(struct aut_db *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    if (!id)
        return NULL;
    lock(db);
    if (query(db, &st, "get job", "SELECT " JOB_COLS " FROM jobs WHERE id = ?", "s", id) == 0 &&
        !(o = one_job(db, st, "get job")) && !db->err[0])
        fail(db, -ENOENT, "no job %s", id);
    unlock(db);
    return o;
}

int aut_db_job_list(struct aut_db *db, const char *state, unsigned limit, int64_t cursor,
                    cJSON **items, int64_t *next_cursor)
{
    sqlite3_stmt *st = NULL;
    cJSON *arr = NULL;
    bool more = false;
    int rc;
    lock(db);
    if (limit < 1 || limit > LIST_MAX || cursor < 0 || (state && !is_state(state))) {
        rc = fail(db, -EINVAL, "list jobs: bad state, limit (1..%u) or cursor", LIST_MAX);
        goto out;
    }
    rc = query(db, &st, "list jobs",
               "SELECT " JOB_COLS " FROM jobs WHERE (?1 IS NULL OR state = ?1)"
               " AND (?2 = 0 OR seq < ?2) ORDER BY seq DESC LIMIT ?3",
               "slu", state, cursor, limit + 1);
    if (rc < 0)
        goto out;
    if (!(arr = cJSON_CreateArray()))
        rc = fail(db, -ENOMEM, "list jobs: out of memory");
    else
        rc = collect(db, st, "list jobs", job_json, limit, arr, &more);
    sqlite3_finalize(st);
    if (rc < 0) {
        cJSON_Delete(arr);
        goto out;
    }
    /* the next page starts below the last job of this one */
    cJSON *last = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1);
    *next_cursor = more && last ? (int64_t)cJSON_GetObjectItem(last, "seq")->valuedouble : 0;
    *items = arr;
out:
    unlock(db);
    return rc;
}

static bool is_busy(const char *arch, const char *const *busy, size_t n_busy)
{
    for (size_t i = 0; arch && i < n_busy; i++)
        if (busy[i] && !strcmp(arch, busy[i]))
            return true;
    return false;
}

int aut_db_job_next(struct aut_db *db, const char *const *busy, size_t n_busy,
                    char id[AUT_DB_ID_MAX])
{
    sqlite3_stmt *st = NULL;
    int src, rc;
    lock(db);
    /* walks the queue index in order; the busy architectures are few, so the
     * first job not on one of them comes early */
    rc = query(db, &st, "next job",
               "SELECT id, arch FROM jobs WHERE state = 'queued' ORDER BY priority DESC, seq", "");
    if (rc < 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW)
        if (!is_busy((const char *)sqlite3_column_text(st, 1), busy, n_busy))
            break;
    if (src == SQLITE_ROW)
        snprintf(id, AUT_DB_ID_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    else
        rc = src == SQLITE_DONE ? fail(db, -ENOENT, "no queued job to run")
                                : sql_fail(db, src, "next job");
    sqlite3_finalize(st);
out:
    unlock(db);
    return rc;
}

/* The result rc of an UPDATE of one job: 0 when it changed the row, -ENOENT
 * when it matched none (no such job, or not in the state asked for). */
static int changed(struct aut_db *db, int rc, const char *what, const char *id)
{
    if (rc == 0)
        return fail(db, -ENOENT, "%s %s: no such job in a state that allows it", what, id);
    return rc < 0 ? rc : 0;
}

int aut_db_job_start(struct aut_db *db, const char *id, const char *report_dir, double now)
{
    lock(db);
    int rc = !id ? fail(db, -EINVAL, "start job: id missing")
                 : run(db, "start job",
                       "UPDATE jobs SET state = 'running', started = ?, report_dir = ?"
                       " WHERE id = ? AND state = 'queued'",
                       "fss", now, report_dir, id);
    rc = changed(db, rc, "start job", id);
    unlock(db);
    return rc;
}

int aut_db_job_set_stage(struct aut_db *db, const char *id, const char *stage, unsigned attempt)
{
    lock(db);
    int rc = !id ? fail(db, -EINVAL, "set the stage of job: id missing")
                 : run(db, "set the stage of job",
                       "UPDATE jobs SET stage = ?, attempt = ? WHERE id = ?"
                       " AND state IN ('queued', 'running')",
                       "sus", stage, attempt, id);
    rc = changed(db, rc, "set the stage of job", id);
    unlock(db);
    return rc;
}

int aut_db_job_request_cancel(struct aut_db *db, const char *id)
{
    lock(db);
    int rc = !id ? fail(db, -EINVAL, "cancel job: id missing")
                 : run(db, "cancel job",
                       "UPDATE jobs SET cancel_requested = 1 WHERE id = ?"
                       " AND state IN ('queued', 'running')",
                       "s", id);
    rc = changed(db, rc, "cancel job", id);
    unlock(db);
    return rc;
}

int aut_db_job_finish(struct aut_db *db, const char *id, const char *state, const char *cls,
                      const char *stage, const char *message, const char *recommendation,
                      const char *summary_json, double now)
{
    int rc;
    lock(db);
    if (!id || !state || !is_terminal(state)) {
        rc = fail(db, -EINVAL, "finish job %s: '%s' is not a terminal state", id ? id : "(null)",
                  state ? state : "(null)");
    } else if (summary_json && !valid_json(summary_json, true)) {
        rc = fail(db, -EINVAL, "finish job %s: summary_json is not a JSON object", id);
    } else {
        /* NULL keeps what the job already has (its last stage, say) */
        rc = run(db, "finish job",
                 "UPDATE jobs SET state = ?, class = COALESCE(?, class),"
                 " stage = COALESCE(?, stage), message = COALESCE(?, message),"
                 " recommendation = COALESCE(?, recommendation), summary = COALESCE(?, summary),"
                 " finished = ? WHERE id = ? AND state IN ('queued', 'running')",
                 "ssssssfs", state, cls, stage, message, recommendation, summary_json, now, id);
        rc = changed(db, rc, "finish job", id);
    }
    unlock(db);
    return rc;
}

int aut_db_job_cancel_queued(struct aut_db *db, const char *id, double now)
{
    lock(db);
    int rc = run(db, "cancel queued job",
                 "UPDATE jobs SET state = 'canceled', class = 'canceled',"
                 " message = 'canceled before it started', finished = ?"
                 " WHERE id = ? AND state = 'queued'",
                 "fs", now, id ? id : "");
    rc = changed(db, rc, "cancel queued job", id ? id : "(null)");
    unlock(db);
    return rc;
}

/* Appends a copy of text to the growing array *ids of *n entries. */
static int push_id(char ***ids, size_t *n, const char *text)
{
    char **grown = realloc(*ids, (*n + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    *ids = grown;
    if (!(grown[*n] = strdup(text ? text : "")))
        return -ENOMEM;
    (*n)++;
    return 0;
}

int aut_db_jobs_in_state(struct aut_db *db, const char *state, char ***ids, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **v = NULL;
    size_t count = 0;
    int src = SQLITE_DONE, rc;
    lock(db);
    if (!is_state(state)) {
        rc = fail(db, -EINVAL, "jobs in state: unknown state '%s'", state ? state : "(null)");
        goto out;
    }
    rc = query(db, &st, "jobs in state", "SELECT id FROM jobs WHERE state = ? ORDER BY seq", "s",
               state);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = push_id(&v, &count, (const char *)sqlite3_column_text(st, 0))) < 0)
            fail(db, rc, "jobs in state: out of memory");
    if (rc == 0 && src != SQLITE_DONE)
        rc = sql_fail(db, src, "jobs in state");
    sqlite3_finalize(st);
    if (rc < 0) {
        aut_db_ids_free(v, count);
        goto out;
    }
    *ids = v;
    *n = count;
out:
    unlock(db);
    return rc;
}

void aut_db_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

int aut_db_queue_depth(struct aut_db *db, unsigned *n)
{
    int64_t count = 0;
    lock(db);
    int rc =
        scalar(db, &count, "queue depth", "SELECT count(*) FROM jobs WHERE state = 'queued'", "");
    if (rc >= 0)
        *n = (unsigned)count;
    unlock(db);
    return rc < 0 ? rc : 0;
}

/* Adds count under out[state][cls], creating out[state] when missing. */
static int add_count(cJSON *out, const char *state, const char *cls, double count)
{
    cJSON *by_class = cJSON_GetObjectItemCaseSensitive(out, state);
    if (!by_class && !(by_class = cJSON_AddObjectToObject(out, state)))
        return -ENOMEM;
    return cJSON_AddNumberToObject(by_class, cls, count) ? 0 : -ENOMEM;
}

int aut_db_job_counts(struct aut_db *db, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    int src = SQLITE_DONE;
    lock(db);
    int rc = query(db, &st, "count jobs",
                   "SELECT state, COALESCE(class, 'none'), count(*) FROM jobs GROUP BY 1, 2", "");
    if (rc == 0 && !(o = cJSON_CreateObject()))
        rc = fail(db, -ENOMEM, "count jobs: out of memory");
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = add_count(o, (const char *)sqlite3_column_text(st, 0),
                            (const char *)sqlite3_column_text(st, 1),
                            (double)sqlite3_column_int64(st, 2))) < 0)
            fail(db, rc, "count jobs: out of memory");
    if (rc == 0 && src != SQLITE_DONE)
        rc = sql_fail(db, src, "count jobs");
    sqlite3_finalize(st);
    if (rc < 0)
        cJSON_Delete(o);
    else
        *out = o;
    unlock(db);
    return rc;
}

cJSON *aut_db_job_last_finished(struct aut_db *db)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    lock(db);
    if (query(db, &st, "last finished job",
              "SELECT " JOB_COLS " FROM jobs WHERE summary IS NOT NULL AND finished IS NOT NULL"
              " ORDER BY finished DESC, seq DESC LIMIT 1",
              "") == 0)
        o = one_job(db, st, "last finished job");
    unlock(db);
    return o;
}

/* ---- stages ---- */

int aut_db_stage_begin(struct aut_db *db, const char *job, unsigned attempt, const char *name,
                       double now)
{
    int rc;
    lock(db);
    if (!job || !name)
        rc = fail(db, -EINVAL, "begin stage: job or name missing");
    else
        rc = run(db, "begin stage",
                 "INSERT INTO stages(job, attempt, name, status, started)"
                 " VALUES(?, ?, ?, 'running', ?)",
                 "susf", job, attempt, name, now);
    if (rc == -EEXIST)
        fail(db, rc, "begin stage %s of job %s: it began already in attempt %u", name, job,
             attempt);
    else
        rc = name_row(db, rc, "begin stage", job);
    unlock(db);
    return rc < 0 ? rc : 0;
}

static bool is_stage_status(const char *s)
{
    return s && (!strcmp(s, "ok") || !strcmp(s, "failed") || !strcmp(s, "skipped") ||
                 !strcmp(s, "canceled"));
}

int aut_db_stage_end(struct aut_db *db, const char *job, unsigned attempt, const char *name,
                     const char *status, double duration_s, const char *message, double now)
{
    int rc;
    lock(db);
    if (!job || !name || !is_stage_status(status)) {
        rc = fail(db, -EINVAL, "end stage: job, name or status ('%s') missing or unknown",
                  status ? status : "(null)");
    } else {
        /* a stage that never began (skipped, say) is recorded as it ends */
        rc = run(db, "end stage",
                 "INSERT INTO stages(job, attempt, name, status, finished, duration_s, message)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(job, attempt, name) DO UPDATE"
                 " SET status = ?4, finished = ?5, duration_s = ?6, message = ?7",
                 "sussffs", job, attempt, name, status, now, duration_s, message);
        rc = name_row(db, rc, "end stage", job);
    }
    unlock(db);
    return rc < 0 ? rc : 0;
}

int aut_db_stages(struct aut_db *db, const char *job, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    int rc;
    lock(db);
    if (!job)
        rc = fail(db, -EINVAL, "stages: job missing");
    else if ((rc = query(db, &st, "stages",
                         "SELECT attempt, name, status, started, finished, duration_s, message"
                         " FROM stages WHERE job = ? ORDER BY attempt, rowid",
                         "s", job)) == 0)
        rc = collect_new(db, st, "stages", row_json, UINT_MAX, out);
    unlock(db);
    return rc;
}

int aut_db_stage_stats(struct aut_db *db, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    lock(db);
    int rc = query(db, &st, "stage statistics",
                   "SELECT name, count(*) AS count, total(duration_s) AS sum_s FROM stages"
                   " WHERE status <> 'running' GROUP BY name ORDER BY name",
                   "");
    if (rc == 0)
        rc = collect_new(db, st, "stage statistics", row_json, UINT_MAX, out);
    unlock(db);
    return rc;
}

/* ---- events ---- */

int aut_db_event_add(struct aut_db *db, const char *job, const char *type, const char *data_json,
                     double now, int64_t *seq)
{
    int64_t next = 0;
    int rc;
    lock(db);
    if (!job || !type) {
        rc = fail(db, -EINVAL, "add event: job or type missing");
        goto out;
    }
    if (data_json && !valid_json(data_json, false)) {
        rc = fail(db, -EINVAL, "add event %s to job %s: data_json is not JSON", type, job);
        goto out;
    }
    if ((rc = begin(db)) < 0)
        goto out;
    rc = scalar(db, &next, "add event",
                "SELECT COALESCE(max(seq), 0) + 1 FROM events WHERE job = ?", "s", job);
    if (rc >= 0)
        rc = run(db, "add event",
                 "INSERT INTO events(job, seq, time, type, data) VALUES(?, ?, ?, ?, ?)", "slfss",
                 job, next, now, type, data_json);
    rc = name_row(db, rc, "add event", job);
    if ((rc = end(db, rc)) >= 0 && seq)
        *seq = next;
out:
    unlock(db);
    return rc < 0 ? rc : 0;
}

int aut_db_events(struct aut_db *db, const char *job, int64_t after, unsigned limit, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    int rc;
    lock(db);
    if (!job || limit < 1 || limit > EVENTS_MAX)
        rc = fail(db, -EINVAL, "events: job missing or limit not in 1..%u", EVENTS_MAX);
    else if ((rc = query(db, &st, "events",
                         "SELECT seq, time, type, data FROM events WHERE job = ? AND seq > ?"
                         " ORDER BY seq LIMIT ?",
                         "slu", job, after, limit)) == 0)
        rc = collect_new(db, st, "events", event_json, limit, out);
    unlock(db);
    return rc;
}

/* ---- nightly runs ---- */

/* "YYYY-MM-DD" by shape (the scheduler makes it; this only keeps junk out). */
static bool is_day(const char *day)
{
    static const char shape[] = "dddd-dd-dd";
    if (!day || strlen(day) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (day[i] < '0' || day[i] > '9') : day[i] != '-')
            return false;
    return true;
}

int aut_db_nightly_begin(struct aut_db *db, const char *trigger, const char *day, double now,
                         int64_t *id)
{
    bool scheduled = trigger && !strcmp(trigger, "schedule");
    int rc;
    lock(db);
    if (!scheduled && !(trigger && !strcmp(trigger, "manual"))) {
        rc = fail(db, -EINVAL, "begin nightly run: trigger '%s' is not schedule or manual",
                  trigger ? trigger : "(null)");
    } else if (scheduled && !is_day(day)) {
        rc = fail(db, -EINVAL, "begin nightly run: day '%s' is not YYYY-MM-DD",
                  day ? day : "(null)");
    } else {
        /* a manual run has no day, so it never collides with the scheduled one */
        rc = run(db, "begin nightly run",
                 "INSERT INTO nightly_runs(trigger, day, state, started)"
                 " VALUES(?, ?, 'running', ?)",
                 "ssf", trigger, scheduled ? day : NULL, now);
        if (rc == -EEXIST)
            fail(db, rc, "begin nightly run: the run of %s exists already", day);
        if (rc >= 0 && id)
            *id = sqlite3_last_insert_rowid(db->conn);
    }
    unlock(db);
    return rc < 0 ? rc : 0;
}

int aut_db_nightly_update(struct aut_db *db, int64_t id, double now)
{
    int64_t done = 0;
    lock(db);
    /* one statement: the check and the mark cannot be split by a job start */
    int rc = run(db, "update nightly run",
                 "UPDATE nightly_runs SET state = 'done', finished = ?1 WHERE id = ?2"
                 " AND state = 'running' AND NOT EXISTS(SELECT 1 FROM jobs WHERE nightly_id = ?2"
                 " AND state IN ('queued', 'running'))",
                 "fl", now, id);
    if (rc == 0) {
        rc = scalar(db, &done, "update nightly run",
                    "SELECT state = 'done' FROM nightly_runs WHERE id = ?", "l", id);
        if (rc == 0)
            rc = fail(db, -ENOENT, "no nightly run %lld", (long long)id);
        else if (rc > 0)
            rc = done ? 1 : 0;
    }
    unlock(db);
    return rc < 0 ? rc : rc > 0;
}

/* Adds run.jobs: the run's jobs, oldest first. */
static int nightly_jobs(struct aut_db *db, cJSON *run_obj)
{
    sqlite3_stmt *st = NULL;
    cJSON *jobs = NULL;
    cJSON *id = cJSON_GetObjectItemCaseSensitive(run_obj, "id");
    int rc = query(db, &st, "list nightly runs",
                   "SELECT " JOB_COLS " FROM jobs WHERE nightly_id = ? ORDER BY seq", "l",
                   (int64_t)(id ? id->valuedouble : 0));
    if (rc == 0)
        rc = collect_new(db, st, "list nightly runs", job_json, UINT_MAX, &jobs);
    if (rc == 0 && !cJSON_AddItemToObject(run_obj, "jobs", jobs)) {
        cJSON_Delete(jobs);
        rc = fail(db, -ENOMEM, "list nightly runs: out of memory");
    }
    return rc;
}

int aut_db_nightly_list(struct aut_db *db, unsigned limit, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    cJSON *runs = NULL;
    int rc;
    lock(db);
    if (limit < 1 || limit > LIST_MAX) {
        rc = fail(db, -EINVAL, "list nightly runs: limit not in 1..%u", LIST_MAX);
        goto out;
    }
    rc = query(db, &st, "list nightly runs",
               "SELECT id, trigger, day, state, started, finished FROM nightly_runs"
               " ORDER BY id DESC LIMIT ?",
               "u", limit);
    if (rc == 0)
        rc = collect_new(db, st, "list nightly runs", row_json, limit, &runs);
    for (int i = 0; rc == 0 && i < cJSON_GetArraySize(runs); i++)
        rc = nightly_jobs(db, cJSON_GetArrayItem(runs, i));
    if (rc < 0)
        cJSON_Delete(runs);
    else
        *out = runs;
out:
    unlock(db);
    return rc;
}

/* ---- webhook deliveries ---- */

int aut_db_delivery_add(struct aut_db *db, const char *job, const char *url, const char *event,
                        const char *body, double now, int64_t *id)
{
    int rc;
    lock(db);
    if (!url) {
        rc = fail(db, -EINVAL, "add delivery: url missing");
    } else {
        rc = run(db, "add delivery",
                 "INSERT INTO deliveries(job, url, event, body, state, attempts, http_status,"
                 " created, updated) VALUES(?1, ?2, ?3, ?4, 'pending', 0, 0, ?5, ?5)",
                 "ssssf", job, url, event, body, now);
        rc = name_row(db, rc, "add delivery", job);
        if (rc >= 0 && id)
            *id = sqlite3_last_insert_rowid(db->conn);
    }
    unlock(db);
    return rc < 0 ? rc : 0;
}

int aut_db_delivery_update(struct aut_db *db, int64_t id, unsigned attempts, const char *state,
                           long http_status, const char *error, double now)
{
    int rc;
    lock(db);
    if (!state ||
        (strcmp(state, "pending") && strcmp(state, "delivered") && strcmp(state, "failed"))) {
        rc = fail(db, -EINVAL, "update delivery %lld: unknown state '%s'", (long long)id,
                  state ? state : "(null)");
    } else {
        rc = run(db, "update delivery",
                 "UPDATE deliveries SET attempts = ?, state = ?, http_status = ?, error = ?,"
                 " updated = ? WHERE id = ?",
                 "uslsfl", attempts, state, (int64_t)http_status, error, now, id);
        if (rc == 0)
            rc = fail(db, -ENOENT, "no delivery %lld", (long long)id);
    }
    unlock(db);
    return rc < 0 ? rc : 0;
}

int aut_db_deliveries(struct aut_db *db, const char *job, cJSON **out)
{
    sqlite3_stmt *st = NULL;
    lock(db);
    int rc = job ? query(db, &st, "list deliveries",
                         "SELECT id, url, event, state, attempts, http_status, error, created,"
                         " updated FROM deliveries WHERE job = ? ORDER BY id",
                         "s", job)
                 : query(db, &st, "list deliveries",
                         "SELECT id, job, url, event, body, state, attempts, http_status, error,"
                         " created, updated FROM deliveries WHERE state = 'pending' ORDER BY id",
                         "");
    if (rc == 0)
        rc = collect_new(db, st, "list deliveries", row_json, UINT_MAX, out);
    unlock(db);
    return rc;
}
