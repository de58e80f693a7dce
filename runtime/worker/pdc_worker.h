/*  pdc_worker: the worker loop, shared by pdc-worker (C tasks) and the
    language workers that call pdc_worker_run (see pdc.h).

    A language worker gives pdc_worker_run a resolver that names its own
    functions and actor classes; the task loop (pdc_worker.c) and the
    actor host (actors/pdc_actor_host.c) ask it before they dlopen. */
#ifndef PDC_WORKER_H_INCLUDED
#define PDC_WORKER_H_INCLUDED

/* What this process's resolver returns for library and symbol: a
   pdc_function_ptr, a pdc_actor_class *, or NULL (none, or no resolver:
   load it from the library). */
void *pdc_worker_resolve(const char *library, const char *symbol);

/* pdc-worker's main: pdc_worker_run without a resolver. */
int pdc_worker_main(int argc, char **argv);

#endif
