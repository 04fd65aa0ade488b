/*
 * bridge_client.h - the host side of the kernel bridge (COM2), protocol v1.
 *
 * The protocol is docs/bridge.md: one JSON object per '\n'-terminated line in
 * both directions. The kernel's COM2 is a QEMU chardev served on a Unix
 * socket; this client connects to it, sends requests
 *
 *     {"v":1,"id":"<n>","op":"<op>","args":{...},"deadline_ms":<ms>}
 *
 * and matches the replies by id. Events ({"v":1,"event":"ready",...}) go to
 * an event callback and to a small backlog that aut_bridge_wait_event reads.
 *
 * Everything runs on the caller's libuv loop, on the loop's thread; there is
 * no global state. Two ways to use it:
 *
 *   - async: aut_bridge_call() + a callback, the caller runs the loop;
 *   - sync:  aut_bridge_call_sync() / aut_bridge_wait_event() run the loop
 *            themselves until the answer (or the deadline). They must not be
 *            called from inside a callback of the same loop (uv_run is not
 *            reentrant); from inside a bridge callback they return -EDEADLK.
 *
 * Deadlines. Every call has a host deadline, timeout_ms (0: the bridge's
 * default, opts.timeout_ms). The kernel is told a slightly shorter one,
 * deadline_ms = timeout_ms - min(timeout_ms / 10, 2000) (at least 1, at most
 * 3600000), so that the kernel's own "timeout" reply normally arrives before
 * the host gives up. When the host deadline expires first the callback gets
 * AUT_BRIDGE_TIMEOUT with code "host_timeout"; a reply that arrives later for
 * that id is ignored (counted in unmatched and late).
 *
 * Robustness. Requests are limited to opts.line_max bytes, incoming lines
 * to opts.reply_max (by default the same; neither counts the '\n', and a
 * trailing '\r' is dropped). A longer reply line is discarded up to the
 * next newline and counted (malformed, oversized); if its first bytes name
 * the id of a pending call ("id":"<n>" within the first 256 bytes, as the
 * kernel writes it), that call completes at once with AUT_BRIDGE_PROTOCOL.
 * Lines that are not JSON objects, or objects that are neither a reply nor an
 * event, are counted (malformed) and ignored; empty lines are ignored.
 * Replies whose id is unknown or null are counted (unmatched) and ignored.
 * A reply for a pending id that breaks the reply schema (ok/run_id/ms/result/
 * error missing or mistyped) completes that call with AUT_BRIDGE_PROTOCOL;
 * one with v != 1 completes it with AUT_BRIDGE_VERSION.
 *
 * SIGPIPE. Requests are written with send(MSG_NOSIGNAL) whenever the socket
 * takes the line at once (the usual case); only when it is full does the rest
 * go through uv_write, which can raise SIGPIPE if the peer is gone by then.
 * Programs should ignore SIGPIPE, as libuv programs generally do.
 *
 * Closing. aut_bridge_close() completes every pending call with
 * AUT_BRIDGE_CLOSED (before it returns) and frees the bridge; its libuv
 * handles are closed asynchronously, so run the loop once more
 * (uv_run(loop, UV_RUN_NOWAIT) or UV_RUN_DEFAULT) before uv_loop_close().
 * It may be called from any bridge callback. When the peer closes (QEMU
 * exits, the socket breaks), pending calls complete with AUT_BRIDGE_CLOSED,
 * later calls fail with -EPIPE, and the bridge still has to be closed.
 */
#ifndef AUTON_QEMU_BRIDGE_CLIENT_H
#define AUTON_QEMU_BRIDGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#define AUT_BRIDGE_TIMEOUT_DEFAULT_MS 300000u /* AUTON_KERNEL_BRIDGE_TIMEOUT_MS */
#define AUT_BRIDGE_LINE_MAX_DEFAULT 16384u
#define AUT_BRIDGE_DEADLINE_MAX_MS 3600000u /* the protocol's deadline_ms maximum */

