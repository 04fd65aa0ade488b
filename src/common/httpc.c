/*
 * httpc.c - every use of libcurl: resumable downloads to a file, blocking
 * requests to autond (over its Unix socket or TCP), and POSTs driven by a
 * libuv loop through curl's multi-socket API (see httpc.h). The only mutable
 * global is the pthread_once flag guarding curl_global_init.
 */
#include "httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define MAX_REDIRS 5L
#define CONNECT_TIMEOUT_S 10L

static pthread_once_t global_once = PTHREAD_ONCE_INIT; /* the one global: curl_global_init */

static void global_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void aut_httpc_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

bool aut_httpc_is_url(const char *s)
{
    return s && (!strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8));
}

/* What curl says failed: its generic text, plus the error buffer's details
 * (host, port, errno) when it has any. */
static void curl_text(CURLcode res, const char *ebuf, char *out, size_t len)
{
    const char *what = curl_easy_strerror(res);
    if (ebuf && *ebuf && strcmp(ebuf, what))
        snprintf(out, len, "%s (%s)", what, ebuf);
    else
        snprintf(out, len, "%s", what);
}

/* Options every handle gets: no signals (we run in threads), only http(s),
 * redirects included, and curl's detailed error text in ebuf. */
static int set_common(CURL *e, char *ebuf)
{
    ebuf[0] = '\0';
    return curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
                   curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf) ||
                   curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ||
                   curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
                   curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S)
               ? -1
               : 0;
}

/* A write callback for bodies nobody reads (curl's default prints them). */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* ---- downloads ---- */

/* One download in progress; the user data of its curl callbacks. */
struct dl {
    const struct aut_httpc_download *d;
    CURL *easy;
    int fd;                /* dest, O_APPEND */
    uint64_t resumed_from; /* dest's size when the request went out (the Range start) */
    uint64_t have;         /* dest's size now */
    int64_t range_start;   /* the answer's Content-Range start, -1 when none */
    bool started;          /* the answer's status was judged (first body byte) */
    bool stopped, over, bad_status, bad_range;
    bool remove;  /* the failure leaves nothing worth resuming */
    bool created; /* dest did not exist before this call */
    int werr;     /* -errno of a failed write or truncate */
};

/* Decides, before the first byte lands, what the answer means for dest: a
 * 206 at our offset appends, a 200 (or a 206 from 0) starts over. */
static int dl_judge_status(struct dl *s)
{
    long code = 0;
    s->started = true;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300) {
        s->bad_status = true;
        return -1;
    }
    if (s->have == 0)
        return 0;
    if (code == 206 && s->range_start != 0) {
        if (s->range_start > 0 && (uint64_t)s->range_start == s->have)
            return 0;
        s->bad_range = true; /* appending it would corrupt dest */
        return -1;
    }
    if (ftruncate(s->fd, 0) < 0) {
        s->werr = -errno;
        return -1;
    }
    s->have = 0;
    return 0;
}

static bool dl_should_stop(struct dl *s)
{
    if (s->d->should_stop && s->d->should_stop(s->d->ud))
        s->stopped = true;
    return s->stopped;
}

static size_t dl_write(char *buf, size_t size, size_t n, void *ud)
{
    struct dl *s = ud;
    size_t len = size * n;
    if (!s->started && dl_judge_status(s) < 0)
        return 0;
    if (dl_should_stop(s))
        return 0;
    /* counted here too: a close-delimited or chunked body has no Content-Length
     * for CURLOPT_MAXFILESIZE to check, and a 206 only gives the remainder's */
    if (s->d->max_bytes && len > s->d->max_bytes - s->have) {
        s->over = true;
        return 0;
    }
    int rc = aut_write_all(s->fd, buf, len);
    if (rc < 0) {
        s->werr = rc;
        return 0;
    }
    s->have += len;
    return len;
}

/* Remembers where a 206's Content-Range starts; every status line (a
 * redirect's too) resets it. */
static size_t dl_header(char *buf, size_t size, size_t n, void *ud)
{
    struct dl *s = ud;
    size_t len = size * n;
    char line[128];
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) {
        s->range_start = -1;
    } else if (len > 14 && len < sizeof line && !strncasecmp(buf, "content-range:", 14)) {
        unsigned long long start;
        memcpy(line, buf, len);
        line[len] = '\0';
        if (sscanf(line + 14, " bytes %llu-", &start) == 1 && start <= INT64_MAX)
            s->range_start = (int64_t)start;
    }
    return len;
}

