/*  test_package: a job's directory packed into a blob and unpacked again (pdc_package).

    Trees are made under /tmp (mkdtemp, one per test, removed at the end): a round trip keeps
    every file's bytes and permission bits and every directory, empty ones too; the blob is the
    same for the same tree, whatever order it was made in and whatever its times; .pdcignore's
    name patterns, anchored paths, directory-only patterns and comments skip what they name;
    .git, symbolic links and fifos are never packed; a tree over the limit is refused with a
    message that says what to do.  Unpacking is given blobs built here by hand, byte by byte
    from the format in pdc_package.h: paths that would leave the directory, every strict prefix
    of a valid blob, bad magic and malformed entries are refused before anything is written. */
#include "pdc_package.h"
#include "pdc_session.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define LIMIT (64u << 20) /* far above every tree here but the one that tests the limit */

/* ---- Trees on disk ---------------------------------------------------------------------- */

static char *s_tmpdir(void) {
    char tmpl[] = "/tmp/pdc-package-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void s_cleanup(char *dir) {
    pdc_session_remove(dir);
    free(dir);
}

/* root/rel, in one of a few static buffers (so that a call may hold two at once). */
static const char *s_path(const char *root, const char *rel) {
    static char paths[4][PATH_MAX];
    static unsigned next;
    char *out = paths[next++ % 4];
    cr_assert_lt((size_t) snprintf(out, PATH_MAX, "%s/%s", root, rel), (size_t) PATH_MAX);
    return out;
}

static void s_write(const char *root, const char *rel, const void *data, size_t size, mode_t mode) {
    const char *path = s_path(root, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, size, f), size);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static void s_write_text(const char *root, const char *rel, const char *text) {
    s_write(root, rel, text, strlen(text), 0644);
}

static void s_mkdir(const char *root, const char *rel, mode_t mode) {
    const char *path = s_path(root, rel);
    cr_assert_eq(mkdir(path, 0700), 0, "cannot create %s", path);
    cr_assert_eq(chmod(path, mode), 0);
}

static int s_exists(const char *root, const char *rel) {
    struct stat st;
    return !lstat(s_path(root, rel), &st);
}

static mode_t s_mode(const char *root, const char *rel) {
    const char *path = s_path(root, rel);
    struct stat st;
    cr_assert_eq(lstat(path, &st), 0, "%s is missing", path);
    return st.st_mode;
}

/* A file's whole contents (malloc'd), or NULL when it is not there. */
static unsigned char *s_read(const char *root, const char *rel, size_t *size) {
    FILE *f = fopen(s_path(root, rel), "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, got;
    unsigned char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    *size = n;
    return buf;
}

/* The file rel is the same under both roots: bytes and permission bits. */
static void s_assert_same_file(const char *a, const char *b, const char *rel) {
    size_t na, nb;
    unsigned char *da = s_read(a, rel, &na), *db = s_read(b, rel, &nb);
    cr_assert_not_null(da, "%s missing in the source", rel);
    cr_assert_not_null(db, "%s missing after unpacking", rel);
    cr_assert_eq(na, nb, "%s: %zu bytes, %zu after unpacking", rel, na, nb);
    cr_assert_eq(memcmp(da, db, na), 0, "%s: contents differ", rel);
    cr_assert_eq(s_mode(a, rel) & 0777, s_mode(b, rel) & 0777, "%s: mode differs", rel);
    cr_assert(S_ISREG(s_mode(b, rel)));
    free(da);
    free(db);
}

static void s_pack(const char *dir, void **bytes, size_t *size) {
    char why[1024] = "";
    cr_assert_eq(pdc_package_pack(dir, LIMIT, bytes, size, why, sizeof why), 0, "pack: %s", why);
    cr_assert_not_null(*bytes);
}

static void s_unpack(const void *bytes, size_t size, const char *dir) {
    char why[1024] = "";
    cr_assert_eq(pdc_package_unpack(bytes, size, dir, why, sizeof why), 0, "unpack: %s", why);
}

/* Deterministic bytes, every value 0..255 among them. */
static void s_fill(unsigned char *buf, size_t size, uint32_t seed) {
    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char) (seed >> 16);
    }
}

/* ---- Blobs by hand ---------------------------------------------------------------------- */

typedef struct {
    unsigned char data[8192];
    size_t size;
    uint64_t entries;
} crafted_blob;

