/*  pdc_actors_table: the head's actors (see the header).

    Rows are in an id map for ACTOR_STATE and ACTOR_RESOLVE, and in a
    list in the order the head first heard of them, for ACTOR_LIST and
    for dropping the oldest dead rows. */
#include "pdc_actors_table.h"

#include "pdc.h"
#include "pdc_idmap.h"
#include "pdc_log.h"
#include "pdc_proto.h"

#include <stdlib.h>
#include <string.h>

typedef struct actor_entry {
    pdc_actor_row_t row;
    struct actor_entry *next, *prev;
} actor_entry_t;

#define S_TABLE "actors"

struct pdc_actors_table {
    void *router;
    const pdc_config_t *cfg;
    pdc_head_db_t *db;
    pdc_enc_t enc, row;
    pdc_idmap_t by_id;
    actor_entry_t *oldest, *newest;
    size_t count, dead;
    /* The nodes declared dead, for rows that arrive after the death. */
    char (*dead_nodes)[64];
    size_t ndead_nodes;
};

static actor_entry_t *s_add(pdc_actors_table_t *self, const uint8_t *id) {
    actor_entry_t *e = calloc(1, sizeof *e);
    if (!e || pdc_idmap_put(&self->by_id, id, e)) {
        free(e);
        pdc_warn("out of memory for the actor table");
        return NULL;
    }
    e->prev = self->newest;
    if (self->newest)
        self->newest->next = e;
    else
        self->oldest = e;
    self->newest = e;
    self->count++;
    return e;
}

/* Write e's row to the database. */
static void s_save(pdc_actors_table_t *self, const actor_entry_t *e) {
    if (!self->db)
        return;
    pdc_head_db_row(&self->row);
    pdc_actor_row_encode(&self->row, &e->row);
    if (pdc_head_db_put(self->db, S_TABLE, e->row.id, PDC_ID_LEN, &self->row))
        pdc_warn("actor table: %s", pdc_head_db_error(self->db));
}

static void s_load_row(void *arg, const void *key, size_t key_len, const msgpack_object *fields,
                       uint32_t count) {
    (void) key;
    (void) key_len;
    pdc_actors_table_t *self = arg;
    msgpack_object tuple = {.type = MSGPACK_OBJECT_ARRAY};
    tuple.via.array.ptr = (msgpack_object *) fields;
    tuple.via.array.size = count;
    pdc_actor_row_t row;
    pdc_actor_row_read(&tuple, &row);
    actor_entry_t *e = s_add(self, row.id);
    if (!e)
        return;
    e->row = row;
    self->dead += row.state == PDC_ACTOR_DEAD;
}

pdc_actors_table_t *pdc_actors_table_new(void *router, const pdc_config_t *cfg, pdc_head_db_t *db) {
    pdc_actors_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    self->cfg = cfg;
    self->db = db;
    pdc_enc_init(&self->enc);
    pdc_enc_init(&self->row);
    pdc_idmap_init(&self->by_id);
    int n = pdc_head_db_each(db, S_TABLE, PDC_ACTOR_ROW_SCHEMA, s_load_row, self);
    if (n > 0)
        pdc_info("actor table: %d actors read back", n);
    return self;
}

void pdc_actors_table_destroy(pdc_actors_table_t **self_p) {
    pdc_actors_table_t *self = *self_p;
    if (!self)
        return;
    while (self->oldest) {
        actor_entry_t *e = self->oldest;
        self->oldest = e->next;
        free(e);
    }
    pdc_idmap_free(&self->by_id);
    pdc_enc_free(&self->enc);
    pdc_enc_free(&self->row);
    free(self->dead_nodes);
    free(self);
    *self_p = NULL;
}

static void s_unlink(pdc_actors_table_t *self, actor_entry_t *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        self->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->newest = e->prev;
    self->count--;
}

/* At most actor_history dead rows: the oldest go. */
static void s_trim(pdc_actors_table_t *self) {
    for (actor_entry_t *e = self->oldest; e && self->dead > (size_t) self->cfg->actor_history;) {
        actor_entry_t *next = e->next;
        if (e->row.state == PDC_ACTOR_DEAD) {
            s_unlink(self, e);
            pdc_idmap_del(&self->by_id, e->row.id);
            if (self->db && pdc_head_db_delete(self->db, S_TABLE, e->row.id, PDC_ID_LEN))
                pdc_warn("actor table: %s", pdc_head_db_error(self->db));
            self->dead--;
            free(e);
        }
        e = next;
    }
}

static int s_node_is_dead(const pdc_actors_table_t *self, const char *node) {
    for (size_t i = 0; *node && i < self->ndead_nodes; i++)
        if (!strcmp(self->dead_nodes[i], node))
            return 1;
    return 0;
}

/* What node deaths mean for row r: an actor that ran on a dead node is
   RESTARTING when it has restarts left and its creator's node lives (the
   creator places it again and will say so), else DEAD; one being
   restarted by a creator whose node died is DEAD.  A row the creator
   already moved to RESTARTING is the creator's to update. */
