/*  test_badinput: malformed messages sent straight to live daemons.

    Each test starts an embedded cluster (pdc_init(NULL)), finds its
    session directory (PDC_SESSION_ROOT/session-*-PID-*), connects a raw
    ZeroMQ DEALER to the raylet's, the head's or a worker's ipc socket and
    sends bytes that no pdc module would send: empty frames, random bytes,
    wrong versions and types, wrong field types, truncated headers, huge
    claimed counts, deep nesting, too many frames.  For each it checks
    that an ERROR reply (decoded with pdc_msg_decode) arrives within
    REPLY_MS and says what was wrong, that STATUS shows the daemon counted
    it in bad_messages, and that an ordinary task still runs through the
    client afterwards.  The decoder's own unit tests are in test_codec.
*/
#include <pdc.h>

#include "pdc_proto.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Not in pdc.h: libpdc's sweep of sessions whose driver died. */
void pdc_embed_clean_stale(void);

#define WAIT_MS  10000
#define REPLY_MS 5000

static pdc_client *g_c;
static const char *g_lib;
static char g_session[4096];
static void *g_ctx;
/* Raw sockets still open, closed by the fixture if a test fails early
   (zmq_ctx_term would wait for them). */
static void *g_socks[16];

/* The session directory of the cluster this process started. */
static void s_find_session(void) {
    const char *root = getenv("PDC_SESSION_ROOT");
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%s/session-*-%d-*", root && *root ? root : "/tmp/pdc",
             (int) getpid());
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no session directory matches %s", pattern);
    cr_assert_eq(g.gl_pathc, 1, "%zu sessions match %s", g.gl_pathc, pattern);
    snprintf(g_session, sizeof g_session, "%s", g.gl_pathv[0]);
    globfree(&g);
}

static void s_start(void) {
    g_lib = getenv("PDC_TEST_LIB");
    cr_assert(g_lib, "PDC_TEST_LIB is not set (run through meson test)");
    g_c = pdc_init(NULL);
    cr_assert(g_c, "pdc_init(NULL) failed");
    s_find_session();
    g_ctx = zmq_ctx_new();
    cr_assert(g_ctx);
}

static void s_close(void *s) {
    for (int i = 0; i < 16; i++)
        if (g_socks[i] == s)
            g_socks[i] = NULL;
    zmq_close(s);
}

static void s_stop(void) {
    for (int i = 0; i < 16; i++)
        if (g_socks[i])
            s_close(g_socks[i]);
    if (g_ctx)
        zmq_ctx_term(g_ctx);
    g_ctx = NULL;
    pdc_shutdown(&g_c);
}

TestSuite(badinput, .init = s_start, .fini = s_stop, .timeout = 120);

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void) stats;
    pdc_embed_clean_stale();
}

/* ---- Raw sockets ------------------------------------------------------ */

static void *s_connect_path(const char *path) {
    void *s = zmq_socket(g_ctx, ZMQ_DEALER);
    cr_assert(s);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    int slot = 0;
    while (slot < 16 && g_socks[slot])
        slot++;
    cr_assert_lt(slot, 16, "too many raw sockets open");
    g_socks[slot] = s;
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s", path);
    cr_assert_eq(zmq_connect(s, ep), 0, "connect %s: %s", ep, zmq_strerror(zmq_errno()));
    return s;
}

static void *s_connect(const char *sockname) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", g_session, sockname);
    cr_assert_eq(access(path, F_OK), 0, "%s does not exist", path);
    return s_connect_path(path);
}

/* A worker's socket: wait until the raylet's prestarted workers bound. */
static void *s_connect_worker(void) {
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%s/w-*.sock", g_session);
    for (int waited = 0; waited < WAIT_MS; waited += 20) {
        glob_t g;
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            void *s = s_connect_path(g.gl_pathv[0]);
            globfree(&g);
            return s;
        }
        globfree(&g);
        usleep(20000);
    }
    cr_assert_fail("no worker socket appeared in %s", g_session);
    return NULL;
}

