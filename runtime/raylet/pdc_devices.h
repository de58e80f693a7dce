/*  pdc_devices: which GPU devices of a node a lease holds.

    The GPU resource is counted like any other (pdc_resources), but a
    task also has to be told which devices are its own, so that two tasks
    never share a device by accident: the grant names them and the worker
    sets CUDA_VISIBLE_DEVICES to them.  As in Ray, the whole part of an
    amount takes whole free devices and a fraction takes a share of one
    device, the fullest one it fits in, so that fractions pack together
    and leave other devices whole.

    A node with GPU=N has N devices (a fraction alone, GPU=0.5, is one
    device in part).  Device d is named by entry d of the raylet's own
    CUDA_VISIBLE_DEVICES when it has one, else by d.  The resource count
    is checked before a take, so a take never fails; what it took is a
    share, handed back whole when the lease ends.  Plain data, no
    allocation. */
#ifndef PDC_DEVICES_H_INCLUDED
#define PDC_DEVICES_H_INCLUDED

#define PDC_DEVICES_MAX 64
#define PDC_DEVICE_NAME 16
/* Room for "0,1,...": every device name and a comma. */
#define PDC_DEVICE_IDS (PDC_DEVICES_MAX * (PDC_DEVICE_NAME + 1))

typedef struct {
    int n;                                       /* devices            */
    double free[PDC_DEVICES_MAX];                /* 1: all of it free  */
    char name[PDC_DEVICES_MAX][PDC_DEVICE_NAME]; /* for CUDA_VISIBLE_DEVICES */
} pdc_devices_t;

/* What one lease holds: a share of each device, and their names. */
typedef struct {
    double share[PDC_DEVICES_MAX];
    char ids[PDC_DEVICE_IDS]; /* "0,1" or "" */
} pdc_device_share_t;

/* amount: the node's GPU resource; visible: CUDA_VISIBLE_DEVICES as the
   raylet was started with (NULL or "" for none). */
void pdc_devices_init(pdc_devices_t *d, double amount, const char *visible);
/* Take amount GPUs into out (cleared first). */
void pdc_devices_take(pdc_devices_t *d, double amount, pdc_device_share_t *out);
/* Hand share back and clear it (a cleared share gives back nothing). */
void pdc_devices_give_back(pdc_devices_t *d, pdc_device_share_t *share);

#endif
