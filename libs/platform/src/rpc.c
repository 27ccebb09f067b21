/*
 * rpc.c — helpers shared by the RPC server (rpc_server.c) and client
 * (rpc_client.c): status mapping, request ids, protobuf packing into arenas.
 */
#include "platform/rpc.h"

#include "rpc_internal.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sp_rpc_status_to_err(int status)
{
    switch (status) {
    case SERPHONA__RPC__V1__STATUS__STATUS_OK:
        return SP_OK;
    case SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST:
        return SP_EINVAL;
    case SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND:
        return SP_ENOTFOUND;
    case SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED:
        return SP_ETIMEDOUT;
    case SERPHONA__RPC__V1__STATUS__STATUS_UNAVAILABLE:
        return SP_EUNAVAILABLE;
    case SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL:
        return SP_EINTERNAL;
    case SERPHONA__RPC__V1__STATUS__STATUS_PERMISSION_DENIED:
        return SP_EDENIED;
    default:
        return SP_EPROTO;
    }
}

int sp_rpc_err_to_status(int err)
{
    switch (err) {
    case SP_OK:
        return SERPHONA__RPC__V1__STATUS__STATUS_OK;
    case SP_EINVAL:
    case SP_EPROTO:
        return SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST;
    case SP_ENOTFOUND:
        return SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND;
    case SP_ETIMEDOUT:
        return SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED;
    case SP_EUNAVAILABLE:
    case SP_ESHUTDOWN:
        return SERPHONA__RPC__V1__STATUS__STATUS_UNAVAILABLE;
    case SP_EDENIED:
        return SERPHONA__RPC__V1__STATUS__STATUS_PERMISSION_DENIED;
    default:
        return SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL;
    }
}

const char *sp_rpc_status_name(int status)
{
    switch (status) {
    case SERPHONA__RPC__V1__STATUS__STATUS_OK:
        return "ok";
    case SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST:
        return "bad_request";
    case SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND:
        return "not_found";
    case SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED:
        return "deadline_exceeded";
    case SERPHONA__RPC__V1__STATUS__STATUS_UNAVAILABLE:
        return "unavailable";
    case SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL:
        return "internal";
    case SERPHONA__RPC__V1__STATUS__STATUS_PERMISSION_DENIED:
        return "permission_denied";
    default:
        return "unknown";
    }
}

/* Fallback when the DRBG cannot be seeded (no entropy source): a
 * per-thread xorshift seeded from the clock and the thread. Ids only need to
 * be unique among a client's calls in flight, not unpredictable. */
static void fallback_random(unsigned char *buf, size_t len)
{
    static __thread uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
                (uint64_t)(uintptr_t)pthread_self() ^ (uint64_t)(uintptr_t)&state;
        if (state == 0)
            state = 0x9e3779b97f4a7c15u;
    }
    for (size_t i = 0; i < len; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        buf[i] = (unsigned char)(state >> 24);
    }
}

void sp_rpc_request_id_new(char out[SP_RPC_REQUEST_ID_LEN])
{
    unsigned char raw[16];
    if (sp_random_bytes(raw, sizeof raw) != 0)
        fallback_random(raw, sizeof raw);
    sp_hex_encode(raw, sizeof raw, out);
}

int sp_rpc_pack(sp_arena_t *arena, const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    /* One spare byte so an empty message still gets a non-NULL buffer. */
    uint8_t *buf = sp_arena_alloc(arena, size + 1);
    if (!buf)
        return SP_ENOMEM;
    *len = protobuf_c_message_pack(msg, buf);
    *out = buf;
    return SP_OK;
}

static void *arena_pb_alloc(void *data, size_t size)
{
    return sp_arena_alloc(data, size);
}

static void arena_pb_free(void *data, void *ptr)
{
    /* Everything dies with the arena. */
    (void)data;
    (void)ptr;
}

ProtobufCMessage *sp_rpc_unpack(sp_arena_t *arena, const ProtobufCMessageDescriptor *desc,
                                const uint8_t *data, size_t len)
{
    ProtobufCAllocator allocator = {
        .alloc = arena_pb_alloc,
        .free = arena_pb_free,
        .allocator_data = arena,
    };
    return protobuf_c_message_unpack(desc, &allocator, len, data);
}

void sp_rpc_auth_to_proto(const sp_auth_t *auth, Serphona__Rpc__V1__AuthContext *out)
{
    /* protobuf-c's fields are not const; these strings are only read. */
    out->tenant_id = (char *)(auth->tenant_id ? auth->tenant_id : "");
    out->subject = (char *)(auth->subject ? auth->subject : "");
    out->roles = (char **)auth->roles;
    out->n_roles = auth->n_roles;
    out->scopes = (char **)auth->scopes;
    out->n_scopes = auth->n_scopes;
    out->timezone = (char *)(auth->timezone ? auth->timezone : "");
}

void sp_rpc_auth_from_proto(const Serphona__Rpc__V1__AuthContext *ctx, sp_auth_t *auth)
{
    memset(auth, 0, sizeof *auth);
    auth->tenant_id = ctx->tenant_id && ctx->tenant_id[0] ? ctx->tenant_id : NULL;
    auth->subject = ctx->subject;
    auth->roles = (const char **)ctx->roles;
    auth->n_roles = ctx->n_roles;
    auth->scopes = (const char **)ctx->scopes;
    auth->n_scopes = ctx->n_scopes;
    auth->timezone = ctx->timezone && ctx->timezone[0] ? ctx->timezone : NULL;
}

/* czmq's zsys_init installs SIGINT/SIGTERM handlers that merely set a flag,
 * replacing the service's own shutdown handling (a process could then not
 * be stopped by SIGTERM at all). Signals belong to the service, so czmq's
 * handling is switched off before czmq initialises. */
static void zsys_setup_once(void)
{
    zsys_handler_set(NULL);
    zsys_init();
}

void sp_rpc_zsys_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, zsys_setup_once);
}
