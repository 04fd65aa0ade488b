/*
 * client.c - autonctl's client of autond (client.h): requests over the Unix
 * socket, the event stream of a job (text/event-stream, parsed as it
 * arrives, reopened from the last event when it breaks), API errors, and the
 * choice between running a job here and handing it to autond.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "httpc.h"

#define SSE_MAX (16u << 20)   /* a line or an event's data; autond's are a few KiB */
#define CALL_TIMEOUT_MS 60000 /* autond answers from its thread pool: never minutes */
#define PROBE_TIMEOUT_MS 2000
#define ERR_PEEK 4096   /* the start of a stream kept to explain a refusal */
#define EVENT_REOPENS 5 /* reopenings in a row without a new event */

/* ---- the text/event-stream framing ---- */

void aut_sse_init(struct aut_sse *p, aut_sse_fn fn, void *ud)
{
    memset(p, 0, sizeof *p);
    p->fn = fn;
    p->ud = ud;
}

void aut_sse_release(struct aut_sse *p)
{
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
    p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

/* Makes room for n more bytes and a NUL in *buf. */
static int grow(char **buf, size_t *cap, size_t len, size_t n)
{
    if (len + n + 1 <= *cap)
        return 0;
    if (len + n + 1 > SSE_MAX)
        return -1;
    size_t c = *cap ? *cap : 256;
    while (c < len + n + 1)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        return -1;
    *buf = b;
    *cap = c;
    return 0;
}

/* A blank line: the event is complete. Events without data are dropped, as
 * the standard says. */
static int dispatch(struct aut_sse *p)
{
    int rc = 0;
    if (p->data_len) {
        p->data[--p->data_len] = '\0'; /* the last line's '\n' */
        snprintf(p->last_id, sizeof p->last_id, "%s", p->id);
        if (p->fn(p->ud, p->type[0] ? p->type : "message", p->data, p->data_len, p->id))
            rc = 1;
    }
    p->type[0] = p->id[0] = '\0';
    p->data_len = 0;
    return rc;
}

/* One complete line (NUL-terminated in p->line). */
static int field(struct aut_sse *p)
{
    char *name = p->line, *colon = strchr(name, ':');
    const char *value = "";
    if (!p->line_len)
        return dispatch(p);
    if (colon == name) /* a comment: ": keepalive" */
        return 0;
    if (colon) {
        *colon = '\0';
        value = colon[1] == ' ' ? colon + 2 : colon + 1;
    }
    if (!strcmp(name, "data")) {
        size_t n = strlen(value);
        if (grow(&p->data, &p->data_cap, p->data_len, n + 1))
            return -1;
        memcpy(p->data + p->data_len, value, n);
        p->data_len += n;
        p->data[p->data_len++] = '\n';
        p->data[p->data_len] = '\0';
    } else if (!strcmp(name, "event")) {
        snprintf(p->type, sizeof p->type, "%s", value);
    } else if (!strcmp(name, "id")) {
        snprintf(p->id, sizeof p->id, "%s", value);
    } /* retry: and unknown fields are ignored */
    return 0;
}

int aut_sse_feed(struct aut_sse *p, const char *buf, size_t len)
{
    for (size_t i = 0; i < len && !p->stopped; i++) {
        char ch = buf[i];
        if (p->skip_lf && ch == '\n') {
            p->skip_lf = false;
            continue;
        }
        p->skip_lf = false;
        if (ch != '\n' && ch != '\r') {
            if (grow(&p->line, &p->line_cap, p->line_len, 1))
                return -1;
            p->line[p->line_len++] = ch;
            continue;
        }
        p->skip_lf = ch == '\r';
        if (grow(&p->line, &p->line_cap, p->line_len, 0))
            return -1;
        p->line[p->line_len] = '\0';
        int rc = field(p);
        p->line_len = 0;
        if (rc < 0)
            return -1;
        if (rc > 0)
            p->stopped = true;
    }
    return p->stopped ? 1 : 0;
}

/* ---- requests ---- */

static void url_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "http://autond%s", path);
}

bool aut_client_probe(struct aut_cli *cli)
{
    const char *sock = cli->cfg.socket_path;
    if (!sock[0])
        return false;
    struct aut_httpc_req r = {.unix_path = sock,
                              .url = "http://autond/v1/health",
                              .method = "GET",
                              .timeout_ms = PROBE_TIMEOUT_MS};
    long status = 0;
    char *body = NULL, err[256];
    int rc = aut_httpc_request(&r, &status, &body, NULL, err, sizeof err);
    free(body);
    return rc == 0 && status == 200;
}

int aut_client_call_raw(struct aut_cli *cli, const char *method, const char *path, long *status,
                        char **body, size_t *len, char *err, size_t errlen)
{
    char url[2048];
    url_of(path, url, sizeof url);
    struct aut_httpc_req r = {.unix_path = cli->cfg.socket_path,
                              .url = url,
                              .method = method,
                              .timeout_ms = CALL_TIMEOUT_MS};
    return aut_httpc_request(&r, status, body, len, err, errlen);
}

