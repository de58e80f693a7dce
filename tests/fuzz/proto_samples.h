/*  proto_samples: one valid message of every type, and a check that a
    decoded message's tree really has the types its schema promises.

    Shared by tests/test_codec.c (round trips, truncation, mutation),
    tests/fuzz/make_corpus.c (the fuzzer's seed corpus) and
    tests/fuzz/fuzz_decode.c (the invariant "accepted => tree matches").
    Everything is static inline: each user includes it once.

    The samples use every schema feature somewhere: negative integers,
    every scalar kind as a 'v' argument, stored and inline arguments,
    empty and non-empty arrays and maps, and all three result kinds.
*/
#ifndef PROTO_SAMPLES_H_INCLUDED
#define PROTO_SAMPLES_H_INCLUDED

#include "pdc_proto.h"

#include <stdint.h>
#include <string.h>

/* Three distinct ids. */
static const uint8_t SAMPLE_ID_A[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t SAMPLE_ID_B[16] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7,
                                        0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};
static const uint8_t SAMPLE_ID_C[16] = {0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};

#define SAMPLE_NODE         "node-1"
#define SAMPLE_RUNTIME      "/usr/bin/python3\t-c\tpass"
#define SAMPLE_ENDPOINT     "tcp://10.0.0.2:5555"
#define SAMPLE_IPC          "ipc:///tmp/pdc-test/w1"
#define SAMPLE_LIB          "libpdc_test_tasks.so"
#define SAMPLE_ERROR_CODE   (-42)
#define SAMPLE_ERROR_TEXT   "no such worker"
#define SAMPLE_PID          4242u
#define SAMPLE_STORE_DIR    "/dev/shm/pdc-store"
#define SAMPLE_SESSION_DIR  "/tmp/pdc-test/session"
#define SAMPLE_INLINE_LIMIT 102400u
#define SAMPLE_CPUS         2.5
#define SAMPLE_DIED_STATUS  (-9)
#define SAMPLE_HEARTBEAT_MS 1000u
#define SAMPLE_STORED_SIZE  1048576u
#define SAMPLE_FAIL_CODE    (-5)
#define SAMPLE_CODE_HASH    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SAMPLE_BIG_U        0xfedcba9876543210ull

/* The three TASK_RESULTS entries, one per result kind. */
static inline void sample_result_inline(pdc_enc_t *e) {
    pdc_enc_array(e, 7);
    pdc_enc_id(e, SAMPLE_ID_A);
    pdc_enc_i(e, 0);
    pdc_enc_u(e, PDC_RES_INLINE);
    pdc_enc_i(e, 3);
    pdc_enc_s(e, "");
    pdc_enc_s(e, "");
    pdc_enc_u(e, 250);
}
static inline void sample_result_stored(pdc_enc_t *e) {
    pdc_enc_array(e, 7);
    pdc_enc_id(e, SAMPLE_ID_B);
    pdc_enc_i(e, 0);
    pdc_enc_u(e, PDC_RES_STORED);
    pdc_enc_u(e, SAMPLE_STORED_SIZE);
    pdc_enc_s(e, "");
    pdc_enc_s(e, "");
    pdc_enc_u(e, 250);
}
static inline void sample_result_error(pdc_enc_t *e) {
    pdc_enc_array(e, 7);
    pdc_enc_id(e, SAMPLE_ID_C);
    pdc_enc_i(e, SAMPLE_FAIL_CODE);
    pdc_enc_u(e, PDC_RES_ERROR);
    pdc_enc_nil(e);
    pdc_enc_s(e, SAMPLE_LIB ":fail");
    pdc_enc_s(e, "boom");
    pdc_enc_u(e, 250);
}

/* The PUSH_TASKS tasks: add(1, 2); echo(every scalar kind, a stored
   object); noop() with no arguments. */
