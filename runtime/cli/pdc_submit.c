/*  pdc-submit: run a job on a running pdc cluster, follow it, stop it.

        pdc-submit --address tcp://HOST:PORT [--working-dir DIR] [--env K=V]...
                   [--resources CPU=1,...] [--label-selector SEL] [--job-id ID]
                   [--no-wait] [--detach-on-interrupt] -- COMMAND ARGS...
        pdc-submit --address ... --list | --status ID | --stop ID | --logs ID [--follow]

    The shape of `ray job submit`.  The working directory is packed
    (pdc_package.h: content-addressed, honouring .pdcignore, at most
    job_package_max_bytes) and uploaded to the head as a code package,
    once per content: pdc-submit first asks whether the head has it.  The
    head places the job on a node with the resources and labels asked for
    and that node's raylet runs COMMAND in the unpacked directory, with
    PDC_ADDRESS and PDC_JOB_ID set (head/pdc_jobs_table.h says the rest).

    Without --no-wait, pdc-submit prints the job's output as it comes (the
    driver's as is, its workers' prefixed "(node, pid=N)") and exits with
    the job's exit status (pdc_job_exit_code).  Ctrl-C stops the job and
    waits until it is gone from every node (a second Ctrl-C leaves at
    once); with --detach-on-interrupt it leaves the job running and says
    how to follow it.  Every wait has a timeout: a head that stops
    answering for connect_timeout_ms ends pdc-submit with an error that
    says what to ask later.

    Submitting and stopping are accepted by a head only from its own host,
    unless it runs with --insecure-jobs; listing and logs from anywhere. */
#include "pdc.h"
#include "pdc_client_internal.h" /* pdc_now_ms */
#include "pdc_code.h"
#include "pdc_config.h"
#include "pdc_job.h"
#include "pdc_package.h"
#include "pdc_resources.h"
#include "pdc_wire.h"

#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_ENV  256
#define S_PING_MS  2000 /* a silent follow asks the head how the job is */
#define S_MAX_JOBS 100000

static volatile sig_atomic_t s_interrupts;

static void s_on_sigint(int sig) {
    (void) sig;
    s_interrupts++;
}

static void s_usage(FILE *out) {
    fprintf(out,
            "Usage: pdc-submit --address tcp://HOST:PORT [options] -- COMMAND [ARGS...]\n"
            "       pdc-submit --address tcp://HOST:PORT --list | --status ID | --stop ID\n"
            "       pdc-submit --address tcp://HOST:PORT --logs ID [--follow]\n"
            "Run a job on a pdc cluster: COMMAND runs as the job's driver on a node, in the\n"
            "working directory shipped to it, with PDC_ADDRESS and PDC_JOB_ID set.\n\n"
            "  --address ADDR          the head (default: PDC_ADDRESS)\n"
            "  --working-dir DIR       ship DIR (files named in DIR/.pdcignore left out; at most\n"
            "                          job_package_max_bytes, PDC_JOB_PACKAGE_MAX_BYTES); the\n"
            "                          command runs inside it, relative paths resolve there\n"
            "  --env NAME=VALUE        set a variable for the driver (repeatable)\n"
            "  --resources CPU=1,...   run the driver on a node with these free\n"
            "  --label-selector SEL    ... and with labels matching SEL (tier=edge,zone!=b)\n"
            "  --job-id ID             name the job (default: the head names it job-...)\n"
            "  --no-wait               print the job id and return at once\n"
            "  --detach-on-interrupt   Ctrl-C leaves the job running (default: stops it)\n"
            "  --list                  every job the head knows\n"
            "  --status ID             one job, in full\n"
            "  --stop ID               stop a job and wait until it is gone\n"
            "  --logs ID               the job's output the head kept; --follow: and what comes\n"
            "  -h, --help              this text\n\n"
            "Exit status: the job's (0 if it succeeded, its driver's exit code, 128 + the signal\n"
            "that killed it, 1 if it failed without one, 130 when Ctrl-C stopped it); 2 for a\n"
            "usage error, 3 when the head could not be reached or stopped answering.\n"
            "The head takes submissions and --stop only from its own host unless it was\n"
            "started with --insecure-jobs; --list, --status and --logs work from any host.\n");
}

/* ---- The connection to the head ---------------------------------------- */

typedef struct {
    const char *address;
    zsock_t *sock;
    pdc_enc_t enc;
    int64_t timeout_ms;
    uint64_t next_request;
} head_conn_t;

