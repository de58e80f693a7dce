/*  mergesort_tasks.c: the remote function of the parallel merge sort.

    Compiled into libpdc_example_mergesort.so, which pdc workers dlopen.
    One task, called recursively through nested tasks:

        sort(data: bytes, cutoff: i64, depth_left: i64, timeout_ms: i64,
             library: str) -> bytes

    data is an array of int64 in native byte order.  When it has at most
    `cutoff` elements, or depth_left is 0, the task sorts it where it runs
    and returns it.  Otherwise it is a small driver of its own: through
    pdc_task_client(t) it stores each half with pdc_put, submits sort on
    both halves (depth_left - 1), gets the two sorted halves back (waiting
    at most timeout_ms for the pair) and merges them into its result.  The
    depth limit keeps a tiny cutoff from turning into millions of tasks.

    A task cannot name itself (pdc.h has no "the function I am running"),
    so the nested calls use the library path the driver passes in, which
    must be absolute: workers do not share the driver's directory.

    Results go straight into the object store through pdc_return_alloc.
    Elements are read and written with memcpy, so the bytes pdc hands over
    need not be aligned for int64.
*/
#include <pdc.h>

#include "example_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t s_load(const void *array, size_t i) {
    int64_t v;
    memcpy(&v, (const char *) array + i * sizeof v, sizeof v);
    return v;
}

static void s_store(void *array, size_t i, int64_t v) {
    memcpy((char *) array + i * sizeof v, &v, sizeof v);
}

static int s_compare_i64(const void *a, const void *b) {
    int64_t x = s_load(a, 0), y = s_load(b, 0);
    return (x > y) - (x < y);
}

/* Sort n elements here: copy them into the result and qsort it there. */
static int s_sort_here(pdc_task *t, const void *data, size_t n) {
    if (n == 0)
        return pdc_return_bytes(t, "", 0);
    void *out = pdc_return_alloc(t, n * sizeof(int64_t));
    if (!out)
        return 1; /* the task has failed with the reason */
    memcpy(out, data, n * sizeof(int64_t));
    qsort(out, n, sizeof(int64_t), s_compare_i64);
    return 0;
}

/* Merge the sorted arrays left (nl elements) and right (nr) into out. */
static void s_merge(const void *left, size_t nl, const void *right, size_t nr, void *out) {
    size_t i = 0, j = 0, k = 0;
    while (i < nl && j < nr) {
        int64_t l = s_load(left, i), r = s_load(right, j);
        if (l <= r) {
            s_store(out, k++, l);
            i++;
        } else {
            s_store(out, k++, r);
            j++;
        }
    }
    memcpy((char *) out + k * sizeof(int64_t), (const char *) left + i * sizeof(int64_t),
           (nl - i) * sizeof(int64_t));
    k += nl - i;
    memcpy((char *) out + k * sizeof(int64_t), (const char *) right + j * sizeof(int64_t),
           (nr - j) * sizeof(int64_t));
}

/* Get the sorted half `ref` (count elements) into *obj by `deadline`.
   Returns 0 with *obj filled, or fails the task (nonzero) with a message
   naming `which` half, releasing *obj if pdc_get filled it. */
static int s_get_half(pdc_task *t, pdc_client *client, pdc_ref ref, size_t count, double deadline,
                      const char *which, pdc_object *obj) {
    memset(obj, 0, sizeof *obj);
    int status = pdc_get(client, ref, obj, example_ms_left(deadline));
    if (status == PDC_OK) {
        if (obj->type == PDC_T_BYTES && obj->size == count * sizeof(int64_t))
            return 0;
        pdc_fail(t,
                 "the %s half came back as type %d with %zu bytes, "
                 "expected %zu bytes",
                 which, (int) obj->type, obj->size, count * sizeof(int64_t));
        pdc_object_release(client, obj);
        return 1;
    }
    if (status == PDC_ETIMEOUT)
        return pdc_fail(t, "the %s half was not sorted in time", which);
    if (obj->type == PDC_T_ERROR) {
        pdc_fail(t, "sorting the %s half failed: %s: %s", which, pdc_status_name(obj->error.code),
                 obj->error.message ? obj->error.message : "");
        pdc_object_release(client, obj);
        return 1;
    }
    return pdc_fail(t, "getting the %s half: %s: %s", which, pdc_status_name(status),
                    pdc_last_error(client));
}

/* Sort n > 1 elements by sorting both halves in nested tasks and merging
   them.  Every reference and object taken here is released before
   returning, whatever happened. */
