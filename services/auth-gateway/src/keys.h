/*
 * keys.h — the gateway's signing keys: loading with rotation, and the JWKS
 * route.
 */
#ifndef GW_KEYS_H
#define GW_KEYS_H

#include "gateway.h"

/* Loads gw->keys from SERPHONA_JWT_KEYS_DIR (every *.pem, file names sorting
 * oldest first, the newest private key signs) or from SERPHONA_JWT_PRIVATE_KEYS
 * (PEM text of one or more keys, oldest first), and renders gw->jwks. A
 * missing or bad key source is recorded as a configuration error (the service
 * then refuses to start). Returns 0, or SP_ENOMEM. */
int gw_keys_load(gw_t *gw, sp_config_t *cfg);

/* GET /.well-known/jwks.json: the public keys, cacheable for five minutes
 * (a new key is published before it signs only if the operator adds it as a
 * public key first; see README). Returns 0 or SP_E*. */
int gw_keys_register(gw_t *gw);

#endif
