/*  test_codec: pdc's wire protocol (pdc_proto) without any sockets.

    Round trips: every message type, built with pdc_enc_* from the samples
    in fuzz/proto_samples.h, decodes to the same type, request id and field
    values.  Refusals: each way a header frame can break its schema is
    refused with an error that names the field.  Hostile input: every
    prefix, every single-byte mutation, huge claimed counts, deep nesting,
    extension types and the never-used byte 0xc1 are refused (or, for
    mutations, decoded into a tree that still matches the schema) without
    a crash; the sanitizer build runs the same tests under ASan and UBSan,
    and every hostile buffer is its own exact-size allocation so that a
    read past its end is caught.
*/
#include "fuzz/proto_samples.h"
#include "pdc_id.h"
#include "pdc_proto.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pdc_enc_t g_enc;
static char g_err[256];

static void s_setup(void) {
    pdc_enc_init(&g_enc);
    g_err[0] = '\0';
}

static void s_teardown(void) {
    pdc_enc_free(&g_enc);
}

TestSuite(roundtrip, .init = s_setup, .fini = s_teardown);
TestSuite(refused, .init = s_setup, .fini = s_teardown);
TestSuite(hostile, .init = s_setup, .fini = s_teardown);
TestSuite(encoder, .init = s_setup, .fini = s_teardown);
TestSuite(check, .init = s_setup, .fini = s_teardown);

/* ---- Helpers ------------------------------------------------------------ */

/* Decode the encoder's bytes; the test fails with the decoder's reason if
   they are refused, or if the tree does not match the schema. */
static void s_decode(pdc_msg_t *m, unsigned type, uint64_t reqid) {
    int rc = pdc_msg_decode(g_enc.buf.data, g_enc.buf.size, m, g_err, sizeof g_err);
    cr_assert_eq(rc, 0, "refused: %s", g_err);
    cr_assert_eq(m->type, type);
    cr_assert_eq(m->request_id, reqid);
    cr_assert(sample_msg_matches(m));
}

/* Decoding data must fail with an error that contains fragment.  data is
   copied into an exact-size buffer so ASan sees any read past its end. */
static void s_refused_bytes(const void *data, size_t size, const char *fragment) {
    uint8_t *copy = malloc(size ? size : 1);
    cr_assert_not_null(copy);
    if (size)
        memcpy(copy, data, size);
    pdc_msg_t m;
    g_err[0] = '\0';
    int rc = pdc_msg_decode(copy, size, &m, g_err, sizeof g_err);
    if (rc == 0)
        pdc_msg_free(&m);
    free(copy);
    cr_assert_eq(rc, -1, "accepted; wanted \"%s\"", fragment);
    cr_assert_not_null(strstr(g_err, fragment), "error \"%s\" lacks \"%s\"", g_err, fragment);
}

static void s_refused(const char *fragment) {
    s_refused_bytes(g_enc.buf.data, g_enc.buf.size, fragment);
}

/* Start a header frame by hand: an array of nitems (3 + fields). */
static void s_header(uint32_t nitems, uint64_t version, unsigned type, uint64_t reqid) {
    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, nitems);
    pdc_enc_u(&g_enc, version);
    pdc_enc_u(&g_enc, type);
    pdc_enc_u(&g_enc, reqid);
}

static void s_assert_str(const msgpack_object *o, const char *want) {
    size_t n;
    const char *p = pdc_f_str(o, &n);
    /* msgpack-c gives an empty string a NULL pointer. */
    cr_assert(n == strlen(want) && (n == 0 || memcmp(p, want, n) == 0), "got \"%.*s\", want \"%s\"",
              (int) n, p, want);
}

static void s_assert_id(const msgpack_object *o, const uint8_t *want) {
    cr_assert_eq(o->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq(o->via.bin.size, 16);
    cr_assert(pdc_id_eq(pdc_f_id(o), want));
}

/* The map {} field o holds exactly these (name, value) pairs, in order. */
static void s_assert_resource(const msgpack_object *o, uint32_t i, const char *name, double value) {
    cr_assert_lt(i, pdc_f_count(o));
    s_assert_str(&o->via.map.ptr[i].key, name);
    cr_assert_eq(pdc_f_f(&o->via.map.ptr[i].val), value);
}

/* One task spec: [id, library, function, [args...]]; args follow. */
static void s_task_head(const uint8_t *id, const char *fn, size_t nargs) {
    pdc_enc_array(&g_enc, PDC_TASK_NFIELDS);
    pdc_enc_id(&g_enc, id);
    pdc_enc_s(&g_enc, SAMPLE_LIB);
    pdc_enc_s(&g_enc, fn);
    pdc_enc_array(&g_enc, nargs);
}

static void s_inline_arg(int64_t v) {
    pdc_enc_array(&g_enc, PDC_ARG_NFIELDS);
    pdc_enc_u(&g_enc, PDC_ARG_INLINE);
    pdc_enc_i(&g_enc, v);
}

/* LEASE_REQUEST's fields after cpus, flags and resources: the default
   strategy, no affinity node, no label selector, no locality node, the
   C runtime, no job. */
static void s_lease_request_tail(void) {
    pdc_enc_u(&g_enc, 0);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
}

/* ---- Round trips -------------------------------------------------------- */

Test(roundtrip, error_carries_code_and_message) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_ERROR, 7);
    s_decode(&m, PDC_MSG_ERROR, 7);
    cr_assert_eq(m.nfields, PDC_ERROR_NFIELDS);
    cr_assert_eq(pdc_f_i(&m.fields[PDC_ERROR_CODE]), SAMPLE_ERROR_CODE);
    s_assert_str(&m.fields[PDC_ERROR_MESSAGE], SAMPLE_ERROR_TEXT);
    pdc_msg_free(&m);
}

Test(roundtrip, messages_without_fields) {
    static const unsigned types[] = {PDC_MSG_PING,    PDC_MSG_PONG,       PDC_MSG_STATUS,
                                     PDC_MSG_BLOCKED, PDC_MSG_UNBLOCKED,  PDC_MSG_NODES,
                                     PDC_MSG_LENDING, PDC_MSG_NOT_LENDING};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        pdc_msg_t m;
        sample_encode(&g_enc, types[i], 100 + i);
        cr_assert_eq(g_enc.buf.size, 4, "%s is [1, type, id]", pdc_msg_name(types[i]));
        s_decode(&m, types[i], 100 + i);
        cr_assert_eq(m.nfields, 0);
        pdc_msg_free(&m);
    }
}

Test(roundtrip, status_reply_pairs) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_STATUS_REPLY, 1);
    s_decode(&m, PDC_MSG_STATUS_REPLY, 1);
    cr_assert_eq(m.nfields, PDC_STATUS_REPLY_NFIELDS);
    const msgpack_object *pairs = &m.fields[PDC_STATUS_REPLY_STATS];
    cr_assert_eq(pdc_f_count(pairs), 2);
    s_assert_str(pdc_f_at(pdc_f_at(pairs, 0), PDC_STAT_NAME), "tasks_run");
    cr_assert_eq(pdc_f_f(pdc_f_at(pdc_f_at(pairs, 0), PDC_STAT_VALUE)), 12.0);
    s_assert_str(pdc_f_at(pdc_f_at(pairs, 1), PDC_STAT_NAME), "load");
    cr_assert_eq(pdc_f_f(pdc_f_at(pdc_f_at(pairs, 1), PDC_STAT_VALUE)), 0.5);
    pdc_msg_free(&m);
}

Test(roundtrip, register_and_registered) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_REGISTER, 2);
    s_decode(&m, PDC_MSG_REGISTER, 2);
    cr_assert_eq(m.nfields, PDC_REGISTER_NFIELDS);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_REGISTER_KIND]), 1);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_REGISTER_PID]), SAMPLE_PID);
    s_assert_id(&m.fields[PDC_REGISTER_CLIENT_ID], SAMPLE_ID_A);
    s_assert_str(&m.fields[PDC_REGISTER_ENDPOINT], SAMPLE_IPC);
    s_assert_str(&m.fields[PDC_REGISTER_PUBLIC_ENDPOINT], SAMPLE_ENDPOINT);
    s_assert_str(&m.fields[PDC_REGISTER_NODE], "");
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_REGISTERED, 2);
    s_decode(&m, PDC_MSG_REGISTERED, 2);
    cr_assert_eq(m.nfields, PDC_REGISTERED_NFIELDS);
    s_assert_str(&m.fields[PDC_REGISTERED_NODE], SAMPLE_NODE);
    s_assert_str(&m.fields[PDC_REGISTERED_STORE_DIR], SAMPLE_STORE_DIR);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_REGISTERED_INLINE_MAX]), SAMPLE_INLINE_LIMIT);
    s_assert_str(&m.fields[PDC_REGISTERED_SESSION_DIR], SAMPLE_SESSION_DIR);
    s_assert_str(&m.fields[PDC_REGISTERED_HEAD_ENDPOINT], SAMPLE_IPC);
    s_assert_str(&m.fields[PDC_REGISTERED_NODE_IP], "10.0.0.7");
    pdc_msg_free(&m);
}

