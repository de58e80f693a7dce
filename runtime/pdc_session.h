/*  pdc_session: session directories and the daemon processes in them.

    A session directory holds what one started cluster (or node) needs on
    disk: pid files, the store's path, ipc sockets and logs/.  Embedded
    clusters (client/pdc_embed.c) and the pdc CLI (cli/pdc_cli.c) both
    start daemons into one and stop them from its pid files. */
#ifndef PDC_SESSION_H_INCLUDED
#define PDC_SESSION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The directory holding pdc-head, pdc-raylet and pdc-worker: PDC_BIN_DIR,
   else the first that holds all three of: the directory of libpdc.so (or
   of the program the runtime is linked into), that directory plus bindir
   relative to libdir, the configured bindir (client/pdc_embed.c says
   why).  0; or -1 with out naming every directory looked in. */
int pdc_bin_dir(char *out, size_t len);

/* Where sessions live: PDC_SESSION_ROOT, else /tmp/pdc. */
const char *pdc_session_root(void);
/* Write text to dir/name, or read it back (trailing newlines and spaces
   removed).  0 or -1. */
int pdc_session_write(const char *dir, const char *name, const char *text);
int pdc_session_read(const char *dir, const char *name, char *out, size_t len);
/* Remove a directory tree (no shell). */
void pdc_session_remove(const char *dir);
/* Start argv[0] with stdout and stderr appended to logpath and none of
   our other descriptors.  detached 0: it gets SIGTERM when the calling
   thread's process dies (embedded daemons); 1: it starts its own session
   and outlives us (pdc start).  Returns the pid or -1. */
pid_t pdc_session_spawn(char *const argv[], const char *logpath, int detached);
/* SIGTERM, wait up to timeout_ms for it to go, then SIGKILL. */
void pdc_session_stop(pid_t pid, int64_t timeout_ms);
int pdc_session_alive(pid_t pid);
/* Whether pid runs one of pdc's daemons (so a recycled pid is left alone). */
int pdc_session_is_pdc(pid_t pid);

#endif