static void note_replay(void *ud, const char *name, const char *value)
{
    if (!strcasecmp(name, "Idempotent-Replayed") && !strcasecmp(value, "true"))
        *(bool *)ud = true;
}

int aut_client_call(struct aut_cli *cli, const char *method, const char *path, const char *body,
                    const char *const *headers, long *status, cJSON **resp, char *err,
                    size_t errlen)
{
    bool replayed = false;
    const char *hdrs[16] = {"Content-Type: application/json"};
    size_t n = 1;
    for (size_t i = 0; headers && headers[i] && n < 15; i++)
        hdrs[n++] = headers[i];
    char url[2048], *text = NULL;
    size_t len = 0;
    url_of(path, url, sizeof url);
    struct aut_httpc_req r = {.unix_path = cli->cfg.socket_path,
                              .url = url,
                              .method = method,
                              .body = body,
                              .body_len = body ? strlen(body) : 0,
                              .headers = body ? hdrs : headers,
                              .timeout_ms = CALL_TIMEOUT_MS,
                              .on_header = note_replay,
                              .ud = &replayed};
    *resp = NULL;
    int rc = aut_httpc_request(&r, status, &text, &len, err, errlen);
    if (rc == 0)
        *resp = cJSON_ParseWithLength(text, len);
    if (replayed && cJSON_IsObject(*resp))
        cJSON_AddBoolToObject(*resp, "replayed", true);
    free(text);
    return rc;
}

int aut_client_get(struct aut_cli *cli, const char *path, cJSON **resp)
{
    char err[1024];
    long status = 0;
    if (aut_client_call(cli, "GET", path, NULL, NULL, &status, resp, err, sizeof err))
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    if (status == 200 && *resp)
        return 0;
    int rc = aut_client_fail(status, *resp, path);
    cJSON_Delete(*resp);
    *resp = NULL;
    return rc;
}

/* ---- the event stream of a job ---- */

struct stream {
    aut_client_event_fn fn;
    void *ud;
    struct aut_sse sse;
    char *state;
    size_t state_len;
    bool ended;
    bool failed; /* the parser gave up (an oversized line) */
    unsigned events;
    char peek[ERR_PEEK]; /* the start of the answer, for an error body */
    size_t peek_len;
};

static int on_sse(void *ud, const char *type, const char *data, size_t len, const char *id)
{
    struct stream *s = ud;
    cJSON *obj = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(obj)) { /* bad data is shown as missing fields, never fatal */
        cJSON_Delete(obj);
        obj = cJSON_CreateObject();
    }
    s->events++;
    if (!strcmp(type, "end")) {
        snprintf(s->state, s->state_len, "%s", aut_cli_jstr(obj, "state", "unknown"));
        s->ended = true;
    } else if (s->fn) {
        s->fn(s->ud, type, obj);
    }
    cJSON_Delete(obj);
    return s->ended;
}

static int on_chunk(void *ud, const char *buf, size_t len)
{
    struct stream *s = ud;
    size_t room = sizeof s->peek - 1 - s->peek_len, n = len < room ? len : room;
    memcpy(s->peek + s->peek_len, buf, n);
    s->peek_len += n;
    s->peek[s->peek_len] = '\0';
    int rc = aut_sse_feed(&s->sse, buf, len);
    if (rc < 0)
        s->failed = true;
    return rc != 0;
}

/* One connection to the stream, from the last event seen. Returns what
 * aut_httpc_request did, *status its HTTP status. */
static int open_stream(struct aut_cli *cli, const char *job, struct stream *s, long *status,
                       char *err, size_t errlen)
{
    char url[512], last[96];
    snprintf(url, sizeof url, "http://autond/v1/integrations/%s/events", job);
    snprintf(last, sizeof last, "Last-Event-ID: %s", s->sse.last_id);
    const char *hdrs[] = {"Accept: text/event-stream", s->sse.last_id[0] ? last : NULL, NULL};
    struct aut_httpc_req r = {.unix_path = cli->cfg.socket_path,
                              .url = url,
                              .method = "GET",
                              .headers = hdrs,
                              .on_data = on_chunk,
                              .ud = s};
    s->peek_len = 0;
    /* a new connection starts on a line boundary; keep only the last id */
    char last_id[sizeof s->sse.last_id];
    snprintf(last_id, sizeof last_id, "%s", s->sse.last_id);
    aut_sse_release(&s->sse);
    aut_sse_init(&s->sse, on_sse, s);
    snprintf(s->sse.last_id, sizeof s->sse.last_id, "%s", last_id);
    return aut_httpc_request(&r, status, NULL, NULL, err, errlen);
}