Test(roundtrip, lease_request_grant_return) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_LEASE_REQUEST, 3);
    s_decode(&m, PDC_MSG_LEASE_REQUEST, 3);
    cr_assert_eq(m.nfields, PDC_LEASE_REQUEST_NFIELDS);
    cr_assert_eq(pdc_f_f(&m.fields[PDC_LEASE_REQUEST_CPUS]), SAMPLE_CPUS);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_LEASE_REQUEST_FLAGS]), PDC_LEASE_ACTOR);
    cr_assert_eq(pdc_f_count(&m.fields[PDC_LEASE_REQUEST_RESOURCES]), 1);
    s_assert_resource(&m.fields[PDC_LEASE_REQUEST_RESOURCES], 0, "GPU", 0.5);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_LEASE_REQUEST_STRATEGY]), 2); /* node affinity */
    s_assert_str(&m.fields[PDC_LEASE_REQUEST_AFFINITY_NODE], SAMPLE_NODE);
    s_assert_str(&m.fields[PDC_LEASE_REQUEST_LABEL_SELECTOR], "tier=edge");
    s_assert_str(&m.fields[PDC_LEASE_REQUEST_ARG_NODE], "");
    s_assert_str(&m.fields[PDC_LEASE_REQUEST_RUNTIME], SAMPLE_RUNTIME);
    s_assert_str(&m.fields[PDC_LEASE_REQUEST_JOB], "job-1");
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_LEASE_GRANT, 3);
    s_decode(&m, PDC_MSG_LEASE_GRANT, 3);
    cr_assert_eq(m.nfields, PDC_LEASE_GRANT_NFIELDS);
    s_assert_id(&m.fields[PDC_LEASE_GRANT_WORKER_ID], SAMPLE_ID_B);
    s_assert_str(&m.fields[PDC_LEASE_GRANT_ENDPOINT], SAMPLE_IPC);
    s_assert_str(&m.fields[PDC_LEASE_GRANT_PUBLIC_ENDPOINT], SAMPLE_ENDPOINT);
    s_assert_str(&m.fields[PDC_LEASE_GRANT_NODE], SAMPLE_NODE);
    s_assert_str(&m.fields[PDC_LEASE_GRANT_GPU_IDS], "0,1");
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_LEASE_RETURN, 3);
    s_decode(&m, PDC_MSG_LEASE_RETURN, 3);
    cr_assert_eq(m.nfields, PDC_LEASE_RETURN_NFIELDS);
    s_assert_id(&m.fields[PDC_LEASE_RETURN_WORKER_ID], SAMPLE_ID_B);
    pdc_msg_free(&m);
}

Test(roundtrip, worker_died_with_negative_status) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_WORKER_DIED, 4);
    s_decode(&m, PDC_MSG_WORKER_DIED, 4);
    cr_assert_eq(m.nfields, PDC_WORKER_DIED_NFIELDS);
    s_assert_id(&m.fields[PDC_WORKER_DIED_WORKER_ID], SAMPLE_ID_A);
    cr_assert_eq(pdc_f_i(&m.fields[PDC_WORKER_DIED_STATUS]), SAMPLE_DIED_STATUS);
    pdc_msg_free(&m);
}

Test(roundtrip, lease_redirect_names_node_and_raylet) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_LEASE_REDIRECT, 11);
    s_decode(&m, PDC_MSG_LEASE_REDIRECT, 11);
    cr_assert_eq(m.nfields, PDC_LEASE_REDIRECT_NFIELDS);
    s_assert_str(&m.fields[PDC_LEASE_REDIRECT_NODE], SAMPLE_NODE);
    s_assert_str(&m.fields[PDC_LEASE_REDIRECT_ENDPOINT], SAMPLE_ENDPOINT);
    pdc_msg_free(&m);
}

Test(roundtrip, object_pull_and_ready) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_OBJECT_PULL, 12);
    s_decode(&m, PDC_MSG_OBJECT_PULL, 12);
    cr_assert_eq(m.nfields, PDC_OBJECT_PULL_NFIELDS);
    s_assert_id(&m.fields[PDC_OBJECT_PULL_OBJECT_ID], SAMPLE_ID_A);
    s_assert_str(&m.fields[PDC_OBJECT_PULL_NODE], SAMPLE_NODE);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_PULL_REPLICA]), 1);
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_OBJECT_READY, 12);
    s_decode(&m, PDC_MSG_OBJECT_READY, 12);
    cr_assert_eq(m.nfields, PDC_OBJECT_READY_NFIELDS);
    s_assert_id(&m.fields[PDC_OBJECT_READY_OBJECT_ID], SAMPLE_ID_A);
    pdc_msg_free(&m);
}

Test(roundtrip, object_fetch_and_chunk) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_OBJECT_FETCH, 13);
    s_decode(&m, PDC_MSG_OBJECT_FETCH, 13);
    cr_assert_eq(m.nfields, PDC_OBJECT_FETCH_NFIELDS);
    s_assert_id(&m.fields[PDC_OBJECT_FETCH_OBJECT_ID], SAMPLE_ID_A);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_FETCH_OFFSET]), SAMPLE_STORED_SIZE);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_FETCH_LENGTH]), SAMPLE_STORED_SIZE);
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_OBJECT_CHUNK, 13);
    s_decode(&m, PDC_MSG_OBJECT_CHUNK, 13);
    cr_assert_eq(m.nfields, PDC_OBJECT_CHUNK_NFIELDS);
    s_assert_id(&m.fields[PDC_OBJECT_CHUNK_OBJECT_ID], SAMPLE_ID_A);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_CHUNK_TYPE]), 4);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_CHUNK_TOTAL_SIZE]), 2 * SAMPLE_STORED_SIZE);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_CHUNK_OFFSET]), SAMPLE_STORED_SIZE);
    pdc_msg_free(&m);
}

Test(roundtrip, object_free_with_forward_flag_and_ids) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_OBJECT_FREE, 14);
    s_decode(&m, PDC_MSG_OBJECT_FREE, 14);
    cr_assert_eq(m.nfields, PDC_OBJECT_FREE_NFIELDS);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_FREE_FORWARD]), 1);
    const msgpack_object *ids = &m.fields[PDC_OBJECT_FREE_OBJECT_IDS];
    cr_assert_eq(pdc_f_count(ids), 2);
    s_assert_id(pdc_f_at(ids, 0), SAMPLE_ID_A);
    s_assert_id(pdc_f_at(ids, 1), SAMPLE_ID_B);
    pdc_msg_free(&m);

    /* No ids at all is a valid (empty) free. */
    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_FREE, 14);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_array(&g_enc, 0);
    s_decode(&m, PDC_MSG_OBJECT_FREE, 14);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_OBJECT_FREE_FORWARD]), 0);
    cr_assert_eq(pdc_f_count(&m.fields[PDC_OBJECT_FREE_OBJECT_IDS]), 0);
    pdc_msg_free(&m);
}

