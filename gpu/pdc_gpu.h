/*  pdc_gpu: how many CUDA GPUs this node has, without linking CUDA.

    The raylet asks once at start-up, to declare GPU=N when it is not
    given --resources GPU=...  pdc_gpu_count loads the driver library
    (libcuda.so.1) with dlopen, so that libpdc builds and runs on hosts
    with no CUDA at all, and reports why it found none: the driver is
    missing, cuInit failed (the CUDA error's name and number), or
    CUDA_VISIBLE_DEVICES hides every device.

    CUDA_VISIBLE_DEVICES: "" or "-1" means no GPU, and the driver is not
    loaded.  Any other list is applied by the driver itself (cuInit reads
    it; cuDeviceGetCount counts only the listed ids below the number of
    devices, up to the first that is not), so the count is already the
    visible one and is not filtered again here -- filtering it again would
    count CUDA_VISIBLE_DEVICES=2,3 on a four-GPU node as none.

    Once cuInit has succeeded the driver stays loaded (unloading an
    initialised driver is not safe); otherwise it is closed again.  Safe
    to call more than once, and from any thread. */
#ifndef PDC_GPU_H_INCLUDED
#define PDC_GPU_H_INCLUDED

#include <stddef.h>

/* The number of visible CUDA devices.  0 when there are none, with why
   saying why ("no CUDA driver (libcuda.so.1: cannot open shared object
   file: ...)", "cuInit failed: CUDA_ERROR_NO_DEVICE (100)", ...); why is
   "" when there are GPUs.  why may be NULL. */
int pdc_gpu_count(char *why, size_t len);

#endif
