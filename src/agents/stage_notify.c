/*
 * stage_notify.c - notify: tell the ManagerAgent how the job ended. Under
 * autond the daemon delivers the signed webhook itself once the job is over
 * (src/orchestrator/webhook.c: retried, recorded in the job store); this
 * stage records in the report where it goes. autonctl --local sends nothing.
 */
#include "pipeline.h"

static int notify_run(struct aut_job *job)
{
    cJSON *n = aut_job_section(job, "notify");
    const char *url = job->cfg->notify_url;
    if (url[0])
        cJSON_AddStringToObject(n, "manager", url);
    else
        cJSON_AddNullToObject(n, "manager");
    cJSON_AddBoolToObject(n, "sent", false);
    if (!url[0]) {
        cJSON_AddStringToObject(n, "note", "no manager configured");
        aut_job_log(job, "no manager configured: nothing sent");
    } else if (job->notify_deferred) {
        cJSON_AddStringToObject(n, "note",
                                "delivered by autond after the job (see the job's "
                                "deliveries: GET /v1/integrations/<id>)");
        aut_job_log(job, "autond will deliver the job's end to %s", url);
    } else {
        cJSON_AddStringToObject(n, "note",
                                "webhooks are delivered by autond; autonctl --local "
                                "sends none");
        aut_job_log(job, "run without autond: nothing sent to %s", url);
    }
    return 0;
}

const struct aut_stage aut_stage_notify = {.name = "notify", .run = notify_run};