static void s_craft_bytes(crafted_blob *c, const void *bytes, size_t n) {
    cr_assert_leq(c->size + n, sizeof c->data);
    if (n)
        memcpy(c->data + c->size, bytes, n);
    c->size += n;
}

static void s_craft_uint(crafted_blob *c, uint64_t v, int width) {
    unsigned char b[8];
    for (int i = width - 1; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char) v;
    s_craft_bytes(c, b, (size_t) width);
}

static void s_craft_start(crafted_blob *c) {
    memset(c, 0, sizeof *c);
    s_craft_bytes(c, "PDCPKG1\n", 8);
}

static void s_craft_entry_n(crafted_blob *c, char kind, uint32_t mode, const char *path,
                            size_t path_len, const char *contents) {
    s_craft_bytes(c, &kind, 1);
    s_craft_uint(c, mode, 4);
    s_craft_uint(c, path_len, 4);
    s_craft_bytes(c, path, path_len);
    size_t n = contents ? strlen(contents) : 0;
    s_craft_uint(c, n, 8);
    s_craft_bytes(c, contents, n);
    c->entries++;
}

static void s_craft_entry(crafted_blob *c, char kind, uint32_t mode, const char *path,
                          const char *contents) {
    s_craft_entry_n(c, kind, mode, path, strlen(path), contents);
}

static void s_craft_end(crafted_blob *c) {
    s_craft_bytes(c, "E", 1);
    s_craft_uint(c, c->entries, 8);
}

/* Unpacking c into root/out fails, with why naming expect, and writes nothing. */
static void s_assert_refused(const crafted_blob *c, const char *root, const char *expect) {
    char why[1024] = "";
    const char *out = s_path(root, "out");
    cr_assert_eq(pdc_package_unpack(c->data, c->size, out, why, sizeof why), -1,
                 "a blob that should fail ('%s') was unpacked", expect);
    cr_assert_not_null(strstr(why, expect), "'%s' does not say '%s'", why, expect);
    cr_assert(!s_exists(root, "out"), "a refused blob created the directory (%s)", expect);
    cr_assert(!s_exists(root, "x"), "a refused blob wrote outside the directory (%s)", expect);
}

/* ---- Packing ---------------------------------------------------------------------------- */

Test(package, round_trip_keeps_contents_and_modes) {
    char *src = s_tmpdir(), *dst = s_tmpdir();
    enum { BINARY = 200000 }; /* more than one read's worth */
    unsigned char *binary = malloc(BINARY);
    s_fill(binary, BINARY, 7);
    binary[0] = 0, binary[1] = 0xff;

    s_mkdir(src, "a", 0755);
    s_mkdir(src, "a/b", 0750);
    s_mkdir(src, "a/b/c", 0700);
    s_mkdir(src, "empty_dir", 0755);
    s_write_text(src, "top.txt", "at the top\n");
    s_write(src, "a/b/c/empty", "", 0, 0644);
    s_write(src, "a/b/data.bin", binary, BINARY, 0600);
    s_write(src, "a/run.sh", "#!/bin/sh\necho hi\n", 18, 0755);

    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    cr_assert_gt(size, (size_t) BINARY);
    s_unpack(blob, size, dst);

    const char *files[] = {"top.txt", "a/b/c/empty", "a/b/data.bin", "a/run.sh"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        s_assert_same_file(src, dst, files[i]);
    cr_assert_eq(s_mode(dst, "a/run.sh") & 0777, 0755, "the executable bit survives");
    const char *dirs[] = {"a", "a/b", "a/b/c", "empty_dir"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        cr_assert(S_ISDIR(s_mode(dst, dirs[i])), "%s is not a directory", dirs[i]);
        cr_assert_eq(s_mode(dst, dirs[i]) & 0777, s_mode(src, dirs[i]) & 0777, "%s: mode", dirs[i]);
    }

    /* What was unpacked packs to the same blob. */
    void *again;
    size_t again_size;
    s_pack(dst, &again, &again_size);
    cr_assert_eq(again_size, size);
    cr_assert_eq(memcmp(again, blob, size), 0);

    free(binary);
    free(blob);
    free(again);
    s_cleanup(src);
    s_cleanup(dst);
}

Test(package, an_empty_directory_packs_to_magic_and_end_record) {
    char *src = s_tmpdir(), *dst = s_tmpdir();
    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    crafted_blob expect;
    s_craft_start(&expect);
    s_craft_end(&expect);
    cr_assert_eq(size, expect.size);
    cr_assert_eq(memcmp(blob, expect.data, size), 0);
    s_unpack(blob, size, dst);
    free(blob);
    s_cleanup(src);
    s_cleanup(dst);
}

Test(package, blob_format_is_the_documented_one) {
    char *src = s_tmpdir();
    s_mkdir(src, "a", 0755);
    s_write_text(src, "a/f", "hi");
    s_write(src, "b", "", 0, 0600);
    void *blob;
    size_t size;
    s_pack(src, &blob, &size);

    crafted_blob expect;
    s_craft_start(&expect);
    s_craft_entry(&expect, 'd', 0755, "a", NULL);
    s_craft_entry(&expect, 'f', 0644, "a/f", "hi");
    s_craft_entry(&expect, 'f', 0600, "b", NULL);
    s_craft_end(&expect);
    cr_assert_eq(size, expect.size);
    cr_assert_eq(memcmp(blob, expect.data, size), 0);
    free(blob);
    s_cleanup(src);
}

Test(package, packing_twice_gives_identical_blobs) {
    char *src = s_tmpdir();
    s_mkdir(src, "d", 0755);
    s_write_text(src, "d/one", "1");
    s_write_text(src, "two", "22");
    void *a, *b;
    size_t na, nb;
    s_pack(src, &a, &na);
    s_pack(src, &b, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na), 0);
    free(a);
    free(b);
    s_cleanup(src);
}

