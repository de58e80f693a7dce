/*  pdc_config: every tunable of pdc, with its default, its environment
    variable and a line of help, declared once.

    No module uses a bare number for a timeout, size or threshold: it reads
    the named setting here.  Daemons take each setting as a flag too
    (--set NAME=VALUE), and `pdc-raylet --print-config` prints them.
    Values are integers; sizes are bytes, times milliseconds.
*/
#ifndef PDC_CONFIG_H_INCLUDED
#define PDC_CONFIG_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

/* X(field, ENV, default, help) */
#define PDC_SETTINGS(X)                                                       \
    X(inline_max, "PDC_INLINE_MAX", 100 * 1024,                               \
      "largest value (bytes) kept inline in messages instead of the store")   \
    X(object_store_memory, "PDC_OBJECT_STORE_MEMORY", 0,                      \
      "object store capacity in bytes; 0 means 30% of RAM, bounded by "       \
      "/dev/shm")                                                             \
    X(store_shards, "PDC_STORE_SHARDS", 4,                                    \
      "LMDB environments in a node's store (concurrent writers)")             \
    X(num_cpus, "PDC_NUM_CPUS", 0, "CPU slots of a node; 0 means the cores")  \
    X(worker_prestart, "PDC_WORKER_PRESTART", -1,                             \
      "workers started with the raylet; -1 means one per CPU slot")           \
    X(worker_idle_max, "PDC_WORKER_IDLE_MAX", 0,                              \
      "idle workers kept beyond the CPU slots; extra ones are stopped")      \
    X(lease_idle_ms, "PDC_LEASE_IDLE_MS", 20,                                 \
      "how long an owner keeps an idle worker lease before returning it")     \
    X(max_tasks_in_flight, "PDC_MAX_TASKS_IN_FLIGHT", 64,                     \
      "tasks an owner pushes to one leased worker before results return")     \
    X(max_pending_lease_requests, "PDC_MAX_PENDING_LEASE_REQUESTS", 10,      \
      "lease requests an owner has out at once for long tasks of one shape "  \
      "(short tasks share one lease request at a time)")                      \
    X(keepalive_ms, "PDC_KEEPALIVE_MS", 500,                                  \
      "how often an owner tells raylets on other nodes it is alive; one "     \
      "silent for node_timeout_ms x 3 loses its leases there")                \
    X(spread_min_us, "PDC_SPREAD_MIN_US", 1000,                               \
      "tasks busy longer than this (moving average) are spread one per "     \
      "worker; shorter ones are pushed in batches")                           \
    X(result_flush_us, "PDC_RESULT_FLUSH_US", 500,                            \
      "longest a worker holds finished results to send them in a batch")      \
    X(heartbeat_ms, "PDC_HEARTBEAT_MS", 100, "raylet heartbeat period")       \
    X(node_timeout_ms, "PDC_NODE_TIMEOUT_MS", 1000,                           \
      "silence after which the head declares a node dead")                    \
    X(connect_timeout_ms, "PDC_CONNECT_TIMEOUT_MS", 15000,                    \
      "how long pdc_init waits for the cluster to answer")                    \
    X(shutdown_timeout_ms, "PDC_SHUTDOWN_TIMEOUT_MS", 5000,                   \
      "how long a stop waits for processes before SIGKILL")                   \
    X(max_message_size, "PDC_MAX_MESSAGE_SIZE", 1024LL * 1024 * 1024,         \
      "largest message a network-facing socket accepts (bytes)")              \
    X(owner_check_ms, "PDC_OWNER_CHECK_MS", 200,                              \
      "how often embedded daemons check that their driver still lives")     \
    X(spillback_threshold_pct, "PDC_SPILLBACK_THRESHOLD_PCT", 50,             \
      "percent of a node's CPUs busy above which new work goes to other "    \
      "nodes with room (default strategy)")                                  \
    X(infeasible_timeout_ms, "PDC_INFEASIBLE_TIMEOUT_MS", 30000,              \
      "how long a request no live node can satisfy waits for one to join "   \
      "before it fails")                                                      \
    X(transfer_chunk_size, "PDC_TRANSFER_CHUNK_SIZE", 4 * 1024 * 1024,        \
      "bytes per chunk when a raylet pulls an object from another node")      \
    X(transfer_window, "PDC_TRANSFER_WINDOW", 4,                              \
      "chunks of one transfer in flight at once (flow control)")              \
    X(transfer_timeout_ms, "PDC_TRANSFER_TIMEOUT_MS", 10000,                  \
      "a transfer that makes no progress for this long fails")                \
    X(pull_timeout_ms, "PDC_PULL_TIMEOUT_MS", 120000,                         \
      "longest a client waits for its raylet to bring an object over")       \
    X(max_code_bytes, "PDC_MAX_CODE_BYTES", 256LL * 1024 * 1024,              \
      "bytes of code packages (uploaded libraries) the head keeps in all")

typedef struct {
#define PDC_X_FIELD(field, env, def, help) int64_t field;
    PDC_SETTINGS(PDC_X_FIELD)
#undef PDC_X_FIELD
} pdc_config_t;

/* Defaults, then PDC_* environment variables.  Returns 0, or -1 with a
   message on stderr naming the bad variable. */
int pdc_config_load(pdc_config_t *cfg);
/* Apply "name=value" (a --set flag).  0 or -1 with a message in err. */
int pdc_config_set(pdc_config_t *cfg, const char *assignment, char *err,
                   size_t errlen);
/* Print every setting with its value, variable and help. */
void pdc_config_print(const pdc_config_t *cfg, FILE *out);

#endif
