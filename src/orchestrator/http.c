/*
 * http.c - autond's HTTP/1.1 server (see http.h): the listeners, one
 * http-parser per connection, responses, event streams and an orderly close.
 * A connection's memory outlives its libuv handles while the handler still
 * holds its request: the open handles and an outstanding request each hold
 * a reference, and whichever goes last frees it.
 *
 * Limits beyond the header's: a request-target over 8 KiB is answered 414
 * uri_too_long (a URL that long is no API call; 414 names the cause better
 * than 400), and a method whose name does not fit req->method (none the API
 * uses) is answered 501 not_implemented. Both close the connection.
 *
 * Closing: after a final answer (an error, "Connection: close", a stream's
 * end) the connection sends FIN and keeps reading, discarding, until the
 * peer closes or LINGER_MS pass: closing with unread input would send RST
 * and could destroy the answer before the peer reads it.
 *
 * libuv writes can raise SIGPIPE when the peer has gone: the program ignores
 * SIGPIPE (autond does).
 */
#include "http.h"
#include "sbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <http_parser.h>

#define URL_MAX (8u << 10)       /* request-target bytes */
#define HEADERS_MAX (16u << 10)  /* header names + values + ": " and CRLF */
#define SSE_QUEUE_MAX (8u << 20) /* bytes libuv holds unsent for a stream */
#define IN_HOLD_MAX (64u << 10)  /* input held while a request is outstanding */
#define READ_CHUNK (64u << 10)   /* room offered to each read */
#define LINGER_MS 2000           /* after FIN, how long the peer gets to close */
#define IDLE_DEFAULT_MS 30000
#define KEEPALIVE_DEFAULT_MS 15000
#define BACKLOG 128

enum timer_mode {
    T_IDLE,   /* keep-alive idle timeout */
    T_SSE,    /* the stream's keep-alive comments */
    T_LINGER, /* a finishing connection's last chance to close by itself */
};

struct aut_http_sse {
    struct aut_http_conn *c;
    void (*on_close)(void *ud);
    void *ud;
    bool ended; /* aut_http_sse_end ran, or on_close was called */
};

struct aut_http_conn {
    struct aut_http_server *srv;       /* NULL once the handles are closed */
    struct aut_http_conn *prev, *next; /* srv->conns */
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t timer; /* what it times: timer_mode */
    uv_shutdown_t shut;
    http_parser parser;
    unsigned refs;         /* 1 while the handles are open, +1 for a request out */
    unsigned open_handles; /* io and timer until their close callbacks ran */
    unsigned writes;       /* uv_write requests not yet called back */
    struct aut_sbuf in;    /* read, not parsed yet (held while a request is out) */
    char peer[64];
    bool via_unix;

    /* the request being parsed */
    struct aut_http_req *building;
    struct aut_sbuf url, body;
    size_t header_bytes;
    int hstate;     /* 0 start, 1 in a header name, 2 in its value */
    char field[32]; /* the header name, lowercased (longer: not one of ours) */
    size_t field_len;
    char *slot; /* where the value goes, or NULL: a header we drop */
    size_t slot_cap, slot_len;
    const char *slot_name;
    char expect[32];
    int fail_status; /* set by a callback that stops the parser */
    const char *fail_code;
    char fail_msg[128];

    /* the request handed out, and how to answer it */
    struct aut_http_req *ready, *outstanding;
    bool keep_alive, http10, head;

    struct aut_http_sse sse;
    enum timer_mode timer_mode;
    bool counted;  /* counts against max_conns */
    bool rejected; /* over max_conns: answered 503 */
    bool reading;
    bool pumping;   /* inside conn_pump: answers do not feed the parser again */
    bool peer_eof;  /* the peer sent FIN */
    bool finishing; /* the final answer is out: input is discarded */
    bool close_when_drained;
    bool closing; /* uv_close has been called */
    bool is_sse;
};

struct aut_http_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_idle_t closer; /* never started: its close callback makes done asynchronous */
    bool tcp_open, pipe_open;
    int port;
    char *unix_path; /* the socket file we bound, removed when we stop */
    dev_t sock_dev;
    ino_t sock_ino;
    size_t max_body;
    unsigned max_conns, idle_ms;
    aut_http_handler_fn on_request;
    void *ud;
    struct aut_http_conn *conns;
    unsigned nactive; /* connections counted against max_conns */
    unsigned open;    /* handles and connections not yet closed */
    bool closing;
    void (*done)(void *ud);
    void *done_ud;
};

/* A response on its way out. */
struct wreq {
    uv_write_t w;
    char data[];
};

static void conn_close(struct aut_http_conn *c);
static void conn_finish(struct aut_http_conn *c);
static void conn_pump(struct aut_http_conn *c);
static void on_timer(uv_timer_t *t);

