/*
 * crypto.h — hashing, MACs, randomness, identifiers and encodings, over
 * mbedTLS.
 *
 * Everything here is thread-safe. Functions that cannot fail return void;
 * the others return 0 or a negative SP_* code from platform/error.h.
 */
#ifndef SP_CRYPTO_H
#define SP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SP_SHA256_LEN 32
/* A UUID in canonical text form, 8-4-4-4-12 lowercase hex, plus the NUL. */
#define SP_UUID_STR_LEN 37

/* SHA-256 of data; cannot fail. */
void sp_sha256(const void *data, size_t len, uint8_t out[SP_SHA256_LEN]);

/* HMAC-SHA-256 (RFC 2104) of data under key (any length); cannot fail. */
void sp_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                    uint8_t out[SP_SHA256_LEN]);

/* PBKDF2 (RFC 8018 section 5.2) with HMAC-SHA-256 as the PRF: derives outlen
 * bytes from password and salt (either may hold NULs) in `iterations` rounds,
 * for storing passwords. The padded key states are computed once and cloned
 * per round, so one round costs two SHA-256 compressions. Returns 0, or
 * SP_EINVAL when iterations is 0, outlen is 0 or larger than
 * (2^32 - 1) * 32 bytes, or a pointer is NULL with a non-zero length. */
int sp_pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
                     uint32_t iterations, uint8_t *out, size_t outlen);

/* Fills buf with len cryptographically secure random bytes from a CTR-DRBG
 * seeded from the system's entropy (one generator per thread, reseeded after
 * fork). Returns 0, or SP_EIO when the generator cannot be seeded or fails, in
 * which case buf must not be used. */
int sp_random_bytes(void *buf, size_t len);

/* A random (version 4) UUID, NUL-terminated in out. Returns 0 or SP_EIO. */
int sp_uuid_v4(char out[SP_UUID_STR_LEN]);

/* A time-ordered (version 7, RFC 9562) UUID: 48-bit Unix time in
 * milliseconds, then a 12-bit counter in rand_a, then 62 random bits. Ids
 * made by this process compare strictly increasing (as strings too), also
 * within one millisecond and across threads; if the clock steps back, the
 * last timestamp is reused. Returns 0 or SP_EIO. */
int sp_uuid_v7(char out[SP_UUID_STR_LEN]);

/* 1 when the len bytes at a and b are equal, else 0, in time that depends
 * only on len (for comparing MACs and token hashes). */
int sp_const_time_eq(const void *a, const void *b, size_t len);

/* Length of the unpadded base64url text for len bytes, without the NUL. */
size_t sp_base64url_encoded_len(size_t len);

/* Upper bound of the bytes decoded from len characters of base64url. */
size_t sp_base64url_decoded_max(size_t len);

/* Writes len bytes of in as base64url (RFC 4648 section 5) without padding,
 * NUL-terminated, into out of outcap bytes, and the text length (without the
 * NUL) into *outlen when outlen is not NULL. Returns 0, or SP_ETOOBIG when
 * outcap < sp_base64url_encoded_len(len) + 1 (nothing useful is written). */
int sp_base64url_encode(const void *in, size_t len, char *out, size_t outcap, size_t *outlen);

/* Decodes len characters of base64url into out of outcap bytes, the decoded
 * size going into *outlen. Accepts text without padding or with exactly the
 * right "=" padding. Returns 0; SP_EINVAL on a character outside the alphabet
 * (including "+", "/" and blanks), wrong padding, an impossible length, or
 * non-zero unused bits in the last character (so each value has exactly one
 * encoding); SP_ETOOBIG when out is too small for the result
 * (sp_base64url_decoded_max(len) always suffices). out is not NUL-terminated;
 * its content is unspecified after a failure. */
int sp_base64url_decode(const char *in, size_t len, uint8_t *out, size_t outcap, size_t *outlen);

/* Writes len bytes as lowercase hex plus a NUL into out, which must hold
 * 2 * len + 1 bytes; cannot fail. */
void sp_hex_encode(const void *in, size_t len, char *out);

#endif
