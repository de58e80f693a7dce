/*  pdc-raylet: see runtime/raylet/pdc_raylet.c. */
#include "pdc_raylet.h"
int main(int argc, char **argv) {
    return pdc_raylet_main(argc, argv);
}
