/*
 * test_http.c - the HTTP server on a real loop, driven from the test thread:
 * clients are plain POSIX sockets, and between their steps the test runs
 * the loop (uv_run NOWAIT plus poll on the loop's fd and the client's), so
 * every exchange is deterministic. A handler echoes each request as JSON,
 * defers answers, and opens event streams. Covered: round trips over TCP
 * and the Unix socket, keep-alive, pipelining in order, deferred answers and
 * peers that leave first, every framing error the server answers itself,
 * percent-decoding, query parameters, event-stream framing, keep-alives and
 * disconnects, max_conns, the socket file's handling and an orderly close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fsutil.h"
#include "http.h"

#define MAX_BODY 1024
#define CLIENT_BUF (1u << 20)
#define DEADLINE_NS 5000000000ull

struct fx {
    char dir[64];
    char sock[128];
    uv_loop_t loop;
    uv_timer_t defer_timer; /* answers a deferred request */
    struct aut_http_server *srv;
    int port;
    bool done_called;
    /* handler state */
    int nreq;
    bool hold; /* /defer: keep the request for the test to answer */
    struct aut_http_req *held;
    unsigned ka_ms; /* keepalive of /sse streams */
    struct aut_http_sse *sse;
    int sse_closed;
    char last_event_id[32];
};

struct client {
    int fd;
    char *buf;
    size_t len;
    bool eof;
};

struct resp {
    int status;
    char *head; /* status line and headers */
    char *body;
};

/* ---- the handler ---------------------------------------------------------- */

static void echo(struct aut_http_req *req)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", req->method);
    cJSON_AddStringToObject(o, "path", req->path);
    cJSON_AddStringToObject(o, "query", req->query);
    cJSON_AddStringToObject(o, "body", req->body);
    cJSON_AddNumberToObject(o, "body_len", (double)req->body_len);
    cJSON_AddStringToObject(o, "authorization", req->authorization);
    cJSON_AddStringToObject(o, "idempotency_key", req->idempotency_key);
    cJSON_AddStringToObject(o, "content_type", req->content_type);
    cJSON_AddStringToObject(o, "last_event_id", req->last_event_id);
    cJSON_AddBoolToObject(o, "via_unix", req->via_unix);
    cJSON_AddStringToObject(o, "peer", req->peer);
    char *s = cJSON_PrintUnformatted(o);
    aut_http_respond(req, 200, "application/json", s, strlen(s), NULL);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void on_defer_timer(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct aut_http_req *req = f->held;
    f->held = NULL;
    echo(req);
}

static void on_sse_close(void *ud)
{
    struct fx *f = ud;
    f->sse_closed++;
    f->sse = NULL;
}

static void handler(void *ud, struct aut_http_req *req)
{
    struct fx *f = ud;
    f->nreq++;
    if (!strcmp(req->path, "/defer")) {
        f->held = req;
        if (!f->hold)
            uv_timer_start(&f->defer_timer, on_defer_timer, 50, 0);
    } else if (!strcmp(req->path, "/sse")) {
        snprintf(f->last_event_id, sizeof f->last_event_id, "%s", req->last_event_id);
        f->sse = aut_http_sse_begin(req, f->ka_ms, on_sse_close, f);
    } else if (!strcmp(req->path, "/err")) {
        aut_http_error(req, 404, "not_found", "no route %s", req->path);
    } else if (!strcmp(req->path, "/extra")) {
        aut_http_respond(req, 201, "text/plain", "made", 4, "X-Test: yes\r\n");
    } else if (!strcmp(req->path, "/nocontent")) {
        aut_http_respond(req, 204, NULL, NULL, 0, NULL);
    } else {
        echo(req);
    }
}

static void on_done(void *ud)
{
    struct fx *f = ud;
    f->done_called = true;
}

/* ---- driving the loop and the clients ------------------------------------- */