/* ---- small helpers ------------------------------------------------------ */

static int unhex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of src into out (NUL-terminated), '+' as a space
 * when plus is set. Returns the decoded length, -1 for a bad escape, -2 when
 * out is too small. The result may hold NUL bytes: callers check. */
static long pct_decode(const char *src, size_t n, char *out, size_t outlen, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        if (ch == '%') {
            int hi = i + 2 < n ? unhex(src[i + 1]) : -1;
            int lo = hi >= 0 ? unhex(src[i + 2]) : -1;
            if (lo < 0)
                return -1;
            ch = (char)(hi << 4 | lo);
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (o + 1 >= outlen)
            return -2;
        out[o++] = ch;
    }
    if (outlen == 0)
        return -2;
    out[o] = '\0';
    return (long)o;
}

/* {"error":{"code":code,"message":msg}}, malloc'ed (cJSON_free), or NULL. */
static char *error_json(const char *code, const char *msg)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    char *out = NULL;
    if (e && cJSON_AddStringToObject(e, "code", code) && cJSON_AddStringToObject(e, "message", msg))
        out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static void req_free(struct aut_http_req *req)
{
    if (!req)
        return;
    free(req->path);
    free(req->query);
    free(req->body);
    free(req);
}

const char *aut_http_reason(int status)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Payload Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Entity"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "Unknown";
}

/* ---- writing ------------------------------------------------------------ */

static void on_written(uv_write_t *w, int status)
{
    struct aut_http_conn *c = w->data;
    free(w); /* the wreq: w is its first member */
    c->writes--;
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c); /* the peer has gone */
    else if (c->writes == 0 && c->close_when_drained)
        conn_close(c);
}

/* Room for cap bytes to write, or NULL with the connection closing. */
static struct wreq *wreq_new(struct aut_http_conn *c, size_t cap)
{
    struct wreq *w = c->closing ? NULL : malloc(sizeof *w + cap);
    if (!w)
        conn_close(c);
    return w;
}

/* Queues the first len bytes of w, which on_written frees. Returns 0, or -1
 * with the connection closing. */
static int conn_send(struct aut_http_conn *c, struct wreq *w, size_t len)
{
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    w->w.data = c;
    if (uv_write(&w->w, &c->io.s, &buf, 1, on_written) < 0) {
        free(w);
        conn_close(c);
        return -1;
    }
    c->writes++;
    return 0;
}

/* Queues a copy of len bytes. Returns 0, or -1 with the connection closing. */
static int conn_write(struct aut_http_conn *c, const char *data, size_t len)
{
    struct wreq *w = wreq_new(c, len);
    if (!w)
        return -1;
    memcpy(w->data, data, len);
    return conn_send(c, w, len);
}

/* Writes a whole response; keep false: the connection finishes after it. */
static int conn_respond(struct aut_http_conn *c, int status, const char *ctype, const char *body,
                        size_t len, const char *extra, bool keep)
{
    const char *reason = aut_http_reason(status);
    bool no_body = status == 204 || status == 304;
    bool send_body = !no_body && !c->head && body;
    const char *conn_hdr = !keep       ? "Connection: close\r\n"
                           : c->http10 ? "Connection: keep-alive\r\n"
                                       : "";
    if (!ctype || !ctype[0])
        ctype = NULL;
    if (!extra)
        extra = "";
    if (!body)
        len = 0;
    /* the fixed text (status line, lengths, Connection) is under 200 bytes */
    size_t cap = 200 + strlen(reason) + (ctype ? strlen(ctype) : 0) + strlen(extra), n;
    struct wreq *w = wreq_new(c, cap + (send_body ? len : 0));
    if (!w)
        return -1;
    n = (size_t)snprintf(w->data, cap, "HTTP/1.1 %d %s\r\n", status, reason);
    if (ctype)
        n += (size_t)snprintf(w->data + n, cap - n, "Content-Type: %s\r\n", ctype);
    if (!no_body)
        n += (size_t)snprintf(w->data + n, cap - n, "Content-Length: %zu\r\n", len);
    n += (size_t)snprintf(w->data + n, cap - n, "%s%s\r\n", conn_hdr, extra);
    if (send_body && len)
        memcpy(w->data + n, body, len);
    int rc = conn_send(c, w, n + (send_body ? len : 0));
    if (rc == 0 && !keep)
        conn_finish(c);
    return rc;
}

/* The server's own JSON error answer; the connection finishes after it. */
static void conn_send_error(struct aut_http_conn *c, int status, const char *code, const char *msg)
{
    char *body = error_json(code, msg);
    static const char oom[] =
        "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
    if (body)
        conn_respond(c, status, "application/json", body, strlen(body), NULL, false);
    else
        conn_respond(c, 500, "application/json", oom, sizeof oom - 1, NULL, false);
    cJSON_free(body);
}

