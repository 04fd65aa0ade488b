/*
 * bridge_client.c - the host side of the kernel bridge (see bridge_client.h
 * and docs/bridge.md).
 *
 * Memory and handle lifetimes. The bridge struct is freed by
 * aut_bridge_close, at once or, when called from inside one of the bridge's
 * callbacks, when the outermost one returns (depth). The libuv handles it
 * uses live in allocations of their own that their close callbacks free, so
 * none of them needs the bridge to still exist: the pipe (data = the bridge
 * while open, NULL once closing), each call's timer (inside struct call,
 * which after completion no longer points at the bridge), each queued write,
 * and the timer of a synchronous wait.
 */
#include "bridge_client.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG_MAX 16  /* events kept for aut_bridge_wait_event */
#define ID_SCAN_MAX 256 /* where an oversized reply's id is looked for */
#define READ_CHUNK 65536
#define DEADLINE_MARGIN_MAX_MS 2000u

struct call {
    uv_timer_t timer;     /* the host deadline; first, and its data is the call */
    struct aut_bridge *b; /* while pending */
    struct call *prev, *next;
    char id[24];
    char op[48];
    uint32_t timeout_ms;
    void (*cb)(struct aut_bridge_reply *r, void *ud);
    void *ud;
};

struct waiter {
    const char *name; /* NULL: any event */
    cJSON *ev;
    int err; /* 0, -ETIMEDOUT, -EPIPE */
    bool done;
    bool detached; /* taken off the bridge by whoever finished it (not the timer) */
};

struct wreq {
    uv_write_t req;
    char data[];
};

struct aut_bridge {
    uv_loop_t *loop;
    uv_pipe_t *pipe; /* NULL once the transport is closed */
    uint32_t timeout_ms;
    bool trace;
    size_t line_max;  /* requests */
    size_t reply_max; /* incoming lines */

    char *line; /* reply_max + 1 bytes */
    size_t len;
    bool discard; /* inside an oversized line, until the next '\n' */
    size_t discard_len;

    struct call *calls; /* pending, newest first */
    uint64_t next_id;

    void (*event_cb)(const cJSON *ev, void *ud);
    void *event_ud;
    cJSON *backlog[BACKLOG_MAX];
    unsigned nbacklog;
    struct waiter *waiter;

    struct aut_bridge_stats st;
    int depth;    /* bridge callbacks running */
    bool down;    /* the peer has gone */
    bool closing; /* aut_bridge_close was called */
    bool freeing; /* free when depth returns to 0 */

    char rbuf[READ_CHUNK];
};

/* ---- small helpers ---------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void trace(const struct aut_bridge *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trace(const struct aut_bridge *b, const char *fmt, ...)
{
    if (!b->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("bridge: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void set_reply(struct aut_bridge_reply *r, enum aut_bridge_status status, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_reply(struct aut_bridge_reply *r, enum aut_bridge_status status, const char *code,
                      const char *fmt, ...)
{
    va_list ap;
    r->status = status;
    copy_str(r->code, sizeof r->code, code);
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void free_handle_cb(uv_handle_t *h)
{
    free(h);
}

static void call_free_cb(uv_handle_t *h)
{
    free(h->data);
}

static void bridge_free(struct aut_bridge *b)
{
    for (unsigned i = 0; i < b->nbacklog; i++)
        cJSON_Delete(b->backlog[i]);
    free(b->line);
    free(b);
}

static void enter(struct aut_bridge *b)
{
    b->depth++;
}

/* Last thing a callback does: b may be gone afterwards. */
static void leave(struct aut_bridge *b)
{
    if (--b->depth == 0 && b->freeing)
        bridge_free(b);
}

/* ---- options ---------------------------------------------------------- */

void aut_bridge_opts_default(struct aut_bridge_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = AUT_BRIDGE_TIMEOUT_DEFAULT_MS;
    o->line_max = AUT_BRIDGE_LINE_MAX_DEFAULT;
    const char *s = getenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    if (s && *s >= '0' && *s <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno == 0 && *end == '\0' && v >= 1 && v <= AUT_BRIDGE_DEADLINE_MAX_MS)
            o->timeout_ms = (uint32_t)v;
    }
    s = getenv("AUTON_KERNEL_BRIDGE_TRACE");
    o->trace = s && strcmp(s, "1") == 0;
}

