/*  pdc_wire: sending and receiving pdc messages as ZeroMQ multiparts.

    Outgoing: [routing id, if replying on a ROUTER] [header] [payload...].
    Incoming: pdc_wire_recv reads one whole multipart (at most
    PDC_WIRE_MAX_FRAMES frames; a longer one is drained and refused) and
    decodes its header with the total decoder of pdc_proto.  A refused
    message leaves an error text in the inbound struct so the caller can
    answer it with an ERROR and keep serving.

    Sockets are raw libzmq sockets (zsock_resolve of a CZMQ zsock_t).
*/
#ifndef PDC_WIRE_H_INCLUDED
#define PDC_WIRE_H_INCLUDED

#include "pdc_proto.h"
#include <zmq.h>

#define PDC_WIRE_MAX_FRAMES 4

typedef struct {
    zmq_msg_t frames[PDC_WIRE_MAX_FRAMES];
    int nframes;
    int routed;    /* frame 0 is a routing id (ROUTER sockets)      */
    pdc_msg_t msg; /* the decoded header, when decoded               */
    int decoded;
    char error[256]; /* why the message was refused                    */
} pdc_inbound_t;

/* Receive one multipart without blocking.  Returns 1 with a decoded
   message, 0 when nothing was waiting, -1 when a message arrived but was
   refused (in->error says why; routing frames are kept so the caller can
   reply).  Always call pdc_inbound_close afterwards unless 0. */
int pdc_wire_recv(void *sock, int routed, pdc_inbound_t *in);
void pdc_inbound_close(pdc_inbound_t *in);

/* The payload frame i (0 = first after the header), or NULL. */
zmq_msg_t *pdc_inbound_payload(pdc_inbound_t *in, int i);

/* Send enc's message, preceded by a routing id (rid may be NULL) and
   followed by payload bytes (may be NULL; copied).  0 or -1 (errno). */
int pdc_wire_send(void *sock, const void *rid, size_t rid_len, const pdc_enc_t *enc,
                  const void *payload, size_t payload_len);
/* The same with payload bytes ZeroMQ sends without copying them: it calls
   free_fn(data, hint), on its own I/O thread, once they are sent or
   dropped (also when this fails).  0 or -1 (errno). */
int pdc_wire_send_zero_copy(void *sock, const void *rid, size_t rid_len, const pdc_enc_t *enc,
                            void *data, size_t len, zmq_free_fn *free_fn, void *hint);
/* Reply on a ROUTER to whoever sent in. */
int pdc_wire_reply(void *sock, pdc_inbound_t *in, const pdc_enc_t *enc);
/* Send ERROR(code, message) for request to rid on a ROUTER (an answer
   that comes later than the request it answers). */
int pdc_wire_send_error(void *sock, const void *rid, size_t rid_len, pdc_enc_t *enc,
                        uint64_t request, int code, const char *message);
/* Reply with ERROR(code, message) to in's sender. */
int pdc_wire_reply_error(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, int code,
                         const char *message);

/* What every daemon does first with its ROUTER: receive one message;
   answer a refused one with ERROR (counting it in *bad, if not NULL, and
   logging it) and PING with PONG.  Returns 1 with a message for the
   caller to handle and close, 0 when nothing is left to do. */
int pdc_wire_serve(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, uint64_t *bad);
/* Answer a message this daemon (named in the reply) does not serve. */
void pdc_wire_refuse(void *sock, pdc_inbound_t *in, pdc_enc_t *enc, const char *daemon,
                     uint64_t *bad);

/* Common socket settings: linger, high water marks, and for sockets that
   face the network a maximum message size. */
void pdc_wire_tune(void *sock, int64_t max_message_size);

#endif
