/*
 * sessions.c — refresh-token families in Redis (sessions.h).
 */
#include "sessions.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <stdio.h>
#include <string.h>

#define TOKEN_PREFIX     "rt1."
#define TOKEN_SECRET_LEN 32
#define TOKEN_TEXT_LEN   (4 + 43) /* prefix + base64url of 32 bytes */

static const char CREATE_LUA[] =
    "redis.call('HSET', KEYS[1], 'tid', ARGV[1], 'sub', ARGV[2], 'state', 'active')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('HSET', KEYS[2], 'sid', ARGV[4], 'state', 'active')\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "return 1\n";

/* KEYS[1] the presented token, KEYS[2] its successor; ARGV[1] the family key
 * prefix, ARGV[2] the revocation marker prefix, ARGV[3] the marker's TTL.
 * Families are looked up by the sid stored in the token, so their keys are
 * built here (a single Redis, not a cluster). */
static const char ROTATE_LUA[] = "local t = redis.call('HMGET', KEYS[1], 'sid', 'state')\n"
                                 "if not t[1] then return {'invalid'} end\n"
                                 "local sid = t[1]\n"
                                 "local fam = ARGV[1] .. sid\n"
                                 "local f = redis.call('HMGET', fam, 'tid', 'sub', 'state')\n"
                                 "if f[3] ~= 'active' then return {'invalid', sid} end\n"
                                 "if t[2] ~= 'active' then\n"
                                 "  redis.call('HSET', fam, 'state', 'revoked')\n"
                                 "  redis.call('SET', ARGV[2] .. sid, '1', 'EX', ARGV[3])\n"
                                 "  return {'reused', sid, f[1], f[2]}\n"
                                 "end\n"
                                 "local ttl = redis.call('TTL', fam)\n"
                                 "if ttl <= 0 then return {'invalid', sid} end\n"
                                 "redis.call('HSET', KEYS[1], 'state', 'spent')\n"
                                 "redis.call('HSET', KEYS[2], 'sid', sid, 'state', 'active')\n"
                                 "redis.call('EXPIRE', KEYS[2], ttl)\n"
                                 "return {'ok', sid, f[1], f[2]}\n";

static const char REVOKE_LUA[] = "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
                                 "  redis.call('HSET', KEYS[1], 'state', 'revoked')\n"
                                 "end\n"
                                 "redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])\n"
                                 "return 1\n";

char *gw_session_revoked_key(sp_arena_t *arena, const char *sid)
{
    return sp_arena_printf(arena, "sp:revoked:%s", sid);
}