static int dl_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    return dl_should_stop(ud) ? 1 : 0;
}

static int dl_setup(struct dl *s, char *ebuf)
{
    const struct aut_httpc_download *d = s->d;
    CURL *e = s->easy;
    char range[32];
    curl_off_t max = d->max_bytes > INT64_MAX ? INT64_MAX : (curl_off_t)d->max_bytes;
    /* CURLOPT_RANGE rather than CURLOPT_RESUME_FROM_LARGE: with the latter curl
     * itself fails a 200 answer ("doesn't seem to support byte ranges"),
     * where we want to start over */
    snprintf(range, sizeof range, "%" PRIu64 "-", s->resumed_from);
    return set_common(e, ebuf) || curl_easy_setopt(e, CURLOPT_URL, d->url) ||
                   curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) ||
                   curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRS) ||
                   curl_easy_setopt(e, CURLOPT_RANGE, s->resumed_from ? range : NULL) ||
                   curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, d->max_bytes ? max : 0) ||
                   curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)d->timeout_s) ||
                   curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
                                    d->connect_timeout_s ? (long)d->connect_timeout_s
                                                         : CONNECT_TIMEOUT_S) ||
                   curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dl_write) ||
                   curl_easy_setopt(e, CURLOPT_WRITEDATA, s) ||
                   curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, dl_header) ||
                   curl_easy_setopt(e, CURLOPT_HEADERDATA, s) ||
                   curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) ||
                   curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, dl_progress) ||
                   curl_easy_setopt(e, CURLOPT_XFERINFODATA, s)
               ? -1
               : 0;
}

/* What the finished transfer means: 0, -ECANCELED or -1 with err; sets
 * s->remove for the failures that leave nothing worth resuming. */
static int dl_result(struct dl *s, CURLcode res, const char *ebuf, char *err, size_t errlen)
{
    const char *url = s->d->url;
    char what[CURL_ERROR_SIZE + 128];
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (s->stopped || res == CURLE_ABORTED_BY_CALLBACK)
        return aut_errf(err, errlen, -ECANCELED, "GET %s: canceled", url);
    if (code == 416 && s->resumed_from > 0)
        return 0; /* nothing after our offset: dest is already whole */
    if (s->werr)
        return aut_errf(err, errlen, -1, "GET %s: write %s: %s", url, s->d->dest,
                        strerror(-s->werr));
    s->remove = true;
    if (s->bad_status || (code && (code < 200 || code >= 300)))
        return aut_errf(err, errlen, -EPROTO, "GET %s: HTTP %ld", url, code);
    if (s->over || res == CURLE_FILESIZE_EXCEEDED)
        return aut_errf(err, errlen, -EFBIG, "GET %s: over the limit of %" PRIu64 " bytes", url,
                        s->d->max_bytes);
    if (s->bad_range && s->range_start < 0)
        return aut_errf(err, errlen, -1, "GET %s: HTTP 206 without a Content-Range", url);
    if (s->bad_range)
        return aut_errf(err, errlen, -1,
                        "GET %s: the server resumed at byte %" PRId64 ", not %" PRIu64, url,
                        s->range_start, s->have);
    s->remove = false;
    if (res != CURLE_OK) {
        curl_text(res, ebuf, what, sizeof what);
        return aut_errf(err, errlen, -1, "GET %s: %s", url, what);
    }
    /* an empty 200 to a Range request never reached dl_write: start over here */
    if (!s->started && dl_judge_status(s) < 0)
        return aut_errf(err, errlen, -1, "GET %s: truncate %s: %s", url, s->d->dest,
                        strerror(s->werr ? -s->werr : EIO));
    return 0;
}

/* Opens dest for appending and notes its size (the resume point). */
static int dl_open(struct dl *s, char *err, size_t errlen)
{
    struct stat st;
    s->created = access(s->d->dest, F_OK) != 0;
    s->fd = open(s->d->dest, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0)
        return aut_errf(err, errlen, -1, "GET %s: open %s: %s", s->d->url, s->d->dest,
                        strerror(errno));
    if (fstat(s->fd, &st) < 0) {
        aut_errf(err, errlen, -1, "GET %s: stat %s: %s", s->d->url, s->d->dest, strerror(errno));
        close(s->fd);
        return -1;
    }
    s->have = s->resumed_from = (uint64_t)st.st_size;
    return 0;
}

