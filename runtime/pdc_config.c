/*  pdc_config: load, set, check and print the settings declared in
    pdc_config.h.

    PDC_SETTINGS expands into a table of pdc_setting_t (name,
    variable, default, range, help, and where the field sits in
    pdc_config_t); everything below walks that table.  A value is parsed
    (an integer, K/M/G/T suffix, no overflow, nothing after it) and then
    checked against its range in one place, s_accept, for both ways in:
    the environment and --set.  The two differ only in how the error
    names what was given ("PDC_X=V" or "x=V").
*/
#include "pdc_config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Every default in its range, checked at compile time. */
#define PDC_X_CHECK(field, env, def, min, max, help)                                               \
    _Static_assert((min) <= (def) && (def) <= (max),                                               \
                   "the default of " #field " is outside its range");
PDC_SETTINGS(PDC_X_CHECK)
#undef PDC_X_CHECK

static const pdc_setting_t s_settings[] = {
#define PDC_X_ROW(field, env, def, min, max, help)                                                 \
    {#field, env, help, (def), (min), (max), offsetof(pdc_config_t, field)},
    PDC_SETTINGS(PDC_X_ROW)
#undef PDC_X_ROW
};
#define S_COUNT (sizeof s_settings / sizeof *s_settings)

const pdc_setting_t *pdc_config_setting(size_t i) {
    return i < S_COUNT ? &s_settings[i] : NULL;
}

static int64_t *s_field(pdc_config_t *cfg, const pdc_setting_t *s) {
    return (int64_t *) ((char *) cfg + s->offset);
}
static int64_t s_value(const pdc_config_t *cfg, const pdc_setting_t *s) {
    return *(const int64_t *) ((const char *) cfg + s->offset);
}

/* The suffixes a value may carry, largest first. */
static const struct {
    char letter;
    int64_t unit;
} s_units[] = {{'T', PDC_TIB}, {'G', PDC_GIB}, {'M', PDC_MIB}, {'K', PDC_KIB}};
#define S_NUNITS (sizeof s_units / sizeof *s_units)

typedef enum { S_PARSED, S_NOT_INTEGER, S_TOO_LARGE } s_parse_t;

/* Parse an integer with an optional K/M/G/T suffix (powers of 1024) and
   nothing after it. */
static s_parse_t s_parse(const char *text, int64_t *out) {
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text)
        return S_NOT_INTEGER;
    if (errno == ERANGE)
        return S_TOO_LARGE;
    int64_t unit = 1;
    for (size_t u = 0; u < S_NUNITS && *end; u++)
        if (tolower((unsigned char) *end) == tolower((unsigned char) s_units[u].letter)) {
            unit = s_units[u].unit;
            end++;
            break;
        }
    if (*end)
        return S_NOT_INTEGER;
    if (v > INT64_MAX / unit || v < INT64_MIN / unit)
        return S_TOO_LARGE;
    *out = (int64_t) v * unit;
    return S_PARSED;
}

/* Format v as s_parse reads it, with the largest suffix that divides it
   exactly, from M up (1048576 is "1M"; 1000 and 1536 stay digits, so
   times read as numbers). */
static const char *s_format(int64_t v, char *buf, size_t len) {
    for (size_t u = 0; u < S_NUNITS && v; u++)
        if (s_units[u].unit >= PDC_MIB && v % s_units[u].unit == 0) {
            snprintf(buf, len, "%lld%c", (long long) (v / s_units[u].unit), s_units[u].letter);
            return buf;
        }
    snprintf(buf, len, "%lld", (long long) v);
    return buf;
}

/* "min..max" of s. */
static const char *s_range(const pdc_setting_t *s, char *buf, size_t len) {
    char lo[24], hi[24];
    snprintf(buf, len, "%s..%s", s_format(s->min, lo, sizeof lo), s_format(s->max, hi, sizeof hi));
    return buf;
}

/* Parse text for setting s into *value, or say in err why not; given is
   how the caller names what it was given ("PDC_X" or "x"), where is how
   it names the setting ("x" or "x (PDC_X)"). */
static int s_accept(const pdc_setting_t *s, const char *given, const char *where, const char *text,
                    int64_t *value, char *err, size_t errlen) {
    int64_t v = 0;
    s_parse_t parsed = s_parse(text, &v);
    char range[56];
    s_range(s, range, sizeof range);
    if (parsed == S_NOT_INTEGER) {
        snprintf(err, errlen,
                 "%s=%s is not an integer: %s takes a whole number (K, M, G or T may "
                 "follow) in %s",
                 given, text, where, range);
        return -1;
    }
    if (parsed == S_TOO_LARGE || v < s->min || v > s->max) {
        snprintf(err, errlen, "%s=%s is out of range: %s must be %s", given, text, where, range);
        return -1;
    }
    *value = v;
    return 0;
}

int pdc_config_read_env(pdc_config_t *cfg, char *err, size_t errlen) {
    for (size_t i = 0; i < S_COUNT; i++)
        *s_field(cfg, &s_settings[i]) = s_settings[i].def;
    for (size_t i = 0; i < S_COUNT; i++) {
        const pdc_setting_t *s = &s_settings[i];
        const char *text = getenv(s->env);
        if (text && *text && s_accept(s, s->env, s->name, text, s_field(cfg, s), err, errlen))
            return -1;
    }
    return 0;
}

int pdc_config_load(pdc_config_t *cfg) {
    char err[256];
    if (pdc_config_read_env(cfg, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "pdc: %s\n", err);
    return -1;
}

int pdc_config_set(pdc_config_t *cfg, const char *assignment, char *err, size_t errlen) {
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        snprintf(err, errlen, "'%s' is not NAME=VALUE", assignment);
        return -1;
    }
    size_t n = (size_t) (eq - assignment);
    for (size_t i = 0; i < S_COUNT; i++) {
        const pdc_setting_t *s = &s_settings[i];
        if (n != strlen(s->name) || strncmp(assignment, s->name, n))
            continue;
        char where[96];
        snprintf(where, sizeof where, "%s (%s)", s->name, s->env);
        return s_accept(s, s->name, where, eq + 1, s_field(cfg, s), err, errlen);
    }
    snprintf(err, errlen, "unknown setting '%.*s' (see --print-config)", (int) n, assignment);
    return -1;
}

void pdc_config_print(const pdc_config_t *cfg, FILE *out) {
    fprintf(out, "%-26s %10s  %-12s  %-30s %s\n", "setting (--set NAME=VALUE)", "value", "range",
            "environment variable", "meaning");
    for (size_t i = 0; i < S_COUNT; i++) {
        const pdc_setting_t *s = &s_settings[i];
        char value[24], range[56];
        fprintf(out, "%-26s %10s  %-12s  %-30s %s\n", s->name,
                s_format(s_value(cfg, s), value, sizeof value), s_range(s, range, sizeof range),
                s->env, s->help);
    }
}