Test(package, creation_order_and_times_do_not_change_the_blob) {
    char *first = s_tmpdir(), *second = s_tmpdir();
    const char *names[] = {"m", "a", "z", "a-b", "B", "a.b"};
    enum { N = sizeof names / sizeof *names };

    /* The first tree in one order... */
    s_mkdir(first, "a", 0755);
    s_mkdir(first, "a/sub", 0755);
    for (size_t i = 0; i < N; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "a/sub/%s", names[i]);
        s_write_text(first, rel, names[i]);
        snprintf(rel, sizeof rel, "f_%s", names[i]);
        s_write_text(first, rel, names[i]);
    }
    /* ...the second in the other, with a file made and removed between, and other times. */
    for (size_t i = N; i-- > 0;) {
        char rel[64];
        snprintf(rel, sizeof rel, "f_%s", names[i]);
        s_write_text(second, rel, names[i]);
    }
    s_write_text(second, "gone", "not for long");
    cr_assert_eq(unlink(s_path(second, "gone")), 0);
    s_mkdir(second, "a", 0755);
    s_mkdir(second, "a/sub", 0755);
    for (size_t i = N; i-- > 0;) {
        char rel[64];
        snprintf(rel, sizeof rel, "a/sub/%s", names[i]);
        s_write_text(second, rel, names[i]);
        struct timeval old[2] = {{1000000000, 0}, {1000000000, 0}};
        cr_assert_eq(utimes(s_path(second, rel), old), 0);
    }

    void *a, *b;
    size_t na, nb;
    s_pack(first, &a, &na);
    s_pack(second, &b, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na), 0, "the same tree made two ways packs differently");
    free(a);
    free(b);
    s_cleanup(first);
    s_cleanup(second);
}