static void s_send_frames(void *s, const void *const *frames, const size_t *sizes, int n) {
    for (int i = 0; i < n; i++)
        cr_assert_geq(zmq_send(s, frames[i], sizes[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0, "send: %s",
                      zmq_strerror(zmq_errno()));
}

static void s_send(void *s, const void *data, size_t size) {
    s_send_frames(s, &data, &size, 1);
}

static void s_send_enc(void *s, const pdc_enc_t *e) {
    s_send(s, e->buf.data, e->buf.size);
}

/* One reply, decoded.  The frame stays alive in r until s_reply_free. */
typedef struct {
    zmq_msg_t frame;
    pdc_msg_t msg;
} reply_t;

static void s_recv(void *s, reply_t *r) {
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&item, 1, REPLY_MS), 1, "no reply within %d ms", REPLY_MS);
    zmq_msg_init(&r->frame);
    cr_assert_geq(zmq_msg_recv(&r->frame, s, 0), 0);
    cr_assert(!zmq_msg_more(&r->frame), "a reply of more than one frame");
    char err[256];
    cr_assert_eq(
        pdc_msg_decode(zmq_msg_data(&r->frame), zmq_msg_size(&r->frame), &r->msg, err, sizeof err),
        0, "the reply does not decode: %s", err);
}

static void s_reply_free(reply_t *r) {
    pdc_msg_free(&r->msg);
    zmq_msg_close(&r->frame);
}

/* Receive an ERROR reply; return its code and copy its message. */
static int s_expect_error(void *s, char *why, size_t len) {
    reply_t r;
    s_recv(s, &r);
    cr_assert_eq(r.msg.type, PDC_MSG_ERROR, "expected ERROR, got %s", pdc_msg_name(r.msg.type));
    int code = (int) pdc_f_i(&r.msg.fields[0]);
    pdc_f_cstr(&r.msg.fields[1], why, len);
    s_reply_free(&r);
    return code;
}

/* STATUS to a daemon; the value of row name. */
static double s_status(void *s, const char *name) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_STATUS, 77);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    reply_t r;
    s_recv(s, &r);
    cr_assert_eq(r.msg.type, PDC_MSG_STATUS_REPLY, "expected STATUS_REPLY, got %s",
                 pdc_msg_name(r.msg.type));
    cr_assert_eq(r.msg.request_id, 77, "the reply does not carry the request id");
    const msgpack_object *rows = &r.msg.fields[0];
    double v = -1;
    int found = 0;
    for (uint32_t i = 0; i < pdc_f_count(rows); i++) {
        const msgpack_object *row = pdc_f_at(rows, i);
        char key[64];
        pdc_f_cstr(pdc_f_at(row, 0), key, sizeof key);
        if (!strcmp(key, name)) {
            v = pdc_f_f(pdc_f_at(row, 1));
            found = 1;
        }
    }
    s_reply_free(&r);
    cr_assert(found, "STATUS_REPLY has no row %s", name);
    return v;
}

/* The cluster still runs an ordinary task through the client. */
static void s_assert_serving(void) {
    pdc_ref r = pdc_call(g_c, pdc_function(g_c, g_lib, "add"), PDC_I64(40), PDC_I64(2));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, WAIT_MS);
    cr_assert_eq(rc, PDC_OK, "a task after the bad input failed: %s %s", pdc_status_name(rc),
                 pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    pdc_ref_release(g_c, r);
}

/* ---- The check every case runs ---------------------------------------- */

static const char *const g_daemons[] = {"raylet.sock", "head.sock"};

/* Send frames to the raylet and to the head; each must answer ERROR
   (PDC_EPROTO) with a message containing expect, count it, and keep
   serving. */
static void s_refused_frames(const void *const *frames, const size_t *sizes, int n,
                             const char *expect) {
    for (int d = 0; d < 2; d++) {
        void *s = s_connect(g_daemons[d]);
        double before = s_status(s, "bad_messages");
        s_send_frames(s, frames, sizes, n);
        char why[512];
        int code = s_expect_error(s, why, sizeof why);
        cr_assert_eq(code, PDC_EPROTO, "%s: code %s (%s)", g_daemons[d], pdc_status_name(code),
                     why);
        cr_assert(strstr(why, expect), "%s: the error \"%s\" does not say \"%s\"", g_daemons[d],
                  why, expect);
        s_assert_serving();
        double after = s_status(s, "bad_messages");
        cr_assert_eq(after, before + 1, "%s: bad_messages went from %g to %g", g_daemons[d], before,
                     after);
        s_close(s);
    }
}

static void s_refused(const void *data, size_t size, const char *expect) {
    s_refused_frames(&data, &size, 1, expect);
}

/* A valid header of type with nfields fields, into buf; returns its size.
   The fields follow as raw bytes the caller appends. */
