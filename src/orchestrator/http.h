/*
 * http.h - autond's HTTP/1.1 server on the libuv loop: listeners on TCP and
 * on a Unix socket, request framing with Debian's http-parser (the only
 * module that uses it), keep-alive, a body size limit, responses and
 * Server-Sent Event streams. It knows nothing of the API: every complete
 * request goes to one handler.
 *
 * Everything here runs on the loop thread. A handler may answer at once or
 * later (after thread-pool work): the request stays valid until answered
 * with aut_http_respond or turned into a stream with aut_http_sse_begin.
 * Requests on one connection are answered in order: the parser is paused
 * while a request is outstanding.
 *
 * The server itself answers framing errors, so the handler never sees them,
 * always as JSON {"error":{"code","message"}} and then closes the connection:
 *   400 bad_request        the bytes are not HTTP/1.x (http-parser's error name in message)
 *   413 payload_too_large  a body over max_body (Content-Length or chunked)
 *   431 headers_too_large  headers over 16 KiB
 *   503 too_many_connections  over max_conns
 */
#ifndef AUTON_ORCH_HTTP_H
#define AUTON_ORCH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct aut_http_server;
struct aut_http_conn;

struct aut_http_req {
    char method[8]; /* "GET", "POST", ... */
    char *path;     /* the URL's path, percent-decoded, NUL-terminated */
    char *query;    /* the raw query string without '?', "" when none */
    char *body;     /* NUL-terminated (body_len excludes the NUL); "" when none */
    size_t body_len;
    /* Headers the API uses ("" when absent): */
    char authorization[256];
    char idempotency_key[256];
    char content_type[128];
    char last_event_id[32];
    bool via_unix;              /* arrived on the Unix socket (else TCP) */
    char peer[64];              /* "127.0.0.1:54321" or "unix" */
    void *ud;                   /* free for the handler */
    struct aut_http_conn *conn; /* internal */
};

typedef void (*aut_http_handler_fn)(void *ud, struct aut_http_req *req);

struct aut_http_opts {
    const char *tcp_host;     /* NULL or "": no TCP listener */
    int tcp_port;             /* 0: an ephemeral port (see aut_http_tcp_port) */
    const char *unix_path;    /* NULL or "": no Unix listener; a stale socket file is replaced */
    unsigned unix_mode;       /* permissions of the socket file, e.g. 0600 */
    size_t max_body;          /* bytes */
    unsigned max_conns;       /* open connections at most */
    unsigned idle_timeout_ms; /* a keep-alive connection idle this long is closed; 0: 30000 */
    aut_http_handler_fn on_request;
    void *ud;
};

/* Starts listening. Returns 0 and *out, or negative with err (which address
 * and libuv's message, e.g. "listen 127.0.0.1:8470: address already in use"). */
int aut_http_start(uv_loop_t *loop, const struct aut_http_opts *o, struct aut_http_server **out,
                   char *err, size_t errlen);
/* The TCP port listened on (after port 0), or 0. */
int aut_http_tcp_port(const struct aut_http_server *s);
/* Stops listening (new connections refused); open ones keep going. */
void aut_http_stop_listening(struct aut_http_server *s);
/* Closes every connection and the listeners, removes the socket file, and
 * calls done(ud) on the loop once every handle is closed; then the server is
 * freed. Outstanding requests are dropped (answering them is a no-op). */
void aut_http_close(struct aut_http_server *s, void (*done)(void *ud), void *ud);
/* Open connections / open event streams now. */
unsigned aut_http_conn_count(const struct aut_http_server *s);

/* Answers req with status, content type and body (copied); extra_headers is
 * NULL or "Name: value\r\n" lines. Keep-alive is honoured. req is freed. If
 * the connection has gone, the answer is dropped. Returns 0 or -1. */
int aut_http_respond(struct aut_http_req *req, int status, const char *content_type,
                     const char *body, size_t len, const char *extra_headers);
/* A JSON error answer: {"error":{"code":code,"message":message}}. */
int aut_http_error(struct aut_http_req *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An event stream: answers req with 200 text/event-stream (no keep-alive
 * reuse: the stream lasts until either side ends it). req is freed; the
 * stream lives until aut_http_sse_end, or until the peer goes, which calls
 * on_close(ud) once (then the stream is freed; do not use it again).
 * Sends a comment line every keepalive_ms (0: 15000) so proxies keep it open. */
struct aut_http_sse;
struct aut_http_sse *aut_http_sse_begin(struct aut_http_req *req, unsigned keepalive_ms,
                                        void (*on_close)(void *ud), void *ud);
/* One event: "id: <id>\nevent: <event>\ndata: <line>\n...\n\n" (id omitted
 * when < 0, event omitted when NULL; data split on newlines). Returns 0, or
 * -1 when the peer has gone. Writes are queued; a peer that lets more than
 * 8 MiB queue up is disconnected (on_close runs). */
int aut_http_sse_send(struct aut_http_sse *s, const char *event, int64_t id, const char *data);
/* Ends the stream (closes the connection; on_close is not called). */
void aut_http_sse_end(struct aut_http_sse *s);

/* Percent-decodes a query parameter's value: copies the value of key from
 * query into out (NUL-terminated). Returns 1 found, 0 absent, -1 too long or
 * badly encoded. */
int aut_http_query_param(const char *query, const char *key, char *out, size_t outlen);

/* "OK", "Not Found"... for a status code. */
const char *aut_http_reason(int status);

#endif
