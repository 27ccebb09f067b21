/*
 * fuzz_rpc.c — protobuf decoding of everything that crosses a process
 * boundary: the RPC envelope (proto/rpc.proto) as sp_rpc_unpack reads it off
 * the wire, with its forwarded HTTP request turned into an sp_request_t the
 * way rpc_server.c does and its typed body decoded as every message type;
 * and every message of the proto/ files decoded on its own.
 *
 * Input: one byte choosing the message type (0 = the envelope path), then
 * the wire bytes. Oracle beyond the sanitizers: a message that decodes
 * re-encodes, and that encoding decodes again to the same encoding.
 *
 * FZ_WRITE_SEEDS=<dir> writes packed seed messages to dir and exits.
 */
#include "fuzz_common.h"

#include "events.pb-c.h"
#include "interactions.pb-c.h"
#include "ping.pb-c.h"
#include "platform/arena.h"
#include "platform/request.h"
#include "platform/rpc.h"
#include "rpc.pb-c.h"
#include "tenant.pb-c.h"

static const ProtobufCMessageDescriptor *const DESC[] = {
    &serphona__rpc__v1__envelope__descriptor,
    &serphona__rpc__v1__auth_context__descriptor,
    &serphona__rpc__v1__header__descriptor,
    &serphona__rpc__v1__http_request__descriptor,
    &serphona__rpc__v1__http_response__descriptor,
    &serphona__rpc__v1__typed_message__descriptor,
    &serphona__events__v1__event__descriptor,
    &serphona__interactions__v1__utterance__descriptor,
    &serphona__interactions__v1__survey__descriptor,
    &serphona__interactions__v1__interaction__descriptor,
    &serphona__interactions__v1__interaction__metadata_entry__descriptor,
    &serphona__ping__v1__ping_request__descriptor,
    &serphona__ping__v1__ping_reply__descriptor,
    &serphona__tenant__v1__authenticate_request__descriptor,
    &serphona__tenant__v1__authenticate_reply__descriptor,
    &serphona__tenant__v1__get_principal_request__descriptor,
    &serphona__tenant__v1__principal__descriptor,
    &serphona__tenant__v1__get_tenant_state_request__descriptor,
    &serphona__tenant__v1__tenant_state__descriptor,
    &serphona__tenant__v1__resolve_api_key_request__descriptor,
    &serphona__tenant__v1__resolve_api_key_reply__descriptor,
    &serphona__tenant__v1__get_limits_request__descriptor,
    &serphona__tenant__v1__limits__descriptor,
    &serphona__tenant__v1__list_allowed_origins_request__descriptor,
    &serphona__tenant__v1__allowed_origins__descriptor,
    &serphona__tenant__v1__get_taxonomy_request__descriptor,
    &serphona__tenant__v1__taxonomy__descriptor,
    NULL,
};
static size_t N_DESC; /* counted at start */

/* 1 when m or a message inside it holds unknown fields. */
static int has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields)
        return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_unknown(items[j]))
                    return 1;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub && has_unknown(sub))
                return 1;
        }
    }
    return 0;
}

/* Decodes with protobuf-c's own allocator (what the consumers use), checks
 * the round trip, frees (leaks show here). */
