/*
 * test_bridge_client.c - the host side of the kernel bridge (src/qemu/
 * bridge_client.c) against a fake kernel: the other end of a socketpair as
 * a uv_pipe on the same loop, which collects the request lines (and, when a
 * responder is set, answers them); the tests write the replies, events and
 * garbage themselves. Covered: a successful call, two outstanding calls
 * answered out of order, the error-code mapping and malformed replies, the
 * host deadline and a late reply after it, oversized lines both ways,
 * garbage lines and unknown ids, events (callback, backlog, waiting), the
 * peer closing with calls pending, closing from inside callbacks, the
 * synchronous call, connecting to a Unix socket path, the environment
 * defaults and the trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge_client.h"

#define MAX_REQS 64

struct fx {
    uv_loop_t loop;
    int sv[2]; /* sv[0]: the bridge's end, sv[1]: the fake kernel's */
    struct aut_bridge *b;
    uv_pipe_t peer;
    bool peer_open;
    int peer_fd;
    bool peer_eof;
    char prbuf[4096];
    char pline[65536];
    size_t plen;
    cJSON *reqs[MAX_REQS];
    int nreqs;
    void (*respond)(struct fx *f, const cJSON *req);
    int seq; /* completion order */
    /* events seen by the event callback */
    int nevents;
    char event_run_id[8][32];
    bool close_in_event;
};

struct cap {
    struct fx *f;
    int n;
    int seq;
    struct aut_bridge_reply r;
    bool close_bridge; /* aut_bridge_close from inside the callback */
};

/* ---- the fake kernel ---------------------------------------------------- */

static void peer_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    struct fx *f = h->data;
    *buf = uv_buf_init(f->prbuf, sizeof f->prbuf);
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct fx *f = s->data;
    if (n < 0) {
        f->peer_eof = true;
        uv_read_stop(s);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = buf->base[i];
        if (ch != '\n') {
            assert_true(f->plen < sizeof f->pline - 1);
            f->pline[f->plen++] = ch;
            continue;
        }
        f->pline[f->plen] = '\0';
        f->plen = 0;
        cJSON *req = cJSON_Parse(f->pline);
        assert_true(cJSON_IsObject(req));
        assert_true(f->nreqs < MAX_REQS);
        f->reqs[f->nreqs++] = req;
        if (f->respond)
            f->respond(f, req);
    }
}

static void peer_attach(struct fx *f, int fd)
{
    assert_int_equal(uv_pipe_init(&f->loop, &f->peer, 0), 0);
    assert_int_equal(uv_pipe_open(&f->peer, fd), 0);
    f->peer.data = f;
    f->peer_fd = fd;
    f->peer_open = true;
    assert_int_equal(uv_read_start((uv_stream_t *)&f->peer, peer_alloc, peer_read), 0);
}

static void peer_close(struct fx *f)
{
    if (!f->peer_open)
        return;
    f->peer_open = false;
    uv_close((uv_handle_t *)&f->peer, NULL);
}

/* Writes all of p to the bridge, letting the loop drain the socket when full. */
static void peer_send(struct fx *f, const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(f->peer_fd, p + off, len - off);
        if (n > 0) {
            off += (size_t)n;
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
            uv_run(&f->loop, UV_RUN_NOWAIT);
        }
    }
}

static void peer_line(struct fx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_line(struct fx *f, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof buf - 1);
    buf[n++] = '\n';
    peer_send(f, buf, (size_t)n);
}

static const char *req_id(struct fx *f, int i)
{
    assert_true(i < f->nreqs);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(f->reqs[i], "id");
    assert_true(cJSON_IsString(id));
    return id->valuestring;
}

static const char *req_op(struct fx *f, int i)
{
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(f->reqs[i], "op");
    assert_true(cJSON_IsString(op));
    return op->valuestring;
}

