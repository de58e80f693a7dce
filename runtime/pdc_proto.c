/*  pdc_proto: encoder and total decoder of pdc's messages.

    The decoder does not trust msgpack-c with hostile input.  msgpack-c
    allocates an array's elements as soon as it reads the array's count, so
    a 5-byte header claiming four billion elements would ask for 64 GiB.
    pdc_proto_check therefore walks the bytes itself, in step with the
    schema: it reads each item's header, checks its type against the
    schema token, checks that a string or binary length fits in the bytes
    left and that an array or map count is no more than the bytes left
    (every element takes at least one byte), and descends no deeper than
    the schema does.  Only bytes that passed are handed to
    msgpack_unpack_next, so the tree it builds is bounded by the input.
*/
#include "pdc_proto.h"

#include <stdio.h>
#include <string.h>

static const char *s_names[] = {
#define PDC_X_NAME(name) #name,
    PDC_MESSAGES(PDC_X_NAME)
#undef PDC_X_NAME
};
static const char *s_schemas[] = {
#define PDC_X_SCHEMA(name) PDC_SCHEMA_OF(name),
    PDC_MESSAGES(PDC_X_SCHEMA)
#undef PDC_X_SCHEMA
};

const char *pdc_msg_name(unsigned type) {
    return type < PDC_MSG_COUNT_ ? s_names[type] : NULL;
}
const char *pdc_msg_schema(unsigned type) {
    return type < PDC_MSG_COUNT_ ? s_schemas[type] : NULL;
}

/* ---- Encoding --------------------------------------------------------- */

void pdc_enc_init(pdc_enc_t *enc) {
    msgpack_sbuffer_init(&enc->buf);
    msgpack_packer_init(&enc->pk, &enc->buf, msgpack_sbuffer_write);
}

void pdc_enc_free(pdc_enc_t *enc) {
    msgpack_sbuffer_destroy(&enc->buf);
}

static size_t s_schema_fields(const char *schema);

void pdc_enc_begin(pdc_enc_t *enc, pdc_msg_type type, uint64_t request_id) {
    enc->buf.size = 0;
    msgpack_pack_array(&enc->pk, 3 + s_schema_fields(s_schemas[type]));
    msgpack_pack_uint64(&enc->pk, PDC_PROTO_VERSION);
    msgpack_pack_uint64(&enc->pk, (uint64_t) type);
    msgpack_pack_uint64(&enc->pk, request_id);
}

void pdc_enc_u(pdc_enc_t *enc, uint64_t v) {
    msgpack_pack_uint64(&enc->pk, v);
}
void pdc_enc_i(pdc_enc_t *enc, int64_t v) {
    msgpack_pack_int64(&enc->pk, v);
}
void pdc_enc_f(pdc_enc_t *enc, double v) {
    msgpack_pack_double(&enc->pk, v);
}
void pdc_enc_s(pdc_enc_t *enc, const char *s) {
    pdc_enc_sn(enc, s ? s : "", s ? strlen(s) : 0);
}
void pdc_enc_sn(pdc_enc_t *enc, const char *s, size_t n) {
    msgpack_pack_str_with_body(&enc->pk, s, n);
}
void pdc_enc_b(pdc_enc_t *enc, const void *p, size_t n) {
    msgpack_pack_bin_with_body(&enc->pk, p, n);
}
void pdc_enc_id(pdc_enc_t *enc, const uint8_t id[16]) {
    msgpack_pack_bin_with_body(&enc->pk, id, 16);
}
void pdc_enc_nil(pdc_enc_t *enc) {
    msgpack_pack_nil(&enc->pk);
}
void pdc_enc_array(pdc_enc_t *enc, size_t n) {
    msgpack_pack_array(&enc->pk, n);
}
void pdc_enc_map(pdc_enc_t *enc, size_t n) {
    msgpack_pack_map(&enc->pk, n);
}
void pdc_enc_raw(pdc_enc_t *enc, const void *bytes, size_t n) {
    msgpack_sbuffer_write(&enc->buf, bytes, n);
}

/* ---- Schema tokens ---------------------------------------------------- */

