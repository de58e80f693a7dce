/*  test_idmap: the id -> pointer map (pdc_idmap).

    Small cases first (put, get, replace, delete, an empty map), then
    100,000 random operations checked after every step against a plain
    array that knows which ids are in the map, then the tricky part of
    open addressing: ids built to collide on one home slot (and to wrap
    around the end of the table), where deleting any one of them must
    leave every other id reachable through the backward shift.
*/
#include "pdc_id.h"
#include "pdc_idmap.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static pdc_idmap_t g_map;

static void s_setup(void) {
    pdc_idmap_init(&g_map);
}

static void s_teardown(void) {
    pdc_idmap_free(&g_map);
}

TestSuite(idmap, .init = s_setup, .fini = s_teardown);

/* A deterministic id stream (xorshift64*), so a failure reproduces. */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t s_rand(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dull;
}

static void s_random_id(uint8_t id[PDC_ID_LEN]) {
    uint64_t a = s_rand(), b = s_rand();
    memcpy(id, &a, 8);
    memcpy(id + 8, &b, 8);
}

/* Values are pointers into this array, so each is distinct and non-NULL. */
static char g_values[64];
#define VAL(i) ((void *) &g_values[(i)])

Test(idmap, empty_map_finds_nothing) {
    uint8_t id[PDC_ID_LEN] = {1};
    cr_assert_null(pdc_idmap_get(&g_map, id));
    cr_assert_null(pdc_idmap_del(&g_map, id));
    cr_assert_eq(g_map.count, 0);
}

Test(idmap, put_get_del) {
    uint8_t a[PDC_ID_LEN], b[PDC_ID_LEN];
    pdc_id_new(a);
    pdc_id_new(b);
    cr_assert_eq(pdc_idmap_put(&g_map, a, VAL(1)), 0);
    cr_assert_eq(pdc_idmap_get(&g_map, a), VAL(1));
    cr_assert_null(pdc_idmap_get(&g_map, b));
    cr_assert_eq(pdc_idmap_put(&g_map, b, VAL(2)), 0);
    cr_assert_eq(g_map.count, 2);

    cr_assert_eq(pdc_idmap_del(&g_map, a), VAL(1));
    cr_assert_null(pdc_idmap_get(&g_map, a));
    cr_assert_null(pdc_idmap_del(&g_map, a), "a second delete finds nothing");
    cr_assert_eq(pdc_idmap_get(&g_map, b), VAL(2));
    cr_assert_eq(g_map.count, 1);

    cr_assert_eq(pdc_idmap_del(&g_map, b), VAL(2));
    cr_assert_eq(g_map.count, 0);
    cr_assert_null(pdc_idmap_get(&g_map, b));
}

Test(idmap, put_of_an_existing_id_replaces) {
    uint8_t a[PDC_ID_LEN];
    pdc_id_new(a);
    cr_assert_eq(pdc_idmap_put(&g_map, a, VAL(1)), 0);
    cr_assert_eq(pdc_idmap_put(&g_map, a, VAL(2)), 0);
    cr_assert_eq(g_map.count, 1);
    cr_assert_eq(pdc_idmap_get(&g_map, a), VAL(2));
    cr_assert_eq(pdc_idmap_del(&g_map, a), VAL(2));
    cr_assert_null(pdc_idmap_get(&g_map, a));
}

Test(idmap, ids_differing_in_one_byte_are_distinct) {
    uint8_t ids[PDC_ID_LEN][PDC_ID_LEN];
    for (int i = 0; i < PDC_ID_LEN; i++) {
        memset(ids[i], 0, PDC_ID_LEN);
        ids[i][i] = 1;
        cr_assert_eq(pdc_idmap_put(&g_map, ids[i], VAL(i)), 0);
    }
    for (int i = 0; i < PDC_ID_LEN; i++)
        cr_assert_eq(pdc_idmap_get(&g_map, ids[i]), VAL(i));
    uint8_t zero[PDC_ID_LEN] = {0};
    cr_assert_null(pdc_idmap_get(&g_map, zero));
}

/* ---- Random operations against a reference ------------------------------ */

typedef struct {
    uint8_t id[PDC_ID_LEN];
    int live;    /* in the map now */
    char *value; /* its value while live */
} ref_entry;

