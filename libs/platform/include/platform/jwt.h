/*
 * jwt.h — JSON Web Tokens signed with ES256 (ECDSA over P-256 with SHA-256,
 * RFC 7515 / RFC 7518 section 3.4), over mbedTLS.
 *
 * A key set holds P-256 keys, each with a key id (kid): private keys sign and
 * verify, public keys only verify. Rotation: the newest private key signs;
 * older keys stay in the set, verify-only in effect, until every token they
 * signed has expired, then the operator removes them. The set exports the
 * public part of every key as a JWKS document (RFC 7517) so that anyone can
 * verify our tokens.
 *
 * Tokens are compact JWS: base64url(header) "." base64url(claims) "."
 * base64url(r || s), the signature being the raw 64-byte concatenation of the
 * two 32-byte big-endian integers (RFC 7518 3.4), not DER. The header is
 * {"alg":"ES256","typ":"JWT","kid":...}.
 *
 * Verification accepts nothing but ES256 under a kid of the set: "none", every
 * HMAC algorithm (so a public key can never be used as an HMAC secret, the
 * "HS/ES confusion"), RSA, and a "crit" header are refused before any
 * signature work. Then the signature, then the claims: iss, aud, sub,
 * tenant_id, roles, exp, iat and jti must all be present with the right type;
 * iss and aud must be the configured ones; exp must be in the future and nbf
 * (when present) and iat not in the future, each within a small leeway.
 *
 * ECDSA verification costs about a millisecond, so the set remembers tokens
 * whose header and signature it has verified (a few thousand, kept byte for
 * byte in a fixed table); a token presented again for its lifetime skips
 * those checks but never the claim checks. Only an exact byte-for-byte
 * repeat of a token that checked out can hit.
 *
 * Threads: build the set (add_* / load_dir) on one thread before sharing it;
 * afterwards sp_jwt_sign, sp_jwt_verify and sp_jwt_keyset_jwks may run from any
 * number of threads at once.
 */
#ifndef SP_JWT_H
#define SP_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "platform/arena.h"

typedef struct sp_jwt_keyset sp_jwt_keyset_t;

/* The kid of a key derived from the key itself: the RFC 7638 JWK thumbprint
 * (SHA-256, base64url), 43 characters plus the NUL. */
#define SP_JWT_KID_MAX 65

/* An empty key set; NULL when out of memory. Free with sp_jwt_keyset_destroy. */
sp_jwt_keyset_t *sp_jwt_keyset_new(void);

/* Frees the set and wipes its private keys. Accepts NULL; sets *self_p NULL. */
void sp_jwt_keyset_destroy(sp_jwt_keyset_t **self_p);

/* Adds one key from PEM text of len bytes (no NUL needed): a private key, SEC1
 * ("EC PRIVATE KEY") or PKCS#8 ("PRIVATE KEY", unencrypted), or a public key
 * ("PUBLIC KEY"). The curve must be P-256. kid NULL or "" selects the RFC 7638
 * thumbprint; an explicit kid is 1..64 characters of [A-Za-z0-9._-]. A
 * private key added becomes the signing key (so add oldest first). Returns 0;
 * SP_EINVAL for text that is not such a key or a bad kid; SP_EEXISTS when the
 * kid is already in the set; SP_ENOMEM. */
int sp_jwt_keyset_add_pem(sp_jwt_keyset_t *ks, const char *pem, size_t len, const char *kid);

/* Adds every PEM block found in text (several keys concatenated, oldest
 * first), each with its thumbprint as kid. Returns 0 with at least one key
 * added; SP_ENOTFOUND when text holds no PEM block; otherwise the first error
 * of sp_jwt_keyset_add_pem (keys before it stay added). */
int sp_jwt_keyset_add_pem_bundle(sp_jwt_keyset_t *ks, const char *text);

/* Adds every regular file named *.pem in dir, in byte order of the file
 * names, each file holding one or more PEM blocks, so files named to sort
 * oldest first ("20250101T120000Z.pem") make the newest private key the
 * signing key. Returns 0; SP_EIO when dir cannot be read or a file cannot;
 * SP_ENOTFOUND when it has no *.pem file; or the error of a bad file (the
 * file name is logged, never its content). */