static double req_num(struct fx *f, int i, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->reqs[i], key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void reply_ok(struct fx *f, const char *id, const char *result)
{
    peer_line(
        f, "{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"nightly-42\",\"ms\":63,\"result\":%s}",
        id, result);
}

static void reply_err(struct fx *f, const char *id, const char *code, const char *msg)
{
    peer_line(f,
              "{\"v\":1,\"id\":\"%s\",\"ok\":false,\"run_id\":\"nightly-42\",\"ms\":0,"
              "\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
              id, code, msg);
}

/* Answers caps with a result, slm.query with busy, anything else never. */
static void responder(struct fx *f, const cJSON *req)
{
    const char *id = cJSON_GetObjectItemCaseSensitive(req, "id")->valuestring;
    const char *op = cJSON_GetObjectItemCaseSensitive(req, "op")->valuestring;
    if (strcmp(op, "caps") == 0)
        reply_ok(f, id,
                 "{\"version\":1,\"features\":[\"caps\",\"slm.query\"],"
                 "\"limits\":{\"line_max\":16384,\"prompt_max\":4095,\"batch_max\":64}}");
    else if (strcmp(op, "slm.query") == 0)
        reply_err(f, id, "busy", "another call is running (id 7)");
}

/* Runs the loop without blocking until cond holds or about 3 s have passed. */
#define SPIN(f, cond)                                                                              \
    do {                                                                                           \
        for (int spin_i_ = 0; spin_i_ < 3000 && !(cond); spin_i_++) {                              \
            uv_run(&(f)->loop, UV_RUN_NOWAIT);                                                     \
            if (!(cond))                                                                           \
                usleep(1000);                                                                      \
        }                                                                                          \
        assert_true(cond);                                                                         \
    } while (0)

/* Runs the loop for about ms milliseconds. */
static void run_for(struct fx *f, int ms)
{
    for (int i = 0; i < ms; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void cap_cb(struct aut_bridge_reply *r, void *ud)
{
    struct cap *c = ud;
    c->n++;
    aut_bridge_reply_free(&c->r);
    c->r = *r;
    r->result = NULL;
    c->seq = ++c->f->seq;
    if (c->close_bridge) {
        aut_bridge_close(c->f->b);
        c->f->b = NULL;
    }
}

static struct aut_bridge_stats stats(struct fx *f)
{
    struct aut_bridge_stats st;
    aut_bridge_stats(f->b, &st);
    return st;
}

/* ---- fixture ------------------------------------------------------------ */

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv), 0);
    unsetenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    unsetenv("AUTON_KERNEL_BRIDGE_TRACE");
    *state = f;
    return 0;
}

/* Opens the bridge on sv[0] (which it then owns) and the fake kernel on sv[1]. */
static void fx_open(struct fx *f, const struct aut_bridge_opts *o)
{
    assert_int_equal(aut_bridge_open_fd(&f->loop, f->sv[0], o, &f->b), 0);
    assert_non_null(f->b);
    f->sv[0] = -1;
    peer_attach(f, f->sv[1]);
    f->sv[1] = -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aut_bridge_close(f->b);
    peer_close(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    for (int i = 0; i < f->nreqs; i++)
        cJSON_Delete(f->reqs[i]);
    for (int i = 0; i < 2; i++)
        if (f->sv[i] >= 0)
            close(f->sv[i]);
    free(f);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_call_ok(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap c = {.f = f};
    cJSON *args = cJSON_Parse("{\"prompt\":\"PCI device 8086:10d3 is\",\"max_tokens\":32}");
    assert_int_equal(aut_bridge_call(f->b, "slm.query", args, 5000, cap_cb, &c), 0);
    cJSON_Delete(args);       /* borrowed: copied into the request */
    assert_int_equal(c.n, 0); /* never from inside aut_bridge_call */
    SPIN(f, f->nreqs == 1);

    /* the request as the protocol has it */
    assert_int_equal((int)req_num(f, 0, "v"), 1);
    assert_string_equal(req_id(f, 0), "1");
    assert_string_equal(req_op(f, 0), "slm.query");
    assert_int_equal((int)req_num(f, 0, "deadline_ms"), 4500); /* 5000 less a 10% margin */
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(f->reqs[0], "args");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "prompt")->valuestring,
                        "PCI device 8086:10d3 is");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "max_tokens")->valueint, 32);

    reply_ok(f, "1",
             "{\"text\":\"an Intel 82574L Gigabit Network Connection.\",\"backend\":\"neural\","
             "\"tokens\":12,\"prompt_tokens\":9,\"tok_s\":1147.6}");
    SPIN(f, c.n == 1);
    assert_int_equal(c.r.status, AUT_BRIDGE_OK);
    assert_string_equal(c.r.code, "");
    assert_string_equal(c.r.run_id, "nightly-42");
    assert_int_equal(c.r.ms, 63);
    assert_string_equal(c.r.id, "1");
    assert_non_null(c.r.result);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(c.r.result, "text")->valuestring,
                        "an Intel 82574L Gigabit Network Connection.");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(c.r.result, "tokens")->valueint, 12);
    aut_bridge_reply_free(&c.r);
    assert_null(c.r.result);
    aut_bridge_reply_free(&c.r); /* twice is fine */

    /* no args: no "args" key; the default timeout gives the kernel 298000 ms */
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 0, cap_cb, &c), 0);
    SPIN(f, f->nreqs == 2);
    assert_string_equal(req_id(f, 1), "2");
    assert_null(cJSON_GetObjectItemCaseSensitive(f->reqs[1], "args"));
    assert_int_equal((int)req_num(f, 1, "deadline_ms"), 298000);

    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.received, 1);
    assert_int_equal(st.malformed + st.unmatched + st.timeouts, 0);
    assert_int_equal(c.n, 1);
    /* c is on the stack: the pending caps call ends here */
    aut_bridge_close(f->b);
    f->b = NULL;
    assert_int_equal(c.n, 2);
    assert_int_equal(c.r.status, AUT_BRIDGE_CLOSED);
}