bool aut_bridge_env_enabled(void)
{
    const char *s = getenv("AUTON_KERNEL_BRIDGE");
    return !(s && strcmp(s, "0") == 0);
}

const char *aut_bridge_status_name(enum aut_bridge_status s)
{
    switch (s) {
    case AUT_BRIDGE_OK:
        return "ok";
    case AUT_BRIDGE_ERROR:
        return "error";
    case AUT_BRIDGE_BUSY:
        return "busy";
    case AUT_BRIDGE_TIMEOUT:
        return "timeout";
    case AUT_BRIDGE_VERSION:
        return "version";
    case AUT_BRIDGE_PROTOCOL:
        return "protocol";
    case AUT_BRIDGE_CLOSED:
        return "closed";
    }
    return "unknown";
}

void aut_bridge_reply_free(struct aut_bridge_reply *r)
{
    if (!r)
        return;
    cJSON_Delete(r->result);
    r->result = NULL;
}

void aut_bridge_stats(const struct aut_bridge *b, struct aut_bridge_stats *st)
{
    if (b)
        *st = b->st;
    else
        memset(st, 0, sizeof *st);
}

void aut_bridge_on_event(struct aut_bridge *b, void (*cb)(const cJSON *ev, void *ud), void *ud)
{
    if (!b)
        return;
    b->event_cb = cb;
    b->event_ud = ud;
}

/* ---- call completion -------------------------------------------------- */

static void unlink_call(struct aut_bridge *b, struct call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        b->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->b = NULL;
}

