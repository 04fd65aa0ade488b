/*
 * gguf_loader.c - the neural backend's ring-0 half: the embedded model's
 * symbols, the mailbox, and the calls into the ring-3 SLM task
 * (user/slm_user.c). Ring 0 only hands over pointers and reads results;
 * parsing and inference run unprivileged. A fault there disables the
 * backend, prints "SLM: neural backend fault: ...", and the kernel carries
 * on with the rule engine.
 *
 * This is the one file of kernel/slm/neural/ that is kernel code: the
 * others are the engine, compiled into the ring-3 image (and the host
 * tools). It alone sees SLM_NEURAL_BACKEND_ENABLED, so swapping the model
 * relinks without recompiling.
 */
#include "kernel/slm/neural/gguf_loader.h"

#include "kernel/errno.h"
#include "kernel/printk.h"
#include "kernel/user.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "mm/slm_region.h"

#ifdef SLM_NEURAL_BACKEND_ENABLED
/* From kernel/slm/model_data.o (the Makefile's objcopy of SLM_MODEL). */
extern const uint8_t slm_model_start[], slm_model_end[];
#endif

/* UENTRY functions of the user image (user/slm_user.c). */
extern const char u_slm_open[], u_slm_generate[], u_slm_bench[], u_slm_selftest[],
    u_slm_checksum[];

#define OPEN_TIMEOUT_MS 120000u

static struct slm_abi_mbox *mbox;
static uint8_t *pool_base;
static size_t pool_size;
static bool loaded;
static bool disabled; /* after a fault */
static char fault_text[SLM_ERROR_MAX];

void slm_neural_model(const uint8_t **start, size_t *size)
{
#ifdef SLM_NEURAL_BACKEND_ENABLED
    *start = slm_model_start;
    *size = (size_t)(slm_model_end - slm_model_start);
#else
    *start = NULL;
    *size = 0;
#endif
}

void slm_neural_set_pool(void *base, size_t size)
{
    if (!base || size <= SLM_ABI_MBOX_BYTES) {
        mbox = NULL;
        return;
    }
    mbox = base;
    pool_base = (uint8_t *)base + SLM_ABI_MBOX_BYTES;
    pool_size = size - SLM_ABI_MBOX_BYTES;
    slm_region_attach(&mbox->pool);
}

struct slm_abi_mbox *slm_neural_mbox(void)
{
    return mbox;
}

bool slm_neural_loaded(void)
{
    return loaded && !disabled;
}

const char *slm_neural_fault(void)
{
    return disabled ? fault_text : NULL;
}

/* Runs fn(args...) in ring 3; *result is its return value when SLM_OK.
 * Busy and an expired deadline are reported as such; on a fault the
 * backend is disabled for good (its state cannot be trusted) and the reason
 * printed. Every ring-3 call of the backend goes through here. */
static int call_user(const char *fn, const uint64_t args[USER_CALL_ARGS], uint32_t timeout_ms,
                     uint64_t *result, char *why, size_t n)
{
    struct user_call c = {.fn = fn, .timeout_ms = timeout_ms};
    memcpy(c.args, args, sizeof c.args);
    int rc = user_call(&c);
    if (rc == 0) {
        *result = c.result;
        return SLM_OK;
    }
    if (rc == -EBUSY) {
        kfmt_snprintf(why, n, "the SLM task is busy with another call");
        return SLM_EBUSY;
    }
    if (rc == -ETIMEDOUT) {
        kfmt_snprintf(why, n, "deadline of %u ms expired", timeout_ms);
        return SLM_ETIMEDOUT;
    }
    char desc[192];
    if (rc == -EFAULT)
        user_fault_describe(&c.fault, desc, sizeof desc);
    else
        kfmt_snprintf(desc, sizeof desc, "user_call failed (%d)", rc);
    kfmt_snprintf(fault_text, sizeof fault_text, "%s", desc);
    kfmt_snprintf(why, n, "%s", desc);
    disabled = true;
    loaded = false;
    printk("SLM: neural backend fault: %s; falling back to the rule engine\n", desc);
    return SLM_EFAULT;
}

