#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- hashing -------------------------------------------------------------- */

void sp_sha256(const void *data, size_t len, uint8_t out[SP_SHA256_LEN])
{
    /* The software SHA-256 of mbedTLS has no failure path; the return value
     * only exists for hardware accelerators, which this build has none of. */
    (void)mbedtls_sha256_ret(data, len, out, 0);
}

/* HMAC is built on the SHA-256 context directly rather than on mbedtls_md,
 * whose one-shot HMAC allocates and so could fail. */
void sp_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    uint8_t out[SP_SHA256_LEN])
{
    enum { BLOCK = 64 };
    uint8_t k[BLOCK] = {0}, pad[BLOCK], inner[SP_SHA256_LEN];
    if (klen > BLOCK)
        sp_sha256(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);

    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    (void)mbedtls_sha256_starts_ret(&ctx, 0);
    (void)mbedtls_sha256_update_ret(&ctx, pad, BLOCK);
    (void)mbedtls_sha256_update_ret(&ctx, data, len);
    (void)mbedtls_sha256_finish_ret(&ctx, inner);

    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    (void)mbedtls_sha256_starts_ret(&ctx, 0);
    (void)mbedtls_sha256_update_ret(&ctx, pad, BLOCK);
    (void)mbedtls_sha256_update_ret(&ctx, inner, sizeof(inner));
    (void)mbedtls_sha256_finish_ret(&ctx, out);
    mbedtls_sha256_free(&ctx);

    /* The padded key is as secret as the key. */
    mbedtls_platform_zeroize(k, sizeof(k));
    mbedtls_platform_zeroize(pad, sizeof(pad));
    mbedtls_platform_zeroize(inner, sizeof(inner));
}

/* PBKDF2-HMAC-SHA-256. The inner and outer padded keys are absorbed once
 * into two SHA-256 contexts; every HMAC of the loop then clones them, which
 * halves the work of a naive HMAC and matters at 210,000+ rounds. */
int sp_pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                     uint32_t iterations, uint8_t *out, size_t outlen)
{
    enum { BLOCK = 64 };
    if (iterations == 0 || outlen == 0 || !out || (plen && !password) || (slen && !salt) ||
        (uint64_t)outlen > (uint64_t)UINT32_MAX * SP_SHA256_LEN)
        return SP_EINVAL;

    uint8_t k[BLOCK] = {0}, pad[BLOCK];
    if (plen > BLOCK)
        sp_sha256(password, plen, k);
    else if (plen)
        memcpy(k, password, plen);

    mbedtls_sha256_context ipad, opad, ctx;
    mbedtls_sha256_init(&ipad);
    mbedtls_sha256_init(&opad);
    mbedtls_sha256_init(&ctx);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    (void)mbedtls_sha256_starts_ret(&ipad, 0);
    (void)mbedtls_sha256_update_ret(&ipad, pad, BLOCK);
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    (void)mbedtls_sha256_starts_ret(&opad, 0);
    (void)mbedtls_sha256_update_ret(&opad, pad, BLOCK);

    uint8_t u[SP_SHA256_LEN], t[SP_SHA256_LEN];
    for (uint32_t block = 1; outlen > 0; block++) {
        uint8_t be[4] = {(uint8_t)(block >> 24), (uint8_t)(block >> 16), (uint8_t)(block >> 8),
                         (uint8_t)block};
        /* U1 = HMAC(P, S || INT(i)) */
        mbedtls_sha256_clone(&ctx, &ipad);
        (void)mbedtls_sha256_update_ret(&ctx, salt, slen);
        (void)mbedtls_sha256_update_ret(&ctx, be, sizeof(be));
        (void)mbedtls_sha256_finish_ret(&ctx, u);
        mbedtls_sha256_clone(&ctx, &opad);
        (void)mbedtls_sha256_update_ret(&ctx, u, sizeof(u));
        (void)mbedtls_sha256_finish_ret(&ctx, u);
        memcpy(t, u, sizeof(t));
        /* Uj = HMAC(P, Uj-1); T = U1 ^ ... ^ Uc */
        for (uint32_t j = 1; j < iterations; j++) {
            mbedtls_sha256_clone(&ctx, &ipad);
            (void)mbedtls_sha256_update_ret(&ctx, u, sizeof(u));
            (void)mbedtls_sha256_finish_ret(&ctx, u);
            mbedtls_sha256_clone(&ctx, &opad);
            (void)mbedtls_sha256_update_ret(&ctx, u, sizeof(u));
            (void)mbedtls_sha256_finish_ret(&ctx, u);
            for (size_t i = 0; i < sizeof(t); i++)
                t[i] ^= u[i];
        }
        size_t n = outlen < sizeof(t) ? outlen : sizeof(t);
        memcpy(out, t, n);
        out += n;
        outlen -= n;
    }
    mbedtls_sha256_free(&ctx);
    mbedtls_sha256_free(&ipad);
    mbedtls_sha256_free(&opad);
    /* Everything derived from the password is as secret as the password. */
    mbedtls_platform_zeroize(k, sizeof(k));
    mbedtls_platform_zeroize(pad, sizeof(pad));
    mbedtls_platform_zeroize(u, sizeof(u));
    mbedtls_platform_zeroize(t, sizeof(t));
    return SP_OK;
}

