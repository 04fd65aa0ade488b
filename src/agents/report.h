/*
 * report.h - integration_test_report.json (schemas/report.schema.json) and its
 * JUnit XML twin. The report is a cJSON tree the stages fill in as they run;
 * this module owns its skeleton, its final fields and writing it out.
 */
#ifndef AUTON_AGENTS_REPORT_H
#define AUTON_AGENTS_REPORT_H

#include <cjson/cJSON.h>

#include "job.h"

#define AUT_REPORT_NAME "integration_test_report.json"
#define AUT_REPORT_JUNIT "integration_test_report.xml"
#define AUT_REPORT_SCHEMA "auton-integration-report/1"

/* The skeleton: schema, job id, created, architecture, host, options, empty
 * stages/attempts/prompts/checks/notes. NULL when out of memory. */
cJSON *aut_report_new(const struct aut_job *job);
/* obj[key] = the time t (seconds since the epoch) as RFC 3339 UTC with ms. */
void aut_report_time(cJSON *obj, const char *key, double t);
/* Adds a line to the report's notes. */
void aut_report_note(struct aut_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the measurements of a failed attempt (model, build, boot, prompts,
 * checks, regress) before the next one; stages and attempts stay. */
void aut_report_reset_results(struct aut_job *job);
/* "committed", "rolled_back" or "unchanged". */
const char *aut_report_decision(const struct aut_job *job);
/* Fills the result, model, workspace and reproducer fields from the job. */
void aut_report_fill(struct aut_job *job);
/* Writes the report to path atomically. Returns 0 or -1 with err. */
int aut_report_write(const cJSON *report, const char *path, char *err, size_t errlen);
/* Writes the JUnit XML twin of report to path. Returns 0 or -1 with err. */
int aut_report_write_junit(const cJSON *report, const char *path, char *err, size_t errlen);
/* The end of every job: fills the final fields, writes the report and its
 * JUnit twin into the job's report directory, and prunes old report
 * directories beyond the configured count. */
void aut_report_finish(struct aut_job *job);

#endif
