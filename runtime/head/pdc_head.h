/*  pdc_head: the cluster daemon as a library entry point. */
#ifndef PDC_HEAD_H_INCLUDED
#define PDC_HEAD_H_INCLUDED
int pdc_head_main(int argc, char **argv);
#endif
