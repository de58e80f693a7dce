/*  pdc_log: the one logging module.  Lines go to stderr (a daemon's stderr
    is its log file in the session directory) as
        2026-11-24T06:40:01.123 pdc-raylet[4242] WARN  message
    The level comes from PDC_LOG_LEVEL (error, warn, info, debug; default
    info for daemons, warn for libpdc in user programs). */
#ifndef PDC_LOG_H_INCLUDED
#define PDC_LOG_H_INCLUDED

typedef enum { PDC_LOG_ERROR, PDC_LOG_WARN, PDC_LOG_INFO, PDC_LOG_DEBUG } pdc_log_level;

/* Set the program name and default level (PDC_LOG_LEVEL overrides). */
void pdc_log_init(const char *program, pdc_log_level default_level);
int pdc_log_enabled(pdc_log_level level);
void pdc_log(pdc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pdc_error(...) pdc_log(PDC_LOG_ERROR, __VA_ARGS__)
#define pdc_warn(...)  pdc_log(PDC_LOG_WARN, __VA_ARGS__)
#define pdc_info(...)  pdc_log(PDC_LOG_INFO, __VA_ARGS__)
#define pdc_debug(...)                                                                             \
    (pdc_log_enabled(PDC_LOG_DEBUG) ? pdc_log(PDC_LOG_DEBUG, __VA_ARGS__) : (void) 0)

#endif
