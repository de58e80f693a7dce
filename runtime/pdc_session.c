/*  pdc_session: session files and daemon processes (see pdc_session.h). */
#include "pdc_session.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *pdc_session_root(void) {
    const char *root = getenv("PDC_SESSION_ROOT");
    return root && *root ? root : "/tmp/pdc";
}

int pdc_session_write(const char *dir, const char *name, const char *text) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

int pdc_session_read(const char *dir, const char *name, char *out, size_t len) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    return 0;
}

pid_t pdc_session_spawn(char *const argv[], const char *logpath, int detached) {
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (detached) {
            setsid(); /* out of the starting terminal's session */
        } else {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(1);
        }
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        /* Hold none of the driver's other descriptors: a pipe or socket
           it opened would otherwise stay open as long as the daemons and
           their workers live. */
        if (close_range(3, ~0U, 0) != 0)
            for (int i = 3; i < 1024; i++)
                close(i);
        execv(argv[0], argv);
        _exit(127);
    }
    if (fd >= 0)
        close(fd);
    return pid;
}

static int s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

void pdc_session_remove(const char *dir) {
    nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int pdc_session_alive(pid_t pid) {
    if (pid <= 0)
        return 0;
    if (waitpid(pid, NULL, WNOHANG) == pid)
        return 0; /* our child, now reaped */
    return !(kill(pid, 0) && errno == ESRCH);
}

int pdc_session_is_pdc(pid_t pid) {
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof comm, f))
        comm[0] = '\0';
    fclose(f);
    return !strncmp(comm, "pdc-", 4);
}

void pdc_session_stop(pid_t pid, int64_t timeout_ms) {
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int64_t waited = 0;
    for (;;) {
        /* Our child: reap it.  Not ours (pdc stop): watch it go. */
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && !pdc_session_alive(pid)))
            return;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            if (r == 0)
                waitpid(pid, NULL, 0);
            return;
        }
        usleep(2000);
        waited += 2;
    }
}
