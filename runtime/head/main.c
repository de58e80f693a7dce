/*  pdc-head: see runtime/head/pdc_head.c. */
#include "pdc_head.h"
int main(int argc, char **argv) {
    return pdc_head_main(argc, argv);
}