static struct call *find_call(struct aut_bridge *b, const char *id)
{
    for (struct call *c = b->calls; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* Takes c off the bridge, hands r to the caller's callback, frees what is
 * left of r; c itself goes with its timer's close callback. */
static void complete(struct aut_bridge *b, struct call *c, struct aut_bridge_reply *r)
{
    unlink_call(b, c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, call_free_cb);
    copy_str(r->id, sizeof r->id, c->id);
    trace(b, "id %s (%s): %s%s%s%s", c->id, c->op, aut_bridge_status_name(r->status),
          r->status == AUT_BRIDGE_OK ? "" : " [", r->status == AUT_BRIDGE_OK ? "" : r->code,
          r->status == AUT_BRIDGE_OK ? "" : "]");
    c->cb(r, c->ud);
    aut_bridge_reply_free(r);
}

static void fail_all(struct aut_bridge *b, const char *why)
{
    while (b->calls) {
        struct aut_bridge_reply r;
        memset(&r, 0, sizeof r);
        set_reply(&r, AUT_BRIDGE_CLOSED, "closed", "%s", why);
        complete(b, b->calls, &r);
    }
}

static void detach_waiter(struct aut_bridge *b, int err)
{
    struct waiter *w = b->waiter;
    if (!w)
        return;
    b->waiter = NULL;
    w->detached = true;
    w->done = true;
    w->err = err;
}

static void close_pipe(struct aut_bridge *b)
{
    if (!b->pipe)
        return;
    b->pipe->data = NULL;
    uv_close((uv_handle_t *)b->pipe, free_handle_cb);
    b->pipe = NULL;
}

/* The peer has gone (EOF, read or write error). */
static void transport_down(struct aut_bridge *b, const char *why)
{
    if (b->down)
        return;
    b->down = true;
    if (b->len > 0) {
        b->st.malformed++;
        trace(b, "truncated line of %zu bytes at the end of the stream", b->len);
        b->len = 0;
    }
    trace(b, "%s", why);
    close_pipe(b);
    detach_waiter(b, -EPIPE);
    fail_all(b, why);
}

void aut_bridge_close(struct aut_bridge *b)
{
    if (!b || b->closing)
        return;
    b->closing = true;
    enter(b);
    detach_waiter(b, -EPIPE);
    fail_all(b, "the bridge was closed");
    close_pipe(b);
    b->freeing = true;
    leave(b);
}

/* ---- incoming lines --------------------------------------------------- */

static void malformed(struct aut_bridge *b, const char *why)
{
    b->st.malformed++;
    trace(b, "ignored: %s", why);
}

/* True when id is one this bridge has issued ("1".."next_id"). */
static bool issued(const struct aut_bridge *b, const char *id)
{
    if (*id < '1' || *id > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(id, &end, 10);
    return errno == 0 && *end == '\0' && v <= b->next_id;
}

static bool valid_ms(const cJSON *ms)
{
    if (!cJSON_IsNumber(ms))
        return false;
    double d = ms->valuedouble;
    return d >= 0 && d <= 9007199254740992.0 && floor(d) == d;
}

/* Fills r from the reply object j (result detached from j when ok). */
static void parse_reply(cJSON *j, struct aut_bridge_reply *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
    const cJSON *run_id = cJSON_GetObjectItemCaseSensitive(j, "run_id");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "ms");

    if (cJSON_IsString(run_id) && run_id->valuestring)
        copy_str(r->run_id, sizeof r->run_id, run_id->valuestring);
    if (valid_ms(ms))
        r->ms = (uint64_t)ms->valuedouble;

    if (!cJSON_IsNumber(v) || v->valuedouble != 1.0) {
        char *vs = v ? cJSON_PrintUnformatted(v) : NULL;
        set_reply(r, AUT_BRIDGE_VERSION, "version", "the reply has v=%s; this host speaks v1",
                  vs ? vs : "(missing)");
        free(vs);
        return;
    }
    if (!cJSON_IsBool(ok)) {
        set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol", "the reply has no boolean \"ok\"");
        return;
    }
    if (!cJSON_IsString(run_id) || !run_id->valuestring) {
        set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol", "the reply has no string \"run_id\"");
        return;
    }
    if (!valid_ms(ms)) {
        set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol",
                  "the reply has no non-negative integer \"ms\"");
        return;
    }
    if (cJSON_IsTrue(ok)) {
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "result"))) {
            set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol", "an ok reply without a result object");
            return;
        }
        r->result = cJSON_DetachItemFromObjectCaseSensitive(j, "result");
        r->status = AUT_BRIDGE_OK;
        return;
    }
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    if (!cJSON_IsObject(err) || !cJSON_IsString(code) || !code->valuestring ||
        !cJSON_IsString(msg) || !msg->valuestring) {
        set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol",
                  "an error reply without error {code, message} strings");
        return;
    }
    enum aut_bridge_status st = AUT_BRIDGE_ERROR;
    if (strcmp(code->valuestring, "busy") == 0)
        st = AUT_BRIDGE_BUSY;
    else if (strcmp(code->valuestring, "timeout") == 0)
        st = AUT_BRIDGE_TIMEOUT;
    else if (strcmp(code->valuestring, "version") == 0)
        st = AUT_BRIDGE_VERSION;
    r->status = st;
    copy_str(r->code, sizeof r->code, code->valuestring);
    copy_str(r->message, sizeof r->message, msg->valuestring);
}

static void handle_reply(struct aut_bridge *b, cJSON *j, const cJSON *id)
{
    if (cJSON_IsNull(id)) {
        b->st.unmatched++;
        trace(b, "ignored: a reply with a null id");
        cJSON_Delete(j);
        return;
    }
    if (!cJSON_IsString(id) || !id->valuestring) {
        cJSON_Delete(j);
        malformed(b, "a reply whose id is not a string");
        return;
    }
    struct call *c = find_call(b, id->valuestring);
    if (!c) {
        b->st.unmatched++;
        if (issued(b, id->valuestring)) {
            b->st.late++;
            trace(b, "ignored: a late reply for id %s (no longer pending)", id->valuestring);
        } else {
            trace(b, "ignored: a reply for unknown id %s", id->valuestring);
        }
        cJSON_Delete(j);
        return;
    }
    struct aut_bridge_reply r;
    memset(&r, 0, sizeof r);
    parse_reply(j, &r);
    cJSON_Delete(j);
    if (r.status == AUT_BRIDGE_PROTOCOL)
        b->st.malformed++;
    complete(b, c, &r);
}

