/*
 * webhook.c - ManagerAgent notifications: each event is recorded in the job
 * store as a delivery, POSTed (libcurl's multi-socket API on the loop, via
 * httpc.c) with an HMAC-SHA256 signature of the body, and retried with a
 * doubling backoff until a 2xx answer or [notify] retries run out. Every
 * attempt's outcome is written back to the store; deliveries still pending
 * when autond stops are resent at its next start.
 *
 * Headers: Content-Type: application/json, X-Auton-Event: <event>,
 * X-Auton-Delivery: <id>, X-Auton-Attempt: <n>, and with a secret
 * X-Auton-Signature: sha256=<hex of HMAC-SHA256(secret, body)>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "httpc.h"
#include "sha256.h"

#define BACKOFF_CAP_MS 60000

struct aut_hook {
    struct aut_hook *next;
    struct aut_daemon *d;
    int64_t id; /* the delivery's row */
    char job[AUT_DB_ID_MAX];
    char event[32];
    char url[512];
    char *body;
    char signature[80]; /* "sha256=<hex>" or "" */
    unsigned attempts, max_attempts, backoff_ms, timeout_ms;
    uv_timer_t timer;
    bool in_flight, closing, timer_closed;
};

/* ---- the store, on the thread pool ------------------------------------------------------ */

struct rec {
    uv_work_t w;
    struct aut_hook *h; /* add: the hook to start once recorded; NULL for updates */
    struct aut_db *db;
    int64_t id;
    unsigned attempts;
    char state[16];
    long status;
    char error[256];
};

static void attempt(struct aut_hook *h);
static void hook_free(struct aut_hook *h);

static void add_work(uv_work_t *w)
{
    struct rec *r = w->data;
    struct aut_hook *h = r->h;
    if (aut_db_delivery_add(r->db, h->job, h->url, h->event, h->body, aut_now(), &h->id))
        h->id = 0;
}

static void add_after(uv_work_t *w, int status)
{
    struct rec *r = w->data;
    struct aut_hook *h = r->h;
    free(r);
    h->in_flight = false; /* the store's part is done */
    if (h->closing) {
        if (h->timer_closed) {
            free(h->body);
            free(h);
        }
        return;
    }
    attempt(h);
}

static void update_work(uv_work_t *w)
{
    struct rec *r = w->data;
    aut_db_delivery_update(r->db, r->id, r->attempts, r->state, r->status,
                           r->error[0] ? r->error : NULL, aut_now());
}

static void update_after(uv_work_t *w, int status)
{
    free(w->data);
}

static void record(struct aut_hook *h, const char *state, long status, const char *error)
{
    struct rec *r = calloc(1, sizeof *r);
    if (!r || !h->id) {
        free(r);
        return;
    }
    r->db = h->d->db;
    r->id = h->id;
    r->attempts = h->attempts;
    snprintf(r->state, sizeof r->state, "%s", state);
    r->status = status;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    r->w.data = r;
    if (uv_queue_work(h->d->loop, &r->w, update_work, update_after))
        free(r);
}

/* ---- lifetime -------------------------------------------------------------------------- */

static void unlink_hook(struct aut_hook *h)
{
    struct aut_hook **pp = &h->d->hooks;
    while (*pp && *pp != h)
        pp = &(*pp)->next;
    if (*pp)
        *pp = h->next;
}

static void timer_closed(uv_handle_t *t)
{
    struct aut_hook *h = t->data;
    h->timer_closed = true;
    if (!h->in_flight) {
        free(h->body);
        free(h);
    }
}

/* Unlinks h and frees it once its timer is closed and no transfer is in flight. */
static void hook_free(struct aut_hook *h)
{
    unlink_hook(h);
    h->closing = true;
    if (!uv_is_closing((uv_handle_t *)&h->timer))
        uv_close((uv_handle_t *)&h->timer, timer_closed);
    else if (h->timer_closed && !h->in_flight) {
        free(h->body);
        free(h);
    }
}

/* ---- attempts -------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    attempt(t->data);
}

static void on_done(void *ud, long status, const char *error)
{
    struct aut_hook *h = ud;
    h->in_flight = false;
    if (h->closing) { /* shutting down: stays pending in the store for the next start */
        if (h->timer_closed) {
            free(h->body);
            free(h);
        }
        return;
    }
    bool ok = !error && status >= 200 && status < 300;
    char why[256];
    if (!ok && !error)
        snprintf(why, sizeof why, "HTTP %ld", status);
    else
        snprintf(why, sizeof why, "%s", error ? error : "");
    if (ok) {
        record(h, "delivered", status, NULL);
        aut_dlog("webhook %s for job %s: delivered (HTTP %ld, attempt %u)", h->event, h->job,
                 status, h->attempts);
        hook_free(h);
    } else if (h->attempts >= h->max_attempts) {
        record(h, "failed", status, why);
        aut_dlog("webhook %s for job %s: gave up after %u attempt(s): %s", h->event, h->job,
                 h->attempts, why);
        hook_free(h);
    } else {
        record(h, "pending", status, why);
        uint64_t delay = h->backoff_ms;
        for (unsigned i = 1; i < h->attempts && delay < BACKOFF_CAP_MS; i++)
            delay *= 2;
        if (delay > BACKOFF_CAP_MS)
            delay = BACKOFF_CAP_MS;
        aut_dlog("webhook %s for job %s: attempt %u failed (%s), retrying in %llu ms", h->event,
                 h->job, h->attempts, why, (unsigned long long)delay);
        uv_timer_start(&h->timer, on_timer, delay, 0);
    }
}

