/*
 * httpc.h - the HTTP client side, with libcurl (the only module that uses
 * it): model downloads (blocking, for a job's thread), requests to autond
 * over its Unix socket (blocking, for autonctl), and POSTs driven by a libuv
 * loop through curl's multi-socket API (webhooks, never blocking the loop).
 *
 * Errors name the URL and what failed ("GET http://127.0.0.1:8000/m.gguf:
 * HTTP 404", "...: over the limit of 1048576 bytes", "...: Couldn't connect
 * to server").
 */
#ifndef AUTON_COMMON_HTTPC_H
#define AUTON_COMMON_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Calls curl_global_init once (thread-safe); every entry point below calls it. */
void aut_httpc_global_init(void);

/* True for "http://..." and "https://..." (case-insensitive scheme). */
bool aut_httpc_is_url(const char *s);

/* ---- downloads (blocking) ---- */

struct aut_httpc_download {
    const char *url;
    const char *dest;        /* the partial file: resumed (HTTP Range) when it exists */
    uint64_t max_bytes;      /* refuse (and stop) beyond this; the server's Content-Length too;
                                0: no limit */
    unsigned timeout_s;      /* whole transfer; 0: none */
    unsigned connect_timeout_s; /* 0: 10 */
    /* Polled about once a second and on every chunk; true stops the transfer
     * (error "canceled"). May be NULL. */
    bool (*should_stop)(void *ud);
    void *ud;
};
/* Downloads url into dest, appending to what dest already holds when the
 * server honours the Range (206); a 200 answer to a Range request starts over
 * (dest truncated); a 416 means dest is already whole. Follows up to 5
 * redirects. On success *bytes is dest's size. On failure dest is kept (so a
 * later call resumes) unless the failure was the size limit or an HTTP error
 * status, which remove it. Returns 0, or negative with err: -EPROTO for an
 * HTTP error status and -EFBIG for the size limit (the server answered: the
 * URL or the file is at fault), -ECANCELED when stopped, -1 for the rest (no
 * connection, a timeout, a reset: worth a retry). */
int aut_httpc_download(const struct aut_httpc_download *d, uint64_t *bytes, char *err,
                       size_t errlen);

/* ---- requests to a local daemon (blocking) ---- */

struct aut_httpc_req {
    const char *unix_path;   /* the Unix socket to connect through, or NULL for TCP */
    const char *url;         /* "http://localhost/v1/health" (host ignored over a Unix socket) */
    const char *method;      /* "GET", "POST" */
    const char *body;        /* NULL: none */
    size_t body_len;
    const char *const *headers; /* NULL-terminated "Name: value" list, or NULL */
    unsigned timeout_ms;     /* 0: none (streams) */
    /* NULL: the body is collected into *resp. Else each chunk goes here as it
     * arrives (event streams, logs -f); return nonzero to stop (not an error). */
    int (*on_data)(void *ud, const char *buf, size_t len);
    /* NULL, or called for each response header (name and value trimmed,
     * NUL-terminated, borrowed for the call), before the body. */
    void (*on_header)(void *ud, const char *name, const char *value);
    void *ud;
};
/* Performs the request. *status is the HTTP status (0 when none came).
 * *resp (malloc'ed, NUL-terminated, may be NULL when on_data is set) and
 * *resp_len receive the body. Returns 0 when a response came (any status),
 * -1 with err when none did (connection refused, timeout...); -ECONNREFUSED /
 * -ENOENT when nothing listens on unix_path. */
int aut_httpc_request(const struct aut_httpc_req *r, long *status, char **resp, size_t *resp_len,
                      char *err, size_t errlen);

/* ---- POSTs on a libuv loop (multi-socket API) ---- */

struct aut_httpc_multi;

/* Binds a curl multi handle to loop (its sockets are polled with uv_poll,
 * its timeouts with a uv_timer). Loop thread only. */
int aut_httpc_multi_init(uv_loop_t *loop, struct aut_httpc_multi **out);
/* Aborts transfers in flight (their done callbacks run with error
 * "shutting down"), then frees everything once libuv has closed its
 * handles. */
void aut_httpc_multi_close(struct aut_httpc_multi *m);

/* status: the HTTP status, 0 when none came; error: NULL on a response (any
 * status), else what failed. Called on the loop. */
typedef void (*aut_httpc_done_fn)(void *ud, long status, const char *error);

/* Starts a POST of body (copied) with content type application/json plus
 * headers (NULL-terminated "Name: value" list, copied; may be NULL); done is
 * called once when it ends. Returns 0, or -1 (done is not called). */
int aut_httpc_post(struct aut_httpc_multi *m, const char *url, const char *body, size_t len,
                   const char *const *headers, unsigned timeout_ms, aut_httpc_done_fn done,
                   void *ud);
/* Transfers in flight. */
unsigned aut_httpc_multi_active(const struct aut_httpc_multi *m);

#endif