static int s_sort_split(pdc_task *t, const void *data, size_t n, int64_t cutoff, int64_t depth_left,
                        int64_t timeout_ms, const char *library, size_t library_len) {
    pdc_client *client = pdc_task_client(t);
    if (!client)
        return pdc_fail(t, "no client for nested calls in this task");
    char *path = strndup(library, library_len);
    if (!path)
        return pdc_fail(t, "out of memory for the library path");
    pdc_fn sort = pdc_function(client, path, "sort");
    free(path);

    size_t count[2] = {n / 2, n - n / 2};
    const char *start[2] = {data, (const char *) data + count[0] * sizeof(int64_t)};
    const char *name[2] = {"left", "right"};
    pdc_value lib = {.type = PDC_T_STR, .as.buf = {library, library_len}};
    pdc_ref part[2], sorted[2];
    pdc_object half[2];
    int got[2] = {0, 0};
    int failed = 0;

    /* Store both halves (large ones go into the node's store), then
       submit both sorts before waiting for either, so they run in
       parallel. */
    for (int h = 0; h < 2; h++) {
        int status = PDC_OK;
        part[h] = pdc_put(client, PDC_BYTES(start[h], count[h] * sizeof(int64_t)), &status);
        if (status != PDC_OK) {
            pdc_fail(t, "storing the %s half: %s: %s", name[h], pdc_status_name(status),
                     pdc_last_error(client));
            for (int k = 0; k <= h; k++)
                pdc_ref_release(client, part[k]);
            return 1;
        }
    }
    for (int h = 0; h < 2; h++)
        sorted[h] = pdc_call(client, sort, PDC_REF(part[h]), PDC_I64(cutoff),
                             PDC_I64(depth_left - 1), PDC_I64(timeout_ms), lib);

    double deadline = example_now() + (double) timeout_ms / 1000.0;
    for (int h = 0; h < 2 && !failed; h++) {
        failed = s_get_half(t, client, sorted[h], count[h], deadline, name[h], &half[h]);
        got[h] = !failed;
    }

    if (!failed) {
        void *out = pdc_return_alloc(t, n * sizeof(int64_t));
        if (out)
            s_merge(half[0].data, count[0], half[1].data, count[1], out);
        else
            failed = 1; /* the task has failed with the reason */
    }

    for (int h = 0; h < 2; h++) {
        if (got[h])
            pdc_object_release(client, &half[h]);
        pdc_ref_release(client, sorted[h]);
        pdc_ref_release(client, part[h]);
    }
    return failed;
}

PDC_FUNCTION(sort) {
    if (pdc_arg_count(t) != 5)
        return pdc_fail(t,
                        "sort takes 5 arguments (data, cutoff, "
                        "depth_left, timeout_ms, library), got %zu",
                        pdc_arg_count(t));
    if (pdc_arg_type(t, 0) != PDC_T_BYTES)
        return pdc_fail(t,
                        "argument 0 must be an int64 array as bytes, got "
                        "type %d",
                        (int) pdc_arg_type(t, 0));
    size_t size = 0;
    const void *data = pdc_arg_bytes(t, 0, &size);
    int64_t cutoff = pdc_arg_i64(t, 1);
    int64_t depth_left = pdc_arg_i64(t, 2);
    int64_t timeout_ms = pdc_arg_i64(t, 3);
    size_t library_len = 0;
    const char *library = pdc_arg_str(t, 4, &library_len);
    if (!library)
        return 1; /* a wrong argument type already failed the task */
    if (!data && size > 0)
        return pdc_fail(t, "argument 0 has no data");
    if (size % sizeof(int64_t) != 0)
        return pdc_fail(t,
                        "argument 0 is %zu bytes, not a whole number of "
                        "int64",
                        size);
    if (cutoff < 1 || depth_left < 0 || timeout_ms < 1)
        return pdc_fail(t,
                        "bad arguments: cutoff %lld (>= 1), depth_left "
                        "%lld (>= 0), timeout_ms %lld (>= 1)",
                        (long long) cutoff, (long long) depth_left, (long long) timeout_ms);
    if (library_len == 0 || library[0] != '/')
        return pdc_fail(t, "the library path '%.*s' must be absolute", (int) library_len, library);

    size_t n = size / sizeof(int64_t);
    if (n < 2 || n <= (uint64_t) cutoff || depth_left == 0)
        return s_sort_here(t, data, n);
    return s_sort_split(t, data, n, cutoff, depth_left, timeout_ms, library, library_len);
}
