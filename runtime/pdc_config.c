/*  pdc_config: load, set and print the settings declared in pdc_config.h. */
#include "pdc_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Parse an integer with an optional K/M/G suffix (powers of 1024). */
static int s_parse(const char *text, int64_t *out) {
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text) return -1;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024LL * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end) return -1;
    *out = v;
    return 0;
}

int pdc_config_load(pdc_config_t *cfg) {
    const char *text;
#define PDC_X_LOAD(field, env, def, help)                                    \
    cfg->field = (def);                                                      \
    if ((text = getenv(env)) && *text && s_parse(text, &cfg->field)) {       \
        fprintf(stderr, "pdc: %s=%s is not an integer\n", env, text);        \
        return -1;                                                           \
    }
    PDC_SETTINGS(PDC_X_LOAD)
#undef PDC_X_LOAD
    return 0;
}

int pdc_config_set(pdc_config_t *cfg, const char *assignment, char *err,
                   size_t errlen) {
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        snprintf(err, errlen, "'%s' is not NAME=VALUE", assignment);
        return -1;
    }
    size_t n = (size_t) (eq - assignment);
#define PDC_X_SET(field, env, def, help)                                     \
    if (n == strlen(#field) && !strncmp(assignment, #field, n)) {            \
        if (s_parse(eq + 1, &cfg->field)) {                                  \
            snprintf(err, errlen, "%s: '%s' is not an integer", #field,      \
                     eq + 1);                                                \
            return -1;                                                       \
        }                                                                    \
        return 0;                                                            \
    }
    PDC_SETTINGS(PDC_X_SET)
#undef PDC_X_SET
    snprintf(err, errlen, "unknown setting '%.*s' (see --print-config)",
             (int) n, assignment);
    return -1;
}

void pdc_config_print(const pdc_config_t *cfg, FILE *out) {
#define PDC_X_PRINT(field, env, def, help)                                   \
    fprintf(out, "%-22s %14lld  %-26s %s\n", #field,                         \
            (long long) cfg->field, env, help);
    PDC_SETTINGS(PDC_X_PRINT)
#undef PDC_X_PRINT
}