static void client_recv(struct client *cl)
{
    if (cl->len == CLIENT_BUF)
        return;
    ssize_t n = recv(cl->fd, cl->buf + cl->len, CLIENT_BUF - cl->len, MSG_DONTWAIT);
    if (n > 0)
        cl->len += (size_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        cl->eof = true; /* FIN or reset */
}

/* One turn: the loop's ready work, a wait of at most 10 ms on the loop's fd
 * and the client's, and the client's bytes. */
static void step(struct fx *f, struct client *cl)
{
    struct pollfd p[2] = {{.fd = uv_backend_fd(&f->loop), .events = POLLIN},
                          {.fd = cl && !cl->eof ? cl->fd : -1, .events = POLLIN}};
    uv_run(&f->loop, UV_RUN_NOWAIT);
    int t = uv_backend_timeout(&f->loop);
    poll(p, 2, t < 0 || t > 10 ? 10 : t);
    if (cl && !cl->eof && p[1].revents)
        client_recv(cl);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

#define PUMP_UNTIL(f, cl, cond)                                                                    \
    do {                                                                                           \
        uint64_t t0_ = uv_hrtime();                                                                \
        while (!(cond) && uv_hrtime() - t0_ < DEADLINE_NS)                                         \
            step(f, cl);                                                                           \
        assert_true(cond);                                                                         \
    } while (0)

/* Runs the loop for about ms milliseconds. */
static void pump_for(struct fx *f, struct client *cl, unsigned ms)
{
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() - t0 < (uint64_t)ms * 1000000)
        step(f, cl);
}

static struct client client_fd(int fd)
{
    struct client cl = {.fd = fd, .buf = malloc(CLIENT_BUF)};
    assert_true(fd >= 0);
    assert_non_null(cl.buf);
    return cl;
}

static struct client tcp_client(struct fx *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return client_fd(fd);
}

static int unix_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct client unix_client(struct fx *f)
{
    return client_fd(unix_connect(f->sock));
}

static void client_close(struct client *cl)
{
    close(cl->fd);
    free(cl->buf);
}

/* Closes with RST instead of FIN. */
static void client_reset(struct client *cl)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    client_close(cl);
}

static void client_send(struct client *cl, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void client_sends(struct client *cl, const char *text)
{
    client_send(cl, text, strlen(text));
}

/* Bytes of the first whole response in cl's buffer, or 0 while incomplete.
 * no_body: the answer to HEAD (or an interim 100), headers only. */
static size_t response_size(struct client *cl, bool no_body)
{
    char *end = memmem(cl->buf, cl->len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - cl->buf) + 4, body = 0;
    char *clen = memmem(cl->buf, head, "\r\nContent-Length: ", 18);
    if (clen && !no_body)
        body = strtoul(clen + 18, NULL, 10);
    return cl->len >= head + body ? head + body : 0;
}

static void read_response_as(struct fx *f, struct client *cl, struct resp *r, bool no_body)
{
    PUMP_UNTIL(f, cl, response_size(cl, no_body) || cl->eof);
    size_t n = response_size(cl, no_body);
    assert_true(n > 0);
    char *end = memmem(cl->buf, n, "\r\n\r\n", 4);
    size_t head = (size_t)(end - cl->buf) + 4;
    r->status = atoi(cl->buf + 9);
    r->head = strndup(cl->buf, head);
    r->body = strndup(cl->buf + head, n - head);
    memmove(cl->buf, cl->buf + n, cl->len - n);
    cl->len -= n;
}

static void read_response(struct fx *f, struct client *cl, struct resp *r)
{
    read_response_as(f, cl, r, false);
}

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
}

static void wait_eof(struct fx *f, struct client *cl)
{
    PUMP_UNTIL(f, cl, cl->eof);
}

