/*
 * keys.c — signing keys and the JWKS route (keys.h).
 */
#include "keys.h"

#include "platform/error.h"
#include "platform/log.h"

#include <stdlib.h>
#include <string.h>

int gw_keys_load(gw_t *gw, sp_config_t *cfg)
{
    const char *dir = sp_config_str(
        cfg, "SERPHONA_JWT_KEYS_DIR", NULL,
        "Directory of P-256 keys (*.pem) for access tokens. File names must sort oldest first; "
        "the newest private key signs, older ones (private or public) only verify until their "
        "tokens have expired.");
    const char *pems = sp_config_str(
        cfg, "SERPHONA_JWT_PRIVATE_KEYS", NULL,
        "Alternative to SERPHONA_JWT_KEYS_DIR: PEM text of one or more P-256 keys, oldest first; "
        "the last private key signs.");
    if (!(gw->keys = sp_jwt_keyset_new()))
        return SP_ENOMEM;
    if (dir && pems) {
        sp_config_add_error(cfg, "SERPHONA_JWT_KEYS_DIR and SERPHONA_JWT_PRIVATE_KEYS are both "
                                 "set; use one");
        return SP_OK;
    }
    int rc;
    if (dir) {
        rc = sp_jwt_keyset_load_dir(gw->keys, dir);
        if (rc == SP_ENOMEM)
            return rc;
        if (rc != SP_OK) {
            sp_config_add_error(cfg, "SERPHONA_JWT_KEYS_DIR: cannot load keys from %s (%s)", dir,
                                rc == SP_ENOTFOUND ? "no *.pem file" : sp_strerror(rc));
            return SP_OK;
        }
    } else if (pems) {
        rc = sp_jwt_keyset_add_pem_bundle(gw->keys, pems);
        if (rc == SP_ENOMEM)
            return rc;
        if (rc != SP_OK) {
            sp_config_add_error(cfg, "SERPHONA_JWT_PRIVATE_KEYS: not P-256 keys in PEM (%s)",
                                rc == SP_ENOTFOUND ? "no PEM block" : sp_strerror(rc));
            return SP_OK;
        }
    } else {
        sp_config_add_error(cfg, "SERPHONA_JWT_KEYS_DIR or SERPHONA_JWT_PRIVATE_KEYS: one is "
                                 "required (the keys that sign access tokens)");
        return SP_OK;
    }
    if (!sp_jwt_keyset_signing_kid(gw->keys)) {
        sp_config_add_error(cfg,
                            "%s: holds public keys only; the newest key must be a private "
                            "key",
                            dir ? "SERPHONA_JWT_KEYS_DIR" : "SERPHONA_JWT_PRIVATE_KEYS");
        return SP_OK;
    }
    if (!(gw->jwks = sp_jwt_keyset_jwks(gw->keys)))
        return SP_ENOMEM;
    sp_log_info("jwt: %zu key(s) loaded, signing with kid %s", sp_jwt_keyset_count(gw->keys),
                sp_jwt_keyset_signing_kid(gw->keys));
    return SP_OK;
}

static sp_handler_result_t jwks_get(sp_request_t *req, void *ud)
{
    const gw_t *gw = ud;
    sp_response_t *resp = sp_request_response(req);
    if (!gw->jwks) {
        sp_response_error(resp, 503, "keys_unavailable", "no signing keys are loaded");
        return SP_HANDLER_DONE;
    }
    if (sp_response_set_body(resp, gw->jwks, strlen(gw->jwks), "application/json") ||
        sp_response_set_header(resp, "Cache-Control", "public, max-age=300"))
        sp_response_error(resp, 500, "internal", "out of memory");
    return SP_HANDLER_DONE;
}

int gw_keys_register(gw_t *gw)
{
    return sp_router_add(sp_service_router(gw->svc), "GET", "/.well-known/jwks.json", NULL,
                         jwks_get, gw);
}
