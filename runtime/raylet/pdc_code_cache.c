/*  pdc_code_cache: code packages on a node (see pdc_code_cache.h). */
#include "pdc_code_cache.h"

#include "pdc.h"
#include "pdc_code.h"
#include "pdc_log.h"
#include "pdc_waiters.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fetch {
    char hash[PDC_CODE_HASH_LEN + 1];
    uint64_t seq;     /* request id towards the head */
    uint64_t started; /* ms */
    int asked;        /* a CODE_GET to the head is out */
    char last_error[400];
    pdc_waiter_t *waiters;
    struct fetch *next;
} fetch_t;

struct pdc_code_cache {
    void *router;
    pdc_code_cache_ready_fn *on_ready; /* for the raylet's own fetches */
    void *arg;
    char dir[PATH_MAX];
    int64_t timeout_ms;
    fetch_t *fetches;
    uint64_t next_seq;
    pdc_enc_t enc;
};

pdc_code_cache_t *pdc_code_cache_new(void *router, const char *dir, int64_t timeout_ms,
                                     pdc_code_cache_ready_fn *on_ready, void *arg) {
    pdc_code_cache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    self->on_ready = on_ready;
    self->arg = arg;
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->timeout_ms = timeout_ms;
    self->next_seq = (uint64_t) 1 << 62; /* apart from the heartbeat's 0 */
    mkdir(dir, 0700);
    pdc_enc_init(&self->enc);
    return self;
}

static void s_fetch_free(fetch_t *f) {
    pdc_waiters_free(&f->waiters);
    free(f);
}

void pdc_code_cache_destroy(pdc_code_cache_t **self_p) {
    pdc_code_cache_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    while (self->fetches) {
        fetch_t *f = self->fetches;
        self->fetches = f->next;
        s_fetch_free(f);
    }
    pdc_enc_free(&self->enc);
    free(self);
}

static void s_path(pdc_code_cache_t *self, const char *hash, char *out, size_t len) {
    snprintf(out, len, "%s/%s.so", self->dir, hash);
}

/* The answer to a waiter: a routing id of a client, or none for the
   raylet's own fetch (pdc_code_cache_fetch), whose callback gets it. */
static void s_answer(pdc_code_cache_t *self, const void *rid, size_t rid_len, uint64_t request,
                     const char *hash, int code, const char *why) {
    char path[PATH_MAX + 80];
    s_path(self, hash, path, sizeof path);
    if (!rid_len) {
        if (self->on_ready)
            self->on_ready(hash, code == PDC_OK ? path : NULL, why, self->arg);
        return;
    }
    if (code != PDC_OK) {
        pdc_wire_send_error(self->router, rid, rid_len, &self->enc, request, code, why);
        return;
    }
    pdc_enc_begin(&self->enc, PDC_MSG_CODE_PATH, request);
    pdc_enc_s(&self->enc, hash);
    pdc_enc_s(&self->enc, path);
    pdc_wire_send(self->router, rid, rid_len, &self->enc, NULL, 0);
}

static void s_ask_head(pdc_code_cache_t *self, fetch_t *f, void *head) {
    pdc_enc_begin(&self->enc, PDC_MSG_CODE_GET, f->seq);
    pdc_enc_s(&self->enc, f->hash);
    pdc_wire_send(head, NULL, 0, &self->enc, NULL, 0);
    f->asked = 1;
}

static void s_get(pdc_code_cache_t *self, const char *hash, const void *rid, size_t rid_len,
                  uint64_t request, void *head, uint64_t now_ms);

void pdc_code_cache_get(pdc_code_cache_t *self, pdc_inbound_t *in, void *head, uint64_t now_ms) {
    size_t hlen;
    const char *h = pdc_f_str(&in->msg.fields[PDC_CODE_GET_HASH], &hlen);
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    if (rid_len > PDC_WAITER_RID_MAX)
        return;
    if (!pdc_code_hash_valid(h, hlen)) {
        pdc_wire_send_error(self->router, rid, rid_len, &self->enc, in->msg.request_id, PDC_EINVAL,
                            "a code hash is 64 lowercase hex digits");
        return;
    }
    char hash[PDC_CODE_HASH_LEN + 1];
    memcpy(hash, h, PDC_CODE_HASH_LEN);
    hash[PDC_CODE_HASH_LEN] = '\0';
    s_get(self, hash, rid, rid_len, in->msg.request_id, head, now_ms);
}

