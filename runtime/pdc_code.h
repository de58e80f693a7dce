/*  pdc_code: code packages, the libraries of tasks and actors carried to
    nodes that do not have them, named by content.

    A remote function is "library:function", the library a path on the
    driver's host.  A node on another host may not have that file, so no
    shared file system is assumed:

    - When an owner first sends work that uses a library to a worker on
      another node, it reads the library, hashes it (SHA-256, libsodium)
      and uploads it to the head (CODE_PUT: hash, file name, the bytes as a
      payload frame), once per library per process.  A library named
      without a '/' (found by the dynamic linker's search path on each
      node, or a language worker's own name such as pdc:python) is sent
      as it is.  The task then names
      its library by reference, "pdc-code:HASH:PATH" (PATH only for
      messages).  Work on the owner's own node keeps the plain path.
    - A worker that is asked to load a reference asks its raylet for the
      package (CODE_GET: hash).  The raylet keeps packages in its node's
      cache directory (SESSION/code/HASH.so); on a miss it fetches the
      package from the head, checks its hash, writes it there (atomically,
      by rename) and answers CODE_PATH (hash, path).  Later workers on the
      node find it in the cache.
    - The head keeps packages in memory, at most max_code_bytes in all.

    This file has the parts every side shares: hashing, the reference
    form, the cache path. */
#ifndef PDC_CODE_H_INCLUDED
#define PDC_CODE_H_INCLUDED

#include <stddef.h>

#define PDC_CODE_HASH_LEN 64 /* hex digits of a SHA-256 */
#define PDC_CODE_PREFIX   "pdc-code:"

/* SHA-256 of bytes, as 64 hex digits and a NUL into hex (65 bytes). */
void pdc_code_hash(const void *bytes, size_t size, char hex[PDC_CODE_HASH_LEN + 1]);

/* Read a whole file (malloc'd into *bytes, size into *size).  0, or -1
   with why. */
int pdc_code_read(const char *path, size_t max_size, void **bytes, size_t *size, char *why,
                  size_t len);

/* Whether library is a reference; if so, its hash into hash (65 bytes)
   and a pointer to the original path in *path (may be NULL). */
int pdc_code_parse(const char *library, char hash[PDC_CODE_HASH_LEN + 1], const char **path);

/* "pdc-code:HASH:PATH" into out. */
void pdc_code_ref(const char *hash, const char *path, char *out, size_t len);

/* Whether text is 64 lowercase hex digits. */
int pdc_code_hash_valid(const char *text, size_t len);

#endif