static void roundtrip(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
    if (!m)
        return;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n ? n : 1);
    if (!a || protobuf_c_message_pack(m, a) != n)
        abort();
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, n, a);
    if (!m2 && has_unknown(m)) {
        /* protobuf-c keeps an unknown field it should have refused (field
         * number 0 written as an overlong varint) and re-encodes it in a
         * form its decoder then refuses: a library quirk, and no service
         * re-encodes a message it received. */
        free(a);
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    if (!m2) {
        fprintf(stderr, "%s: its own encoding does not decode\n", d->name);
        abort();
    }
    size_t n2 = protobuf_c_message_get_packed_size(m2);
    uint8_t *b = malloc(n2 ? n2 : 1);
    if (!b || protobuf_c_message_pack(m2, b) != n2)
        abort();
    if (n2 != n || memcmp(a, b, n) != 0) {
        fprintf(stderr, "%s: re-encoding is not stable\n", d->name);
        abort();
    }
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* The forwarded HTTP request as rpc_server.c's build_request makes it. */
static void http_request(const Serphona__Rpc__V1__Envelope *env)
{
    const Serphona__Rpc__V1__HttpRequest *h = env->http_request;
    sp_request_t *req = sp_request_new();
    if (!req)
        abort();
    int rc = 0;
    rc |= sp_request_set_method(req, h->method);
    rc |= sp_request_set_path(req, h->path);
    if (h->query && h->query[0])
        rc |= sp_request_set_query(req, h->query);
    for (size_t i = 0; i < h->n_headers; i++)
        rc |= sp_request_add_header(req, h->headers[i]->name, h->headers[i]->value);
    rc |= sp_request_set_body(req, h->body.data, h->body.len);
    if (h->remote_addr && h->remote_addr[0])
        rc |= sp_request_set_remote_addr(req, h->remote_addr);
    if (env->request_id[0])
        rc |= sp_request_set_id(req, env->request_id);
    if (env->traceparent[0])
        rc |= sp_request_set_traceparent(req, env->traceparent);
    if (env->auth) {
        const char **roles = calloc(env->auth->n_roles + 1, sizeof *roles);
        const char **scopes = calloc(env->auth->n_scopes + 1, sizeof *scopes);
        if (!roles || !scopes)
            abort();
        for (size_t i = 0; i < env->auth->n_roles; i++)
            roles[i] = env->auth->roles[i];
        for (size_t i = 0; i < env->auth->n_scopes; i++)
            scopes[i] = env->auth->scopes[i];
        sp_auth_t auth = {.tenant_id = env->auth->tenant_id[0] ? env->auth->tenant_id : NULL,
                          .subject = env->auth->subject,
                          .roles = roles,
                          .n_roles = env->auth->n_roles,
                          .scopes = scopes,
                          .n_scopes = env->auth->n_scopes};
        rc |= sp_request_set_auth(req, &auth);
        free(roles);
        free(scopes);
        (void)sp_request_has_role(req, "admin");
    }
    sp_request_set_deadline(req, env->deadline_unix_ms);
    if (rc)
        abort(); /* setters fail only when out of memory */
    for (size_t i = 0; i < sp_request_header_count(req); i++) {
        const char *name, *value;
        sp_request_header_at(req, i, &name, &value);
        if (sp_request_header(req, name) == NULL)
            abort(); /* a header is found under its own name */
    }
    cJSON *json = NULL;
    (void)sp_request_json(req, &json);
    sp_request_destroy(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t which = data[0] % N_DESC;
    data++, size--;
    if (which != 0) {
        roundtrip(DESC[which], data, size);
        return 0;
    }
    roundtrip(DESC[0], data, size);
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    Serphona__Rpc__V1__Envelope *env = (Serphona__Rpc__V1__Envelope *)sp_rpc_unpack(
        arena, &serphona__rpc__v1__envelope__descriptor, data, size);
    if (env) {
        (void)sp_rpc_status_name(env->status);
        (void)sp_rpc_status_to_err(env->status);
        if (env->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST)
            http_request(env);
        else if (env->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE)
            for (size_t i = 1; i < N_DESC; i++)
                (void)sp_rpc_unpack(arena, DESC[i], env->message->data.data,
                                    env->message->data.len);
    }
    sp_arena_destroy(&arena);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, uint8_t which, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        abort();
    buf[0] = which;
    protobuf_c_message_pack(m, buf + 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n + 1, f) != n + 1)
        abort();
    fclose(f);
    free(buf);
}

static size_t index_of(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < N_DESC; i++)
        if (DESC[i] == d)
            return i;
    abort();
}