void pdc_code_cache_fetch(pdc_code_cache_t *self, const char *hash, void *head, uint64_t now_ms) {
    s_get(self, hash, NULL, 0, 0, head, now_ms);
}

/* A package for a waiter: from the cache at once, or once the head has
   sent it. */
static void s_get(pdc_code_cache_t *self, const char *hash, const void *rid, size_t rid_len,
                  uint64_t request, void *head, uint64_t now_ms) {
    char path[PATH_MAX + 80];
    s_path(self, hash, path, sizeof path);
    if (access(path, R_OK) == 0) {
        s_answer(self, rid, rid_len, request, hash, PDC_OK, NULL);
        return;
    }
    if (!head) {
        s_answer(self, rid, rid_len, request, hash, PDC_ENOTFOUND,
                 "this node has no head to fetch code packages from");
        return;
    }
    fetch_t *f;
    for (f = self->fetches; f && strcmp(f->hash, hash); f = f->next) {
    }
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f)
            return;
        snprintf(f->hash, sizeof f->hash, "%s", hash);
        f->seq = ++self->next_seq;
        f->started = now_ms;
        f->next = self->fetches;
        self->fetches = f;
        s_ask_head(self, f, head);
    }
    pdc_waiters_add(&f->waiters, rid, rid_len, request);
}

static void s_finish(pdc_code_cache_t *self, fetch_t *f, int code, const char *why) {
    for (fetch_t **p = &self->fetches; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    for (pdc_waiter_t *w = f->waiters; w; w = w->next)
        s_answer(self, w->rid, w->rid_len, w->request, f->hash, code, why);
    s_fetch_free(f);
}

/* Write the package into the cache; 0 or -1 with why. */
static int s_store(pdc_code_cache_t *self, const char *hash, const void *bytes, size_t size,
                   char *why, size_t len) {
    char path[PATH_MAX + 80], tmp[PATH_MAX + 100];
    s_path(self, hash, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    ssize_t n = fd >= 0 ? write(fd, bytes, size) : -1;
    if (fd < 0 || n != (ssize_t) size || close(fd) || rename(tmp, path)) {
        snprintf(why, len, "cannot write the code package to %s: %s", path, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        return -1;
    }
    return 0;
}

int pdc_code_cache_on_head(pdc_code_cache_t *self, pdc_inbound_t *in, void *head, uint64_t now_ms) {
    (void) head;
    (void) now_ms;
    fetch_t *f;
    for (f = self->fetches; f && f->seq != in->msg.request_id; f = f->next) {
    }
    if (!f)
        return 0;
    char why[500];
    if (in->msg.type == PDC_MSG_ERROR) {
        /* Not there yet, perhaps: pdc_code_cache_check asks again. */
        pdc_f_cstr(&in->msg.fields[PDC_ERROR_MESSAGE], f->last_error, sizeof f->last_error);
        f->asked = 0;
        return 1;
    }
    if (in->msg.type != PDC_MSG_CODE)
        return 1;
    zmq_msg_t *body = pdc_inbound_payload(in, 0);
    char got[PDC_CODE_HASH_LEN + 1];
    if (!body) {
        s_finish(self, f, PDC_EPROTO, "the head sent a code package without its bytes");
        return 1;
    }
    pdc_code_hash(zmq_msg_data(body), zmq_msg_size(body), got);
    if (strcmp(got, f->hash)) {
        snprintf(why, sizeof why, "the head sent bytes that hash to %s for code package %s", got,
                 f->hash);
        s_finish(self, f, PDC_EPROTO, why);
        return 1;
    }
    if (s_store(self, f->hash, zmq_msg_data(body), zmq_msg_size(body), why, sizeof why)) {
        s_finish(self, f, PDC_ENOTFOUND, why);
        return 1;
    }
    pdc_debug("code package %s cached (%zu bytes)", f->hash, zmq_msg_size(body));
    s_finish(self, f, PDC_OK, NULL);
    return 1;
}

void pdc_code_cache_check(pdc_code_cache_t *self, void *head, uint64_t now_ms) {
    if (!self)
        return;
    for (fetch_t *f = self->fetches, *next; f; f = next) {
        next = f->next;
        if (now_ms - f->started > (uint64_t) self->timeout_ms) {
            char why[600];
            snprintf(why, sizeof why, "code package %s: %s", f->hash,
                     *f->last_error ? f->last_error : "the head did not answer");
            s_finish(self, f, PDC_ENOTFOUND, why);
        } else if (head && !f->asked) {
            s_ask_head(self, f, head);
        }
    }
}