Test(roundtrip, push_tasks_with_every_argument_kind) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_PUSH_TASKS, 5);
    s_decode(&m, PDC_MSG_PUSH_TASKS, 5);
    cr_assert_eq(m.nfields, PDC_PUSH_TASKS_NFIELDS);
    const msgpack_object *tasks = &m.fields[PDC_PUSH_TASKS_TASKS];
    cr_assert_eq(pdc_f_count(tasks), 3);

    const msgpack_object *add = pdc_f_at(tasks, 0);
    s_assert_id(pdc_f_at(add, PDC_TASK_ID), SAMPLE_ID_A);
    s_assert_str(pdc_f_at(add, PDC_TASK_LIBRARY), SAMPLE_LIB);
    s_assert_str(pdc_f_at(add, PDC_TASK_FUNCTION), "add");
    const msgpack_object *args = pdc_f_at(add, PDC_TASK_ARGS);
    cr_assert_eq(pdc_f_count(args), 2);
    for (uint32_t i = 0; i < 2; i++) {
        cr_assert_eq(pdc_f_u(pdc_f_at(pdc_f_at(args, i), PDC_ARG_KIND)), PDC_ARG_INLINE);
        cr_assert_eq(pdc_f_i(pdc_f_at(pdc_f_at(args, i), PDC_ARG_VALUE)), i + 1);
    }

    const msgpack_object *echo = pdc_f_at(tasks, 1);
    s_assert_id(pdc_f_at(echo, PDC_TASK_ID), SAMPLE_ID_B);
    s_assert_str(pdc_f_at(echo, PDC_TASK_FUNCTION), "echo");
    args = pdc_f_at(echo, PDC_TASK_ARGS);
    cr_assert_eq(pdc_f_count(args), 8);
    const msgpack_object *v[8];
    for (uint32_t i = 0; i < 8; i++)
        v[i] = pdc_f_at(pdc_f_at(args, i), PDC_ARG_VALUE);
    cr_assert_eq(v[0]->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq(v[1]->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert(v[1]->via.boolean);
    cr_assert_eq(v[2]->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    cr_assert_eq(pdc_f_i(v[2]), -3);
    cr_assert_eq(v[3]->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    cr_assert_eq(pdc_f_u(v[3]), SAMPLE_BIG_U);
    cr_assert_eq(v[4]->type, MSGPACK_OBJECT_FLOAT64);
    cr_assert_eq(pdc_f_f(v[4]), 1.5);
    cr_assert_eq(v[5]->type, MSGPACK_OBJECT_STR);
    s_assert_str(v[5], "hi");
    cr_assert_eq(v[6]->type, MSGPACK_OBJECT_BIN);
    size_t n;
    const uint8_t *b = pdc_f_bin(v[6], &n);
    cr_assert(n == 3 && b[0] == 0x00 && b[1] == 0xc1 && b[2] == 0xff);
    cr_assert_eq(pdc_f_u(pdc_f_at(pdc_f_at(args, 7), PDC_ARG_KIND)), PDC_ARG_STORED);
    s_assert_id(v[7], SAMPLE_ID_A);

    const msgpack_object *noop = pdc_f_at(tasks, 2);
    s_assert_id(pdc_f_at(noop, PDC_TASK_ID), SAMPLE_ID_C);
    s_assert_str(pdc_f_at(noop, PDC_TASK_FUNCTION), "noop");
    cr_assert_eq(pdc_f_count(pdc_f_at(noop, PDC_TASK_ARGS)), 0);
    pdc_msg_free(&m);
}

Test(roundtrip, task_results_of_every_kind) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_TASK_RESULTS, 6);
    s_decode(&m, PDC_MSG_TASK_RESULTS, 6);
    cr_assert_eq(m.nfields, PDC_TASK_RESULTS_NFIELDS);
    s_assert_str(&m.fields[PDC_TASK_RESULTS_NODE], SAMPLE_NODE);
    const msgpack_object *rs = &m.fields[PDC_TASK_RESULTS_RESULTS];
    cr_assert_eq(pdc_f_count(rs), 3);

    const msgpack_object *r = pdc_f_at(rs, 0);
    s_assert_id(pdc_f_at(r, PDC_RESULT_TASK_ID), SAMPLE_ID_A);
    cr_assert_eq(pdc_f_i(pdc_f_at(r, PDC_RESULT_STATUS)), 0);
    cr_assert_eq(pdc_f_u(pdc_f_at(r, PDC_RESULT_KIND)), PDC_RES_INLINE);
    cr_assert_eq(pdc_f_i(pdc_f_at(r, PDC_RESULT_VALUE)), 3);

    r = pdc_f_at(rs, 1);
    s_assert_id(pdc_f_at(r, PDC_RESULT_TASK_ID), SAMPLE_ID_B);
    cr_assert_eq(pdc_f_u(pdc_f_at(r, PDC_RESULT_KIND)), PDC_RES_STORED);
    cr_assert_eq(pdc_f_u(pdc_f_at(r, PDC_RESULT_VALUE)), SAMPLE_STORED_SIZE);

    r = pdc_f_at(rs, 2);
    s_assert_id(pdc_f_at(r, PDC_RESULT_TASK_ID), SAMPLE_ID_C);
    cr_assert_eq(pdc_f_i(pdc_f_at(r, PDC_RESULT_STATUS)), SAMPLE_FAIL_CODE);
    cr_assert_eq(pdc_f_u(pdc_f_at(r, PDC_RESULT_KIND)), PDC_RES_ERROR);
    cr_assert_eq(pdc_f_at(r, PDC_RESULT_VALUE)->type, MSGPACK_OBJECT_NIL);
    s_assert_str(pdc_f_at(r, PDC_RESULT_FUNCTION), SAMPLE_LIB ":fail");
    s_assert_str(pdc_f_at(r, PDC_RESULT_MESSAGE), "boom");
    pdc_msg_free(&m);
}

Test(roundtrip, node_register_and_heartbeat_resources) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_NODE_REGISTER, 8);
    s_decode(&m, PDC_MSG_NODE_REGISTER, 8);
    cr_assert_eq(m.nfields, PDC_NODE_REGISTER_NFIELDS);
    s_assert_str(&m.fields[PDC_NODE_REGISTER_NODE], SAMPLE_NODE);
    s_assert_str(&m.fields[PDC_NODE_REGISTER_ENDPOINT], SAMPLE_ENDPOINT);
    cr_assert_eq(pdc_f_count(&m.fields[PDC_NODE_REGISTER_RESOURCES]), 3);
    s_assert_resource(&m.fields[PDC_NODE_REGISTER_RESOURCES], 0, "CPU", 8);
    s_assert_resource(&m.fields[PDC_NODE_REGISTER_RESOURCES], 1, "GPU", 1);
    s_assert_resource(&m.fields[PDC_NODE_REGISTER_RESOURCES], 2, "memory", 1.5e9);
    s_assert_str(&m.fields[PDC_NODE_REGISTER_LABELS], "tier=edge,zone=a");
    s_assert_str(&m.fields[PDC_NODE_REGISTER_LOCAL_ENDPOINT], SAMPLE_IPC);
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_NODE_REGISTERED, 8);
    s_decode(&m, PDC_MSG_NODE_REGISTERED, 8);
    cr_assert_eq(m.nfields, PDC_NODE_REGISTERED_NFIELDS);
    cr_assert_eq(pdc_f_u(&m.fields[PDC_NODE_REGISTERED_HEARTBEAT_MS]), SAMPLE_HEARTBEAT_MS);
    pdc_msg_free(&m);

    sample_encode(&g_enc, PDC_MSG_HEARTBEAT, 9);
    s_decode(&m, PDC_MSG_HEARTBEAT, 9);
    cr_assert_eq(m.nfields, PDC_HEARTBEAT_NFIELDS);
    s_assert_str(&m.fields[PDC_HEARTBEAT_NODE], SAMPLE_NODE);
    cr_assert_eq(pdc_f_count(&m.fields[PDC_HEARTBEAT_AVAILABLE]), 1);
    s_assert_resource(&m.fields[PDC_HEARTBEAT_AVAILABLE], 0, "CPU", 6.0);
    pdc_msg_free(&m);
}