static inline void sample_tasks(pdc_enc_t *e) {
    static const uint8_t bytes[3] = {0x00, 0xc1, 0xff};
    pdc_enc_array(e, 3);

    pdc_enc_array(e, 4);
    pdc_enc_id(e, SAMPLE_ID_A);
    pdc_enc_s(e, SAMPLE_LIB);
    pdc_enc_s(e, "add");
    pdc_enc_array(e, 2);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_i(e, 1);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_i(e, 2);

    pdc_enc_array(e, 4);
    pdc_enc_id(e, SAMPLE_ID_B);
    pdc_enc_s(e, SAMPLE_LIB);
    pdc_enc_s(e, "echo");
    pdc_enc_array(e, 8);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_nil(e);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE);
    msgpack_pack_true(&e->pk);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_i(e, -3);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_u(e, SAMPLE_BIG_U);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_f(e, 1.5);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_s(e, "hi");
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_b(e, bytes, sizeof bytes);
    pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_STORED), pdc_enc_id(e, SAMPLE_ID_A);

    pdc_enc_array(e, 4);
    pdc_enc_id(e, SAMPLE_ID_C);
    pdc_enc_s(e, SAMPLE_LIB);
    pdc_enc_s(e, "noop");
    pdc_enc_array(e, 0);
}

/* A job's row in the job table. */
static inline void sample_job_row(pdc_enc_t *e) {
    pdc_enc_array(e, 10);
    pdc_enc_s(e, "job-1");
    pdc_enc_s(e, "./run --n=3");
    pdc_enc_u(e, 1);
    pdc_enc_s(e, SAMPLE_NODE);
    pdc_enc_u(e, 1000), pdc_enc_u(e, 1001), pdc_enc_u(e, 0);
    pdc_enc_i(e, 0);
    pdc_enc_s(e, "");
    pdc_enc_u(e, SAMPLE_PID);
}

/* An actor's row in the actor table. */
static inline void sample_actor_row(pdc_enc_t *e) {
    pdc_enc_array(e, 12);
    pdc_enc_id(e, SAMPLE_ID_A);
    pdc_enc_s(e, "libcounter.so:Counter");
    pdc_enc_s(e, "default");
    pdc_enc_s(e, "counter");
    pdc_enc_u(e, 1);
    pdc_enc_s(e, SAMPLE_NODE);
    pdc_enc_s(e, "tcp://10.0.0.2:40001");
    pdc_enc_s(e, SAMPLE_NODE);
    pdc_enc_u(e, 1);
    pdc_enc_i(e, -1);
    pdc_enc_i(e, 0);
    pdc_enc_s(e, "");
}