struct aut_bridge; /* opaque */

/* The kernel's longest reply line (docs/bridge.md, caps.limits.reply_max):
 * a 256 KiB result plus its envelope. */
#define AUT_BRIDGE_REPLY_MAX (256 * 1024 + 8192)

struct aut_bridge_opts {
    const char *socket_path; /* aut_bridge_open: the chardev's Unix socket (copied) */
    uint32_t timeout_ms;     /* per-call host deadline; 0: AUTON_KERNEL_BRIDGE_TIMEOUT_MS, else
                                300000 */
    bool trace;              /* log every message to stderr; also on when
                                AUTON_KERNEL_BRIDGE_TRACE=1 */
    size_t line_max;         /* longest request line, '\n' excluded (the kernel's limit,
                                docs/bridge.md); 0: 16384 */
    size_t reply_max;        /* longest reply or event line, '\n' excluded; 0:
                                AUT_BRIDGE_REPLY_MAX, the kernel's own reply limit */
};

enum aut_bridge_status {
    AUT_BRIDGE_OK,
    AUT_BRIDGE_ERROR,    /* the kernel replied ok:false with another code (in code/message) */
    AUT_BRIDGE_BUSY,     /* kernel "busy": another call is running */
    AUT_BRIDGE_TIMEOUT,  /* the host deadline ("host_timeout") or the kernel's "timeout" */
    AUT_BRIDGE_VERSION,  /* the reply's v is not 1, or the kernel's "version" error */
    AUT_BRIDGE_PROTOCOL, /* the reply line was malformed or too long ("protocol") */
    AUT_BRIDGE_CLOSED,   /* the peer closed, the bridge was closed, or connecting failed */
};

/*
 * One call's outcome. code is the kernel's error code verbatim, or for
 * outcomes decided on the host: "host_timeout", "protocol", "version" (reply
 * v != 1), "closed"; "" when ok. message says what happened. result is the
 * reply's "result" object (ok only), owned by the reply. ms and run_id are the
 * reply's (0 and "" when there was no usable reply).
 */
struct aut_bridge_reply {
    enum aut_bridge_status status;
    char code[32];
    char message[512];
    cJSON *result; /* owned, may be NULL */
    uint64_t ms;   /* time in the kernel */
    char run_id[96];
    char id[24]; /* the request's id */
};

struct aut_bridge_stats {
    uint64_t sent;      /* requests written */
    uint64_t received;  /* non-empty lines read (oversized ones included) */
    uint64_t events;    /* events delivered */
    uint64_t unmatched; /* replies with an unknown or null id, ignored */
    uint64_t late;      /* of those: ids this bridge issued that were no longer pending
                           (host timeout already reported, or a duplicate reply) */
    uint64_t malformed; /* protocol errors: not a JSON object, neither reply nor event, bad
                           reply fields, oversized lines, a truncated line at EOF */
    uint64_t oversized; /* of those: lines longer than reply_max */
    uint64_t timeouts;  /* host deadlines that expired */
};

/* Fills *o with the defaults: no socket_path, timeout_ms from
 * AUTON_KERNEL_BRIDGE_TIMEOUT_MS (a decimal 1..3600000, else 300000), trace
 * from AUTON_KERNEL_BRIDGE_TRACE (1 on), line_max 16384, reply_max 0
 * (AUT_BRIDGE_REPLY_MAX). */
void aut_bridge_opts_default(struct aut_bridge_opts *o);

/* AUTON_KERNEL_BRIDGE: false when set to "0", true otherwise (the shipped
 * default is on). For the caller deciding whether to start the bridge at all;
 * the client itself does not look at it. */
bool aut_bridge_env_enabled(void);

/* Connects to opts->socket_path (a Unix stream socket, QEMU's chardev server)
 * with a blocking connect(2), then as aut_bridge_open_fd. o may be NULL only
 * for aut_bridge_open_fd; zero fields take the defaults above. Returns 0, or
 * -errno (-EINVAL: no path, -ENAMETOOLONG, -ENOENT/-ECONNREFUSED: nobody
 * listening yet; retry after QEMU has created the socket). */