static int s_connect(head_conn_t *h, const char *address, int64_t timeout_ms) {
    zsys_handler_set(NULL);
    h->address = address;
    h->timeout_ms = timeout_ms;
    h->next_request = 1;
    pdc_enc_init(&h->enc);
    h->sock = zsock_new(ZMQ_DEALER);
    if (!h->sock || zsock_connect(h->sock, "%s", address) < 0) {
        fprintf(stderr, "pdc-submit: cannot connect to %s: %s\n", address, zmq_strerror(errno));
        return -1;
    }
    pdc_wire_tune(zsock_resolve(h->sock), 0);
    return 0;
}

static void s_disconnect(head_conn_t *h) {
    zsock_destroy(&h->sock);
    pdc_enc_free(&h->enc);
}

/* Send h->enc (begun with a request id from s_begin), with payload. */
static void s_send(head_conn_t *h, const void *payload, size_t len) {
    pdc_wire_send(zsock_resolve(h->sock), NULL, 0, &h->enc, payload, len);
}

static uint64_t s_begin(head_conn_t *h, pdc_msg_type type) {
    uint64_t request = h->next_request++;
    pdc_enc_begin(&h->enc, type, request);
    return request;
}

/* The next message within timeout_ms: 1, or 0 on timeout. */
static int s_recv(head_conn_t *h, pdc_inbound_t *in, int64_t timeout_ms) {
    zmq_pollitem_t item = {zsock_resolve(h->sock), 0, ZMQ_POLLIN, 0};
    for (;;) {
        int rc = zmq_poll(&item, 1, (long) timeout_ms);
        if (rc < 0 && errno == EINTR)
            return 0; /* a signal: the caller looks at it */
        if (rc <= 0)
            return 0;
        int got = pdc_wire_recv(zsock_resolve(h->sock), 0, in);
        if (got > 0)
            return 1;
        if (got < 0)
            pdc_inbound_close(in);
    }
}

/* The reply to request: 1 with it in *in, 0 after a timeout (said). */
static int s_reply(head_conn_t *h, uint64_t request, pdc_inbound_t *in) {
    uint64_t deadline = pdc_now_ms() + (uint64_t) h->timeout_ms;
    for (;;) {
        uint64_t now = pdc_now_ms();
        if (now >= deadline || s_interrupts) {
            if (!s_interrupts)
                fprintf(stderr, "pdc-submit: the head at %s did not answer within %lld ms\n",
                        h->address, (long long) h->timeout_ms);
            return 0;
        }
        if (!s_recv(h, in, (int64_t) (deadline - now)))
            continue;
        if (in->msg.request_id == request)
            return 1;
        pdc_inbound_close(in);
    }
}

/* An ERROR reply said on stderr; 1 if in was one. */
static int s_said_error(const pdc_inbound_t *in) {
    if (in->msg.type != PDC_MSG_ERROR)
        return 0;
    char why[1024];
    fprintf(stderr, "pdc-submit: %s\n",
            pdc_f_cstr(&in->msg.fields[PDC_ERROR_MESSAGE], why, sizeof why));
    return 1;
}

/* JOB_LIST id ("" all): the rows, malloc'd, their count in *n; NULL
   after an error (said), with *n -1 when the head did not answer. */
static pdc_job_row_t *s_list(head_conn_t *h, const char *id, int *n) {
    uint64_t request = s_begin(h, PDC_MSG_JOB_LIST);
    pdc_enc_s(&h->enc, id);
    s_send(h, NULL, 0);
    pdc_inbound_t in;
    *n = -1;
    if (!s_reply(h, request, &in))
        return NULL;
    *n = 0;
    pdc_job_row_t *rows = NULL;
    if (!s_said_error(&in) && in.msg.type == PDC_MSG_JOB_TABLE) {
        const msgpack_object *list = &in.msg.fields[PDC_JOB_TABLE_JOBS];
        *n = (int) pdc_f_count(list);
        rows = calloc((size_t) *n + 1, sizeof *rows);
        for (int i = 0; rows && i < *n; i++)
            pdc_job_row_read(pdc_f_at(list, (uint32_t) i), &rows[i]);
    }
    pdc_inbound_close(&in);
    return rows;
}

/* ---- Following a job --------------------------------------------------- */

static void s_print_end(const pdc_job_row_t *row) {
    fprintf(stderr, "pdc-submit: job %s %s%s%s\n", row->id, pdc_job_state_name(row->state),
            *row->message ? ": " : "", row->message);
}

