/*
 * passwords.c — PBKDF2 password hashes and the password policy (passwords.h).
 */
#include "passwords.h"

#include "platform/gate.h"

#include "platform/crypto.h"
#include "platform/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define SCHEME   "pbkdf2_sha256"

int tm_password_hash(const char *password, uint32_t iterations, char out[TM_PASSWORD_HASH_MAX])
{
    uint8_t salt[SALT_LEN], dk[HASH_LEN];
    char salt_b64[32], dk_b64[48];
    if (iterations == 0)
        return SP_EINVAL;
    int rc = sp_random_bytes(salt, sizeof(salt));
    if (rc != 0)
        return rc;
    rc = sp_pbkdf2_sha256(password, strlen(password), salt, sizeof(salt), iterations, dk,
                          sizeof(dk));
    if (rc == 0)
        rc = sp_base64url_encode(salt, sizeof(salt), salt_b64, sizeof(salt_b64), NULL);
    if (rc == 0)
        rc = sp_base64url_encode(dk, sizeof(dk), dk_b64, sizeof(dk_b64), NULL);
    if (rc == 0)
        snprintf(out, TM_PASSWORD_HASH_MAX, SCHEME "$%u$%s$%s", (unsigned)iterations, salt_b64,
                 dk_b64);
    memset(dk, 0, sizeof(dk));
    return rc;
}

typedef struct {
    uint32_t iterations;
    uint8_t salt[64];
    size_t salt_len;
    uint8_t hash[HASH_LEN];
} parsed_t;

/* Splits "pbkdf2_sha256$iter$salt$hash"; 0 or SP_EINVAL. */
static int parse(const char *stored, parsed_t *p)
{
    size_t scheme_len = strlen(SCHEME);
    if (!stored || strncmp(stored, SCHEME "$", scheme_len + 1) != 0)
        return SP_EINVAL;
    const char *s = stored + scheme_len + 1;
    char *end = NULL;
    unsigned long iter = strtoul(s, &end, 10);
    if (end == s || *end != '$' || iter == 0 || iter > 1000000000UL)
        return SP_EINVAL;
    p->iterations = (uint32_t)iter;
    const char *salt = end + 1;
    const char *dollar = strchr(salt, '$');
    if (!dollar)
        return SP_EINVAL;
    size_t hash_len = 0;
    if (sp_base64url_decode(salt, (size_t)(dollar - salt), p->salt, sizeof(p->salt),
                            &p->salt_len) != 0 ||
        p->salt_len == 0 ||
        sp_base64url_decode(dollar + 1, strlen(dollar + 1), p->hash, sizeof(p->hash), &hash_len) !=
            0 ||
        hash_len != HASH_LEN)
        return SP_EINVAL;
    return SP_OK;
}

int tm_password_verify(const char *password, const char *stored)
{
    parsed_t p;
    uint8_t dk[HASH_LEN];
    if (!password || parse(stored, &p) != 0)
        return 0;
    if (sp_pbkdf2_sha256(password, strlen(password), p.salt, p.salt_len, p.iterations, dk,
                         sizeof(dk)) != 0)
        return 0;
    int ok = sp_const_time_eq(dk, p.hash, sizeof(dk));
    memset(dk, 0, sizeof(dk));
    return ok;
}

void tm_password_burn(const char *password, uint32_t iterations)
{
    static const uint8_t salt[SALT_LEN] = "serphona-burn-1";
    uint8_t dk[HASH_LEN];
    const char *pw = password ? password : "";
    (void)sp_pbkdf2_sha256(pw, strlen(pw), salt, sizeof(salt), iterations ? iterations : 1, dk,
                           sizeof(dk));
    /* Keeps the derivation from being optimised away. */
    __asm__ volatile("" : : "r"(dk) : "memory");
}

int tm_password_needs_rehash(const char *stored, uint32_t iterations)
{
    parsed_t p;
    return parse(stored, &p) != 0 || p.iterations < iterations;
}

/* Counts UTF-8 code points (continuation bytes are not counted). */
static size_t code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Case-insensitive (ASCII) search of needle[0..nlen) in hay. */
static int contains_ci(const char *hay, const char *needle, size_t nlen)
{
    size_t hlen = strlen(hay);
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (strncasecmp(hay + i, needle, nlen) == 0)
            return 1;
    return 0;
}

const char *tm_password_policy(const char *password, const char *email, const char **message)
{
    if (!password || code_points(password) < 12) {
        *message = "the password must have at least 12 characters";
        return "password_too_short";
    }
    if (strlen(password) > 256) {
        *message = "the password must have at most 256 bytes";
        return "password_too_long";
    }
    const char *at = email ? strchr(email, '@') : NULL;
    size_t local = at ? (size_t)(at - email) : 0;
    if (local >= 3 && contains_ci(password, email, local)) {
        *message = "the password must not contain the email address's name part";
        return "password_contains_email";
    }
    *message = NULL;
    return NULL;
}

/* ---- the hashing gate --------------------------------------------------------- */

static sp_gate_t hash_gate = SP_GATE_INIT(0);

void tm_password_gate_init(int slots)
{
    sp_gate_init(&hash_gate, slots);
}

int tm_password_gate_enter(void)
{
    return sp_gate_enter(&hash_gate);
}

void tm_password_gate_leave(void)
{
    sp_gate_leave(&hash_gate);
}
