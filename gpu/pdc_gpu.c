/*  pdc_gpu: CUDA device count through a dlopen'ed driver (see pdc_gpu.h).

    The driver API is declared here by hand, just the three calls used;
    their signatures and CUresult (an int enum, 0 for success) have been
    stable since CUDA 2 and are the same in every libcuda.so.1. */
#include "pdc_gpu.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CUDA_LIBRARY "libcuda.so.1"

typedef int s_curesult_t;
typedef s_curesult_t (*s_cu_init_fn)(unsigned int flags);
typedef s_curesult_t (*s_cu_device_get_count_fn)(int *count);
typedef s_curesult_t (*s_cu_get_error_name_fn)(s_curesult_t error, const char **name);

static int s_none(char *why, size_t len, const char *fmt, ...) {
    if (why && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return 0;
}

/* " with CUDA_VISIBLE_DEVICES='...'" when it is set, else "". */
static const char *s_visible_note(char *buf, size_t len) {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    if (!v)
        return "";
    snprintf(buf, len, " with CUDA_VISIBLE_DEVICES='%s'", v);
    return buf;
}

/* The errors cuInit and cuDeviceGetCount give on hosts that cannot run
   CUDA, for drivers without cuGetErrorName and for the toolkit's stub
   libcuda (whose cuGetErrorName fails too), from cuda.h. */
static const struct {
    s_curesult_t rc;
    const char *name;
} s_known_errors[] = {
    {2, "CUDA_ERROR_OUT_OF_MEMORY"},
    {3, "CUDA_ERROR_NOT_INITIALIZED"},
    {34, "CUDA_ERROR_STUB_LIBRARY"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE"},
    {100, "CUDA_ERROR_NO_DEVICE"},
    {101, "CUDA_ERROR_INVALID_DEVICE"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"},
    {999, "CUDA_ERROR_UNKNOWN"},
};

/* "CUDA_ERROR_NO_DEVICE (100)": the driver's name for rc, else ours,
   else "CUDA error 100". */
static const char *s_error_name(void *lib, s_curesult_t rc, char *buf, size_t len) {
    s_cu_get_error_name_fn get_name = (s_cu_get_error_name_fn) dlsym(lib, "cuGetErrorName");
    const char *name = NULL;
    if (!get_name || get_name(rc, &name) != 0)
        name = NULL;
    for (size_t i = 0; !name && i < sizeof s_known_errors / sizeof s_known_errors[0]; i++)
        if (s_known_errors[i].rc == rc)
            name = s_known_errors[i].name;
    if (name)
        snprintf(buf, len, "%s (%d)", name, rc);
    else
        snprintf(buf, len, "CUDA error %d", rc);
    return buf;
}

int pdc_gpu_count(char *why, size_t len) {
    if (why && len)
        why[0] = '\0';
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    if (visible && (!visible[0] || !strcmp(visible, "-1")))
        return s_none(why, len, "CUDA_VISIBLE_DEVICES is '%s': no device is visible", visible);

    dlerror();
    void *lib = dlopen(S_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        return s_none(why, len, "no CUDA driver (%s)", e ? e : S_CUDA_LIBRARY ": not found");
    }
    s_cu_init_fn init = (s_cu_init_fn) dlsym(lib, "cuInit");
    s_cu_device_get_count_fn get_count = (s_cu_device_get_count_fn) dlsym(lib, "cuDeviceGetCount");
    if (!init || !get_count) {
        dlclose(lib);
        return s_none(why, len, "%s lacks cuInit or cuDeviceGetCount: not a CUDA driver",
                      S_CUDA_LIBRARY);
    }
    char name[96], note[160];
    s_curesult_t rc = init(0);
    if (rc != 0) {
        s_none(why, len, "cuInit failed: %s%s", s_error_name(lib, rc, name, sizeof name),
               s_visible_note(note, sizeof note));
        dlclose(lib);
        return 0;
    }
    /* The driver is initialised: it stays loaded from here on. */
    int count = 0;
    rc = get_count(&count);
    if (rc != 0)
        return s_none(why, len, "cuDeviceGetCount failed: %s",
                      s_error_name(lib, rc, name, sizeof name));
    if (count <= 0)
        return s_none(why, len, "the CUDA driver reports no device%s",
                      s_visible_note(note, sizeof note));
    return count;
}