static void handle_event(struct aut_bridge *b, cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1.0) {
        cJSON_Delete(j);
        malformed(b, "an event without v:1");
        return;
    }
    b->st.events++;
    if (b->event_cb)
        b->event_cb(j, b->event_ud);
    if (b->closing) {
        cJSON_Delete(j);
        return;
    }
    struct waiter *w = b->waiter;
    if (w && (!w->name || strcmp(w->name, name) == 0)) {
        w->ev = j;
        detach_waiter(b, 0);
        return;
    }
    if (b->nbacklog == BACKLOG_MAX) {
        cJSON_Delete(b->backlog[0]);
        memmove(b->backlog, b->backlog + 1, (BACKLOG_MAX - 1) * sizeof b->backlog[0]);
        b->nbacklog--;
    }
    b->backlog[b->nbacklog++] = j;
}

static void handle_line(struct aut_bridge *b, char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    if (len == 0)
        return;
    b->st.received++;
    if (b->trace)
        fprintf(stderr, "bridge < %s\n", line);
    if (memchr(line, '\0', len)) {
        malformed(b, "a line with a NUL byte");
        return;
    }
    cJSON *j = cJSON_ParseWithOpts(line, NULL, 1);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        malformed(b, "a line that is not a JSON object");
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
    if (id)
        handle_reply(b, j, id);
    else if (cJSON_IsString(ev) && ev->valuestring)
        handle_event(b, j, ev->valuestring);
    else {
        cJSON_Delete(j);
        malformed(b, "an object that is neither a reply nor an event");
    }
}

/* Looks for "id" : "<chars>" among the first bytes of an oversized line. */
static bool scan_id(const char *p, size_t n, char *id, size_t cap)
{
    if (n > ID_SCAN_MAX)
        n = ID_SCAN_MAX;
    for (size_t i = 0; i + 4 <= n; i++) {
        if (memcmp(p + i, "\"id\"", 4) != 0)
            continue;
        size_t k = i + 4;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k >= n || p[k++] != ':')
            continue;
        while (k < n && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k >= n || p[k++] != '"')
            continue;
        size_t s = k;
        while (k < n && p[k] != '"' && p[k] != '\\' && k - s < cap - 1)
            k++;
        if (k >= n || p[k] != '"' || k == s)
            return false;
        memcpy(id, p + s, k - s);
        id[k - s] = '\0';
        return true;
    }
    return false;
}

/* The current line has just exceeded reply_max; b->line holds its first
 * reply_max bytes. */
static void oversized(struct aut_bridge *b)
{
    char id[24];
    b->st.received++;
    b->st.oversized++;
    b->st.malformed++;
    if (b->trace)
        fprintf(stderr, "bridge < %.*s... (longer than %zu bytes: dropped)\n",
                (int)(b->len < 200 ? b->len : 200), b->line, b->reply_max);
    if (!scan_id(b->line, b->len, id, sizeof id))
        return;
    struct call *c = find_call(b, id);
    if (!c)
        return;
    struct aut_bridge_reply r;
    memset(&r, 0, sizeof r);
    set_reply(&r, AUT_BRIDGE_PROTOCOL, "protocol",
              "the reply line is longer than reply_max (%zu bytes); dropped", b->reply_max);
    complete(b, c, &r);
}