/* Only well-formed tokens reach Redis. */
static int token_well_formed(const char *t)
{
    if (!t || strlen(t) != TOKEN_TEXT_LEN || strncmp(t, TOKEN_PREFIX, 4) != 0)
        return 0;
    for (const char *p = t + 4; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static char *token_key(sp_arena_t *arena, const char *token)
{
    uint8_t digest[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    sp_sha256(token, strlen(token), digest);
    sp_hex_encode(digest, sizeof digest, hex);
    return sp_arena_printf(arena, "sp:rt:%s", hex);
}

static int new_token(sp_arena_t *arena, const char **out)
{
    uint8_t secret[TOKEN_SECRET_LEN];
    char text[TOKEN_TEXT_LEN + 1] = TOKEN_PREFIX;
    if (sp_random_bytes(secret, sizeof secret) != 0)
        return SP_EIO;
    sp_base64url_encode(secret, sizeof secret, text + 4, sizeof text - 4, NULL);
    *out = sp_arena_strdup(arena, text);
    return *out ? SP_OK : SP_ENOMEM;
}

static int eval(const gw_t *gw, redisReply **reply, int argc, const char **argv)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    if (!redis)
        return SP_EUNAVAILABLE;
    int rc = sp_redis_command(redis, reply, argc, argv, NULL);
    if (rc != 0)
        return rc == SP_ENOMEM ? SP_ENOMEM : SP_EUNAVAILABLE;
    if ((*reply)->type == REDIS_REPLY_ERROR) {
        sp_log_error("session script failed: %s", (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        return SP_EUNAVAILABLE;
    }
    return SP_OK;
}

int gw_session_create(const gw_t *gw, sp_arena_t *arena, const char *tenant_id, const char *user_id,
                      const char **sid, const char **refresh)
{
    char uuid[SP_UUID_STR_LEN];
    if (sp_uuid_v4(uuid) != 0)
        return SP_EIO;
    int rc = new_token(arena, refresh);
    if (rc)
        return rc;
    *sid = sp_arena_strdup(arena, uuid);
    char *fam = sp_arena_printf(arena, "sp:rtf:%s", uuid);
    char *tok = token_key(arena, *refresh);
    char *ttl = sp_arena_printf(arena, "%d", gw->refresh_ttl_s);
    if (!*sid || !fam || !tok || !ttl)
        return SP_ENOMEM;
    const char *argv[] = {"EVAL", CREATE_LUA, "2", fam, tok, tenant_id, user_id, ttl, *sid};
    redisReply *reply = NULL;
    rc = eval(gw, &reply, 9, argv);
    if (reply)
        freeReplyObject(reply);
    return rc;
}

int gw_session_rotate(const gw_t *gw, sp_arena_t *arena, const char *refresh,
                      gw_refresh_result_t *result, gw_session_t *session, const char **new_refresh)
{
    memset(session, 0, sizeof(*session));
    *result = GW_REFRESH_INVALID;
    if (!token_well_formed(refresh))
        return SP_OK;
    int rc = new_token(arena, new_refresh);
    if (rc)
        return rc;
    char *old_key = token_key(arena, refresh), *new_key = token_key(arena, *new_refresh);
    char *marker_ttl = sp_arena_printf(arena, "%d", gw->access_ttl_s + gw->leeway_s + 5);
    if (!old_key || !new_key || !marker_ttl)
        return SP_ENOMEM;
    const char *argv[] = {"EVAL",  ROTATE_LUA, "2",           old_key,
                          new_key, "sp:rtf:",  "sp:revoked:", marker_ttl};
    redisReply *reply = NULL;
    if ((rc = eval(gw, &reply, 8, argv)) != 0)
        return rc;
    rc = SP_OK;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        rc = SP_EUNAVAILABLE;
        goto done;
    }
    const char *status = reply->element[0]->str;
    if (reply->elements >= 4) {
        session->sid = sp_arena_strdup(arena, reply->element[1]->str);
        session->tenant_id = sp_arena_strdup(arena, reply->element[2]->str);
        session->user_id = sp_arena_strdup(arena, reply->element[3]->str);
        if (!session->sid || !session->tenant_id || !session->user_id) {
            rc = SP_ENOMEM;
            goto done;
        }
    }
    if (strcmp(status, "ok") == 0 && session->sid)
        *result = GW_REFRESH_OK;
    else if (strcmp(status, "reused") == 0 && session->sid)
        *result = GW_REFRESH_REUSED;
done:
    freeReplyObject(reply);
    return rc;
}

int gw_session_of(const gw_t *gw, sp_arena_t *arena, const char *refresh, const char **sid,
                  const char **tenant_id)
{
    *tenant_id = NULL;
    if (!token_well_formed(refresh))
        return SP_ENOTFOUND;
    char *key = token_key(arena, refresh);
    if (!key)
        return SP_ENOMEM;
    const char *argv[] = {"HGET", key, "sid"};
    redisReply *reply = NULL;
    int rc = eval(gw, &reply, 3, argv);
    if (rc)
        return rc;
    if (reply->type == REDIS_REPLY_STRING) {
        *sid = sp_arena_strndup(arena, reply->str, reply->len);
        rc = *sid ? SP_OK : SP_ENOMEM;
    } else {
        rc = SP_ENOTFOUND;
    }
    freeReplyObject(reply);
    if (rc != SP_OK)
        return rc;
    /* The family holds the tenant (empty for an operator). */
    char fam[128];
    snprintf(fam, sizeof fam, "sp:rtf:%s", *sid);
    const char *targv[] = {"HGET", fam, "tid"};
    if (eval(gw, &reply, 3, targv) == 0) {
        if (reply->type == REDIS_REPLY_STRING && reply->len > 0)
            *tenant_id = sp_arena_strndup(arena, reply->str, reply->len);
        freeReplyObject(reply);
    }
    return SP_OK;
}

int gw_session_revoke(const gw_t *gw, const char *sid)
{
    char fam[128], marker[128], ttl[16];
    snprintf(fam, sizeof fam, "sp:rtf:%s", sid);
    snprintf(marker, sizeof marker, "sp:revoked:%s", sid);
    snprintf(ttl, sizeof ttl, "%d", gw->access_ttl_s + gw->leeway_s + 5);
    const char *argv[] = {"EVAL", REVOKE_LUA, "2", fam, marker, ttl};
    redisReply *reply = NULL;
    int rc = eval(gw, &reply, 6, argv);
    if (reply)
        freeReplyObject(reply);
    return rc;
}
