/*  pdc_config: every tunable of pdc, with its default, its range, its
    environment variable and a line of help, declared once.

    No module uses a bare number for a timeout, size or threshold: it reads
    the named setting here.  Daemons take each setting as a flag too
    (--set NAME=VALUE), and `pdc-raylet --print-config` and `pdc status
    -v` print them.  Values are integers, with an optional K, M or G
    suffix (powers of 1024, T too); sizes are bytes, times milliseconds unless
    the name ends in _us.  Each has a range, and a value outside it is
    refused where it is read, naming the setting: a program with a bad
    setting does not start.
*/
#ifndef PDC_CONFIG_H_INCLUDED
#define PDC_CONFIG_H_INCLUDED

#include <stdint.h>
#include <stdio.h>

/*  X(field, ENV, default, min, max, help)

    min..max is the range of values the setting accepts (both ends
    included); pdc_config_load and pdc_config_set refuse a value outside
    it, so no module needs to guard against a zero period or a negative
    size.  Every default lies in its range (checked when pdc_config.c
    compiles).  The ranges are wide on purpose: they exclude the values
    that cannot work (a zero timer period, a zero window, a percentage
    above 100), not the ones that are merely unusual. */
#define PDC_KIB       (1024LL)
#define PDC_MIB       (1024LL * 1024)
#define PDC_GIB       (1024LL * 1024 * 1024)
#define PDC_TIB       (1024LL * 1024 * 1024 * 1024)
#define PDC_MINUTE_MS (60LL * 1000)
#define PDC_HOUR_MS   (60 * PDC_MINUTE_MS)
#define PDC_DAY_MS    (24 * PDC_HOUR_MS)
#define PDC_SECOND_US (1000LL * 1000)
#define PDC_MINUTE_US (60 * PDC_SECOND_US)
/* Most CPU slots or workers one node may have. */
#define PDC_MAX_NODE_SLOTS 4096

