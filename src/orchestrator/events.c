/*
 * events.c - the event streams (GET /v1/integrations/{id}/events): each
 * subscriber gets every event of its job exactly once and in order - the
 * stored ones first (from Last-Event-ID or ?after=), then the live ones -
 * and an "end" event when the job is over, after which the stream closes.
 *
 * A subscriber remembers the last event number it sent. A live event that
 * follows it is sent at once; a gap (events that arrived while the stored
 * ones were being read, or a slow start) makes it read the missing ones from
 * the store on the thread pool (a catch-up) before it goes on. Reads never
 * run on the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define CATCHUP_BATCH 1000

struct aut_sub {
    struct aut_sub *next;
    struct aut_daemon *d;
    char job[AUT_DB_ID_MAX];
    struct aut_http_sse *sse; /* NULL once the peer has gone */
    int64_t last;             /* the last event number sent */
    bool catching_up;         /* a read is on the thread pool */
    bool again;               /* events came during it: read again */
    bool ended;               /* the job is over */
    char end_state[32];
};

struct catchup {
    uv_work_t w;
    struct aut_sub *sub;
    struct aut_db *db;
    char job[AUT_DB_ID_MAX];
    int64_t after;
    cJSON *events;
    char state[32];
};

static void unlink_sub(struct aut_sub *s)
{
    struct aut_sub **pp = &s->d->subs;
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
}

/* Ends the stream with the "end" event and forgets the subscriber. */
static void finish(struct aut_sub *s)
{
    if (s->sse) {
        char data[96];
        snprintf(data, sizeof data, "{\"state\":\"%s\"}", s->end_state);
        aut_http_sse_send(s->sse, "end", -1, data);
        aut_http_sse_end(s->sse);
        s->sse = NULL;
    }
    unlink_sub(s);
    free(s);
}

static bool terminal(const char *state)
{
    return state[0] && strcmp(state, "queued") && strcmp(state, "running");
}

static void catchup_work(uv_work_t *w)
{
    struct catchup *c = w->data;
    if (aut_db_events(c->db, c->job, c->after, CATCHUP_BATCH, &c->events))
        c->events = NULL;
    cJSON *job = aut_db_job_get(c->db, c->job);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(job, "state"));
    snprintf(c->state, sizeof c->state, "%s", st ? st : "");
    cJSON_Delete(job);
}

static void catchup_start(struct aut_sub *s);

static void send_event(struct aut_sub *s, int64_t seq, const char *type, const char *data)
{
    if (s->sse && aut_http_sse_send(s->sse, type, seq, data) == 0)
        s->last = seq;
}

static void catchup_after(uv_work_t *w, int status)
{
    struct catchup *c = w->data;
    struct aut_sub *s = c->sub;
    s->catching_up = false;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, c->events)
    {
        char *data = cJSON_PrintUnformatted(cJSON_GetObjectItem(e, "data"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
        double seq = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq"));
        if (data && type && seq > (double)s->last)
            send_event(s, (int64_t)seq, type, data);
        free(data);
        n++;
    }
    cJSON_Delete(c->events);
    if (!s->ended && terminal(c->state)) {
        s->ended = true;
        snprintf(s->end_state, sizeof s->end_state, "%s", c->state);
    }
    bool more = n == CATCHUP_BATCH || s->again;
    free(c);
    if (!s->sse) { /* the peer went while we read */
        unlink_sub(s);
        free(s);
    } else if (more) {
        catchup_start(s);
    } else if (s->ended) {
        finish(s);
    }
}

static void catchup_start(struct aut_sub *s)
{
    struct catchup *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->sub = s;
    c->db = s->d->db;
    c->after = s->last;
    snprintf(c->job, sizeof c->job, "%s", s->job);
    c->w.data = c;
    s->catching_up = true;
    s->again = false;
    if (uv_queue_work(s->d->loop, &c->w, catchup_work, catchup_after)) {
        s->catching_up = false;
        free(c);
    }
}

static void on_peer_gone(void *ud)
{
    struct aut_sub *s = ud;
    s->sse = NULL;
    if (!s->catching_up) {
        unlink_sub(s);
        free(s);
    }
}

void aut_sub_deliver(struct aut_daemon *d, const struct aut_msg *m)
{
    for (struct aut_sub *s = d->subs, *next; s; s = next) {
        next = s->next;
        if (strcmp(s->job, m->job) || !s->sse)
            continue;
        if (s->catching_up)
            s->again = true;
        else if (m->seq == s->last + 1)
            send_event(s, m->seq, m->type, m->data);
        else if (m->seq > s->last)
            catchup_start(s);
    }
}

void aut_sub_end(struct aut_daemon *d, const char *job, const char *state)
{
    for (struct aut_sub *s = d->subs, *next; s; s = next) {
        next = s->next;
        if (strcmp(s->job, job))
            continue;
        s->ended = true;
        snprintf(s->end_state, sizeof s->end_state, "%s", state);
        if (!s->catching_up && s->sse)
            finish(s);
    }
}

struct aut_http_sse *aut_sub_stream(struct aut_daemon *d, struct aut_http_req *req, const char *job,
                                    int64_t after)
{
    struct aut_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    struct aut_http_sse *sse = aut_http_sse_begin(req, 15000, on_peer_gone, s);
    if (!sse) {
        free(s);
        return NULL;
    }
    s->d = d;
    snprintf(s->job, sizeof s->job, "%s", job);
    s->last = after;
    s->sse = sse;
    s->next = d->subs;
    d->subs = s;
    catchup_start(s);
    return sse;
}