/* One valid message of the given type into enc (which is restarted). */
static inline void sample_encode(pdc_enc_t *e, unsigned type, uint64_t reqid) {
    pdc_enc_begin(e, (pdc_msg_type) type, reqid);
    switch ((pdc_msg_type) type) {
    case PDC_MSG_ERROR:
        pdc_enc_i(e, SAMPLE_ERROR_CODE);
        pdc_enc_s(e, SAMPLE_ERROR_TEXT);
        break;
    case PDC_MSG_STATUS_REPLY:
        pdc_enc_array(e, 2);
        pdc_enc_array(e, 2), pdc_enc_s(e, "tasks_run"), pdc_enc_u(e, 12);
        pdc_enc_array(e, 2), pdc_enc_s(e, "load"), pdc_enc_f(e, 0.5);
        break;
    case PDC_MSG_REGISTER:
        pdc_enc_u(e, 1);
        pdc_enc_u(e, SAMPLE_PID);
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_s(e, SAMPLE_IPC);
        pdc_enc_s(e, SAMPLE_ENDPOINT);
        pdc_enc_s(e, "");
        break;
    case PDC_MSG_REGISTERED:
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, SAMPLE_STORE_DIR);
        pdc_enc_u(e, SAMPLE_INLINE_LIMIT);
        pdc_enc_s(e, SAMPLE_SESSION_DIR);
        pdc_enc_s(e, SAMPLE_IPC);
        pdc_enc_s(e, "10.0.0.7");
        break;
    case PDC_MSG_LEASE_REQUEST:
        pdc_enc_f(e, SAMPLE_CPUS);
        pdc_enc_u(e, PDC_LEASE_ACTOR);
        pdc_enc_map(e, 1), pdc_enc_s(e, "GPU"), pdc_enc_f(e, 0.5);
        pdc_enc_u(e, 2);
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, "tier=edge");
        pdc_enc_s(e, "");
        pdc_enc_s(e, SAMPLE_RUNTIME);
        pdc_enc_s(e, "job-1");
        break;
    case PDC_MSG_ACTOR_CREATE:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_s(e, SAMPLE_LIB);
        pdc_enc_s(e, "Counter");
        pdc_enc_array(e, 1);
        pdc_enc_array(e, 2), pdc_enc_u(e, PDC_ARG_INLINE), pdc_enc_i(e, 10);
        pdc_enc_u(e, 1);
        break;
    case PDC_MSG_ACTOR_CALLS:
        pdc_enc_id(e, SAMPLE_ID_A);
        sample_tasks(e);
        break;
    case PDC_MSG_ACTOR_KILL:
        pdc_enc_id(e, SAMPLE_ID_A);
        break;
    case PDC_MSG_ACTOR_NAME_REGISTER:
        pdc_enc_s(e, "default");
        pdc_enc_s(e, "counter");
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_s(e, SAMPLE_IPC);
        break;
    case PDC_MSG_ACTOR_NAME_DROP:
        pdc_enc_s(e, "default");
        pdc_enc_s(e, "counter");
        pdc_enc_id(e, SAMPLE_ID_A);
        break;
    case PDC_MSG_ACTOR_LOOKUP:
        pdc_enc_s(e, "default");
        pdc_enc_s(e, "counter");
        break;
    case PDC_MSG_ACTOR_INFO:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_s(e, SAMPLE_IPC);
        break;
    case PDC_MSG_LEASE_GRANT:
        pdc_enc_id(e, SAMPLE_ID_B);
        pdc_enc_s(e, SAMPLE_IPC);
        pdc_enc_s(e, SAMPLE_ENDPOINT);
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, "0,1");
        break;
    case PDC_MSG_WORKER_LEASE:
        pdc_enc_s(e, "1");
        break;
    case PDC_MSG_LEASE_REDIRECT:
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, SAMPLE_ENDPOINT);
        break;
    case PDC_MSG_OBJECT_PULL:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_u(e, 1);
        break;
    case PDC_MSG_OBJECT_READY:
        pdc_enc_id(e, SAMPLE_ID_A);
        break;
    case PDC_MSG_OBJECT_FETCH:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_u(e, SAMPLE_STORED_SIZE);
        pdc_enc_u(e, SAMPLE_STORED_SIZE);
        break;
    case PDC_MSG_OBJECT_CHUNK:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_u(e, 4);
        pdc_enc_u(e, 2 * SAMPLE_STORED_SIZE);
        pdc_enc_u(e, SAMPLE_STORED_SIZE);
        break;
    case PDC_MSG_OBJECT_FREE:
        pdc_enc_u(e, 1);
        pdc_enc_array(e, 2);
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_id(e, SAMPLE_ID_B);
        break;
    case PDC_MSG_CODE_PUT:
        pdc_enc_s(e, SAMPLE_CODE_HASH);
        pdc_enc_s(e, SAMPLE_LIB);
        break;
    case PDC_MSG_CODE_STORED:
    case PDC_MSG_CODE_GET:
    case PDC_MSG_CODE:
        pdc_enc_s(e, SAMPLE_CODE_HASH);
        break;
    case PDC_MSG_CODE_PATH:
        pdc_enc_s(e, SAMPLE_CODE_HASH);
        pdc_enc_s(e, SAMPLE_SESSION_DIR "/code/" SAMPLE_CODE_HASH ".so");
        break;
    case PDC_MSG_LEASE_RETURN:
    case PDC_MSG_OBJECT_FREE_PREFIX:
        pdc_enc_id(e, SAMPLE_ID_B);
        break;
    case PDC_MSG_WORKER_DIED:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_i(e, SAMPLE_DIED_STATUS);
        break;
    case PDC_MSG_PUSH_TASKS:
        sample_tasks(e);
        break;
    case PDC_MSG_TASK_RESULTS:
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_array(e, 3);
        sample_result_inline(e);
        sample_result_stored(e);
        sample_result_error(e);
        break;
    case PDC_MSG_NODE_REGISTER:
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, SAMPLE_ENDPOINT);
        pdc_enc_map(e, 3);
        pdc_enc_s(e, "CPU"), pdc_enc_u(e, 8);
        pdc_enc_s(e, "GPU"), pdc_enc_i(e, 1);
        pdc_enc_s(e, "memory"), pdc_enc_f(e, 1.5e9);
        pdc_enc_s(e, "tier=edge,zone=a");
        pdc_enc_s(e, SAMPLE_IPC);
        break;
    case PDC_MSG_NODE_REGISTERED:
        pdc_enc_u(e, SAMPLE_HEARTBEAT_MS);
        break;
    case PDC_MSG_HEARTBEAT:
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_map(e, 1);
        pdc_enc_s(e, "CPU"), pdc_enc_f(e, 6.0);
        break;
    case PDC_MSG_NODES_REPLY:
        pdc_enc_array(e, 2);
        pdc_enc_array(e, 7);
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_s(e, SAMPLE_ENDPOINT);
        pdc_enc_u(e, 1);
        pdc_enc_map(e, 1), pdc_enc_s(e, "CPU"), pdc_enc_u(e, 8);
        pdc_enc_map(e, 1), pdc_enc_s(e, "CPU"), pdc_enc_f(e, 6.0);
        pdc_enc_s(e, "tier=cloud");
        pdc_enc_s(e, SAMPLE_IPC);
        pdc_enc_array(e, 7);
        pdc_enc_s(e, "node-2");
        pdc_enc_s(e, "tcp://10.0.0.3:5555");
        pdc_enc_u(e, 0);
        pdc_enc_map(e, 0);
        pdc_enc_map(e, 0);
        pdc_enc_s(e, "");
        pdc_enc_s(e, "");
        break;
    case PDC_MSG_JOB_SUBMIT:
        pdc_enc_s(e, "job-1");
        pdc_enc_s(e, SAMPLE_CODE_HASH);
        pdc_enc_array(e, 2), pdc_enc_s(e, "./run"), pdc_enc_s(e, "--n=3");
        pdc_enc_array(e, 1), pdc_enc_s(e, "K=V");
        pdc_enc_map(e, 1), pdc_enc_s(e, "CPU"), pdc_enc_f(e, 1.0);
        pdc_enc_s(e, "tier=edge");
        pdc_enc_u(e, 1);
        break;
    case PDC_MSG_JOB_LIST:
    case PDC_MSG_JOB_STOP:
    case PDC_MSG_JOB_CLEANED:
        pdc_enc_s(e, "job-1");
        break;
    case PDC_MSG_JOB_LOGS:
        pdc_enc_s(e, "job-1");
        pdc_enc_u(e, 1);
        break;
    case PDC_MSG_JOB_TABLE:
        pdc_enc_array(e, 1);
        sample_job_row(e);
        break;
    case PDC_MSG_JOB_DONE:
        sample_job_row(e);
        break;
    case PDC_MSG_ACTOR_STATE:
        sample_actor_row(e);
        break;
    case PDC_MSG_ACTOR_TABLE:
        pdc_enc_array(e, 1);
        sample_actor_row(e);
        break;
    case PDC_MSG_ACTOR_RESOLVE:
    case PDC_MSG_OBJECT_WAIT:
        pdc_enc_id(e, SAMPLE_ID_A);
        break;
    case PDC_MSG_BORROW_ADD:
    case PDC_MSG_BORROW_ACK:
    case PDC_MSG_BORROW_DROP:
        pdc_enc_array(e, 2);
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_id(e, SAMPLE_ID_B);
        break;
    case PDC_MSG_OBJECT_INFO:
        pdc_enc_id(e, SAMPLE_ID_A);
        pdc_enc_u(e, PDC_RES_STORED);
        pdc_enc_u(e, 1 << 20);
        pdc_enc_s(e, SAMPLE_NODE);
        pdc_enc_i(e, 0);
        pdc_enc_s(e, "");
        pdc_enc_s(e, "");
        break;
    case PDC_MSG_JOB_START:
        pdc_enc_s(e, "job-1");
        pdc_enc_s(e, SAMPLE_CODE_HASH);
        pdc_enc_array(e, 1), pdc_enc_s(e, "./run");
        pdc_enc_array(e, 0);
        break;
    case PDC_MSG_JOB_STARTED:
        pdc_enc_s(e, "job-1");
        pdc_enc_u(e, SAMPLE_PID);
        break;
    case PDC_MSG_JOB_LOG:
        pdc_enc_s(e, "job-1");
        pdc_enc_s(e, "(node-1, pid=7) hello\n");
        break;
    case PDC_MSG_JOB_EXITED:
        pdc_enc_s(e, "job-1");
        pdc_enc_i(e, -9);
        pdc_enc_s(e, "");
        break;
    case PDC_MSG_PING:
    case PDC_MSG_PONG:
    case PDC_MSG_STATUS:
    case PDC_MSG_BLOCKED:
    case PDC_MSG_UNBLOCKED:
    case PDC_MSG_LENDING:
    case PDC_MSG_NOT_LENDING:
    case PDC_MSG_BYE:
    case PDC_MSG_KEEPALIVE:
    case PDC_MSG_NODES:
    case PDC_MSG_ACTOR_LIST:
    case PDC_MSG_COUNT_:
        break;
    }
}