/* Print the job's output until JOB_DONE for request comes; the job's
   exit code then.  Ctrl-C stops the job (or leaves, with detach). */
static int s_follow(head_conn_t *h, const char *id, uint64_t request, int detach, int stop_on_int,
                    int exit_with_job) {
    uint64_t last_heard = pdc_now_ms(), ping = 0, stop_sent = 0;
    int seen_interrupts = 0;
    for (;;) {
        if (s_interrupts != seen_interrupts) {
            seen_interrupts = s_interrupts;
            if (!stop_on_int || detach || seen_interrupts > 1) {
                fprintf(stderr,
                        "pdc-submit: job %s %s; follow it with: pdc-submit --address %s --logs %s "
                        "--follow; stop it with: pdc-submit --address %s --stop %s\n",
                        id, stop_sent ? "is stopping" : "keeps running", h->address, id, h->address,
                        id);
                return stop_sent ? 130 : 0;
            }
            fprintf(stderr, "pdc-submit: stopping job %s (Ctrl-C again to leave at once)\n", id);
            s_begin(h, PDC_MSG_JOB_STOP);
            pdc_enc_s(&h->enc, id);
            s_send(h, NULL, 0);
            stop_sent = pdc_now_ms();
        }
        uint64_t now = pdc_now_ms();
        if (now - last_heard > (uint64_t) h->timeout_ms) {
            fprintf(stderr,
                    "pdc-submit: the head at %s stopped answering (nothing for %lld ms); the job "
                    "may still run: pdc-submit --address %s --status %s\n",
                    h->address, (long long) h->timeout_ms, h->address, id);
            return 3;
        }
        if (now - last_heard > S_PING_MS && now - ping > S_PING_MS) {
            ping = now;
            s_begin(h, PDC_MSG_JOB_LIST);
            pdc_enc_s(&h->enc, id);
            s_send(h, NULL, 0);
        }
        pdc_inbound_t in;
        if (!s_recv(h, &in, 200))
            continue;
        last_heard = pdc_now_ms();
        int done = -1;
        if (in.msg.type == PDC_MSG_JOB_LOG && in.msg.request_id == request) {
            size_t len;
            const char *text = pdc_f_str(&in.msg.fields[PDC_JOB_LOG_TEXT], &len);
            if (len)
                fwrite(text, 1, len, stdout);
            fflush(stdout);
        } else if (in.msg.type == PDC_MSG_JOB_DONE && in.msg.request_id == request) {
            pdc_job_row_t row;
            pdc_job_row_read(&in.msg.fields[PDC_JOB_DONE_JOB], &row);
            s_print_end(&row);
            done = !exit_with_job                              ? 0
                   : stop_sent && row.state == PDC_JOB_STOPPED ? 130
                                                               : pdc_job_exit_code(&row);
        } else if (in.msg.type == PDC_MSG_JOB_TABLE && in.msg.request_id == request) {
            done = 0; /* --logs without --follow of a running job: all there is */
        } else if (in.msg.type == PDC_MSG_ERROR && in.msg.request_id != request) {
            s_said_error(&in); /* a refused stop, say */
        } else if (in.msg.type == PDC_MSG_ERROR) {
            s_said_error(&in);
            done = 1;
        }
        pdc_inbound_close(&in);
        if (done >= 0)
            return done;
    }
}

/* ---- Submitting -------------------------------------------------------- */

typedef struct {
    const char *working_dir, *resources, *selector, *job_id;
    const char *env[S_MAX_ENV];
    int nenv;
    int no_wait, detach;
    char **argv;
    int argc;
} submit_opts_t;

/* Pack and upload the working directory (once per content): its hash
   into hash.  0, or -1 (said). */
static int s_upload(head_conn_t *h, const char *dir, size_t max_bytes, char *hash) {
    void *bytes = NULL;
    size_t size = 0;
    char why[2048];
    if (pdc_package_pack(dir, max_bytes, &bytes, &size, why, sizeof why)) {
        fprintf(stderr, "pdc-submit: %s\n", why);
        return -1;
    }
    pdc_code_hash(bytes, size, hash);
    int rc = -1;
    for (int with_bytes = 0; with_bytes < 2; with_bytes++) {
        uint64_t request = s_begin(h, PDC_MSG_CODE_PUT);
        pdc_enc_s(&h->enc, hash);
        pdc_enc_s(&h->enc, "working-dir");
        s_send(h, with_bytes ? bytes : NULL, with_bytes ? size : 0);
        pdc_inbound_t in;
        if (!s_reply(h, request, &in))
            break;
        int code = in.msg.type == PDC_MSG_ERROR ? (int) pdc_f_i(&in.msg.fields[PDC_ERROR_CODE]) : 0;
        if (in.msg.type == PDC_MSG_CODE_STORED) {
            fprintf(stderr, "pdc-submit: working directory %s (%zu bytes, package %.12s) %s\n", dir,
                    size, hash, with_bytes ? "uploaded" : "is at the head already");
            rc = 0;
        } else if (with_bytes || code != PDC_ENOTFOUND) {
            s_said_error(&in);
        }
        pdc_inbound_close(&in);
        if (rc == 0 || with_bytes || code != PDC_ENOTFOUND)
            break;
    }
    free(bytes);
    return rc;
}

