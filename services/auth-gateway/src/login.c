/*
 * login.c — login, refresh, logout and me (login.h).
 */
#include "login.h"
#include "cors.h"
#include "lockout.h"
#include "ratelimit.h"
#include "sessions.h"
#include "tenancy.h"
#include "tokens.h"

#include "platform/error.h"
#include "platform/gate.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/rpc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define COOKIE_NAME "sp_refresh"
#define COOKIE_PATH "/v1/auth"

static sp_counter_t *m_logins, *m_refreshes;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_logins =
        sp_counter_new("serphona_gateway_logins_total", "Login attempts by result.", 1, "result");
    m_refreshes = sp_counter_new("serphona_gateway_refreshes_total",
                                 "Refresh-token presentations by result.", 1, "result");
}

static void count(sp_counter_t **c, const char *result)
{
    pthread_once(&metrics_once, metrics_init);
    sp_counter_add(*c, 1, result);
}

static void oom(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
}

static void unavailable(sp_request_t *req)
{
    sp_response_t *resp = sp_request_response(req);
    sp_response_error(resp, 503, "auth_unavailable",
                      "the identity service cannot be reached; retry shortly");
    sp_response_set_header(resp, "Retry-After", "1");
}

/* Logins in flight in this gateway. Each holds an HTTP thread while
 * tenant-manager hashes the password (the call is synchronous), so past
 * SERPHONA_LOGIN_MAX_IN_FLIGHT they are shed with 503 + Retry-After and the
 * other threads stay free for everything else. Set once at registration. */
static sp_gate_t s_logins = SP_GATE_INIT(2);

static void shed_login(sp_request_t *req)
{
    count(&m_logins, "shed");
    sp_response_t *resp = sp_request_response(req);
    sp_response_error(resp, 503, "login_busy", "too many logins are being checked; retry shortly");
    sp_response_set_header(resp, "Retry-After", "1");
}

/* A string member of a JSON object: NULL when absent or null; *bad when it is
 * present with another type or longer than max. */
static const char *member(const cJSON *obj, const char *name, size_t max, int *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
        *bad = 1;
        return NULL;
    }
    return v->valuestring;
}

/* The value of cookie name in the Cookie header, arena-owned, or NULL. */
static const char *cookie(sp_request_t *req, const char *name)
{
    const char *h = sp_request_header(req, "Cookie");
    size_t nlen = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=')
            return sp_arena_strndup(sp_request_arena(req), h + nlen + 1, len - nlen - 1);
        h = end;
    }
    return NULL;
}

static void set_refresh_cookie(const gw_t *gw, sp_response_t *resp, sp_arena_t *arena,
                               const char *token)
{
    char *v = token ? sp_arena_printf(arena,
                                      COOKIE_NAME "=%s; Path=" COOKIE_PATH
                                                  "; Max-Age=%d; HttpOnly; Secure; SameSite=Strict",
                                      token, gw->refresh_ttl_s)
                    : sp_arena_strdup(arena, COOKIE_NAME "=; Path=" COOKIE_PATH
                                                         "; Max-Age=0; HttpOnly; Secure; "
                                                         "SameSite=Strict");
    if (v)
        sp_response_set_header(resp, "Set-Cookie", v);
}

/* The answer of a login or a refresh: a fresh access token for the user,
 * and the session's next refresh token (body or cookie). */
