/*
 * format.c - the small helpers of autonctl's tables: fields of a JSON answer
 * that may be missing or null (autond's jobs have many nullable fields), and
 * times and durations in a few characters.
 */
#include <stdio.h>
#include <time.h>

#include "cli.h"

const char *aut_cli_jstr(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : dflt;
}

double aut_cli_jnum(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

const char *aut_cli_duration(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 1e9) { /* also NaN */
        snprintf(buf, len, "-");
        return buf;
    }
    unsigned long t = (unsigned long)s;
    if (s < 1)
        snprintf(buf, len, "%.0fms", s * 1000);
    else if (t < 60)
        snprintf(buf, len, "%.1fs", s);
    else if (t < 3600)
        snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%lud%02luh", t / 86400, t / 3600 % 24);
    return buf;
}

const char *aut_cli_time(double t, char *buf, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    if (!(t > 0) || !localtime_r(&secs, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "-");
    return buf;
}

double aut_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