int aut_httpc_download(const struct aut_httpc_download *d, uint64_t *bytes, char *err,
                       size_t errlen)
{
    struct dl s = {.d = d, .fd = -1, .range_start = -1};
    char ebuf[CURL_ERROR_SIZE];
    struct stat st = {0};
    int rc;
    aut_httpc_global_init();
    if (!d || !aut_httpc_is_url(d->url) || !d->dest)
        return aut_errf(err, errlen, -1, "GET %s: %s", d && d->url ? d->url : "(no URL)",
                        d && d->dest ? "not an http(s) URL" : "no destination");
    if (dl_open(&s, err, errlen) < 0)
        return -1;
    if (d->max_bytes && s.have > d->max_bytes) {
        s.remove = true;
        rc = aut_errf(err, errlen, -EFBIG, "GET %s: over the limit of %" PRIu64 " bytes", d->url,
                      d->max_bytes);
        goto fail;
    }
    if (!(s.easy = curl_easy_init()) || dl_setup(&s, ebuf) < 0) {
        rc = aut_errf(err, errlen, -1, "GET %s: cannot set up a curl handle", d->url);
        goto fail;
    }
    rc = dl_result(&s, curl_easy_perform(s.easy), ebuf, err, errlen);
    if (!rc && fstat(s.fd, &st) < 0)
        rc = aut_errf(err, errlen, -1, "GET %s: stat %s: %s", d->url, d->dest, strerror(errno));
    if (!rc && bytes)
        *bytes = (uint64_t)st.st_size;
fail:
    curl_easy_cleanup(s.easy);
    if (close(s.fd) < 0 && !rc)
        rc = aut_errf(err, errlen, -1, "GET %s: close %s: %s", d->url, d->dest, strerror(errno));
    /* a failure removes what is not worth resuming, and never leaves an
     * empty file this call created (no connection, say) */
    if (rc && (s.remove || (s.created && stat(d->dest, &st) == 0 && st.st_size == 0)))
        unlink(d->dest);
    return rc;
}

/* ---- requests (blocking) ---- */

/* One request in progress; the user data of its write callback. */
struct rq {
    const struct aut_httpc_req *r;
    bool keep; /* collect the body (no on_data, and the caller wants it) */
    char *buf; /* the collected body, NUL-terminated */
    size_t len, cap;
    bool stopped; /* on_data asked to stop */
    bool nomem;
};

static size_t rq_write(char *p, size_t size, size_t n, void *ud)
{
    struct rq *q = ud;
    size_t len = size * n;
    if (q->r->on_data) {
        if (q->r->on_data(q->r->ud, p, len)) {
            q->stopped = true;
            return 0;
        }
        return len;
    }
    if (!q->keep)
        return len;
    if (len >= q->cap - q->len) {
        size_t cap = q->cap ? q->cap : 4096;
        while (len >= cap - q->len && cap < SIZE_MAX / 2)
            cap *= 2;
        char *nb = len < cap - q->len ? realloc(q->buf, cap) : NULL;
        if (!nb) {
            q->nomem = true;
            return 0;
        }
        q->buf = nb;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, p, len);
    q->len += len;
    q->buf[q->len] = '\0';
    return len;
}

/* The method: a body (or POST) makes curl POST it; any other method name
 * replaces the verb on the request line. HEAD must also skip the body. */
static int rq_method(CURL *e, const struct aut_httpc_req *r)
{
    const char *m = r->method && *r->method ? r->method : "GET";
    bool post = r->body || !strcmp(m, "POST");
    if (!strcmp(m, "HEAD") && !r->body)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) ? -1 : 0;
    if (post && (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len) ||
                 curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "")))
        return -1;
    if (strcmp(m, post ? "POST" : "GET") && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m))
        return -1;
    return 0;
}

/* headers, then "Expect:" (curl would otherwise wait for a 100 Continue
 * before a large body, which small servers never send). */
static struct curl_slist *header_list(const char *first, const char *const *headers)
{
    struct curl_slist *l = NULL, *t;
    if (first && !(l = curl_slist_append(l, first)))
        return NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (!(t = curl_slist_append(l, headers[i])))
            goto fail;
        l = t;
    }
    if ((t = curl_slist_append(l, "Expect:")))
        return t;
fail:
    curl_slist_free_all(l);
    return NULL;
}