static size_t s_header(uint8_t *buf, unsigned type, unsigned nfields) {
    buf[0] = (uint8_t) (0x90 | (3 + nfields)); /* fixarray */
    buf[1] = PDC_PROTO_VERSION;
    buf[2] = (uint8_t) type;
    buf[3] = 9; /* request id */
    return 4;
}

/* ---- Raylet and head -------------------------------------------------- */

Test(badinput, empty_frame_is_refused) {
    s_refused("", 0, "empty or invalid msgpack");
}

Test(badinput, random_bytes_are_refused) {
    unsigned seed = 20261124;
    for (int d = 0; d < 2; d++) {
        void *s = s_connect(g_daemons[d]);
        double before = s_status(s, "bad_messages");
        int count = 64;
        for (int i = 0; i < count; i++) {
            uint8_t buf[512];
            size_t n = 1 + (size_t) rand_r(&seed) % sizeof buf;
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t) rand_r(&seed);
            s_send(s, buf, n);
            char why[512];
            cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EPROTO);
            cr_assert(*why, "an empty error message");
        }
        s_assert_serving();
        cr_assert_eq(s_status(s, "bad_messages"), before + count, "%s", g_daemons[d]);
        s_close(s);
    }
}

Test(badinput, wrong_protocol_version_is_refused) {
    uint8_t buf[] = {0x93, PDC_PROTO_VERSION + 1, PDC_MSG_PING, 0x01};
    s_refused(buf, sizeof buf, "protocol version");
}

Test(badinput, version_of_the_wrong_type_is_refused) {
    uint8_t buf[] = {0x93, 0xa1, '1', PDC_MSG_PING, 0x01};
    s_refused(buf, sizeof buf, "protocol version");
}

Test(badinput, unknown_message_type_is_refused) {
    uint8_t buf[] = {0x93, PDC_PROTO_VERSION, 0xcc, 0xc8, 0x01};
    s_refused(buf, sizeof buf, "unknown message type");
}

Test(badinput, header_that_is_not_an_array_is_refused) {
    uint8_t buf[] = {0x81, 0xa1, 'v', 0x01};
    s_refused(buf, sizeof buf, "expected array");
}

Test(badinput, header_too_short_is_refused) {
    uint8_t buf[] = {0x92, PDC_PROTO_VERSION, PDC_MSG_PING};
    s_refused(buf, sizeof buf, "needs version, type and request id");
}

Test(badinput, string_where_a_number_belongs_is_refused) {
    uint8_t buf[32];
    size_t n = s_header(buf, PDC_MSG_LEASE_REQUEST, 9);
    buf[n++] = 0xa3;
    memcpy(buf + n, "one", 3);
    n += 3;
    buf[n++] = 0x00; /* flags */
    buf[n++] = 0x80; /* no other resources */
    buf[n++] = 0x00; /* default strategy */
    buf[n++] = 0xa0; /* no affinity node */
    buf[n++] = 0xa0; /* no label selector */
    buf[n++] = 0xa0; /* no locality node */
    buf[n++] = 0xa0; /* the C runtime */
    buf[n++] = 0xa0; /* no job */
    s_refused(buf, n, "LEASE_REQUEST field 0: expected number, got string");
}

Test(badinput, lease_request_in_the_old_three_field_form_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_LEASE_REQUEST, 3);
    buf[n++] = 0x01; /* one CPU */
    buf[n++] = 0x00; /* flags */
    buf[n++] = 0x80; /* no other resources */
    s_refused(buf, n, "LEASE_REQUEST: expected 9 fields, got 3");
}

Test(badinput, number_where_a_string_belongs_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_HEARTBEAT, 2);
    buf[n++] = 0x05; /* node id: an int */
    buf[n++] = 0x80; /* resources: {} */
    s_refused(buf, n, "HEARTBEAT field 0: expected string");
}

Test(badinput, short_id_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_LEASE_RETURN, 1);
    buf[n++] = 0xc4; /* bin 8 */
    buf[n++] = 3;
    buf[n++] = 1, buf[n++] = 2, buf[n++] = 3;
    s_refused(buf, n, "id is not 16 bytes");
}

Test(badinput, wrong_number_of_fields_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_PING, 1);
    buf[n++] = 0x01;
    s_refused(buf, n, "expected 0 fields, got 1");
}