int aut_bridge_open(uv_loop_t *loop, const struct aut_bridge_opts *o, struct aut_bridge **out);

/* The same on an already connected stream socket fd (a socketpair end in
 * tests); other kinds of fd get -ENOTSOCK. On success the bridge owns fd
 * (closed by aut_bridge_close); on failure the caller still does. */
int aut_bridge_open_fd(uv_loop_t *loop, int fd, const struct aut_bridge_opts *o,
                       struct aut_bridge **out);

/*
 * Sends {"v":1,"id":<auto>,"op":op,"args":args,"deadline_ms":...}. args is
 * borrowed (copied into the request) and must be an object or NULL.
 * timeout_ms 0 takes the bridge's default. Returns 0 and then calls cb
 * exactly once, always from the loop (never from inside aut_bridge_call):
 * with the reply matched by id, the host deadline, or the close. Returns
 * -EINVAL (no op, args not an object), -EMSGSIZE (the request line exceeds
 * line_max), -EPIPE (the bridge is closed or the peer has gone) or -ENOMEM,
 * and then never calls cb.
 *
 * r is valid only during cb; the bridge frees r->result when cb returns. To
 * keep the result, take it (cJSON *res = r->result; r->result = NULL;) or
 * copy *r and clear r->result, and free it later (aut_bridge_reply_free).
 */
int aut_bridge_call(struct aut_bridge *b, const char *op, const cJSON *args, uint32_t timeout_ms,
                    void (*cb)(struct aut_bridge_reply *r, void *ud), void *ud);

/* Every event ({"v":1,"event":...}) is passed to cb (ev borrowed for the
 * duration of the call); NULL removes it. Events are also kept, the last 16,
 * for aut_bridge_wait_event. An event line with v != 1 is counted malformed
 * and dropped. */
void aut_bridge_on_event(struct aut_bridge *b, void (*cb)(const cJSON *ev, void *ud), void *ud);

/* aut_bridge_call, then runs the loop until the reply or the deadline.
 * *r is always written; free it with aut_bridge_reply_free. Returns 0 when
 * the call was made (its outcome is r->status), or the negative errno of
 * aut_bridge_call (r->status AUT_BRIDGE_CLOSED, code "closed", for -EPIPE;
 * AUT_BRIDGE_PROTOCOL otherwise), or -EDEADLK from inside a bridge
 * callback. The loop keeps running the caller's other handles meanwhile. */
int aut_bridge_call_sync(struct aut_bridge *b, const char *op, const cJSON *args,
                         uint32_t timeout_ms, struct aut_bridge_reply *r);

/* Waits for an event named event (NULL: any), first among those already
 * received and not yet waited for, then running the loop for up to timeout_ms
 * (0: the bridge's default). Returns 0 with the event in *ev_out (the
 * caller's, cJSON_Delete; ev_out may be NULL), -ETIMEDOUT, -EPIPE (the peer
 * has gone or the bridge was closed meanwhile) or -EDEADLK. */
int aut_bridge_wait_event(struct aut_bridge *b, const char *event, uint32_t timeout_ms,
                          cJSON **ev_out);

/* Frees r->result and clears it; safe on a zeroed or already freed reply. */
void aut_bridge_reply_free(struct aut_bridge_reply *r);

/* Pending calls complete with AUT_BRIDGE_CLOSED, then the bridge is freed
 * (see "Closing" above). NULL is a no-op. */
void aut_bridge_close(struct aut_bridge *b);

void aut_bridge_stats(const struct aut_bridge *b, struct aut_bridge_stats *st);

/* "ok", "error", "busy", "timeout", "version", "protocol", "closed". */
const char *aut_bridge_status_name(enum aut_bridge_status s);

#endif