static void attempt(struct aut_hook *h)
{
    char ev[64], del[64], att[64], sig[96];
    snprintf(ev, sizeof ev, "X-Auton-Event: %s", h->event);
    snprintf(del, sizeof del, "X-Auton-Delivery: %lld", (long long)h->id);
    snprintf(att, sizeof att, "X-Auton-Attempt: %u", h->attempts + 1);
    snprintf(sig, sizeof sig, "X-Auton-Signature: %s", h->signature);
    const char *headers[] = {ev, del, att, h->signature[0] ? sig : NULL, NULL};
    h->attempts++;
    h->in_flight = true;
    if (!h->d->multi || aut_httpc_post(h->d->multi, h->url, h->body, strlen(h->body), headers,
                                       h->timeout_ms, on_done, h)) {
        h->in_flight = false;
        on_done(h, 0, "cannot start the request");
    }
}

static struct aut_hook *hook_new(struct aut_daemon *d, const char *job, const char *event,
                                 const char *url, char *body)
{
    const struct aut_conf *c = d->conf;
    struct aut_hook *h = calloc(1, sizeof *h);
    if (!h) {
        free(body);
        return NULL;
    }
    h->d = d;
    h->body = body;
    snprintf(h->job, sizeof h->job, "%s", job ? job : "");
    snprintf(h->event, sizeof h->event, "%s", event);
    snprintf(h->url, sizeof h->url, "%s", url);
    h->max_attempts = 1 + c->cfg.notify_retries;
    h->backoff_ms = c->cfg.notify_backoff_ms;
    h->timeout_ms = c->cfg.notify_timeout_ms;
    if (c->secret[0]) {
        char hex[AUT_SHA256_HEX_SIZE];
        if (aut_hmac_sha256_hex(c->secret, strlen(c->secret), body, strlen(body), hex) == 0)
            snprintf(h->signature, sizeof h->signature, "sha256=%s", hex);
    }
    uv_timer_init(d->loop, &h->timer);
    h->timer.data = h;
    h->next = d->hooks;
    d->hooks = h;
    return h;
}

void aut_hook_send(struct aut_daemon *d, const char *job, const char *event, const cJSON *body)
{
    const char *url = d->conf->cfg.notify_url;
    if (!url[0])
        return; /* while stopping, it is still stored: pending, sent at the next start */
    char *text = cJSON_PrintUnformatted(body);
    struct aut_hook *h = text ? hook_new(d, job, event, url, text) : NULL;
    struct rec *r = h ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        if (h)
            hook_free(h);
        return;
    }
    r->h = h;
    r->db = d->db;
    r->w.data = r;
    h->in_flight = true;
    if (uv_queue_work(d->loop, &r->w, add_work, add_after)) {
        h->in_flight = false;
        free(r);
        hook_free(h);
    }
}

/* ---- resume after a restart --------------------------------------------------------------- */

struct resume {
    uv_work_t w;
    struct aut_daemon *d;
    cJSON *pending;
};

static void resume_work(uv_work_t *w)
{
    struct resume *r = w->data;
    if (aut_db_deliveries(r->d->db, NULL, &r->pending))
        r->pending = NULL;
}

static void resume_after(uv_work_t *w, int status)
{
    struct resume *r = w->data;
    const cJSON *p;
    cJSON_ArrayForEach(p, r->pending)
    {
        const char *body = cJSON_GetStringValue(cJSON_GetObjectItem(p, "body"));
        const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(p, "url"));
        const char *event = cJSON_GetStringValue(cJSON_GetObjectItem(p, "event"));
        if (!body || !url || !event || r->d->stopping)
            continue;
        struct aut_hook *h = hook_new(r->d, cJSON_GetStringValue(cJSON_GetObjectItem(p, "job")),
                                      event, url, strdup(body));
        if (!h)
            continue;
        h->id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "id"));
        h->attempts = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "attempts"));
        if (h->attempts >= h->max_attempts)
            h->max_attempts = h->attempts + 1;
        aut_dlog("webhook %s for job %s: resending (pending since the last run)", event, h->job);
        attempt(h);
    }
    cJSON_Delete(r->pending);
    free(r);
}

void aut_hook_resume(struct aut_daemon *d)
{
    struct resume *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->d = d;
    r->w.data = r;
    if (uv_queue_work(d->loop, &r->w, resume_work, resume_after))
        free(r);
}

void aut_hook_close_all(struct aut_daemon *d)
{
    while (d->hooks)
        hook_free(d->hooks);
}