Test(badinput, trailing_bytes_are_refused) {
    uint8_t buf[] = {0x93, PDC_PROTO_VERSION, PDC_MSG_PING, 0x01, 0xc0};
    s_refused(buf, sizeof buf, "trailing bytes");
}

Test(badinput, truncated_header_is_refused) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_REGISTER, 3);
    pdc_enc_u(&e, 0);
    pdc_enc_u(&e, 12345);
    uint8_t id[16] = {0};
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, "ipc:///nonexistent/endpoint-of-a-client-that-is-not-there.sock");
    pdc_enc_s(&e, ""); /* no public endpoint */
    pdc_enc_s(&e, ""); /* no node id */
    /* Cut in half: the id's or the endpoint's bytes run out. */
    s_refused(e.buf.data, e.buf.size / 2, "truncated or invalid msgpack");
    pdc_enc_free(&e);
}

Test(badinput, every_truncation_of_a_valid_header_is_refused) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_NODE_REGISTER, 3);
    pdc_enc_s(&e, "not-a-node");
    pdc_enc_s(&e, "ipc:///nonexistent");
    pdc_enc_map(&e, 1);
    pdc_enc_s(&e, "CPU");
    pdc_enc_f(&e, 1.0);
    pdc_enc_s(&e, "tier=edge");
    pdc_enc_s(&e, "ipc:///nonexistent");
    for (int d = 0; d < 2; d++) {
        void *s = s_connect(g_daemons[d]);
        double before = s_status(s, "bad_messages");
        for (size_t cut = 0; cut < e.buf.size; cut++) {
            s_send(s, e.buf.data, cut);
            char why[512];
            cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EPROTO, "%s cut at %zu: %s",
                         g_daemons[d], cut, why);
        }
        s_assert_serving();
        cr_assert_eq(s_status(s, "bad_messages"), before + (double) e.buf.size);
        s_close(s);
    }
    pdc_enc_free(&e);
}

Test(badinput, huge_array_count_as_header_is_refused) {
    uint8_t buf[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    s_refused(buf, sizeof buf, "empty or invalid msgpack");
}

Test(badinput, huge_array_count_with_valid_items_after_is_refused) {
    uint8_t buf[] = {0xdd, 0xff, 0xff, 0xff, 0xff, PDC_PROTO_VERSION, PDC_MSG_PING, 0x01};
    s_refused(buf, sizeof buf, "empty or invalid msgpack");
}

Test(badinput, huge_array_count_in_a_field_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_STATUS_REPLY, 1);
    uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    memcpy(buf + n, huge, sizeof huge);
    n += sizeof huge;
    s_refused(buf, n, "STATUS_REPLY field 0: truncated or invalid msgpack");
}

Test(badinput, huge_map_count_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_HEARTBEAT, 2);
    buf[n++] = 0xa1;
    buf[n++] = 'n';
    uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    memcpy(buf + n, huge, sizeof huge);
    n += sizeof huge;
    s_refused(buf, n, "HEARTBEAT field 1: truncated or invalid msgpack");
}

Test(badinput, huge_string_length_is_refused) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_HEARTBEAT, 2);
    uint8_t huge[] = {0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'};
    memcpy(buf + n, huge, sizeof huge);
    n += sizeof huge;
    s_refused(buf, n, "HEARTBEAT field 0: truncated or invalid msgpack");
}

Test(badinput, deep_nesting_as_header_is_refused) {
    size_t depth = 100000;
    uint8_t *buf = malloc(depth + 1);
    cr_assert(buf);
    memset(buf, 0x91, depth); /* [[[[...nil...]]]] */
    buf[depth] = 0xc0;
    s_refused(buf, depth + 1, "needs version, type and request id");
    free(buf);
}

Test(badinput, deep_nesting_in_a_field_is_refused) {
    size_t depth = 100000;
    uint8_t *buf = malloc(depth + 16);
    cr_assert(buf);
    size_t n = s_header(buf, PDC_MSG_STATUS_REPLY, 1);
    memset(buf + n, 0x91, depth);
    n += depth;
    buf[n++] = 0xc0;
    s_refused(buf, n, "STATUS_REPLY field 0[0]: expected a tuple of 2, got 1 items");
    free(buf);
}

