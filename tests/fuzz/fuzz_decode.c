/*  fuzz_decode: libFuzzer target for pdc's header-frame decoder.

    Each input goes to pdc_msg_decode, and to pdc_proto_check with every
    message's schema (and the task and result tuples alone).  Beyond "no
    crash, no sanitizer report, no large allocation", it checks the
    decoder's promise: whatever is accepted is a tree of exactly the types
    its schema names (so handlers may use the unchecked pdc_f_* accessors),
    and whatever is refused comes with a reason.  A broken promise aborts,
    which libFuzzer reports as a crash with the input saved.

    Build and run with tests/fuzz/build.sh.
*/
#include "proto_samples.h"

#include <stdio.h>
#include <stdlib.h>

static void s_broken(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_decode: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* Read every string of an accepted tree, as a handler would. */
static void s_touch(const msgpack_object *o) {
    char buf[8];
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        pdc_f_cstr(o, buf, sizeof buf);
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < pdc_f_count(o); i++)
            s_touch(pdc_f_at(o, i));
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_touch(&o->via.map.ptr[i].key);
            (void) pdc_f_f(&o->via.map.ptr[i].val);
        }
        break;
    default:
        break;
    }
}

/* pdc_proto_check accepted data for schema: msgpack-c must then unpack
   one item per token, each matching its token, and nothing more. */
static void s_check_schema(const uint8_t *data, size_t size, const char *schema) {
    char err[256] = "";
    if (pdc_proto_check(data, size, schema, err, sizeof err) != 0) {
        if (!err[0])
            s_broken("refused without a reason", schema);
        return;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    for (const char *s = schema; *s; s += sample_token_len(s)) {
        if (msgpack_unpack_next(&u, (const char *) data, size, &off) != MSGPACK_UNPACK_SUCCESS)
            s_broken("checked bytes msgpack-c cannot unpack", schema);
        if (!sample_tree_matches(&u.data, s))
            s_broken("checked tree does not match its token", s);
        s_touch(&u.data);
    }
    if (off != size)
        s_broken("checked bytes have trailing bytes", schema);
    msgpack_unpacked_destroy(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256] = "";
    pdc_msg_t msg;
    if (pdc_msg_decode(data, size, &msg, err, sizeof err) == 0) {
        const msgpack_object *root = &msg.unpacked_.data;
        if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 3 + msg.nfields ||
            msg.fields != root->via.array.ptr + 3)
            s_broken("header array does not hold the fields", NULL);
        if (!sample_msg_matches(&msg))
            s_broken("accepted tree does not match the schema", pdc_msg_name(msg.type));
        for (uint32_t i = 0; i < msg.nfields; i++)
            s_touch(&msg.fields[i]);
        pdc_msg_free(&msg);
        pdc_msg_free(&msg);
    } else {
        if (!err[0])
            s_broken("refused without a reason", NULL);
        pdc_msg_free(&msg); /* harmless after a refusal */
    }

    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++)
        s_check_schema(data, size, pdc_msg_schema(t));
    s_check_schema(data, size, PDC_TASK_SCHEMA);
    s_check_schema(data, size, PDC_RESULT_SCHEMA);
    return 0;
}
