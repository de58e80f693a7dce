/*  pdc_task: what a remote function sees: its arguments and its result.

    A worker fills a pdc_task from one task spec and calls the function.
    Arguments are read in place: inline values point into the received
    message, stored objects into the node's shared-memory store (pinned
    until the task returns).  Reading an argument with the wrong type or
    one past the end fails the task with PDC_EARGS, naming the argument
    and what it holds, and the accessor returns 0 or NULL; the failure
    stands whatever the function does afterwards.  A result larger than
    the inline limit goes to the store under the task's id.
*/
#include "pdc_client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_type_name(pdc_type t) {
    static const char *names[] = {"nil", "an int", "a float", "a string", "bytes", "a reference", "an error"};
    return (unsigned) t < 7 ? names[t] : "?";
}

static void s_args_error(pdc_task *t, size_t i, const char *wanted) {
    if (t->code != PDC_OK) return;
    t->code = PDC_EARGS;
    if (i >= t->nargs)
        snprintf(t->message, sizeof t->message, "%s: argument %zu was read but the call passed %zu",
                 t->function, i, t->nargs);
    else
        snprintf(t->message, sizeof t->message, "%s: argument %zu is %s, expected %s", t->function,
                 i, s_type_name(t->args[i].type), wanted);
}

static task_input_t *s_arg(pdc_task *t, size_t i, pdc_type want, const char *wanted) {
    if (i < t->nargs && t->args[i].type == want) return &t->args[i];
    s_args_error(t, i, wanted);
    return NULL;
}

size_t pdc_arg_count(pdc_task *t) {
    return t->nargs;
}

pdc_type pdc_arg_type(pdc_task *t, size_t i) {
    return i < t->nargs ? t->args[i].type : PDC_T_NIL;
}

int64_t pdc_arg_i64(pdc_task *t, size_t i) {
    task_input_t *a = s_arg(t, i, PDC_T_I64, "an int");
    return a ? a->i64 : 0;
}

double pdc_arg_f64(pdc_task *t, size_t i) {
    if (i < t->nargs && t->args[i].type == PDC_T_I64) return (double) t->args[i].i64;
    task_input_t *a = s_arg(t, i, PDC_T_F64, "a float");
    return a ? a->f64 : 0.0;
}

const char *pdc_arg_str(pdc_task *t, size_t i, size_t *len) {
    task_input_t *a = s_arg(t, i, PDC_T_STR, "a string");
    if (len) *len = a ? a->size : 0;
    return a ? a->data : NULL;
}

const void *pdc_arg_bytes(pdc_task *t, size_t i, size_t *size) {
    task_input_t *a = i < t->nargs && t->args[i].type == PDC_T_STR ? &t->args[i]
                                                                   : s_arg(t, i, PDC_T_BYTES, "bytes");
    if (size) *size = a ? a->size : 0;
    return a ? a->data : NULL;
}

static void s_clear_result(pdc_task *t) {
    free(t->rbuf);
    t->rbuf = NULL;
    t->rdata = NULL;
    t->rsize = 0;
}

int pdc_return_i64(pdc_task *t, int64_t v) {
    s_clear_result(t);
    t->rtype = PDC_T_I64;
    t->ri64 = v;
    return 0;
}

int pdc_return_f64(pdc_task *t, double v) {
    s_clear_result(t);
    t->rtype = PDC_T_F64;
    t->rf64 = v;
    return 0;
}

static int s_return_buf(pdc_task *t, pdc_type type, const void *data, size_t size) {
    s_clear_result(t);
    t->rbuf = malloc(size ? size : 1);
    if (!t->rbuf) return pdc_fail(t, "out of memory for a %zu-byte result", size);
    if (size) memcpy(t->rbuf, data, size);
    t->rtype = type;
    t->rdata = t->rbuf;
    t->rsize = size;
    return 0;
}

int pdc_return_str(pdc_task *t, const char *s) {
    return s_return_buf(t, PDC_T_STR, s ? s : "", s ? strlen(s) : 0);
}

int pdc_return_bytes(pdc_task *t, const void *data, size_t size) {
    if (size && !data) return pdc_fail(t, "pdc_return_bytes: NULL data");
    return s_return_buf(t, PDC_T_BYTES, data, size);
}

void *pdc_return_alloc(pdc_task *t, size_t size) {
    s_clear_result(t);
    t->rbuf = malloc(size ? size : 1);
    if (!t->rbuf) {
        pdc_fail(t, "out of memory for a %zu-byte result", size);
        return NULL;
    }
    t->rtype = PDC_T_BYTES;
    t->rdata = t->rbuf;
    t->rsize = size;
    return t->rbuf;
}

int pdc_fail(pdc_task *t, const char *fmt, ...) {
    if (t->code == PDC_OK) {
        t->code = PDC_ETASK;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->message, sizeof t->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

pdc_client *pdc_task_client(pdc_task *t) {
    return t->client;
}

pdc_fn pdc_task_self(pdc_task *t) {
    return t->self;
}
