/* Unit tests for crypto.c: published test vectors for SHA-256 (FIPS 180-2)
 * and HMAC-SHA-256 (RFC 4231), base64url against RFC 4648 and strict
 * rejection of bad input, UUID layout and v7 ordering, and the random
 * generator across threads and fork.
 *
 * The .c is included (h2o style) to drive the v7 counter with chosen clock
 * readings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/crypto.c" /* NOLINT(bugprone-suspicious-include) */
#include "platform/clock.h"

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    sp_hex_encode(b, n, out);
}

static void test_sha256_vectors(void **state)
{
    uint8_t d[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    sp_sha256("abc", 3, d);
    hex_of(d, sizeof(d), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sp_sha256("", 0, d);
    hex_of(d, sizeof(d), hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sp_sha256(two, strlen(two), d);
    hex_of(d, sizeof(d), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_hmac_rfc4231(void **state)
{
    uint8_t mac[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];

    /* Test case 1 */
    uint8_t k1[20];
    memset(k1, 0x0b, sizeof(k1));
    sp_hmac_sha256(k1, sizeof(k1), "Hi There", 8, mac);
    hex_of(mac, sizeof(mac), hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 2 */
    const char *d2 = "what do ya want for nothing?";
    sp_hmac_sha256("Jefe", 4, d2, strlen(d2), mac);
    hex_of(mac, sizeof(mac), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* Test case 6: a key longer than the block is hashed first. */
    uint8_t k6[131];
    memset(k6, 0xaa, sizeof(k6));
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    sp_hmac_sha256(k6, sizeof(k6), d6, strlen(d6), mac);
    hex_of(mac, sizeof(mac), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* Test case 7: long key and long data. */
    const char *d7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    sp_hmac_sha256(k6, sizeof(k6), d7, strlen(d7), mac);
    hex_of(mac, sizeof(mac), hex);
    assert_string_equal(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_const_time_eq(void **state)
{
    uint8_t a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    assert_int_equal(sp_const_time_eq(a, b, 32), 1);
    assert_int_equal(sp_const_time_eq(a, b, 0), 1);
    b[0] ^= 1;
    assert_int_equal(sp_const_time_eq(a, b, 32), 0);
    b[0] ^= 1;
    b[31] ^= 0x80;
    assert_int_equal(sp_const_time_eq(a, b, 32), 0);
    assert_int_equal(sp_const_time_eq(a, b, 31), 1);
}

static void test_hex_encode(void **state)
{
    const uint8_t in[] = {0x00, 0xff, 0x1a, 0xb0};
    char out[9];
    memset(out, 'x', sizeof(out));
    sp_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00ff1ab0");
    sp_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void test_base64url_rfc4648(void **state)
{
    static const struct {
        const char *plain, *encoded;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t plen = strlen(v[i].plain);
        char enc[16];
        size_t elen = 99;
        assert_int_equal(sp_base64url_encoded_len(plen), strlen(v[i].encoded));
        assert_int_equal(sp_base64url_encode(v[i].plain, plen, enc, sizeof(enc), &elen), 0);
        assert_string_equal(enc, v[i].encoded);
        assert_int_equal(elen, strlen(v[i].encoded));

        uint8_t dec[16];
        size_t dlen = 99;
        assert_int_equal(sp_base64url_decode(v[i].encoded, elen, dec, sizeof(dec), &dlen), 0);
        assert_int_equal(dlen, plen);
        assert_memory_equal(dec, v[i].plain, plen);
        assert_true(sp_base64url_decoded_max(elen) >= plen);
    }
    /* The URL-safe alphabet: '-' and '_' where standard base64 has '+' '/'. */
    const uint8_t bin[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    assert_int_equal(sp_base64url_encode(bin, 3, enc, sizeof(enc), NULL), 0);
    assert_string_equal(enc, "-_-_");
    assert_int_equal(sp_base64url_encode(bin, 2, enc, sizeof(enc), NULL), 0);
    assert_string_equal(enc, "-_8");

    /* Correct padding is accepted too. */
    static const struct {
        const char *padded, *plain;
    } p[] = {{"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"Zm9vYg==", "foob"}};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        uint8_t dec[16];
        size_t dlen;
        assert_int_equal(
            sp_base64url_decode(p[i].padded, strlen(p[i].padded), dec, sizeof(dec), &dlen), 0);
        assert_int_equal(dlen, strlen(p[i].plain));
        assert_memory_equal(dec, p[i].plain, dlen);
    }
}

static void test_base64url_rejects_bad_input(void **state)
{
    static const char *const bad[] = {
        "Z",              /* impossible length */
        "Zm9vY",          /* impossible length */
        "Zg=",            /* padding that does not complete a quantum */
        "Zg===",          /* too much padding */
        "Zm8==",          /* padding that does not match the data length */
        "Zm9v====",       /* padding after a full quantum */
        "Zg=a",           /* '=' inside the data */
        "=",              /* padding only */
        "Zm9v+w",         /* standard-alphabet characters */
        "Zm9v/w",         /*   are not base64url */
        "Zm 9v",          /* blank */
        "Zm9v\n",         /* newline */
        "Zh",             /* non-zero unused bits: "Zg" is the one encoding of "f" */
        "Zm9=",           /* non-zero unused bits with padding */
        "Zm9vYm\xc3\xa9", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[64];
        size_t n;
        int rc = sp_base64url_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n);
        if (rc != SP_EINVAL)
            fail_msg("'%s' decoded with %d", bad[i], rc);
    }
    /* An embedded NUL counted in len is an invalid character. */
    uint8_t out[8];
    size_t n;
    assert_int_equal(sp_base64url_decode("Zm9v\0AAA", 8, out, sizeof(out), &n), SP_EINVAL);
}

static void test_base64url_buffer_sizes(void **state)
{
    char enc[8];
    size_t n;
    /* "foobar" needs 8 characters plus the NUL. */
    assert_int_equal(sp_base64url_encode("foobar", 6, enc, 8, &n), SP_ETOOBIG);
    char enc9[9];
    assert_int_equal(sp_base64url_encode("foobar", 6, enc9, 9, &n), 0);
    assert_int_equal(n, 8);
    uint8_t out[6];
    assert_int_equal(sp_base64url_decode("Zm9vYmFy", 8, out, 5, &n), SP_ETOOBIG);
    assert_int_equal(sp_base64url_decode("Zm9vYmFy", 8, out, 6, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(sp_base64url_decoded_max(0), 0);
    assert_int_equal(sp_base64url_decoded_max(2), 3);
    assert_int_equal(sp_base64url_decoded_max(8), 6);
}

static void test_base64url_round_trips(void **state)
{
    uint8_t in[300] = {0}, dec[300] = {0};
    char enc[410] = {0};
    assert_int_equal(sp_random_bytes(in, sizeof(in)), 0);
    for (size_t len = 0; len <= sizeof(in); len++) {
        size_t elen = 0, dlen = 0;
        assert_int_equal(
            sp_base64url_encode(in, len, enc, sp_base64url_encoded_len(len) + 1, &elen), 0);
        assert_int_equal(elen, sp_base64url_encoded_len(len));
        assert_int_equal(strlen(enc), elen);
        assert_null(strpbrk(enc, "+/="));
        assert_true(sp_base64url_decoded_max(elen) >= len);
        assert_int_equal(sp_base64url_decode(enc, elen, dec, len, &dlen), 0);
        assert_int_equal(dlen, len);
        assert_memory_equal(dec, in, len);
    }
}

static int all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void test_random_bytes(void **state)
{
    uint8_t a[32], b[32];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(sp_random_bytes(a, sizeof(a)), 0);
    assert_int_equal(sp_random_bytes(b, sizeof(b)), 0);
    assert_false(all_zero(a, sizeof(a)));
    assert_false(all_zero(b, sizeof(b)));
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(sp_random_bytes(a, 0), 0);

    /* Past the DRBG's per-call limit the request is split; every chunk is
     * fresh output, not a repeat of the first. */
    size_t big = 3 * MBEDTLS_CTR_DRBG_MAX_REQUEST + 17;
    uint8_t *p = calloc(1, big);
    assert_non_null(p);
    assert_int_equal(sp_random_bytes(p, big), 0);
    assert_false(all_zero(p + big - 32, 32));
    assert_memory_not_equal(p, p + MBEDTLS_CTR_DRBG_MAX_REQUEST, 32);
    free(p);
}

static void *random_in_thread(void *arg)
{
    uint8_t *out = arg;
    if (sp_random_bytes(out, 32) != 0)
        memset(out, 0, 32);
    return NULL;
}

static void test_random_threads_differ(void **state)
{
    uint8_t a[32], b[32];
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, random_in_thread, a), 0);
    assert_int_equal(pthread_create(&t2, NULL, random_in_thread, b), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_false(all_zero(a, 32));
    assert_false(all_zero(b, 32));
    assert_memory_not_equal(a, b, 32);
}

static void test_random_after_fork(void **state)
{
    uint8_t warm[8], mine[32], childs[32];
    assert_int_equal(sp_random_bytes(warm, sizeof(warm)), 0); /* seeded before fork */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t r[32];
        int ok = sp_random_bytes(r, sizeof(r)) == 0 && write(fds[1], r, 32) == 32;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(sp_random_bytes(mine, sizeof(mine)), 0);
    assert_int_equal(read(fds[0], childs, 32), 32);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Without a reseed the child would have produced exactly these bytes. */
    assert_memory_not_equal(mine, childs, 32);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void assert_uuid_shape(const char *u, char version)
{
    assert_int_equal(strlen(u), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_true(is_hex(u[i]));
    }
    assert_int_equal(u[14], version);
    assert_non_null(strchr("89ab", u[19])); /* variant 10xx */
}

static void test_uuid_v4(void **state)
{
    char a[SP_UUID_STR_LEN] = {0}, b[SP_UUID_STR_LEN] = {0};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sp_uuid_v4(a), 0);
        assert_uuid_shape(a, '4');
    }
    assert_int_equal(sp_uuid_v4(b), 0);
    assert_string_not_equal(a, b);
}

static uint64_t uuid_ms(const char *u)
{
    char hex[13];
    memcpy(hex, u, 8);
    memcpy(hex + 8, u + 9, 4);
    hex[12] = '\0';
    return strtoull(hex, NULL, 16);
}

static void test_uuid_v7_shape_and_order(void **state)
{
    enum { N = 10000 };
    char(*ids)[SP_UUID_STR_LEN] = calloc(N, sizeof(*ids));
    assert_non_null(ids);
    uint64_t before = (uint64_t)sp_clock_wall_ms();
    for (int i = 0; i < N; i++)
        assert_int_equal(sp_uuid_v7(ids[i]), 0);
    uint64_t after = (uint64_t)sp_clock_wall_ms();

    int same_ms = 0;
    for (int i = 0; i < N; i++) {
        assert_uuid_shape(ids[i], '7');
        uint64_t ms = uuid_ms(ids[i]);
        /* Borrowing from the next millisecond when the counter runs out may
         * run a little ahead of the clock, never behind. */
        assert_true(ms >= before && ms <= after + 10);
        if (i > 0) {
            if (strcmp(ids[i - 1], ids[i]) >= 0)
                fail_msg("not increasing: %s then %s", ids[i - 1], ids[i]);
            same_ms += uuid_ms(ids[i - 1]) == ms;
        }
    }
    /* 10000 ids take a few milliseconds at most, so most share one with their
     * predecessor: the counter path was exercised. */
    assert_true(same_ms > N / 2);
    free(ids);
}

#define V7_THREADS    4
#define V7_PER_THREAD 5000

static void *make_v7(void *arg)
{
    char(*ids)[SP_UUID_STR_LEN] = arg;
    for (int i = 0; i < V7_PER_THREAD; i++)
        if (sp_uuid_v7(ids[i]) != 0)
            ids[i][0] = '\0';
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_uuid_v7_threads(void **state)
{
    char(*ids)[SP_UUID_STR_LEN] = calloc((size_t)V7_THREADS * V7_PER_THREAD, sizeof(*ids));
    assert_non_null(ids);
    pthread_t th[V7_THREADS];
    for (int t = 0; t < V7_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, make_v7, ids + (size_t)t * V7_PER_THREAD), 0);
    for (int t = 0; t < V7_THREADS; t++)
        pthread_join(th[t], NULL);
    /* Each thread saw increasing ids... */
    for (int t = 0; t < V7_THREADS; t++) {
        for (int i = 1; i < V7_PER_THREAD; i++) {
            const char *prev = ids[t * V7_PER_THREAD + i - 1], *cur = ids[t * V7_PER_THREAD + i];
            assert_uuid_shape(cur, '7');
            assert_true(strcmp(prev, cur) < 0);
        }
    }
    /* ...and no id was handed out twice across threads. */
    qsort(ids, (size_t)V7_THREADS * V7_PER_THREAD, sizeof(*ids), cmp_id);
    for (int i = 1; i < V7_THREADS * V7_PER_THREAD; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void test_uuid_v7_counter_rules(void **state)
{
    uint64_t ms;
    uint16_t seq;
    pthread_mutex_lock(&g_v7_lock);
    uint64_t saved_ms = g_v7_ms;
    uint16_t saved_seq = g_v7_seq;
    g_v7_ms = 1000;
    g_v7_seq = 0;
    pthread_mutex_unlock(&g_v7_lock);

    /* A new millisecond starts the counter in its lower half. */
    v7_next(2000, 0xffff, &ms, &seq);
    assert_int_equal(ms, 2000);
    assert_int_equal(seq, 0x07ff);
    /* Same millisecond: counter + 1. */
    v7_next(2000, 0, &ms, &seq);
    assert_int_equal(ms, 2000);
    assert_int_equal(seq, 0x0800);
    /* The clock went back: keep the last timestamp, keep counting. */
    v7_next(1500, 0, &ms, &seq);
    assert_int_equal(ms, 2000);
    assert_int_equal(seq, 0x0801);
    /* Counter exhausted: move to the next millisecond. */
    pthread_mutex_lock(&g_v7_lock);
    g_v7_seq = V7_SEQ_MAX;
    pthread_mutex_unlock(&g_v7_lock);
    v7_next(2000, 0, &ms, &seq);
    assert_int_equal(ms, 2001);
    assert_int_equal(seq, 0);
    /* The real clock catching up past it starts afresh. */
    v7_next(2001, 5, &ms, &seq);
    assert_int_equal(ms, 2001);
    assert_int_equal(seq, 1);
    v7_next(2002, 5, &ms, &seq);
    assert_int_equal(ms, 2002);
    assert_int_equal(seq, 5);

    pthread_mutex_lock(&g_v7_lock);
    g_v7_ms = saved_ms;
    g_v7_seq = saved_seq;
    pthread_mutex_unlock(&g_v7_lock);
}

/* PBKDF2-HMAC-SHA-256 vectors in the style of RFC 6070 (its inputs, with
 * SHA-256 as the PRF; the outputs are the widely published ones, and
 * Python's hashlib.pbkdf2_hmac agrees), plus RFC 7914 section 11. */
static void check_pbkdf2(const char *pw, size_t plen, const char *salt, size_t slen, uint32_t c,
                         size_t dklen, const char *expect_hex)
{
    uint8_t dk[64];
    char hex[2 * sizeof(dk) + 1];
    assert_true(dklen <= sizeof(dk));
    assert_int_equal(sp_pbkdf2_sha256(pw, plen, salt, slen, c, dk, dklen), 0);
    hex_of(dk, dklen, hex);
    assert_string_equal(hex, expect_hex);
}

static void test_pbkdf2_sha256_vectors(void **state)
{
    (void)state;
    check_pbkdf2("password", 8, "salt", 4, 1, 32,
                 "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    check_pbkdf2("password", 8, "salt", 4, 2, 32,
                 "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
    check_pbkdf2("password", 8, "salt", 4, 4096, 32,
                 "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    /* dkLen over one block: the block counter must advance. */
    check_pbkdf2(
        "passwordPASSWORDpassword", 24, "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096, 40,
        "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9");
    /* NULs inside password and salt. */
    check_pbkdf2("pass\0word", 9, "sa\0lt", 5, 4096, 16, "89b69d0516f829893c696226650a8687");
    /* RFC 7914 section 11 (PBKDF2-HMAC-SHA256 test vectors), 64 bytes. */
    check_pbkdf2("passwd", 6, "salt", 4, 1, 64,
                 "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                 "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
    /* A password longer than the HMAC block is hashed first. */
    char long_pw[100];
    memset(long_pw, 'p', sizeof(long_pw));
    uint8_t a[32], b[32], kh[SP_SHA256_LEN];
    assert_int_equal(sp_pbkdf2_sha256(long_pw, sizeof(long_pw), "salt", 4, 3, a, sizeof(a)), 0);
    sp_sha256(long_pw, sizeof(long_pw), kh);
    assert_int_equal(sp_pbkdf2_sha256(kh, sizeof(kh), "salt", 4, 3, b, sizeof(b)), 0);
    assert_memory_equal(a, b, sizeof(a));
}

static void test_pbkdf2_sha256_rejects(void **state)
{
    (void)state;
    uint8_t dk[32];
    assert_int_equal(sp_pbkdf2_sha256("p", 1, "s", 1, 0, dk, sizeof(dk)), SP_EINVAL);
    assert_int_equal(sp_pbkdf2_sha256("p", 1, "s", 1, 1, dk, 0), SP_EINVAL);
    assert_int_equal(sp_pbkdf2_sha256(NULL, 1, "s", 1, 1, dk, sizeof(dk)), SP_EINVAL);
    assert_int_equal(sp_pbkdf2_sha256("p", 1, NULL, 1, 1, dk, sizeof(dk)), SP_EINVAL);
    /* Empty password and salt are valid inputs. */
    assert_int_equal(sp_pbkdf2_sha256(NULL, 0, NULL, 0, 1, dk, sizeof(dk)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_const_time_eq),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_base64url_rfc4648),
        cmocka_unit_test(test_base64url_rejects_bad_input),
        cmocka_unit_test(test_base64url_buffer_sizes),
        cmocka_unit_test(test_base64url_round_trips),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_threads_differ),
        cmocka_unit_test(test_random_after_fork),
        cmocka_unit_test(test_uuid_v4),
        cmocka_unit_test(test_uuid_v7_shape_and_order),
        cmocka_unit_test(test_uuid_v7_threads),
        cmocka_unit_test(test_uuid_v7_counter_rules),
        cmocka_unit_test(test_pbkdf2_sha256_vectors),
        cmocka_unit_test(test_pbkdf2_sha256_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
