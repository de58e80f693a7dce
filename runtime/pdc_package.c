/*  pdc_package: a job's directory packed into a blob and unpacked again (see pdc_package.h).

    Packing walks the tree (lstat, so links are never followed), drops what .pdcignore and the
    ".git" rule skip, sorts what is left by path, checks the total of the sizes against the
    limit before reading a byte, then reads each file into the blob.  Unpacking parses and
    checks the whole blob first, then writes it: directories created 0700 and given their own
    mode at the end (children first, so that a directory without write permission is still
    filled), files created exclusively and given their mode with fchmod. */
#include "pdc_package.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIND_DIR  'd'
#define KIND_FILE 'f'
#define KIND_END  'E'

#define IGNORE_FILE    ".pdcignore"
#define LIMIT_SETTING  "job_package_max_bytes (PDC_JOB_PACKAGE_MAX_BYTES)"
#define LARGEST_NAMED  5    /* files named when the limit is passed */
#define ENTRY_PATH_MAX 4096 /* bytes in an entry's path */
#define READ_CHUNK     65536

/* ---- Small helpers -------------------------------------------------------------------------- */

/* Append to a message, never past len. */
static void s_appendf(char *why, size_t len, size_t *used, const char *fmt, ...) {
    if (*used >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t) n;
}

/* "a/b", or b alone when a is empty (the top of the tree); NULL when out of memory. */
static char *s_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *out = malloc(la + lb + 2);
    if (!out)
        return NULL;
    if (la) {
        memcpy(out, a, la);
        out[la++] = '/';
    }
    memcpy(out + la, b, lb + 1);
    return out;
}

static void s_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static void s_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint32_t s_get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t s_get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* ---- .pdcignore ----------------------------------------------------------------------------- */

typedef struct {
    char *pattern;  /* without a leading or trailing '/' */
    int whole_path; /* matched against the relative path, else against the base name */
    int dir_only;
} ignore_rule;

typedef struct {
    ignore_rule *rules;
    size_t count;
} ignore_list;

static void s_ignore_free(ignore_list *list) {
    for (size_t i = 0; i < list->count; i++)
        free(list->rules[i].pattern);
    free(list->rules);
    list->rules = NULL;
    list->count = 0;
}

/* One line of .pdcignore into a rule (or nothing, for a blank line or a comment). */
static int s_ignore_add(ignore_list *list, char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                 line[n - 1] == '\t'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t')
        line++, n--;
    if (!n || line[0] == '#')
        return 0;
    ignore_rule rule = {0};
    while (n && line[n - 1] == '/') {
        line[--n] = '\0';
        rule.dir_only = 1;
    }
    if (line[0] == '/') {
        rule.whole_path = 1;
        while (*line == '/')
            line++;
    }
    if (!*line)
        return 0; /* "/" alone names nothing under the directory */
    if (strchr(line, '/'))
        rule.whole_path = 1;
    ignore_rule *grown = realloc(list->rules, (list->count + 1) * sizeof *grown);
    if (!grown || !(rule.pattern = strdup(line))) {
        if (grown)
            list->rules = grown;
        return -1;
    }
    list->rules = grown;
    list->rules[list->count++] = rule;
    return 0;
}

