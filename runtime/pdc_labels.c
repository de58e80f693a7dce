/*  pdc_labels: node labels and label selectors (see pdc_labels.h).

    Both parsers split the text into entries at the commas that are not
    inside parentheses, trim each entry and read it with a cursor
    (s_parse_t) that knows the whole text and the entry, so that every
    refusal names both: "selector 'a=1,b in (x,y)': 'b in (x,y)': values
    in (...) are separated by '|', not ','". */
#include "pdc_labels.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *kind;     /* "labels" or "selector" */
    const char *text;     /* all of it, for messages */
    const char *at, *end; /* the entry being read, trimmed */
    const char *p;        /* the cursor, in [at, end] */
    char *err;
    size_t errlen;
} s_parse_t;

static int s_fail(s_parse_t *ps, const char *fmt, ...) {
    if (!ps->err || !ps->errlen)
        return -1;
    int n = snprintf(ps->err, ps->errlen, "%s '%s': ", ps->kind, ps->text);
    if (ps->at < ps->end && n >= 0 && (size_t) n < ps->errlen)
        n += snprintf(ps->err + n, ps->errlen - (size_t) n, "'%.*s': ", (int) (ps->end - ps->at),
                      ps->at);
    if (n < 0 || (size_t) n >= ps->errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t) n, fmt, ap);
    va_end(ap);
    return -1;
}

static int s_label_char(char c) {
    return c && (isalnum((unsigned char) c) || strchr("_-./", c));
}

static void s_space(s_parse_t *ps) {
    while (ps->p < ps->end && isspace((unsigned char) *ps->p))
        ps->p++;
}

/* Refuse the character at the cursor, which should not be there. */
static int s_bad_char(s_parse_t *ps, const char *where) {
    unsigned char c = (unsigned char) *ps->p;
    if (isprint(c))
        return s_fail(ps, "bad character '%c' in %s (use letters, digits, '_', '-', '.', '/')", c,
                      where);
    return s_fail(ps, "bad character 0x%02x in %s", c, where);
}

/* Read a key or value (what) at the cursor into out.  An empty word is
   refused as "empty WHAT", unless a character that can never start a
   word is in the way, which is refused as a bad character. */
static int s_word(s_parse_t *ps, char out[PDC_LABEL_LEN], const char *what) {
    size_t n = 0;
    while (ps->p < ps->end && s_label_char(*ps->p)) {
        if (n == PDC_LABEL_MAX)
            return s_fail(ps, "%s longer than %d characters", what, PDC_LABEL_MAX);
        out[n++] = *ps->p++;
    }
    out[n] = '\0';
    if (n)
        return 0;
    if (ps->p < ps->end && !isspace((unsigned char) *ps->p) && !strchr("=!()|,", *ps->p))
        return s_bad_char(ps, what);
    return s_fail(ps, "empty %s", what);
}

/* The end of the entry that starts at p: the next ',' outside
   parentheses, or the end of the text. */
static const char *s_entry_end(const char *p) {
    int depth = 0;
    for (; *p && !(*p == ',' && !depth); p++) {
        if (*p == '(')
            depth++;
        if (*p == ')' && depth)
            depth--;
    }
    return p;
}

/* Call read_entry for each trimmed entry of text; -1 at the first that
   fails.  NULL or blank text has no entries; any other text has one
   more entry than it has commas, so a stray ',' gives an empty entry,
   which is refused. */