static int s_submit(head_conn_t *h, const submit_opts_t *o, const pdc_config_t *cfg) {
    char hash[PDC_CODE_HASH_LEN + 1] = "", err[512];
    pdc_resources_t res = {0};
    if (o->resources && pdc_resources_parse(o->resources, &res, err, sizeof err)) {
        fprintf(stderr, "pdc-submit: --resources: %s\n", err);
        return 2;
    }
    if (o->job_id && pdc_job_id_check(o->job_id, err, sizeof err)) {
        fprintf(stderr, "pdc-submit: --job-id: %s\n", err);
        return 2;
    }
    if (o->working_dir && s_upload(h, o->working_dir, (size_t) cfg->job_package_max_bytes, hash))
        return s_interrupts ? 130 : 1;
    uint64_t request = s_begin(h, PDC_MSG_JOB_SUBMIT);
    pdc_enc_s(&h->enc, o->job_id ? o->job_id : "");
    pdc_enc_s(&h->enc, hash);
    pdc_enc_array(&h->enc, (size_t) o->argc);
    for (int i = 0; i < o->argc; i++)
        pdc_enc_s(&h->enc, o->argv[i]);
    pdc_enc_array(&h->enc, (size_t) o->nenv);
    for (int i = 0; i < o->nenv; i++)
        pdc_enc_s(&h->enc, o->env[i]);
    pdc_resources_encode(&res, &h->enc);
    pdc_enc_s(&h->enc, o->selector ? o->selector : "");
    pdc_enc_u(&h->enc, !o->no_wait);
    s_send(h, NULL, 0);
    pdc_inbound_t in;
    if (!s_reply(h, request, &in))
        return s_interrupts ? 130 : 3;
    if (s_said_error(&in) || in.msg.type != PDC_MSG_JOB_TABLE ||
        pdc_f_count(&in.msg.fields[PDC_JOB_TABLE_JOBS]) != 1) {
        pdc_inbound_close(&in);
        return 1;
    }
    pdc_job_row_t row;
    pdc_job_row_read(pdc_f_at(&in.msg.fields[PDC_JOB_TABLE_JOBS], 0), &row);
    pdc_inbound_close(&in);
    if (o->no_wait) {
        printf("%s\n", row.id);
        fprintf(stderr,
                "pdc-submit: job %s submitted; follow it with: pdc-submit --address %s --logs %s "
                "--follow\n",
                row.id, h->address, row.id);
        return 0;
    }
    fprintf(stderr, "pdc-submit: job %s submitted%s%s\n", row.id, *row.message ? "; " : "",
            row.message);
    return s_follow(h, row.id, request, o->detach, 1, 1);
}

/* ---- The other commands ------------------------------------------------ */

static int s_cmd_list(head_conn_t *h, const char *id) {
    int n = 0;
    pdc_job_row_t *rows = s_list(h, id ? id : "", &n);
    if (!rows)
        return s_interrupts ? 130 : n < 0 ? 3 : 1;
    if (id)
        pdc_job_row_print(stdout, &rows[0]);
    else
        pdc_job_rows_print(stdout, rows, n);
    free(rows);
    return 0;
}

static int s_cmd_logs(head_conn_t *h, const char *id, int follow) {
    uint64_t request = s_begin(h, PDC_MSG_JOB_LOGS);
    pdc_enc_s(&h->enc, id);
    pdc_enc_u(&h->enc, (uint64_t) follow);
    s_send(h, NULL, 0);
    return s_follow(h, id, request, 1, 0, 0);
}