/* ---- connection lifetime -------------------------------------------------- */

static void server_maybe_done(struct aut_http_server *s)
{
    if (!s->closing || s->open)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    free(s->unix_path);
    free(s);
    if (done)
        done(ud);
}

static void conn_unref(struct aut_http_conn *c)
{
    if (--c->refs)
        return;
    req_free(c->building);
    req_free(c->ready);
    free(c->in.p);
    free(c->url.p);
    free(c->body.p);
    free(c);
}

/* Both handles closed: the connection leaves the server. An event stream
 * not ended by its owner tells it now, from here rather than from wherever
 * the close began, so on_close never runs inside the owner's own call. */
static void on_conn_closed(uv_handle_t *h)
{
    struct aut_http_conn *c = h->data;
    struct aut_http_server *s = c->srv;
    if (--c->open_handles)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->srv = NULL;
    if (c->is_sse && !c->sse.ended) {
        c->sse.ended = true;
        if (c->sse.on_close)
            c->sse.on_close(c->sse.ud);
    }
    conn_unref(c);
    s->open--;
    server_maybe_done(s);
}

/* Closes at once (pending writes are canceled). Idempotent. */
static void conn_close(struct aut_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->counted)
        c->srv->nactive--;
    c->counted = false;
    uv_close(&c->io.h, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void set_reading(struct aut_http_conn *c, bool on);

static void on_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct aut_http_conn *c = h->data;
    (void)suggested;
    if (c->finishing || c->is_sse || c->rejected)
        c->in.len = 0; /* input is discarded: reuse the room */
    if (aut_sbuf_reserve(&c->in, c->in.len + READ_CHUNK) < 0) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(c->in.p + c->in.len, READ_CHUNK);
}

static void timer_start(struct aut_http_conn *c, enum timer_mode mode, uint64_t ms, uint64_t rep)
{
    c->timer_mode = mode;
    uv_timer_start(&c->timer, on_timer, ms, rep);
}

/* The peer sent FIN. A stream's peer has gone; otherwise requests already
 * read are still answered (a client may half-close after sending), then the
 * connection closes. */
static void conn_peer_eof(struct aut_http_conn *c)
{
    c->peer_eof = true;
    set_reading(c, false);
    if (c->is_sse || c->rejected) {
        conn_close(c);
        return;
    }
    if (!c->outstanding && !c->finishing)
        conn_pump(c); /* it sees peer_eof once it has parsed what it can */
    else if (c->finishing)
        conn_finish(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct aut_http_conn *c = st->data;
    (void)buf;
    if (c->closing)
        return;
    if (nread == UV_EOF) {
        conn_peer_eof(c);
        return;
    }
    if (nread < 0) { /* reset, or no memory for the read */
        conn_close(c);
        return;
    }
    if (nread == 0 || c->finishing || c->is_sse || c->rejected)
        return; /* discarded: on_read_alloc reuses the room */
    c->in.len += (size_t)nread;
    c->in.p[c->in.len] = '\0';
    if (c->timer_mode == T_IDLE)
        timer_start(c, T_IDLE, c->srv->idle_ms, 0);
    conn_pump(c);
}

static void set_reading(struct aut_http_conn *c, bool on)
{
    if (on == c->reading || c->closing)
        return;
    if (on && (c->peer_eof || uv_read_start(&c->io.s, on_read_alloc, on_read) < 0))
        return;
    if (!on)
        uv_read_stop(&c->io.s);
    c->reading = on;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct aut_http_conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0)
        conn_close(c);
    else
        timer_start(c, T_LINGER, LINGER_MS, 0);
}

/* After the final answer: FIN once the writes are out, then wait for the
 * peer's close (see the top of the file). A peer that already sent FIN
 * has nothing left to say: close once the writes are out. */
static void conn_finish(struct aut_http_conn *c)
{
    if (c->closing)
        return;
    c->in.len = 0;
    if (c->peer_eof) {
        c->finishing = true;
        if (c->writes == 0)
            conn_close(c);
        else
            c->close_when_drained = true;
        return;
    }
    if (c->finishing)
        return;
    c->finishing = true;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, &c->io.s, on_shutdown) < 0) {
        conn_close(c);
        return;
    }
    set_reading(c, true); /* to see the peer's FIN */
    /* the writes may take a while to drain; a peer that never reads is idle */
    timer_start(c, T_LINGER, c->srv->idle_ms, 0);
}

