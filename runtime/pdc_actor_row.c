/*  pdc_actor_row: an actor's row, read, written and printed (see the
    header). */
#include "pdc_actor_row.h"

#include "pdc_proto.h"

#include <string.h>

const char *pdc_actor_state_name(pdc_actor_state state) {
    switch (state) {
    case PDC_ACTOR_PENDING:
        return "PENDING";
    case PDC_ACTOR_ALIVE:
        return "ALIVE";
    case PDC_ACTOR_RESTARTING:
        return "RESTARTING";
    case PDC_ACTOR_DEAD:
        return "DEAD";
    }
    return "?";
}

void pdc_actor_row_read(const void *tuple, pdc_actor_row_t *out) {
    const msgpack_object *row = tuple;
    memset(out, 0, sizeof *out);
    memcpy(out->id, pdc_f_id(pdc_f_at(row, PDC_ACTOR_ROW_ACTOR_ID)), PDC_ID_LEN);
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_CLASS), out->cls, sizeof out->cls);
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_NAMESPACE), out->ns, sizeof out->ns);
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_NAME), out->name, sizeof out->name);
    uint64_t state = pdc_f_u(pdc_f_at(row, PDC_ACTOR_ROW_STATE));
    out->state = state > PDC_ACTOR_DEAD ? PDC_ACTOR_DEAD : (pdc_actor_state) state;
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_NODE), out->node, sizeof out->node);
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_ENDPOINT), out->endpoint, sizeof out->endpoint);
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_OWNER_NODE), out->owner_node, sizeof out->owner_node);
    out->restarts = pdc_f_u(pdc_f_at(row, PDC_ACTOR_ROW_RESTARTS));
    out->max_restarts = pdc_f_i(pdc_f_at(row, PDC_ACTOR_ROW_MAX_RESTARTS));
    out->max_task_retries = pdc_f_i(pdc_f_at(row, PDC_ACTOR_ROW_MAX_TASK_RETRIES));
    pdc_f_cstr(pdc_f_at(row, PDC_ACTOR_ROW_REASON), out->reason, sizeof out->reason);
}

void pdc_actor_row_encode(pdc_enc_t *e, const pdc_actor_row_t *r) {
    pdc_enc_array(e, PDC_ACTOR_ROW_NFIELDS);
    pdc_enc_id(e, r->id);
    pdc_enc_s(e, r->cls);
    pdc_enc_s(e, r->ns);
    pdc_enc_s(e, r->name);
    pdc_enc_u(e, (uint64_t) r->state);
    pdc_enc_s(e, r->node);
    pdc_enc_s(e, r->endpoint);
    pdc_enc_s(e, r->owner_node);
    pdc_enc_u(e, r->restarts);
    pdc_enc_i(e, r->max_restarts);
    pdc_enc_i(e, r->max_task_retries);
    pdc_enc_s(e, r->reason);
}

const char *pdc_actor_row_restarts(const pdc_actor_row_t *r, char *buf, size_t len) {
    if (r->max_restarts < 0)
        snprintf(buf, len, "%llu of unlimited", (unsigned long long) r->restarts);
    else if (r->max_restarts == 0)
        snprintf(buf, len, "none allowed");
    else
        snprintf(buf, len, "%llu of %lld", (unsigned long long) r->restarts,
                 (long long) r->max_restarts);
    return buf;
}

void pdc_actor_rows_print(FILE *out, const pdc_actor_row_t *rows, int n) {
    fprintf(out, "%-32s %-10s %-14s %-18s %-20s %s\n", "ACTOR", "STATE", "NODE", "RESTARTS", "NAME",
            "CLASS");
    for (int i = 0; i < n; i++) {
        const pdc_actor_row_t *r = &rows[i];
        char hex[33], restarts[48], name[200];
        if (*r->name)
            snprintf(name, sizeof name, "%s/%s", r->ns, r->name);
        else
            snprintf(name, sizeof name, "-");
        fprintf(out, "%-32s %-10s %-14s %-18s %-20s %s\n", pdc_id_hex(r->id, hex),
                pdc_actor_state_name(r->state), *r->node ? r->node : "-",
                pdc_actor_row_restarts(r, restarts, sizeof restarts), name, r->cls);
        if (*r->reason)
            fprintf(out, "    %s\n", r->reason);
    }
}