/* Read dir/.pdcignore, if there is one, into list. */
static int s_ignore_load(ignore_list *list, const char *dir, char *why, size_t len) {
    char *path = s_join(dir, IGNORE_FILE);
    if (!path) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        if (err == ENOENT) {
            free(path);
            return 0;
        }
        snprintf(why, len, "cannot read '%s': %s", path, strerror(err));
        free(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &cap, f) >= 0)
        if (s_ignore_add(list, line)) {
            snprintf(why, len, "out of memory reading '%s'", path);
            rc = -1;
            break;
        }
    if (!rc && ferror(f)) {
        snprintf(why, len, "cannot read '%s': %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    free(path);
    return rc;
}

static int s_ignored(const ignore_list *list, const char *rel, const char *name, int is_dir) {
    for (size_t i = 0; i < list->count; i++) {
        const ignore_rule *rule = &list->rules[i];
        if (rule->dir_only && !is_dir)
            continue;
        if (rule->whole_path ? !fnmatch(rule->pattern, rel, FNM_PATHNAME)
                             : !fnmatch(rule->pattern, name, 0))
            return 1;
    }
    return 0;
}

/* ---- Walking the tree ----------------------------------------------------------------------- */

typedef struct {
    char *path; /* relative to the packed directory */
    int is_dir;
    uint32_t mode; /* mode & 0777 */
    uint64_t size; /* a file's size when the walk saw it */
} pack_entry;

typedef struct {
    const char *root;
    ignore_list ignore;
    pack_entry *entries;
    size_t count, cap;
    char *why;
    size_t len;
} pack_walk;

static void s_walk_free(pack_walk *walk) {
    for (size_t i = 0; i < walk->count; i++)
        free(walk->entries[i].path);
    free(walk->entries);
    s_ignore_free(&walk->ignore);
}

/* Take ownership of rel as a new entry. */
static int s_walk_add(pack_walk *walk, char *rel, const struct stat *st) {
    if (walk->count == walk->cap) {
        size_t cap = walk->cap ? walk->cap * 2 : 64;
        pack_entry *grown = realloc(walk->entries, cap * sizeof *grown);
        if (!grown) {
            free(rel);
            snprintf(walk->why, walk->len, "out of memory");
            return -1;
        }
        walk->entries = grown;
        walk->cap = cap;
    }
    pack_entry *e = &walk->entries[walk->count++];
    e->path = rel;
    e->is_dir = S_ISDIR(st->st_mode);
    e->mode = (uint32_t) (st->st_mode & 0777);
    e->size = e->is_dir ? 0 : (uint64_t) st->st_size;
    return 0;
}

/* Add what the directory rel ("" for the top) holds, and below it. */
static int s_walk_dir(pack_walk *walk, const char *rel) {
    char *full = *rel ? s_join(walk->root, rel) : strdup(walk->root);
    if (!full) {
        snprintf(walk->why, walk->len, "out of memory");
        return -1;
    }
    DIR *d = opendir(full);
    if (!d) {
        snprintf(walk->why, walk->len, "cannot read directory '%s': %s", full, strerror(errno));
        free(full);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    for (errno = 0; !rc && (de = readdir(d)); errno = 0) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        char *child_rel = s_join(rel, name), *child_full = s_join(full, name);
        struct stat st;
        if (!child_rel || !child_full) {
            snprintf(walk->why, walk->len, "out of memory");
            rc = -1;
        } else if (lstat(child_full, &st)) {
            if (errno != ENOENT) { /* ENOENT: gone since readdir, so not part of the tree */
                snprintf(walk->why, walk->len, "cannot read '%s': %s", child_full, strerror(errno));
                rc = -1;
            }
        } else if (S_ISDIR(st.st_mode)) {
            if (strcmp(name, ".git") && !s_ignored(&walk->ignore, child_rel, name, 1)) {
                rc = s_walk_add(walk, child_rel, &st);
                if (!rc)
                    rc = s_walk_dir(walk, child_rel);
                child_rel = NULL; /* the entry owns it now */
            }
        } else if (S_ISREG(st.st_mode)) {
            if (!s_ignored(&walk->ignore, child_rel, name, 0)) {
                rc = s_walk_add(walk, child_rel, &st);
                child_rel = NULL;
            }
        } /* links, sockets, fifos and devices are not packed */
        free(child_rel);
        free(child_full);
    }
    if (!rc && errno) {
        snprintf(walk->why, walk->len, "cannot read directory '%s': %s", full, strerror(errno));
        rc = -1;
    }
    closedir(d);
    free(full);
    return rc;
}

static int s_by_path(const void *a, const void *b) {
    return strcmp(((const pack_entry *) a)->path, ((const pack_entry *) b)->path);
}

/* Largest first; among equals, by path, so that the message is the same each time. */
static int s_by_size_down(const void *a, const void *b) {
    const pack_entry *x = *(const pack_entry *const *) a, *y = *(const pack_entry *const *) b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return strcmp(x->path, y->path);
}

/* The message for a tree whose files come to reached bytes, over max_bytes. */
static void s_over_limit(pack_walk *walk, uint64_t reached, size_t max_bytes) {
    size_t used = 0;
    s_appendf(walk->why, walk->len, &used,
              "the files under '%s' come to %llu bytes, over the limit of %zu bytes (%s)",
              walk->root, (unsigned long long) reached, max_bytes, LIMIT_SETTING);
    const pack_entry **files = malloc((walk->count ? walk->count : 1) * sizeof *files);
    size_t nfiles = 0;
    for (size_t i = 0; files && i < walk->count; i++)
        if (!walk->entries[i].is_dir)
            files[nfiles++] = &walk->entries[i];
    if (files && nfiles) {
        qsort(files, nfiles, sizeof *files, s_by_size_down);
        s_appendf(walk->why, walk->len, &used, "; the largest files:");
        for (size_t i = 0; i < nfiles && i < LARGEST_NAMED; i++)
            s_appendf(walk->why, walk->len, &used, "%s %s (%llu bytes)", i ? "," : "",
                      files[i]->path, (unsigned long long) files[i]->size);
    }
    free(files);
    s_appendf(walk->why, walk->len, &used,
              "; name what the job does not need in %s/" IGNORE_FILE ", or raise the limit",
              walk->root);
}

/* ---- Building the blob ---------------------------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t size, cap;
} blob_buf;

static int s_reserve(blob_buf *buf, size_t more) {
    if (buf->cap - buf->size >= more)
        return 0;
    if (more > SIZE_MAX / 2 - buf->size)
        return -1;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap - buf->size < more)
        cap *= 2;
    unsigned char *grown = realloc(buf->data, cap);
    if (!grown)
        return -1;
    buf->data = grown;
    buf->cap = cap;
    return 0;
}

/* Append the contents of the file at full to buf; *total counts every file's bytes so far. */
static int s_append_contents(pack_walk *walk, blob_buf *buf, const char *full, uint64_t *total,
                             size_t max_bytes, uint64_t *appended) {
    int fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        snprintf(walk->why, walk->len, "cannot read '%s': %s", full, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(walk->why, walk->len, "cannot read '%s': no longer a regular file", full);
        close(fd);
        return -1;
    }
    *appended = 0;
    for (;;) {
        if (s_reserve(buf, READ_CHUNK)) {
            snprintf(walk->why, walk->len, "out of memory reading '%s'", full);
            close(fd);
            return -1;
        }
        ssize_t n = read(fd, buf->data + buf->size, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(walk->why, walk->len, "cannot read '%s': %s", full, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        buf->size += (size_t) n;
        *appended += (uint64_t) n;
        *total += (uint64_t) n;
        if (*total > max_bytes) { /* the file grew since the walk */
            close(fd);
            s_over_limit(walk, *total, max_bytes);
            return -1;
        }
    }
    close(fd);
    return 0;
}

static int s_append_entry(pack_walk *walk, blob_buf *buf, const pack_entry *e, uint64_t *total,
                          size_t max_bytes) {
    size_t path_len = strlen(e->path);
    if (path_len > ENTRY_PATH_MAX) {
        snprintf(walk->why, walk->len, "cannot pack '%s/%s': its path is over %d bytes", walk->root,
                 e->path, ENTRY_PATH_MAX);
        return -1;
    }
    if (s_reserve(buf, 1 + 4 + 4 + path_len + 8)) {
        snprintf(walk->why, walk->len, "out of memory");
        return -1;
    }
    unsigned char *p = buf->data + buf->size;
    p[0] = e->is_dir ? KIND_DIR : KIND_FILE;
    s_put_u32(p + 1, e->mode);
    s_put_u32(p + 5, (uint32_t) path_len);
    memcpy(p + 9, e->path, path_len);
    size_t size_at = buf->size + 9 + path_len;
    buf->size = size_at + 8;
    uint64_t appended = 0;
    if (!e->is_dir) {
        char *full = s_join(walk->root, e->path);
        if (!full) {
            snprintf(walk->why, walk->len, "out of memory");
            return -1;
        }
        int rc = s_append_contents(walk, buf, full, total, max_bytes, &appended);
        free(full);
        if (rc)
            return -1;
    }
    s_put_u64(buf->data + size_at, appended);
    return 0;
}

int pdc_package_pack(const char *dir, size_t max_bytes, void **bytes, size_t *size, char *why,
                     size_t len) {
    *bytes = NULL;
    *size = 0;
    pack_walk walk = {.root = dir, .why = why, .len = len};
    struct stat st;
    if (stat(dir, &st)) {
        snprintf(why, len, "cannot pack '%s': %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, len, "cannot pack '%s': not a directory", dir);
        return -1;
    }
    if (s_ignore_load(&walk.ignore, dir, why, len) || s_walk_dir(&walk, "")) {
        s_walk_free(&walk);
        return -1;
    }
    if (walk.count)
        qsort(walk.entries, walk.count, sizeof *walk.entries, s_by_path);

    uint64_t seen = 0;
    for (size_t i = 0; i < walk.count; i++)
        seen = walk.entries[i].size > UINT64_MAX - seen ? UINT64_MAX : seen + walk.entries[i].size;
    if (seen > max_bytes) {
        s_over_limit(&walk, seen, max_bytes);
        s_walk_free(&walk);
        return -1;
    }

    blob_buf buf = {0};
    uint64_t total = 0;
    int rc = 0;
    if (s_reserve(&buf, PDC_PACKAGE_MAGIC_LEN)) {
        snprintf(why, len, "out of memory");
        rc = -1;
    } else {
        memcpy(buf.data, PDC_PACKAGE_MAGIC, PDC_PACKAGE_MAGIC_LEN);
        buf.size = PDC_PACKAGE_MAGIC_LEN;
    }
    for (size_t i = 0; !rc && i < walk.count; i++)
        rc = s_append_entry(&walk, &buf, &walk.entries[i], &total, max_bytes);
    if (!rc && s_reserve(&buf, 9)) {
        snprintf(why, len, "out of memory");
        rc = -1;
    }
    if (!rc) {
        buf.data[buf.size] = KIND_END;
        s_put_u64(buf.data + buf.size + 1, walk.count);
        buf.size += 9;
    }
    s_walk_free(&walk);
    if (rc) {
        free(buf.data);
        return -1;
    }
    *bytes = buf.data;
    *size = buf.size;
    return 0;
}

/* ---- Reading a blob ------------------------------------------------------------------------- */

typedef struct {
    char kind;
    uint32_t mode;
    const char *path;
    size_t path_len;
    const unsigned char *data;
    size_t data_len;
} blob_entry;

/* A path as a message may show it: at most 200 bytes, control bytes as '?'. */
static const char *s_printable(const char *path, size_t path_len, char out[208]) {
    size_t n = path_len < 200 ? path_len : 200, i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) path[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    if (n < path_len)
        out[i++] = '.', out[i++] = '.', out[i++] = '.';
    out[i] = '\0';
    return out;
}

/* What is wrong with an entry's path, or NULL. */
static const char *s_path_problem(const char *path, size_t path_len) {
    if (!path_len)
        return "an empty path";
    if (path_len > ENTRY_PATH_MAX)
        return "a path over 4096 bytes";
    if (memchr(path, '\0', path_len))
        return "a NUL byte in its path";
    if (path[0] == '/')
        return "an absolute path";
    for (size_t start = 0; start <= path_len;) {
        const char *slash = memchr(path + start, '/', path_len - start);
        size_t end = slash ? (size_t) (slash - path) : path_len;
        size_t n = end - start;
        if (!n)
            return "an empty component in its path";
        if (n == 2 && !memcmp(path + start, "..", 2))
            return "a '..' component in its path";
        if (n == 1 && path[start] == '.')
            return "a '.' component in its path";
        start = end + 1;
    }
    return NULL;
}

/* Byte order, as strcmp on paths without NUL bytes. */
static int s_path_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Whether the parent of entries[i] is a directory entry before it (they are sorted). */
static int s_parent_listed(const blob_entry *entries, size_t i) {
    const char *path = entries[i].path;
    size_t parent_len = entries[i].path_len;
    while (parent_len && path[parent_len - 1] != '/')
        parent_len--;
    if (!parent_len)
        return 1; /* at the top */
    parent_len--;
    size_t lo = 0, hi = i;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = s_path_cmp(entries[mid].path, entries[mid].path_len, path, parent_len);
        if (!c)
            return entries[mid].kind == KIND_DIR;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Parse and check the whole blob into *entries (malloc'd, pointing into bytes). */
static int s_parse(const unsigned char *bytes, size_t size, blob_entry **entries, size_t *count,
                   char *why, size_t len) {
    *entries = NULL;
    *count = 0;
    if (size < PDC_PACKAGE_MAGIC_LEN || memcmp(bytes, PDC_PACKAGE_MAGIC, PDC_PACKAGE_MAGIC_LEN)) {
        snprintf(why, len, "not a job package (no \"PDCPKG1\" magic at its start)");
        return -1;
    }
    const unsigned char *p = bytes + PDC_PACKAGE_MAGIC_LEN;
    size_t left = size - PDC_PACKAGE_MAGIC_LEN, n = 0, cap = 0;
    blob_entry *list = NULL;
    char shown[208];
    for (;;) {
        size_t at = n + 1; /* the entry's number in messages */
        if (!left) {
            snprintf(why, len, "truncated job package: no end record after entry %zu", n);
            goto fail;
        }
        if (p[0] == KIND_END) {
            if (left < 9) {
                snprintf(why, len, "truncated job package: end record cut short");
                goto fail;
            }
            uint64_t listed = s_get_u64(p + 1);
            if (listed != n) {
                snprintf(why, len,
                         "malformed job package: end record counts %llu entries, %zu found",
                         (unsigned long long) listed, n);
                goto fail;
            }
            if (left > 9) {
                snprintf(why, len, "malformed job package: %zu bytes after the end record",
                         left - 9);
                goto fail;
            }
            break;
        }
        if (p[0] != KIND_DIR && p[0] != KIND_FILE) {
            snprintf(why, len, "malformed job package: entry %zu has unknown kind byte 0x%02x", at,
                     p[0]);
            goto fail;
        }
        if (left < 9) {
            snprintf(why, len, "truncated job package: entry %zu's header cut short", at);
            goto fail;
        }
        blob_entry e = {.kind = (char) p[0], .mode = s_get_u32(p + 1)};
        uint32_t path_len = s_get_u32(p + 5);
        p += 9, left -= 9;
        if (path_len > left) {
            snprintf(why, len, "truncated job package: entry %zu's path cut short", at);
            goto fail;
        }
        e.path = (const char *) p;
        e.path_len = path_len;
        p += path_len, left -= path_len;
        const char *problem = s_path_problem(e.path, e.path_len);
        if (problem) {
            snprintf(why, len, "refused job package: entry %zu ('%s') has %s", at,
                     s_printable(e.path, e.path_len, shown), problem);
            goto fail;
        }
        s_printable(e.path, e.path_len, shown);
        if (left < 8) {
            snprintf(why, len, "truncated job package: entry %zu ('%s') cut short before its size",
                     at, shown);
            goto fail;
        }
        uint64_t data_len = s_get_u64(p);
        p += 8, left -= 8;
        if (data_len > left) {
            snprintf(why, len,
                     "truncated job package: entry %zu ('%s') has %llu bytes of contents, %zu left",
                     at, shown, (unsigned long long) data_len, left);
            goto fail;
        }
        e.data = p;
        e.data_len = (size_t) data_len;
        p += data_len, left -= (size_t) data_len;
        if (e.mode & ~0777u) {
            snprintf(why, len, "malformed job package: entry %zu ('%s') has mode 0%o, outside 0777",
                     at, shown, e.mode);
            goto fail;
        }
        if (e.kind == KIND_DIR && e.data_len) {
            snprintf(why, len, "malformed job package: directory entry %zu ('%s') has contents", at,
                     shown);
            goto fail;
        }
        if (n && s_path_cmp(list[n - 1].path, list[n - 1].path_len, e.path, e.path_len) >= 0) {
            snprintf(why, len,
                     "malformed job package: entry %zu ('%s') is not after entry %zu in path order",
                     at, shown, n);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            blob_entry *grown = realloc(list, cap * sizeof *grown);
            if (!grown) {
                snprintf(why, len, "out of memory");
                goto fail;
            }
            list = grown;
        }
        list[n] = e;
        if (!s_parent_listed(list, n)) {
            snprintf(why, len,
                     "malformed job package: entry %zu ('%s') is in a directory that no entry "
                     "before it makes",
                     at, shown);
            goto fail;
        }
        n++;
    }
    *entries = list;
    *count = n;
    return 0;
fail:
    free(list);
    return -1;
}

/* ---- Writing the tree ----------------------------------------------------------------------- */

/* dir, made with its parents (0700) if it is not there, or an empty directory that is. */
static int s_make_target(const char *dir, char *why, size_t len) {
    char *copy = strdup(dir);
    if (!copy) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    for (char *s = copy + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(copy, 0700); /* a failure shows in the last mkdir */
            *s = '/';
        }
    free(copy);
    if (!mkdir(dir, 0700)) {
        if (chmod(dir, 0700)) { /* exactly 0700, whatever the umask */
            snprintf(why, len, "cannot set the mode of '%s': %s", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != EEXIST) {
        snprintf(why, len, "cannot create '%s': %s", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, len, "cannot unpack into '%s': %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    int empty = 1;
    while (empty && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            empty = 0;
    closedir(d);
    if (!empty) {
        snprintf(why, len, "cannot unpack into '%s': it exists and is not empty", dir);
        return -1;
    }
    return 0;
}

/* The full path of an entry under dir (malloc'd). */
static char *s_entry_path(const char *dir, const blob_entry *e) {
    size_t dlen = strlen(dir);
    char *full = malloc(dlen + 1 + e->path_len + 1);
    if (!full)
        return NULL;
    memcpy(full, dir, dlen);
    full[dlen] = '/';
    memcpy(full + dlen + 1, e->path, e->path_len);
    full[dlen + 1 + e->path_len] = '\0';
    return full;
}

static int s_write_file(const char *full, const blob_entry *e, const char **failed) {
    int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *failed = "cannot create it";
        return -1;
    }
    for (size_t done = 0; done < e->data_len;) {
        ssize_t n = write(fd, e->data + done, e->data_len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            errno = err;
            *failed = "cannot write it";
            return -1;
        }
        done += (size_t) n;
    }
    if (fchmod(fd, (mode_t) e->mode)) {
        int err = errno;
        close(fd);
        errno = err;
        *failed = "cannot set its mode";
        return -1;
    }
    if (close(fd)) {
        *failed = "cannot write it";
        return -1;
    }
    return 0;
}

static int s_write_tree(const blob_entry *entries, size_t count, const char *dir, char *why,
                        size_t len) {
    char shown[208];
    for (size_t pass = 0; pass < 2; pass++) {
        /* Pass 0 makes everything, in order; pass 1 gives directories their modes, last first. */
        for (size_t k = 0; k < count; k++) {
            size_t i = pass ? count - 1 - k : k;
            const blob_entry *e = &entries[i];
            if (pass && e->kind != KIND_DIR)
                continue;
            char *full = s_entry_path(dir, e);
            if (!full) {
                snprintf(why, len, "out of memory");
                return -1;
            }
            const char *failed = NULL;
            if (pass)
                failed = chmod(full, (mode_t) e->mode) ? "cannot set its mode" : NULL;
            else if (e->kind == KIND_DIR)
                failed = mkdir(full, 0700) ? "cannot create it" : NULL;
            else
                s_write_file(full, e, &failed);
            int err = errno;
            free(full);
            if (failed) {
                snprintf(why, len, "cannot unpack entry %zu ('%s') into '%s': %s: %s", i + 1,
                         s_printable(e->path, e->path_len, shown), dir, failed, strerror(err));
                return -1;
            }
        }
    }
    return 0;
}

int pdc_package_unpack(const void *bytes, size_t size, const char *dir, char *why, size_t len) {
    blob_entry *entries;
    size_t count;
    if (s_parse(bytes, size, &entries, &count, why, len))
        return -1;
    int rc = s_make_target(dir, why, len);
    if (!rc)
        rc = s_write_tree(entries, count, dir, why, len);
    free(entries);
    return rc;
}