static void on_timer(uv_timer_t *t)
{
    struct aut_http_conn *c = t->data;
    static const char comment[] = ": keepalive\n\n";
    switch (c->timer_mode) {
    case T_SSE:
        if (uv_stream_get_write_queue_size(&c->io.s) + sizeof comment > SSE_QUEUE_MAX)
            conn_close(c);
        else
            conn_write(c, comment, sizeof comment - 1);
        break;
    case T_LINGER:
        conn_close(c);
        break;
    case T_IDLE:
        if (c->outstanding) /* the handler is working: not idle */
            timer_start(c, T_IDLE, c->srv->idle_ms, 0);
        else
            conn_close(c);
        break;
    }
}

/* ---- parsing -------------------------------------------------------------- */

/* Records why a callback stops the parser; returns -1 for it to return
 * (-1 and not 1: on_headers_complete gives 1 and 2 other meanings). */
static int parse_fail(struct aut_http_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int parse_fail(struct aut_http_conn *c, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fail_msg, sizeof c->fail_msg, fmt, ap);
    va_end(ap);
    c->fail_status = status;
    c->fail_code = code;
    return -1;
}

static int on_message_begin(http_parser *p)
{
    struct aut_http_conn *c = p->data;
    req_free(c->building);
    c->building = calloc(1, sizeof *c->building);
    if (!c->building)
        return parse_fail(c, 500, "internal_error", "out of memory");
    c->url.len = 0;
    c->body.len = 0;
    c->header_bytes = 0;
    c->hstate = 0;
    c->expect[0] = '\0';
    c->head = false;
    c->fail_status = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct aut_http_conn *c = p->data;
    if (c->url.len + len > URL_MAX)
        return parse_fail(c, 414, "uri_too_long", "the request-target is over %u bytes", URL_MAX);
    if (aut_sbuf_append(&c->url, at, len) < 0)
        return parse_fail(c, 500, "internal_error", "out of memory");
    return 0;
}

/* Ends the value of the header before: trailing blanks go, the NUL goes in. */
static void header_commit(struct aut_http_conn *c)
{
    if (c->hstate != 2 || !c->slot)
        return;
    while (c->slot_len && (c->slot[c->slot_len - 1] == ' ' || c->slot[c->slot_len - 1] == '\t'))
        c->slot_len--;
    c->slot[c->slot_len] = '\0';
}

/* The headers kept (http.h's req fields, and Expect for 100-continue). */
static void header_pick_slot(struct aut_http_conn *c)
{
    struct aut_http_req *r = c->building;
    const struct {
        const char *name;
        char *slot;
        size_t cap;
    } slots[] = {
        {"authorization", r->authorization, sizeof r->authorization},
        {"idempotency-key", r->idempotency_key, sizeof r->idempotency_key},
        {"content-type", r->content_type, sizeof r->content_type},
        {"last-event-id", r->last_event_id, sizeof r->last_event_id},
        {"expect", c->expect, sizeof c->expect},
    };
    c->slot = NULL;
    c->field[c->field_len < sizeof c->field ? c->field_len : 0] = '\0';
    for (size_t i = 0; c->field_len < sizeof c->field && i < sizeof slots / sizeof slots[0]; i++)
        if (!strcmp(c->field, slots[i].name)) {
            c->slot = slots[i].slot;
            c->slot_cap = slots[i].cap;
            c->slot_name = slots[i].name;
        }
    c->slot_len = 0;
}

static int header_count(struct aut_http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > HEADERS_MAX)
        return parse_fail(c, 431, "headers_too_large", "the headers are over %u bytes",
                          HEADERS_MAX);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct aut_http_conn *c = p->data;
    if (c->hstate != 1) {
        header_commit(c);
        c->hstate = 1;
        c->field_len = 0;
        if (header_count(c, 4) < 0) /* ": " and CRLF */
            return -1;
    }
    if (header_count(c, len) < 0)
        return -1;
    for (size_t i = 0; i < len; i++, c->field_len++)
        if (c->field_len < sizeof c->field - 1)
            c->field[c->field_len] = (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct aut_http_conn *c = p->data;
    if (c->hstate != 2) {
        c->hstate = 2;
        header_pick_slot(c);
    }
    if (header_count(c, len) < 0)
        return -1;
    if (!c->slot)
        return 0;
    if (c->slot_len + len >= c->slot_cap)
        return parse_fail(c, 400, "bad_request", "header %s too long (at most %zu bytes)",
                          c->slot_name, c->slot_cap - 1);
    memcpy(c->slot + c->slot_len, at, len);
    c->slot_len += len;
    return 0;
}

/* Refuses a declared body over max_body before it is read, and tells a
 * client waiting on "Expect: 100-continue" to go on. */