Test(badinput, deep_nesting_in_a_map_value_is_refused) {
    size_t depth = 100000;
    uint8_t *buf = malloc(depth + 32);
    cr_assert(buf);
    size_t n = s_header(buf, PDC_MSG_HEARTBEAT, 2);
    buf[n++] = 0xa1;
    buf[n++] = 'n';
    buf[n++] = 0x81; /* {"CPU": [[[...]]]} */
    buf[n++] = 0xa3;
    memcpy(buf + n, "CPU", 3);
    n += 3;
    memset(buf + n, 0x91, depth);
    n += depth;
    buf[n++] = 0x01;
    s_refused(buf, n, "expected number, got array");
    free(buf);
}

Test(badinput, too_many_frames_are_refused) {
    uint8_t ping[] = {0x93, PDC_PROTO_VERSION, PDC_MSG_PING, 0x01};
    const void *frames[10];
    size_t sizes[10];
    for (int i = 0; i < 10; i++) {
        frames[i] = ping;
        sizes[i] = sizeof ping;
    }
    s_refused_frames(frames, sizes, 10, "more than");
}

Test(badinput, message_the_daemon_does_not_serve_is_refused) {
    /* Well-formed, but a WORKER_DIED is never sent to a raylet or head. */
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_WORKER_DIED, 5);
    uint8_t id[16] = {1, 2, 3};
    pdc_enc_id(&e, id);
    pdc_enc_i(&e, -9);
    s_refused(e.buf.data, e.buf.size, "does not serve WORKER_DIED");
    pdc_enc_free(&e);
}

Test(badinput, payload_frames_after_a_good_header_are_served) {
    /* The control: frames within the limit are not refused. */
    for (int d = 0; d < 2; d++) {
        void *s = s_connect(g_daemons[d]);
        double before = s_status(s, "bad_messages");
        uint8_t ping[] = {0x93, PDC_PROTO_VERSION, PDC_MSG_PING, 0x2a};
        const void *frames[] = {ping, "payload", "more"};
        size_t sizes[] = {sizeof ping, 7, 4};
        s_send_frames(s, frames, sizes, 3);
        reply_t r;
        s_recv(s, &r);
        cr_assert_eq(r.msg.type, PDC_MSG_PONG, "%s: got %s", g_daemons[d],
                     pdc_msg_name(r.msg.type));
        cr_assert_eq(r.msg.request_id, 0x2a);
        s_reply_free(&r);
        cr_assert_eq(s_status(s, "bad_messages"), before);
        s_close(s);
    }
}

Test(badinput, many_bad_messages_in_a_burst_are_all_answered) {
    void *s = s_connect("raylet.sock");
    double before = s_status(s, "bad_messages");
    int count = 2000;
    uint8_t bad[] = {0x93, PDC_PROTO_VERSION + 7, PDC_MSG_PING, 0x01};
    for (int i = 0; i < count; i++)
        s_send(s, bad, sizeof bad);
    for (int i = 0; i < count; i++) {
        char why[256];
        cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EPROTO, "reply %d", i);
    }
    s_assert_serving();
    cr_assert_eq(s_status(s, "bad_messages"), before + count);
    s_close(s);
}

/* ---- Well-formed requests the raylet and head must refuse ------------- */

Test(badinput, lease_return_of_a_worker_not_leased_to_you_is_refused) {
    void *s = s_connect("raylet.sock");
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_LEASE_RETURN, 4);
    uint8_t id[16] = {0xde, 0xad};
    pdc_enc_id(&e, id);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EINVAL);
    cr_assert(strstr(why, "not leased to you"), "%s", why);
    s_assert_serving();
    s_close(s);
}

Test(badinput, worker_register_with_an_unknown_id_is_refused) {
    void *s = s_connect("raylet.sock");
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_REGISTER, 4);
    pdc_enc_u(&e, 1); /* a worker */
    pdc_enc_u(&e, (uint64_t) getpid());
    uint8_t id[16] = {0xbe, 0xef};
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, "ipc:///nonexistent/w.sock");
    pdc_enc_s(&e, ""); /* no public endpoint */
    pdc_enc_s(&e, ""); /* no node id */
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EINVAL);
    cr_assert(strstr(why, "worker id"), "%s", why);
    s_assert_serving();
    s_close(s);
}

Test(badinput, heartbeat_of_an_unknown_node_is_refused) {
    void *s = s_connect("head.sock");
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_HEARTBEAT, 4);
    pdc_enc_s(&e, "no-such-node");
    pdc_enc_map(&e, 0);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_ENOTFOUND);
    cr_assert(strstr(why, "no-such-node"), "%s", why);
    s_assert_serving();
    s_close(s);
}

