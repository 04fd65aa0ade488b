/*
 * test_httpc.c - the libcurl wrapper (src/common/httpc.c) against real local
 * servers: python3 -m http.server and small http.server scripts the tests
 * write (one honouring Range, one on a Unix socket echoing JSON and
 * streaming chunks, one recording POSTs). Covered: byte-identical downloads,
 * the restart on a 200, the resume on a 206 (only the rest sent), 416 as
 * whole, redirects, HTTP 404 and the size limit (both removing dest), the
 * cancel keeping dest, connection refused; requests over a Unix socket
 * (status, body, headers, streaming, stopping early, timeout, no daemon);
 * concurrent POSTs on a uv loop and closing with transfers in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "httpc.h"

extern char **environ;

#define MAX_SERVERS 4
#define FILE_SIZE (3 * 1024 * 1024 + 17) /* several write callbacks' worth */

/* Serves root on port with Range support ("bytes=N-" only), logging
 * "<path> <Range or -> <bytes sent>" per GET. /redir/x redirects to /x;
 * /nolen/x sends x without a Content-Length (the body ends at close). */
static const char RANGE_PY[] =
    "import http.server, os, sys\n"
    "root, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        if self.path.startswith('/redir/'):\n"
    "            self.send_response(302)\n"
    "            self.send_header('Location', self.path[6:])\n"
    "            self.send_header('Content-Length', '0')\n"
    "            self.end_headers()\n"
    "            return\n"
    "        nolen = self.path.startswith('/nolen/')\n"
    "        name = self.path[7:] if nolen else self.path[1:]\n"
    "        try:\n"
    "            data = open(os.path.join(root, name), 'rb').read()\n"
    "        except OSError:\n"
    "            self.send_error(404)\n"
    "            return\n"
    "        rng = self.headers.get('Range', '')\n"
    "        ok = rng.startswith('bytes=') and rng.endswith('-')\n"
    "        start = int(rng[6:-1]) if ok else 0\n"
    "        with open(log, 'a') as f:\n"
    "            f.write('%s %s %d\\n' % (self.path, rng or '-', max(len(data) - start, 0)))\n"
    "        if ok and start >= len(data):\n"
    "            self.send_response(416)\n"
    "            self.send_header('Content-Range', 'bytes */%d' % len(data))\n"
    "            self.send_header('Content-Length', '0')\n"
    "            self.end_headers()\n"
    "            return\n"
    "        self.send_response(206 if ok else 200)\n"
    "        if ok:\n"
    "            self.send_header('Content-Range',\n"
    "                             'bytes %d-%d/%d' % (start, len(data) - 1, len(data)))\n"
    "        if not nolen:\n"
    "            self.send_header('Content-Length', str(len(data) - start))\n"
    "        self.end_headers()\n"
    "        try:\n"
    "            self.wfile.write(data[start:])\n"
    "        except OSError:\n"
    "            pass\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()\n";

/* A daemon on a Unix socket: every method echoes itself as JSON (404 for
 * /missing); /stream/N sends N chunks "chunk i\n", 150 ms apart. */