/* One response header line "Name: value\r\n" to the caller's on_header. */
static size_t rq_header(char *p, size_t size, size_t n, void *ud)
{
    struct rq *q = ud;
    size_t len = size * n, colon = 0;
    char line[1024];
    if (len >= sizeof line)
        return len; /* longer than any header the API sends: skipped */
    memcpy(line, p, len);
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    line[len] = '\0';
    while (colon < len && line[colon] != ':')
        colon++;
    if (colon == 0 || colon == len) /* the status line, or the blank line */
        return size * n;
    line[colon] = '\0';
    const char *v = line + colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    q->r->on_header(q->r->ud, line, v);
    return size * n;
}

static int rq_setup(CURL *e, struct rq *q, struct curl_slist *hdrs, char *ebuf)
{
    const struct aut_httpc_req *r = q->r;
    return set_common(e, ebuf) || curl_easy_setopt(e, CURLOPT_URL, r->url) ||
                   (r->unix_path && curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, r->unix_path)) ||
                   rq_method(e, r) || curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) ||
                   curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms) ||
                   curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, rq_write) ||
                   curl_easy_setopt(e, CURLOPT_WRITEDATA, q) ||
                   (r->on_header && (curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, rq_header) ||
                                     curl_easy_setopt(e, CURLOPT_HEADERDATA, q)))
               ? -1
               : 0;
}

/* The failure of a request that got no (whole) response: -ENOENT or
 * -ECONNREFUSED when nothing listens on the Unix socket, else -1. */
static int rq_failure(CURL *e, const struct aut_httpc_req *r, struct rq *q, CURLcode res,
                      const char *ebuf, const char *name, char *err, size_t errlen)
{
    char what[CURL_ERROR_SIZE + 128];
    long oserr = 0;
    if (q->nomem)
        return aut_errf(err, errlen, -1, "%s: out of memory for the response", name);
    curl_text(res, ebuf, what, sizeof what);
    aut_errf(err, errlen, -1, "%s: %s", name, what);
    if (!r->unix_path || res != CURLE_COULDNT_CONNECT)
        return -1;
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
    return oserr == ENOENT ? -ENOENT : -ECONNREFUSED;
}

int aut_httpc_request(const struct aut_httpc_req *r, long *status, char **resp, size_t *resp_len,
                      char *err, size_t errlen)
{
    struct rq q = {.r = r, .keep = resp && r && !r->on_data};
    struct curl_slist *hdrs = NULL;
    struct stat st;
    char ebuf[CURL_ERROR_SIZE], name[512];
    CURL *e = NULL;
    int rc = -1;
    aut_httpc_global_init();
    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (resp_len)
        *resp_len = 0;
    if (!r || !r->url)
        return aut_errf(err, errlen, -1, "request: no URL");
    snprintf(name, sizeof name, "%s %s%s%s", r->method ? r->method : "GET", r->url,
             r->unix_path ? " via " : "", r->unix_path ? r->unix_path : "");
    /* told apart up front: "no daemon" is the common case for autonctl */
    if (r->unix_path && stat(r->unix_path, &st) < 0 && errno == ENOENT)
        return aut_errf(err, errlen, -ENOENT, "%s: %s", name, strerror(ENOENT));
    if (!(e = curl_easy_init()) || !(hdrs = header_list(NULL, r->headers)) ||
        rq_setup(e, &q, hdrs, ebuf) < 0) {
        aut_errf(err, errlen, -1, "%s: cannot set up a curl handle", name);
        goto fail;
    }
    CURLcode res = curl_easy_perform(e);
    if (status)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    if (res != CURLE_OK && !q.stopped) {
        rc = rq_failure(e, r, &q, res, ebuf, name, err, errlen);
        goto fail;
    }
    if (q.keep && !q.buf && !(q.buf = calloc(1, 1))) { /* an empty body is still a string */
        aut_errf(err, errlen, -1, "%s: out of memory for the response", name);
        goto fail;
    }
    rc = 0;
    if (resp)
        *resp = q.buf;
    if (resp_len)
        *resp_len = q.len;
    q.buf = NULL;
fail:
    free(q.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    return rc;
}

/* ---- POSTs on a libuv loop ----
 *
 * The shape of curl's multi-uv.c example: curl tells on_socket which sockets
 * to watch (one uv_poll_t each) and on_timer_set when to call it back (one
 * uv_timer_t); both events call curl_multi_socket_action, then
 * check_done reaps finished transfers. A poll handle is only freed in its
 * close callback, and the struct itself only once every handle it owns has
 * been closed, so aut_httpc_multi_close may run anywhere on the loop thread,
 * a done callback included, and the loop then runs to completion. */

struct xfer;

struct aut_httpc_multi {
    uv_loop_t *loop;
    CURLM *cm;
    uv_timer_t timer;
    unsigned active;       /* transfers in flight */
    unsigned open_handles; /* the timer and the polls, until their close callbacks */
    bool closing;
    struct xfer *xfers; /* in flight, for close */
    struct sock *socks; /* polls not yet closing, for close */
};

/* One POST in flight; CURLOPT_PRIVATE of its easy handle. */
struct xfer {
    struct aut_httpc_multi *m;
    CURL *easy;
    struct curl_slist *hdrs;
    aut_httpc_done_fn done;
    void *ud;
    char ebuf[CURL_ERROR_SIZE];
    struct xfer *prev, *next;
};

/* One socket curl asked us to watch; curl_multi_assign'ed to it. */
struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct aut_httpc_multi *m;
    struct sock *prev, *next;
};