static void test_out_of_order(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap a = {.f = f}, b = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &a), 0);
    assert_int_equal(aut_bridge_call(f->b, "sys.meminfo", NULL, 5000, cap_cb, &b), 0);
    SPIN(f, f->nreqs == 2);
    assert_string_equal(req_op(f, 0), "caps");
    assert_string_equal(req_op(f, 1), "sys.meminfo");
    assert_string_not_equal(req_id(f, 0), req_id(f, 1));

    reply_ok(f, req_id(f, 1), "{\"total\":268435456,\"free\":100}");
    reply_ok(f, req_id(f, 0), "{\"version\":1,\"features\":[\"caps\"]}");
    SPIN(f, a.n == 1 && b.n == 1);
    assert_int_equal(b.seq, 1);
    assert_int_equal(a.seq, 2);
    assert_int_equal(a.r.status, AUT_BRIDGE_OK);
    assert_int_equal(b.r.status, AUT_BRIDGE_OK);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(a.r.result, "version")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(b.r.result, "total")->valuedouble, 268435456);
    assert_null(cJSON_GetObjectItemCaseSensitive(a.r.result, "total"));
    assert_string_equal(a.r.id, req_id(f, 0));
    assert_string_equal(b.r.id, req_id(f, 1));
    aut_bridge_reply_free(&a.r);
    aut_bridge_reply_free(&b.r);
}

static void test_error_mapping(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    static const struct {
        const char *code;
        enum aut_bridge_status status;
    } kernel[] = {
        {"busy", AUT_BRIDGE_BUSY},
        {"timeout", AUT_BRIDGE_TIMEOUT},
        {"version", AUT_BRIDGE_VERSION},
        {"engine", AUT_BRIDGE_ERROR},
        {"fault", AUT_BRIDGE_ERROR},
        {"unknown_op", AUT_BRIDGE_ERROR},
        {"bad_request", AUT_BRIDGE_ERROR},
        {"no_model", AUT_BRIDGE_ERROR},
        {"some_future_code", AUT_BRIDGE_ERROR},
    };
    int i = 0;
    for (size_t k = 0; k < sizeof kernel / sizeof kernel[0]; k++, i++) {
        struct cap c = {.f = f};
        assert_int_equal(aut_bridge_call(f->b, "slm.query", NULL, 5000, cap_cb, &c), 0);
        SPIN(f, f->nreqs == i + 1);
        reply_err(f, req_id(f, i), kernel[k].code, "what the kernel says");
        SPIN(f, c.n == 1);
        assert_int_equal(c.r.status, kernel[k].status);
        assert_string_equal(c.r.code, kernel[k].code);
        assert_string_equal(c.r.message, "what the kernel says");
        assert_string_equal(c.r.run_id, "nightly-42");
        assert_null(c.r.result);
    }

    /* replies the host itself refuses */
    static const struct {
        const char *fmt; /* %s: the id */
        enum aut_bridge_status status;
        const char *code;
    } bad[] = {
        {"{\"v\":2,\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":{}}",
         AUT_BRIDGE_VERSION, "version"},
        {"{\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":{}}", AUT_BRIDGE_VERSION,
         "version"},
        {"{\"v\":1,\"id\":\"%s\",\"run_id\":\"\",\"ms\":0,\"result\":{}}", AUT_BRIDGE_PROTOCOL,
         "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":1,\"run_id\":\"\",\"ms\":0,\"result\":{}}",
         AUT_BRIDGE_PROTOCOL, "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":true,\"ms\":0,\"result\":{}}", AUT_BRIDGE_PROTOCOL,
         "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":-1,\"result\":{}}",
         AUT_BRIDGE_PROTOCOL, "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":1.5,\"result\":{}}",
         AUT_BRIDGE_PROTOCOL, "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":0}", AUT_BRIDGE_PROTOCOL,
         "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":[1]}",
         AUT_BRIDGE_PROTOCOL, "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":false,\"run_id\":\"\",\"ms\":0}", AUT_BRIDGE_PROTOCOL,
         "protocol"},
        {"{\"v\":1,\"id\":\"%s\",\"ok\":false,\"run_id\":\"\",\"ms\":0,\"error\":{\"code\":"
         "\"busy\"}}",
         AUT_BRIDGE_PROTOCOL, "protocol"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++, i++) {
        struct cap c = {.f = f};
        assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &c), 0);
        SPIN(f, f->nreqs == i + 1);
        peer_line(f, bad[k].fmt, req_id(f, i));
        SPIN(f, c.n == 1);
        assert_int_equal(c.r.status, bad[k].status);
        assert_string_equal(c.r.code, bad[k].code);
        assert_true(c.r.message[0] != '\0');
        assert_null(c.r.result);
    }
    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.malformed, 9); /* the PROTOCOL ones */
    assert_int_equal(st.unmatched, 0);
    assert_int_equal(st.sent, (uint64_t)i);
    assert_int_equal(st.received, (uint64_t)i);
}