#define PDC_SETTINGS(X)                                                                            \
    X(inline_max, "PDC_INLINE_MAX", 100 * PDC_KIB, 0, 64 * PDC_MIB,                                \
      "largest value (bytes) kept inline in messages instead of the store")                        \
    X(object_store_memory, "PDC_OBJECT_STORE_MEMORY", 0, 0, 16 * PDC_TIB,                          \
      "object store capacity in bytes; 0 means 30% of RAM, bounded by "                            \
      "/dev/shm")                                                                                  \
    X(store_shards, "PDC_STORE_SHARDS", 4, 1, 1024,                                                \
      "LMDB environments in a node's store (concurrent writers)")                                  \
    X(num_cpus, "PDC_NUM_CPUS", 0, 0, PDC_MAX_NODE_SLOTS,                                          \
      "CPU slots of a node; 0 means the cores")                                                    \
    X(worker_prestart, "PDC_WORKER_PRESTART", -1, -1, PDC_MAX_NODE_SLOTS,                          \
      "workers started with the raylet; -1 means one per CPU slot")                                \
    X(worker_idle_max, "PDC_WORKER_IDLE_MAX", 0, 0, PDC_MAX_NODE_SLOTS,                            \
      "idle workers kept beyond the CPU slots; extra ones are stopped")                            \
    X(lease_idle_ms, "PDC_LEASE_IDLE_MS", 20, 0, PDC_HOUR_MS,                                      \
      "how long an owner keeps an idle worker lease before returning it")                          \
    X(max_tasks_in_flight, "PDC_MAX_TASKS_IN_FLIGHT", 64, 1, 100000,                               \
      "tasks an owner pushes to one leased worker before results return")                          \
    X(max_pending_lease_requests, "PDC_MAX_PENDING_LEASE_REQUESTS", 10, 1, 10000,                  \
      "lease requests an owner has out at once for long tasks of one shape "                       \
      "(short tasks share one lease request at a time)")                                           \
    X(keepalive_ms, "PDC_KEEPALIVE_MS", 500, 10, PDC_MINUTE_MS,                                    \
      "how often an owner tells raylets on other nodes it is alive; one "                          \
      "silent for node_timeout_ms x 3 loses its leases there")                                     \
    X(spread_min_us, "PDC_SPREAD_MIN_US", 1000, 0, PDC_MINUTE_US,                                  \
      "tasks busy longer than this (moving average) are spread one per "                           \
      "worker; shorter ones are pushed in batches")                                                \
    X(result_flush_us, "PDC_RESULT_FLUSH_US", 500, 0, PDC_SECOND_US,                               \
      "longest a worker holds finished results to send them in a batch")                           \
    X(heartbeat_ms, "PDC_HEARTBEAT_MS", 100, 10, PDC_MINUTE_MS, "raylet heartbeat period")         \
    X(node_timeout_ms, "PDC_NODE_TIMEOUT_MS", 1000, 100, PDC_HOUR_MS,                              \
      "silence after which the head declares a node dead")                                         \
    X(connect_timeout_ms, "PDC_CONNECT_TIMEOUT_MS", 15000, 100, PDC_HOUR_MS,                       \
      "how long pdc_init waits for the cluster to answer, and what needs the head (a named "       \
      "actor's name claim) waits for one that is silent (restarting)")                             \
    X(shutdown_timeout_ms, "PDC_SHUTDOWN_TIMEOUT_MS", 5000, 0, 10 * PDC_MINUTE_MS,                 \
      "how long a stop waits for processes before SIGKILL")                                        \
    X(max_message_size, "PDC_MAX_MESSAGE_SIZE", PDC_GIB, PDC_MIB, 64 * PDC_GIB,                    \
      "largest message a network-facing socket accepts (bytes)")                                   \
    X(owner_check_ms, "PDC_OWNER_CHECK_MS", 200, 10, PDC_MINUTE_MS,                                \
      "how often embedded daemons check that their driver still lives")                            \
    X(spillback_threshold_pct, "PDC_SPILLBACK_THRESHOLD_PCT", 50, 0, 100,                          \
      "percent of a node's CPUs busy above which new work goes to other "                          \
      "nodes with room (default strategy)")                                                        \
    X(infeasible_timeout_ms, "PDC_INFEASIBLE_TIMEOUT_MS", 30000, 0, PDC_DAY_MS,                    \
      "how long a request no live node can satisfy waits for one to join "                         \
      "before it fails")                                                                           \
    X(transfer_chunk_size, "PDC_TRANSFER_CHUNK_SIZE", 4 * PDC_MIB, 4 * PDC_KIB, PDC_GIB,           \
      "bytes per chunk when a raylet pulls an object from another node")                           \
    X(transfer_window, "PDC_TRANSFER_WINDOW", 4, 1, 1024,                                          \
      "chunks of one transfer in flight at once (flow control)")                                   \
    X(transfer_timeout_ms, "PDC_TRANSFER_TIMEOUT_MS", 10000, 100, PDC_HOUR_MS,                     \
      "a transfer that makes no progress for this long fails")                                     \
    X(pull_timeout_ms, "PDC_PULL_TIMEOUT_MS", 120000, 100, PDC_DAY_MS,                             \
      "longest a client waits for its raylet to bring an object over")                             \
    X(lineage_max_bytes, "PDC_LINEAGE_MAX_BYTES", 64 * PDC_MIB, 0, 64 * PDC_GIB,                   \
      "bytes of finished task specs an owner keeps to rebuild lost results (the oldest go "        \
      "first; 0 keeps none)")                                                                      \
    X(max_code_bytes, "PDC_MAX_CODE_BYTES", 256 * PDC_MIB, 0, 64 * PDC_GIB,                        \
      "bytes of code packages (uploaded libraries) the head keeps in all")                         \
    X(max_sockets, "PDC_MAX_SOCKETS", 0, 0, 1024 * 1024,                                           \
      "ZeroMQ sockets one process may open (a driver needs about three an actor); 0 means as "     \
      "many as its file descriptors allow, two a socket")                                          \
    X(job_package_max_bytes, "PDC_JOB_PACKAGE_MAX_BYTES", 100 * PDC_MIB, 0, 16 * PDC_GIB,          \
      "largest working directory pdc-submit packs for a job (the files' bytes, after "             \
      ".pdcignore)")                                                                               \
    X(job_log_max_bytes, "PDC_JOB_LOG_MAX_BYTES", PDC_MIB, 4 * PDC_KIB, PDC_GIB,                   \
      "output of one job the head keeps for pdc-submit --logs (the oldest goes first)")            \
    X(job_history, "PDC_JOB_HISTORY", 100, 1, 100000,                                              \
      "ended jobs the head keeps in its job table (the oldest goes first)")                        \
    X(actor_history, "PDC_ACTOR_HISTORY", 1000, 1, 1000000,                                        \
      "dead actors the head keeps in its actor table (the oldest goes first)")                     \
    X(actor_restart_timeout_ms, "PDC_ACTOR_RESTART_TIMEOUT_MS", 60000, 100, 86400000,              \
      "how long a holder of an actor handle waits for a crashed actor to come back (restarted "    \
      "by its creator) before its calls fail with PDC_EACTORDIED")                                 \
    X(head_db_size, "PDC_HEAD_DB_SIZE", PDC_GIB, 16 * PDC_MIB, PDC_TIB,                            \
      "largest the head's database (its tables on disk: nodes, names, code, jobs) may grow")       \
    X(head_db_sync, "PDC_HEAD_DB_SYNC", 1, 0, 1,                                                   \
      "1: the head fsyncs each change of its tables (survives a machine crash); 0: written "       \
      "only (survives the head's process, not the machine)")

typedef struct {
#define PDC_X_FIELD(field, env, def, min, max, help) int64_t field;
    PDC_SETTINGS(PDC_X_FIELD)
#undef PDC_X_FIELD
} pdc_config_t;

/* One setting as declared: its name (the field and --set name), its
   environment variable, default, range and help. */
typedef struct {
    const char *name, *env, *help;
    int64_t def, min, max;
    size_t offset; /* of its field in pdc_config_t */
} pdc_setting_t;

/* The i-th setting in declaration order; NULL when i is past the last. */
const pdc_setting_t *pdc_config_setting(size_t i);

/* Defaults, then PDC_* environment variables.  0, or -1 with a message in
   err naming the variable, its value and what was wrong with it:
   "PDC_MAX_TASKS_IN_FLIGHT=0 is out of range: max_tasks_in_flight must
   be 1..100000".  An empty variable counts as unset. */
int pdc_config_read_env(pdc_config_t *cfg, char *err, size_t errlen);
/* pdc_config_read_env, printing its message to stderr ("pdc: ...").
   Every program calls this first and refuses to start on -1. */
int pdc_config_load(pdc_config_t *cfg);
/* Apply "name=value" (a --set flag).  0, or -1 with a message in err
   naming the setting, its variable, the value and the range; cfg is
   unchanged then. */
int pdc_config_set(pdc_config_t *cfg, const char *assignment, char *err, size_t errlen);
/* Print every setting with its value, range, variable and help. */
void pdc_config_print(const pdc_config_t *cfg, FILE *out);

#endif
