/*  pdc_log: timestamped, levelled lines on stderr. */
#include "pdc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_program[32] = "pdc";
static pdc_log_level s_level = PDC_LOG_WARN;

void pdc_log_init(const char *program, pdc_log_level default_level) {
    snprintf(s_program, sizeof s_program, "%s", program);
    s_level = default_level;
    const char *env = getenv("PDC_LOG_LEVEL");
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; env && i < 4; i++)
        if (!strcasecmp(env, names[i]))
            s_level = (pdc_log_level) i;
}

int pdc_log_enabled(pdc_log_level level) {
    return level <= s_level;
}

void pdc_log(pdc_log_level level, const char *fmt, ...) {
    if (level > s_level)
        return;
    static const char *tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03d %s[%d] %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int) (tv.tv_usec / 1000), s_program, (int) getpid(), tags[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t) n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    if (n >= (int) sizeof line - 1)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t) n, stderr); /* one write: lines do not interleave */
    fflush(stderr);
}