static void test_host_deadline(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap c = {.f = f};
    uint64_t t0 = uv_hrtime();
    assert_int_equal(aut_bridge_call(f->b, "slm.query", NULL, 50, cap_cb, &c), 0);
    SPIN(f, c.n == 1);
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_true(ms >= 45);
    assert_int_equal(c.r.status, AUT_BRIDGE_TIMEOUT);
    assert_string_equal(c.r.code, "host_timeout");
    assert_string_equal(c.r.id, "1");
    assert_non_null(strstr(c.r.message, "50 ms"));
    assert_int_equal(f->nreqs, 1);
    assert_int_equal((int)req_num(f, 0, "deadline_ms"), 45); /* the kernel gives up first */
    assert_int_equal(stats(f).timeouts, 1);

    /* the late reply is ignored */
    reply_ok(f, "1", "{\"text\":\"too late\"}");
    SPIN(f, stats(f).received == 1);
    run_for(f, 10);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.r.status, AUT_BRIDGE_TIMEOUT);
    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.unmatched, 1);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.malformed, 0);

    /* and the bridge goes on */
    struct cap d = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &d), 0);
    SPIN(f, f->nreqs == 2);
    reply_ok(f, req_id(f, 1), "{\"version\":1}");
    SPIN(f, d.n == 1);
    assert_int_equal(d.r.status, AUT_BRIDGE_OK);
    aut_bridge_reply_free(&d.r);
    assert_int_equal(c.n, 1);
}

/* A valid reply line of exactly len bytes for id. */
static char *reply_of_len(const char *id, size_t len)
{
    char head[128];
    int h = snprintf(head, sizeof head,
                     "{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"r\",\"ms\":1,\"result\":{"
                     "\"pad\":\"",
                     id);
    const char *tail = "\"}}";
    assert_true(len > (size_t)h + strlen(tail));
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, head, (size_t)h);
    size_t pad = len - (size_t)h - strlen(tail);
    memset(s + h, 'x', pad);
    strcpy(s + h + pad, tail);
    assert_int_equal(strlen(s), len);
    return s;
}

static void test_oversized(void **state)
{
    struct fx *f = *state;
    struct aut_bridge_opts o = {.line_max = 256, .reply_max = 256};
    fx_open(f, &o);

    /* exactly reply_max: fine */
    struct cap c = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &c), 0);
    SPIN(f, f->nreqs == 1);
    char *s = reply_of_len(req_id(f, 0), 256);
    peer_line(f, "%s", s);
    free(s);
    SPIN(f, c.n == 1);
    assert_int_equal(c.r.status, AUT_BRIDGE_OK);
    assert_true(strlen(cJSON_GetObjectItemCaseSensitive(c.r.result, "pad")->valuestring) > 150);

    /* one byte more: that call fails at once with PROTOCOL */
    struct cap d = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &d), 0);
    SPIN(f, f->nreqs == 2);
    s = reply_of_len(req_id(f, 1), 257);
    peer_line(f, "%s", s);
    free(s);
    SPIN(f, d.n == 1);
    assert_int_equal(d.r.status, AUT_BRIDGE_PROTOCOL);
    assert_string_equal(d.r.code, "protocol");
    assert_non_null(strstr(d.r.message, "reply_max"));
    assert_null(d.r.result);
    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.oversized, 1);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.received, 2);

    /* a long line without an id, arriving in pieces across reads; then a
     * reply in the same chunk as its end is read normally */
    struct cap e = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &e), 0);
    SPIN(f, f->nreqs == 3);
    char junk[1000];
    memset(junk, 'z', sizeof junk);
    for (int k = 0; k < 5; k++) {
        peer_send(f, junk, sizeof junk);
        run_for(f, 2);
    }
    char tail[256];
    int n = snprintf(tail, sizeof tail,
                     "zzz\n{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"r\",\"ms\":2,"
                     "\"result\":{}}\n",
                     req_id(f, 2));
    peer_send(f, tail, (size_t)n);
    SPIN(f, e.n == 1);
    assert_int_equal(e.r.status, AUT_BRIDGE_OK);
    assert_int_equal(e.r.ms, 2);
    st = stats(f);
    assert_int_equal(st.oversized, 2);
    assert_int_equal(st.malformed, 2);
    assert_int_equal(st.received, 4);
    assert_int_equal(st.unmatched, 0);

    /* requests are held to line_max too */
    cJSON *args = cJSON_CreateObject();
    char prompt[300];
    memset(prompt, 'p', sizeof prompt - 1);
    prompt[sizeof prompt - 1] = '\0';
    cJSON_AddStringToObject(args, "prompt", prompt);
    assert_int_equal(aut_bridge_call(f->b, "slm.query", args, 0, cap_cb, &e), -EMSGSIZE);
    cJSON_Delete(args);
    run_for(f, 5);
    assert_int_equal(f->nreqs, 3);
    assert_int_equal(stats(f).sent, 3);

    aut_bridge_reply_free(&c.r);
    aut_bridge_reply_free(&d.r);
    aut_bridge_reply_free(&e.r);
}

