/*  pdc_raylet: the node daemon as a library entry point, so that the
    pdc-raylet binary is a thin main and tests can drive the same code. */
#ifndef PDC_RAYLET_H_INCLUDED
#define PDC_RAYLET_H_INCLUDED
int pdc_raylet_main(int argc, char **argv);
#endif
