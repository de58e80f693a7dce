/*  pdc_devices: which GPU devices of a node a lease holds (see the
    header).  Amounts are compared with a little slack, as resource
    amounts are everywhere, so that 0.1 + 0.2 still fits in 0.3. */
#include "pdc_devices.h"

#include <stdio.h>
#include <string.h>

/* Slack in comparisons of fractional amounts. */
#define S_SLACK 1e-9

void pdc_devices_init(pdc_devices_t *d, double amount, const char *visible) {
    memset(d, 0, sizeof *d);
    d->n = amount >= PDC_DEVICES_MAX ? PDC_DEVICES_MAX : (int) amount;
    if (amount > 0 && d->n == 0)
        d->n = 1; /* GPU=0.5: one device, in part */
    char names[PDC_DEVICE_IDS];
    snprintf(names, sizeof names, "%s", visible ? visible : "");
    char *save = NULL, *tok = strtok_r(names, ",", &save);
    for (int i = 0; i < d->n; i++, tok = tok ? strtok_r(NULL, ",", &save) : NULL) {
        d->free[i] = i < (int) amount ? 1 : amount - (int) amount;
        if (tok && *tok)
            snprintf(d->name[i], sizeof d->name[i], "%s", tok);
        else
            snprintf(d->name[i], sizeof d->name[i], "%d", i);
    }
}

void pdc_devices_take(pdc_devices_t *d, double amount, pdc_device_share_t *out) {
    memset(out, 0, sizeof *out);
    int whole = (int) (amount + S_SLACK);
    double part = amount - whole;
    for (int i = 0; i < d->n && whole > 0; i++)
        if (d->free[i] > 1 - S_SLACK) {
            out->share[i] = 1;
            d->free[i] = 0;
            whole--;
        }
    if (part > S_SLACK) {
        int best = -1;
        for (int i = 0; i < d->n; i++)
            if (d->free[i] + S_SLACK >= part && (best < 0 || d->free[i] < d->free[best]))
                best = i;
        if (best >= 0) {
            out->share[best] += part;
            d->free[best] -= part;
        }
    }
    size_t at = 0;
    for (int i = 0; i < d->n; i++)
        if (out->share[i] > 0 && at < sizeof out->ids)
            at += (size_t) snprintf(out->ids + at, sizeof out->ids - at, "%s%s", at ? "," : "",
                                    d->name[i]);
}

void pdc_devices_give_back(pdc_devices_t *d, pdc_device_share_t *share) {
    for (int i = 0; i < d->n; i++)
        d->free[i] += share->share[i];
    memset(share, 0, sizeof *share);
}