/* Replies may be longer than requests: reply_max apart from line_max. */
static void test_reply_max(void **state)
{
    struct fx *f = *state;
    struct aut_bridge_opts o = {.line_max = 256, .reply_max = 4096};
    fx_open(f, &o);
    cJSON *args = cJSON_CreateObject();
    char prompt[300];
    memset(prompt, 'p', sizeof prompt - 1);
    prompt[sizeof prompt - 1] = '\0';
    cJSON_AddStringToObject(args, "prompt", prompt);
    struct cap c = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "slm.query", args, 0, cap_cb, &c), -EMSGSIZE);
    cJSON_Delete(args);

    assert_int_equal(aut_bridge_call(f->b, "pci.list", NULL, 5000, cap_cb, &c), 0);
    SPIN(f, f->nreqs == 1);
    char *s = reply_of_len(req_id(f, 0), 4096);
    peer_line(f, "%s", s);
    free(s);
    SPIN(f, c.n == 1);
    assert_int_equal(c.r.status, AUT_BRIDGE_OK);

    assert_int_equal(aut_bridge_call(f->b, "pci.list", NULL, 5000, cap_cb, &c), 0);
    SPIN(f, f->nreqs == 2);
    s = reply_of_len(req_id(f, 1), 4097);
    peer_line(f, "%s", s);
    free(s);
    SPIN(f, c.n == 2);
    assert_int_equal(c.r.status, AUT_BRIDGE_PROTOCOL);
    assert_int_equal(stats(f).oversized, 1);
    aut_bridge_reply_free(&c.r);
}

static void test_garbage_and_unknown_ids(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap c = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &c), 0);
    SPIN(f, f->nreqs == 1);

    static const char *garbage[] = {
        "hello",
        "{\"v\":1", /* truncated */
        "[1,2]",
        "42",
        "{}", /* neither reply nor event */
        "\"str\"",
        "{\"v\":1,\"id\":7,\"ok\":true}", /* id not a string */
        "{\"v\":1,\"event\":5}",          /* event not a string, no id */
        "{\"a\":1} trailing",
    };
    for (size_t k = 0; k < sizeof garbage / sizeof garbage[0]; k++)
        peer_line(f, "%s", garbage[k]);
    peer_send(f, "\n\r\n", 3);                     /* empty lines: not counted */
    peer_send(f, "{\"a\":1}\0xyz\n", 12);          /* a NUL byte */
    peer_send(f, "\xff\xfe\x01\x80garbage\n", 12); /* binary */
    peer_line(f, "{\"v\":1,\"id\":\"999\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":{}}");
    peer_line(f, "{\"v\":1,\"id\":null,\"ok\":false,\"run_id\":\"\",\"ms\":0,"
                 "\"error\":{\"code\":\"parse\",\"message\":\"not JSON\"}}");
    run_for(f, 10);
    assert_int_equal(c.n, 0);
    /* the real reply, CRLF-terminated */
    char line[256];
    int n = snprintf(line, sizeof line,
                     "{\"v\":1,\"id\":\"%s\",\"ok\":true,\"run_id\":\"r\",\"ms\":3,"
                     "\"result\":{\"version\":1}}\r\n",
                     req_id(f, 0));
    peer_send(f, line, (size_t)n);
    SPIN(f, c.n == 1);
    assert_int_equal(c.r.status, AUT_BRIDGE_OK);
    assert_int_equal(c.r.ms, 3);

    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.malformed, 11);
    assert_int_equal(st.unmatched, 2);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.received, 14);
    assert_int_equal(st.events, 0);
    aut_bridge_reply_free(&c.r);
}

static void event_cb(const cJSON *ev, void *ud)
{
    struct fx *f = ud;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(ev, "run_id");
    assert_true(f->nevents < 8);
    snprintf(f->event_run_id[f->nevents++], sizeof f->event_run_id[0], "%s",
             cJSON_IsString(r) ? r->valuestring : "");
    if (f->close_in_event) {
        aut_bridge_close(f->b);
        f->b = NULL;
    }
}

static void write_event_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    peer_line(f, "{\"v\":1,\"event\":\"ready\",\"run_id\":\"r2\",\"backend\":\"neural\"}");
}