/* ---- Does a decoded tree keep the schema's promise? ------------------- */

static inline size_t sample_token_len(const char *s) {
    switch (*s) {
    case '\0':
        return 0;
    case '*':
        return 1 + sample_token_len(s + 1);
    case '{':
        return 2;
    case '(': {
        size_t i = 1;
        while (s[i] && s[i] != ')')
            i += sample_token_len(s + i);
        return s[i] == ')' ? i + 1 : i;
    }
    default:
        return 1;
    }
}

/* 1 if o has the shape of schema token tok, so that the pdc_f_*
   accessors may read it without checks. */
static inline int sample_tree_matches(const msgpack_object *o, const char *tok) {
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return strchr("uifv", *tok) != NULL;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return o->via.i64 < 0 && strchr("ifv", *tok) != NULL;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return *tok == 'f' || *tok == 'v';
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_BOOLEAN:
        return *tok == 'v';
    case MSGPACK_OBJECT_STR:
        return *tok == 's' || *tok == 'v';
    case MSGPACK_OBJECT_BIN:
        return *tok == 'b' || *tok == 'v' || (*tok == 'd' && o->via.bin.size == 16);
    case MSGPACK_OBJECT_ARRAY:
        if (*tok == '*') {
            for (uint32_t i = 0; i < o->via.array.size; i++)
                if (!sample_tree_matches(&o->via.array.ptr[i], tok + 1))
                    return 0;
            return 1;
        }
        if (*tok == '(') {
            uint32_t i = 0;
            for (const char *s = tok + 1; *s && *s != ')'; s += sample_token_len(s), i++)
                if (i >= o->via.array.size || !sample_tree_matches(&o->via.array.ptr[i], s))
                    return 0;
            return i == o->via.array.size;
        }
        return 0;
    case MSGPACK_OBJECT_MAP:
        if (*tok != '{')
            return 0;
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (!sample_tree_matches(&o->via.map.ptr[i].key, "s") ||
                !sample_tree_matches(&o->via.map.ptr[i].val, "f"))
                return 0;
        return 1;
    default:
        return 0; /* extensions never pass */
    }
}

/* 1 if every field of a decoded message matches its type's schema. */
static inline int sample_msg_matches(const pdc_msg_t *msg) {
    const char *schema = pdc_msg_schema(msg->type);
    if (!schema)
        return 0;
    uint32_t i = 0;
    for (const char *s = schema; *s; s += sample_token_len(s), i++)
        if (i >= msg->nfields || !sample_tree_matches(&msg->fields[i], s))
            return 0;
    return i == msg->nfields;
}

#endif