static int s_cmd_stop(head_conn_t *h, const char *id, int64_t grace_ms) {
    uint64_t request = s_begin(h, PDC_MSG_JOB_STOP);
    pdc_enc_s(&h->enc, id);
    s_send(h, NULL, 0);
    pdc_inbound_t in;
    if (!s_reply(h, request, &in))
        return 3;
    int refused = s_said_error(&in);
    pdc_inbound_close(&in);
    if (refused)
        return 1;
    /* Wait until the job has ended: the driver has SIGTERM, then SIGKILL
       after grace_ms. */
    uint64_t deadline = pdc_now_ms() + (uint64_t) grace_ms + (uint64_t) h->timeout_ms;
    while (pdc_now_ms() < deadline && !s_interrupts) {
        int n = 0;
        pdc_job_row_t *rows = s_list(h, id, &n);
        if (!rows)
            return 3;
        pdc_job_row_t row = rows[0];
        free(rows);
        if (pdc_job_state_ended(row.state)) {
            s_print_end(&row);
            return 0;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr,
            "pdc-submit: job %s has not ended yet; see pdc-submit --address %s --status %s\n", id,
            h->address, id);
    return 1;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"address", required_argument, 0, 'a'},
                                         {"working-dir", required_argument, 0, 'w'},
                                         {"env", required_argument, 0, 'e'},
                                         {"resources", required_argument, 0, 'r'},
                                         {"label-selector", required_argument, 0, 'l'},
                                         {"job-id", required_argument, 0, 'j'},
                                         {"no-wait", no_argument, 0, 'n'},
                                         {"detach-on-interrupt", no_argument, 0, 'd'},
                                         {"list", no_argument, 0, 'L'},
                                         {"status", required_argument, 0, 'S'},
                                         {"stop", required_argument, 0, 'K'},
                                         {"logs", required_argument, 0, 'G'},
                                         {"follow", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    submit_opts_t o = {0};
    const char *address = getenv("PDC_ADDRESS"), *status_id = NULL, *stop_id = NULL,
               *logs_id = NULL;
    int list = 0, follow = 0, c;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            address = optarg;
            break;
        case 'w':
            o.working_dir = optarg;
            break;
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=' || o.nenv == S_MAX_ENV) {
                fprintf(stderr, "pdc-submit: --env takes NAME=VALUE (at most %d), not '%s'\n",
                        S_MAX_ENV, optarg);
                return 2;
            }
            o.env[o.nenv++] = optarg;
            break;
        case 'r':
            o.resources = optarg;
            break;
        case 'l':
            o.selector = optarg;
            break;
        case 'j':
            o.job_id = optarg;
            break;
        case 'n':
            o.no_wait = 1;
            break;
        case 'd':
            o.detach = 1;
            break;
        case 'L':
            list = 1;
            break;
        case 'S':
            status_id = optarg;
            break;
        case 'K':
            stop_id = optarg;
            break;
        case 'G':
            logs_id = optarg;
            break;
        case 'f':
            follow = 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    o.argv = argv + optind;
    o.argc = argc - optind;
    int commands = list + !!status_id + !!stop_id + !!logs_id;
    if (commands > 1 || (commands && o.argc) || (!commands && !o.argc)) {
        fprintf(stderr, "pdc-submit: %s\n",
                commands > 1 ? "give one of --list, --status, --stop and --logs"
                : commands   ? "--list, --status, --stop and --logs take no command"
                             : "no command to run: pdc-submit [options] -- COMMAND [ARGS...]");
        s_usage(stderr);
        return 2;
    }
    if (follow && !logs_id) {
        fprintf(stderr, "pdc-submit: --follow goes with --logs ID\n");
        return 2;
    }
    if (!address || !*address) {
        fprintf(stderr, "pdc-submit: no cluster address: pass --address tcp://HOST:PORT or set "
                        "PDC_ADDRESS\n");
        return 2;
    }
    pdc_config_t cfg;
    char err[512];
    if (pdc_config_read_env(&cfg, err, sizeof err)) {
        fprintf(stderr, "pdc-submit: %s\n", err);
        return 2;
    }
    struct sigaction sa = {.sa_handler = s_on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    head_conn_t h;
    if (s_connect(&h, address, cfg.connect_timeout_ms)) {
        s_disconnect(&h);
        return 3;
    }
    int rc = list        ? s_cmd_list(&h, NULL)
             : status_id ? s_cmd_list(&h, status_id)
             : stop_id   ? s_cmd_stop(&h, stop_id, cfg.shutdown_timeout_ms)
             : logs_id   ? s_cmd_logs(&h, logs_id, follow)
                         : s_submit(&h, &o, &cfg);
    s_disconnect(&h);
    return rc;
}
