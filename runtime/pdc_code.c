/*  pdc_code: hashing and naming code packages (see pdc_code.h). */
#include "pdc_code.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void pdc_code_hash(const void *bytes, size_t size, char hex[PDC_CODE_HASH_LEN + 1]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (sodium_init() < 0)
        memset(digest, 0, sizeof digest);
    crypto_hash_sha256(digest, bytes, size);
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

int pdc_code_read(const char *path, size_t max_size, void **bytes, size_t *size, char *why,
                  size_t len) {
    *bytes = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        snprintf(why, len, "cannot read library '%s': %s", path,
                 f ? "not a regular file" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    if ((size_t) st.st_size > max_size) {
        snprintf(why, len, "library '%s' is %lld bytes, over the %zu a code package may have", path,
                 (long long) st.st_size, max_size);
        fclose(f);
        return -1;
    }
    void *buf = malloc((size_t) st.st_size ? (size_t) st.st_size : 1);
    if (!buf || fread(buf, 1, (size_t) st.st_size, f) != (size_t) st.st_size) {
        snprintf(why, len, "cannot read library '%s': %s", path,
                 buf ? "short read" : "out of memory");
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *bytes = buf;
    *size = (size_t) st.st_size;
    return 0;
}

int pdc_code_hash_valid(const char *text, size_t len) {
    if (len != PDC_CODE_HASH_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return 0;
    return 1;
}

int pdc_code_parse(const char *library, char hash[PDC_CODE_HASH_LEN + 1], const char **path) {
    size_t prefix = strlen(PDC_CODE_PREFIX);
    if (strncmp(library, PDC_CODE_PREFIX, prefix))
        return 0;
    const char *h = library + prefix;
    if (strlen(h) < PDC_CODE_HASH_LEN || !pdc_code_hash_valid(h, PDC_CODE_HASH_LEN) ||
        (h[PDC_CODE_HASH_LEN] != ':' && h[PDC_CODE_HASH_LEN] != '\0'))
        return 0;
    memcpy(hash, h, PDC_CODE_HASH_LEN);
    hash[PDC_CODE_HASH_LEN] = '\0';
    if (path)
        *path = h[PDC_CODE_HASH_LEN] ? h + PDC_CODE_HASH_LEN + 1 : "";
    return 1;
}

void pdc_code_ref(const char *hash, const char *path, char *out, size_t len) {
    snprintf(out, len, "%s%s:%s", PDC_CODE_PREFIX, hash, path);
}