Test(roundtrip, nodes_reply_with_empty_maps) {
    pdc_msg_t m;
    sample_encode(&g_enc, PDC_MSG_NODES_REPLY, 10);
    s_decode(&m, PDC_MSG_NODES_REPLY, 10);
    cr_assert_eq(m.nfields, PDC_NODES_REPLY_NFIELDS);
    const msgpack_object *nodes = &m.fields[PDC_NODES_REPLY_NODES];
    cr_assert_eq(pdc_f_count(nodes), 2);
    const msgpack_object *n0 = pdc_f_at(nodes, 0), *n1 = pdc_f_at(nodes, 1);
    cr_assert_eq(pdc_f_count(n0), PDC_NODE_ROW_NFIELDS);
    cr_assert_eq(pdc_f_count(n1), PDC_NODE_ROW_NFIELDS);
    s_assert_str(pdc_f_at(n0, PDC_NODE_ROW_ID), SAMPLE_NODE);
    s_assert_str(pdc_f_at(n0, PDC_NODE_ROW_ENDPOINT), SAMPLE_ENDPOINT);
    cr_assert_eq(pdc_f_u(pdc_f_at(n0, PDC_NODE_ROW_ALIVE)), 1);
    s_assert_resource(pdc_f_at(n0, PDC_NODE_ROW_TOTAL), 0, "CPU", 8);
    s_assert_resource(pdc_f_at(n0, PDC_NODE_ROW_AVAILABLE), 0, "CPU", 6);
    s_assert_str(pdc_f_at(n0, PDC_NODE_ROW_LABELS), "tier=cloud");
    s_assert_str(pdc_f_at(n0, PDC_NODE_ROW_LOCAL_ENDPOINT), SAMPLE_IPC);
    s_assert_str(pdc_f_at(n1, PDC_NODE_ROW_ID), "node-2");
    s_assert_str(pdc_f_at(n1, PDC_NODE_ROW_ENDPOINT), "tcp://10.0.0.3:5555");
    cr_assert_eq(pdc_f_u(pdc_f_at(n1, PDC_NODE_ROW_ALIVE)), 0);
    cr_assert_eq(pdc_f_count(pdc_f_at(n1, PDC_NODE_ROW_TOTAL)), 0);
    cr_assert_eq(pdc_f_count(pdc_f_at(n1, PDC_NODE_ROW_AVAILABLE)), 0);
    s_assert_str(pdc_f_at(n1, PDC_NODE_ROW_LABELS), "");
    s_assert_str(pdc_f_at(n1, PDC_NODE_ROW_LOCAL_ENDPOINT), "");
    pdc_msg_free(&m);
}

Test(roundtrip, every_type_and_the_largest_request_id) {
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        pdc_msg_t m;
        sample_encode(&g_enc, t, UINT64_MAX);
        s_decode(&m, t, UINT64_MAX);
        pdc_msg_free(&m);
        pdc_msg_free(&m); /* a second free is harmless */
    }
}

Test(roundtrip, f_cstr_truncates_and_ends_with_nul) {
    pdc_msg_t m;
    char small[5], big[64];
    sample_encode(&g_enc, PDC_MSG_ERROR, 1);
    s_decode(&m, PDC_MSG_ERROR, 1);
    cr_assert_str_eq(pdc_f_cstr(&m.fields[PDC_ERROR_MESSAGE], small, sizeof small), "no s");
    cr_assert_str_eq(pdc_f_cstr(&m.fields[PDC_ERROR_MESSAGE], big, sizeof big), SAMPLE_ERROR_TEXT);
    pdc_msg_free(&m);
}

/* ---- Refusals that name the field --------------------------------------- */

Test(refused, wrong_field_type) {
    s_header(12, 1, PDC_MSG_LEASE_REQUEST, 0);
    pdc_enc_s(&g_enc, "two");
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_lease_request_tail();
    s_refused("LEASE_REQUEST field 0: expected number, got string");

    /* The fields after the resources are checked too. */
    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 0);
    pdc_enc_f(&g_enc, 1);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_i(&g_enc, -2);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    s_refused("LEASE_REQUEST field 3: expected unsigned integer, got negative "
              "integer");

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 0);
    pdc_enc_f(&g_enc, 1);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_s(&g_enc, "");
    pdc_enc_nil(&g_enc);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    s_refused("LEASE_REQUEST field 5: expected string, got nil");

    pdc_enc_begin(&g_enc, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_i(&g_enc, -1);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    s_refused("REGISTER field 1: expected unsigned integer, got negative "
              "integer");

    pdc_enc_begin(&g_enc, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&g_enc, 2);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_b(&g_enc, SAMPLE_NODE, strlen(SAMPLE_NODE));
    s_refused("REGISTER field 5: expected string, got binary");

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_GRANT, 0);
    pdc_enc_id(&g_enc, SAMPLE_ID_B);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_u(&g_enc, 5555);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, "");
    s_refused("LEASE_GRANT field 2: expected string, got unsigned integer");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_FETCH, 0);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_i(&g_enc, -1);
    pdc_enc_u(&g_enc, 10);
    s_refused("OBJECT_FETCH field 1: expected unsigned integer, got negative "
              "integer");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_CHUNK, 0);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_u(&g_enc, 10);
    pdc_enc_f(&g_enc, 0.5);
    s_refused("OBJECT_CHUNK field 3: expected unsigned integer, got float");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_FREE, 0);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    s_refused("OBJECT_FREE field 1: expected array, got binary");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_FREE, 0);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_array(&g_enc, 2);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, "not an id");
    s_refused("OBJECT_FREE field 1[1]: expected 16-byte id, got string");

    pdc_enc_begin(&g_enc, PDC_MSG_ERROR, 0);
    pdc_enc_i(&g_enc, -1);
    pdc_enc_b(&g_enc, "x", 1);
    s_refused("ERROR field 1: expected string, got binary");

    pdc_enc_begin(&g_enc, PDC_MSG_WORKER_DIED, 0);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_f(&g_enc, -9.0);
    s_refused("WORKER_DIED field 1: expected integer, got float");

    pdc_enc_begin(&g_enc, PDC_MSG_NODE_REGISTERED, 0);
    msgpack_pack_true(&g_enc.pk);
    s_refused("NODE_REGISTERED field 0: expected unsigned integer, got bool");

    pdc_enc_begin(&g_enc, PDC_MSG_HEARTBEAT, 0);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_array(&g_enc, 0);
    s_refused("HEARTBEAT field 1: expected map, got array");

    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_nil(&g_enc);
    s_refused("PUSH_TASKS field 0: expected array, got nil");
}

Test(refused, wrong_field_count) {
    s_header(13, 1, PDC_MSG_LEASE_REQUEST, 0);
    pdc_enc_f(&g_enc, 1);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_lease_request_tail();
    pdc_enc_f(&g_enc, 1);
    s_refused("LEASE_REQUEST: expected 9 fields, got 10");

    /* A request in the old three-field form is refused, not misread. */
    s_header(6, 1, PDC_MSG_LEASE_REQUEST, 0);
    pdc_enc_f(&g_enc, 1);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_refused("LEASE_REQUEST: expected 9 fields, got 3");

    s_header(4, 1, PDC_MSG_PING, 0);
    pdc_enc_nil(&g_enc);
    s_refused("PING: expected 0 fields, got 1");

    s_header(3, 1, PDC_MSG_REGISTER, 0);
    s_refused("REGISTER: expected 6 fields, got 0");

    /* The old four-field REGISTER, without public endpoint and node. */
    s_header(7, 1, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    s_refused("REGISTER: expected 6 fields, got 4");

    s_header(6, 1, PDC_MSG_OBJECT_CHUNK, 0);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_u(&g_enc, 10);
    s_refused("OBJECT_CHUNK: expected 4 fields, got 3");
}

Test(refused, header_that_is_not_a_header) {
    s_refused_bytes("", 0, "header: empty or invalid msgpack");

    g_enc.buf.size = 0;
    pdc_enc_map(&g_enc, 0);
    s_refused("header: expected array, got map");

    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, 2);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, PDC_MSG_PING);
    s_refused("header: needs version, type and request id");

    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, 3);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, PDC_MSG_PING);
    pdc_enc_i(&g_enc, -1);
    s_refused("header: request id is not an unsigned integer");
}

Test(refused, wrong_version) {
    s_header(3, 2, PDC_MSG_PING, 0);
    s_refused("header: unsupported protocol version");
    s_header(3, 0, PDC_MSG_PING, 0);
    s_refused("header: unsupported protocol version");

    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, 3);
    pdc_enc_s(&g_enc, "1");
    pdc_enc_u(&g_enc, PDC_MSG_PING);
    pdc_enc_u(&g_enc, 0);
    s_refused("header: unsupported protocol version");
}

Test(refused, unknown_type) {
    s_header(3, 1, PDC_MSG_COUNT_, 0);
    s_refused("header: unknown message type");
    s_header(3, 1, 255, 0);
    s_refused("header: unknown message type");

    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, 3);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_i(&g_enc, -1);
    pdc_enc_u(&g_enc, 0);
    s_refused("header: unknown message type");
}

