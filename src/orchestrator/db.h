/*
 * db.h - autond's job store: one SQLite database (WAL) holding jobs, their
 * stages and events, nightly runs and webhook deliveries. The only module
 * with SQL in it (STYLE.md rule 8).
 *
 * Thread safety: every function may be called from any thread; a handle
 * serializes its calls with a mutex of its own. Callers keep these calls off
 * the libuv loop thread (the thread pool, or a job's thread).
 *
 * Schema: a `meta` table holds schema_version; aut_db_open applies the
 * migrations in order from the version found up to AUT_DB_SCHEMA_VERSION,
 * each one in a transaction. A database with a version newer than this build
 * knows is refused (-EPROTO) rather than misread.
 *
 * Job states: queued -> running -> committed | rolled_back | failed |
 * canceled | interrupted | done (an agent tool's job that succeeded);
 * queued -> canceled. Terminal states never change.
 * Jobs are taken highest priority first, then FIFO (insertion order).
 *
 * Times are seconds since the epoch (double). JSON returned is the caller's
 * (cJSON_Delete it). Errors: 0 on success, negative errno-style values:
 * -ENOENT (no such job/run/row or not in the state asked for), -EEXIST
 * (conflict), -EIO (SQLite failed; aut_db_error says how).
 */
#ifndef AUTON_ORCH_DB_H
#define AUTON_ORCH_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define AUT_DB_SCHEMA_VERSION 1
#define AUT_DB_ID_MAX 64

struct aut_db;

/* Opens (creating it and its parent directory when missing) the store at
 * path, in WAL mode with a busy timeout, migrated to the current schema.
 * Returns 0 and *out, or negative with err (names path and SQLite's message). */
int aut_db_open(const char *path, struct aut_db **out, char *err, size_t errlen);
void aut_db_close(struct aut_db *db);
/* The last error message of this handle (thread-local to the handle's mutex
 * holder: read it right after the failing call). */
const char *aut_db_error(struct aut_db *db);
int aut_db_schema_version(struct aut_db *db);

/* ---- jobs ---- */

struct aut_db_job_new {
    const char *id;           /* unique job id */
    const char *arch;         /* "x86_64" ... */
    const char *model;        /* the model as requested (path, name, URL or bundle) */
    int priority;             /* higher runs first; 0 by default */
    const char *request_json; /* the whole request, stored as given (normalized JSON) */
    const char *idem_key;     /* Idempotency-Key header, or NULL */
    const char *idem_hash;    /* sha256 hex of the request body, or NULL */
    int64_t nightly_id;       /* the nightly run this job belongs to, 0: none */
    const char *retry_of;     /* the interrupted job this one retries, or NULL */
};

/* Inserts a queued job. With an idempotency key already used: when its hash
 * equals idem_hash, returns 1 and copies the earlier job's id into existing
 * (nothing inserted); when it differs, returns -EEXIST (existing is set too).
 * Returns 0 when inserted. */
int aut_db_job_insert(struct aut_db *db, const struct aut_db_job_new *j, double now,
                      char existing[AUT_DB_ID_MAX]);

/* The job as a JSON object, or NULL (no such job):
 *   {id, seq, state, class, stage, message, recommendation, arch, model,
 *    priority, request (object), nightly_id (number|null), retry_of (string|null),
 *    cancel_requested (bool), report_dir (string|null), summary (object|null),
 *    created, started, finished (numbers|null), attempt}
 */
cJSON *aut_db_job_get(struct aut_db *db, const char *id);

/* Newest first. state: NULL for all, or one state name. cursor: 0 for the
 * newest, else the next_cursor of the previous page (jobs with seq < cursor).
 * limit 1..1000. *items: an array of job objects (as aut_db_job_get);
 * *next_cursor: 0 when there are no more. */
int aut_db_job_list(struct aut_db *db, const char *state, unsigned limit, int64_t cursor,
                    cJSON **items, int64_t *next_cursor);

/* The job to run next: queued, highest priority, then lowest seq, whose arch
 * is not in busy (n_busy entries). -ENOENT when there is none. */
int aut_db_job_next(struct aut_db *db, const char *const *busy, size_t n_busy,
                    char id[AUT_DB_ID_MAX]);

/* queued -> running, with started = now, report_dir set. -ENOENT if the job
 * is not queued (canceled meanwhile). */