static void test_events(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    aut_bridge_on_event(f->b, event_cb, f);
    peer_line(f, "{\"v\":1,\"event\":\"ready\",\"run_id\":\"r1\",\"backend\":\"neural\","
                 "\"model\":\"auton-slm\"}");
    SPIN(f, f->nevents == 1);
    assert_string_equal(f->event_run_id[0], "r1");

    /* the backlog: already received, so no waiting */
    cJSON *ev = NULL;
    assert_int_equal(aut_bridge_wait_event(f->b, "ready", 10, &ev), 0);
    assert_non_null(ev);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "model")->valuestring, "auton-slm");
    cJSON_Delete(ev);
    /* consumed: waiting again times out */
    uint64_t t0 = uv_hrtime();
    assert_int_equal(aut_bridge_wait_event(f->b, "ready", 30, &ev), -ETIMEDOUT);
    assert_null(ev);
    assert_true((uv_hrtime() - t0) / 1000000 >= 25);

    /* a v:2 event is dropped and counted */
    peer_line(f, "{\"v\":2,\"event\":\"ready\",\"run_id\":\"bad\"}");
    SPIN(f, stats(f).received == 2);
    assert_int_equal(stats(f).malformed, 1);
    assert_int_equal(f->nevents, 1);

    /* an event that arrives while waiting (written by a timer on the loop) */
    uv_timer_t t;
    assert_int_equal(uv_timer_init(&f->loop, &t), 0);
    t.data = f;
    assert_int_equal(uv_timer_start(&t, write_event_cb, 20, 0), 0);
    assert_int_equal(aut_bridge_wait_event(f->b, NULL, 3000, &ev), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "run_id")->valuestring, "r2");
    cJSON_Delete(ev);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* t is on the stack: let it close now */
    assert_int_equal(f->nevents, 2);
    assert_string_equal(f->event_run_id[1], "r2");

    /* no callback: still kept for waiting; ev_out may be NULL */
    aut_bridge_on_event(f->b, NULL, NULL);
    peer_line(f, "{\"v\":1,\"event\":\"ready\",\"run_id\":\"r3\"}");
    SPIN(f, stats(f).events == 3);
    assert_int_equal(f->nevents, 2);
    assert_int_equal(aut_bridge_wait_event(f->b, "ready", 10, NULL), 0);
    /* more than the backlog holds: the oldest go, without leaking */
    for (int k = 0; k < 20; k++)
        peer_line(f, "{\"v\":1,\"event\":\"ready\",\"run_id\":\"x%d\"}", k);
    SPIN(f, stats(f).events == 23);
    assert_int_equal(aut_bridge_wait_event(f->b, "ready", 10, &ev), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "run_id")->valuestring, "x4");
    cJSON_Delete(ev);

    /* closing from inside the event callback, with more lines behind it */
    aut_bridge_on_event(f->b, event_cb, f);
    f->close_in_event = true;
    peer_line(f, "{\"v\":1,\"event\":\"ready\",\"run_id\":\"last\"}\n"
                 "{\"v\":1,\"event\":\"ready\",\"run_id\":\"never\"}");
    SPIN(f, f->b == NULL);
    run_for(f, 5);
    assert_int_equal(f->nevents, 3);
    assert_string_equal(f->event_run_id[2], "last");
}

static void test_peer_closes(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap a = {.f = f}, b = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "slm.query", NULL, 5000, cap_cb, &a), 0);
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &b), 0);
    SPIN(f, f->nreqs == 2);
    const char *part = "{\"v\":1,\"id\":\"1\",\"ok\":tr"; /* a truncated line, then EOF */
    peer_send(f, part, strlen(part));
    peer_close(f);
    SPIN(f, a.n == 1 && b.n == 1);
    assert_int_equal(a.r.status, AUT_BRIDGE_CLOSED);
    assert_int_equal(b.r.status, AUT_BRIDGE_CLOSED);
    assert_string_equal(a.r.code, "closed");
    assert_int_equal(stats(f).malformed, 1);

    struct cap c = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &c), -EPIPE);
    struct aut_bridge_reply r;
    assert_int_equal(aut_bridge_call_sync(f->b, "caps", NULL, 100, &r), -EPIPE);
    assert_int_equal(r.status, AUT_BRIDGE_CLOSED);
    assert_null(r.result);
    aut_bridge_reply_free(&r);
    assert_int_equal(aut_bridge_wait_event(f->b, "ready", 100, NULL), -EPIPE);
    run_for(f, 5);
    assert_int_equal(c.n, 0);
}

static void test_close_with_pending(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap a = {.f = f}, b = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &a), 0);
    assert_int_equal(aut_bridge_call(f->b, "slm.info", NULL, 5000, cap_cb, &b), 0);
    aut_bridge_close(f->b);
    f->b = NULL;
    assert_int_equal(a.n, 1); /* before aut_bridge_close returns */
    assert_int_equal(b.n, 1);
    assert_int_equal(a.r.status, AUT_BRIDGE_CLOSED);
    assert_int_equal(b.r.status, AUT_BRIDGE_CLOSED);
    aut_bridge_close(NULL);
    SPIN(f, f->peer_eof);
}

static void test_close_from_reply_callback(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    struct cap a = {.f = f, .close_bridge = true}, b = {.f = f};
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, cap_cb, &a), 0);
    assert_int_equal(aut_bridge_call(f->b, "slm.info", NULL, 5000, cap_cb, &b), 0);
    SPIN(f, f->nreqs == 2);
    /* both replies in one write: the first closes the bridge mid-read */
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"v\":1,\"id\":\"1\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":{}}\n"
                     "{\"v\":1,\"id\":\"2\",\"ok\":true,\"run_id\":\"\",\"ms\":0,\"result\":{}}\n");
    peer_send(f, buf, (size_t)n);
    SPIN(f, a.n == 1 && b.n == 1);
    assert_null(f->b);
    assert_int_equal(a.r.status, AUT_BRIDGE_OK);
    assert_int_equal(b.r.status, AUT_BRIDGE_CLOSED);
    assert_true(b.seq == 2);
    aut_bridge_reply_free(&a.r);
    run_for(f, 5);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
}

/* The peer stops reading: requests queue up behind a full socket (send(2)
 * then uv_write), and arrive whole and in order once it reads again. */
