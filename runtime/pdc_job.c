/*  pdc_job: job ids, tags and states (see the header). */
#include "pdc_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

extern char **environ;

const char *pdc_job_state_name(pdc_job_state state) {
    static const char *names[] = {"PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED"};
    return (unsigned) state < sizeof names / sizeof *names ? names[state] : "?";
}

int pdc_job_state_ended(pdc_job_state state) {
    return state == PDC_JOB_SUCCEEDED || state == PDC_JOB_FAILED || state == PDC_JOB_STOPPED;
}

int pdc_job_id_check(const char *text, char *why, size_t len) {
    size_t n = strlen(text);
    if (n == 0 || n >= PDC_JOB_ID_MAX) {
        snprintf(why, len, "a job id has 1 to %d characters, not %zu", PDC_JOB_ID_MAX - 1, n);
        return -1;
    }
    if (text[0] == '.' || text[0] == '-') {
        snprintf(why, len, "a job id may not start with '%c': '%s'", text[0], text);
        return -1;
    }
    size_t ok = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
    if (ok != n) {
        snprintf(why, len, "a job id is letters, digits, '_', '.' and '-': '%s' has '%c'", text,
                 text[ok]);
        return -1;
    }
    return 0;
}

void pdc_job_tag(const char *job_id, uint8_t tag[PDC_JOB_TAG_LEN]) {
    uint64_t h = XXH3_64bits(job_id, strlen(job_id));
    for (int i = 0; i < PDC_JOB_TAG_LEN; i++)
        tag[i] = (uint8_t) (h >> (56 - 8 * i));
}

const char *pdc_job_current(void) {
    const char *job = getenv(PDC_JOB_ENV);
    char why[128];
    return job && !pdc_job_id_check(job, why, sizeof why) ? job : "";
}

/* Whether a and b ("NAME=..." both) set the same variable. */
static int s_same_name(const char *a, const char *b) {
    size_t n = strcspn(a, "=");
    return !strncmp(a, b, n) && b[n] == '=';
}

char **pdc_job_environ_list(char *const *extra) {
    size_t have = 0, more = 0;
    while (environ[have])
        have++;
    while (extra[more])
        more++;
    char **env = malloc((have + more + 1) * sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < have; i++) {
        size_t k = 0;
        while (k < more && !s_same_name(extra[k], environ[i]))
            k++;
        if (k == more)
            env[n++] = environ[i];
    }
    for (size_t k = 0; k < more; k++)
        env[n++] = extra[k];
    env[n] = NULL;
    return env;
}

char **pdc_job_environ(char *var) {
    char *extra[] = {var, NULL};
    return pdc_job_environ_list(extra);
}
