/*  pdc_resources: a set of named resource amounts ("GPU=1,edge=0.5").

    Nodes declare custom resources beside their CPU slots (pdc-raylet
    --resources, or PDC_RESOURCES for an embedded cluster), tasks and
    actors ask for them (pdc_opts.resources), and the raylet grants a
    lease only when every amount asked for is available.  Amounts may be
    fractional.  CPU is kept apart, as the raylet has always counted it;
    these sets hold everything else.  At most PDC_MAX_RESOURCES names. */
#ifndef PDC_RESOURCES_H_INCLUDED
#define PDC_RESOURCES_H_INCLUDED

#include "pdc_proto.h"
#include <stddef.h>

#define PDC_MAX_RESOURCES 16
#define PDC_RESOURCE_NAME 32

typedef struct {
    int n;
    char name[PDC_MAX_RESOURCES][PDC_RESOURCE_NAME];
    double amount[PDC_MAX_RESOURCES];
} pdc_resources_t;

/* Parse "NAME=AMOUNT,..." (NULL or "" is the empty set).  Names are
   letters, digits, '_', '-' and '.'; amounts are >= 0.  0, or -1 with
   what was wrong in err. */
int pdc_resources_parse(const char *text, pdc_resources_t *out, char *err, size_t errlen);
double pdc_resources_get(const pdc_resources_t *r, const char *name);
/* Add sign * amount of every resource of add to r (names are created). */
void pdc_resources_add(pdc_resources_t *r, const pdc_resources_t *add, double sign);
/* The first resource of want that have holds less of, or NULL. */
const char *pdc_resources_short(const pdc_resources_t *have, const pdc_resources_t *want);
/* "GPU=1,edge=0.5", names sorted, so equal sets print equal. */
const char *pdc_resources_format(const pdc_resources_t *r, char *buf, size_t len);
/* As a {} map field, and back from a validated one (CPU is skipped). */
void pdc_resources_encode(const pdc_resources_t *r, pdc_enc_t *enc);
void pdc_resources_decode(const msgpack_object *map, pdc_resources_t *out);

#endif