static void test_backpressure(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    assert_int_equal(uv_read_stop((uv_stream_t *)&f->peer), 0);
    static char prompt[15001];
    cJSON *args = cJSON_CreateObject();
    struct cap c = {.f = f};
    const int n = 48; /* about 720 KB, more than a socket buffer */
    for (int k = 0; k < n; k++) {
        memset(prompt, 'a' + k % 26, sizeof prompt - 1);
        cJSON_DeleteItemFromObject(args, "prompt");
        cJSON_AddStringToObject(args, "prompt", prompt);
        assert_int_equal(aut_bridge_call(f->b, "slm.query", args, 5000, cap_cb, &c), 0);
    }
    cJSON_Delete(args);
    assert_int_equal(uv_read_start((uv_stream_t *)&f->peer, peer_alloc, peer_read), 0);
    SPIN(f, f->nreqs == n);
    for (int k = 0; k < n; k++) {
        char id[16];
        snprintf(id, sizeof id, "%d", k + 1);
        assert_string_equal(req_id(f, k), id);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(f->reqs[k], "args");
        const char *p = cJSON_GetObjectItemCaseSensitive(a, "prompt")->valuestring;
        assert_int_equal(strlen(p), sizeof prompt - 1);
        assert_int_equal(p[0], 'a' + k % 26);
        assert_int_equal(p[sizeof prompt - 2], 'a' + k % 26);
    }
    assert_int_equal(stats(f).sent, (uint64_t)n);
    assert_int_equal(c.n, 0);
    aut_bridge_close(f->b);
    f->b = NULL;
    assert_int_equal(c.n, n);
}

static void sync_in_cb(struct aut_bridge_reply *r, void *ud)
{
    struct fx *f = ud;
    struct aut_bridge_reply r2;
    assert_int_equal(aut_bridge_call_sync(f->b, "caps", NULL, 100, &r2), -EDEADLK);
    assert_int_equal(aut_bridge_wait_event(f->b, NULL, 100, NULL), -EDEADLK);
    f->seq++;
}

static void test_call_sync(void **state)
{
    struct fx *f = *state;
    fx_open(f, NULL);
    f->respond = responder;
    struct aut_bridge_reply r;
    assert_int_equal(aut_bridge_call_sync(f->b, "caps", NULL, 5000, &r), 0);
    assert_int_equal(r.status, AUT_BRIDGE_OK);
    assert_string_equal(r.run_id, "nightly-42");
    assert_int_equal(r.ms, 63);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(r.result, "version")->valueint, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.result, "features")), 2);
    aut_bridge_reply_free(&r);

    cJSON *args = cJSON_Parse("{\"prompt\":\"hi\"}");
    assert_int_equal(aut_bridge_call_sync(f->b, "slm.query", args, 5000, &r), 0);
    cJSON_Delete(args);
    assert_int_equal(r.status, AUT_BRIDGE_BUSY);
    assert_string_equal(r.code, "busy");
    assert_string_equal(r.message, "another call is running (id 7)");
    aut_bridge_reply_free(&r);

    /* never answered: the host deadline */
    assert_int_equal(aut_bridge_call_sync(f->b, "selftest.run", NULL, 30, &r), 0);
    assert_int_equal(r.status, AUT_BRIDGE_TIMEOUT);
    assert_string_equal(r.code, "host_timeout");
    assert_null(r.result);

    /* refused before sending */
    assert_int_equal(aut_bridge_call_sync(f->b, "", NULL, 30, &r), -EINVAL);
    assert_int_equal(r.status, AUT_BRIDGE_PROTOCOL);
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(aut_bridge_call_sync(f->b, "caps", arr, 30, &r), -EINVAL);
    cJSON_Delete(arr);
    assert_int_equal(aut_bridge_call(f->b, NULL, NULL, 30, cap_cb, NULL), -EINVAL);
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 30, NULL, NULL), -EINVAL);

    struct aut_bridge_stats st = stats(f);
    assert_int_equal(st.sent, 3);
    assert_int_equal(st.received, 2);
    assert_int_equal(st.timeouts, 1);

    /* the synchronous helpers refuse to run the loop from inside a callback */
    assert_int_equal(aut_bridge_call(f->b, "caps", NULL, 5000, sync_in_cb, f), 0);
    SPIN(f, f->seq == 1);
}

static void test_open_socket_path(void **state)
{
    struct fx *f = *state;
    char dir[64] = "/tmp/test_bridge.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/bridge.sock", dir);

    struct aut_bridge_opts o;
    aut_bridge_opts_default(&o);
    assert_int_equal(aut_bridge_open(&f->loop, &o, &f->b), -EINVAL); /* no path */
    o.socket_path = path;
    assert_int_equal(aut_bridge_open(&f->loop, &o, &f->b), -ENOENT); /* nobody listening yet */
    assert_null(f->b);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    o.socket_path = longp;
    assert_int_equal(aut_bridge_open(&f->loop, &o, &f->b), -ENAMETOOLONG);

    /* a listening socket, as QEMU's chardev server=on */
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(ls >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 1), 0);
    o.socket_path = path;
    assert_int_equal(aut_bridge_open(&f->loop, &o, &f->b), 0);
    int peer = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    assert_true(peer >= 0);
    close(ls);
    unlink(path);
    rmdir(dir);
    peer_attach(f, peer);
    f->respond = responder;

    struct aut_bridge_reply r;
    assert_int_equal(aut_bridge_call_sync(f->b, "caps", NULL, 5000, &r), 0);
    assert_int_equal(r.status, AUT_BRIDGE_OK);
    aut_bridge_reply_free(&r);
}