static void feed(struct aut_bridge *b, const char *p, size_t n)
{
    while (n > 0 && !b->closing && !b->down) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (b->discard) {
            b->discard_len += seg;
        } else if (b->len + seg > b->reply_max) {
            size_t room = b->reply_max - b->len;
            memcpy(b->line + b->len, p, room);
            b->len += room;
            b->discard = true;
            b->discard_len = b->len + (seg - room);
            oversized(b);
            b->len = 0;
        } else {
            memcpy(b->line + b->len, p, seg);
            b->len += seg;
        }
        if (!nl)
            break;
        p = nl + 1;
        n -= seg + 1;
        if (b->discard) {
            b->discard = false;
            trace(b, "dropped an oversized line of %zu bytes", b->discard_len);
        } else {
            size_t len = b->len;
            b->len = 0;
            handle_line(b, b->line, len);
        }
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct aut_bridge *b = h->data;
    if (!b) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init(b->rbuf, sizeof b->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct aut_bridge *b = s->data;
    if (!b || nread == 0)
        return;
    enter(b);
    if (nread > 0) {
        feed(b, buf->base, (size_t)nread);
    } else {
        char why[128];
        if (nread == UV_EOF)
            snprintf(why, sizeof why, "the peer closed the bridge");
        else
            snprintf(why, sizeof why, "reading the bridge failed: %s", uv_strerror((int)nread));
        transport_down(b, why);
    }
    leave(b);
}

/* ---- outgoing --------------------------------------------------------- */

static void write_cb(uv_write_t *req, int status)
{
    struct aut_bridge *b = req->handle->data;
    free(req);
    if (!b || status == 0 || status == UV_ECANCELED)
        return;
    char why[128];
    snprintf(why, sizeof why, "writing to the bridge failed: %s", uv_strerror(status));
    enter(b);
    transport_down(b, why);
    leave(b);
}

/* Writes data[0..len): with send(MSG_NOSIGNAL) while the socket takes it,
 * then (socket full, or not a socket) the rest through uv_write. */
static int send_line(struct aut_bridge *b, const char *data, size_t len)
{
    uv_stream_t *s = (uv_stream_t *)b->pipe;
    uv_os_fd_t fd;
    size_t off = 0;
    if (uv_stream_get_write_queue_size(s) == 0 && uv_fileno((uv_handle_t *)s, &fd) == 0) {
        while (off < len) {
            ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTSOCK))
                break;
            return n < 0 ? -errno : -EIO;
        }
        if (off == len)
            return 0;
    }
    struct wreq *w = malloc(sizeof *w + (len - off));
    if (!w)
        return -ENOMEM;
    memcpy(w->data, data + off, len - off);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)(len - off));
    int rc = uv_write(&w->req, s, &buf, 1, write_cb);
    if (rc < 0) {
        free(w);
        return rc;
    }
    return 0;
}

static void call_timer_cb(uv_timer_t *t)
{
    struct call *c = t->data;
    struct aut_bridge *b = c->b;
    if (!b)
        return;
    enter(b);
    b->st.timeouts++;
    struct aut_bridge_reply r;
    memset(&r, 0, sizeof r);
    set_reply(&r, AUT_BRIDGE_TIMEOUT, "host_timeout", "no reply to %s (id %s) within %u ms", c->op,
              c->id, (unsigned)c->timeout_ms);
    complete(b, c, &r);
    leave(b);
}

static uint32_t kernel_deadline(uint32_t host_ms)
{
    uint32_t margin = host_ms / 10;
    if (margin > DEADLINE_MARGIN_MAX_MS)
        margin = DEADLINE_MARGIN_MAX_MS;
    uint32_t d = host_ms - margin;
    if (d < 1)
        d = 1;
    if (d > AUT_BRIDGE_DEADLINE_MAX_MS)
        d = AUT_BRIDGE_DEADLINE_MAX_MS;
    return d;
}

/* The request line, '\n'-terminated, in a malloc'd buffer; NULL on ENOMEM. */
static char *build_request(const char *id, const char *op, const cJSON *args, uint32_t deadline,
                           size_t *len)
{
    cJSON *req = cJSON_CreateObject();
    char *text = NULL, *line = NULL;
    if (!req || !cJSON_AddNumberToObject(req, "v", 1) || !cJSON_AddStringToObject(req, "id", id) ||
        !cJSON_AddStringToObject(req, "op", op))
        goto out;
    if (args) {
        cJSON *a = cJSON_Duplicate(args, 1);
        if (!a)
            goto out;
        if (!cJSON_AddItemToObject(req, "args", a)) {
            cJSON_Delete(a);
            goto out;
        }
    }
    if (!cJSON_AddNumberToObject(req, "deadline_ms", deadline))
        goto out;
    text = cJSON_PrintUnformatted(req);
    if (!text)
        goto out;
    size_t n = strlen(text);
    line = malloc(n + 2);
    if (line) {
        memcpy(line, text, n);
        line[n] = '\n';
        line[n + 1] = '\0';
        *len = n + 1;
    }
out:
    free(text);
    cJSON_Delete(req);
    return line;
}