/* Every id ever used is either in the map with its value or absent. */
static void s_check_all(const ref_entry *ref, size_t n, size_t live) {
    cr_assert_eq(g_map.count, live);
    for (size_t i = 0; i < n; i++) {
        void *got = pdc_idmap_get(&g_map, ref[i].id);
        if (ref[i].live)
            cr_assert_eq(got, ref[i].value, "entry %zu lost", i);
        else
            cr_assert_null(got, "deleted entry %zu still found", i);
    }
}

Test(idmap, many_random_ids_with_interleaved_deletions) {
    enum { OPS = 100000 };
    ref_entry *ref = calloc(OPS, sizeof *ref);
    char *values = malloc(OPS);
    cr_assert(ref && values);
    size_t n = 0, live = 0, deletes = 0, replaces = 0;

    for (size_t op = 0; op < OPS; op++) {
        uint64_t r = s_rand() % 10;
        if (r < 6 || n == 0) { /* insert a new id */
            s_random_id(ref[n].id);
            ref[n].value = &values[n];
            ref[n].live = 1;
            cr_assert_eq(pdc_idmap_put(&g_map, ref[n].id, ref[n].value), 0);
            n++, live++;
        } else if (r < 9) { /* delete one, live or not */
            size_t i = s_rand() % n;
            void *got = pdc_idmap_del(&g_map, ref[i].id);
            if (ref[i].live) {
                cr_assert_eq(got, ref[i].value, "op %zu: delete of %zu", op, i);
                ref[i].live = 0;
                live--, deletes++;
            } else {
                cr_assert_null(got, "op %zu: %zu deleted twice", op, i);
            }
        } else { /* replace or revive one */
            size_t i = s_rand() % n;
            ref[i].value = &values[s_rand() % OPS];
            if (!ref[i].live)
                live++;
            ref[i].live = 1;
            cr_assert_eq(pdc_idmap_put(&g_map, ref[i].id, ref[i].value), 0);
            replaces++;
        }
        /* Spot checks every step, a full sweep now and then. */
        size_t i = s_rand() % n;
        cr_assert_eq(pdc_idmap_get(&g_map, ref[i].id), ref[i].live ? ref[i].value : NULL,
                     "op %zu: id %zu", op, i);
        cr_assert_eq(g_map.count, live);
        if (op % 10000 == 9999)
            s_check_all(ref, n, live);
    }
    s_check_all(ref, n, live);
    cr_assert_gt(deletes, OPS / 5);
    cr_assert_gt(replaces, OPS / 20);
    cr_assert_leq(g_map.count * 2, g_map.capacity, "load above 50%%");

    /* Empty it completely; then nothing is found and a put works again. */
    for (size_t i = 0; i < n; i++) {
        if (ref[i].live)
            cr_assert_eq(pdc_idmap_del(&g_map, ref[i].id), ref[i].value);
        ref[i].live = 0;
    }
    cr_assert_eq(g_map.count, 0);
    s_check_all(ref, n, 0);
    cr_assert_eq(pdc_idmap_put(&g_map, ref[0].id, VAL(0)), 0);
    cr_assert_eq(pdc_idmap_get(&g_map, ref[0].id), VAL(0));
    free(ref);
    free(values);
}

/* ---- Collisions and backward shift -------------------------------------- */

/* Fill ids[] with n random ids whose home slot (hash & mask) is one of
   homes[], cycling through them, so they form one long probe run. */
static void s_colliding_ids(uint8_t (*ids)[PDC_ID_LEN], size_t n, const size_t *homes,
                            size_t nhomes, size_t mask) {
    for (size_t i = 0; i < n; i++) {
        do
            s_random_id(ids[i]);
        while ((pdc_id_hash(ids[i]) & mask) != homes[i % nhomes]);
    }
}