static void answer_tokens(const gw_t *gw, sp_request_t *req, const char *tenant_id,
                          const char *user_id, const char *email, char *const *roles,
                          size_t n_roles, const char *sid, const char *refresh)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    const char *access = NULL;
    int64_t exp = 0;
    int rc = gw_token_issue(gw, arena, tenant_id, user_id, roles, n_roles, sid, &access, &exp);
    if (rc != 0) {
        sp_log_error("cannot issue an access token: %s", sp_strerror(rc));
        sp_response_error(resp, 500, "internal", "cannot issue a token");
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *user = cJSON_CreateObject();
    cJSON *rl = cJSON_CreateArray();
    int ok = body && user && rl && cJSON_AddStringToObject(body, "access_token", access) &&
             cJSON_AddStringToObject(body, "token_type", "Bearer") &&
             cJSON_AddNumberToObject(body, "expires_in", gw->access_ttl_s) &&
             cJSON_AddNumberToObject(body, "refresh_expires_in", gw->refresh_ttl_s) &&
             (gw->refresh_cookie || cJSON_AddStringToObject(body, "refresh_token", refresh)) &&
             cJSON_AddStringToObject(user, "id", user_id) &&
             (*tenant_id ? cJSON_AddStringToObject(user, "tenant_id", tenant_id) != NULL
                         : cJSON_AddNullToObject(user, "tenant_id") != NULL) &&
             (!email || cJSON_AddStringToObject(user, "email", email));
    for (size_t i = 0; ok && i < n_roles; i++)
        ok = cJSON_AddItemToArray(rl, cJSON_CreateString(roles[i]));
    if (ok) {
        cJSON_AddItemToObject(user, "roles", rl);
        rl = NULL;
        cJSON_AddItemToObject(body, "user", user);
        user = NULL;
        /* Tokens must never sit in a cache (RFC 6749 section 5.1). */
        sp_response_set_header(resp, "Cache-Control", "no-store");
        sp_response_set_header(resp, "Pragma", "no-cache");
        if (gw->refresh_cookie)
            set_refresh_cookie(gw, resp, arena, refresh);
        sp_response_json(resp, 200, body);
    } else {
        oom(req);
    }
    cJSON_Delete(rl);
    cJSON_Delete(user);
    cJSON_Delete(body);
}

/* ---- POST /v1/auth/login ------------------------------------------------------ */

static sp_handler_result_t login_checked(const gw_t *gw, sp_request_t *req, const char *tenant,
                                         const char *email, const char *password);

static sp_handler_result_t login(sp_request_t *req, void *ud)
{
    const gw_t *gw = ud;
    sp_response_t *resp = sp_request_response(req);
    cJSON *json = NULL;
    if (sp_request_json(req, &json) != 0)
        return SP_HANDLER_DONE;
    int bad = !cJSON_IsObject(json);
    const char *tenant = bad ? NULL : member(json, "tenant", 63, &bad);
    const char *email = bad ? NULL : member(json, "email", 320, &bad);
    const char *password = bad ? NULL : member(json, "password", 1024, &bad);
    if (bad || !email || !*email || !password || !*password) {
        count(&m_logins, "invalid_request");
        sp_response_error(resp, 400, "invalid_request",
                          "expected {\"tenant\": slug (empty for operators), \"email\": string, "
                          "\"password\": string}");
        return SP_HANDLER_DONE;
    }
    if (!tenant)
        tenant = "";
    gw_cors_allow_for_slug(gw, req, tenant);

    if (!sp_gate_enter(&s_logins)) {
        shed_login(req);
        return SP_HANDLER_DONE;
    }
    sp_handler_result_t done = login_checked(gw, req, tenant, email, password);
    sp_gate_leave(&s_logins);
    return done;
}

/* The login once it holds a slot: lockout claim, tenant-manager's verdict,
 * tokens. */