/* An engine entry point (returns 0 or -SLM_E_*, the reason in the mailbox). */
static int call_engine(const char *fn, const uint64_t args[USER_CALL_ARGS], uint32_t timeout_ms,
                       char *why, size_t n)
{
    uint64_t v = 0;
    int rc = call_user(fn, args, timeout_ms, &v, why, n);
    if (rc == SLM_OK && v != 0) {
        kfmt_snprintf(why, n, "%s", mbox->resp.errmsg);
        return SLM_EENGINE;
    }
    return rc;
}

/* call_engine on the loaded model. */
static int call_loaded(const char *fn, uint64_t arg, uint32_t timeout_ms, char *why, size_t n)
{
    if (!slm_neural_loaded()) {
        kfmt_snprintf(why, n, "%s", disabled ? fault_text : "no model loaded");
        return SLM_ENOMODEL;
    }
    return call_engine(fn, (const uint64_t[USER_CALL_ARGS]){(uint64_t)mbox, arg}, timeout_ms,
                       why, n);
}

static int32_t isa_request = -1;

void slm_neural_set_isa(int32_t isa)
{
    isa_request = isa;
}

int slm_load_gguf(const void *data, size_t size, char *why, size_t n)
{
    if (!mbox) {
        kfmt_snprintf(why, n, "no SLM pool (the region could not be reserved)");
        return SLM_ENOMODEL;
    }
    loaded = false;
    disabled = false;
    memset(&mbox->info, 0, sizeof mbox->info);
    mbox->req.isa = isa_request;
    int rc = call_engine(u_slm_open,
                         (const uint64_t[USER_CALL_ARGS]){(uint64_t)mbox, (uint64_t)data, size,
                                                          (uint64_t)pool_base, pool_size, 0},
                         OPEN_TIMEOUT_MS, why, n);
    loaded = rc == 0;
    return rc;
}

int slm_init_neural_backend(char *why, size_t n)
{
    const uint8_t *start;
    size_t size;
    slm_neural_model(&start, &size);
    if (!start || size == 0) {
        kfmt_snprintf(why, n, "no embedded model");
        return SLM_ENOMODEL;
    }
    return slm_load_gguf(start, size, why, n);
}

bool slm_neural_parse_error(void)
{
    /* an engine refusal other than "out of pool memory" is the file's fault */
    return mbox && mbox->resp.rc != 0 && strcmp(mbox->resp.errsym, "NOMEM") != 0;
}

int slm_neural_generate(uint32_t timeout_ms, char *why, size_t n)
{
    return call_loaded(u_slm_generate, 0, timeout_ms, why, n);
}

int slm_neural_bench(uint32_t timeout_ms, char *why, size_t n)
{
    return call_loaded(u_slm_bench, 0, timeout_ms, why, n);
}

int slm_neural_selftest(int which, uint32_t timeout_ms, char *why, size_t n)
{
    return call_loaded(u_slm_selftest, (uint64_t)which, timeout_ms, why, n);
}

int slm_neural_checksum(uint32_t *crc, char *why, size_t n)
{
    const uint8_t *start;
    size_t size;
    slm_neural_model(&start, &size);
    if (!start || !size || !mbox) {
        kfmt_snprintf(why, n, "%s", !mbox ? "no SLM pool" : "no embedded model");
        return SLM_ENOMODEL;
    }
    uint64_t v = 0;
    int rc = call_user(u_slm_checksum,
                       (const uint64_t[USER_CALL_ARGS]){(uint64_t)mbox, (uint64_t)start, size},
                       OPEN_TIMEOUT_MS, &v, why, n);
    *crc = (uint32_t)v;
    return rc;
}

int slm_neural_inference(const char *prompt, char *output, size_t size)
{
    struct slm_request q = SLM_REQUEST_INIT(prompt);
    static struct slm_result r; /* large: not on a thread stack */
    q.backend = SLM_BACKEND_NEURAL;
    q.fallback = false;
    int rc = slm_query(&q, &r);
    kfmt_snprintf(output, size, "%s", rc == SLM_OK ? r.text : r.error);
    return rc == SLM_OK ? 0 : -EIO;
}

void slm_unload_model(void)
{
    loaded = false;
    if (mbox)
        memset(&mbox->info, 0, sizeof mbox->info);
}