/* ---- randomness ----------------------------------------------------------- */

/* One generator per thread, so threads never contend for a lock. The
 * contexts hold no heap memory, so a thread that exits leaks nothing. */
typedef struct {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    unsigned generation; /* g_fork_generation when last seeded */
    int ready;
} rng_t;

static __thread rng_t t_rng;

/* A forked child inherits its parent's generator state and would repeat the
 * parent's output; bumping the generation makes every thread of the child
 * reseed before its next use. */
static unsigned g_fork_generation;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    __atomic_add_fetch(&g_fork_generation, 1, __ATOMIC_SEQ_CST);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static void log_mbedtls(const char *what, int rc)
{
    char text[128];
    mbedtls_strerror(rc, text, sizeof(text));
    sp_log_error("%s failed: %s (-0x%04x)", what, text, (unsigned)-rc);
}

/* Seeds this thread's generator on first use and reseeds it after a fork. */
static int rng_prepare(rng_t *r)
{
    unsigned gen = __atomic_load_n(&g_fork_generation, __ATOMIC_SEQ_CST);
    if (r->ready && r->generation == gen)
        return SP_OK;
    pthread_once(&g_atfork_once, register_atfork);

    /* The personalisation string tells apart threads seeded at the same
     * instant, as the DRBG standard recommends; it is not a secret. */
    struct {
        const void *thread;
        struct timespec ts;
        char tag[8];
    } pers;
    memset(&pers, 0, sizeof(pers));
    pers.thread = r;
    clock_gettime(CLOCK_MONOTONIC, &pers.ts);
    memcpy(pers.tag, "serphon", 8);

    int rc;
    if (!r->ready) {
        mbedtls_entropy_init(&r->entropy);
        mbedtls_ctr_drbg_init(&r->drbg);
        rc = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                                   (const unsigned char *)&pers, sizeof(pers));
        if (rc != 0) {
            mbedtls_ctr_drbg_free(&r->drbg);
            mbedtls_entropy_free(&r->entropy);
            log_mbedtls("mbedtls_ctr_drbg_seed", rc);
            return SP_EIO;
        }
        r->ready = 1;
    } else {
        rc = mbedtls_ctr_drbg_reseed(&r->drbg, (const unsigned char *)&pers, sizeof(pers));
        if (rc != 0) {
            log_mbedtls("mbedtls_ctr_drbg_reseed", rc);
            return SP_EIO;
        }
    }
    r->generation = gen;
    return SP_OK;
}

int sp_random_bytes(void *buf, size_t len)
{
    rng_t *r = &t_rng;
    int err = rng_prepare(r);
    if (err)
        return err;
    unsigned char *p = buf;
    while (len > 0) {
        size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        int rc = mbedtls_ctr_drbg_random(&r->drbg, p, n);
        if (rc != 0) {
            log_mbedtls("mbedtls_ctr_drbg_random", rc);
            return SP_EIO;
        }
        p += n;
        len -= n;
    }
    return SP_OK;
}

