/*  pdc_requests: every request a client has outstanding, by id (see the
    header).  Ids count up from 1 and are the key of an idmap (the id in
    the first eight bytes of the 16-byte key, hashed like object ids). */
#include "pdc_requests.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const pdc_request_ops_t *ops;
    void *ctx;
} entry_t;

static void s_key(uint64_t id, uint8_t key[PDC_ID_LEN]) {
    memset(key, 0, PDC_ID_LEN);
    memcpy(key, &id, sizeof id);
}

void pdc_requests_init(pdc_requests_t *self) {
    pdc_idmap_init(&self->map);
    self->next = 0;
}

static void s_free_entry(void *value, void *arg) {
    (void) arg;
    free(value);
}

void pdc_requests_free(pdc_requests_t *self) {
    pdc_idmap_each(&self->map, s_free_entry, NULL);
    pdc_idmap_free(&self->map);
}

uint64_t pdc_requests_add(pdc_requests_t *self, const pdc_request_ops_t *ops, void *ctx) {
    entry_t *e = malloc(sizeof *e);
    if (!e)
        return 0;
    e->ops = ops;
    e->ctx = ctx;
    uint64_t id = ++self->next;
    uint8_t key[PDC_ID_LEN];
    s_key(id, key);
    if (pdc_idmap_put(&self->map, key, e)) {
        free(e);
        return 0;
    }
    return id;
}

void pdc_requests_drop(pdc_requests_t *self, uint64_t id) {
    uint8_t key[PDC_ID_LEN];
    s_key(id, key);
    free(pdc_idmap_del(&self->map, key));
}

static entry_t *s_find(pdc_requests_t *self, uint64_t id) {
    uint8_t key[PDC_ID_LEN];
    s_key(id, key);
    return id ? pdc_idmap_get(&self->map, key) : NULL;
}

int pdc_requests_answer(pdc_client *c, pdc_requests_t *self, const pdc_msg_t *msg, void *sock) {
    entry_t *e = s_find(self, msg->request_id);
    if (!e || !e->ops->answer)
        return 0;
    e->ops->answer(c, e->ctx, msg->request_id, msg, sock);
    return 1;
}

int pdc_requests_reask(pdc_client *c, pdc_requests_t *self, uint64_t id, void *raylet,
                       unsigned flags) {
    entry_t *e = s_find(self, id);
    if (!e || !e->ops->reask)
        return 0;
    e->ops->reask(c, e->ctx, id, raylet, flags);
    return 1;
}