Test(package, pdcignore_skips_names_anchored_paths_and_directories) {
    char *src = s_tmpdir(), *dst = s_tmpdir();
    s_write_text(src, ".pdcignore",
                 "# build outputs\n"
                 "*.o\n"
                 "\n"
                 "/build/\n"
                 "cache/\n"
                 "docs/*.tmp\n"
                 "   # keep.c (an indented comment, not a pattern)\n"
                 "# keep.c\n"
                 "  trimmed.log  \r\n");
    s_write_text(src, "keep.c", "int main;");
    s_write_text(src, "x.o", "o");
    s_write_text(src, "trimmed.log", "log");
    s_mkdir(src, "lib.o", 0755); /* a name pattern matches directories too */
    s_write_text(src, "lib.o/inner", "in a skipped directory");
    s_mkdir(src, "sub", 0755);
    s_write_text(src, "sub/y.o", "o");
    s_mkdir(src, "sub/deep", 0755);
    s_write_text(src, "sub/deep/z.o", "o");
    s_write_text(src, "sub/deep/z.c", "c");
    s_mkdir(src, "build", 0755);
    s_write_text(src, "build/out", "skipped: /build/ is at the top");
    s_mkdir(src, "sub/build", 0755);
    s_write_text(src, "sub/build/out", "kept: /build/ is anchored");
    s_mkdir(src, "cache", 0755);
    s_write_text(src, "cache/data", "skipped");
    s_mkdir(src, "sub/cache", 0755);
    s_write_text(src, "sub/cache/data", "skipped: cache/ matches at any depth");
    s_mkdir(src, "other", 0755);
    s_write_text(src, "other/cache", "kept: cache/ matches directories only");
    s_mkdir(src, "docs", 0755);
    s_write_text(src, "docs/a.tmp", "skipped");
    s_write_text(src, "docs/readme", "kept");
    s_mkdir(src, "docs/sub", 0755);
    s_write_text(src, "docs/sub/b.tmp", "kept: '*' does not cross a '/'");

    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    s_unpack(blob, size, dst);

    const char *kept[] = {".pdcignore",  "keep.c",      "sub/deep/z.c",  "sub/build/out",
                          "other/cache", "docs/readme", "docs/sub/b.tmp"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        s_assert_same_file(src, dst, kept[i]);
    const char *skipped[] = {"x.o",   "lib.o",     "sub/y.o",    "sub/deep/z.o", "build",
                             "cache", "sub/cache", "docs/a.tmp", "trimmed.log"};
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
        cr_assert(!s_exists(dst, skipped[i]), "%s was packed", skipped[i]);
    free(blob);
    s_cleanup(src);
    s_cleanup(dst);
}

Test(package, git_directories_are_always_skipped) {
    char *src = s_tmpdir(), *dst = s_tmpdir();
    s_mkdir(src, ".git", 0755);
    s_write_text(src, ".git/HEAD", "ref: refs/heads/main\n");
    s_mkdir(src, "vendor", 0755);
    s_mkdir(src, "vendor/.git", 0755);
    s_write_text(src, "vendor/.git/config", "[core]\n");
    s_write_text(src, "vendor/lib.c", "c");
    s_write_text(src, ".gitignore", "*.o\n");

    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    s_unpack(blob, size, dst);
    cr_assert(!s_exists(dst, ".git"));
    cr_assert(!s_exists(dst, "vendor/.git"));
    s_assert_same_file(src, dst, "vendor/lib.c");
    s_assert_same_file(src, dst, ".gitignore");
    free(blob);
    s_cleanup(src);
    s_cleanup(dst);
}

Test(package, symlinks_and_fifos_are_skipped) {
    char *src = s_tmpdir(), *dst = s_tmpdir(), *outside = s_tmpdir();
    s_write_text(outside, "secret", "outside the tree");
    s_write_text(src, "real", "real");
    cr_assert_eq(symlink("real", s_path(src, "link_to_file")), 0);
    cr_assert_eq(symlink(outside, s_path(src, "link_to_dir")), 0);
    cr_assert_eq(symlink("/nonexistent/nowhere", s_path(src, "dangling")), 0);
    cr_assert_eq(mkfifo(s_path(src, "fifo"), 0600), 0);

    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    cr_assert_null(memmem(blob, size, "outside the tree", 16), "a link was followed");
    s_unpack(blob, size, dst);
    s_assert_same_file(src, dst, "real");
    const char *skipped[] = {"link_to_file", "link_to_dir", "dangling", "fifo"};
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++)
        cr_assert(!s_exists(dst, skipped[i]), "%s was packed", skipped[i]);
    free(blob);
    s_cleanup(src);
    s_cleanup(dst);
    s_cleanup(outside);
}

