/*  pdc-spill-bench: how fast a store spills to disk and reads back, next
    to the disk itself.

        pdc-spill-bench [--dir DIR] [--store-mib N] [--object-mib M]

    It makes a store of N MiB (default 1024) in /dev/shm with its spill
    directory under DIR (default /tmp, which must be a disk), fills it with
    objects of M MiB (default 64), then times pdc_store_spill of the whole
    capacity (every object written out and deleted from memory) and the
    restores of them all (pdc_store_restore), after dropping the page
    cache where it can (root: /proc/sys/vm/drop_caches) so that reads come
    from the disk.  It prints GB/s for each, with fdatasync of the spill
    files counted in the spill time (else the page cache would be
    measured; the files are written with O_DIRECT anyway), and the same for `dd` with oflag=direct /
   iflag=direct of the same amount in the same directory. */
#include "pdc_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t) 1 << 20)

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void s_drop_caches(void) {
    sync();
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (!f) {
        fprintf(stderr, "  note: cannot drop the page cache (not root): reads may be cached\n");
        return;
    }
    fputs("3\n", f);
    fclose(f);
}

/* fdatasync every file of dir: the spill's writes reach the disk. */
static void s_sync_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = e->d_name[0] == '.' ? -1 : openat(dirfd(d), e->d_name, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            close(fd);
        }
    }
    if (d)
        closedir(d);
}

/* dd of bytes to and from dir with O_DIRECT: write and read GB/s. */
static void s_dd(const char *dir, size_t bytes, double *write_gbs, double *read_gbs) {
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/pdc-spill-bench-dd-%d", dir, (int) getpid());
    size_t blocks = bytes / (4 * MIB);
    snprintf(cmd, sizeof cmd,
             "dd if=/dev/zero of=%s bs=4M count=%zu oflag=direct conv=fdatasync status=none", path,
             blocks);
    double t = s_now();
    *write_gbs = system(cmd) == 0 ? (double) bytes / (s_now() - t) / 1e9 : 0;
    s_drop_caches();
    snprintf(cmd, sizeof cmd, "dd if=%s of=/dev/null bs=4M iflag=direct status=none", path);
    t = s_now();
    *read_gbs = system(cmd) == 0 ? (double) bytes / (s_now() - t) / 1e9 : 0;
    unlink(path);
}

int main(int argc, char **argv) {
    const char *dir = "/tmp";
    size_t store_mib = 1024, object_mib = 64;
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"store-mib", required_argument, 0, 's'},
                                         {"object-mib", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd')
            dir = optarg;
        else if (c == 's')
            store_mib = (size_t) atol(optarg);
        else if (c == 'o')
            object_mib = (size_t) atol(optarg);
        else {
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: pdc-spill-bench [--dir DIR] [--store-mib N] [--object-mib M]\n"
                    "Times spilling a full store to DIR and restoring it, against dd with\n"
                    "O_DIRECT on DIR (default /tmp, 1024 MiB store, 64 MiB objects).\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!store_mib || !object_mib || object_mib * 2 > store_mib) {
        fprintf(stderr, "pdc-spill-bench: the store must hold at least two objects\n");
        return 2;
    }
    char store_dir[256], spill_dir[512], err[1024];
    snprintf(store_dir, sizeof store_dir, "/dev/shm/pdc-spill-bench-%d", (int) getpid());
    snprintf(spill_dir, sizeof spill_dir, "%s/pdc-spill-bench-%d", dir, (int) getpid());
    pdc_store_config_t cfg = {.capacity = store_mib * MIB, .shards = 1, .spill_dir = spill_dir};
    pdc_store_t *st = pdc_store_create(store_dir, &cfg, err, sizeof err);
    if (!st) {
        fprintf(stderr, "pdc-spill-bench: %s\n", err);
        return 1;
    }
    size_t size = object_mib * MIB, n = (store_mib - object_mib / 2) / object_mib;
    unsigned char *buf = malloc(size);
    memset(buf, 7, size);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_SIZE] = {0};
        memcpy(id, &i, sizeof i);
        id[15] = 1;
        if (pdc_store_put(st, id, PDC_T_BYTES, buf, size, err, sizeof err) != PDC_OK) {
            fprintf(stderr, "pdc-spill-bench: put %zu: %s\n", i, err);
            return 1;
        }
    }
    size_t bytes = n * size;
    double t = s_now();
    int rc = pdc_store_spill(st, store_mib * MIB - MIB, err, sizeof err);
    s_sync_dir(spill_dir);
    double spill_s = s_now() - t;
    uint64_t files, file_bytes;
    pdc_store_spill_usage(st, &files, &file_bytes);
    if (rc != PDC_OK || files != n) {
        fprintf(stderr, "pdc-spill-bench: spilled %llu of %zu objects: %s\n",
                (unsigned long long) files, n, rc == PDC_OK ? "" : err);
        return 1;
    }
    s_drop_caches();
    t = s_now();
    for (size_t i = 0; i < n; i++) {
        uint8_t id[PDC_ID_SIZE] = {0};
        memcpy(id, &i, sizeof i);
        id[15] = 1;
        if (pdc_store_restore(st, id, err, sizeof err) != PDC_OK) {
            fprintf(stderr, "pdc-spill-bench: restore %zu: %s\n", i, err);
            return 1;
        }
    }
    double restore_s = s_now() - t;
    double dd_write, dd_read;
    s_dd(dir, bytes, &dd_write, &dd_read);
    printf("spill_gigabytes per second %.3f (%zu x %zu MiB to %s, O_DIRECT, fdatasync included)\n",
           (double) bytes / spill_s / 1e9, n, object_mib, dir);
    printf("restore_gigabytes per second %.3f\n", (double) bytes / restore_s / 1e9);
    printf("dd_direct_write_gigabytes per second %.3f\n", dd_write);
    printf("dd_direct_read_gigabytes per second %.3f\n", dd_read);
    free(buf);
    pdc_store_destroy(&st);
    pdc_store_remove_dir(store_dir);
    return 0;
}
