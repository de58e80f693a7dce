/*  pdc_job: job ids, tags and states (see the header). */
#include "pdc_job.h"

#include "pdc_proto.h"

#include <signal.h>
#include <time.h>

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

void pdc_job_row_read(const void *tuple, pdc_job_row_t *out) {
    const msgpack_object *row = tuple;
    memset(out, 0, sizeof *out);
    pdc_f_cstr(pdc_f_at(row, PDC_JOB_ROW_ID), out->id, sizeof out->id);
    pdc_f_cstr(pdc_f_at(row, PDC_JOB_ROW_COMMAND), out->command, sizeof out->command);
    out->state = (pdc_job_state) pdc_f_u(pdc_f_at(row, PDC_JOB_ROW_STATE));
    pdc_f_cstr(pdc_f_at(row, PDC_JOB_ROW_NODE), out->node, sizeof out->node);
    out->submitted_ms = pdc_f_u(pdc_f_at(row, PDC_JOB_ROW_SUBMITTED_MS));
    out->start_ms = pdc_f_u(pdc_f_at(row, PDC_JOB_ROW_START_MS));
    out->end_ms = pdc_f_u(pdc_f_at(row, PDC_JOB_ROW_END_MS));
    out->status = pdc_f_i(pdc_f_at(row, PDC_JOB_ROW_EXIT_STATUS));
    pdc_f_cstr(pdc_f_at(row, PDC_JOB_ROW_MESSAGE), out->message, sizeof out->message);
    out->pid = pdc_f_u(pdc_f_at(row, PDC_JOB_ROW_DRIVER_PID));
}

int pdc_job_exit_code(const pdc_job_row_t *row) {
    if (row->state == PDC_JOB_SUCCEEDED)
        return 0;
    if (row->status > 0)
        return row->status > 255 ? 255 : (int) row->status;
    if (row->status < 0)
        return 128 + (int) (-row->status & 127);
    return 1;
}

/* A wall-clock time in ms as local "YYYY-MM-DD HH:MM:SS", or "-". */
static const char *s_when(uint64_t ms, char *buf, size_t len) {
    if (!ms)
        return "-";
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* The exit status as people read it: "0", "3", "SIGKILL", or "-". */
static const char *s_status(const pdc_job_row_t *row, char *buf, size_t len) {
    if (!pdc_job_state_ended(row->state) || (row->status == 0 && row->state != PDC_JOB_SUCCEEDED))
        return "-";
    if (row->status < 0)
        snprintf(buf, len, "signal %lld", (long long) -row->status);
    else
        snprintf(buf, len, "%lld", (long long) row->status);
    return buf;
}

void pdc_job_rows_print(FILE *out, const pdc_job_row_t *rows, int n) {
    fprintf(out, "%-24s %-9s %-14s %-19s %-19s %-9s %s\n", "JOB", "STATE", "NODE", "START", "END",
            "EXIT", "COMMAND");
    for (int i = 0; i < n; i++) {
        char a[32], b[32], c[32];
        const pdc_job_row_t *r = &rows[i];
        fprintf(out, "%-24s %-9s %-14s %-19s %-19s %-9s %s\n", r->id, pdc_job_state_name(r->state),
                *r->node ? r->node : "-", s_when(r->start_ms, a, sizeof a),
                s_when(r->end_ms, b, sizeof b), s_status(r, c, sizeof c), r->command);
    }
}

void pdc_job_row_print(FILE *out, const pdc_job_row_t *r) {
    char a[32], b[32], c[32], d[32];
    fprintf(out,
            "job:       %s\nstate:     %s\ncommand:   %s\nnode:      %s\nsubmitted: %s\n"
            "started:   %s\nended:     %s\nexit:      %s\n",
            r->id, pdc_job_state_name(r->state), r->command, *r->node ? r->node : "-",
            s_when(r->submitted_ms, a, sizeof a), s_when(r->start_ms, b, sizeof b),
            s_when(r->end_ms, c, sizeof c), s_status(r, d, sizeof d));
    if (r->pid)
        fprintf(out, "driver:    pid %llu\n", (unsigned long long) r->pid);
    if (*r->message)
        fprintf(out, "message:   %s\n", r->message);
}

void pdc_job_words_free(char **words) {
    for (size_t i = 0; words && words[i]; i++)
        free(words[i]);
    free(words);
}

char **pdc_job_words_copy(const void *object) {
    const msgpack_object *list = object;
    uint32_t n = pdc_f_count(list);
    char **words = calloc(n + 1, sizeof *words);
    for (uint32_t i = 0; words && i < n; i++) {
        size_t len;
        const char *text = pdc_f_str(pdc_f_at(list, i), &len);
        if (!(words[i] = strndup(text, len))) {
            pdc_job_words_free(words);
            return NULL;
        }
    }
    return words;
}
