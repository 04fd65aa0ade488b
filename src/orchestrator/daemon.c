/*
 * daemon.c - autond's life: configuration snapshots (load, SIGHUP reload),
 * the bearer token, the listeners, signals and the graceful shutdown
 * (SIGTERM/SIGINT: stop taking requests and jobs, cancel or finish the
 * running ones within shutdown_grace_s, close every handle, exit 0).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "http.h"
#include "httpc.h"

double aut_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void aut_dlog(const char *fmt, ...)
{
    char buf[2048], ts[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "autond: %s %s\n", ts, buf);
}

struct aut_conf *aut_daemon_conf(struct aut_daemon *d)
{
    atomic_fetch_add(&d->conf->refs, 1);
    return d->conf;
}

void aut_conf_put(struct aut_conf *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        free(c);
}

/* The first line of path into out; "" when the file is empty. */
static int read_first_line(const char *path, char *out, size_t len, char *err, size_t errlen)
{
    char *text = NULL;
    size_t n;
    if (aut_read_file(path, 64 * 1024, &text, &n, err, errlen))
        return -1;
    size_t l = strcspn(text, "\r\n");
    if (l >= len) {
        snprintf(err, errlen, "%s: the first line is longer than %zu characters", path, len - 1);
        free(text);
        return -1;
    }
    memcpy(out, text, l);
    out[l] = '\0';
    free(text);
    return 0;
}

/* The token file, created with a random token (0600) when missing. */
static int load_token(struct aut_conf *c, char *err, size_t errlen)
{
    const char *path = c->cfg.token_file;
    if (access(path, F_OK) != 0) {
        unsigned char raw[24];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "token: cannot read /dev/urandom: %s", strerror(errno));
            return -1;
        }
        close(fd);
        char hex[sizeof raw * 2 + 2];
        for (size_t i = 0; i < sizeof raw; i++)
            sprintf(hex + 2 * i, "%02x", raw[i]);
        strcat(hex, "\n");
        char *slash = strrchr(path, '/');
        if (slash) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
            aut_mkdirs(dir, 0755);
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || aut_write_all(fd, hex, strlen(hex)) || close(fd)) {
            snprintf(err, errlen, "token_file %s: cannot create: %s", path, strerror(errno));
            return -1;
        }
        aut_dlog("created a bearer token in %s (mode 0600)", path);
    }
    if (read_first_line(path, c->token, sizeof c->token, err, errlen))
        return -1;
    if (strlen(c->token) < 16) {
        snprintf(err, errlen, "token_file %s: the token must have at least 16 characters", path);
        return -1;
    }
    return 0;
}

/* A new snapshot from the config file and the overrides. */
static struct aut_conf *load_conf(struct aut_daemon *d, char *err, size_t errlen)
{
    struct aut_conf *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    if (aut_config_load(&c->cfg, d->config_path[0] ? d->config_path : NULL, err, errlen))
        goto fail;
    for (int i = 0; i < d->n_overrides; i++)
        if (aut_config_set(&c->cfg, d->overrides[i], err, errlen))
            goto fail;
    if (c->cfg.listen[0] && load_token(c, err, errlen))
        goto fail;
    if (c->cfg.notify_secret_file[0] &&
        read_first_line(c->cfg.notify_secret_file, c->secret, sizeof c->secret, err, errlen))
        goto fail;
    return c;
fail:
    free(c);
    return NULL;
}

static int parse_listen(const char *s, char *host, size_t hlen, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hlen)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1)
        return -1;
    snprintf(host, hlen, "%.*s", (int)(colon - s), s);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:8470 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    *port = (int)p;
    return 0;
}

static int start_http(struct aut_daemon *d, char *err, size_t errlen)
{
    const struct aut_config *cfg = &d->conf->cfg;
    char host[128] = "";
    int port = 0;
    if (cfg->listen[0] && parse_listen(cfg->listen, host, sizeof host, &port)) {
        snprintf(err, errlen, "[daemon] listen: expected host:port, got '%s'", cfg->listen);
        return -1;
    }
    if (cfg->socket_path[0]) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", cfg->socket_path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            aut_mkdirs(dir, 0755);
        }
    }
    struct aut_http_opts o = {.tcp_host = host,
                              .tcp_port = port,
                              .unix_path = cfg->socket_path,
                              .unix_mode = 0600,
                              .max_body = (size_t)cfg->max_body_kb * 1024,
                              .max_conns = cfg->max_conns,
                              .on_request = aut_api_handle,
                              .ud = d};
    if (aut_http_start(d->loop, &o, &d->http, err, errlen))
        return -1;
    if (host[0])
        aut_dlog("listening on http://%s:%d", host, aut_http_tcp_port(d->http));
    if (cfg->socket_path[0])
        aut_dlog("listening on unix:%s", cfg->socket_path);
    return 0;
}

/* SIGHUP: a new snapshot, read on the thread pool (file reads stay off the
 * loop); the listeners and the store stay as they are. */
struct reload {
    uv_work_t w;
    struct aut_daemon *d;
    struct aut_conf *c;
    char err[1024];
};

static void reload_work(uv_work_t *w)
{
    struct reload *r = w->data;
    r->c = load_conf(r->d, r->err, sizeof r->err);
}

