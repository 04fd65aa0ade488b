/*
 * main.c - auton-bridge: calls the kernel bridge (docs/bridge.md) from the
 * command line through the host client (src/qemu/bridge_client.h).
 *
 *   auton-bridge -s SOCKET [--ready] [-t MS] OP [ARGS_JSON] [OP [ARGS_JSON]]...
 *
 * Connects to QEMU's COM2 socket (retrying until it exists, within the
 * timeout), optionally waits for the kernel's "ready" event, makes each call
 * in order and prints one JSON line per call:
 *   {"op":..,"status":"ok|error|busy|timeout|version|protocol|closed",
 *    "code":..,"message":..,"ms":..,"run_id":..,"result":{..}}
 * Exit status: 0 every call ok, 1 some call failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "bridge_client.h"

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "auton-bridge: %s\n", msg);
    fprintf(stderr, "usage: auton-bridge -s SOCKET [--ready] [-t MS] OP [ARGS_JSON] "
                    "[OP [ARGS_JSON]]...\n"
                    "  -s, --socket PATH   QEMU's COM2 chardev socket\n"
                    "  -t, --timeout MS    per-call deadline (default "
                    "AUTON_KERNEL_BRIDGE_TIMEOUT_MS or 300000)\n"
                    "      --ready         wait for the kernel's ready event first\n"
                    "      --trace         log every message (AUTON_KERNEL_BRIDGE_TRACE=1)\n");
    return 2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_reply(const char *op, const struct aut_bridge_reply *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "op", op);
    cJSON_AddStringToObject(o, "status", aut_bridge_status_name(r->status));
    cJSON_AddStringToObject(o, "code", r->code);
    cJSON_AddStringToObject(o, "message", r->message);
    cJSON_AddNumberToObject(o, "ms", (double)r->ms);
    cJSON_AddStringToObject(o, "run_id", r->run_id);
    if (r->result)
        cJSON_AddItemToObject(o, "result", cJSON_Duplicate(r->result, 1));
    char *text = cJSON_PrintUnformatted(o);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(o);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'}, {"timeout", required_argument, NULL, 't'},
        {"ready", no_argument, NULL, 'r'},        {"trace", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    struct aut_bridge_opts o;
    aut_bridge_opts_default(&o);
    int ready = 0, c;
    while ((c = getopt_long(argc, argv, "+s:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.socket_path = optarg;
            break;
        case 't': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 3600000)
                return usage("--timeout takes 1..3600000 ms");
            o.timeout_ms = (uint32_t)v;
            break;
        }
        case 'r':
            ready = 1;
            break;
        case 'T':
            o.trace = true;
            break;
        case 'h':
            usage(NULL);
            return 0;
        default:
            return usage(NULL);
        }
    }
    if (!o.socket_path)
        return usage("--socket is required");
    if (optind >= argc)
        return usage("no operation given");

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct aut_bridge *b = NULL;
    double deadline = now_s() + o.timeout_ms / 1000.0;
    int rc;
    while ((rc = aut_bridge_open(&loop, &o, &b)) == -ENOENT || rc == -ECONNREFUSED) {
        if (now_s() > deadline)
            break;
        usleep(50000);
    }
    if (rc) {
        fprintf(stderr, "auton-bridge: cannot connect to %s: %s\n", o.socket_path, strerror(-rc));
        uv_loop_close(&loop);
        return 1;
    }
    int failed = 0;
    if (ready && (rc = aut_bridge_wait_event(b, "ready", o.timeout_ms, NULL))) {
        fprintf(stderr, "auton-bridge: no ready event: %s\n", strerror(-rc));
        failed = 1;
    }
    for (int i = optind; i < argc && !failed; i++) {
        const char *op = argv[i];
        cJSON *args = NULL;
        if (i + 1 < argc && argv[i + 1][0] == '{') {
            args = cJSON_Parse(argv[++i]);
            if (!args || !cJSON_IsObject(args)) {
                fprintf(stderr, "auton-bridge: arguments of %s are not a JSON object: %s\n", op,
                        argv[i]);
                cJSON_Delete(args);
                failed = 1;
                break;
            }
        }
        struct aut_bridge_reply r;
        rc = aut_bridge_call_sync(b, op, args, 0, &r);
        cJSON_Delete(args);
        print_reply(op, &r);
        failed |= rc != 0 || r.status != AUT_BRIDGE_OK;
        aut_bridge_reply_free(&r);
    }
    fflush(stdout);
    aut_bridge_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return failed;
}