static void write_seeds(const char *dir)
{
    Serphona__Rpc__V1__AuthContext auth = SERPHONA__RPC__V1__AUTH_CONTEXT__INIT;
    char *roles[] = {"admin"}, *scopes[] = {"analytics:read", "ingest:write"};
    auth.tenant_id = "11111111-2222-4333-8444-555555555555";
    auth.subject = "0190b2d4-1111-7000-8000-000000000002";
    auth.n_roles = 1, auth.roles = roles, auth.n_scopes = 2, auth.scopes = scopes;
    Serphona__Rpc__V1__Header h1 = SERPHONA__RPC__V1__HEADER__INIT,
                              h2 = SERPHONA__RPC__V1__HEADER__INIT;
    h1.name = "Content-Type", h1.value = "application/json";
    h2.name = "X-Request-Id", h2.value = "req-1";
    Serphona__Rpc__V1__Header *hs[] = {&h1, &h2};
    Serphona__Rpc__V1__HttpRequest hr = SERPHONA__RPC__V1__HTTP_REQUEST__INIT;
    hr.method = "POST", hr.path = "/v1/interactions", hr.query = "dry_run=true&x=%20y";
    hr.n_headers = 2, hr.headers = hs;
    hr.body.data = (uint8_t *)"{\"items\":[{\"external_id\":\"e1\",\"channel\":\"chat\"}]}";
    hr.body.len = strlen((const char *)hr.body.data);
    hr.remote_addr = "127.0.0.1";
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.request_id = "0123456789abcdef0123456789abcdef";
    env.method = "http";
    env.auth = &auth;
    env.deadline_unix_ms = 1717200005000LL;
    env.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    env.http_request = &hr;
    write_seed(dir, "envelope_http", 0, &env.base);

    Serphona__Tenant__V1__GetPrincipalRequest gp =
        SERPHONA__TENANT__V1__GET_PRINCIPAL_REQUEST__INIT;
    gp.tenant_id = auth.tenant_id, gp.user_id = auth.subject;
    size_t n = protobuf_c_message_get_packed_size(&gp.base);
    Serphona__Rpc__V1__TypedMessage tm = SERPHONA__RPC__V1__TYPED_MESSAGE__INIT;
    tm.data.data = malloc(n + 1);
    tm.data.len = protobuf_c_message_pack(&gp.base, tm.data.data);
    env.method = "tenant.GetPrincipal";
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE;
    env.message = &tm;
    write_seed(dir, "envelope_typed", 0, &env.base);
    write_seed(dir, "get_principal", (uint8_t)index_of(gp.base.descriptor), &gp.base);
    free(tm.data.data);

    Serphona__Rpc__V1__HttpResponse resp = SERPHONA__RPC__V1__HTTP_RESPONSE__INIT;
    resp.status = 404, resp.n_headers = 1, resp.headers = hs;
    resp.body.data = (uint8_t *)"{\"error\":{\"code\":\"route_not_found\"}}";
    resp.body.len = strlen((const char *)resp.body.data);
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE;
    env.http_response = &resp;
    env.status = SERPHONA__RPC__V1__STATUS__STATUS_PERMISSION_DENIED;
    env.error_message = "denied";
    write_seed(dir, "envelope_reply", 0, &env.base);

    Serphona__Interactions__V1__Utterance u = SERPHONA__INTERACTIONS__V1__UTTERANCE__INIT;
    u.speaker = "customer", u.start_ms = -1, u.end_ms = 2000, u.text = "hello";
    Serphona__Interactions__V1__Utterance *up[] = {&u};
    Serphona__Interactions__V1__Interaction__MetadataEntry me =
        SERPHONA__INTERACTIONS__V1__INTERACTION__METADATA_ENTRY__INIT;
    me.key = "queue", me.value = "billing";
    Serphona__Interactions__V1__Interaction__MetadataEntry *mp[] = {&me};
    Serphona__Interactions__V1__Interaction ix = SERPHONA__INTERACTIONS__V1__INTERACTION__INIT;
    ix.interaction_id = auth.subject, ix.tenant_id = auth.tenant_id, ix.channel = "chat";
    ix.occurred_at_unix_ms = 1717200000000LL, ix.n_utterances = 1, ix.utterances = up;
    ix.n_metadata = 1, ix.metadata = mp, ix.rating = 3;
    write_seed(dir, "interaction", (uint8_t)index_of(ix.base.descriptor), &ix.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    while (DESC[N_DESC])
        N_DESC++;
    const char *dir = getenv("FZ_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