static void reload_after(uv_work_t *w, int status)
{
    struct reload *r = w->data;
    struct aut_daemon *d = r->d;
    struct aut_conf *c = r->c;
    if (!c) {
        aut_dlog("SIGHUP: configuration not reloaded, keeping the old one: %s", r->err);
    } else if (d->stopping) {
        aut_conf_put(c);
    } else {
        const struct aut_config *o = &d->conf->cfg, *n = &c->cfg;
        if (strcmp(o->listen, n->listen) || strcmp(o->socket_path, n->socket_path) ||
            strcmp(o->db_path, n->db_path))
            aut_dlog("SIGHUP: [daemon] listen, socket and db take effect at the next start");
        aut_conf_put(d->conf);
        d->conf = c;
        aut_dlog("SIGHUP: configuration reloaded from %s",
                 c->cfg.path[0] ? c->cfg.path : "(built-in defaults)");
        aut_nightly_arm(d);
        aut_sched_kick(d);
    }
    free(r);
}

static void reload(struct aut_daemon *d)
{
    struct reload *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->d = d;
    r->w.data = r;
    if (uv_queue_work(d->loop, &r->w, reload_work, reload_after))
        free(r);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct aut_daemon *d = s->data;
    if (signum == SIGHUP)
        reload(d);
    else
        aut_daemon_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

static void http_closed(void *ud)
{
    (void)ud;
}

/* The last step of a shutdown: every handle closed, so uv_run returns. */
static void close_all(struct aut_daemon *d)
{
    if (d->n_running) {
        /* their threads still use the store and the wake handle: leave at once,
         * the store is crash-safe and the next start recovers the jobs */
        aut_dlog("exiting with %u job(s) still running: the next start finds them interrupted",
                 (unsigned)d->n_running);
        fflush(stderr);
        _exit(d->exit_code);
    }
    if (d->http) {
        aut_http_close(d->http, http_closed, d);
        d->http = NULL;
    }
    aut_hook_close_all(d);
    if (d->multi) {
        aut_httpc_multi_close(d->multi);
        d->multi = NULL;
    }
    uv_close((uv_handle_t *)&d->sig_term, on_closed);
    uv_close((uv_handle_t *)&d->sig_int, on_closed);
    uv_close((uv_handle_t *)&d->sig_hup, on_closed);
    uv_close((uv_handle_t *)&d->nightly_timer, on_closed);
    uv_close((uv_handle_t *)&d->shutdown_timer, on_closed);
    uv_close((uv_handle_t *)&d->wake, on_closed);
}

static void grace_over(uv_timer_t *t)
{
    struct aut_daemon *d = t->data;
    if (d->n_running && d->conf->cfg.shutdown_finish) {
        aut_dlog("shutdown: grace period over, canceling %u job(s)", d->n_running);
        aut_sched_cancel_all(d, "autond is shutting down (grace period over)");
    }
    close_all(d);
}

void aut_daemon_shutdown(struct aut_daemon *d, const char *why)
{
    if (d->stopping) {
        aut_dlog("%s again: exiting now", why);
        uv_timer_stop(&d->shutdown_timer);
        close_all(d);
        return;
    }
    d->stopping = true;
    aut_dlog("%s: shutting down (%u job(s) running, shutdown = %s, grace %u s)", why, d->n_running,
             d->conf->cfg.shutdown_finish ? "finish" : "cancel", d->conf->cfg.shutdown_grace_s);
    if (d->http)
        aut_http_stop_listening(d->http);
    uv_timer_stop(&d->nightly_timer);
    if (d->n_running == 0) {
        close_all(d);
        return;
    }
    if (!d->conf->cfg.shutdown_finish)
        aut_sched_cancel_all(d, "autond is shutting down");
    d->shutdown_timer.data = d;
    uv_timer_start(&d->shutdown_timer, grace_over, (uint64_t)d->conf->cfg.shutdown_grace_s * 1000,
                   0);
}

void aut_daemon_runners_gone(struct aut_daemon *d)
{
    if (d->stopping) {
        uv_timer_stop(&d->shutdown_timer);
        close_all(d);
    }
}

static int init_handles(struct aut_daemon *d)
{
    uv_signal_t *sigs[] = {&d->sig_term, &d->sig_int, &d->sig_hup};
    int nums[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(d->loop, sigs[i]);
        sigs[i]->data = d;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    uv_timer_init(d->loop, &d->nightly_timer);
    d->nightly_timer.data = d;
    uv_timer_init(d->loop, &d->shutdown_timer);
    d->shutdown_timer.data = d;
    uv_mutex_init(&d->mu);
    d->msgs_tail = &d->msgs;
    d->wake.data = d;
    return uv_async_init(d->loop, &d->wake, aut_sched_drain);
}

int aut_daemon_start(struct aut_daemon *d, uv_loop_t *loop, char *err, size_t errlen)
{
    d->loop = loop;
    d->started = aut_now();
    signal(SIGPIPE, SIG_IGN);
    if (!(d->conf = load_conf(d, err, errlen)))
        return -1;
    if (aut_db_open(d->conf->cfg.db_path, &d->db, err, errlen))
        return -1;
    aut_dlog("autond %s: job store %s (schema %d), config %s", AUTOND_VERSION, d->conf->cfg.db_path,
             aut_db_schema_version(d->db),
             d->conf->cfg.path[0] ? d->conf->cfg.path : "(built-in defaults)");
    if (aut_sched_recover(d)) {
        snprintf(err, errlen, "recovery failed: %s", aut_db_error(d->db));
        return -1;
    }
    if (init_handles(d)) {
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
    if (aut_httpc_multi_init(loop, &d->multi)) {
        snprintf(err, errlen, "cannot set up libcurl's multi handle");
        return -1;
    }
    if (start_http(d, err, errlen))
        return -1;
    aut_hook_resume(d);
    aut_nightly_arm(d);
    aut_sched_kick(d);
    return 0;
}