static sp_handler_result_t login_checked(const gw_t *gw, sp_request_t *req, const char *tenant,
                                         const char *email, const char *password)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    const char *ip = gw_client_ip(gw, req);
    const char *account = gw_lockout_account(arena, tenant, email);
    if (!account || !ip) {
        oom(req);
        return SP_HANDLER_DONE;
    }
    int retry = 0;
    if (gw_lockout_claim(gw, arena, account, ip, &retry) != 0) {
        count(&m_logins, "locked");
        char text[16];
        snprintf(text, sizeof text, "%d", retry);
        sp_response_error(resp, 429, "too_many_login_attempts",
                          "too many failed logins; retry in %d s", retry);
        sp_response_set_header(resp, "Retry-After", text);
        return SP_HANDLER_DONE;
    }

    Serphona__Tenant__V1__AuthenticateRequest in = SERPHONA__TENANT__V1__AUTHENTICATE_REQUEST__INIT;
    in.tenant_slug = (char *)tenant;
    in.email = (char *)email;
    in.password = (char *)password;
    in.remote_addr = (char *)ip;
    ProtobufCMessage *msg = NULL;
    int rc = sp_rpc_client_call_typed(gw->tm, "tenant-manager.Authenticate", NULL, &in.base,
                                      &serphona__tenant__v1__authenticate_reply__descriptor,
                                      gw->rpc_timeout_ms, &msg);
    if (rc != 0) {
        sp_log_warn("tenant-manager.Authenticate failed: %s", sp_strerror(rc));
        gw_lockout_release(gw, arena, account, ip);
        if (rc == SP_EUNAVAILABLE) { /* its hashing gate is full */
            shed_login(req);
            return SP_HANDLER_DONE;
        }
        count(&m_logins, "unavailable");
        unavailable(req);
        return SP_HANDLER_DONE;
    }
    Serphona__Tenant__V1__AuthenticateReply *r = (Serphona__Tenant__V1__AuthenticateReply *)msg;
    switch (r->result) {
    case SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__OK: {
        gw_lockout_succeeded(gw, arena, account, ip);
        const char *sid = NULL, *refresh = NULL;
        rc = gw_session_create(gw, arena, r->tenant_id, r->user_id, &sid, &refresh);
        if (rc != 0) {
            sp_log_error("cannot open a session: %s", sp_strerror(rc));
            count(&m_logins, "unavailable");
            if (rc == SP_ENOMEM)
                oom(req);
            else
                unavailable(req);
            break;
        }
        count(&m_logins, "ok");
        answer_tokens(gw, req, r->tenant_id, r->user_id, *r->email ? r->email : email, r->roles,
                      r->n_roles, sid, refresh);
        break;
    }
    case SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__TENANT_SUSPENDED:
        gw_lockout_succeeded(gw, arena, account, ip);
        count(&m_logins, "tenant_suspended");
        sp_response_error(resp, 403, "tenant_suspended", "the tenant is suspended");
        break;
    case SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__USER_DISABLED:
        gw_lockout_succeeded(gw, arena, account, ip);
        count(&m_logins, "user_disabled");
        sp_response_error(resp, 403, "user_disabled", "the user is disabled");
        break;
    default: /* the claim already counted this failure */
        count(&m_logins, "invalid_credentials");
        gw_unauthorized(req, "invalid_credentials", "the tenant, email or password is wrong");
        break;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return SP_HANDLER_DONE;
}

/* The refresh token of a refresh or logout: the JSON body's refresh_token,
 * else the cookie. *bad when the body is not what it should be. */
static const char *presented_refresh(sp_request_t *req, int *bad)
{
    size_t len = 0;
    sp_request_body(req, &len);
    if (len) {
        cJSON *json = NULL;
        if (sp_request_json(req, &json) != 0) {
            *bad = 1; /* the response holds invalid_json */
            return NULL;
        }
        int wrong = !cJSON_IsObject(json);
        const char *t = wrong ? NULL : member(json, "refresh_token", 256, &wrong);
        if (wrong) {
            *bad = 1;
            sp_response_error(sp_request_response(req), 400, "invalid_request",
                              "expected {\"refresh_token\": string}");
            return NULL;
        }
        if (t)
            return t;
    }
    return cookie(req, COOKIE_NAME);
}

/* ---- POST /v1/auth/refresh ----------------------------------------------------- */