/* The echo's string field key. */
static const char *jstr(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* A round trip: sends text, reads one response, parses its JSON body. */
static cJSON *exchange(struct fx *f, struct client *cl, const char *text, int status)
{
    struct resp r;
    client_sends(cl, text);
    read_response(f, cl, &r);
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(o);
    resp_free(&r);
    return o;
}

/* An error answer: status, the JSON error code, the connection closed. */
static void expect_error_close(struct fx *f, struct client *cl, int status, const char *code)
{
    struct resp r;
    read_response(f, cl, &r);
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    cJSON *o = cJSON_Parse(r.body);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    assert_non_null(e);
    assert_string_equal(jstr(e, "code"), code);
    assert_true(strlen(jstr(e, "message")) > 0);
    cJSON_Delete(o);
    resp_free(&r);
    wait_eof(f, cl);
}

/* ---- fixture ------------------------------------------------------------- */

static struct aut_http_opts default_opts(struct fx *f)
{
    return (struct aut_http_opts){.tcp_host = "127.0.0.1",
                                  .unix_path = f->sock,
                                  .unix_mode = 0600,
                                  .max_body = MAX_BODY,
                                  .max_conns = 16,
                                  .idle_timeout_ms = 5000,
                                  .on_request = handler,
                                  .ud = f};
}

static void stop_server(struct fx *f)
{
    if (!f->srv)
        return;
    f->done_called = false;
    aut_http_close(f->srv, on_done, f);
    f->srv = NULL;
    PUMP_UNTIL(f, NULL, f->done_called);
}

/* (Re)starts the server with o. */
static void start_server(struct fx *f, const struct aut_http_opts *o)
{
    char err[512] = "";
    stop_server(f);
    assert_int_equal(aut_http_start(&f->loop, o, &f->srv, err, sizeof err), 0);
    f->port = aut_http_tcp_port(f->srv);
    assert_true(o->tcp_host ? f->port > 0 : f->port == 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    signal(SIGPIPE, SIG_IGN); /* as autond does: libuv writes may meet a gone peer */
    strcpy(f->dir, "/tmp/test_http.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->sock, sizeof f->sock, "%s/api.sock", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->defer_timer);
    f->defer_timer.data = f;
    f->ka_ms = 60000;
    struct aut_http_opts o = default_opts(f);
    start_server(f, &o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    stop_server(f);
    uv_close((uv_handle_t *)&f->defer_timer, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(aut_rmtree(f->dir), 0);
    free(f);
    return 0;
}

/* ---- round trips ------------------------------------------------------------ */

static void get_and_post_round_trip_over_tcp_and_unix(void **state)
{
    struct fx *f = *state;
    for (int via_unix = 0; via_unix < 2; via_unix++) {
        struct client cl = via_unix ? unix_client(f) : tcp_client(f);
        cJSON *o = exchange(f, &cl, "GET /jobs?state=running HTTP/1.1\r\nHost: x\r\n\r\n", 200);
        assert_string_equal(jstr(o, "method"), "GET");
        assert_string_equal(jstr(o, "path"), "/jobs");
        assert_string_equal(jstr(o, "query"), "state=running");
        assert_string_equal(jstr(o, "body"), "");
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(o, "via_unix")), via_unix);
        if (via_unix)
            assert_string_equal(jstr(o, "peer"), "unix");
        else
            assert_true(!strncmp(jstr(o, "peer"), "127.0.0.1:", 10));
        cJSON_Delete(o);
        o = exchange(f, &cl,
                     "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "aUtHoRiZaTiOn: Bearer tok  \r\nIdempotency-Key: k-1\r\n"
                     "X-Other: dropped\r\nContent-Length: 13\r\n\r\n{\"arch\":\"x\"}\n",
                     200);
        assert_string_equal(jstr(o, "method"), "POST");
        assert_string_equal(jstr(o, "body"), "{\"arch\":\"x\"}\n");
        assert_int_equal(cJSON_GetObjectItem(o, "body_len")->valueint, 13);
        assert_string_equal(jstr(o, "content_type"), "application/json");
        assert_string_equal(jstr(o, "authorization"), "Bearer tok");
        assert_string_equal(jstr(o, "idempotency_key"), "k-1");
        assert_string_equal(jstr(o, "last_event_id"), "");
        cJSON_Delete(o);
        client_close(&cl);
    }
    assert_int_equal(f->nreq, 4);
}

static void keep_alive_serves_three_requests_on_one_connection(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    for (int i = 0; i < 3; i++) {
        char req[128], path[16];
        snprintf(path, sizeof path, "/r%d", i);
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
        cJSON *o = exchange(f, &cl, req, 200);
        assert_string_equal(jstr(o, "path"), path);
        cJSON_Delete(o);
        assert_false(cl.eof);
    }
    assert_int_equal(aut_http_conn_count(f->srv), 1);
    client_close(&cl);
    PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
}

/* The second of three pipelined requests is deferred: the third waits. */
static void pipelined_requests_are_answered_in_order(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    client_sends(&cl, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                      "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
                      "GET /c?n=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *paths[] = {"/a", "/defer", "/c"}, *bodies[] = {"one", "two", ""};
    for (int i = 0; i < 3; i++) {
        struct resp r;
        read_response(f, &cl, &r);
        assert_int_equal(r.status, 200);
        cJSON *o = cJSON_Parse(r.body);
        assert_string_equal(jstr(o, "path"), paths[i]);
        assert_string_equal(jstr(o, "body"), bodies[i]);
        cJSON_Delete(o);
        resp_free(&r);
    }
    assert_int_equal(f->nreq, 3);
    client_close(&cl);
}

static void deferred_answer_arrives_after_the_timer(void **state)
{
    struct fx *f = *state;
    struct client cl = unix_client(f);
    uint64_t t0 = uv_hrtime();
    cJSON *o = exchange(f, &cl, "GET /defer?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 200);
    assert_true(uv_hrtime() - t0 >= 45000000ull);
    assert_string_equal(jstr(o, "query"), "x=1");
    cJSON_Delete(o);
    o = exchange(f, &cl, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", 200); /* still alive */
    cJSON_Delete(o);
    client_close(&cl);
}

/* FIN: the answer still goes out (a half-closed peer may read it), then the
 * connection closes. RST: the connection goes at once and answering later
 * is a no-op that frees the request (ASan watches both). */
static void peer_leaving_before_a_deferred_answer(void **state)
{
    struct fx *f = *state;
    f->hold = true;
    for (int rst = 0; rst < 2; rst++) {
        struct client cl = tcp_client(f);
        client_sends(&cl, "POST /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
        PUMP_UNTIL(f, NULL, f->held != NULL);
        if (rst)
            client_reset(&cl);
        else
            client_close(&cl);
        if (rst)
            PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
        pump_for(f, NULL, 30);
        struct aut_http_req *req = f->held;
        f->held = NULL;
        int rc = aut_http_respond(req, 200, "text/plain", req->body, req->body_len, NULL);
        if (rst)
            assert_int_equal(rc, -1);
        PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
        pump_for(f, NULL, 20);
    }
}

/* Half a request, then FIN or RST: the partial request is dropped, unseen. */
static void peer_leaving_mid_request_is_forgotten(void **state)
{
    struct fx *f = *state;
    for (int rst = 0; rst < 2; rst++) {
        struct client cl = tcp_client(f);
        client_sends(&cl, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 1);
        pump_for(f, NULL, 20);
        if (rst)
            client_reset(&cl);
        else
            client_close(&cl);
        PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
    }
    assert_int_equal(f->nreq, 0);
}

static void half_closed_peer_gets_its_answers(void **state)
{
    struct fx *f = *state;
    struct client cl = unix_client(f);
    client_sends(&cl, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(cl.fd, SHUT_WR);
    struct resp r;
    read_response(f, &cl, &r);
    assert_non_null(strstr(r.body, "\"/defer\""));
    resp_free(&r);
    read_response(f, &cl, &r);
    assert_non_null(strstr(r.body, "\"/two\""));
    resp_free(&r);
    wait_eof(f, &cl);
    client_close(&cl);
}

static void responses_carry_extra_headers_errors_and_no_body_for_head(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    struct resp r;
    client_sends(&cl, "GET /extra HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(f, &cl, &r);
    assert_string_equal(r.head, "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
                                "Content-Length: 4\r\nX-Test: yes\r\n\r\n");
    assert_string_equal(r.body, "made");
    resp_free(&r);
    cJSON *o = exchange(f, &cl, "GET /err HTTP/1.1\r\nHost: x\r\n\r\n", 404);
    cJSON *e = cJSON_GetObjectItem(o, "error");
    assert_string_equal(jstr(e, "code"), "not_found");
    assert_string_equal(jstr(e, "message"), "no route /err");
    cJSON_Delete(o);
    client_sends(&cl, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_as(f, &cl, &r, true);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "Content-Length: "));
    resp_free(&r);
    client_sends(&cl, "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response_as(f, &cl, &r, true);
    assert_string_equal(r.head, "HTTP/1.1 204 No Content\r\n\r\n");
    resp_free(&r);
    o = exchange(f, &cl, "GET /last HTTP/1.1\r\nHost: x\r\n\r\n", 200); /* no stray bytes */
    assert_string_equal(jstr(o, "path"), "/last");
    cJSON_Delete(o);
    assert_int_equal(cl.len, 0);
    client_close(&cl);
}

static void connection_close_and_http10_end_the_connection(void **state)
{
    struct fx *f = *state;
    const char *reqs[] = {"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          "GET /b HTTP/1.0\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        struct client cl = tcp_client(f);
        struct resp r;
        client_sends(&cl, reqs[i]);
        read_response(f, &cl, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.head, "Connection: close\r\n"));
        resp_free(&r);
        wait_eof(f, &cl);
        client_close(&cl);
    }
    struct client cl = tcp_client(f); /* HTTP/1.0 asking for keep-alive gets it */
    struct resp r;
    client_sends(&cl, "GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_response(f, &cl, &r);
    assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
    resp_free(&r);
    cJSON_Delete(exchange(f, &cl, "GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200));
    client_close(&cl);
}

static void expect_100_continue_is_answered(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    struct resp r;
    client_sends(&cl, "PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 5\r\n\r\n");
    read_response_as(f, &cl, &r, true);
    assert_int_equal(r.status, 100);
    resp_free(&r);
    cJSON *o = exchange(f, &cl, "hello", 200);
    assert_string_equal(jstr(o, "method"), "PUT");
    assert_string_equal(jstr(o, "body"), "hello");
    cJSON_Delete(o);
    client_close(&cl);
}

/* ---- what the server answers itself --------------------------------------------- */

static void garbage_is_answered_400_and_closed(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    client_sends(&cl, "\x16\x03\x01\x02\x00 hello\r\n\r\n");
    struct resp r;
    read_response(f, &cl, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"code\":\"bad_request\""));
    assert_non_null(strstr(r.body, "HPE_"));
    resp_free(&r);
    wait_eof(f, &cl);
    client_close(&cl);
    assert_int_equal(f->nreq, 0);
}

static void declared_body_over_max_body_is_413_before_it_is_sent(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    client_sends(&cl, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    expect_error_close(f, &cl, 413, "payload_too_large");
    client_close(&cl);
    assert_int_equal(f->nreq, 0);
}

static void chunked_body_over_max_body_is_413(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    cJSON *o = exchange(f, &cl,
                        "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                        200);
    assert_string_equal(jstr(o, "body"), "hello world");
    cJSON_Delete(o);
    char chunk[512];
    memset(chunk, 'z', sizeof chunk);
    client_sends(&cl, "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) { /* 1536 bytes > MAX_BODY */
        client_sends(&cl, "200\r\n");
        client_send(&cl, chunk, sizeof chunk);
        client_sends(&cl, "\r\n");
    }
    client_sends(&cl, "0\r\n\r\n");
    expect_error_close(f, &cl, 413, "payload_too_large");
    client_close(&cl);
    assert_int_equal(f->nreq, 1);
}

static void headers_over_16k_are_431(void **state)
{
    struct fx *f = *state;
    struct client cl = unix_client(f);
    char line[1100];
    client_sends(&cl, "GET /x HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20; i++) {
        int n = snprintf(line, sizeof line, "X-Pad-%d: ", i);
        memset(line + n, 'p', 1000);
        memcpy(line + n + 1000, "\r\n", 3);
        client_sends(&cl, line);
    }
    client_sends(&cl, "\r\n");
    expect_error_close(f, &cl, 431, "headers_too_large");
    client_close(&cl);
}

static void long_header_value_and_long_url_are_refused(void **state)
{
    struct fx *f = *state;
    char big[10000];
    struct client cl = tcp_client(f);
    memset(big, 'a', 300);
    snprintf(big + 300, sizeof big - 300, "\r\n\r\n");
    client_sends(&cl, "GET /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ");
    client_sends(&cl, big);
    struct resp r;
    read_response(f, &cl, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "header authorization too long"));
    resp_free(&r);
    wait_eof(f, &cl);
    client_close(&cl);

    cl = tcp_client(f);
    memset(big, 'u', 9000);
    snprintf(big + 9000, sizeof big - 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    client_sends(&cl, "GET /");
    client_sends(&cl, big);
    expect_error_close(f, &cl, 414, "uri_too_long");
    client_close(&cl);
    assert_int_equal(f->nreq, 0);
}

static void path_is_percent_decoded_and_nul_refused(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    cJSON *o =
        exchange(f, &cl, "GET /jobs/a%20b%2Fc+d?x=%2F&y=a+b#frag HTTP/1.1\r\nHost: x\r\n\r\n", 200);
    assert_string_equal(jstr(o, "path"), "/jobs/a b/c+d");
    assert_string_equal(jstr(o, "query"), "x=%2F&y=a+b");
    cJSON_Delete(o);
    client_sends(&cl, "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error_close(f, &cl, 400, "bad_request");
    client_close(&cl);
    cl = tcp_client(f);
    client_sends(&cl, "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error_close(f, &cl, 400, "bad_request");
    client_close(&cl);
    assert_int_equal(f->nreq, 1);
}

static void query_param_decodes_values(void **state)
{
    (void)state;
    const char *q = "a=1&state=running&x=%2F&sp=a+b%20c&empty=&flag&enc%20key=v&a=2&bad=%zz"
                    "&nul=%00";
    char out[16];
    assert_int_equal(aut_http_query_param(q, "state", out, sizeof out), 1);
    assert_string_equal(out, "running");
    assert_int_equal(aut_http_query_param(q, "a", out, sizeof out), 1);
    assert_string_equal(out, "1"); /* the first wins */
    assert_int_equal(aut_http_query_param(q, "x", out, sizeof out), 1);
    assert_string_equal(out, "/");
    assert_int_equal(aut_http_query_param(q, "sp", out, sizeof out), 1);
    assert_string_equal(out, "a b c");
    assert_int_equal(aut_http_query_param(q, "empty", out, sizeof out), 1);
    assert_string_equal(out, "");
    assert_int_equal(aut_http_query_param(q, "flag", out, sizeof out), 1);
    assert_string_equal(out, "");
    assert_int_equal(aut_http_query_param(q, "enc key", out, sizeof out), 1);
    assert_string_equal(out, "v");
    assert_int_equal(aut_http_query_param(q, "missing", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(aut_http_query_param(q, "stat", out, sizeof out), 0);
    assert_int_equal(aut_http_query_param(q, "state", out, 7), -1); /* "running" + NUL */
    assert_int_equal(aut_http_query_param(q, "state", out, 8), 1);
    assert_int_equal(aut_http_query_param(q, "bad", out, sizeof out), -1);
    assert_int_equal(aut_http_query_param(q, "nul", out, sizeof out), -1);
    assert_int_equal(aut_http_query_param("", "a", out, sizeof out), 0);
    assert_int_equal(aut_http_query_param(NULL, "a", out, sizeof out), 0);
    assert_string_equal(aut_http_reason(404), "Not Found");
    assert_string_equal(aut_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(aut_http_reason(299), "Unknown");
}

/* ---- event streams ---------------------------------------------------------------- */

static void sse_streams_events_with_exact_framing(void **state)
{
    struct fx *f = *state;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n";
    static const char events[] = "id: 42\nevent: stage\ndata: hello\n\n"
                                 "data: line1\ndata: line2\ndata: \ndata: line4\n\n"
                                 "id: 44\nevent: end\ndata: \n\n";
    struct client cl = tcp_client(f);
    client_sends(&cl, "GET /sse HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 41\r\n\r\n");
    PUMP_UNTIL(f, &cl, f->sse && cl.len >= sizeof head - 1);
    assert_string_equal(f->last_event_id, "41");
    assert_int_equal(aut_http_conn_count(f->srv), 1);
    assert_int_equal(aut_http_sse_send(f->sse, "stage", 42, "hello"), 0);
    assert_int_equal(aut_http_sse_send(f->sse, NULL, -1, "line1\nline2\r\n\rline4"), 0);
    assert_int_equal(aut_http_sse_send(f->sse, "bad\nname", 43, "x"), -1);
    assert_int_equal(aut_http_sse_send(f->sse, "end", 44, ""), 0);
    PUMP_UNTIL(f, &cl, cl.len >= sizeof head - 1 + sizeof events - 1);
    assert_int_equal(cl.len, sizeof head - 1 + sizeof events - 1);
    assert_memory_equal(cl.buf, head, sizeof head - 1);
    assert_memory_equal(cl.buf + sizeof head - 1, events, sizeof events - 1);
    aut_http_sse_end(f->sse);
    f->sse = NULL;
    wait_eof(f, &cl);
    client_close(&cl);
    PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
    pump_for(f, NULL, 20);
    assert_int_equal(f->sse_closed, 0); /* ended by us: on_close is not called */
}

static void sse_sends_keepalive_comments(void **state)
{
    struct fx *f = *state;
    f->ka_ms = 20;
    struct client cl = unix_client(f);
    client_sends(&cl, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    PUMP_UNTIL(f, &cl, memmem(cl.buf, cl.len, ": keepalive\n\n: keepalive\n\n", 26) != NULL);
    assert_non_null(f->sse);
    client_close(&cl);
    PUMP_UNTIL(f, NULL, f->sse_closed == 1);
}

static void sse_peer_close_calls_on_close_once(void **state)
{
    struct fx *f = *state;
    struct client cl = tcp_client(f);
    client_sends(&cl, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    PUMP_UNTIL(f, &cl, f->sse && cl.len > 0);
    struct aut_http_sse *s = f->sse;
    client_close(&cl);
    PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
    if (f->sse_closed == 0) /* gone, on_close not yet run: sending fails */
        assert_int_equal(aut_http_sse_send(s, "x", 1, "y"), -1);
    PUMP_UNTIL(f, NULL, f->sse_closed == 1);
    pump_for(f, NULL, 30);
    assert_int_equal(f->sse_closed, 1);
}

static void sse_peer_that_does_not_read_is_cut_at_8_mib(void **state)
{
    struct fx *f = *state;
    size_t n = 64 << 10;
    char *data = malloc(n + 1);
    memset(data, 'd', n);
    data[n] = '\0';
    struct client cl = tcp_client(f);
    client_sends(&cl, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    PUMP_UNTIL(f, NULL, f->sse != NULL);
    int i, rc = 0;
    for (i = 0; i < 2000 && rc == 0; i++) { /* up to 128 MiB */
        rc = aut_http_sse_send(f->sse, "big", i, data);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(rc, -1);
    assert_true(i > 8 * 16); /* at least 8 MiB went before */
    PUMP_UNTIL(f, NULL, f->sse_closed == 1);
    client_close(&cl);
    free(data);
}

/* ---- connections ---------------------------------------------------------------- */

static void max_conns_exceeded_is_503(void **state)
{
    struct fx *f = *state;
    struct aut_http_opts o = default_opts(f);
    o.max_conns = 2;
    start_server(f, &o);
    struct client a = tcp_client(f), b = unix_client(f);
    cJSON_Delete(exchange(f, &a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    cJSON_Delete(exchange(f, &b, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    assert_int_equal(aut_http_conn_count(f->srv), 2);
    struct client c = tcp_client(f);
    expect_error_close(f, &c, 503, "too_many_connections");
    client_close(&c);
    client_close(&a);
    PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 1);
    struct client d = tcp_client(f);
    cJSON_Delete(exchange(f, &d, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    client_close(&d);
    client_close(&b);
    assert_int_equal(f->nreq, 3);
}

static void idle_connection_is_closed(void **state)
{
    struct fx *f = *state;
    struct aut_http_opts o = default_opts(f);
    o.idle_timeout_ms = 100;
    start_server(f, &o);
    struct client cl = tcp_client(f);
    cJSON_Delete(exchange(f, &cl, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    uint64_t t0 = uv_hrtime();
    wait_eof(f, &cl);
    assert_true(uv_hrtime() - t0 >= 80000000ull);
    assert_int_equal(cl.len, 0);
    client_close(&cl);
    PUMP_UNTIL(f, NULL, aut_http_conn_count(f->srv) == 0);
}

/* An idle keep-alive connection, one with a request outstanding and an
 * event stream: close drops them all and done comes once all is closed. */
static void close_with_open_connections_calls_done(void **state)
{
    struct fx *f = *state;
    f->hold = true;
    struct client idle = tcp_client(f), held = unix_client(f), stream = tcp_client(f);
    cJSON_Delete(exchange(f, &idle, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    client_sends(&held, "GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    client_sends(&stream, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    PUMP_UNTIL(f, NULL, f->held && f->sse);
    assert_int_equal(aut_http_conn_count(f->srv), 3);
    f->done_called = false;
    aut_http_close(f->srv, on_done, f);
    f->srv = NULL;
    assert_false(f->done_called); /* never from inside aut_http_close */
    PUMP_UNTIL(f, NULL, f->done_called);
    assert_int_equal(f->sse_closed, 1);
    assert_false(access(f->sock, F_OK) == 0); /* the socket file is gone */
    struct aut_http_req *req = f->held;
    f->held = NULL;
    assert_int_equal(aut_http_respond(req, 200, "text/plain", "late", 4, NULL), -1);
    struct client *cls[] = {&idle, &held, &stream};
    for (int i = 0; i < 3; i++) {
        wait_eof(f, cls[i]);
        client_close(cls[i]);
    }
}

/* ---- listeners -------------------------------------------------------------------- */

static void unix_socket_file_is_handled_with_care(void **state)
{
    struct fx *f = *state;
    struct stat st;
    char err[512] = "", path[160];
    struct aut_http_server *s = NULL;
    assert_int_equal(stat(f->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    struct aut_http_opts o = default_opts(f); /* a live socket is not taken over */
    o.tcp_host = NULL;
    assert_int_equal(aut_http_start(&f->loop, &o, &s, err, sizeof err), UV_EADDRINUSE);
    assert_non_null(strstr(err, f->sock));

    snprintf(path, sizeof path, "%s/file", f->dir); /* a regular file is left alone */
    assert_int_equal(aut_write_file(path, "keep", 4, NULL, 0), 0);
    o.unix_path = path;
    assert_int_equal(aut_http_start(&f->loop, &o, &s, err, sizeof err), -EEXIST);
    assert_non_null(strstr(err, "not a socket"));
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    snprintf(path, sizeof path, "%s/stale.sock", f->dir); /* a stale socket is replaced */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    o.unix_path = path;
    o.unix_mode = 0660;
    start_server(f, &o);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);
    struct client cl = client_fd(unix_connect(path));
    cJSON_Delete(exchange(f, &cl, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200));
    client_close(&cl);
    stop_server(f);
    assert_false(access(path, F_OK) == 0);
}

static void tcp_port_in_use_is_reported(void **state)
{
    struct fx *f = *state;
    char err[512] = "", want[64];
    struct aut_http_server *s = NULL;
    struct aut_http_opts o = default_opts(f);
    o.unix_path = NULL;
    o.tcp_port = f->port;
    assert_int_equal(aut_http_start(&f->loop, &o, &s, err, sizeof err), UV_EADDRINUSE);
    snprintf(want, sizeof want, "listen 127.0.0.1:%d: address already in use", f->port);
    assert_string_equal(err, want);
    o.tcp_host = "not-an-address";
    assert_true(aut_http_start(&f->loop, &o, &s, err, sizeof err) < 0);
    o.tcp_host = NULL;
    assert_int_equal(aut_http_start(&f->loop, &o, &s, err, sizeof err), -EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_and_post_round_trip_over_tcp_and_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(keep_alive_serves_three_requests_on_one_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipelined_requests_are_answered_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(deferred_answer_arrives_after_the_timer, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_leaving_before_a_deferred_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_leaving_mid_request_is_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(half_closed_peer_gets_its_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(responses_carry_extra_headers_errors_and_no_body_for_head,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(connection_close_and_http10_end_the_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(expect_100_continue_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_is_answered_400_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(declared_body_over_max_body_is_413_before_it_is_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(chunked_body_over_max_body_is_413, setup, teardown),
        cmocka_unit_test_setup_teardown(headers_over_16k_are_431, setup, teardown),
        cmocka_unit_test_setup_teardown(long_header_value_and_long_url_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(path_is_percent_decoded_and_nul_refused, setup, teardown),
        cmocka_unit_test(query_param_decodes_values),
        cmocka_unit_test_setup_teardown(sse_streams_events_with_exact_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(sse_sends_keepalive_comments, setup, teardown),
        cmocka_unit_test_setup_teardown(sse_peer_close_calls_on_close_once, setup, teardown),
        cmocka_unit_test_setup_teardown(sse_peer_that_does_not_read_is_cut_at_8_mib, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(max_conns_exceeded_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_connection_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(close_with_open_connections_calls_done, setup, teardown),
        cmocka_unit_test_setup_teardown(unix_socket_file_is_handled_with_care, setup, teardown),
        cmocka_unit_test_setup_teardown(tcp_port_in_use_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