Test(refused, id_not_16_bytes) {
    static const uint8_t id17[17] = {0};
    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_RETURN, 0);
    pdc_enc_b(&g_enc, id17, 15);
    s_refused("LEASE_RETURN field 0: id is not 16 bytes");

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_RETURN, 0);
    pdc_enc_b(&g_enc, id17, 17);
    s_refused("LEASE_RETURN field 0: id is not 16 bytes");

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_RETURN, 0);
    pdc_enc_sn(&g_enc, "0123456789abcdef", 16);
    s_refused("LEASE_RETURN field 0: expected 16-byte id, got string");

    pdc_enc_begin(&g_enc, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_b(&g_enc, id17, 0);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, "");
    s_refused("REGISTER field 2: id is not 16 bytes");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_PULL, 0);
    pdc_enc_b(&g_enc, id17, 17);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    s_refused("OBJECT_PULL field 0: id is not 16 bytes");

    pdc_enc_begin(&g_enc, PDC_MSG_OBJECT_FREE, 0);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_array(&g_enc, 2);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_b(&g_enc, id17, 15);
    s_refused("OBJECT_FREE field 1[1]: id is not 16 bytes");
}

Test(refused, tuple_of_wrong_length) {
    pdc_enc_begin(&g_enc, PDC_MSG_STATUS_REPLY, 0);
    pdc_enc_array(&g_enc, 2);
    pdc_enc_array(&g_enc, 2), pdc_enc_s(&g_enc, "a"), pdc_enc_u(&g_enc, 1);
    pdc_enc_array(&g_enc, 3), pdc_enc_s(&g_enc, "b"), pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 2);
    s_refused("STATUS_REPLY field 0[1]: expected a tuple of 2, got 3 items");

    pdc_enc_begin(&g_enc, PDC_MSG_NODES_REPLY, 0);
    pdc_enc_array(&g_enc, 1);
    pdc_enc_array(&g_enc, 4);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_map(&g_enc, 0);
    s_refused("NODES_REPLY field 0[0]: expected a tuple of 7, got 4 items");

    /* A node in the old five-item form, without labels and local
       endpoint, after a good one. */
    pdc_enc_begin(&g_enc, PDC_MSG_NODES_REPLY, 0);
    pdc_enc_array(&g_enc, 2);
    pdc_enc_array(&g_enc, 7);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_s(&g_enc, "");
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_array(&g_enc, 5);
    pdc_enc_s(&g_enc, "node-2");
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_refused("NODES_REPLY field 0[1]: expected a tuple of 7, got 5 items");

    pdc_enc_begin(&g_enc, PDC_MSG_TASK_RESULTS, 0);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_array(&g_enc, 1);
    pdc_enc_s(&g_enc, "not a tuple");
    s_refused("TASK_RESULTS field 1[0]: expected array, got string");
}

Test(refused, push_tasks_argument_pair_of_wrong_length) {
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 2);
    s_task_head(SAMPLE_ID_A, "add", 2);
    s_inline_arg(1);
    s_inline_arg(2);
    s_task_head(SAMPLE_ID_B, "add", 2);
    s_inline_arg(1);
    pdc_enc_array(&g_enc, 1), pdc_enc_u(&g_enc, PDC_ARG_INLINE);
    s_refused("PUSH_TASKS field 0[1].3[1]: expected a tuple of 2, got 1 "
              "items");
}

Test(refused, push_tasks_argument_kind_not_unsigned) {
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    s_task_head(SAMPLE_ID_A, "add", 2);
    s_inline_arg(1);
    pdc_enc_array(&g_enc, 2), pdc_enc_s(&g_enc, "0"), pdc_enc_i(&g_enc, 2);
    s_refused("PUSH_TASKS field 0[0].3[1].0: expected unsigned integer, got "
              "string");
}

Test(refused, push_tasks_argument_value_not_scalar) {
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    s_task_head(SAMPLE_ID_A, "add", 1);
    pdc_enc_array(&g_enc, 2), pdc_enc_u(&g_enc, 0);
    pdc_enc_array(&g_enc, 1), pdc_enc_i(&g_enc, 1);
    s_refused("PUSH_TASKS field 0[0].3[0].1: expected scalar, got array");

    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    s_task_head(SAMPLE_ID_A, "add", 1);
    pdc_enc_array(&g_enc, 2), pdc_enc_u(&g_enc, 0), pdc_enc_map(&g_enc, 0);
    s_refused("PUSH_TASKS field 0[0].3[0].1: expected scalar, got map");
}

Test(refused, push_tasks_arguments_not_an_array) {
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    pdc_enc_array(&g_enc, 4);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_LIB);
    pdc_enc_s(&g_enc, "add");
    pdc_enc_nil(&g_enc);
    s_refused("PUSH_TASKS field 0[0].3: expected array, got nil");
}

Test(refused, map_with_non_string_key) {
    pdc_enc_begin(&g_enc, PDC_MSG_HEARTBEAT, 0);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_map(&g_enc, 1);
    pdc_enc_u(&g_enc, 1), pdc_enc_f(&g_enc, 2.0);
    s_refused("HEARTBEAT field 1{0}: expected string, got unsigned integer");

    pdc_enc_begin(&g_enc, PDC_MSG_NODES_REPLY, 0);
    pdc_enc_array(&g_enc, 1);
    pdc_enc_array(&g_enc, 7);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_u(&g_enc, 1);
    pdc_enc_map(&g_enc, 0);
    pdc_enc_map(&g_enc, 2);
    pdc_enc_s(&g_enc, "CPU"), pdc_enc_f(&g_enc, 2.0);
    pdc_enc_b(&g_enc, "GPU", 3), pdc_enc_f(&g_enc, 1.0);
    pdc_enc_s(&g_enc, "tier=cloud");
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    s_refused("NODES_REPLY field 0[0].4{1}: expected string, got binary");
}

Test(refused, map_with_non_number_value) {
    pdc_enc_begin(&g_enc, PDC_MSG_NODE_REGISTER, 0);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_map(&g_enc, 1);
    pdc_enc_s(&g_enc, "CPU"), pdc_enc_s(&g_enc, "8");
    pdc_enc_s(&g_enc, "tier=edge");
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    s_refused("NODE_REGISTER field 2{0}: expected number, got string");

    /* Labels are one string, not a map. */
    pdc_enc_begin(&g_enc, PDC_MSG_NODE_REGISTER, 0);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_map(&g_enc, 1);
    pdc_enc_s(&g_enc, "CPU"), pdc_enc_u(&g_enc, 8);
    pdc_enc_map(&g_enc, 1);
    pdc_enc_s(&g_enc, "tier"), pdc_enc_u(&g_enc, 1);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    s_refused("NODE_REGISTER field 3: expected string, got map");
}

Test(refused, trailing_bytes) {
    sample_encode(&g_enc, PDC_MSG_PUSH_TASKS, 1);
    pdc_enc_nil(&g_enc);
    s_refused("PUSH_TASKS: trailing bytes after the fields");

    /* Two messages in one frame. */
    sample_encode(&g_enc, PDC_MSG_PING, 1);
    pdc_enc_raw(&g_enc, g_enc.buf.data, g_enc.buf.size);
    s_refused("PING: trailing bytes after the fields");
}

/* ---- Hostile input ------------------------------------------------------ */

/* Decode a private exact-size copy of data; 0 accepted, -1 refused.  An
   accepted message must match its schema; a refused one must say why. */
static int s_decode_copy(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    cr_assert_not_null(copy);
    memcpy(copy, data, size);
    pdc_msg_t m;
    g_err[0] = '\0';
    int rc = pdc_msg_decode(copy, size, &m, g_err, sizeof g_err);
    if (rc == 0) {
        cr_assert(sample_msg_matches(&m), "accepted a tree that breaks the "
                                          "schema");
        pdc_msg_free(&m);
    } else {
        cr_assert_eq(rc, -1);
        cr_assert_neq(g_err[0], '\0', "refused without a reason");
    }
    free(copy);
    return rc;
}

Test(hostile, every_prefix_of_push_tasks_is_refused) {
    sample_encode(&g_enc, PDC_MSG_PUSH_TASKS, 77);
    size_t size = g_enc.buf.size;
    uint8_t *full = malloc(size);
    memcpy(full, g_enc.buf.data, size);
    cr_assert_gt(size, 100);
    for (size_t n = 0; n < size; n++)
        cr_assert_eq(s_decode_copy(full, n), -1,
                     "prefix of %zu/%zu bytes "
                     "accepted",
                     n, size);
    cr_assert_eq(s_decode_copy(full, size), 0);
    free(full);
}

Test(hostile, every_prefix_of_every_type_is_refused) {
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        sample_encode(&g_enc, t, 1);
        for (size_t n = 0; n < g_enc.buf.size; n++)
            cr_assert_eq(s_decode_copy((uint8_t *) g_enc.buf.data, n), -1, "%s prefix %zu accepted",
                         pdc_msg_name(t), n);
    }
}