/* Length of the token at s ("u", "{}", "*(ss)", "(u*d)"). */
static size_t s_token_len(const char *s) {
    switch (*s) {
    case '\0':
        return 0;
    case '*':
        return 1 + s_token_len(s + 1);
    case '{':
        return 2;
    case '(': {
        size_t i = 1;
        while (s[i] && s[i] != ')')
            i += s_token_len(s + i);
        return s[i] == ')' ? i + 1 : i;
    }
    default:
        return 1;
    }
}

static size_t s_schema_fields(const char *schema) {
    size_t n = 0;
    for (const char *s = schema; *s; s += s_token_len(s))
        n++;
    return n;
}

/* ---- The walker ------------------------------------------------------- */

typedef enum {
    K_NIL,
    K_BOOL,
    K_UINT,
    K_INT,
    K_FLOAT,
    K_STR,
    K_BIN,
    K_ARRAY,
    K_MAP,
    K_EXT,
    K_BAD
} s_kind;

static const char *s_kind_names[] = {"nil",   "bool",      "unsigned integer", "negative integer",
                                     "float", "string",    "binary",           "array",
                                     "map",   "extension", "invalid byte"};

typedef struct {
    const uint8_t *p, *end;
    char *err;
    size_t errlen;
    char path[128];
} s_walker;

static int s_fail(s_walker *w, const char *fmt, const char *a, const char *b) {
    if (w->err && w->errlen) {
        char what[160];
        snprintf(what, sizeof what, fmt, a, b);
        snprintf(w->err, w->errlen, "%s%s%s", w->path, *w->path ? ": " : "", what);
    }
    return -1;
}

static uint64_t s_be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Read one item header.  For STR/BIN/EXT *n is the body length (already
   checked against the bytes left and skipped); for ARRAY/MAP the element
   count (checked against the bytes left); for UINT the value. */
static s_kind s_head(s_walker *w, uint64_t *n) {
    if (w->p >= w->end)
        return K_BAD;
    uint8_t b = *w->p++;
    size_t left = (size_t) (w->end - w->p);
    int lenbytes = 0;
    s_kind k;
    *n = 0;
    if (b <= 0x7f) {
        *n = b;
        return K_UINT;
    }
    if (b >= 0xe0)
        return K_INT;
    if (b >= 0x80 && b <= 0x8f) {
        *n = b & 0x0f;
        k = K_MAP;
        goto count;
    }
    if (b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
        k = K_ARRAY;
        goto count;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        *n = b & 0x1f;
        k = K_STR;
        goto body;
    }
    switch (b) {
    case 0xc0:
        return K_NIL;
    case 0xc2:
    case 0xc3:
        return K_BOOL;
    case 0xc4:
        k = K_BIN;
        lenbytes = 1;
        break;
    case 0xc5:
        k = K_BIN;
        lenbytes = 2;
        break;
    case 0xc6:
        k = K_BIN;
        lenbytes = 4;
        break;
    case 0xd9:
        k = K_STR;
        lenbytes = 1;
        break;
    case 0xda:
        k = K_STR;
        lenbytes = 2;
        break;
    case 0xdb:
        k = K_STR;
        lenbytes = 4;
        break;
    case 0xc7:
        k = K_EXT;
        lenbytes = 1;
        break;
    case 0xc8:
        k = K_EXT;
        lenbytes = 2;
        break;
    case 0xc9:
        k = K_EXT;
        lenbytes = 4;
        break;
    case 0xdc:
        k = K_ARRAY;
        lenbytes = 2;
        break;
    case 0xdd:
        k = K_ARRAY;
        lenbytes = 4;
        break;
    case 0xde:
        k = K_MAP;
        lenbytes = 2;
        break;
    case 0xdf:
        k = K_MAP;
        lenbytes = 4;
        break;
    case 0xca:
    case 0xcb: {
        int sz = b == 0xca ? 4 : 8;
        if (left < (size_t) sz)
            return K_BAD;
        w->p += sz;
        return K_FLOAT;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        int sz = 1 << (b - 0xcc);
        if (left < (size_t) sz)
            return K_BAD;
        *n = s_be(w->p, sz);
        w->p += sz;
        return K_UINT;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int sz = 1 << (b - 0xd0);
        if (left < (size_t) sz)
            return K_BAD;
        /* A signed encoding of a non-negative value still counts as an
           unsigned integer, as msgpack-c does. */
        int64_t v = (int64_t) s_be(w->p, sz);
        if (sz < 8 && (v >> (8 * sz - 1)) & 1)
            v = -1;
        w->p += sz;
        if (v >= 0) {
            *n = (uint64_t) v;
            return K_UINT;
        }
        return K_INT;
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
        size_t sz = 1 + ((size_t) 1 << (b - 0xd4)); /* type + data */
        if (left < sz)
            return K_BAD;
        w->p += sz;
        return K_EXT;
    }
    default:
        return K_BAD; /* 0xc1 is never used */
    }
    if (left < (size_t) lenbytes)
        return K_BAD;
    *n = s_be(w->p, lenbytes);
    w->p += lenbytes;
    left -= (size_t) lenbytes;
    if (k == K_EXT) {
        if (left < 1 + *n)
            return K_BAD;
        w->p += 1 + *n;
        return K_EXT;
    }
    if (k == K_ARRAY || k == K_MAP)
        goto count;
body:
    if ((uint64_t) (w->end - w->p) < *n)
        return K_BAD;
    w->p += *n;
    return k;
count:
    if ((uint64_t) (w->end - w->p) < *n * (k == K_MAP ? 2 : 1))
        return K_BAD;
    return k;
}

