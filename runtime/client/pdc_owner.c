/*  pdc_owner: the owner core as the actor layer sees it (see the header). */
#include "pdc_owner.h"

#include "pdc_client_internal.h"

void pdc_owner_lock(pdc_client *c) {
    pthread_mutex_lock(&c->mu);
}

void pdc_owner_unlock(pdc_client *c) {
    pthread_mutex_unlock(&c->mu);
}

void pdc_owner_broadcast(pdc_client *c) {
    pthread_cond_broadcast(&c->cv);
}

void pdc_owner_wake(pdc_client *c) {
    pdc_client_wake(c);
}

int pdc_owner_wait(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg,
                   int64_t timeout_ms) {
    return pdc_client_wait_until(c, pred, arg, timeout_ms, 0);
}

const pdc_config_t *pdc_owner_config(pdc_client *c) {
    return &c->cfg;
}

const char *pdc_owner_head_endpoint(pdc_client *c) {
    return c->head_endpoint;
}

pdc_requests_t *pdc_owner_requests(pdc_client *c) {
    return &c->requests;
}

pdc_enc_t *pdc_owner_enc(pdc_client *c) {
    return &c->enc;
}

struct pdc_actor **pdc_owner_actors(pdc_client *c) {
    return &c->actors;
}

const char *pdc_owner_intern(pdc_client *c, const char *text) {
    return pdc_client_intern(c, text);
}

int pdc_owner_send_head(pdc_client *c, const pdc_enc_t *enc) {
    return pdc_client_send_head(c, enc, NULL, 0);
}

const char *pdc_owner_library_for(pdc_client *c, const char *library, const char *node) {
    return pdc_client_library_for(c, library, node);
}

int pdc_owner_set_error(int code, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return pdc_set_error(code, "%s", buf);
}

void pdc_owner_clear_error(void) {
    pdc_clear_error();
}

const char *pdc_owner_raylet_lost(pdc_client *c) {
    return c->raylet_lost ? c->raylet_lost_why : NULL;
}