static void handle_closed(struct aut_httpc_multi *m)
{
    if (--m->open_handles == 0 && m->closing)
        free(m);
}

static void timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void poll_closed(uv_handle_t *h)
{
    struct sock *k = h->data;
    struct aut_httpc_multi *m = k->m;
    free(k);
    handle_closed(m);
}

/* Stops watching k and frees it once libuv is done with it. */
static void sock_close(struct sock *k)
{
    struct aut_httpc_multi *m = k->m;
    if (k->prev)
        k->prev->next = k->next;
    else
        m->socks = k->next;
    if (k->next)
        k->next->prev = k->prev;
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, poll_closed);
}

static void xfer_unlink(struct xfer *x)
{
    struct aut_httpc_multi *m = x->m;
    if (x->prev)
        x->prev->next = x->next;
    else
        m->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    m->active--;
}

/* Ends x: detaches it from curl, frees it, then tells its owner (last, as
 * done may post again or close m). */
static void xfer_finish(struct xfer *x, long status, CURLcode res, const char *why)
{
    struct aut_httpc_multi *m = x->m;
    aut_httpc_done_fn done = x->done;
    void *ud = x->ud;
    char *url = NULL, what[CURL_ERROR_SIZE + 128], msg[CURL_ERROR_SIZE + 2048];
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (why)
        snprintf(what, sizeof what, "%s", why);
    else if (res != CURLE_OK)
        curl_text(res, x->ebuf, what, sizeof what);
    snprintf(msg, sizeof msg, "POST %s: %s", url ? url : "?", why || res ? what : "");
    xfer_unlink(x);
    curl_multi_remove_handle(m->cm, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x);
    done(ud, status, why || res ? msg : NULL);
}

/* Reaps the transfers curl reports finished; stops if a done callback
 * closed m (its multi handle is gone then). */