/* A header frame by hand: fixarray of 3 + nfields, version 1, the type,
   request id 0; the fields' bytes follow. */
#define HDR(nfields, type) (uint8_t)(0x93 + (nfields)), 0x01, (type), 0x00
#define ZERO16             0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0

Test(hostile, huge_claimed_counts_are_refused_before_unpacking) {
    /* clang-format off */
    static const uint8_t header_array32[] = {
        0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00};
    static const uint8_t array32[] = {HDR(1, PDC_MSG_PUSH_TASKS),
        0xdd, 0xff, 0xff, 0xff, 0xff, 0x94, 0x94};
    static const uint8_t map32[] = {HDR(2, PDC_MSG_HEARTBEAT),
        0xa1, 'n', 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x', 0x01};
    static const uint8_t str32[] = {HDR(2, PDC_MSG_ERROR),
        0x00, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    static const uint8_t bin32[] = {HDR(1, PDC_MSG_LEASE_RETURN),
        0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    /* [[id, "", "", [[0, ext32 of 4 GiB]]]] */
    static const uint8_t ext32[] = {HDR(1, PDC_MSG_PUSH_TASKS),
        0x91, 0x94, 0xc4, 16, ZERO16, 0xa0, 0xa0, 0x91, 0x92, 0x00,
        0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* One byte short: a bin32 id claiming 16 bytes with 15 left. */
    static const uint8_t bin32_short[] = {HDR(1, PDC_MSG_LEASE_RETURN),
        0xc6, 0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    /* clang-format on */
    static const struct {
        const uint8_t *p;
        size_t n;
        const char *why;
    } cases[] = {
        {header_array32, sizeof header_array32, "header: empty or invalid msgpack"},
        {array32, sizeof array32, "PUSH_TASKS field 0: truncated or invalid msgpack"},
        {map32, sizeof map32, "HEARTBEAT field 1: truncated or invalid msgpack"},
        {str32, sizeof str32, "ERROR field 1: truncated or invalid msgpack"},
        {bin32, sizeof bin32, "LEASE_RETURN field 0: truncated or invalid msgpack"},
        {ext32, sizeof ext32, "PUSH_TASKS field 0[0].3[0].1: truncated or invalid msgpack"},
        {bin32_short, sizeof bin32_short, "LEASE_RETURN field 0: truncated or invalid msgpack"},
    };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int round = 0; round < 2000; round++)
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            /* The walker's own message proves msgpack-c never saw it. */
            s_refused_bytes(cases[i].p, cases[i].n, cases[i].why);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    cr_assert_lt(s, 5.0, "14000 refusals took %.2f s", s);
}

Test(hostile, every_single_byte_mutation_decodes_or_is_refused) {
    unsigned long accepted = 0, refused = 0;
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        sample_encode(&g_enc, t, 0x1234);
        size_t size = g_enc.buf.size;
        uint8_t *buf = malloc(size);
        memcpy(buf, g_enc.buf.data, size);
        for (size_t i = 0; i < size; i++) {
            uint8_t orig = buf[i];
            for (unsigned v = 0; v < 256; v++) {
                if (v == orig)
                    continue;
                buf[i] = (uint8_t) v;
                if (s_decode_copy(buf, size) == 0)
                    accepted++;
                else
                    refused++;
            }
            buf[i] = orig;
        }
        free(buf);
    }
    /* Both outcomes happen (changing a string's byte keeps it valid). */
    cr_assert_gt(accepted, 0);
    cr_assert_gt(refused, 0);
    cr_log_info("mutations: %lu accepted, %lu refused", accepted, refused);
}

Test(hostile, nesting_deeper_than_the_limit_is_refused) {
    /* An array of arrays ... of one 0: depth d has d arrays. */
    uint8_t bytes[PDC_PROTO_MAX_DEPTH + 2];
    char schema[PDC_PROTO_MAX_DEPTH + 3];
    for (int d = PDC_PROTO_MAX_DEPTH; d <= PDC_PROTO_MAX_DEPTH + 1; d++) {
        memset(bytes, 0x91, (size_t) d);
        bytes[d] = 0x00;
        memset(schema, '*', (size_t) d);
        schema[d] = 'u';
        schema[d + 1] = '\0';
        int rc = pdc_proto_check(bytes, (size_t) d + 1, schema, g_err, sizeof g_err);
        if (d <= PDC_PROTO_MAX_DEPTH) {
            cr_assert_eq(rc, 0, "depth %d refused: %s", d, g_err);
        } else {
            cr_assert_eq(rc, -1, "depth %d accepted", d);
            cr_assert_not_null(strstr(g_err, "nested too deep"), "%s", g_err);
        }
    }
}

Test(hostile, input_never_nests_deeper_than_its_schema) {
    /* 10000 nested arrays where a scalar argument belongs: refused at the
       first level the schema does not have, before msgpack-c sees it. */
    enum { DEEP = 10000 };
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    s_task_head(SAMPLE_ID_A, "add", 1);
    pdc_enc_array(&g_enc, 2), pdc_enc_u(&g_enc, 0);
    for (int i = 0; i < DEEP; i++)
        pdc_enc_array(&g_enc, 1);
    pdc_enc_nil(&g_enc);
    s_refused("PUSH_TASKS field 0[0].3[0].1: expected scalar, got array");

    g_enc.buf.size = 0;
    for (int i = 0; i < DEEP; i++)
        pdc_enc_array(&g_enc, 1);
    pdc_enc_nil(&g_enc);
    s_refused("header: needs version, type and request id");
}

Test(hostile, extension_types_are_refused) {
    /* clang-format off */
    static const uint8_t exts[][12] = {
        {0xd4, 0x01, 0x00},                         /* fixext 1 */
        {0xd5, 0x01, 0x00, 0x00},                   /* fixext 2 */
        {0xd6, 0x01, 0x00, 0x00, 0x00, 0x00},       /* fixext 4 */
        {0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0},       /* fixext 8 */
        {0xc7, 0x01, 0x01, 0x00},                   /* ext 8 */
        {0xc8, 0x00, 0x01, 0x01, 0x00},             /* ext 16 */
        {0xc9, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00}, /* ext 32 */
    };
    /* clang-format on */
    static const size_t lens[] = {3, 4, 6, 10, 4, 5, 7};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
        pdc_enc_array(&g_enc, 1);
        s_task_head(SAMPLE_ID_A, "add", 1);
        pdc_enc_array(&g_enc, 2), pdc_enc_u(&g_enc, 0);
        pdc_enc_raw(&g_enc, exts[i], lens[i]);
        s_refused("PUSH_TASKS field 0[0].3[0].1: expected scalar, got "
                  "extension");

        pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 0);
        pdc_enc_raw(&g_enc, exts[i], lens[i]);
        pdc_enc_u(&g_enc, 0);
        pdc_enc_map(&g_enc, 0);
        s_lease_request_tail();
        s_refused("LEASE_REQUEST field 0: expected number, got extension");
    }
    /* fixext 16 where the request id belongs. */
    static const uint8_t fixext16[] = {0x93, 0x01, 0x01, 0xd8, 0x01, ZERO16};
    s_refused_bytes(fixext16, sizeof fixext16, "header: request id is not an unsigned integer");
}

Test(hostile, byte_0xc1_is_refused) {
    pdc_enc_begin(&g_enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&g_enc, 1);
    s_task_head(SAMPLE_ID_A, "add", 1);
    pdc_enc_array(&g_enc, 2), pdc_enc_u(&g_enc, 0);
    pdc_enc_raw(&g_enc, "\xc1", 1);
    s_refused("PUSH_TASKS field 0[0].3[0].1: truncated or invalid msgpack");

    s_refused_bytes("\xc1", 1, "header: empty or invalid msgpack");
    s_refused_bytes("\x93\xc1\x00\x00", 4, "header: unsupported protocol version");
}

Test(hostile, signed_encoding_of_non_negative_is_unsigned) {
    /* NODE_REGISTERED's 'u' field as int8, int16, int32, int64. */
    static const uint8_t as_int[][9] = {
        {0xd0, 0x05},
        {0xd1, 0x00, 0x05},
        {0xd2, 0x00, 0x00, 0x00, 0x05},
        {0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05},
    };
    static const size_t lens[] = {2, 3, 5, 9};
    for (size_t i = 0; i < 4; i++) {
        pdc_msg_t m;
        pdc_enc_begin(&g_enc, PDC_MSG_NODE_REGISTERED, 9);
        pdc_enc_raw(&g_enc, as_int[i], lens[i]);
        s_decode(&m, PDC_MSG_NODE_REGISTERED, 9);
        cr_assert_eq(m.fields[PDC_NODE_REGISTERED_HEARTBEAT_MS].type,
                     MSGPACK_OBJECT_POSITIVE_INTEGER);
        cr_assert_eq(pdc_f_u(&m.fields[PDC_NODE_REGISTERED_HEARTBEAT_MS]), 5);
        pdc_msg_free(&m);
    }
    /* Version, type and request id as signed integers too. */
    /* clang-format off */
    static const uint8_t header[] = {0x93, 0xd0, 0x01, 0xd1, 0x00,
                                     PDC_MSG_PING,
                                     0xd3, 0, 0, 0, 0, 0, 0, 0, 42};
    /* clang-format on */
    pdc_msg_t m;
    cr_assert_eq(pdc_msg_decode(header, sizeof header, &m, g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(m.type, PDC_MSG_PING);
    cr_assert_eq(m.request_id, 42);
    pdc_msg_free(&m);

    /* Negative values stay negative, in every width. */
    static const uint8_t negative[][9] = {
        {0xd0, 0xff},
        {0xd1, 0x80, 0x00},
        {0xd2, 0xff, 0xff, 0xff, 0xfb},
        {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0},
        {0xe0},
    };
    static const size_t nlens[] = {2, 3, 5, 9, 1};
    for (size_t i = 0; i < 5; i++) {
        pdc_enc_begin(&g_enc, PDC_MSG_NODE_REGISTERED, 9);
        pdc_enc_raw(&g_enc, negative[i], nlens[i]);
        s_refused("NODE_REGISTERED field 0: expected unsigned integer, got "
                  "negative integer");
    }
    pdc_enc_begin(&g_enc, PDC_MSG_WORKER_DIED, 9);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_raw(&g_enc, negative[3], 9);
    s_decode(&m, PDC_MSG_WORKER_DIED, 9);
    cr_assert_eq(pdc_f_i(&m.fields[PDC_WORKER_DIED_STATUS]), INT64_MIN);
    pdc_msg_free(&m);
}

Test(hostile, float32_and_integers_are_numbers) {
    pdc_msg_t m;
    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 1);
    pdc_enc_raw(&g_enc, "\xca\x40\x20\x00\x00", 5); /* 2.5f */
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_lease_request_tail();
    s_decode(&m, PDC_MSG_LEASE_REQUEST, 1);
    cr_assert_eq(pdc_f_f(&m.fields[PDC_LEASE_REQUEST_CPUS]), 2.5);
    pdc_msg_free(&m);

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 1);
    pdc_enc_i(&g_enc, -4);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_lease_request_tail();
    s_decode(&m, PDC_MSG_LEASE_REQUEST, 1);
    cr_assert_eq(pdc_f_f(&m.fields[PDC_LEASE_REQUEST_CPUS]), -4.0);
    pdc_msg_free(&m);

    pdc_enc_begin(&g_enc, PDC_MSG_LEASE_REQUEST, 1);
    pdc_enc_u(&g_enc, 3);
    pdc_enc_u(&g_enc, 0);
    pdc_enc_map(&g_enc, 0);
    s_lease_request_tail();
    s_decode(&m, PDC_MSG_LEASE_REQUEST, 1);
    cr_assert_eq(pdc_f_f(&m.fields[PDC_LEASE_REQUEST_CPUS]), 3.0);
    pdc_msg_free(&m);
}

/* ---- Encoder ------------------------------------------------------------ */

Test(encoder, raw_batching_equals_encoding_inline) {
    pdc_enc_t batch, inline_;
    pdc_enc_init(&batch);
    pdc_enc_init(&inline_);

    /* What a worker does: each result into the batch as it finishes... */
    sample_result_inline(&batch);
    sample_result_stored(&batch);
    sample_result_error(&batch);
    pdc_enc_begin(&g_enc, PDC_MSG_TASK_RESULTS, 3);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    pdc_enc_array(&g_enc, 3);
    pdc_enc_raw(&g_enc, batch.buf.data, batch.buf.size);

    /* ...equals the same message encoded in one go. */
    sample_encode(&inline_, PDC_MSG_TASK_RESULTS, 3);
    cr_assert_eq(g_enc.buf.size, inline_.buf.size);
    cr_assert_eq(memcmp(g_enc.buf.data, inline_.buf.data, g_enc.buf.size), 0);

    pdc_msg_t m;
    s_decode(&m, PDC_MSG_TASK_RESULTS, 3);
    cr_assert_eq(pdc_f_count(&m.fields[PDC_TASK_RESULTS_RESULTS]), 3);
    pdc_msg_free(&m);
    pdc_enc_free(&batch);
    pdc_enc_free(&inline_);
}

Test(encoder, begin_restarts_the_buffer) {
    sample_encode(&g_enc, PDC_MSG_PUSH_TASKS, 1);
    sample_encode(&g_enc, PDC_MSG_PING, 2);
    cr_assert_eq(g_enc.buf.size, 4);
    pdc_msg_t m;
    s_decode(&m, PDC_MSG_PING, 2);
    pdc_msg_free(&m);
}

Test(encoder, null_string_encodes_empty) {
    pdc_msg_t m;
    pdc_enc_begin(&g_enc, PDC_MSG_ERROR, 1);
    pdc_enc_i(&g_enc, 1);
    pdc_enc_s(&g_enc, NULL);
    s_decode(&m, PDC_MSG_ERROR, 1);
    s_assert_str(&m.fields[PDC_ERROR_MESSAGE], "");
    char buf[8] = "junk";
    cr_assert_str_eq(pdc_f_cstr(&m.fields[PDC_ERROR_MESSAGE], buf, sizeof buf), "");
    pdc_msg_free(&m);
}

Test(encoder, names_and_schemas_of_every_type) {
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        const char *name = pdc_msg_name(t), *schema = pdc_msg_schema(t);
        cr_assert_not_null(name);
        cr_assert_not_null(schema);
        cr_assert_gt(strlen(name), 0);
        for (unsigned u = 0; u < t; u++)
            cr_assert_str_neq(name, pdc_msg_name(u));
    }
    cr_assert_str_eq(pdc_msg_name(PDC_MSG_ERROR), "ERROR");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_ERROR), "is");
    cr_assert_str_eq(pdc_msg_name(PDC_MSG_LEASE_REQUEST), "LEASE_REQUEST");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_LEASE_REQUEST), "fu{}usssss");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_PING), "");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_PUSH_TASKS), "*(dss*(uv))");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_TASK_RESULTS), "s*(diuvssu)");
    cr_assert_str_eq(pdc_msg_name(PDC_MSG_NODES_REPLY), "NODES_REPLY");
    cr_assert_str_eq(pdc_msg_schema(PDC_MSG_NODES_REPLY), "*(ssu{}{}ss)");

    /* The messages the multi-node extension changed or added. */
    static const struct {
        unsigned type;
        const char *name, *schema;
    } ext[] = {
        {PDC_MSG_REGISTER, "REGISTER", "uudsss"},
        {PDC_MSG_LEASE_GRANT, "LEASE_GRANT", "dssss"},
        {PDC_MSG_WORKER_LEASE, "WORKER_LEASE", "s"},
        {PDC_MSG_NODE_REGISTER, "NODE_REGISTER", "ss{}ss"},
        {PDC_MSG_LEASE_REDIRECT, "LEASE_REDIRECT", "ss"},
        {PDC_MSG_OBJECT_PULL, "OBJECT_PULL", "dsu"},
        {PDC_MSG_OBJECT_READY, "OBJECT_READY", "d"},
        {PDC_MSG_OBJECT_FETCH, "OBJECT_FETCH", "duu"},
        {PDC_MSG_OBJECT_CHUNK, "OBJECT_CHUNK", "duuu"},
        {PDC_MSG_OBJECT_FREE, "OBJECT_FREE", "u*d"},
        {PDC_MSG_JOB_SUBMIT, "JOB_SUBMIT", "ss*s*s{}su"},
        {PDC_MSG_JOB_TABLE, "JOB_TABLE", "*(ssusuuuisu)"},
        {PDC_MSG_JOB_DONE, "JOB_DONE", "(ssusuuuisu)"},
        {PDC_MSG_JOB_START, "JOB_START", "ss*s*s"},
        {PDC_MSG_JOB_LOG, "JOB_LOG", "ss"},
        {PDC_MSG_JOB_EXITED, "JOB_EXITED", "sis"},
    };
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        cr_assert_str_eq(pdc_msg_name(ext[i].type), ext[i].name);
        cr_assert_str_eq(pdc_msg_schema(ext[i].type), ext[i].schema, "%s", ext[i].name);
    }

    cr_assert_null(pdc_msg_name(PDC_MSG_COUNT_));
    cr_assert_null(pdc_msg_schema(PDC_MSG_COUNT_));
    cr_assert_null(pdc_msg_name(PDC_MSG_COUNT_ + 1));
    cr_assert_null(pdc_msg_name(UINT_MAX));
    cr_assert_null(pdc_msg_schema(UINT_MAX));
}

