/*
 * permissions.c — the role table (permissions.h).
 */
#include "platform/permissions.h"
#include "platform/error.h"

#include <string.h>

enum {
    OWNER = 1 << 0,
    ADMIN = 1 << 1,
    ANALYST = 1 << 2,
    AGENT_MANAGER = 1 << 3,
    VIEWER = 1 << 4,
    OPERATOR = 1 << 5,
};

typedef struct {
    const char *permission;
    unsigned roles;
} grant_t;

#define ALL_TENANT (OWNER | ADMIN | ANALYST | AGENT_MANAGER | VIEWER)

/* Keep in step with the table in permissions.h. */
static const grant_t GRANTS[] = {
    {"platform:admin", OPERATOR},
    {"tenant:read", ALL_TENANT},
    {"tenant:write", OWNER | ADMIN},
    {"plan:read", ALL_TENANT},
    {"users:read", ALL_TENANT},
    {"users:write", OWNER | ADMIN},
    {"api_keys:read", OWNER | ADMIN},
    {"api_keys:write", OWNER | ADMIN},
    {"audit:read", OWNER | ADMIN},
    {"billing:read", OWNER | ADMIN},
    {"billing:write", OWNER},
    {"agents:read", ALL_TENANT},
    {"agents:write", OWNER | ADMIN | AGENT_MANAGER},
    {"conversations:read", OWNER | ADMIN | ANALYST | AGENT_MANAGER},
    {"tools:read", OWNER | ADMIN | AGENT_MANAGER | VIEWER},
    {"tools:write", OWNER | ADMIN | AGENT_MANAGER},
    {"ingest:write", OWNER | ADMIN | ANALYST},
    {"analytics:read", ALL_TENANT},
    {"analytics:export", OWNER | ADMIN | ANALYST},
    {"taxonomy:write", OWNER | ADMIN | ANALYST},
};

#define N_GRANTS (sizeof(GRANTS) / sizeof(*GRANTS))

static unsigned role_bit(const char *role)
{
    static const struct {
        const char *name;
        unsigned bit;
    } ROLES[] = {
        {"owner", OWNER},     {"admin", ADMIN},
        {"analyst", ANALYST}, {"agent_manager", AGENT_MANAGER},
        {"viewer", VIEWER},   {"platform_operator", OPERATOR},
    };
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(*ROLES); i++)
        if (strcmp(ROLES[i].name, role) == 0)
            return ROLES[i].bit;
    return 0;
}

static const grant_t *find(const char *permission)
{
    for (size_t i = 0; i < N_GRANTS; i++)
        if (strcmp(GRANTS[i].permission, permission) == 0)
            return &GRANTS[i];
    return NULL;
}

int sp_permissions_role_grants(const char *role, const char *permission)
{
    const grant_t *g = find(permission);
    return g && (g->roles & role_bit(role)) != 0;
}

int sp_permissions_known(const char *permission)
{
    return find(permission) != NULL;
}

int sp_permissions_is_tenant_role(const char *role)
{
    return (role_bit(role) & ALL_TENANT) != 0;
}

const char *sp_permissions_at(size_t i)
{
    return i < N_GRANTS ? GRANTS[i].permission : NULL;
}

int sp_permissions_authorize(const sp_auth_t *auth, const char *permission, void *ud)
{
    (void)ud;
    int platform = strcmp(permission, "platform:admin") == 0;
    /* Tenant routes need a tenant: an operator token is not a way into a
     * tenant's data, and a tenant token is never a way into the platform. */
    if (!platform && (!auth->tenant_id || !*auth->tenant_id))
        return SP_EDENIED;
    for (size_t i = 0; i < auth->n_roles; i++)
        if (sp_permissions_role_grants(auth->roles[i], permission))
            return SP_OK;
    if (platform)
        return SP_EDENIED; /* scopes never grant platform:admin */
    for (size_t i = 0; i < auth->n_scopes; i++)
        if (strcmp(auth->scopes[i], permission) == 0)
            return SP_OK;
    return SP_EDENIED;
}