/* Skip one whole item of any type (for 'v' we never nest). */
static int s_check_token(s_walker *w, const char *tok, int depth);

static size_t s_path_push(s_walker *w, const char *fmt, uint64_t i) {
    size_t old = strlen(w->path);
    snprintf(w->path + old, sizeof w->path - old, fmt, (unsigned long long) i);
    return old;
}

static int s_expect(s_walker *w, const char *want, s_kind got) {
    return s_fail(w, "expected %s, got %s", want, s_kind_names[got]);
}

static int s_check_token(s_walker *w, const char *tok, int depth) {
    if (depth > PDC_PROTO_MAX_DEPTH)
        return s_fail(w, "%s%s", "nested too deep", "");
    const uint8_t *start = w->p;
    uint64_t n;
    s_kind k = s_head(w, &n);
    if (k == K_BAD) {
        w->p = start;
        return s_fail(w, "%s%s", "truncated or invalid msgpack", "");
    }
    switch (*tok) {
    case 'u':
        return k == K_UINT ? 0 : s_expect(w, "unsigned integer", k);
    case 'i':
        return k == K_UINT || k == K_INT ? 0 : s_expect(w, "integer", k);
    case 'f':
        return k == K_UINT || k == K_INT || k == K_FLOAT ? 0 : s_expect(w, "number", k);
    case 's':
        return k == K_STR ? 0 : s_expect(w, "string", k);
    case 'b':
        return k == K_BIN ? 0 : s_expect(w, "binary", k);
    case 'd':
        if (k != K_BIN)
            return s_expect(w, "16-byte id", k);
        return n == 16 ? 0 : s_fail(w, "%s%s", "id is not 16 bytes", "");
    case 'v':
        return k <= K_BIN ? 0 : s_expect(w, "scalar", k);
    case '{': {
        if (k != K_MAP)
            return s_expect(w, "map", k);
        for (uint64_t i = 0; i < n; i++) {
            size_t old = s_path_push(w, "{%llu}", i);
            if (s_check_token(w, "s", depth + 1) || s_check_token(w, "f", depth + 1))
                return -1;
            w->path[old] = '\0';
        }
        return 0;
    }
    case '*': {
        if (k != K_ARRAY)
            return s_expect(w, "array", k);
        for (uint64_t i = 0; i < n; i++) {
            size_t old = s_path_push(w, "[%llu]", i);
            if (s_check_token(w, tok + 1, depth + 1))
                return -1;
            w->path[old] = '\0';
        }
        return 0;
    }
    case '(': {
        if (k != K_ARRAY)
            return s_expect(w, "array", k);
        const char *inner = tok + 1;
        uint64_t want = 0;
        for (const char *s = inner; *s && *s != ')'; s += s_token_len(s))
            want++;
        if (n != want) {
            char a[24], b[24];
            snprintf(a, sizeof a, "%llu", (unsigned long long) want);
            snprintf(b, sizeof b, "%llu", (unsigned long long) n);
            return s_fail(w, "expected a tuple of %s, got %s items", a, b);
        }
        uint64_t i = 0;
        for (const char *s = inner; *s && *s != ')'; s += s_token_len(s), i++) {
            size_t old = s_path_push(w, ".%llu", i);
            if (s_check_token(w, s, depth + 1))
                return -1;
            w->path[old] = '\0';
        }
        return 0;
    }
    default:
        return s_fail(w, "%s%s", "bad schema token", "");
    }
}