/* Every field of every message and tuple is declared with exactly one
   schema item, so a list's names count its schema's fields and
   PDC_NAME_FIELD is the field's place (pdc_proto.h). */
#define S_FIELD_ROW(name, token) {#name, token, PDC_##name},
#define S_FIELDS_OF(msg)         PDC_##msg##_FIELDS(S_FIELD_ROW)
static const struct {
    const char *name, *token;
    unsigned index;
} s_fields[] = {PDC_MESSAGES(S_FIELDS_OF) PDC_ARG_FIELDS(S_FIELD_ROW) PDC_TASK_FIELDS(S_FIELD_ROW)
                    PDC_RESULT_FIELDS(S_FIELD_ROW) PDC_NODE_ROW_FIELDS(S_FIELD_ROW)
                        PDC_STAT_FIELDS(S_FIELD_ROW)};
#undef S_FIELDS_OF
#undef S_FIELD_ROW

static size_t s_count_items(const char *schema, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i += sample_token_len(schema + i))
        n++;
    return n;
}

Test(encoder, every_field_is_one_schema_item) {
    for (size_t i = 0; i < sizeof s_fields / sizeof *s_fields; i++)
        cr_assert_eq(sample_token_len(s_fields[i].token), strlen(s_fields[i].token),
                     "%s is declared with \"%s\", more than one item", s_fields[i].name,
                     s_fields[i].token);
}