int sp_jwt_keyset_load_dir(sp_jwt_keyset_t *ks, const char *dir);

/* Number of keys in the set. */
size_t sp_jwt_keyset_count(const sp_jwt_keyset_t *ks);

/* The kid of the signing key (owned by the set), or NULL when the set has no
 * private key. */
const char *sp_jwt_keyset_signing_kid(const sp_jwt_keyset_t *ks);

/* The JWKS document of every key's public part, {"keys":[{"kty":"EC",
 * "crv":"P-256","x":...,"y":...,"kid":...,"alg":"ES256","use":"sig"},...]},
 * as a malloc'd NUL-terminated string the caller frees; NULL when out of
 * memory. Private parts are never exported. */
char *sp_jwt_keyset_jwks(const sp_jwt_keyset_t *ks);

/* The claims of an access token. Strings are borrowed (sign) or allocated
 * from the verify call's arena. */
typedef struct {
    const char *iss;
    const char *aud;
    const char *sub;       /* the user (or key) id */
    const char *tenant_id; /* "" for a platform-level caller */
    const char *jti;       /* unique token id */
    const char *sid;       /* optional session (refresh family) id; NULL = absent */
    const char *const *roles;
    size_t n_roles;
    int64_t iat, exp; /* Unix seconds */
    int64_t nbf;      /* Unix seconds; 0 = absent */
} sp_jwt_claims_t;

/* Signs claims with the signing key into a compact JWS, *out malloc'd (the
 * caller frees). iss, aud, sub, tenant_id and jti must be non-NULL (sub and
 * jti non-empty), exp > iat. Returns 0; SP_EINVAL for missing claims or a set
 * without a private key; SP_ENOMEM; SP_EINTERNAL when mbedTLS fails (logged). */
int sp_jwt_sign(sp_jwt_keyset_t *ks, const sp_jwt_claims_t *claims, char **out);

/* Why a token was refused. */
typedef enum {
    SP_JWT_VALID = 0,
    SP_JWT_MALFORMED,     /* not three base64url segments of JSON objects, too long */
    SP_JWT_BAD_ALG,       /* alg is not ES256 (none, HS256, RS256 ...) or crit is set */
    SP_JWT_UNKNOWN_KID,   /* no kid, or a kid the set does not hold */
    SP_JWT_BAD_SIGNATURE, /* not 64 bytes, or does not verify */
    SP_JWT_MISSING_CLAIM, /* a required claim is absent or has the wrong type */
    SP_JWT_BAD_ISSUER,
    SP_JWT_BAD_AUDIENCE,
    SP_JWT_EXPIRED,       /* now >= exp + leeway */
    SP_JWT_NOT_YET_VALID, /* nbf or iat after now + leeway */
} sp_jwt_result_t;

/* A static snake_case name of a result ("expired", "bad_alg" ...). */
const char *sp_jwt_result_name(sp_jwt_result_t r);

typedef struct {
    const char *issuer;   /* iss must equal it */
    const char *audience; /* aud (a string, or an array) must equal / contain it */
    int leeway_s;         /* clock skew allowed on exp, nbf and iat; >= 0 */
    int64_t now;          /* Unix seconds; 0 = the system clock */
} sp_jwt_verify_opts_t;

/* Verifies the len bytes of token against ks and opts. Returns 0 with
 * *claims filled (strings and roles allocated from arena) and *result
 * SP_JWT_VALID; SP_EDENIED with *result saying why the token is refused
 * (claims is then unspecified); SP_EINVAL for NULL arguments; SP_ENOMEM.
 * result may be NULL. */
int sp_jwt_verify(sp_jwt_keyset_t *ks, const char *token, size_t len,
                  const sp_jwt_verify_opts_t *opts, sp_arena_t *arena, sp_jwt_claims_t *claims,
                  sp_jwt_result_t *result);

#endif
