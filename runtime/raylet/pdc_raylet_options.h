/*  pdc_raylet_options: what a raylet is told to be, from its command
    line, the environment and its host.

    pdc-raylet takes where it serves (--endpoint, and --node-ip-address
    for other hosts), where its head is, its store directory and session,
    and what the node has: CPU slots (--num-cpus, else PDC_NUM_CPUS, else
    the cores), other resources (--resources, else PDC_RESOURCES; GPU is
    detected through CUDA when not given) and labels (--labels, else
    PDC_LABELS).  Every setting of pdc_config can be given with --set.
    pdc_raylet_options_parse reads them all, fills in the defaults (a
    random node id, the pdc-worker beside this binary, a store capacity
    that fits the host) and says whether to run. */
#ifndef PDC_RAYLET_OPTIONS_H_INCLUDED
#define PDC_RAYLET_OPTIONS_H_INCLUDED

#include "pdc_config.h"
#include "pdc_labels.h"
#include "pdc_resources.h"
#include "pdc_view.h"

#include <limits.h>
#include <stddef.h>

#define PDC_RAYLET_IP_MAX     64
#define PDC_RAYLET_LABELS_MAX 1024

typedef struct {
    pdc_config_t cfg;
    char endpoint[PATH_MAX]; /* ipc (or tcp), for this node's clients */
    char head[PATH_MAX];     /* "" for none                           */
    char store_dir[PATH_MAX];
    char session[PATH_MAX];
    char spill_dir[PATH_MAX]; /* the store's spill directory          */
    char worker_bin[PATH_MAX];
    char node_id[PDC_NODE_ID_MAX];
    char node_ip[PDC_RAYLET_IP_MAX]; /* "" : this host only               */
    int port;                        /* with node_ip; 0: any free one     */
    int owner_pid;                   /* stop when it is gone; 0 for none  */
    double cpus;
    pdc_resources_t res; /* besides CPU */
    pdc_labels_t labels;
    char labels_text[PDC_RAYLET_LABELS_MAX];
    size_t store_capacity;
} pdc_raylet_options_t;

/* Parse argv into o.  1: run; 0: exit with *exit_code (help, the
   settings printed, or a mistake explained on stderr). */
int pdc_raylet_options_parse(pdc_raylet_options_t *o, int argc, char **argv, int *exit_code);

#endif