Test(encoder, field_names_count_each_schema) {
    static const struct {
        const char *name, *schema;
        size_t nfields;
    } msgs[] = {
#define S_MSG_ROW(name) {#name, PDC_SCHEMA_OF(name), PDC_##name##_NFIELDS},
        PDC_MESSAGES(S_MSG_ROW)
#undef S_MSG_ROW
    };
    cr_assert_eq(sizeof msgs / sizeof *msgs, PDC_MSG_COUNT_);
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        const char *schema = pdc_msg_schema(t);
        cr_assert_str_eq(msgs[t].name, pdc_msg_name(t));
        cr_assert_str_eq(msgs[t].schema, schema);
        cr_assert_eq(s_count_items(schema, strlen(schema)), msgs[t].nfields,
                     "%s: %zu names for schema \"%s\"", msgs[t].name, msgs[t].nfields, schema);
    }
    static const struct {
        const char *name, *schema;
        size_t nfields;
    } tuples[] = {
        {"ARG", PDC_ARG_SCHEMA, PDC_ARG_NFIELDS},
        {"TASK", PDC_TASK_SCHEMA, PDC_TASK_NFIELDS},
        {"RESULT", PDC_RESULT_SCHEMA, PDC_RESULT_NFIELDS},
        {"NODE_ROW", PDC_NODE_ROW_SCHEMA, PDC_NODE_ROW_NFIELDS},
        {"STAT", PDC_STAT_SCHEMA, PDC_STAT_NFIELDS},
    };
    for (size_t i = 0; i < sizeof tuples / sizeof *tuples; i++) {
        const char *s = tuples[i].schema;
        size_t len = strlen(s);
        cr_assert(len >= 2 && s[0] == '(' && s[len - 1] == ')' && sample_token_len(s) == len,
                  "%s: \"%s\" is not one tuple", tuples[i].name, s);
        cr_assert_eq(s_count_items(s + 1, len - 2), tuples[i].nfields, "%s: %zu names for \"%s\"",
                     tuples[i].name, tuples[i].nfields, s);
    }
    /* A few by hand, as documented. */
    cr_assert_eq(PDC_LEASE_GRANT_GPU_IDS, 4);
    cr_assert_eq(PDC_LEASE_REQUEST_ARG_NODE, 6);
    cr_assert_eq(PDC_RESULT_BUSY_US, 6);
    cr_assert_eq(PDC_NODE_ROW_LOCAL_ENDPOINT, 6);
    cr_assert_eq(PDC_PING_NFIELDS, 0);
}

/* ---- pdc_proto_check alone ---------------------------------------------- */

Test(check, one_token_schemas) {
    g_enc.buf.size = 0;
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "d", g_err, sizeof g_err), 0, "%s",
                 g_err);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "s", g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "expected string, got binary");

    g_enc.buf.size = 0;
    pdc_enc_array(&g_enc, 1);
    pdc_enc_array(&g_enc, 3), pdc_enc_u(&g_enc, 0), pdc_enc_nil(&g_enc);
    pdc_enc_nil(&g_enc);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "*(uv)", g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "[0]: expected a tuple of 2, got 3 items");

    g_enc.buf.size = 0;
    sample_tasks(&g_enc);
    cr_assert_eq(
        pdc_proto_check(g_enc.buf.data, g_enc.buf.size, PDC_TASK_SCHEMA, g_err, sizeof g_err), -1);
    cr_assert_eq(
        pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "*" PDC_TASK_SCHEMA, g_err, sizeof g_err),
        0, "%s", g_err);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size - 1, "*" PDC_TASK_SCHEMA, g_err,
                                 sizeof g_err),
                 -1);
}

Test(check, every_token_of_a_schema_is_checked) {
    /* A message's fields, without the header: REGISTER's "uudsss" is six
       items. */
    g_enc.buf.size = 0;
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 2);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "uudsss", g_err, sizeof g_err), 0,
                 "%s", g_err);

    /* One item is not six. */
    g_enc.buf.size = 0;
    pdc_enc_u(&g_enc, 1);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "uudsss", g_err, sizeof g_err),
                 -1);
    cr_assert_str_eq(g_err, "field 1: truncated or invalid msgpack");

    /* Nor are four (the old REGISTER): the fifth is missing. */
    g_enc.buf.size = 0;
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 2);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "uudsss", g_err, sizeof g_err),
                 -1);
    cr_assert_str_eq(g_err, "field 4: truncated or invalid msgpack");

    /* The third item is checked against the third token, the last
       against the last. */
    g_enc.buf.size = 0;
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 2);
    pdc_enc_s(&g_enc, "not an id");
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_s(&g_enc, SAMPLE_NODE);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "uudsss", g_err, sizeof g_err),
                 -1);
    cr_assert_str_eq(g_err, "field 2: expected 16-byte id, got string");

    g_enc.buf.size = 0;
    pdc_enc_u(&g_enc, 1);
    pdc_enc_u(&g_enc, 2);
    pdc_enc_id(&g_enc, SAMPLE_ID_A);
    pdc_enc_s(&g_enc, SAMPLE_IPC);
    pdc_enc_s(&g_enc, SAMPLE_ENDPOINT);
    pdc_enc_u(&g_enc, 3);
    cr_assert_eq(pdc_proto_check(g_enc.buf.data, g_enc.buf.size, "uudsss", g_err, sizeof g_err),
                 -1);
    cr_assert_str_eq(g_err, "field 5: expected string, got unsigned integer");

    /* The empty schema is no items. */
    cr_assert_eq(pdc_proto_check("", 0, "", g_err, sizeof g_err), 0, "%s", g_err);
    cr_assert_eq(pdc_proto_check("\xc0", 1, "", g_err, sizeof g_err), -1);
    cr_assert_str_eq(g_err, "trailing bytes");
}

Test(check, error_buffer_may_be_absent_or_tiny) {
    char tiny[4];
    cr_assert_eq(pdc_proto_check("\xc1", 1, "u", NULL, 0), -1);
    cr_assert_eq(pdc_proto_check("\xc1", 1, "u", tiny, sizeof tiny), -1);
    cr_assert_str_eq(tiny, "tru");
    pdc_msg_t m;
    cr_assert_eq(pdc_msg_decode("\xc1", 1, &m, NULL, 0), -1);
    pdc_msg_free(&m);
}