int aut_bridge_call(struct aut_bridge *b, const char *op, const cJSON *args, uint32_t timeout_ms,
                    void (*cb)(struct aut_bridge_reply *r, void *ud), void *ud)
{
    if (!b || !op || !*op || !cb || (args && !cJSON_IsObject(args)))
        return -EINVAL;
    if (b->closing || b->down || !b->pipe)
        return -EPIPE;
    uint32_t tmo = timeout_ms ? timeout_ms : b->timeout_ms;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)(b->next_id + 1));
    size_t len = 0;
    char *line = build_request(id, op, args, kernel_deadline(tmo), &len);
    if (!line)
        return -ENOMEM;
    if (len - 1 > b->line_max) {
        trace(b, "not sent: a %s request of %zu bytes exceeds line_max %zu", op, len - 1,
              b->line_max);
        free(line);
        return -EMSGSIZE;
    }
    struct call *c = calloc(1, sizeof *c);
    if (!c) {
        free(line);
        return -ENOMEM;
    }
    b->next_id++;
    copy_str(c->id, sizeof c->id, id);
    copy_str(c->op, sizeof c->op, op);
    c->timeout_ms = tmo;
    c->cb = cb;
    c->ud = ud;
    c->timer.data = c;
    int rc = uv_timer_init(b->loop, &c->timer);
    if (rc < 0) {
        free(c);
        free(line);
        return rc;
    }
    if (b->trace)
        fprintf(stderr, "bridge > %s", line);
    rc = send_line(b, line, len);
    free(line);
    if (rc < 0) {
        trace(b, "sending id %s failed: %s", id, uv_strerror(rc));
        uv_close((uv_handle_t *)&c->timer, call_free_cb);
        return rc == UV_ECONNRESET || rc == UV_ENOTCONN || rc == UV_EBADF ? -EPIPE : rc;
    }
    uv_update_time(b->loop); /* the loop's "now" may be stale when it was idle */
    uv_timer_start(&c->timer, call_timer_cb, tmo, 0);
    c->b = b;
    c->next = b->calls;
    if (b->calls)
        b->calls->prev = c;
    b->calls = c;
    b->st.sent++;
    return 0;
}

/* ---- synchronous helpers ---------------------------------------------- */

struct sync_state {
    bool done;
    struct aut_bridge_reply r;
};

static void sync_cb(struct aut_bridge_reply *r, void *ud)
{
    struct sync_state *s = ud;
    s->r = *r;
    r->result = NULL;
    s->done = true;
}

int aut_bridge_call_sync(struct aut_bridge *b, const char *op, const cJSON *args,
                         uint32_t timeout_ms, struct aut_bridge_reply *r)
{
    memset(r, 0, sizeof *r);
    if (b && b->depth > 0) {
        set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol",
                  "aut_bridge_call_sync called from inside a bridge callback");
        return -EDEADLK;
    }
    struct sync_state s;
    memset(&s, 0, sizeof s);
    int rc = aut_bridge_call(b, op, args, timeout_ms, sync_cb, &s);
    if (rc < 0) {
        if (rc == -EPIPE)
            set_reply(r, AUT_BRIDGE_CLOSED, "closed", "%s not sent: the bridge is closed",
                      op ? op : "(null)");
        else
            set_reply(r, AUT_BRIDGE_PROTOCOL, "protocol", "%s not sent: %s", op ? op : "(null)",
                      strerror(-rc));
        return rc;
    }
    /* The call's timer keeps the loop alive until it completes; b may be
     * freed meanwhile (closed from a callback), so only s is looked at. */
    uv_loop_t *loop = b->loop;
    while (!s.done)
        uv_run(loop, UV_RUN_ONCE);
    *r = s.r;
    return 0;
}

static void wait_timer_cb(uv_timer_t *t)
{
    struct waiter *w = t->data;
    if (!w || w->done)
        return;
    w->done = true;
    w->err = -ETIMEDOUT;
}

