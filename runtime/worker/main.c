/*  pdc-worker: see runtime/worker/pdc_worker.c. */
int pdc_worker_main(int argc, char **argv);
int main(int argc, char **argv) {
    return pdc_worker_main(argc, argv);
}