static int s_each_entry(s_parse_t *ps, void *out, int (*read_entry)(s_parse_t *, void *)) {
    const char *p = ps->text;
    if (!p)
        return 0;
    while (isspace((unsigned char) *p))
        p++;
    if (!*p)
        return 0;
    p = ps->text;
    for (;;) {
        const char *end = s_entry_end(p);
        ps->at = p;
        ps->end = end;
        while (ps->at < end && isspace((unsigned char) *ps->at))
            ps->at++;
        while (ps->end > ps->at && isspace((unsigned char) ps->end[-1]))
            ps->end--;
        ps->p = ps->at;
        if (ps->at == ps->end)
            return s_fail(ps, "empty entry (a stray ',')");
        if (read_entry(ps, out) < 0)
            return -1;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

/* ---- Labels ------------------------------------------------------------- */

static int s_read_label(s_parse_t *ps, void *arg) {
    pdc_labels_t *out = arg;
    char key[PDC_LABEL_LEN], value[PDC_LABEL_LEN];
    if (s_word(ps, key, "key") < 0)
        return -1;
    const char *after = ps->p;
    s_space(ps);
    if (ps->p == ps->end)
        return s_fail(ps, "no '=' (a label is KEY=VALUE)");
    if (*ps->p != '=') {
        ps->p = after;
        return s_bad_char(ps, "key");
    }
    ps->p++;
    s_space(ps);
    if (s_word(ps, value, "value") < 0)
        return -1;
    if (ps->p < ps->end)
        return s_bad_char(ps, "value");
    if (pdc_labels_get(out, key))
        return s_fail(ps, "duplicate key '%s'", key);
    if (out->n == PDC_MAX_LABELS)
        return s_fail(ps, "more than %d labels", PDC_MAX_LABELS);
    memcpy(out->key[out->n], key, sizeof key);
    memcpy(out->value[out->n], value, sizeof value);
    out->n++;
    return 0;
}

int pdc_labels_parse(const char *text, pdc_labels_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    s_parse_t ps = {.kind = "labels", .text = text, .err = err, .errlen = errlen};
    if (s_each_entry(&ps, out, s_read_label) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}

const char *pdc_labels_get(const pdc_labels_t *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->key[i], key))
            return l->value[i];
    return NULL;
}

static int s_by_key(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

const char *pdc_labels_format(const pdc_labels_t *l, char *buf, size_t len) {
    if (!len)
        return buf;
    const char *keys[PDC_MAX_LABELS];
    for (int i = 0; i < l->n; i++)
        keys[i] = l->key[i];
    qsort(keys, (size_t) l->n, sizeof keys[0], s_by_key);
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->n && at < len; i++)
        at += (size_t) snprintf(buf + at, len - at, "%s%s=%s", i ? "," : "", keys[i],
                                pdc_labels_get(l, keys[i]));
    return buf;
}

/* ---- Selectors ---------------------------------------------------------- */

/* Whether the entry goes on with s at the cursor. */
static int s_at(const s_parse_t *ps, const char *s) {
    size_t n = strlen(s);
    return (size_t) (ps->end - ps->p) >= n && !strncmp(ps->p, s, n);
}

/* Whether the cursor is at the word "in", followed by a space or '('. */
static int s_at_in(const s_parse_t *ps) {
    return s_at(ps, "in") &&
           (ps->p + 2 == ps->end || isspace((unsigned char) ps->p[2]) || ps->p[2] == '(');
}

/* "(a|b|c)", the cursor just past "in". */
static int s_read_values(s_parse_t *ps, pdc_selector_term_t *t) {
    s_space(ps);
    if (ps->p == ps->end || *ps->p != '(')
        return s_fail(ps, "'in' needs a list of values: %s in (a|b)", t->key);
    ps->p++;
    for (;;) {
        s_space(ps);
        if (t->nvalues == PDC_MAX_SELECTOR_VALUES)
            return s_fail(ps, "more than %d values in (...)", PDC_MAX_SELECTOR_VALUES);
        if (s_word(ps, t->value[t->nvalues], "value") < 0)
            return -1;
        t->nvalues++;
        s_space(ps);
        if (ps->p == ps->end)
            return s_fail(ps, "missing ')'");
        if (*ps->p == ')')
            break;
        if (*ps->p == ',')
            return s_fail(ps, "values in (...) are separated by '|', not ','");
        if (*ps->p != '|')
            return s_bad_char(ps, "value");
        ps->p++;
    }
    ps->p++;
    s_space(ps);
    if (ps->p < ps->end)
        return s_fail(ps, "unexpected '%.*s' after ')'", (int) (ps->end - ps->p), ps->p);
    return 0;
}

static int s_read_term(s_parse_t *ps, void *arg) {
    pdc_selector_t *out = arg;
    if (out->n == PDC_MAX_SELECTOR_TERMS)
        return s_fail(ps, "more than %d terms", PDC_MAX_SELECTOR_TERMS);
    pdc_selector_term_t *t = &out->term[out->n];
    memset(t, 0, sizeof *t);
    if (*ps->p == '!') {
        ps->p++;
        s_space(ps);
        t->op = PDC_SEL_ABSENT;
        if (s_word(ps, t->key, "key") < 0)
            return -1;
        s_space(ps);
        if (ps->p < ps->end)
            return s_fail(ps, "'!%s' takes no value (for \"not equal\" write %s!=VALUE)", t->key,
                          t->key);
        out->n++;
        return 0;
    }
    if (s_word(ps, t->key, "key") < 0)
        return -1;
    const char *after = ps->p;
    s_space(ps);
    if (ps->p == ps->end) {
        t->op = PDC_SEL_PRESENT;
    } else if (*ps->p == '=' || s_at(ps, "!=")) {
        t->op = *ps->p == '=' ? PDC_SEL_EQ : PDC_SEL_NE;
        ps->p += t->op == PDC_SEL_NE || s_at(ps, "==") ? 2 : 1;
        s_space(ps);
        if (s_word(ps, t->value[0], "value") < 0)
            return -1;
        t->nvalues = 1;
        if (ps->p < ps->end)
            return s_bad_char(ps, "value");
    } else if (after < ps->p && s_at_in(ps)) {
        t->op = PDC_SEL_IN;
        ps->p += 2;
        if (s_read_values(ps, t) < 0)
            return -1;
    } else if (after == ps->p) {
        return s_bad_char(ps, "key");
    } else {
        return s_fail(ps, "expected =, != or in (...) after '%s'", t->key);
    }
    out->n++;
    return 0;
}

int pdc_selector_parse(const char *text, pdc_selector_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    s_parse_t ps = {.kind = "selector", .text = text, .err = err, .errlen = errlen};
    if (s_each_entry(&ps, out, s_read_term) == 0)
        return 0;
    memset(out, 0, sizeof *out);
    return -1;
}

static int s_term_holds(const pdc_selector_term_t *t, const char *value) {
    switch (t->op) {
    case PDC_SEL_EQ:
        return value && !strcmp(value, t->value[0]);
    case PDC_SEL_NE:
        return !value || strcmp(value, t->value[0]);
    case PDC_SEL_IN:
        for (int i = 0; value && i < t->nvalues; i++)
            if (!strcmp(value, t->value[i]))
                return 1;
        return 0;
    case PDC_SEL_PRESENT:
        return value != NULL;
    case PDC_SEL_ABSENT:
        return value == NULL;
    }
    return 0;
}

static int s_first_failing(const pdc_selector_t *sel, const pdc_labels_t *labels) {
    for (int i = 0; i < sel->n; i++)
        if (!s_term_holds(&sel->term[i], pdc_labels_get(labels, sel->term[i].key)))
            return i;
    return -1;
}

int pdc_selector_match(const pdc_selector_t *sel, const pdc_labels_t *labels) {
    return s_first_failing(sel, labels) < 0;
}

/* Append one term, as pdc_selector_parse reads it, at buf + at. */
static size_t s_term_format(const pdc_selector_term_t *t, char *buf, size_t at, size_t len) {
    if (at >= len)
        return at;
    switch (t->op) {
    case PDC_SEL_EQ:
    case PDC_SEL_NE:
        return at + (size_t) snprintf(buf + at, len - at, "%s%s%s", t->key,
                                      t->op == PDC_SEL_EQ ? "=" : "!=", t->value[0]);
    case PDC_SEL_IN:
        at += (size_t) snprintf(buf + at, len - at, "%s in (", t->key);
        for (int i = 0; i < t->nvalues && at < len; i++)
            at += (size_t) snprintf(buf + at, len - at, "%s%s", i ? "|" : "", t->value[i]);
        return at < len ? at + (size_t) snprintf(buf + at, len - at, ")") : at;
    case PDC_SEL_PRESENT:
    case PDC_SEL_ABSENT:
        return at + (size_t) snprintf(buf + at, len - at, "%s%s",
                                      t->op == PDC_SEL_ABSENT ? "!" : "", t->key);
    }
    return at;
}

const char *pdc_selector_mismatch(const pdc_selector_t *sel, const pdc_labels_t *labels, char *buf,
                                  size_t len) {
    int i = s_first_failing(sel, labels);
    if (i < 0)
        return NULL;
    if (!len)
        return buf;
    const pdc_selector_term_t *t = &sel->term[i];
    const char *value = pdc_labels_get(labels, t->key);
    buf[0] = '\0';
    size_t at = s_term_format(t, buf, 0, len);
    if (at < len) {
        if (value)
            snprintf(buf + at, len - at, " (node has %s=%s)", t->key, value);
        else
            snprintf(buf + at, len - at, " (node has no %s)", t->key);
    }
    return buf;
}

const char *pdc_selector_format(const pdc_selector_t *sel, char *buf, size_t len) {
    if (!len)
        return buf;
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < sel->n && at < len; i++) {
        if (i)
            at += (size_t) snprintf(buf + at, len - at, ",");
        at = s_term_format(&sel->term[i], buf, at, len);
    }
    return buf;
}
