/*  make_corpus: the fuzzer's seed corpus, one valid header frame per
    message type (the samples of proto_samples.h), written as DIR/NAME.

    Usage: make_corpus DIR   (DIR must exist) */
#include "proto_samples.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    for (unsigned t = 0; t < PDC_MSG_COUNT_; t++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], pdc_msg_name(t));
        sample_encode(&enc, t, 1000 + t);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(enc.buf.data, 1, enc.buf.size, f) != enc.buf.size || fclose(f)) {
            perror(path);
            return 1;
        }
    }
    pdc_enc_free(&enc);
    return 0;
}
