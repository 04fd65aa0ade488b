/*
 * stage_notify.c - notify: tell the ManagerAgent how the job ended. Webhooks
 * come with the daemon (autond); until a manager URL is configured this
 * records, in the report, that there was nobody to tell.
 */
#include "pipeline.h"

static int notify_run(struct aut_job *job)
{
    cJSON *n = aut_job_section(job, "notify");
    cJSON_AddNullToObject(n, "manager");
    cJSON_AddBoolToObject(n, "sent", false);
    cJSON_AddStringToObject(n, "note", "no manager configured");
    aut_job_log(job, "no manager configured: nothing sent");
    return 0;
}

const struct aut_stage aut_stage_notify = {.name = "notify", .run = notify_run};
