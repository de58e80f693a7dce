/*  pdc-worker: see runtime/worker/pdc_worker.c. */
#include "pdc_worker.h"
int main(int argc, char **argv) {
    return pdc_worker_main(argc, argv);
}