Test(package, over_the_limit_is_refused_naming_the_limit_and_setting) {
    char *src = s_tmpdir();
    enum { SMALL = 4096 };
    unsigned char data[SMALL];
    s_fill(data, sizeof data, 3);
    s_write(src, "big1", data, sizeof data, 0644);
    s_mkdir(src, "d", 0755);
    s_write(src, "d/big2", data, sizeof data, 0644);

    void *blob = (void *) 1;
    size_t size = 1;
    char why[1024] = "";
    cr_assert_eq(pdc_package_pack(src, SMALL, &blob, &size, why, sizeof why), -1);
    cr_assert_null(blob);
    cr_assert_eq(size, 0);
    cr_assert_not_null(strstr(why, "8192"), "the size reached: %s", why);
    cr_assert_not_null(strstr(why, "4096"), "the limit: %s", why);
    cr_assert_not_null(strstr(why, "job_package_max_bytes (PDC_JOB_PACKAGE_MAX_BYTES)"),
                       "the setting: %s", why);
    cr_assert_not_null(strstr(why, "big1"), "the largest files: %s", why);
    cr_assert_not_null(strstr(why, "d/big2"), "the largest files: %s", why);
    cr_assert_not_null(strstr(why, ".pdcignore"), "what to do: %s", why);

    /* Exactly at the limit is allowed. */
    why[0] = '\0';
    cr_assert_eq(pdc_package_pack(src, 2 * SMALL, &blob, &size, why, sizeof why), 0, "%s", why);
    free(blob);

    /* What .pdcignore skips does not count. */
    s_write_text(src, ".pdcignore", "big1\n");
    cr_assert_eq(pdc_package_pack(src, SMALL + 64, &blob, &size, why, sizeof why), 0, "%s", why);
    free(blob);
    s_cleanup(src);
}

Test(package, pack_names_what_it_cannot_read) {
    char *src = s_tmpdir();
    char why[1024] = "";
    void *blob;
    size_t size;
    const char *missing = s_path(src, "missing");
    cr_assert_eq(pdc_package_pack(missing, LIMIT, &blob, &size, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, missing), "%s", why);

    /* A .pdcignore that cannot be read (a directory, which even root cannot read as a file). */
    s_mkdir(src, ".pdcignore", 0755);
    cr_assert_eq(pdc_package_pack(src, LIMIT, &blob, &size, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, ".pdcignore"), "%s", why);
    s_cleanup(src);
}

Test(package, pack_names_a_file_it_cannot_read) {
    char *src = s_tmpdir();
    char why[1024] = "";
    void *blob;
    size_t size;
    if (geteuid() == 0) {
        s_cleanup(src);
        cr_skip_test("running as root: every file is readable");
    }
    s_write_text(src, "locked", "no");
    cr_assert_eq(chmod(s_path(src, "locked"), 0), 0);
    cr_assert_eq(pdc_package_pack(src, LIMIT, &blob, &size, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, "locked"), "%s", why);
    s_cleanup(src);
}

/* ---- Unpacking -------------------------------------------------------------------------- */

Test(package, unpack_creates_a_missing_nested_directory) {
    char *src = s_tmpdir(), *root = s_tmpdir();
    s_write_text(src, "f", "contents");
    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    char *dst = strdup(s_path(root, "one/two/three"));
    s_unpack(blob, size, dst);
    cr_assert_eq(s_mode(root, "one/two/three") & 0777, 0700);
    s_assert_same_file(src, dst, "f");
    free(dst);
    free(blob);
    s_cleanup(src);
    s_cleanup(root);
}

Test(package, unpack_refuses_a_directory_that_is_not_empty) {
    char *src = s_tmpdir(), *dst = s_tmpdir();
    s_write_text(src, "f", "new");
    s_write_text(dst, "f", "already here");
    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    char why[1024] = "";
    cr_assert_eq(pdc_package_unpack(blob, size, dst, why, sizeof why), -1);
    cr_assert_not_null(strstr(why, "not empty"), "%s", why);
    size_t n;
    unsigned char *kept = s_read(dst, "f", &n);
    cr_assert_eq(n, strlen("already here"));
    free(kept);
    free(blob);
    s_cleanup(src);
    s_cleanup(dst);
}