static void s_after_node_death(pdc_actors_table_t *self, pdc_actor_row_t *r) {
    int here = s_node_is_dead(self, r->node), creator = s_node_is_dead(self, r->owner_node);
    if (r->state == PDC_ACTOR_DEAD)
        return;
    if (r->state == PDC_ACTOR_RESTARTING) {
        if (creator) {
            r->state = PDC_ACTOR_DEAD;
            snprintf(r->reason, sizeof r->reason,
                     "it was being restarted when its creator's node %s died", r->owner_node);
            self->dead++;
        }
        return;
    }
    if (!here)
        return;
    int left = r->max_restarts < 0 || r->restarts < (uint64_t) r->max_restarts;
    if (left && !creator) {
        r->state = PDC_ACTOR_RESTARTING;
        snprintf(r->reason, sizeof r->reason,
                 "node %s, where it ran, died; its creator on node %s restarts it", r->node,
                 r->owner_node);
    } else {
        r->state = PDC_ACTOR_DEAD;
        snprintf(r->reason, sizeof r->reason, "node %s, where it ran, died%s", r->node,
                 creator ? ", and so did its creator's node" : ", and it has no restarts left");
        self->dead++;
    }
}

/* The creator sends a row again until it hears this (once it is on disk). */
static void s_ack(pdc_actors_table_t *self, pdc_inbound_t *in) {
    if (!in->msg.request_id)
        return;
    pdc_enc_begin(&self->enc, PDC_MSG_PONG, in->msg.request_id);
    pdc_wire_reply(self->router, in, &self->enc);
}

static void s_on_state(pdc_actors_table_t *self, pdc_inbound_t *in) {
    pdc_actor_row_t row;
    pdc_actor_row_read(&in->msg.fields[PDC_ACTOR_STATE_ACTOR], &row);
    actor_entry_t *e = pdc_idmap_get(&self->by_id, row.id);
    if (!e) {
        if (!(e = s_add(self, row.id)))
            return;
    } else if (e->row.state == PDC_ACTOR_DEAD) {
        if (row.state != PDC_ACTOR_DEAD) {
            s_ack(self, in);
            return; /* dead is for good: a late report of a life before */
        }
        self->dead--;
    }
    e->row = row;
    if (row.state == PDC_ACTOR_DEAD)
        self->dead++;
    else
        s_after_node_death(self, &e->row);
    s_save(self, e);
    s_trim(self);
    s_ack(self, in);
}

static void s_on_resolve(pdc_actors_table_t *self, pdc_inbound_t *in) {
    const uint8_t *id = pdc_f_id(&in->msg.fields[PDC_ACTOR_RESOLVE_ACTOR_ID]);
    actor_entry_t *e = pdc_idmap_get(&self->by_id, id);
    if (!e) {
        char hex[33], why[200];
        snprintf(why, sizeof why, "the head has no actor %s (its creator did not report it)",
                 pdc_id_hex(id, hex));
        pdc_wire_reply_error(self->router, in, &self->enc, PDC_ENOTFOUND, why);
        return;
    }
    pdc_enc_begin(&self->enc, PDC_MSG_ACTOR_STATE, in->msg.request_id);
    pdc_actor_row_encode(&self->enc, &e->row);
    pdc_wire_reply(self->router, in, &self->enc);
}

static void s_on_list(pdc_actors_table_t *self, pdc_inbound_t *in) {
    pdc_enc_begin(&self->enc, PDC_MSG_ACTOR_TABLE, in->msg.request_id);
    pdc_enc_array(&self->enc, self->count);
    for (actor_entry_t *e = self->oldest; e; e = e->next)
        pdc_actor_row_encode(&self->enc, &e->row);
    pdc_wire_reply(self->router, in, &self->enc);
}

int pdc_actors_table_on_message(pdc_actors_table_t *self, pdc_inbound_t *in) {
    switch (in->msg.type) {
    case PDC_MSG_ACTOR_STATE:
        s_on_state(self, in);
        return 1;
    case PDC_MSG_ACTOR_RESOLVE:
        s_on_resolve(self, in);
        return 1;
    case PDC_MSG_ACTOR_LIST:
        s_on_list(self, in);
        return 1;
    default:
        return 0;
    }
}

void pdc_actors_table_node_dead(pdc_actors_table_t *self, const char *node) {
    if (!s_node_is_dead(self, node)) {
        char(*grown)[64] = realloc(self->dead_nodes, (self->ndead_nodes + 1) * sizeof *grown);
        if (!grown)
            return;
        self->dead_nodes = grown;
        snprintf(grown[self->ndead_nodes++], sizeof *grown, "%s", node);
    }
    for (actor_entry_t *e = self->oldest; e; e = e->next) {
        pdc_actor_state before = e->row.state;
        s_after_node_death(self, &e->row);
        if (e->row.state != before)
            s_save(self, e);
    }
    s_trim(self);
}

void pdc_actors_table_node_alive(pdc_actors_table_t *self, const char *node) {
    for (size_t i = 0; i < self->ndead_nodes; i++)
        if (!strcmp(self->dead_nodes[i], node)) {
            memcpy(self->dead_nodes[i], self->dead_nodes[--self->ndead_nodes],
                   sizeof *self->dead_nodes);
            return;
        }
}

double pdc_actors_table_count(const pdc_actors_table_t *self, pdc_actor_state state) {
    double n = 0;
    for (const actor_entry_t *e = self->oldest; e; e = e->next)
        n += e->row.state == state;
    return n;
}