static int on_headers_complete(http_parser *p)
{
    struct aut_http_conn *c = p->data;
    bool chunked = p->flags & F_CHUNKED;
    header_commit(c);
    c->hstate = 0;
    c->head = p->method == HTTP_HEAD;
    if (!chunked && p->content_length != ULLONG_MAX && p->content_length > c->srv->max_body)
        return parse_fail(c, 413, "payload_too_large",
                          "the body (%llu bytes) is over the limit of %zu bytes",
                          (unsigned long long)p->content_length, c->srv->max_body);
    bool has_body = chunked || (p->content_length != ULLONG_MAX && p->content_length > 0);
    if (has_body && !strcasecmp(c->expect, "100-continue") && p->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (conn_write(c, cont, sizeof cont - 1) < 0)
            return parse_fail(c, 500, "internal_error", "write failed");
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct aut_http_conn *c = p->data;
    if (c->body.len + len > c->srv->max_body)
        return parse_fail(c, 413, "payload_too_large", "the body is over the limit of %zu bytes",
                          c->srv->max_body);
    if (aut_sbuf_append(&c->body, at, len) < 0)
        return parse_fail(c, 500, "internal_error", "out of memory");
    return 0;
}

/* Splits the request-target into the decoded path and the raw query. */
static int build_target(struct aut_http_conn *c, struct aut_http_req *r)
{
    struct http_parser_url u;
    const char *url = c->url.p ? c->url.p : "";
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, c->url.len, c->parser.method == HTTP_CONNECT, &u))
        return parse_fail(c, 400, "bad_request", "malformed request-target");
    size_t plen = u.field_set & (1 << UF_PATH) ? u.field_data[UF_PATH].len : 0;
    size_t qlen = u.field_set & (1 << UF_QUERY) ? u.field_data[UF_QUERY].len : 0;
    r->path = malloc(plen + 1);
    r->query = malloc(qlen + 1);
    if (!r->path || !r->query)
        return parse_fail(c, 500, "internal_error", "out of memory");
    long n = pct_decode(url + u.field_data[UF_PATH].off, plen, r->path, plen + 1, false);
    if (n < 0)
        return parse_fail(c, 400, "bad_request", "bad percent-encoding in the path");
    if (memchr(r->path, '\0', (size_t)n))
        return parse_fail(c, 400, "bad_request", "the path holds a NUL byte");
    memcpy(r->query, url + u.field_data[UF_QUERY].off, qlen);
    r->query[qlen] = '\0';
    return 0;
}

/* The request is whole: it becomes c->ready and the parser pauses, so that
 * http_parser_execute returns and conn_pump hands it out. */
static int on_message_complete(http_parser *p)
{
    struct aut_http_conn *c = p->data;
    struct aut_http_req *r = c->building;
    const char *method = http_method_str((enum http_method)p->method);
    if (strlen(method) >= sizeof r->method)
        return parse_fail(c, 501, "not_implemented", "method %s is not supported", method);
    snprintf(r->method, sizeof r->method, "%s", method);
    if (build_target(c, r) < 0)
        return -1;
    if (!c->body.p && aut_sbuf_reserve(&c->body, 0) < 0)
        return parse_fail(c, 500, "internal_error", "out of memory");
    c->body.p[c->body.len] = '\0';
    r->body = c->body.p;
    r->body_len = c->body.len;
    c->body = (struct aut_sbuf){0};
    r->via_unix = c->via_unix;
    snprintf(r->peer, sizeof r->peer, "%s", c->peer);
    r->conn = c;
    c->keep_alive = http_should_keep_alive(p) && !p->upgrade; /* no upgrades here */
    c->http10 = p->http_major == 1 && p->http_minor == 0;
    c->ready = r;
    c->building = NULL;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The parser stopped on bad input or on a limit: answer and finish. */
static void parse_failed(struct aut_http_conn *c, enum http_errno e)
{
    char msg[160];
    if (c->fail_status) {
        conn_send_error(c, c->fail_status, c->fail_code, c->fail_msg);
        return;
    }
    if (e == HPE_HEADER_OVERFLOW) { /* http-parser's own cap, over ours anyway */
        conn_send_error(c, 431, "headers_too_large", "the headers are too large");
        return;
    }
    snprintf(msg, sizeof msg, "%s: %s", http_errno_name(e), http_errno_description(e));
    conn_send_error(c, 400, "bad_request", msg);
}

/* Hands the ready request to the handler; it holds a reference. */
static void dispatch(struct aut_http_conn *c)
{
    struct aut_http_req *req = c->ready;
    c->ready = NULL;
    c->outstanding = req;
    c->refs++;
    c->srv->on_request(c->srv->ud, req);
}

/* Feeds held input to the parser while no request is outstanding. Answers
 * given from inside the handler return here rather than recurse. */
static void conn_pump(struct aut_http_conn *c)
{
    if (c->pumping)
        return;
    c->pumping = true;
    while (c->in.len && !c->outstanding && !c->closing && !c->finishing && !c->is_sse) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.p, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        aut_sbuf_consume(&c->in, n);
        if (e == HPE_PAUSED && c->ready)
            dispatch(c);
        else if (e != HPE_OK)
            parse_failed(c, e);
        else if (n == 0)
            break; /* not reached: a parser in good health takes every byte */
    }
    c->pumping = false;
    if (c->closing || c->finishing || c->is_sse)
        return;
    if (c->peer_eof && !c->outstanding)
        conn_finish(c); /* everything the peer sent is answered */
    else
        set_reading(c, !c->outstanding || c->in.len < IN_HOLD_MAX);
}