Test(idmap, backward_shift_keeps_every_other_id_reachable) {
    /* The table's size once the first id is in (it does not grow while
       the test stays under half of it). */
    uint8_t probe[PDC_ID_LEN];
    s_random_id(probe);
    pdc_idmap_put(&g_map, probe, VAL(0));
    size_t cap = g_map.capacity, mask = cap - 1;
    pdc_idmap_free(&g_map);
    cr_assert_geq(cap, 16);

    /* A run that starts two slots before the end and wraps to the start:
       homes cap-2, cap-1, 0 and 1, several ids each, interleaved. */
    enum { N = 12 };
    const size_t homes[] = {cap - 2, cap - 1, 0, cap - 2, 1, cap - 1};
    uint8_t ids[N][PDC_ID_LEN];
    s_colliding_ids(ids, N, homes, sizeof homes / sizeof *homes, mask);
    cr_assert_lt(N * 2, cap);

    /* Delete each one alone from a fresh map... */
    for (size_t victim = 0; victim < N; victim++) {
        pdc_idmap_init(&g_map);
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(pdc_idmap_put(&g_map, ids[i], VAL(i)), 0);
        cr_assert_eq(g_map.capacity, cap);
        cr_assert_eq(pdc_idmap_del(&g_map, ids[victim]), VAL(victim));
        for (size_t i = 0; i < N; i++) {
            if (i == victim)
                cr_assert_null(pdc_idmap_get(&g_map, ids[i]));
            else
                cr_assert_eq(pdc_idmap_get(&g_map, ids[i]), VAL(i), "deleting %zu lost %zu", victim,
                             i);
        }
        pdc_idmap_free(&g_map);
    }

    /* ...and all of them one by one, every other one first. */
    pdc_idmap_init(&g_map);
    for (size_t i = 0; i < N; i++)
        pdc_idmap_put(&g_map, ids[i], VAL(i));
    int gone[N] = {0};
    size_t order[N], k = 0;
    for (size_t i = 0; i < N; i += 2)
        order[k++] = i;
    for (size_t i = 1; i < N; i += 2)
        order[k++] = i;
    for (size_t s = 0; s < N; s++) {
        cr_assert_eq(pdc_idmap_del(&g_map, ids[order[s]]), VAL(order[s]));
        gone[order[s]] = 1;
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(pdc_idmap_get(&g_map, ids[i]), gone[i] ? NULL : VAL(i),
                         "after %zu deletions, %zu", s + 1, i);
    }
    cr_assert_eq(g_map.count, 0);
}

Test(idmap, reinsert_after_delete_in_a_collision_run) {
    uint8_t probe[PDC_ID_LEN];
    s_random_id(probe);
    pdc_idmap_put(&g_map, probe, VAL(0));
    size_t mask = g_map.capacity - 1;
    pdc_idmap_del(&g_map, probe);

    enum { N = 8 };
    const size_t homes[] = {5};
    uint8_t ids[N][PDC_ID_LEN];
    s_colliding_ids(ids, N, homes, 1, mask);
    for (size_t i = 0; i < N; i++)
        pdc_idmap_put(&g_map, ids[i], VAL(i));
    /* Delete the head of the run, then put it back: it must not be found
       twice (count) and must get its new value. */
    cr_assert_eq(pdc_idmap_del(&g_map, ids[0]), VAL(0));
    cr_assert_eq(pdc_idmap_put(&g_map, ids[0], VAL(20)), 0);
    cr_assert_eq(g_map.count, N);
    cr_assert_eq(pdc_idmap_get(&g_map, ids[0]), VAL(20));
    /* Replacing one at the tail of the run does not add a second copy. */
    cr_assert_eq(pdc_idmap_put(&g_map, ids[N - 1], VAL(21)), 0);
    cr_assert_eq(g_map.count, N);
    cr_assert_eq(pdc_idmap_del(&g_map, ids[N - 1]), VAL(21));
    cr_assert_null(pdc_idmap_get(&g_map, ids[N - 1]));
    for (size_t i = 1; i < N - 1; i++)
        cr_assert_eq(pdc_idmap_get(&g_map, ids[i]), VAL(i));
}

/* ---- Walking the map ---------------------------------------------------- */

typedef struct {
    const char *base; /* values are base + index */
    int *seen;        /* visits per index */
    size_t calls;
} visit_log;

static void s_visit(void *value, void *arg) {
    visit_log *log = arg;
    log->seen[(const char *) value - log->base]++;
    log->calls++;
}

Test(idmap, each_visits_every_entry_once) {
    enum { N = 1000 };
    static char vals[N];
    static uint8_t ids[N][PDC_ID_LEN];
    static int seen[N];
    visit_log log = {vals, seen, 0};

    pdc_idmap_each(&g_map, s_visit, &log);
    cr_assert_eq(log.calls, 0, "an empty map has nothing to visit");

    for (size_t i = 0; i < N; i++) {
        s_random_id(ids[i]);
        cr_assert_eq(pdc_idmap_put(&g_map, ids[i], &vals[i]), 0);
    }
    for (size_t i = 0; i < N; i += 3)
        cr_assert_eq(pdc_idmap_del(&g_map, ids[i]), &vals[i]);

    pdc_idmap_each(&g_map, s_visit, &log);
    cr_assert_eq(log.calls, g_map.count);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(seen[i], i % 3 ? 1 : 0, "entry %zu visited %d times", i, seen[i]);
}