Test(badinput, object_fetch_of_an_object_not_in_the_store_is_refused) {
    void *s = s_connect("raylet.sock");
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_OBJECT_FETCH, 4);
    uint8_t id[16] = {0xfe, 0xed};
    pdc_enc_id(&e, id);
    pdc_enc_u(&e, 0);
    pdc_enc_u(&e, 4096);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EOBJECTLOST, "%s", why);
    cr_assert(strstr(why, "not in node"), "%s", why);
    s_assert_serving();
    s_close(s);
}

/* OBJECT_PULL from id to node, on s. */
static void s_send_pull(void *s, const char *node) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_OBJECT_PULL, 4);
    uint8_t id[16] = {0xfe, 0xed, 0x01};
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, node);
    pdc_enc_u(&e, 0);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
}

Test(badinput, object_pull_before_register_is_refused) {
    void *s = s_connect("raylet.sock");
    s_send_pull(s, "no-such-node");
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EINVAL, "%s", why);
    cr_assert(strstr(why, "register first"), "%s", why);
    s_assert_serving();
    s_close(s);
}

Test(badinput, object_pull_from_a_node_not_in_the_cluster_is_refused) {
    void *s = s_connect("raylet.sock");
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_REGISTER, 5); /* as a driver */
    pdc_enc_u(&e, 0);
    pdc_enc_u(&e, (uint64_t) getpid());
    uint8_t zero[16] = {0};
    pdc_enc_id(&e, zero);
    pdc_enc_s(&e, "");
    pdc_enc_s(&e, "");
    pdc_enc_s(&e, "");
    s_send_enc(s, &e);
    reply_t r;
    s_recv(s, &r);
    cr_assert_eq(r.msg.type, PDC_MSG_REGISTERED, "got %s", pdc_msg_name(r.msg.type));
    s_reply_free(&r);
    pdc_enc_begin(&e, PDC_MSG_OBJECT_PULL, 4);
    uint8_t id[16] = {0xfe, 0xed, 0x01};
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, "no-such-node");
    pdc_enc_u(&e, 0);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EOBJECTLOST, "%s", why);
    cr_assert(strstr(why, "no-such-node"), "%s", why);
    s_assert_serving();
    s_close(s);
}

/* ---- Workers ---------------------------------------------------------- */