Test(package, unpack_refuses_paths_that_leave_the_directory) {
    char *root = s_tmpdir();
    struct {
        const char *path;
        const char *expect;
    } bad[] = {
        {"../x", "'..'"},       {"a/../../x", "'..'"},       {"..", "'..'"},
        {"/etc/x", "absolute"}, {"a//x", "empty component"}, {"a/", "empty component"},
        {"./x", "'.'"},         {"", "empty path"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        crafted_blob c;
        s_craft_start(&c);
        s_craft_entry(&c, 'd', 0755, "a", NULL);
        s_craft_entry(&c, 'f', 0644, bad[i].path, "escaped");
        s_craft_end(&c);
        s_assert_refused(&c, root, bad[i].expect);
        s_assert_refused(&c, root, "entry 2");
    }
    crafted_blob nul;
    s_craft_start(&nul);
    s_craft_entry_n(&nul, 'f', 0644, "x\0y", 3, "nul");
    s_craft_end(&nul);
    s_assert_refused(&nul, root, "NUL");
    s_cleanup(root);
}

Test(package, unpack_refuses_every_strict_prefix) {
    char *src = s_tmpdir(), *root = s_tmpdir();
    s_mkdir(src, "a", 0755);
    s_write_text(src, "a/f", "hello");
    s_write(src, "e", "", 0, 0644);
    void *blob;
    size_t size;
    s_pack(src, &blob, &size);
    for (size_t n = 0; n < size; n++) {
        /* A copy of exactly n bytes, so that a read past it is a read past the allocation. */
        unsigned char *prefix = malloc(n ? n : 1);
        memcpy(prefix, blob, n);
        char why[1024] = "";
        const char *out = s_path(root, "out");
        cr_assert_eq(pdc_package_unpack(prefix, n, out, why, sizeof why), -1,
                     "a prefix of %zu of %zu bytes was unpacked", n, size);
        cr_assert_neq(why[0], '\0');
        cr_assert(!s_exists(root, "out"), "a prefix of %zu bytes wrote", n);
        free(prefix);
    }
    s_unpack(blob, size, s_path(root, "whole")); /* and the whole blob is fine */
    free(blob);
    s_cleanup(src);
    s_cleanup(root);
}

Test(package, unpack_refuses_bad_magic_and_malformed_entries) {
    char *root = s_tmpdir();
    crafted_blob c;

    s_craft_start(&c);
    s_craft_end(&c);
    c.data[6] = '2'; /* "PDCPKG2\n" */
    s_assert_refused(&c, root, "magic");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "f", "x");
    s_craft_end(&c);
    s_craft_bytes(&c, "!", 1);
    s_assert_refused(&c, root, "after the end record");

    s_craft_start(&c);
    s_craft_entry(&c, 'l', 0777, "link", "/etc/passwd");
    s_craft_end(&c);
    s_assert_refused(&c, root, "unknown kind");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 04755, "setuid", "x");
    s_craft_end(&c);
    s_assert_refused(&c, root, "mode");

    s_craft_start(&c);
    s_craft_entry(&c, 'd', 0755, "d", "contents");
    s_craft_end(&c);
    s_assert_refused(&c, root, "has contents");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "b", "b");
    s_craft_entry(&c, 'f', 0644, "a", "a");
    s_craft_end(&c);
    s_assert_refused(&c, root, "path order");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "a", "one");
    s_craft_entry(&c, 'f', 0644, "a", "two");
    s_craft_end(&c);
    s_assert_refused(&c, root, "path order");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "nodir/f", "x");
    s_craft_end(&c);
    s_assert_refused(&c, root, "no entry before it makes");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "file", "x");
    s_craft_entry(&c, 'f', 0644, "file/f", "x");
    s_craft_end(&c);
    s_assert_refused(&c, root, "no entry before it makes");

    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "f", "x");
    c.entries = 2;
    s_craft_end(&c);
    s_assert_refused(&c, root, "counts 2 entries");

    /* A contents length past the end, as large as it goes. */
    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "f", NULL);
    memset(c.data + c.size - 8, 0xff, 8);
    s_craft_end(&c);
    s_assert_refused(&c, root, "truncated");

    /* A path length past the end. */
    s_craft_start(&c);
    s_craft_entry(&c, 'f', 0644, "f", NULL);
    memset(c.data + 8 + 5, 0xff, 4);
    s_craft_end(&c);
    s_assert_refused(&c, root, "truncated");

    /* The hand-made format itself unpacks, so the refusals above are for what they change. */
    s_craft_start(&c);
    s_craft_entry(&c, 'd', 0750, "d", NULL);
    s_craft_entry(&c, 'f', 0755, "d/run", "#!/bin/sh\n");
    s_craft_entry(&c, 'f', 0644, "f", "x");
    s_craft_end(&c);
    char *out = strdup(s_path(root, "out"));
    s_unpack(c.data, c.size, out);
    cr_assert_eq(s_mode(out, "d") & 0777, 0750);
    cr_assert_eq(s_mode(out, "d/run") & 0777, 0755);
    free(out);
    s_cleanup(root);
}
