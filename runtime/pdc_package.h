/*  pdc_package: a job's working directory packed into one byte blob, and
    unpacked again on a node.

    pdc-submit packs the directory a job runs in, uploads the blob to the
    head by its SHA-256 hash (pdc_code_hash), and a node that runs the job
    unpacks it into the job's own directory.  The blob is deterministic:
    the same tree gives the same bytes, whatever order its files were
    made in and whatever their times, owners or inode numbers, so the
    same tree has the same hash.

    What is packed: the regular files and directories under the
    directory, recursively, each with its permission bits (mode & 0777)
    and nothing else.  Symbolic links are skipped (never followed), and so
    are sockets, fifos and devices.  A directory named ".git" is always
    skipped, at any depth.

    .pdcignore, in the packed directory, names more to skip.  One pattern
    a line; blanks at either end of a line are trimmed; blank lines and
    lines starting with '#' are ignored.

        *.o         no '/': matches a file or directory name at any depth
                    (fnmatch on the base name)
        docs/tmp-*  a '/' inside: matches the path relative to the
                    directory (fnmatch with FNM_PATHNAME, so '*' does not
                    cross a '/': not docs/sub/tmp-a); a leading '/'
                    anchors it there and is stripped ("/build" is build
                    at the top only)
        cache/      a trailing '/': matches directories only (the '/' is
                    then not counted as one inside: "cache/" is a name)

    A matched directory is skipped whole.  .pdcignore itself is packed like
    any other file.

    The blob, all integers big-endian:

        "PDCPKG1\n"                          magic, 8 bytes
        per entry, sorted by path (byte order, so a directory comes
        before what it holds):
          kind      1 byte                   'd' a directory, 'f' a file
          mode      u32                      mode & 0777
          path_len  u32, then path bytes     relative, '/'-separated
          size      u64, then size bytes     the file's contents (0 for
                                             a directory)
        end record:
          'E'       1 byte
          count     u64                      the number of entries

    The end record and its count make every strict prefix of a blob, and
    anything after it, a malformed blob.  The packed directory itself is
    not an entry. */
#ifndef PDC_PACKAGE_H_INCLUDED
#define PDC_PACKAGE_H_INCLUDED

#include <stddef.h>

#define PDC_PACKAGE_MAGIC     "PDCPKG1\n"
#define PDC_PACKAGE_MAGIC_LEN 8

/* Pack the regular files and directories under dir, recursively, into a malloc'd blob
   (*bytes, *size), skipping what dir/.pdcignore names.  The blob is deterministic: the same
   tree gives the same bytes (entries sorted by path; no timestamps, owners or inode numbers;
   only the permission bits mode & 0777 kept).  Symbolic links are skipped, and so are sockets,
   fifos and devices.  The total of the file contents may not pass max_bytes: past it the call
   fails with a message that names the size reached, the limit and the setting
   "job_package_max_bytes (PDC_JOB_PACKAGE_MAX_BYTES)", and the largest files found, so that a
   user knows what to add to .pdcignore.  0, or -1 with why (naming the path that could not be
   read). */
int pdc_package_pack(const char *dir, size_t max_bytes, void **bytes, size_t *size, char *why,
                     size_t len);

/* Unpack a blob made by pdc_package_pack into dir (created, mode 0700, with its parents if
   needed; it may exist and be empty).  Every entry's path is checked: no absolute paths, no ".."
   component, no empty components, nothing that would leave dir; a truncated or malformed blob
   is refused.  0, or -1 with why (what was wrong, and at which entry).

   The whole blob is checked before anything is written: besides the paths, entries must be in
   strictly increasing order (no entry twice), each one's parent must be a directory entry before
   it, modes must be within 0777 and a directory has no contents.  A dir that exists must be an
   empty directory, so that nothing already there (a symbolic link) can lead a write out of it.
   Files are created, never opened if they exist.  If writing fails part way, dir may hold part
   of the tree; the caller removes it. */
int pdc_package_unpack(const void *bytes, size_t size, const char *dir, char *why, size_t len);

#endif