static void check_done(struct aut_httpc_multi *m)
{
    CURLMsg *msg;
    int left;
    while (!m->closing && (msg = curl_multi_info_read(m->cm, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result; /* msg dies with curl_multi_remove_handle */
        char *x = NULL;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &x);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        xfer_finish((struct xfer *)x, status, res, NULL);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *k = h->data;
    struct aut_httpc_multi *m = k->m;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (!status && (events & UV_READABLE))
        flags |= CURL_CSELECT_IN;
    if (!status && (events & UV_WRITABLE))
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(m->cm, k->fd, flags, &running); /* may close k: not used after */
    check_done(m);
}

static void on_timeout(uv_timer_t *t)
{
    struct aut_httpc_multi *m = t->data;
    int running;
    curl_multi_socket_action(m->cm, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

/* CURLMOPT_TIMERFUNCTION. 0 means "soon", but never from within this
 * callback, and a 0 ms uv timer restarted from its own callback would run
 * again in the same pass: 1 ms instead, as in multi-uv.c. */
static int on_timer_set(CURLM *cm, long timeout_ms, void *userp)
{
    struct aut_httpc_multi *m = userp;
    if (uv_is_closing((uv_handle_t *)&m->timer))
        return 0;
    if (timeout_ms < 0)
        return uv_timer_stop(&m->timer) ? -1 : 0;
    return uv_timer_start(&m->timer, on_timeout, timeout_ms ? (uint64_t)timeout_ms : 1, 0) ? -1 : 0;
}

/* A new socket to watch: its poll handle, linked into m->socks. */
static struct sock *sock_open(struct aut_httpc_multi *m, curl_socket_t s)
{
    struct sock *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    if (uv_poll_init_socket(m->loop, &k->poll, s) < 0) {
        free(k);
        return NULL;
    }
    k->fd = s;
    k->m = m;
    k->poll.data = k;
    m->open_handles++;
    k->next = m->socks;
    if (m->socks)
        m->socks->prev = k;
    m->socks = k;
    curl_multi_assign(m->cm, s, k);
    return k;
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or stop. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct aut_httpc_multi *m = userp;
    struct sock *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            curl_multi_assign(m->cm, s, NULL);
            sock_close(k);
        }
        return 0;
    }
    if (!k && !(k = sock_open(m, s)))
        return -1;
    int events = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
    return uv_poll_start(&k->poll, events, on_poll) < 0 ? -1 : 0;
}

int aut_httpc_multi_init(uv_loop_t *loop, struct aut_httpc_multi **out)
{
    struct aut_httpc_multi *m;
    aut_httpc_global_init();
    if (!loop || !out || !(m = calloc(1, sizeof *m)))
        return -1;
    m->loop = loop;
    if (!(m->cm = curl_multi_init()) ||
        curl_multi_setopt(m->cm, CURLMOPT_SOCKETFUNCTION, on_socket) ||
        curl_multi_setopt(m->cm, CURLMOPT_SOCKETDATA, m) ||
        curl_multi_setopt(m->cm, CURLMOPT_TIMERFUNCTION, on_timer_set) ||
        curl_multi_setopt(m->cm, CURLMOPT_TIMERDATA, m))
        goto fail;
    if (uv_timer_init(loop, &m->timer) < 0) /* last: past it, freeing needs the loop */
        goto fail;
    m->timer.data = m;
    m->open_handles = 1;
    *out = m;
    return 0;
fail:
    curl_multi_cleanup(m->cm);
    free(m);
    return -1;
}

void aut_httpc_multi_close(struct aut_httpc_multi *m)
{
    if (!m || m->closing)
        return;
    m->closing = true; /* from here aut_httpc_post refuses, and check_done stops */
    while (m->xfers)
        xfer_finish(m->xfers, 0, CURLE_OK, "shutting down");
    curl_multi_cleanup(m->cm); /* may still report sockets removed: on_socket closes them */
    m->cm = NULL;
    while (m->socks)
        sock_close(m->socks);
    /* m is freed by the last close callback (handle_closed), on a later loop turn */
    uv_close((uv_handle_t *)&m->timer, timer_closed);
}

static int post_setup(struct xfer *x, const char *url, const char *body, size_t len,
                      unsigned timeout_ms)
{
    CURL *e = x->easy;
    /* the size goes first: COPYPOSTFIELDS copies that many bytes */
    return set_common(e, x->ebuf) || curl_easy_setopt(e, CURLOPT_URL, url) ||
                   curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) ||
                   curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body ? body : "") ||
                   curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs) ||
                   curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) ||
                   curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) ||
                   curl_easy_setopt(e, CURLOPT_PRIVATE, x)
               ? -1
               : 0;
}

int aut_httpc_post(struct aut_httpc_multi *m, const char *url, const char *body, size_t len,
                   const char *const *headers, unsigned timeout_ms, aut_httpc_done_fn done,
                   void *ud)
{
    struct xfer *x;
    if (!m || m->closing || !aut_httpc_is_url(url) || !done || (!body && len))
        return -1;
    if (!(x = calloc(1, sizeof *x)))
        return -1;
    x->m = m;
    x->done = done;
    x->ud = ud;
    if (!(x->easy = curl_easy_init()) ||
        !(x->hdrs = header_list("Content-Type: application/json", headers)) ||
        post_setup(x, url, body, len, timeout_ms) < 0 || curl_multi_add_handle(m->cm, x->easy))
        goto fail;
    x->next = m->xfers;
    if (m->xfers)
        m->xfers->prev = x;
    m->xfers = x;
    m->active++;
    return 0;
fail:
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x);
    return -1;
}

unsigned aut_httpc_multi_active(const struct aut_httpc_multi *m)
{
    return m ? m->active : 0;
}