int aut_client_events(struct aut_cli *cli, const char *job, aut_client_event_fn fn, void *ud,
                      char *state, size_t state_len, char *err, size_t errlen)
{
    struct stream s = {.fn = fn, .ud = ud, .state = state, .state_len = state_len};
    aut_sse_init(&s.sse, on_sse, &s);
    int rc = -1;
    for (unsigned tries = 0; tries < EVENT_REOPENS; tries++) {
        long status = 0;
        unsigned before = s.events;
        int r = open_stream(cli, job, &s, &status, err, errlen);
        if (s.ended) {
            rc = 0;
            break;
        }
        if (s.failed) {
            snprintf(err, errlen, "the event stream of job %s: an event over %u MiB", job,
                     SSE_MAX >> 20);
            break;
        }
        if (r == 0 && status != 200) {
            cJSON *body = cJSON_Parse(s.peek);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
            snprintf(err, errlen, "autond: %ld %s: %s", status, aut_cli_jstr(e, "code", "-"),
                     aut_cli_jstr(e, "message", "the event stream was refused"));
            cJSON_Delete(body);
            break;
        }
        if (!aut_client_probe(cli)) {
            snprintf(err, errlen, "autond went away while job %s ran (no answer on unix:%s)", job,
                     cli->cfg.socket_path);
            break;
        }
        if (s.events > before) /* the stream moved on before it broke: not stuck */
            tries = 0;
        snprintf(err, errlen, "the event stream of job %s kept breaking before its end", job);
    }
    aut_sse_release(&s.sse);
    return rc;
}

/* ---- what the commands share ---- */

static void no_answer(const struct aut_cli *cli, char *out, size_t len)
{
    if (cli->cfg.socket_path[0])
        snprintf(out, len, "no answer on unix:%s", cli->cfg.socket_path);
    else
        snprintf(out, len, "no socket: [daemon] socket is empty");
}

int aut_client_pick(struct aut_cli *cli, bool *daemon)
{
    char why[PATH_MAX + 64];
    *daemon = false;
    if (cli->mode == AUT_CLI_LOCAL)
        return 0;
    if (aut_client_probe(cli)) {
        *daemon = true;
        return 0;
    }
    no_answer(cli, why, sizeof why);
    if (cli->mode == AUT_CLI_DAEMON)
        return aut_cli_error(AUT_EXIT_INFRA, "--daemon: autond is not running (%s)", why);
    fprintf(stderr, "autonctl: autond is not running (%s): running the job in this process\n", why);
    return 0;
}

int aut_client_need(struct aut_cli *cli, const char *cmd)
{
    char why[PATH_MAX + 64];
    if (cli->mode == AUT_CLI_LOCAL)
        return aut_cli_error(AUT_EXIT_USAGE,
                             "%s works through autond only: it has no --local "
                             "mode",
                             cmd);
    if (aut_client_probe(cli))
        return 0;
    no_answer(cli, why, sizeof why);
    return aut_cli_error(AUT_EXIT_INFRA,
                         "%s needs autond (%s); start it with `autond` or see "
                         "docs/daemon.md",
                         cmd, why);
}

int aut_client_fail(long status, const cJSON *resp, const char *what)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
    bool refused = status == 400 || status == 413 || status == 415 || status == 422 ||
                   !strcmp(aut_cli_jstr(e, "code", ""), "idempotency_conflict");
    int code = refused                          ? AUT_EXIT_USAGE
               : status == 404 || status == 409 ? AUT_EXIT_FAILED
                                                : AUT_EXIT_INFRA;
    if (cJSON_IsObject(e))
        return aut_cli_error(code, "autond: %ld %s: %s", status, aut_cli_jstr(e, "code", "-"),
                             aut_cli_jstr(e, "message", "-"));
    return aut_cli_error(code, "autond: %s: HTTP %ld with no API error in the answer", what,
                         status);
}

int aut_client_exit_code(const char *state, const char *cls)
{
    bool infra = cls && (!strcmp(cls, "infrastructure") || !strcmp(cls, "internal"));
    if (!strcmp(state, "committed"))
        return AUT_EXIT_OK;
    if (!strcmp(state, "canceled"))
        return AUT_EXIT_FAILED;
    if (!strcmp(state, "rolled_back") || !strcmp(state, "failed"))
        return infra ? AUT_EXIT_INFRA : AUT_EXIT_FAILED;
    return AUT_EXIT_INFRA; /* interrupted, or a state this autonctl does not know */
}

bool aut_client_state_final(const char *state)
{
    return state && strcmp(state, "queued") && strcmp(state, "running");
}

int aut_client_check_id(const char *job)
{
    size_t n = strspn(job, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    if (!job[0] || job[n] || n > 128 || !strcmp(job, ".") || !strcmp(job, ".."))
        return aut_cli_error(AUT_EXIT_USAGE, "'%s' is not a job id", job);
    return 0;
}