static sp_handler_result_t refresh(sp_request_t *req, void *ud)
{
    const gw_t *gw = ud;
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    int bad = 0;
    const char *token = presented_refresh(req, &bad);
    if (bad)
        return SP_HANDLER_DONE;
    if (!token) {
        sp_response_error(resp, 400, "invalid_request", "refresh_token is required");
        return SP_HANDLER_DONE;
    }
    gw_refresh_result_t result;
    gw_session_t s;
    const char *next = NULL;
    int rc = gw_session_rotate(gw, arena, token, &result, &s, &next);
    if (rc != 0) {
        count(&m_refreshes, "unavailable");
        rc == SP_ENOMEM ? oom(req) : unavailable(req);
        return SP_HANDLER_DONE;
    }
    if (result != GW_REFRESH_INVALID)
        gw_cors_allow_for_tenant(gw, req, s.tenant_id);
    if (result == GW_REFRESH_REUSED) {
        sp_log_warn("refresh token reused: session %s revoked", s.sid);
        count(&m_refreshes, "reused");
        if (gw->refresh_cookie)
            set_refresh_cookie(gw, resp, arena, NULL);
        gw_unauthorized(req, "refresh_token_reused",
                        "this refresh token was already used; the session has been revoked");
        return SP_HANDLER_DONE;
    }
    if (result != GW_REFRESH_OK) {
        count(&m_refreshes, "invalid");
        gw_unauthorized(req, "invalid_refresh_token", "the refresh token is not valid");
        return SP_HANDLER_DONE;
    }
    /* The user and tenant must still be active; the roles are today's. */
    gw_lookup_req_t q = {.tenant_id = s.tenant_id, .user_id = s.user_id, .want_tenant = 1};
    gw_lookup_t found;
    if (gw_lookup(gw, arena, &q, &found) != 0) {
        count(&m_refreshes, "unavailable");
        unavailable(req);
        return SP_HANDLER_DONE;
    }
    if (gw_refuse_inactive(req, found.principal) || gw_refuse_inactive_tenant(req, found.tenant)) {
        gw_session_revoke(gw, s.sid);
        count(&m_refreshes, "inactive");
        return SP_HANDLER_DONE;
    }
    count(&m_refreshes, "ok");
    answer_tokens(gw, req, s.tenant_id, s.user_id,
                  *found.principal->email ? found.principal->email : NULL, found.principal->roles,
                  found.principal->n_roles, s.sid, next);
    return SP_HANDLER_DONE;
}

/* ---- POST /v1/auth/logout ---------------------------------------------------------- */

static sp_handler_result_t logout(sp_request_t *req, void *ud)
{
    const gw_t *gw = ud;
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    int bad = 0;
    const char *token = presented_refresh(req, &bad);
    if (bad)
        return SP_HANDLER_DONE;
    const char *sid = NULL, *tenant_id = NULL;
    if (token) {
        int rc = gw_session_of(gw, arena, token, &sid, &tenant_id);
        if (rc == SP_ENOTFOUND) {
            gw_unauthorized(req, "invalid_refresh_token", "the refresh token is not valid");
            return SP_HANDLER_DONE;
        }
        if (rc != 0) {
            rc == SP_ENOMEM ? oom(req) : unavailable(req);
            return SP_HANDLER_DONE;
        }
    } else {
        gw_caller_t caller;
        gw_auth_result_t a = gw_authenticate(gw, req, &caller);
        if (a == GW_AUTH_REFUSED)
            return SP_HANDLER_DONE;
        if (a == GW_AUTH_NONE || !caller.sid) {
            gw_unauthorized(req, "unauthenticated",
                            "present the refresh token, or the access token of the session");
            return SP_HANDLER_DONE;
        }
        sid = caller.sid;
        tenant_id = caller.auth.tenant_id;
    }
    gw_cors_allow_for_tenant(gw, req, tenant_id);
    if (gw_session_revoke(gw, sid) != 0) {
        unavailable(req);
        return SP_HANDLER_DONE;
    }
    if (gw->refresh_cookie)
        set_refresh_cookie(gw, resp, arena, NULL);
    sp_response_set_status(resp, 204);
    return SP_HANDLER_DONE;
}

