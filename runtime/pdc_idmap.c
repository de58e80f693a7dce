/*  pdc_idmap: open-addressing id -> pointer map. */
#include "pdc_idmap.h"

#include <stdlib.h>

struct pdc_idmap_slot {
    uint8_t id[PDC_ID_LEN];
    void *value; /* NULL: empty slot */
};

void pdc_idmap_init(pdc_idmap_t *map) {
    map->slots = NULL;
    map->capacity = map->count = 0;
}

void pdc_idmap_free(pdc_idmap_t *map) {
    free(map->slots);
    pdc_idmap_init(map);
}

static size_t s_find(const pdc_idmap_t *map, const uint8_t *id) {
    size_t mask = map->capacity - 1, i = pdc_id_hash(id) & mask;
    while (map->slots[i].value && !pdc_id_eq(map->slots[i].id, id))
        i = (i + 1) & mask;
    return i;
}

void *pdc_idmap_get(const pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN]) {
    if (!map->count)
        return NULL;
    return map->slots[s_find(map, id)].value;
}

static int s_grow(pdc_idmap_t *map) {
    size_t cap = map->capacity ? map->capacity * 2 : 64;
    struct pdc_idmap_slot *old = map->slots, *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    size_t oldcap = map->capacity;
    map->slots = slots;
    map->capacity = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].value)
            map->slots[s_find(map, old[i].id)] = old[i];
    free(old);
    return 0;
}

int pdc_idmap_put(pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN], void *value) {
    if ((map->count + 1) * 2 > map->capacity && s_grow(map))
        return -1;
    size_t i = s_find(map, id);
    if (!map->slots[i].value)
        map->count++;
    memcpy(map->slots[i].id, id, PDC_ID_LEN);
    map->slots[i].value = value;
    return 0;
}

void *pdc_idmap_del(pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN]) {
    if (!map->count)
        return NULL;
    size_t mask = map->capacity - 1, i = s_find(map, id);
    void *value = map->slots[i].value;
    if (!value)
        return NULL;
    map->slots[i].value = NULL;
    map->count--;
    /* Backward shift: move later entries of the probe run into the gap. */
    for (size_t j = (i + 1) & mask; map->slots[j].value; j = (j + 1) & mask) {
        size_t home = pdc_id_hash(map->slots[j].id) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            map->slots[i] = map->slots[j];
            map->slots[j].value = NULL;
            i = j;
        }
    }
    return value;
}

void pdc_idmap_each(const pdc_idmap_t *map, void (*fn)(void *value, void *arg), void *arg) {
    for (size_t i = 0; i < map->capacity; i++)
        if (map->slots[i].value)
            fn(map->slots[i].value, arg);
}
