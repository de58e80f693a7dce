/*  pdc_labels: node labels ("tier=edge,zone=a") and the selectors that
    pick nodes by them ("tier=edge,zone!=b,gpu-type in (a100|h100),!spot").

    A node declares its labels when it starts; a task or actor may carry
    a selector, and is placed only on a node whose labels it matches, as
    Ray's node labels and label selectors work.  Unlike resources, labels
    are not consumed: any number of tasks may match the same node.

    Keys and values are 1 to PDC_LABEL_MAX letters, digits, '_', '-', '.'
    and '/' ("ray.io/node-type=head").  A node has at most PDC_MAX_LABELS
    labels, each key once.  A selector is at most PDC_MAX_SELECTOR_TERMS
    terms, separated by ',' and all of which must hold:

        k=v           the node has k, and its value is v ("k==v" also)
        k!=v          the node has no k, or a value other than v
        k in (a|b|c)  the node has k, and its value is one of a, b, c
                      (at most PDC_MAX_SELECTOR_VALUES of them)
        k             the node has k, whatever its value
        !k            the node has no k

    Spaces around terms and their parts are ignored ("k in (a|b)" needs
    the ones around "in").  The empty selector matches every node.  Both
    types are plain values: copy them, no freeing. */
#ifndef PDC_LABELS_H_INCLUDED
#define PDC_LABELS_H_INCLUDED

#include <stddef.h>

#define PDC_MAX_LABELS          16
#define PDC_LABEL_MAX           63 /* characters in a key or a value */
#define PDC_LABEL_LEN           (PDC_LABEL_MAX + 1)
#define PDC_MAX_SELECTOR_TERMS  16
#define PDC_MAX_SELECTOR_VALUES 8 /* values in one "k in (...)" */

typedef struct {
    int n;
    char key[PDC_MAX_LABELS][PDC_LABEL_LEN];
    char value[PDC_MAX_LABELS][PDC_LABEL_LEN];
} pdc_labels_t;

typedef enum {
    PDC_SEL_EQ,      /* k=v */
    PDC_SEL_NE,      /* k!=v */
    PDC_SEL_IN,      /* k in (a|b) */
    PDC_SEL_PRESENT, /* k */
    PDC_SEL_ABSENT,  /* !k */
} pdc_selector_op_t;

typedef struct {
    pdc_selector_op_t op;
    char key[PDC_LABEL_LEN];
    int nvalues; /* 1 for EQ and NE, 1..PDC_MAX_SELECTOR_VALUES for IN,
                    0 for PRESENT and ABSENT */
    char value[PDC_MAX_SELECTOR_VALUES][PDC_LABEL_LEN];
} pdc_selector_term_t;

typedef struct {
    int n;
    pdc_selector_term_t term[PDC_MAX_SELECTOR_TERMS];
} pdc_selector_t;

/* Parse "KEY=VALUE,..." (NULL, "" or only spaces is the empty set).  0,
   or -1 with err naming the text, the entry and what is wrong with it:
   a bad character, an empty or too long key or value, a missing '=', a
   duplicate key, a stray ',' or more than PDC_MAX_LABELS labels.  out is
   left empty on failure.  err may be NULL. */
int pdc_labels_parse(const char *text, pdc_labels_t *out, char *err, size_t errlen);
/* The value of key, or NULL if l has no such label. */
const char *pdc_labels_get(const pdc_labels_t *l, const char *key);
/* "tier=edge,zone=a", keys sorted, so equal sets print equal; "" for
   none.  Output that does not fit in len is cut short. */
const char *pdc_labels_format(const pdc_labels_t *l, char *buf, size_t len);

/* Parse a selector (NULL, "" or only spaces is the empty selector, which
   matches everything).  0, or -1 with err naming the text, the term and
   what is wrong with it; out is left empty on failure.  err may be NULL. */
int pdc_selector_parse(const char *text, pdc_selector_t *out, char *err, size_t errlen);
/* 1 if labels satisfy every term of sel, else 0. */
int pdc_selector_match(const pdc_selector_t *sel, const pdc_labels_t *labels);
/* NULL if labels match sel; else buf, holding the first term that fails
   and what the node has instead, for error messages:
   "tier=edge (node has tier=cloud)", "tier=edge (node has no tier)",
   "!spot (node has spot=yes)". */
const char *pdc_selector_mismatch(const pdc_selector_t *sel, const pdc_labels_t *labels, char *buf,
                                  size_t len);
/* sel in the form pdc_selector_parse reads, terms in their order:
   "tier=edge,zone!=b,gpu-type in (a100|h100),!spot"; "" for none. */
const char *pdc_selector_format(const pdc_selector_t *sel, char *buf, size_t len);

#endif