/* ---- UUIDs ---------------------------------------------------------------- */

static void uuid_format(const uint8_t b[16], char out[SP_UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

int sp_uuid_v4(char out[SP_UUID_STR_LEN])
{
    uint8_t b[16];
    int err = sp_random_bytes(b, sizeof(b));
    if (err)
        return err;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */
    uuid_format(b, out);
    return SP_OK;
}

/* The last (timestamp, counter) pair handed out; the lock makes ids from all
 * threads one increasing sequence. */
static pthread_mutex_t g_v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_v7_ms;
static uint16_t g_v7_seq;

#define V7_SEQ_MAX 0x0fffu

/* Picks the timestamp and counter of the next v7 id for clock reading now_ms
 * (RFC 9562 section 6.2, method 1). A new millisecond starts the counter at a
 * random value in its lower half, which keeps ids unguessable while leaving
 * room for at least 2048 more ids in that millisecond; when the counter runs
 * out, or the clock went back, the timestamp moves past the last one issued
 * instead. */
static void v7_next(uint64_t now_ms, uint16_t random_seq, uint64_t *ms, uint16_t *seq)
{
    pthread_mutex_lock(&g_v7_lock);
    if (now_ms > g_v7_ms) {
        g_v7_ms = now_ms;
        g_v7_seq = (uint16_t)(random_seq & 0x07ffu);
    } else if (g_v7_seq < V7_SEQ_MAX) {
        g_v7_seq++;
    } else {
        g_v7_ms++;
        g_v7_seq = 0;
    }
    *ms = g_v7_ms;
    *seq = g_v7_seq;
    pthread_mutex_unlock(&g_v7_lock);
}

int sp_uuid_v7(char out[SP_UUID_STR_LEN])
{
    uint8_t r[10];
    int err = sp_random_bytes(r, sizeof(r));
    if (err)
        return err;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;

    uint64_t ms;
    uint16_t seq;
    v7_next(now_ms, (uint16_t)(r[0] << 8 | r[1]), &ms, &seq);

    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8)); /* version 7, counter high bits */
    b[7] = (uint8_t)(seq & 0xff);
    b[8] = (uint8_t)(0x80 | (r[2] & 0x3f)); /* variant 10, then rand_b */
    memcpy(b + 9, r + 3, 7);
    uuid_format(b, out);
    return SP_OK;
}

/* ---- comparison and encodings --------------------------------------------- */

int sp_const_time_eq(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    /* Branch-free mapping of diff to 1 (equal) or 0. */
    return (int)(1 & (((unsigned)diff - 1) >> 8));
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t sp_base64url_encoded_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

size_t sp_base64url_decoded_max(size_t len)
{
    return len / 4 * 3 + (len % 4 ? 3 : 0);
}

int sp_base64url_encode(const void *in, size_t len, char *out, size_t outcap, size_t *outlen)
{
    size_t need = sp_base64url_encoded_len(len);
    if (outcap < need + 1)
        return SP_ETOOBIG;
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18];
        out[o++] = b64url_alphabet[(v >> 12) & 63];
        out[o++] = b64url_alphabet[(v >> 6) & 63];
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return SP_OK;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int sp_base64url_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen)
{
    /* Padding is optional, but when present it must make the length a
     * multiple of four and be exactly what the data length implies. */
    size_t pads = 0;
    while (pads < len && in[len - 1 - pads] == '=')
        pads++;
    size_t n = len - pads;
    if (pads && (len % 4 != 0 || pads > 2 || (4 - n % 4) % 4 != pads))
        return SP_EINVAL;
    if (n % 4 == 1)
        return SP_EINVAL;
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap)
        return SP_ETOOBIG;

    size_t o = 0, i = 0;
    uint32_t acc = 0;
    for (; i < n; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return SP_EINVAL;
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        if (acc & 0x0f)
            return SP_EINVAL;
        out[o++] = (uint8_t)(acc >> 4);
    } else if (n % 4 == 3) {
        if (acc & 0x03)
            return SP_EINVAL;
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    if (outlen)
        *outlen = o;
    return SP_OK;
}

void sp_hex_encode(const void *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
}