static const char UNIX_PY[] =
    "import http.server, json, socketserver, sys, time\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def stream(self, n):\n"
    "        self.send_response(200)\n"
    "        self.send_header('Transfer-Encoding', 'chunked')\n"
    "        self.end_headers()\n"
    "        for i in range(n):\n"
    "            c = ('chunk %d\\n' % i).encode()\n"
    "            self.wfile.write(b'%x\\r\\n%s\\r\\n' % (len(c), c))\n"
    "            time.sleep(0.15)\n"
    "        self.wfile.write(b'0\\r\\n\\r\\n')\n"
    "    def echo(self):\n"
    "        n = int(self.headers.get('Content-Length') or 0)\n"
    "        body = self.rfile.read(n).decode()\n"
    "        try:\n"
    "            if self.path.startswith('/stream/'):\n"
    "                return self.stream(int(self.path[8:]))\n"
    "            out = json.dumps({'method': self.command, 'path': self.path, 'body': body,\n"
    "                              'x_test': self.headers.get('X-Test'),\n"
    "                              'ct': self.headers.get('Content-Type')}).encode()\n"
    "            self.send_response(404 if self.path == '/missing' else 200)\n"
    "            self.send_header('Content-Type', 'application/json')\n"
    "            self.send_header('Content-Length', str(len(out)))\n"
    "            self.end_headers()\n"
    "            self.wfile.write(out)\n"
    "        except OSError:\n"
    "            self.close_connection = True\n"
    "    do_GET = do_POST = do_DELETE = echo\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):\n"
    "    daemon_threads = True\n"
    "S(sys.argv[1], H).serve_forever()\n";

/* Records each POST as "path|X-Hook|Content-Type|body" and answers 200, or
 * 500 for /fail; /hang never answers. */
static const char HOOK_PY[] =
    "import http.server, sys, time\n"
    "port, log = int(sys.argv[1]), sys.argv[2]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        n = int(self.headers.get('Content-Length') or 0)\n"
    "        body = self.rfile.read(n).decode()\n"
    "        with open(log, 'a') as f:\n"
    "            f.write('%s|%s|%s|%s\\n' % (self.path, self.headers.get('X-Hook'),\n"
    "                                       self.headers.get('Content-Type'), body))\n"
    "        if self.path == '/hang':\n"
    "            time.sleep(600)\n"
    "        self.send_response(500 if self.path == '/fail' else 200)\n"
    "        self.send_header('Content-Length', '2')\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b'ok')\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "http.server.ThreadingHTTPServer(('127.0.0.1', port), H).serve_forever()\n";

struct fx {
    char dir[64]; /* a fresh temporary directory */
    pid_t pids[MAX_SERVERS];
    int npids;
    int port;       /* the server the test started */
    char src[512];  /* a FILE_SIZE file of random bytes under dir/www */
    char dest[512]; /* where downloads go */
    char log[512];  /* what the scripted server logged */
    char url[512];
    char err[2048];
    unsigned char *data; /* src's bytes */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_httpc.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < f->npids; i++) {
        kill(f->pids[i], SIGTERM);
        assert_int_equal(waitpid(f->pids[i], NULL, 0), f->pids[i]);
    }
    assert_int_equal(aut_rmtree(f->dir), 0);
    free(f->data);
    free(f);
    return 0;
}

/* f->dir + "/" + rel into out (512 bytes) */
static char *at(struct fx *f, char *out, const char *rel)
{
    snprintf(out, 512, "%s/%s", f->dir, rel);
    return out;
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(aut_write_file(path, text, strlen(text), NULL, 0), 0);
}

static char *read_text(const char *path)
{
    char *data = NULL;
    assert_int_equal(aut_read_file(path, 64u << 20, &data, NULL, NULL, 0), 0);
    return data;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (long long)st.st_size;
}

/* A port nothing listens on (free a moment ago). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* Connects once to a TCP port (path NULL) or a Unix socket. */
static bool accepts(int port, const char *path)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int s = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM, 0), r;
    assert_true(s >= 0);
    if (path) {
        snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
        r = connect(s, (struct sockaddr *)&un, sizeof un);
    } else {
        r = connect(s, (struct sockaddr *)&in, sizeof in);
    }
    close(s);
    return r == 0;
}

/* Starts argv (its output into dir/server.log), then waits up to 10 s until
 * the port or socket accepts; teardown kills it. */