int pdc_proto_check(const void *data, size_t size, const char *schema, char *err, size_t errlen) {
    s_walker w = {data, (const uint8_t *) data + size, err, errlen, ""};
    /* One item per token ("uuds" is four items, "" none), as the fields
       of a message follow its header. */
    bool several = s_schema_fields(schema) > 1;
    size_t i = 0;
    for (const char *s = schema; *s; s += s_token_len(s), i++) {
        if (several)
            snprintf(w.path, sizeof w.path, "field %zu", i);
        if (s_check_token(&w, s, 0))
            return -1;
    }
    w.path[0] = '\0';
    if (w.p != w.end)
        return s_fail(&w, "%s%s", "trailing bytes", "");
    return 0;
}

int pdc_msg_decode(const void *data, size_t size, pdc_msg_t *msg, char *err, size_t errlen) {
    memset(msg, 0, sizeof *msg);
    s_walker w = {data, (const uint8_t *) data + size, err, errlen, "header"};
    uint64_t n, version, type, reqid;
    s_kind k = s_head(&w, &n);
    if (k != K_ARRAY)
        return k == K_BAD ? s_fail(&w, "%s%s", "empty or invalid msgpack", "")
                          : s_expect(&w, "array", k);
    if (n < 3)
        return s_fail(&w, "%s%s", "needs version, type and request id", "");
    if (s_head(&w, &version) != K_UINT || version != PDC_PROTO_VERSION)
        return s_fail(&w, "%s%s", "unsupported protocol version", "");
    if (s_head(&w, &type) != K_UINT || type >= PDC_MSG_COUNT_)
        return s_fail(&w, "%s%s", "unknown message type", "");
    if (s_head(&w, &reqid) != K_UINT)
        return s_fail(&w, "%s%s", "request id is not an unsigned integer", "");
    const char *schema = s_schemas[type];
    size_t want = s_schema_fields(schema);
    if (n - 3 != want) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%zu", want);
        snprintf(b, sizeof b, "%llu", (unsigned long long) (n - 3));
        snprintf(w.path, sizeof w.path, "%s", s_names[type]);
        return s_fail(&w, "expected %s fields, got %s", a, b);
    }
    size_t i = 0;
    for (const char *s = schema; *s; s += s_token_len(s), i++) {
        snprintf(w.path, sizeof w.path, "%s field %zu", s_names[type], i);
        if (s_check_token(&w, s, 1))
            return -1;
    }
    if (w.p != w.end) {
        snprintf(w.path, sizeof w.path, "%s", s_names[type]);
        return s_fail(&w, "%s%s", "trailing bytes after the fields", "");
    }
    msgpack_unpacked_init(&msg->unpacked_);
    size_t off = 0;
    if (msgpack_unpack_next(&msg->unpacked_, data, size, &off) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(&msg->unpacked_);
        snprintf(w.path, sizeof w.path, "%s", s_names[type]);
        return s_fail(&w, "%s%s", "msgpack could not unpack it", "");
    }
    const msgpack_object *root = &msg->unpacked_.data;
    msg->type = (unsigned) type;
    msg->request_id = reqid;
    msg->fields = root->via.array.ptr + 3;
    msg->nfields = (uint32_t) want;
    return 0;
}

void pdc_msg_free(pdc_msg_t *msg) {
    if (msg->fields)
        msgpack_unpacked_destroy(&msg->unpacked_);
    msg->fields = NULL;
}

const char *pdc_f_cstr(const msgpack_object *o, char *buf, size_t bufsize) {
    size_t n = o->via.str.size < bufsize - 1 ? o->via.str.size : bufsize - 1;
    if (n)
        memcpy(buf, o->via.str.ptr, n); /* "" has ptr NULL */
    buf[n] = '\0';
    return buf;
}