int aut_bridge_wait_event(struct aut_bridge *b, const char *event, uint32_t timeout_ms,
                          cJSON **ev_out)
{
    if (ev_out)
        *ev_out = NULL;
    if (!b)
        return -EINVAL;
    if (b->depth > 0)
        return -EDEADLK;
    if (b->waiter)
        return -EBUSY;
    for (unsigned i = 0; i < b->nbacklog; i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(b->backlog[i], "event");
        if (event && strcmp(name->valuestring, event) != 0)
            continue;
        cJSON *ev = b->backlog[i];
        memmove(b->backlog + i, b->backlog + i + 1, (b->nbacklog - i - 1) * sizeof ev);
        b->nbacklog--;
        if (ev_out)
            *ev_out = ev;
        else
            cJSON_Delete(ev);
        return 0;
    }
    if (b->closing || b->down)
        return -EPIPE;

    struct waiter w;
    memset(&w, 0, sizeof w);
    w.name = event;
    uv_timer_t *t = malloc(sizeof *t);
    if (!t)
        return -ENOMEM;
    uv_loop_t *loop = b->loop;
    int rc = uv_timer_init(loop, t);
    if (rc < 0) {
        free(t);
        return rc;
    }
    t->data = &w;
    uv_update_time(loop);
    uv_timer_start(t, wait_timer_cb, timeout_ms ? timeout_ms : b->timeout_ms, 0);
    b->waiter = &w;
    while (!w.done)
        uv_run(loop, UV_RUN_ONCE);
    /* Not detached: the timer finished it, and then the bridge is alive
     * (closing it would have detached the waiter). */
    if (!w.detached)
        b->waiter = NULL;
    uv_timer_stop(t);
    t->data = NULL;
    uv_close((uv_handle_t *)t, free_handle_cb);
    uv_run(loop, UV_RUN_NOWAIT); /* lets the timer's close callback run */
    if (w.err == 0 && w.ev) {
        if (ev_out)
            *ev_out = w.ev;
        else
            cJSON_Delete(w.ev);
        return 0;
    }
    cJSON_Delete(w.ev);
    return w.err ? w.err : -ETIMEDOUT;
}

/* ---- opening ---------------------------------------------------------- */

int aut_bridge_open_fd(uv_loop_t *loop, int fd, const struct aut_bridge_opts *o,
                       struct aut_bridge **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!loop || fd < 0)
        return -EINVAL;
    /* libuv would take a file or /dev/null and abort in epoll later */
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return -errno;
    if (!S_ISSOCK(sb.st_mode))
        return -ENOTSOCK;
    struct aut_bridge_opts d;
    aut_bridge_opts_default(&d);
    struct aut_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->loop = loop;
    b->timeout_ms = o && o->timeout_ms ? o->timeout_ms : d.timeout_ms;
    b->trace = d.trace || (o && o->trace);
    b->line_max = o && o->line_max ? o->line_max : d.line_max;
    b->reply_max = o && o->reply_max ? o->reply_max : AUT_BRIDGE_REPLY_MAX;
    b->line = malloc(b->reply_max + 1);
    b->pipe = malloc(sizeof *b->pipe);
    if (!b->line || !b->pipe) {
        free(b->pipe);
        bridge_free(b);
        return -ENOMEM;
    }
    int rc = uv_pipe_init(loop, b->pipe, 0);
    if (rc < 0) {
        free(b->pipe);
        bridge_free(b);
        return rc;
    }
    /* libuv gets a duplicate, so that on failure the caller's fd is untouched. */
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        rc = -errno;
    } else {
        rc = uv_pipe_open(b->pipe, dfd);
        if (rc < 0)
            close(dfd); /* not adopted */
    }
    if (rc == 0) {
        b->pipe->data = b;
        rc = uv_read_start((uv_stream_t *)b->pipe, alloc_cb, read_cb);
    }
    if (rc < 0) {
        close_pipe(b);
        bridge_free(b);
        return rc;
    }
    close(fd);
    trace(b, "open (fd %d, timeout %u ms, line_max %zu, reply_max %zu)", dfd,
          (unsigned)b->timeout_ms, b->line_max, b->reply_max);
    *out = b;
    return 0;
}

int aut_bridge_open(uv_loop_t *loop, const struct aut_bridge_opts *o, struct aut_bridge **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!loop || !o || !o->socket_path || !*o->socket_path)
        return -EINVAL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(o->socket_path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    copy_str(sa.sun_path, sizeof sa.sun_path, o->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rc = aut_bridge_open_fd(loop, fd, o, out);
    if (rc < 0)
        close(fd);
    return rc;
}
