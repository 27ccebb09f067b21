/*
 * lockout.c — failed-login counting and backoff (lockout.h).
 */
#include "lockout.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* KEYS[1] the failure counter, KEYS[2] the lock; ARGV window_s, threshold,
 * base_ms, max_ms. The lock doubles with every failure past the threshold,
 * and the counter lives at least as long as the lock so the doubling goes on
 * after it. */
static const char FAIL_LUA[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end\n"
    "local th = tonumber(ARGV[2])\n"
    "if n >= th then\n"
    "  local ms = tonumber(ARGV[3]) * 2 ^ math.min(n - th, 30)\n"
    "  if ms > tonumber(ARGV[4]) then ms = tonumber(ARGV[4]) end\n"
    "  ms = math.floor(ms)\n"
    "  redis.call('SET', KEYS[2], '1', 'PX', ms)\n"
    "  if redis.call('PTTL', KEYS[1]) < ms + tonumber(ARGV[1]) * 1000 then\n"
    "    redis.call('PEXPIRE', KEYS[1], ms + tonumber(ARGV[1]) * 1000)\n"
    "  end\n"
    "end\n"
    "return n\n";

/* The longest remaining lock among KEYS, in ms (0 = none). */
static const char CHECK_LUA[] = "local m = 0\n"
                                "for _, k in ipairs(KEYS) do\n"
                                "  local t = redis.call('PTTL', k)\n"
                                "  if t > m then m = t end\n"
                                "end\n"
                                "return m\n";

const char *gw_lockout_account(sp_arena_t *arena, const char *tenant_slug, const char *email)
{
    char *text = sp_arena_printf(arena, "%s\n%s", tenant_slug ? tenant_slug : "", email);
    if (!text)
        return NULL;
    for (char *p = text; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    uint8_t digest[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    sp_sha256(text, strlen(text), digest);
    sp_hex_encode(digest, sizeof digest, hex);
    return sp_arena_strdup(arena, hex);
}

int gw_lockout_check(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip,
                     int *retry_after_s)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    char *k1 = sp_arena_printf(arena, "sp:login:lock:acct:%s", account);
    char *k2 = sp_arena_printf(arena, "sp:login:lock:ip:%s", ip);
    if (!redis || !k1 || !k2)
        return SP_OK;
    const char *argv[] = {"EVAL", CHECK_LUA, "2", k1, k2};
    redisReply *reply = NULL;
    int rc = sp_redis_command(redis, &reply, 5, argv, NULL);
    if (rc != 0) {
        sp_log_warn("login lockout not checked: Redis: %s", sp_strerror(rc));
        return SP_OK;
    }
    long long ms = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    freeReplyObject(reply);
    if (ms <= 0)
        return SP_OK;
    *retry_after_s = (int)((ms + 999) / 1000);
    return SP_EDENIED;
}

static void count_failure(const gw_t *gw, sp_arena_t *arena, const char *kind, const char *id,
                          int threshold)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    char *counter = sp_arena_printf(arena, "sp:login:fail:%s:%s", kind, id);
    char *lock = sp_arena_printf(arena, "sp:login:lock:%s:%s", kind, id);
    char *window = sp_arena_printf(arena, "%d", gw->login_window_s);
    char *th = sp_arena_printf(arena, "%d", threshold);
    char *base = sp_arena_printf(arena, "%lld", (long long)gw->lockout_base_s * 1000);
    char *max = sp_arena_printf(arena, "%lld", (long long)gw->lockout_max_s * 1000);
    if (!redis || !counter || !lock || !window || !th || !base || !max)
        return;
    const char *argv[] = {"EVAL", FAIL_LUA, "2", counter, lock, window, th, base, max};
    redisReply *reply = NULL;
    int rc = sp_redis_command(redis, &reply, 9, argv, NULL);
    if (rc != 0) {
        sp_log_warn("failed login not counted: Redis: %s", sp_strerror(rc));
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == threshold)
        sp_log_warn("login lockout: %s locked after %d failures", kind, threshold);
    freeReplyObject(reply);
}

void gw_lockout_failed(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip)
{
    count_failure(gw, arena, "acct", account, gw->login_max_failures);
    count_failure(gw, arena, "ip", ip, gw->login_ip_max_failures);
}

void gw_lockout_succeeded(const gw_t *gw, sp_arena_t *arena, const char *account)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    char *counter = sp_arena_printf(arena, "sp:login:fail:acct:%s", account);
    if (!redis || !counter)
        return;
    const char *argv[] = {"DEL", counter};
    redisReply *reply = NULL;
    if (sp_redis_command(redis, &reply, 2, argv, NULL) == 0)
        freeReplyObject(reply);
}
