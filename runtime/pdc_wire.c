/*  pdc_wire: multipart send/receive around the pdc_proto codec. */
#include "pdc_wire.h"

#include "pdc.h"
#include "pdc_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int pdc_wire_recv(void *sock, int routed, pdc_inbound_t *in) {
    in->nframes = 0;
    in->routed = routed;
    in->decoded = 0;
    in->error[0] = '\0';
    int more = 1, overflow = 0;
    while (more) {
        zmq_msg_t scratch,
            *frame = in->nframes < PDC_WIRE_MAX_FRAMES ? &in->frames[in->nframes] : &scratch;
        zmq_msg_init(frame);
        if (zmq_msg_recv(frame, sock, in->nframes ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(frame);
            if (in->nframes == 0)
                return 0; /* EAGAIN: nothing there */
            snprintf(in->error, sizeof in->error, "receive failed: %s", zmq_strerror(errno));
            return -1;
        }
        more = zmq_msg_more(frame);
        if (frame == &scratch) {
            zmq_msg_close(frame);
            overflow = 1;
        } else {
            in->nframes++;
        }
    }
    int header = routed ? 1 : 0;
    if (overflow) {
        snprintf(in->error, sizeof in->error, "message has more than %d frames",
                 PDC_WIRE_MAX_FRAMES);
        return -1;
    }
    if (in->nframes <= header) {
        snprintf(in->error, sizeof in->error, "message has no header frame");
        return -1;
    }
    zmq_msg_t *h = &in->frames[header];
    if (pdc_msg_decode(zmq_msg_data(h), zmq_msg_size(h), &in->msg, in->error, sizeof in->error))
        return -1;
    in->decoded = 1;
    return 1;
}

void pdc_inbound_close(pdc_inbound_t *in) {
    if (in->decoded)
        pdc_msg_free(&in->msg);
    in->decoded = 0;
    for (int i = 0; i < in->nframes; i++)
        zmq_msg_close(&in->frames[i]);
    in->nframes = 0;
}

zmq_msg_t *pdc_inbound_payload(pdc_inbound_t *in, int i) {
    int at = (in->routed ? 2 : 1) + i;
    return at < in->nframes ? &in->frames[at] : NULL;
}

int pdc_wire_send(void *sock, const void *rid, size_t rid_len, const pdc_enc_t *enc,
                  const void *payload, size_t payload_len) {
    if (rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE) < 0)
        return -1;
    if (zmq_send(sock, enc->buf.data, enc->buf.size, payload ? ZMQ_SNDMORE : 0) < 0)
        return -1;
    if (payload && zmq_send(sock, payload, payload_len, 0) < 0)
        return -1;
    return 0;
}

int pdc_wire_send_zero_copy(void *sock, const void *rid, size_t rid_len, const pdc_enc_t *enc,
                            void *data, size_t len, zmq_free_fn *free_fn, void *hint) {
    zmq_msg_t body;
    if (zmq_msg_init_data(&body, data, len, free_fn, hint)) {
        free_fn(data, hint);
        return -1;
    }
    if ((rid && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE) < 0) ||
        zmq_send(sock, enc->buf.data, enc->buf.size, ZMQ_SNDMORE) < 0 ||
        zmq_msg_send(&body, sock, 0) < 0) {
        zmq_msg_close(&body); /* calls free_fn */
        return -1;
    }
    return 0;
}

int pdc_wire_reply(void *sock, pdc_inbound_t *in, const pdc_enc_t *enc) {
    if (!in->routed || in->nframes < 1)
        return -1;
    return pdc_wire_send(sock, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]), enc,
                         NULL, 0);
}

int pdc_wire_send_error(void *sock, const void *rid, size_t rid_len, pdc_enc_t *enc,
                        uint64_t request, int code, const char *message) {
    pdc_enc_begin(enc, PDC_MSG_ERROR, request);
    pdc_enc_i(enc, code);
    pdc_enc_s(enc, message);
    return pdc_wire_send(sock, rid, rid_len, enc, NULL, 0);
}

int pdc_wire_reply_error(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, int code,
                         const char *message) {
    if (!in->routed || in->nframes < 1)
        return -1;
    return pdc_wire_send_error(sock, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]),
                               enc, in->decoded ? in->msg.request_id : 0, code, message);
}

int pdc_wire_serve(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, uint64_t *bad) {
    int rc = pdc_wire_recv(sock, 1, in);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        if (bad)
            (*bad)++;
        pdc_warn("refused a message: %s", in->error);
        if (in->nframes >= 1)
            pdc_wire_reply_error(sock, in, enc, PDC_EPROTO, in->error);
        pdc_inbound_close(in);
        return 0;
    }
    if (in->msg.type == PDC_MSG_PING) {
        pdc_enc_begin(enc, PDC_MSG_PONG, in->msg.request_id);
        pdc_wire_reply(sock, in, enc);
        pdc_inbound_close(in);
        return 0;
    }
    return 1;
}

void pdc_wire_refuse(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, const char *daemon,
                     uint64_t *bad) {
    char why[128];
    snprintf(why, sizeof why, "%s does not serve %s", daemon, pdc_msg_name(in->msg.type));
    if (bad)
        (*bad)++;
    pdc_warn("%s", why);
    pdc_wire_reply_error(sock, in, enc, PDC_EPROTO, why);
}

void pdc_wire_tune(void *sock, int64_t max_message_size) {
    int linger = 0, hwm = 0; /* no drop: flow control is ours */
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (max_message_size > 0)
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_message_size, sizeof max_message_size);
}