static void test_bad_open_fd(void **state)
{
    struct fx *f = *state;
    struct aut_bridge *b = (struct aut_bridge *)1;
    assert_int_equal(aut_bridge_open_fd(&f->loop, -1, NULL, &b), -EINVAL);
    assert_null(b);
    assert_int_equal(aut_bridge_open_fd(NULL, f->sv[0], NULL, &b), -EINVAL);
    /* not an open fd */
    assert_int_equal(aut_bridge_open_fd(&f->loop, 1 << 20, NULL, &b), -EBADF);
    assert_null(b);
    /* not a socket (libuv would accept /dev/null, then abort in epoll) */
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(aut_bridge_open_fd(&f->loop, fd, NULL, &b), -ENOTSOCK);
    assert_null(b);
    assert_true(fcntl(fd, F_GETFD) >= 0); /* still the caller's */
    close(fd);
}

static void test_env_defaults(void **state)
{
    struct aut_bridge_opts o;
    aut_bridge_opts_default(&o);
    assert_int_equal(o.timeout_ms, 300000);
    assert_false(o.trace);
    assert_int_equal(o.line_max, 16384);
    assert_null(o.socket_path);

    setenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS", "1234", 1);
    setenv("AUTON_KERNEL_BRIDGE_TRACE", "1", 1);
    aut_bridge_opts_default(&o);
    assert_int_equal(o.timeout_ms, 1234);
    assert_true(o.trace);
    static const char *bad[] = {"", "abc", "0", "-5", "12x", "3600001", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        setenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS", bad[k], 1);
        aut_bridge_opts_default(&o);
        assert_int_equal(o.timeout_ms, 300000);
    }
    setenv("AUTON_KERNEL_BRIDGE_TRACE", "0", 1);
    aut_bridge_opts_default(&o);
    assert_false(o.trace);
    unsetenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    unsetenv("AUTON_KERNEL_BRIDGE_TRACE");

    unsetenv("AUTON_KERNEL_BRIDGE");
    assert_true(aut_bridge_env_enabled());
    setenv("AUTON_KERNEL_BRIDGE", "0", 1);
    assert_false(aut_bridge_env_enabled());
    setenv("AUTON_KERNEL_BRIDGE", "1", 1);
    assert_true(aut_bridge_env_enabled());
    unsetenv("AUTON_KERNEL_BRIDGE");

    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_OK), "ok");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_ERROR), "error");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_BUSY), "busy");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_TIMEOUT), "timeout");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_VERSION), "version");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_PROTOCOL), "protocol");
    assert_string_equal(aut_bridge_status_name(AUT_BRIDGE_CLOSED), "closed");
}

/* The environment's timeout is the bridge's default; the trace logs both
 * directions to stderr. */
static void test_env_timeout_and_trace(void **state)
{
    struct fx *f = *state;
    char tpath[] = "/tmp/test_bridge_trace.XXXXXX";
    int tfd = mkstemp(tpath);
    assert_true(tfd >= 0);
    unlink(tpath);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(tfd, 2), 2);

    setenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS", "40", 1);
    setenv("AUTON_KERNEL_BRIDGE_TRACE", "1", 1);
    fx_open(f, NULL);
    unsetenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    unsetenv("AUTON_KERNEL_BRIDGE_TRACE");
    struct aut_bridge_reply r;
    assert_int_equal(aut_bridge_call_sync(f->b, "pci.list", NULL, 0, &r), 0);
    assert_int_equal(r.status, AUT_BRIDGE_TIMEOUT);
    assert_int_equal((int)req_num(f, 0, "deadline_ms"), 36);
    reply_ok(f, "1", "{\"devices\":[]}");
    peer_line(f, "not json");
    SPIN(f, stats(f).received == 2);

    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    char log[4096];
    ssize_t n = pread(tfd, log, sizeof log - 1, 0);
    close(tfd);
    assert_true(n > 0);
    log[n] = '\0';
    assert_non_null(strstr(log, "bridge > {\"v\":1,\"id\":\"1\",\"op\":\"pci.list\""));
    assert_non_null(strstr(log, "bridge < {\"v\":1,\"id\":\"1\""));
    assert_non_null(strstr(log, "host_timeout"));
    assert_non_null(strstr(log, "late reply"));
    assert_non_null(strstr(log, "not a JSON object"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_unknown_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_reply_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_socket_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_open_fd, setup, teardown),
        cmocka_unit_test(test_env_defaults),
        cmocka_unit_test_setup_teardown(test_env_timeout_and_trace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
