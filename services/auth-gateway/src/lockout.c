/*
 * lockout.c — failed-login counting and backoff (lockout.h).
 */
#include "lockout.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: account counter, account lock, address counter, address lock.
 * ARGV: window_s, account threshold, address threshold, base_ms, max_ms.
 * Refuses (returns the longest remaining lock in ms) while either lock lives;
 * otherwise counts the attempt on both counters and returns 0. The claim that
 * brings a counter to its threshold, and every one past it, sets that lock,
 * doubling per claim past the threshold; the counter lives at least as long as
 * its lock so the doubling goes on after it. */
static const char CLAIM_LUA[] = "local m = 0\n"
                                "for _, k in ipairs({KEYS[2], KEYS[4]}) do\n"
                                "  local t = redis.call('PTTL', k)\n"
                                "  if t > m then m = t end\n"
                                "end\n"
                                "if m > 0 then return m end\n"
                                "local w = tonumber(ARGV[1])\n"
                                "for i, th in ipairs({tonumber(ARGV[2]), tonumber(ARGV[3])}) do\n"
                                "  local c, l = KEYS[2 * i - 1], KEYS[2 * i]\n"
                                "  local n = redis.call('INCR', c)\n"
                                "  if n == 1 then redis.call('EXPIRE', c, w) end\n"
                                "  if n >= th then\n"
                                "    local ms = tonumber(ARGV[4]) * 2 ^ math.min(n - th, 30)\n"
                                "    if ms > tonumber(ARGV[5]) then ms = tonumber(ARGV[5]) end\n"
                                "    ms = math.floor(ms)\n"
                                "    redis.call('SET', l, '1', 'PX', ms)\n"
                                "    if redis.call('PTTL', c) < ms + w * 1000 then "
                                "redis.call('PEXPIRE', c, ms + w * 1000) end\n"
                                "  end\n"
                                "end\n"
                                "return 0\n";

/* KEYS: a counter, its lock; ARGV: its threshold. Gives back one claim; when
 * the counter falls below the threshold again the lock was set by that claim
 * alone, so it goes too. */
static const char UNCLAIM_LUA[] = "local n = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
                                  "if n <= 0 then return 0 end\n"
                                  "n = redis.call('DECR', KEYS[1])\n"
                                  "if n < tonumber(ARGV[1]) then redis.call('DEL', KEYS[2]) end\n"
                                  "return n\n";

const char *gw_lockout_account(sp_arena_t *arena, const char *tenant_slug, const char *email)
{
    char normal[SP_EMAIL_MAX];
    const char *key_email = sp_email_normalize(email, normal) == 0 ? normal : email;
    char *text = sp_arena_printf(arena, "%s\n%s", tenant_slug ? tenant_slug : "", key_email);
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

/* Runs one script; the integer it returns, or -1 when Redis did not answer
 * (logged with what was not done). */
static long long eval(const gw_t *gw, const char *what, int argc, const char **argv)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    if (!redis)
        return -1;
    redisReply *reply = NULL;
    int rc = sp_redis_command(redis, &reply, argc, argv, NULL);
    if (rc != 0) {
        sp_log_warn("login lockout: %s not done: Redis: %s", what, sp_strerror(rc));
        return -1;
    }
    long long n = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
    freeReplyObject(reply);
    return n;
}

int gw_lockout_claim(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip,
                     int *retry_after_s)
{
    const char *keys[] = {
        sp_arena_printf(arena, "sp:login:fail:acct:%s", account),
        sp_arena_printf(arena, "sp:login:lock:acct:%s", account),
        sp_arena_printf(arena, "sp:login:fail:ip:%s", ip),
        sp_arena_printf(arena, "sp:login:lock:ip:%s", ip),
    };
    const char *args[] = {
        sp_arena_printf(arena, "%d", gw->login_window_s),
        sp_arena_printf(arena, "%d", gw->login_max_failures),
        sp_arena_printf(arena, "%d", gw->login_ip_max_failures),
        sp_arena_printf(arena, "%lld", (long long)gw->lockout_base_s * 1000),
        sp_arena_printf(arena, "%lld", (long long)gw->lockout_max_s * 1000),
    };
    for (size_t i = 0; i < 4; i++)
        if (!keys[i])
            return SP_OK;
    for (size_t i = 0; i < 5; i++)
        if (!args[i])
            return SP_OK;
    const char *argv[] = {"EVAL",  CLAIM_LUA, "4",     keys[0], keys[1], keys[2],
                          keys[3], args[0],   args[1], args[2], args[3], args[4]};
    long long ms = eval(gw, "attempt claim", 12, argv);
    if (ms <= 0)
        return SP_OK; /* not locked, or Redis away: fail open */
    *retry_after_s = (int)((ms + 999) / 1000);
    return SP_EDENIED;
}

static void unclaim(const gw_t *gw, sp_arena_t *arena, const char *kind, const char *id,
                    int threshold)
{
    char *counter = sp_arena_printf(arena, "sp:login:fail:%s:%s", kind, id);
    char *lock = sp_arena_printf(arena, "sp:login:lock:%s:%s", kind, id);
    char *th = sp_arena_printf(arena, "%d", threshold);
    if (!counter || !lock || !th)
        return;
    const char *argv[] = {"EVAL", UNCLAIM_LUA, "2", counter, lock, th};
    eval(gw, "claim release", 6, argv);
}

void gw_lockout_succeeded(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip)
{
    char *counter = sp_arena_printf(arena, "sp:login:fail:acct:%s", account);
    char *lock = sp_arena_printf(arena, "sp:login:lock:acct:%s", account);
    if (counter && lock) {
        const char *argv[] = {"DEL", counter, lock};
        eval(gw, "account reset", 3, argv);
    }
    unclaim(gw, arena, "ip", ip, gw->login_ip_max_failures);
}

void gw_lockout_release(const gw_t *gw, sp_arena_t *arena, const char *account, const char *ip)
{
    unclaim(gw, arena, "acct", account, gw->login_max_failures);
    unclaim(gw, arena, "ip", ip, gw->login_ip_max_failures);
}
