/*  pdc_id: process-unique prefix + counter ids. */
#include "pdc_id.h"

#include "pdc_job.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

static uint8_t s_prefix[8];
static atomic_uint_fast64_t s_counter;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pid_t s_pid;

static void s_fill_random(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0)
            continue;
        p += got;
        n -= (size_t) got;
    }
}

/* The prefix: random, and in a job's processes the job's tag first
   (pdc_job.h), which leaves 32 random bits per process. */
static void s_init(void) {
    s_fill_random(s_prefix, sizeof s_prefix);
    const char *job = pdc_job_current();
    if (*job)
        pdc_job_tag(job, s_prefix);
    s_pid = getpid();
}

void pdc_id_worker_prefix(const uint8_t worker_id[PDC_ID_LEN], const char *job,
                          uint8_t prefix[PDC_ID_PREFIX_LEN]) {
    /* Not the worker id's own first bytes: those are its raylet's prefix,
       shared with the raylet's other ids. */
    uint8_t salted[PDC_ID_LEN + 8];
    memcpy(salted, worker_id, PDC_ID_LEN);
    memcpy(salted + PDC_ID_LEN, "pdc-wkr", 8);
    uint64_t h = XXH3_64bits(salted, sizeof salted);
    for (int i = 0; i < PDC_ID_PREFIX_LEN; i++)
        prefix[i] = (uint8_t) (h >> (8 * i));
    if (job && *job)
        pdc_job_tag(job, prefix);
}

void pdc_id_use_prefix(const uint8_t prefix[PDC_ID_PREFIX_LEN]) {
    pthread_once(&s_once, s_init);
    memcpy(s_prefix, prefix, sizeof s_prefix);
    s_pid = getpid();
}

void pdc_id_new(uint8_t id[PDC_ID_LEN]) {
    pthread_once(&s_once, s_init);
    if (s_pid != getpid())
        s_init(); /* a forked child draws its own */
    uint64_t n = atomic_fetch_add(&s_counter, 1) + 1;
    memcpy(id, s_prefix, 8);
    for (int i = 0; i < 8; i++)
        id[8 + i] = (uint8_t) (n >> (56 - 8 * i));
}

char *pdc_id_hex(const uint8_t id[PDC_ID_LEN], char *buf) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < PDC_ID_LEN; i++) {
        buf[2 * i] = digits[id[i] >> 4];
        buf[2 * i + 1] = digits[id[i] & 15];
    }
    buf[2 * PDC_ID_LEN] = '\0';
    return buf;
}

char *pdc_random_hex(char *buf, int n) {
    uint8_t raw[32];
    s_fill_random(raw, sizeof raw);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < n && i < 63; i++)
        buf[i] = digits[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    buf[n] = '\0';
    return buf;
}

uint64_t pdc_id_hash(const uint8_t id[PDC_ID_LEN]) {
    return XXH3_64bits(id, PDC_ID_LEN);
}

int pdc_id_parse(const char *hex, uint8_t id[PDC_ID_LEN]) {
    for (int i = 0; i < 2 * PDC_ID_LEN; i++) {
        char ch = hex[i];
        int v = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            id[i / 2] = (uint8_t) (v << 4);
        else
            id[i / 2] |= (uint8_t) v;
    }
    return 0;
}