static void start_server(struct fx *f, char *const argv[], int port, const char *path)
{
    posix_spawn_file_actions_t fa;
    char out[512];
    pid_t pid;
    assert_true(f->npids < MAX_SERVERS);
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, at(f, out, "server.log"),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    assert_int_equal(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    f->pids[f->npids++] = pid;
    for (int i = 0; i < 1000 && !accepts(port, path); i++)
        usleep(10 * 1000);
    assert_true(accepts(port, path));
}

/* A file of FILE_SIZE random bytes at dir/www/m.bin, kept in f->data. */
static void make_source(struct fx *f)
{
    char www[512];
    uint32_t x = 2463534242u;
    f->data = malloc(FILE_SIZE);
    assert_non_null(f->data);
    for (size_t i = 0; i < FILE_SIZE; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        f->data[i] = (unsigned char)x;
    }
    assert_int_equal(aut_mkdirs(at(f, www, "www"), 0755), 0);
    assert_int_equal(aut_write_file(at(f, f->src, "www/m.bin"), f->data, FILE_SIZE, NULL, 0), 0);
    at(f, f->dest, "m.part");
}

/* python3 -m http.server over dir/www (no Range support). */
static void start_plain_server(struct fx *f)
{
    char port[16], www[512];
    make_source(f);
    f->port = free_port();
    snprintf(port, sizeof port, "%d", f->port);
    char *argv[] = {"python3", "-m", "http.server",     "--bind", "127.0.0.1",
                    port,      "-d", at(f, www, "www"), NULL};
    start_server(f, argv, f->port, NULL);
}

/* RANGE_PY over dir/www, logging to f->log. */
static void start_range_server(struct fx *f)
{
    char port[16], www[512], script[512];
    make_source(f);
    write_text(at(f, script, "range.py"), RANGE_PY);
    f->port = free_port();
    snprintf(port, sizeof port, "%d", f->port);
    char *argv[] = {"python3", script, at(f, www, "www"), port, at(f, f->log, "range.log"), NULL};
    start_server(f, argv, f->port, NULL);
}

static char *url_of(struct fx *f, const char *path)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", f->port, path);
    return f->url;
}

/* dest holds exactly the source's bytes. */
static void assert_dest_is_source(struct fx *f)
{
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(aut_read_file(f->dest, 64u << 20, &got, &len, NULL, 0), 0);
    assert_int_equal(len, FILE_SIZE);
    assert_memory_equal(got, f->data, FILE_SIZE);
    free(got);
}

static int download(struct fx *f, const char *path, uint64_t max, uint64_t *bytes)
{
    struct aut_httpc_download d = {
        .url = url_of(f, path), .dest = f->dest, .max_bytes = max, .timeout_s = 30};
    return aut_httpc_download(&d, bytes, f->err, sizeof f->err);
}