/* ---- accepting -------------------------------------------------------------- */

static void peer_name(struct aut_http_conn *c)
{
    struct sockaddr_storage a;
    int alen = sizeof a;
    char ip[INET6_ADDRSTRLEN] = "?";
    snprintf(c->peer, sizeof c->peer, "unix");
    if (c->via_unix || uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&a, &alen) < 0)
        return;
    if (a.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
        uv_ip6_name(a6, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "[%s]:%u", ip, ntohs(a6->sin6_port));
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
        uv_ip4_name(a4, ip, sizeof ip);
        snprintf(c->peer, sizeof c->peer, "%s:%u", ip, ntohs(a4->sin_port));
    }
}

static struct aut_http_conn *conn_new(struct aut_http_server *s, bool via_unix)
{
    struct aut_http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int rc = via_unix ? uv_pipe_init(s->loop, &c->io.pipe, 0) : uv_tcp_init(s->loop, &c->io.tcp);
    if (rc < 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(s->loop, &c->timer);
    c->io.h.data = c;
    c->timer.data = c;
    c->srv = s;
    c->via_unix = via_unix;
    c->refs = 1;
    c->open_handles = 2;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->open++;
    return c;
}

static void on_connection(uv_stream_t *server, int status)
{
    struct aut_http_server *s = server->data;
    if (status < 0 || s->closing)
        return;
    struct aut_http_conn *c = conn_new(s, server->type == UV_NAMED_PIPE);
    if (!c)
        return; /* out of memory: the peer waits in the backlog */
    if (uv_accept(server, &c->io.s) < 0) {
        conn_close(c);
        return;
    }
    if (!c->via_unix)
        uv_tcp_nodelay(&c->io.tcp, 1);
    peer_name(c);
    set_reading(c, true);
    timer_start(c, T_IDLE, s->idle_ms, 0);
    if (s->max_conns && s->nactive >= s->max_conns) {
        c->rejected = true;
        conn_send_error(c, 503, "too_many_connections", "too many open connections");
        return;
    }
    c->counted = true;
    s->nactive++;
}

/* ---- listeners -------------------------------------------------------------- */

static void on_server_handle_closed(uv_handle_t *h)
{
    struct aut_http_server *s = h->data;
    s->open--;
    server_maybe_done(s);
}

/* A socket file at path: none, or a stale one (removed) is fine; a live one
 * (a server answers) or anything not a socket is refused. */
static int clear_stale_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN;
    close(fd);
    if (live)
        return -EADDRINUSE;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int listen_unix(struct aut_http_server *s, const struct aut_http_opts *o, char *err,
                       size_t errlen)
{
    const char *path = o->unix_path;
    struct stat st;
    int rc;
    if (strlen(path) >= sizeof((struct sockaddr_un *)0)->sun_path)
        rc = -ENAMETOOLONG;
    else
        rc = clear_stale_socket(path);
    if (rc == -EEXIST) {
        snprintf(err, errlen, "listen %s: the file exists and is not a socket", path);
        return rc;
    }
    if (rc == 0 && (rc = uv_pipe_init(s->loop, &s->pipe, 0)) == 0) {
        s->pipe_open = true;
        s->pipe.data = s;
        s->open++;
        rc = uv_pipe_bind(&s->pipe, path);
    }
    if (rc == 0 && lstat(path, &st) == 0 && (s->unix_path = strdup(path))) {
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
    }
    if (rc == 0 && chmod(path, o->unix_mode) < 0)
        rc = -errno;
    if (rc == 0) /* listening only now: nobody connected while the mode was wider */
        rc = uv_listen((uv_stream_t *)&s->pipe, BACKLOG, on_connection);
    if (rc < 0)
        snprintf(err, errlen, "listen %s: %s", path, uv_strerror(rc));
    return rc;
}

static int listen_tcp(struct aut_http_server *s, const struct aut_http_opts *o, char *err,
                      size_t errlen)
{
    const char *host = strcmp(o->tcp_host, "localhost") ? o->tcp_host : "127.0.0.1";
    bool v6 = strchr(host, ':') != NULL;
    struct sockaddr_storage ss;
    int alen = sizeof ss, rc = -EINVAL;
    if (o->tcp_port >= 0 && o->tcp_port <= 65535)
        rc = v6 ? uv_ip6_addr(host, o->tcp_port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(host, o->tcp_port, (struct sockaddr_in *)&ss);
    if (rc == 0 && (rc = uv_tcp_init(s->loop, &s->tcp)) == 0) {
        s->tcp_open = true;
        s->tcp.data = s;
        s->open++;
        rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    }
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, BACKLOG, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &alen);
    if (rc < 0) {
        snprintf(err, errlen, v6 ? "listen [%s]:%d: %s" : "listen %s:%d: %s", host, o->tcp_port,
                 uv_strerror(rc));
        return rc;
    }
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int aut_http_start(uv_loop_t *loop, const struct aut_http_opts *o, struct aut_http_server **out,
                   char *err, size_t errlen)
{
    char scratch[8];
    bool tcp = o->tcp_host && o->tcp_host[0], unx = o->unix_path && o->unix_path[0];
    int rc;
    if (!err || !errlen) {
        err = scratch;
        errlen = sizeof scratch;
    }
    if (!o->on_request || (!tcp && !unx)) {
        snprintf(err, errlen, "listen: %s", o->on_request ? "no address given" : "no handler");
        return -EINVAL;
    }
    struct aut_http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "listen: out of memory");
        return -ENOMEM;
    }
    s->loop = loop;
    s->max_body = o->max_body;
    s->max_conns = o->max_conns;
    s->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : IDLE_DEFAULT_MS;
    s->on_request = o->on_request;
    s->ud = o->ud;
    uv_idle_init(loop, &s->closer);
    s->closer.data = s;
    s->open = 1;
    if ((tcp && (rc = listen_tcp(s, o, err, errlen)) < 0) ||
        (unx && (rc = listen_unix(s, o, err, errlen)) < 0)) {
        aut_http_close(s, NULL, NULL); /* frees s once its handles are closed */
        return rc;
    }
    *out = s;
    return 0;
}