/* Encode PUSH_TASKS with one task: add(a, b) under id. */
static void s_enc_add(pdc_enc_t *e, const uint8_t id[16], int64_t a, int64_t b) {
    pdc_enc_begin(e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(e, 1);
    pdc_enc_array(e, 4);
    pdc_enc_id(e, id);
    pdc_enc_s(e, g_lib);
    pdc_enc_s(e, "add");
    pdc_enc_array(e, 2);
    pdc_enc_array(e, 2);
    pdc_enc_u(e, PDC_ARG_INLINE);
    pdc_enc_i(e, a);
    pdc_enc_array(e, 2);
    pdc_enc_u(e, PDC_ARG_INLINE);
    pdc_enc_i(e, b);
}

typedef struct {
    uint8_t id[16];
    int status;
    unsigned kind;
    int64_t i64;
    char message[512];
} result_t;

/* Receive TASK_RESULTS until n results arrived (a worker may split them). */
static void s_recv_results(void *s, result_t *out, int n) {
    int got = 0;
    while (got < n) {
        reply_t r;
        s_recv(s, &r);
        cr_assert_eq(r.msg.type, PDC_MSG_TASK_RESULTS, "expected TASK_RESULTS, got %s",
                     pdc_msg_name(r.msg.type));
        const msgpack_object *list = &r.msg.fields[1];
        for (uint32_t i = 0; i < pdc_f_count(list) && got < n; i++, got++) {
            const msgpack_object *f = pdc_f_at(list, i)->via.array.ptr;
            memcpy(out[got].id, pdc_f_id(&f[0]), 16);
            out[got].status = (int) pdc_f_i(&f[1]);
            out[got].kind = (unsigned) pdc_f_u(&f[2]);
            out[got].i64 = f[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                                   f[3].type == MSGPACK_OBJECT_NEGATIVE_INTEGER
                               ? pdc_f_i(&f[3])
                               : 0;
            pdc_f_cstr(&f[5], out[got].message, sizeof out[got].message);
        }
        s_reply_free(&r);
    }
}

/* The worker behind s runs a task pushed to it directly. */
static void s_assert_worker_runs(void *s) {
    uint8_t id[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t) (0x40 + i);
    pdc_enc_t e;
    pdc_enc_init(&e);
    s_enc_add(&e, id, 20, 22);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    result_t r;
    s_recv_results(s, &r, 1);
    cr_assert(!memcmp(r.id, id, 16), "the result is for another task");
    cr_assert_eq(r.status, PDC_OK, "%s: %s", pdc_status_name(r.status), r.message);
    cr_assert_eq(r.kind, PDC_RES_INLINE);
    cr_assert_eq(r.i64, 42);
}

/* Bytes to a worker: an ERROR (PDC_EPROTO) saying expect, and the worker
   still runs a pushed task; the cluster still runs tasks. */
static void s_worker_refuses(const void *data, size_t size, const char *expect) {
    void *s = s_connect_worker();
    s_send(s, data, size);
    char why[512];
    int code = s_expect_error(s, why, sizeof why);
    cr_assert_eq(code, PDC_EPROTO, "code %s (%s)", pdc_status_name(code), why);
    cr_assert(strstr(why, expect), "the error \"%s\" does not say \"%s\"", why, expect);
    s_assert_worker_runs(s);
    s_assert_serving();
    s_close(s);
}

Test(badinput, worker_runs_a_task_pushed_directly) {
    /* The control for the worker tests below. */
    void *s = s_connect_worker();
    s_assert_worker_runs(s);
    s_close(s);
}

Test(badinput, worker_refuses_empty_frame) {
    s_worker_refuses("", 0, "empty or invalid msgpack");
}

Test(badinput, worker_refuses_push_with_a_short_task_id) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 4);
    pdc_enc_b(&e, "abc", 3);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 0);
    s_worker_refuses(e.buf.data, e.buf.size, "PUSH_TASKS field 0[0].0: id is not 16 bytes");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_push_with_a_task_of_three_items) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    uint8_t id[16] = {7};
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 3);
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    s_worker_refuses(e.buf.data, e.buf.size, "expected a tuple of 4, got 3 items");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_push_with_a_function_name_that_is_a_number) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    uint8_t id[16] = {7};
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, g_lib);
    pdc_enc_u(&e, 12);
    pdc_enc_array(&e, 0);
    s_worker_refuses(e.buf.data, e.buf.size, "PUSH_TASKS field 0[0].2: expected string");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_push_with_a_nested_argument_value) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    uint8_t id[16] = {7};
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 2);
    pdc_enc_u(&e, PDC_ARG_INLINE);
    pdc_enc_array(&e, 1);
    pdc_enc_i(&e, 5);
    s_worker_refuses(e.buf.data, e.buf.size, "expected scalar, got array");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_push_with_a_negative_argument_kind) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    uint8_t id[16] = {7};
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, id);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 2);
    pdc_enc_i(&e, -1);
    pdc_enc_i(&e, 5);
    s_worker_refuses(e.buf.data, e.buf.size, "expected unsigned integer");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_push_with_a_huge_task_count) {
    uint8_t buf[16];
    size_t n = s_header(buf, PDC_MSG_PUSH_TASKS, 1);
    uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    memcpy(buf + n, huge, sizeof huge);
    n += sizeof huge;
    s_worker_refuses(buf, n, "PUSH_TASKS field 0: truncated or invalid msgpack");
}

Test(badinput, worker_refuses_truncated_push) {
    uint8_t id[16] = {9};
    pdc_enc_t e;
    pdc_enc_init(&e);
    s_enc_add(&e, id, 1, 2);
    s_worker_refuses(e.buf.data, e.buf.size / 2, "truncated or invalid msgpack");
    s_worker_refuses(e.buf.data, e.buf.size - 1, "truncated or invalid msgpack");
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_deeply_nested_push) {
    size_t depth = 100000;
    uint8_t *buf = malloc(depth + 16);
    cr_assert(buf);
    size_t n = s_header(buf, PDC_MSG_PUSH_TASKS, 1);
    memset(buf + n, 0x91, depth);
    n += depth;
    buf[n++] = 0xc0;
    s_worker_refuses(buf, n, "expected a tuple of 4, got 1 items");
    free(buf);
}