int aut_db_job_start(struct aut_db *db, const char *id, const char *report_dir, double now);
/* The stage a running job is in, and its attempt number. */
int aut_db_job_set_stage(struct aut_db *db, const char *id, const char *stage, unsigned attempt);
/* Marks that a cancel was asked for (the job's thread ends it). */
int aut_db_job_request_cancel(struct aut_db *db, const char *id);
/* queued -> canceled (class "canceled", finished = now). -ENOENT when the job
 * is not queued (it started, or ended, meanwhile). */
int aut_db_job_cancel_queued(struct aut_db *db, const char *id, double now);
/* running (or queued) -> a terminal state, with finished = now. cls, stage,
 * message, recommendation may be NULL; summary_json: a JSON object text of
 * key figures, or NULL. -ENOENT if the job is already terminal. */
int aut_db_job_finish(struct aut_db *db, const char *id, const char *state, const char *cls,
                      const char *stage, const char *message, const char *recommendation,
                      const char *summary_json, double now);
/* Ids of the jobs in state (oldest first); *ids is malloc'ed, free with
 * aut_db_ids_free. */
int aut_db_jobs_in_state(struct aut_db *db, const char *state, char ***ids, size_t *n);
void aut_db_ids_free(char **ids, size_t n);
/* Number of queued jobs. */
int aut_db_queue_depth(struct aut_db *db, unsigned *n);
/* {"<state>": {"<class or none>": count}} over all jobs. */
int aut_db_job_counts(struct aut_db *db, cJSON **out);
/* The most recently finished job with a non-null summary, or NULL. */
cJSON *aut_db_job_last_finished(struct aut_db *db);

/* ---- stages ---- */

int aut_db_stage_begin(struct aut_db *db, const char *job, unsigned attempt, const char *name,
                       double now);
/* status: "ok", "failed", "skipped", "canceled". */
int aut_db_stage_end(struct aut_db *db, const char *job, unsigned attempt, const char *name,
                     const char *status, double duration_s, const char *message, double now);
/* [{attempt, name, status, started, finished, duration_s, message}] in order. */
int aut_db_stages(struct aut_db *db, const char *job, cJSON **out);
/* [{name, count, sum_s}] over finished stages of all jobs (for /metrics). */
int aut_db_stage_stats(struct aut_db *db, cJSON **out);

/* ---- events (a job's event stream, numbered 1, 2, ... per job) ---- */

/* Appends; data_json is a JSON text. *seq receives its number. */
int aut_db_event_add(struct aut_db *db, const char *job, const char *type, const char *data_json,
                     double now, int64_t *seq);
/* Events with seq > after, oldest first, at most limit (1..10000):
 * [{seq, time, type, data (parsed)}]. */
int aut_db_events(struct aut_db *db, const char *job, int64_t after, unsigned limit, cJSON **out);

/* ---- nightly runs ---- */

/* Starts a run. trigger: "schedule" or "manual". day ("YYYY-MM-DD"): for a
 * scheduled run, at most one per day (-EEXIST when that day's run exists);
 * NULL for manual runs. */
int aut_db_nightly_begin(struct aut_db *db, const char *trigger, const char *day, double now,
                         int64_t *id);
/* Marks the run done when none of its jobs is queued or running; returns 1
 * when it did, 0 when jobs remain, -ENOENT when no such run. */
int aut_db_nightly_update(struct aut_db *db, int64_t id, double now);
/* Newest first, at most limit: [{id, trigger, day, state ("running"|"done"),
 * started, finished, jobs: [job objects as aut_db_job_get]}]. */
int aut_db_nightly_list(struct aut_db *db, unsigned limit, cJSON **out);

/* ---- webhook deliveries ---- */

/* Records a delivery to make (state "pending", attempts 0). */
int aut_db_delivery_add(struct aut_db *db, const char *job, const char *url, const char *event,
                        const char *body, double now, int64_t *id);
/* After an attempt: state "pending" (will retry), "delivered" or "failed"
 * (gave up); http_status 0 when no response; error may be NULL. */
int aut_db_delivery_update(struct aut_db *db, int64_t id, unsigned attempts, const char *state,
                           long http_status, const char *error, double now);
/* A job's deliveries, oldest first: [{id, url, event, state, attempts,
 * http_status, error, created, updated}]. job NULL: all pending ones, with
 * their body too (for resending after a restart). */
int aut_db_deliveries(struct aut_db *db, const char *job, cJSON **out);

#endif