int aut_http_tcp_port(const struct aut_http_server *s)
{
    return s ? s->port : 0;
}

void aut_http_stop_listening(struct aut_http_server *s)
{
    struct stat st;
    if (!s)
        return;
    if (s->tcp_open)
        uv_close((uv_handle_t *)&s->tcp, on_server_handle_closed);
    if (s->pipe_open)
        uv_close((uv_handle_t *)&s->pipe, on_server_handle_closed);
    s->tcp_open = s->pipe_open = false;
    /* remove our socket file, not one another server has put there since */
    if (s->unix_path && lstat(s->unix_path, &st) == 0 && st.st_dev == s->sock_dev &&
        st.st_ino == s->sock_ino)
        unlink(s->unix_path);
    free(s->unix_path);
    s->unix_path = NULL;
}

void aut_http_close(struct aut_http_server *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_ud = ud;
    aut_http_stop_listening(s);
    for (struct aut_http_conn *c = s->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&s->closer, on_server_handle_closed);
}

unsigned aut_http_conn_count(const struct aut_http_server *s)
{
    return s ? s->nactive : 0;
}

/* ---- answering ---------------------------------------------------------------- */

/* Detaches req from its connection and frees it; the connection goes on
 * parsing if it is still open. */
static void req_done(struct aut_http_conn *c, struct aut_http_req *req, bool live)
{
    c->outstanding = NULL;
    req_free(req);
    if (live && !c->closing && !c->finishing && !c->is_sse) {
        http_parser_pause(&c->parser, 0);
        timer_start(c, T_IDLE, c->srv->idle_ms, 0);
        conn_pump(c);
    }
    conn_unref(c);
}

int aut_http_respond(struct aut_http_req *req, int status, const char *content_type,
                     const char *body, size_t len, const char *extra_headers)
{
    if (!req)
        return -1;
    struct aut_http_conn *c = req->conn;
    bool live = c->outstanding == req && !c->closing;
    int rc = -1;
    if (live && status >= 200 && status <= 599) {
        rc = conn_respond(c, status, content_type, body, len, extra_headers, c->keep_alive);
    } else if (live) {
        conn_send_error(c, 500, "internal_error", "the handler gave a bad status");
    }
    req_done(c, req, live);
    return rc;
}