Test(badinput, worker_refuses_too_many_frames) {
    uint8_t id[16] = {9};
    pdc_enc_t e;
    pdc_enc_init(&e);
    s_enc_add(&e, id, 1, 2);
    void *s = s_connect_worker();
    const void *frames[8];
    size_t sizes[8];
    for (int i = 0; i < 8; i++) {
        frames[i] = e.buf.data;
        sizes[i] = e.buf.size;
    }
    s_send_frames(s, frames, sizes, 8);
    char why[512];
    cr_assert_eq(s_expect_error(s, why, sizeof why), PDC_EPROTO);
    cr_assert(strstr(why, "more than"), "%s", why);
    s_assert_worker_runs(s);
    s_assert_serving();
    s_close(s);
    pdc_enc_free(&e);
}

Test(badinput, worker_refuses_a_message_it_does_not_serve) {
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_LEASE_REQUEST, 3);
    pdc_enc_f(&e, 1.0);
    pdc_enc_u(&e, 0);
    pdc_enc_map(&e, 0);
    pdc_enc_u(&e, 0);  /* default strategy */
    pdc_enc_s(&e, ""); /* no affinity node */
    pdc_enc_s(&e, ""); /* no label selector */
    pdc_enc_s(&e, ""); /* no locality node */
    pdc_enc_s(&e, ""); /* the C runtime */
    pdc_enc_s(&e, ""); /* no job */
    s_worker_refuses(e.buf.data, e.buf.size, "does not serve LEASE_REQUEST");
    pdc_enc_free(&e);
}

Test(badinput, worker_fails_only_the_tasks_with_bad_arguments) {
    /* Schema-valid pushes with arguments that cannot be resolved: each
       such task fails with a clear error; the task pushed with them runs. */
    void *s = s_connect_worker();
    uint8_t ids[4][16];
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 16; i++)
            ids[t][i] = (uint8_t) (0x10 * (t + 1) + i);
    uint8_t unknown[16];
    for (int i = 0; i < 16; i++)
        unknown[i] = (uint8_t) (0xf0 ^ i);
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&e, 4);
    /* 0: a stored argument whose "id" is 3 bytes */
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, ids[0]);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 2);
    pdc_enc_u(&e, PDC_ARG_STORED);
    pdc_enc_b(&e, "abc", 3);
    /* 1: a stored argument that is not in the store */
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, ids[1]);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 1);
    pdc_enc_array(&e, 2);
    pdc_enc_u(&e, PDC_ARG_STORED);
    pdc_enc_id(&e, unknown);
    /* 2: a library that does not exist */
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, ids[2]);
    pdc_enc_s(&e, "/nonexistent/libpdc_none.so");
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 0);
    /* 3: a good one */
    pdc_enc_array(&e, 4);
    pdc_enc_id(&e, ids[3]);
    pdc_enc_s(&e, g_lib);
    pdc_enc_s(&e, "add");
    pdc_enc_array(&e, 2);
    pdc_enc_array(&e, 2);
    pdc_enc_u(&e, PDC_ARG_INLINE);
    pdc_enc_i(&e, 40);
    pdc_enc_array(&e, 2);
    pdc_enc_u(&e, PDC_ARG_INLINE);
    pdc_enc_i(&e, 2);
    s_send_enc(s, &e);
    pdc_enc_free(&e);
    result_t r[4];
    s_recv_results(s, r, 4);
    for (int t = 0; t < 4; t++)
        cr_assert(!memcmp(r[t].id, ids[t], 16), "result %d out of order", t);
    cr_assert_eq(r[0].status, PDC_EPROTO, "%s", r[0].message);
    cr_assert(strstr(r[0].message, "16-byte id"), "%s", r[0].message);
    cr_assert_eq(r[0].kind, PDC_RES_ERROR);
    cr_assert_eq(r[1].status, PDC_EOBJECTLOST, "%s", r[1].message);
    cr_assert(strstr(r[1].message, "not in the store"), "%s", r[1].message);
    cr_assert_eq(r[2].status, PDC_ENOFUNC, "%s", r[2].message);
    cr_assert(strstr(r[2].message, "/nonexistent/libpdc_none.so"), "%s", r[2].message);
    cr_assert_eq(r[3].status, PDC_OK, "%s", r[3].message);
    cr_assert_eq(r[3].i64, 42);
    s_assert_worker_runs(s);
    s_assert_serving();
    s_close(s);
}