/* ---- GET /v1/auth/me ------------------------------------------------------------------- */

static sp_handler_result_t me(sp_request_t *req, void *ud)
{
    const gw_t *gw = ud;
    sp_response_t *resp = sp_request_response(req);
    gw_caller_t caller;
    gw_auth_result_t a = gw_authenticate(gw, req, &caller);
    if (a == GW_AUTH_NONE)
        gw_unauthorized(req, "unauthenticated", "authentication is required");
    if (a != GW_AUTH_OK)
        return SP_HANDLER_DONE;
    if (caller.tenant)
        gw_cors_allow_if_listed(gw, req, caller.tenant->allowed_origins,
                                caller.tenant->n_allowed_origins);
    if (gw_ratelimit_apply(gw, req, caller.auth.tenant_id, caller.caller_key, caller.limits) != 0)
        return SP_HANDLER_DONE;
    if (!caller.principal) {
        sp_response_error(resp, 403, "forbidden", "API keys have no user to describe");
        return SP_HANDLER_DONE;
    }
    const gw_principal_t *p = caller.principal;
    cJSON *body = cJSON_CreateObject();
    cJSON *roles = cJSON_CreateArray();
    cJSON *session = cJSON_CreateObject();
    int ok = body && roles && session && cJSON_AddStringToObject(body, "user_id", p->user_id) &&
             (caller.auth.tenant_id
                  ? cJSON_AddStringToObject(body, "tenant_id", caller.auth.tenant_id) != NULL
                  : cJSON_AddNullToObject(body, "tenant_id") != NULL) &&
             (*p->tenant_slug ? cJSON_AddStringToObject(body, "tenant_slug", p->tenant_slug) != NULL
                              : cJSON_AddNullToObject(body, "tenant_slug") != NULL) &&
             cJSON_AddStringToObject(body, "email", p->email) &&
             cJSON_AddStringToObject(body, "display_name", p->display_name) &&
             cJSON_AddNumberToObject(session, "issued_at", (double)caller.iat) &&
             cJSON_AddNumberToObject(session, "expires_at", (double)caller.exp);
    if (ok && caller.sid)
        ok = cJSON_AddStringToObject(session, "id", caller.sid) != NULL;
    for (size_t i = 0; ok && i < p->n_roles; i++)
        ok = cJSON_AddItemToArray(roles, cJSON_CreateString(p->roles[i]));
    if (ok) {
        cJSON_AddItemToObject(body, "roles", roles);
        cJSON_AddItemToObject(body, "session", session);
        roles = session = NULL;
        sp_response_set_header(resp, "Cache-Control", "no-store");
        sp_response_json(resp, 200, body);
    } else {
        oom(req);
    }
    cJSON_Delete(roles);
    cJSON_Delete(session);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

int gw_login_register(gw_t *gw)
{
    sp_gate_init(
        &s_logins,
        sp_config_int(
            sp_service_config(gw->svc), "SERPHONA_LOGIN_MAX_IN_FLIGHT", 2, 1, 1024,
            "Logins checked at once by this gateway; more are answered 503 login_busy with "
            "Retry-After (each holds an HTTP thread, so keep it below SERPHONA_HTTP_THREADS)."));
    sp_router_t *r = sp_service_router(gw->svc);
    int rc = sp_router_add(r, "POST", "/v1/auth/login", NULL, login, gw);
    if (!rc)
        rc = sp_router_add(r, "POST", "/v1/auth/refresh", NULL, refresh, gw);
    if (!rc)
        rc = sp_router_add(r, "POST", "/v1/auth/logout", NULL, logout, gw);
    if (!rc)
        rc = sp_router_add(r, "GET", "/v1/auth/me", NULL, me, gw);
    return rc;
}