int aut_http_error(struct aut_http_req *req, int status, const char *code, const char *fmt, ...)
{
    static const char oom[] =
        "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *body = error_json(code, msg);
    int rc = body ? aut_http_respond(req, status, "application/json", body, strlen(body), NULL)
                  : aut_http_respond(req, 500, "application/json", oom, sizeof oom - 1, NULL);
    cJSON_free(body);
    return rc;
}

/* ---- event streams -------------------------------------------------------------- */

struct aut_http_sse *aut_http_sse_begin(struct aut_http_req *req, unsigned keepalive_ms,
                                        void (*on_close)(void *ud), void *ud)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n";
    if (!req)
        return NULL;
    struct aut_http_conn *c = req->conn;
    struct aut_http_sse *sse = NULL;
    bool live = c->outstanding == req && !c->closing;
    uint64_t ka = keepalive_ms ? keepalive_ms : KEEPALIVE_DEFAULT_MS;
    if (live && conn_write(c, head, sizeof head - 1) == 0) {
        c->is_sse = true;
        c->in.len = 0; /* anything pipelined after a stream request is dropped */
        sse = &c->sse;
        *sse = (struct aut_http_sse){.c = c, .on_close = on_close, .ud = ud};
        timer_start(c, T_SSE, ka, ka);
        if (c->peer_eof)
            conn_close(c); /* the peer had already gone: on_close follows */
        else
            set_reading(c, true); /* to see the peer go */
    }
    req_done(c, req, false);
    return sse;
}

/* Bytes "data: <line>\n" lines of data take (lines split on CR, LF, CRLF). */
static size_t sse_data_size(const char *data)
{
    size_t n = 7; /* "data: " + "\n" of the first line */
    for (const char *p = data; *p; p++) {
        n++;
        if (*p == '\r' || *p == '\n')
            n += 6;
    }
    return n;
}

/* Writes the data lines at out (sse_data_size bytes at most); returns the
 * bytes written. */
static size_t sse_put_data(char *out, const char *data)
{
    const char *line = data;
    size_t o = 0;
    for (;;) {
        size_t n = strcspn(line, "\r\n");
        memcpy(out + o, "data: ", 6);
        memcpy(out + o + 6, line, n);
        out[o + 6 + n] = '\n';
        o += n + 7;
        if (!line[n])
            return o;
        line += n + (line[n] == '\r' && line[n + 1] == '\n' ? 2 : 1);
    }
}

int aut_http_sse_send(struct aut_http_sse *s, const char *event, int64_t id, const char *data)
{
    if (!s || s->ended || s->c->closing || s->c->finishing)
        return -1;
    struct aut_http_conn *c = s->c;
    struct wreq *w;
    size_t n = 0;
    if (!data)
        data = "";
    if (event && event[strcspn(event, "\r\n")])
        return -1; /* a newline would end the event early */
    size_t need = 40 + (event ? strlen(event) + 8 : 0) + sse_data_size(data);
    if (uv_stream_get_write_queue_size(&c->io.s) + need > SSE_QUEUE_MAX) {
        conn_close(c); /* the peer does not keep up */
        return -1;
    }
    if (!(w = wreq_new(c, need)))
        return -1;
    if (id >= 0)
        n = (size_t)snprintf(w->data, need, "id: %lld\n", (long long)id);
    if (event)
        n += (size_t)snprintf(w->data + n, need - n, "event: %s\n", event);
    n += sse_put_data(w->data + n, data); /* fits: need counted it */
    w->data[n++] = '\n';
    return conn_send(c, w, n);
}

void aut_http_sse_end(struct aut_http_sse *s)
{
    if (!s || s->ended)
        return;
    s->ended = true;
    if (!s->c->closing)
        uv_timer_stop(&s->c->timer);
    conn_finish(s->c);
}

/* ---- query strings ---------------------------------------------------------------- */

/* Whether the (encoded) key of n bytes at k decodes to key. */
static bool key_matches(const char *k, size_t n, const char *key)
{
    char buf[256];
    long len = pct_decode(k, n, buf, sizeof buf, true);
    return len >= 0 && (size_t)len == strlen(key) && !memcmp(buf, key, (size_t)len);
}

int aut_http_query_param(const char *query, const char *key, char *out, size_t outlen)
{
    if (!key || !out || !outlen)
        return -1;
    out[0] = '\0';
    for (const char *p = query; p && *p;) {
        const char *end = p + strcspn(p, "&");
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if (key_matches(p, (size_t)(kend - p), key)) {
            const char *v = eq ? eq + 1 : end;
            long n = pct_decode(v, (size_t)(end - v), out, outlen, true);
            if (n < 0 || memchr(out, '\0', (size_t)n)) {
                out[0] = '\0';
                return -1;
            }
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}