static void download_is_byte_identical(void **state)
{
    struct fx *f = *state;
    uint64_t bytes = 0;
    start_plain_server(f);
    assert_int_equal(download(f, "/m.bin", 0, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);

    /* the same server through aut_httpc_request over TCP, collected */
    struct aut_httpc_req r = {.url = url_of(f, "/m.bin"), .method = "GET"};
    char *resp = NULL;
    size_t len = 0;
    long status = 0;
    assert_int_equal(aut_httpc_request(&r, &status, &resp, &len, f->err, sizeof f->err), 0);
    assert_int_equal(status, 200);
    assert_int_equal(len, FILE_SIZE);
    assert_memory_equal(resp, f->data, FILE_SIZE);
    assert_int_equal(resp[len], '\0');
    free(resp);
}

static void a_200_to_a_range_request_starts_over(void **state)
{
    struct fx *f = *state;
    uint64_t bytes = 0;
    start_plain_server(f); /* http.server ignores Range: it answers 200 */
    assert_int_equal(aut_write_file(f->dest, f->data, 100000, NULL, 0), 0);
    assert_int_equal(download(f, "/m.bin", FILE_SIZE, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);
}

static void a_206_sends_only_the_rest_and_416_means_whole(void **state)
{
    struct fx *f = *state;
    char want[128];
    uint64_t bytes = 0;
    start_range_server(f);
    assert_int_equal(aut_write_file(f->dest, f->data, 123456, NULL, 0), 0);
    assert_int_equal(download(f, "/m.bin", FILE_SIZE, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);
    char *log = read_text(f->log);
    snprintf(want, sizeof want, "/m.bin bytes=123456- %d\n", FILE_SIZE - 123456);
    assert_string_equal(log, want);
    free(log);

    /* again: the server has nothing past our end, and says so with a 416 */
    assert_int_equal(download(f, "/m.bin", FILE_SIZE, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);
    log = read_text(f->log);
    snprintf(want, sizeof want, "bytes=%d- 0\n", FILE_SIZE);
    assert_non_null(strstr(log, want));
    free(log);
}

static void redirects_are_followed(void **state)
{
    struct fx *f = *state;
    uint64_t bytes = 0;
    start_range_server(f);
    assert_int_equal(download(f, "/redir/m.bin", 0, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);
}

static void http_404_names_the_status_and_removes_dest(void **state)
{
    struct fx *f = *state;
    char want[1024];
    uint64_t bytes = 7;
    start_plain_server(f);
    write_text(f->dest, "stale partial");
    assert_int_equal(download(f, "/none.bin", 0, &bytes), -EPROTO);
    snprintf(want, sizeof want, "GET http://127.0.0.1:%d/none.bin: HTTP 404", f->port);
    assert_string_equal(f->err, want);
    assert_false(exists(f->dest));
    assert_int_equal(bytes, 7);
}

static void over_max_bytes_stops_and_removes_dest(void **state)
{
    struct fx *f = *state;
    char want[1024];
    start_range_server(f);
    /* told by the Content-Length */
    assert_int_equal(download(f, "/m.bin", 1 << 20, NULL), -EFBIG);
    snprintf(want, sizeof want, "GET http://127.0.0.1:%d/m.bin: over the limit of 1048576 bytes",
             f->port);
    assert_string_equal(f->err, want);
    assert_false(exists(f->dest));
    /* no Content-Length: counted as it comes */
    assert_int_equal(download(f, "/nolen/m.bin", 1 << 20, NULL), -EFBIG);
    assert_non_null(strstr(f->err, ": over the limit of 1048576 bytes"));
    assert_false(exists(f->dest));
    /* a 206 whose rest fits, but not with what dest already holds */
    assert_int_equal(aut_write_file(f->dest, f->data, 1 << 20, NULL, 0), 0);
    assert_int_equal(download(f, "/nolen/m.bin", 2 << 20, NULL), -EFBIG);
    assert_non_null(strstr(f->err, ": over the limit of 2097152 bytes"));
    assert_false(exists(f->dest));
    /* exactly at the limit is fine */
    assert_int_equal(download(f, "/nolen/m.bin", FILE_SIZE, NULL), 0);
    assert_dest_is_source(f);
}

/* should_stop: true once anything reached the file (ud: its path). */
static bool stop_when_started(void *ud)
{
    return file_size(ud) > 0;
}

static void should_stop_cancels_and_keeps_dest(void **state)
{
    struct fx *f = *state;
    char want[1024];
    uint64_t bytes = 0;
    start_range_server(f);
    struct aut_httpc_download d = {.url = url_of(f, "/m.bin"),
                                   .dest = f->dest,
                                   .should_stop = stop_when_started,
                                   .ud = f->dest};
    assert_int_equal(aut_httpc_download(&d, &bytes, f->err, sizeof f->err), -ECANCELED);
    snprintf(want, sizeof want, "GET %s: canceled", f->url);
    assert_string_equal(f->err, want);
    long long part = file_size(f->dest);
    assert_true(part > 0 && part < FILE_SIZE);
    /* a later call resumes where it stopped */
    assert_int_equal(download(f, "/m.bin", 0, &bytes), 0);
    assert_int_equal(bytes, FILE_SIZE);
    assert_dest_is_source(f);
    char *log = read_text(f->log);
    snprintf(want, sizeof want, "/m.bin bytes=%lld- %lld\n", part, FILE_SIZE - part);
    assert_non_null(strstr(log, want));
    free(log);
}

static void connection_refused_is_an_error(void **state)
{
    struct fx *f = *state;
    char want[1024];
    at(f, f->dest, "m.part");
    f->port = free_port();
    assert_int_equal(download(f, "/m.bin", 0, NULL), -1);
    snprintf(want, sizeof want, "GET %s: Couldn't connect to server", f->url);
    assert_memory_equal(f->err, want, strlen(want));
    assert_false(exists(f->dest)); /* no empty file left behind */

    struct aut_httpc_download d = {.url = "ftp://127.0.0.1/x", .dest = f->dest};
    assert_int_equal(aut_httpc_download(&d, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "not an http(s) URL"));
}

/* ---- requests over a Unix socket ---- */

static void start_unix_server(struct fx *f, char *sock)
{
    char script[512];
    write_text(at(f, script, "unix.py"), UNIX_PY);
    char *argv[] = {"python3", script, at(f, sock, "autond.sock"), NULL};
    start_server(f, argv, 0, sock);
}

/* Runs a request through sock, its body collected into a parsed JSON. */
static cJSON *request_json(struct fx *f, const char *sock, struct aut_httpc_req *r, long *status)
{
    char *resp = NULL;
    size_t len = 0;
    r->unix_path = sock;
    assert_int_equal(aut_httpc_request(r, status, &resp, &len, f->err, sizeof f->err), 0);
    assert_non_null(resp);
    assert_int_equal(len, strlen(resp));
    cJSON *j = cJSON_Parse(resp);
    assert_non_null(j);
    free(resp);
    return j;
}

static const char *jstr(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The response headers seen: "Name=value;" for each. */
struct seen_headers {
    char text[1024];
};

static void on_header(void *ud, const char *name, const char *value)
{
    struct seen_headers *h = ud;
    size_t n = strlen(h->text);
    snprintf(h->text + n, sizeof h->text - n, "%s=%s;", name, value);
}

static void request_get_and_post_over_a_unix_socket(void **state)
{
    struct fx *f = *state;
    char sock[512];
    long status = 0;
    struct seen_headers seen = {""};
    start_unix_server(f, sock);
    const char *hdrs[] = {"X-Test: yes", NULL};
    struct aut_httpc_req r = {.url = "http://localhost/v1/health",
                              .method = "GET",
                              .headers = hdrs,
                              .timeout_ms = 5000,
                              .on_header = on_header,
                              .ud = &seen};
    cJSON *j = request_json(f, sock, &r, &status);
    assert_int_equal(status, 200);
    /* each header once, trimmed; not the status line */
    assert_non_null(strstr(seen.text, "Content-Type=application/json;"));
    assert_non_null(strstr(seen.text, "Content-Length="));
    assert_null(strstr(seen.text, "HTTP/1"));
    assert_string_equal(jstr(j, "method"), "GET");
    assert_string_equal(jstr(j, "path"), "/v1/health");
    assert_string_equal(jstr(j, "x_test"), "yes");
    cJSON_Delete(j);

    const char *json[] = {"Content-Type: application/json", NULL};
    struct aut_httpc_req p = {.url = "http://localhost/v1/jobs",
                              .method = "POST",
                              .body = "{\"a\":1}xyz",
                              .body_len = 7,
                              .headers = json};
    j = request_json(f, sock, &p, &status);
    assert_int_equal(status, 200);
    assert_string_equal(jstr(j, "method"), "POST");
    assert_string_equal(jstr(j, "body"), "{\"a\":1}");
    assert_string_equal(jstr(j, "ct"), "application/json");
    cJSON_Delete(j);

    struct aut_httpc_req del = {.url = "http://localhost/v1/jobs/3", .method = "DELETE"};
    j = request_json(f, sock, &del, &status);
    assert_string_equal(jstr(j, "method"), "DELETE");
    cJSON_Delete(j);

    /* any status is a response */
    struct aut_httpc_req miss = {.url = "http://localhost/missing"};
    j = request_json(f, sock, &miss, &status);
    assert_int_equal(status, 404);
    cJSON_Delete(j);
}

/* What on_data saw; stop_after > 0 asks to stop after that many chunks. */
struct chunks {
    char buf[1024];
    size_t len;
    int calls, stop_after;
};

static int on_chunk(void *ud, const char *buf, size_t len)
{
    struct chunks *c = ud;
    assert_true(c->len + len < sizeof c->buf);
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void request_streams_to_on_data_and_stops_early(void **state)
{
    struct fx *f = *state;
    char sock[512], *resp = (char *)"untouched";
    size_t len = 99;
    long status = 0;
    struct chunks c = {.len = 0};
    start_unix_server(f, sock);
    struct aut_httpc_req r = {
        .unix_path = sock, .url = "http://localhost/stream/3", .on_data = on_chunk, .ud = &c};
    assert_int_equal(aut_httpc_request(&r, &status, &resp, &len, f->err, sizeof f->err), 0);
    assert_int_equal(status, 200);
    assert_null(resp);
    assert_int_equal(len, 0);
    c.buf[c.len] = '\0';
    assert_string_equal(c.buf, "chunk 0\nchunk 1\nchunk 2\n");
    assert_true(c.calls >= 2); /* they came 150 ms apart */

    /* stopping after the first chunk of 20 (3 s in all) is not an error */
    struct chunks one = {.stop_after = 1};
    r.url = "http://localhost/stream/20";
    r.ud = &one;
    double t0 = now_s();
    assert_int_equal(aut_httpc_request(&r, &status, NULL, NULL, f->err, sizeof f->err), 0);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(status, 200);
    assert_int_equal(one.calls, 1);
    one.buf[one.len] = '\0';
    assert_string_equal(one.buf, "chunk 0\n");

    /* a timeout is: nothing whole came */
    struct aut_httpc_req slow = {
        .unix_path = sock, .url = "http://localhost/stream/20", .timeout_ms = 300};
    assert_int_equal(aut_httpc_request(&slow, &status, &resp, &len, f->err, sizeof f->err), -1);
    assert_null(resp);
    assert_non_null(strstr(f->err, "GET http://localhost/stream/20 via "));
    assert_non_null(strstr(f->err, "Timeout was reached"));
}

static void request_without_a_daemon_says_so(void **state)
{
    struct fx *f = *state;
    char sock[512], want[1100];
    long status = 9;
    struct aut_httpc_req r = {.unix_path = at(f, sock, "none.sock"), .url = "http://localhost/"};
    assert_int_equal(aut_httpc_request(&r, &status, NULL, NULL, f->err, sizeof f->err), -ENOENT);
    snprintf(want, sizeof want, "GET http://localhost/ via %s: No such file or directory", sock);
    assert_string_equal(f->err, want);
    assert_int_equal(status, 0);

    /* a socket file nobody listens on any more */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", sock);
    assert_int_equal(bind(s, (struct sockaddr *)&un, sizeof un), 0);
    close(s);
    assert_int_equal(aut_httpc_request(&r, &status, NULL, NULL, f->err, sizeof f->err),
                     -ECONNREFUSED);
    assert_non_null(strstr(f->err, "Couldn't connect to server"));
}

/* ---- POSTs on a uv loop ---- */

/* What one done callback saw. */
struct done {
    int calls;
    long status;
    char error[1024];
    bool had_error;
    struct aut_httpc_multi *close_m; /* set: close it from the callback */
    struct aut_httpc_multi *post_m;  /* set: try to post from the callback */
    int post_rc;
};

static void never(void *ud, long status, const char *error)
{
    fail_msg("a refused post called done");
}

static void on_done(void *ud, long status, const char *error)
{
    struct done *d = ud;
    d->calls++;
    d->status = status;
    d->had_error = error != NULL;
    snprintf(d->error, sizeof d->error, "%s", error ? error : "");
    if (d->post_m)
        d->post_rc = aut_httpc_post(d->post_m, "http://127.0.0.1:1/", "{}", 2, NULL, 0, never, d);
    if (d->close_m)
        aut_httpc_multi_close(d->close_m);
}

/* Runs the loop until *calls reaches want or 10 s pass. */
static void run_until(uv_loop_t *loop, const int *calls, int want)
{
    double end = now_s() + 10;
    while (*calls < want && now_s() < end)
        if (!uv_run(loop, UV_RUN_NOWAIT))
            usleep(2000);
    assert_int_equal(*calls, want);
}

/* Runs the loop until the hook server logged a line containing what. */
static void run_until_logged(struct fx *f, uv_loop_t *loop, const char *what)
{
    double end = now_s() + 10;
    bool seen = false;
    while (!seen && now_s() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(5000);
        char *log = NULL;
        if (aut_read_file(f->log, 1 << 20, &log, NULL, NULL, 0) == 0)
            seen = strstr(log, what) != NULL;
        free(log);
    }
    assert_true(seen);
}

/* The loop closes cleanly: nothing of the multi handle is left on it. */
static void assert_loop_empties(uv_loop_t *loop)
{
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
        usleep(1000);
    assert_int_equal(uv_loop_alive(loop), 0);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void start_hook_server(struct fx *f)
{
    char port[16], script[512];
    write_text(at(f, script, "hook.py"), HOOK_PY);
    f->port = free_port();
    snprintf(port, sizeof port, "%d", f->port);
    char *argv[] = {"python3", script, port, at(f, f->log, "hook.log"), NULL};
    start_server(f, argv, f->port, NULL);
}

static void multi_posts_run_concurrently_on_the_loop(void **state)
{
    struct fx *f = *state;
    struct aut_httpc_multi *m = NULL;
    struct done ok = {0}, bad = {0}, refused = {0};
    char closed[256], want[512];
    uv_loop_t loop;
    start_hook_server(f);
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d/x", free_port());
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(aut_httpc_multi_init(&loop, &m), 0);
    const char *hdrs[] = {"X-Hook: abc", NULL};
    assert_int_equal(aut_httpc_post(m, url_of(f, "/ok"), "{\"n\":1}", 7, hdrs, 5000, on_done, &ok),
                     0);
    char body[] = "{\"n\":2}";
    assert_int_equal(aut_httpc_post(m, url_of(f, "/fail"), body, 7, NULL, 5000, on_done, &bad), 0);
    memset(body, 'X', 7); /* copied: the caller's buffer may change at once */
    assert_int_equal(aut_httpc_post(m, closed, "{}", 2, NULL, 5000, on_done, &refused), 0);
    assert_int_equal(aut_httpc_multi_active(m), 3);
    assert_int_equal(aut_httpc_post(m, "file:///etc/passwd", "{}", 2, NULL, 0, never, NULL), -1);
    assert_int_equal(aut_httpc_multi_active(m), 3);

    run_until(&loop, &refused.calls, 1);
    run_until(&loop, &ok.calls, 1);
    run_until(&loop, &bad.calls, 1);
    assert_int_equal(aut_httpc_multi_active(m), 0);
    assert_int_equal(ok.status, 200);
    assert_false(ok.had_error);
    assert_int_equal(bad.status, 500);
    assert_false(bad.had_error);
    assert_int_equal(refused.status, 0);
    assert_true(refused.had_error);
    snprintf(want, sizeof want, "POST %s: Couldn't connect to server", closed);
    assert_memory_equal(refused.error, want, strlen(want));

    char *log = read_text(f->log);
    assert_non_null(strstr(log, "/ok|abc|application/json|{\"n\":1}\n"));
    assert_non_null(strstr(log, "/fail|None|application/json|{\"n\":2}\n"));
    free(log);

    aut_httpc_multi_close(m);
    assert_int_equal(ok.calls + bad.calls + refused.calls, 3); /* nothing ran twice */
    assert_loop_empties(&loop);
}

static void multi_close_aborts_transfers_in_flight(void **state)
{
    struct fx *f = *state;
    struct aut_httpc_multi *m = NULL;
    struct done hang = {0};
    uv_loop_t loop;
    start_hook_server(f);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(aut_httpc_multi_init(&loop, &m), 0);
    hang.post_m = m; /* posting while closing is refused */
    hang.post_rc = 1;
    assert_int_equal(aut_httpc_post(m, url_of(f, "/hang"), "{}", 2, NULL, 0, on_done, &hang), 0);
    run_until_logged(f, &loop, "/hang|");
    assert_int_equal(hang.calls, 0);
    assert_int_equal(aut_httpc_multi_active(m), 1);

    aut_httpc_multi_close(m);
    assert_int_equal(hang.calls, 1);
    assert_int_equal(hang.status, 0);
    assert_true(hang.had_error);
    assert_non_null(strstr(hang.error, "POST http://127.0.0.1:"));
    assert_non_null(strstr(hang.error, "/hang: shutting down"));
    assert_int_equal(hang.post_rc, -1);
    assert_loop_empties(&loop);
}

static void multi_close_from_a_done_callback(void **state)
{
    struct fx *f = *state;
    struct aut_httpc_multi *m = NULL;
    struct done ok = {0}, hang = {0};
    uv_loop_t loop;
    start_hook_server(f);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(aut_httpc_multi_init(&loop, &m), 0);
    assert_int_equal(aut_httpc_post(m, url_of(f, "/hang"), "{}", 2, NULL, 0, on_done, &hang), 0);
    run_until_logged(f, &loop, "/hang|");
    ok.close_m = m;
    assert_int_equal(aut_httpc_post(m, url_of(f, "/ok"), "{}", 2, NULL, 5000, on_done, &ok), 0);
    run_until(&loop, &ok.calls, 1);
    assert_int_equal(ok.status, 200);
    assert_int_equal(hang.calls, 1);
    assert_non_null(strstr(hang.error, "/hang: shutting down"));
    assert_loop_empties(&loop);
}

static void is_url_and_bad_input(void **state)
{
    assert_true(aut_httpc_is_url("http://x"));
    assert_true(aut_httpc_is_url("HTTPS://x/y"));
    assert_false(aut_httpc_is_url("ftp://x"));
    assert_false(aut_httpc_is_url("/tmp/m.gguf"));
    assert_false(aut_httpc_is_url("http:/x"));
    assert_false(aut_httpc_is_url(NULL));
    assert_int_equal(aut_httpc_request(NULL, NULL, NULL, NULL, NULL, 0), -1);
    assert_int_equal(aut_httpc_download(NULL, NULL, NULL, 0), -1);
    assert_int_equal(aut_httpc_multi_active(NULL), 0);
    aut_httpc_multi_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(download_is_byte_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(a_200_to_a_range_request_starts_over, setup, teardown),
        cmocka_unit_test_setup_teardown(a_206_sends_only_the_rest_and_416_means_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(redirects_are_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(http_404_names_the_status_and_removes_dest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(over_max_bytes_stops_and_removes_dest, setup, teardown),
        cmocka_unit_test_setup_teardown(should_stop_cancels_and_keeps_dest, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_refused_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(request_get_and_post_over_a_unix_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(request_streams_to_on_data_and_stops_early, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(request_without_a_daemon_says_so, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_posts_run_concurrently_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_close_aborts_transfers_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(multi_close_from_a_done_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(is_url_and_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
