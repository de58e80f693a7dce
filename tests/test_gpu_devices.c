/*  test_gpu_devices: which GPUs a task or actor is given.  The embedded
    cluster's raylet declares GPU=2 (PDC_RESOURCES) and no
    CUDA_VISIBLE_DEVICES of its own.  A GPU=1 task sees one device in
    CUDA_VISIBLE_DEVICES, two GPU actors hold different ones, GPU=2 sees
    both, fractions share one, a GPU actor keeps its device for its life,
    and a task that asks for no GPU sees the worker's own setting (here
    none).  No device is needed: these are the names the raylet hands
    out; tests/netns covers GPU placement across nodes. */
#include "pdc_itest.h"

static void s_setup(void) {
    setenv("PDC_RESOURCES", "GPU=2", 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    itest_setup();
}

TestSuite(gpu_devices, .init = s_setup, .fini = itest_teardown);

/* n cuda_visible(ms) tasks with resources, run at once; their answers. */
static void s_visible(const char *resources, int n, int64_t ms, char out[][64]) {
    pdc_opts opts = {.resources = resources};
    pdc_ref r[8];
    for (int i = 0; i < n; i++)
        r[i] = pdc_call_opts(g_c, fn("cuda_visible"), &opts, PDC_I64(ms));
    for (int i = 0; i < n; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r[i], &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        snprintf(out[i], 64, "%.*s", (int) o.size, (const char *) o.data);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
}

Test(gpu_devices, one_gpu_task_sees_one_device) {
    char seen[1][64];
    s_visible("GPU=1", 1, 0, seen);
    cr_assert(!strcmp(seen[0], "0") || !strcmp(seen[0], "1"), "saw '%s'", seen[0]);
}

/* The devices a GPU=amount actor sees. */
static void s_actor_gpus(pdc_actor *a, char *out, size_t len) {
    pdc_ref r = pdc_actor_call(g_c, a, "actor_gpus");
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    snprintf(out, len, "%.*s", (int) o.size, (const char *) o.data);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

Test(gpu_devices, two_gpu_actors_hold_different_devices) {
    pdc_actor_opts opts = {.resources = "GPU=1"};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0));
    pdc_actor *b = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0));
    cr_assert(a && b, "%s", pdc_last_error(g_c));
    char da[64], db[64];
    s_actor_gpus(a, da, sizeof da);
    s_actor_gpus(b, db, sizeof db);
    cr_assert(strcmp(da, db), "both actors got device '%s'", da);
    cr_assert((!strcmp(da, "0") || !strcmp(da, "1")) && (!strcmp(db, "0") || !strcmp(db, "1")),
              "%s %s", da, db);
    pdc_actor_kill(g_c, a);
    pdc_actor_kill(g_c, b);
    pdc_actor_release(g_c, a);
    pdc_actor_release(g_c, b);
}

Test(gpu_devices, two_gpus_are_both_visible) {
    char seen[1][64];
    s_visible("GPU=2", 1, 0, seen);
    cr_assert_str_eq(seen[0], "0,1");
}

Test(gpu_devices, fractions_share_a_device) {
    char seen[2][64];
    s_visible("GPU=0.5", 2, 300, seen);
    cr_assert(strlen(seen[0]) == 1 && strlen(seen[1]) == 1, "saw '%s' and '%s'", seen[0], seen[1]);
}

Test(gpu_devices, a_task_without_gpus_sees_the_workers_own_setting) {
    char seen[1][64];
    s_visible("GPU=1", 1, 0, seen); /* a worker that ran a GPU task ... */
    s_visible(NULL, 1, 0, seen);    /* ... and the next, without */
    cr_assert_str_eq(seen[0], "(unset)");
}

Test(gpu_devices, a_gpu_actor_keeps_its_device) {
    pdc_actor_opts opts = {.resources = "GPU=1"};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0));
    cr_assert(a, "%s", pdc_last_error(g_c));
    char first[64] = "";
    for (int i = 0; i < 3; i++) {
        char seen[64];
        s_actor_gpus(a, seen, sizeof seen);
        if (i == 0)
            snprintf(first, sizeof first, "%s", seen);
        cr_assert(!strcmp(seen, "0") || !strcmp(seen, "1"), "saw '%s'", seen);
        cr_assert_str_eq(seen, first);
    }
    /* The other device is still free for a task. */
    char task[1][64];
    s_visible("GPU=1", 1, 0, task);
    cr_assert(strcmp(task[0], first), "the task got the actor's device %s", first);
    pdc_actor_kill(g_c, a);
    pdc_actor_release(g_c, a);
}
