/*
 * reviewer.c - the Reviewer: turns a failure (class, stage, message) into a
 * recommendation a person or the ManagerAgent can act on, after the
 * integration spec's rollback strategy: other quantization, smaller model,
 * re-export, check the tokenizer or the training.
 */
#include <stdio.h>
#include <string.h>

#include "job.h"

struct rule {
    enum aut_fail_class cls;
    const char *needle; /* in the failure message; NULL: any */
    const char *advice;
};

static const struct rule rules[] = {
    {AUT_FAIL_MODEL, "pool", "the model needs more memory than the budget: try a smaller model "
                             "or a Q4_0 quantization of this one"},
    {AUT_FAIL_MODEL, "fit", "the model does not fit the guest: try a smaller model or Q4_0"},
    {AUT_FAIL_MODEL, "sha256", "the file is not the one the manifest describes: re-export the "
                               "model and its manifest together, or copy them again"},
    {AUT_FAIL_MODEL, "no such file", "check the model path or name (bare names are looked up "
                                     "under the model roots of etc/auton.conf)"},
    {AUT_FAIL_MODEL, "target_architectures", "export a model for this architecture"},
    {AUT_FAIL_MODEL, NULL, "the GGUF file is malformed or unsupported: re-export it from the "
                           "training pipeline (llama architecture; F32/F16/BF16/Q8_0/Q4_0/Q4_K/"
                           "Q6_K tensors)"},
    {AUT_FAIL_BUILD, "warning", "fix the warning named in the build log; the spec allows none"},
    {AUT_FAIL_BUILD, "grew", "the embedded model's size is off: check the objcopy step of the "
                             "kernel Makefile (section flags and alignment)"},
    {AUT_FAIL_BUILD, NULL, "read the build log; the kernel tree or the toolchain is broken, not "
                           "the model"},
    {AUT_FAIL_BOOT, "panic", "the kernel panicked: read the panic text in the report; if it is "
                             "in the SLM loader, try another quantization or a smaller model"},
    {AUT_FAIL_BOOT, "slm_initialised", "the neural backend did not come up: check the GGUF "
                                       "export (tokenizer metadata, tensor types) or the pool size"},
    {AUT_FAIL_BOOT, "boot_time", "boot is too slow: a smaller model or a faster accelerator "
                                 "(KVM)"},
    {AUT_FAIL_BOOT, NULL, "the kernel did not reach its prompt: read the console log; try the "
                          "rule-engine kernel to tell the model from the kernel"},
    {AUT_FAIL_INFERENCE, "coherent", "the output is gibberish: check the tokenizer and the "
                                     "training (a random-weight or undertrained model)"},
    {AUT_FAIL_INFERENCE, "accurate", "the answers are wrong: train longer or on the knowledge "
                                     "base (tools/train), or try a more precise quantization "
                                     "(Q8_0 instead of Q4_0)"},
    {AUT_FAIL_INFERENCE, "latency", "too slow: use a stronger quantization (Q4_0) or a smaller "
                                    "model, or run under KVM"},
    {AUT_FAIL_INFERENCE, "pool_peak", "over memory: a smaller model or a shorter context"},
    {AUT_FAIL_INFERENCE, NULL, "inference failed: read the console log and the prompt results"},
    {AUT_FAIL_REGRESSION, "selftest", "a kernel selftest failed with the model embedded: read "
                                      "its detail in the report"},
    {AUT_FAIL_REGRESSION, NULL, "the model slows the boot down: a smaller model"},
    {AUT_FAIL_INFRASTRUCTURE, NULL, "an infrastructure problem (QEMU, KVM, disk): retry; it is "
                                    "not the model's fault"},
    {AUT_FAIL_CANCELED, NULL, "the job was canceled; submit it again to finish it"},
    {AUT_FAIL_INTERNAL, NULL, "a bug in the integrator: report it with this report attached"},
};

void aut_review(const struct aut_job *job, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *r = &rules[i];
        if (r->cls != job->fail_class)
            continue;
        if (r->needle && !strstr(job->fail_msg, r->needle))
            continue;
        snprintf(buf, len, "%s", r->advice);
        return;
    }
}
