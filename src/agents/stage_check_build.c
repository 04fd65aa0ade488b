/*
 * stage_check_build.c - check-build: the kernel with the model is the
 * rule-engine kernel of the same commit plus the model (its size grows by the
 * model's size, within the tolerance, allowing for the section's 4 KiB
 * alignment padding), it has the three slm_model_* symbols and the
 * .slm_model section (read with libelf), and the build printed no warning.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elfcheck.h"
#include "fsutil.h"
#include "pipeline.h"

#define ALIGN_SLACK (2 * 4096) /* padding before and after a 4 KiB-aligned section */

/* Lines of the build log with a warning (the compiler's or the linker's). */
static unsigned count_warnings(struct aut_job *job, cJSON *list)
{
    char *text = NULL;
    size_t len = 0;
    unsigned n = 0;
    if (aut_read_file(job->build_log, 64u << 20, &text, &len, NULL, 0))
        return 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (!strstr(l, "warning:") && !strstr(l, "Warning:"))
            continue;
        if (n++ < 20)
            cJSON_AddItemToArray(list, cJSON_CreateString(l));
    }
    free(text);
    return n;
}

static cJSON *sym_json(const struct aut_elf_sym *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "present", s->present);
    if (s->present) {
        cJSON_AddNumberToObject(o, "value", (double)s->value);
        cJSON_AddStringToObject(o, "section", s->section);
    }
    return o;
}

static int inspect(struct aut_job *job, const char *path, struct aut_elf_info *info)
{
    char err[512];
    if (aut_elf_inspect(path, info, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_BUILD, "%s", err);
    if (!info->elf64_x86_64)
        return aut_job_fail(job, AUT_FAIL_BUILD, "%s: not an x86_64 ELF64 executable", path);
    return 0;
}

static int check_build_run(struct aut_job *job)
{
    struct aut_elf_info k, r;
    if (inspect(job, job->kernel, &k) || inspect(job, job->kernel_rule, &r))
        return -1;
    cJSON *b = aut_job_section(job, "build");
    double growth = (double)k.file_size - (double)r.file_size;
    double model = (double)job->model.bytes;
    double tol = model * job->cfg->size_tolerance_pct / 100.0 + ALIGN_SLACK;
    cJSON_AddNumberToObject(b, "kernel_bytes", (double)k.file_size);
    cJSON_AddNumberToObject(b, "rule_kernel_bytes", (double)r.file_size);
    cJSON_AddNumberToObject(b, "growth_bytes", growth);
    cJSON_AddNumberToObject(b, "model_bytes", model);
    cJSON_AddNumberToObject(b, "model_section_bytes", (double)k.model_section_size);
    cJSON_AddNumberToObject(b, "model_section_align", (double)k.model_section_align);
    cJSON *syms = cJSON_AddObjectToObject(b, "symbols");
    cJSON_AddItemToObject(syms, "slm_model_start", sym_json(&k.model_start));
    cJSON_AddItemToObject(syms, "slm_model_end", sym_json(&k.model_end));
    cJSON_AddItemToObject(syms, "slm_model_size", sym_json(&k.model_size));
    cJSON *warn = cJSON_AddArrayToObject(b, "warnings");
    unsigned nwarn = count_warnings(job, warn);
    cJSON_AddStringToObject(b, "log", job->build_log);

    if (!k.model_start.present || !k.model_end.present || !k.model_size.present)
        return aut_job_fail(job, AUT_FAIL_BUILD, "kernel.elf lacks %s",
                            !k.model_start.present ? "slm_model_start"
                            : !k.model_end.present ? "slm_model_end"
                                                   : "slm_model_size");
    if (!k.has_model_section || k.model_section_size != job->model.bytes)
        return aut_job_fail(job, AUT_FAIL_BUILD,
                            "kernel.elf's .slm_model section holds %llu bytes, the model %llu",
                            (unsigned long long)k.model_section_size,
                            (unsigned long long)job->model.bytes);
    if (fabs(growth - model) > tol)
        return aut_job_fail(job, AUT_FAIL_BUILD,
                            "kernel.elf grew by %.0f bytes over the rule-engine kernel; the "
                            "model has %.0f (tolerance %.0f%% + %d bytes of alignment)",
                            growth, model, job->cfg->size_tolerance_pct, ALIGN_SLACK);
    if (nwarn)
        return aut_job_fail(job, AUT_FAIL_BUILD, "the build printed %u warning%s, e.g. %s", nwarn,
                            nwarn == 1 ? "" : "s",
                            cJSON_GetArrayItem(warn, 0)->valuestring);
    aut_job_log(job, "kernel.elf %llu bytes = rule engine %llu + %.0f (model %.0f); symbols and "
                "section present; no warnings",
                (unsigned long long)k.file_size, (unsigned long long)r.file_size, growth, model);
    return 0;
}

const struct aut_stage aut_stage_check_build = {.name = "check-build", .run = check_build_run};
