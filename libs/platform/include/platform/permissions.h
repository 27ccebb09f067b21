/*
 * permissions.h — who may do what: the role -> permission table of the API.
 *
 * Routes name the permission they need ("users:write"); callers carry roles
 * (console users) or scopes (API keys, services). This module is the one
 * place that maps roles to permissions, so the gateway and every back service
 * (which checks again, defence in depth) agree. The service runtime installs
 * sp_permissions_authorize as every router's authorizer.
 *
 * Roles within a tenant: owner, admin, analyst, agent_manager, viewer. The
 * role platform_operator belongs to Serphona's own staff and has no tenant.
 * An API key's scopes are permissions themselves ("ingest:write").
 *
 * The table, one row per permission (o=owner a=admin n=analyst m=agent_manager
 * v=viewer; P = platform_operator only):
 *
 *   permission          o a n m v   what it allows
 *   platform:admin      P           create, list, suspend, delete any tenant
 *   tenant:read         o a n m v   read the own tenant and its settings
 *   tenant:write        o a         change name and settings
 *   plan:read           o a n m v   read plan and limits
 *   users:read          o a n m v   list and read users
 *   users:write         o a         invite, change role, disable, delete users
 *   api_keys:read       o a         list API keys
 *   api_keys:write      o a         create and revoke API keys
 *   audit:read          o a         read the audit log
 *   billing:read        o a         usage, invoices, subscription
 *   billing:write       o           change plan and payment
 *   agents:read         o a n m v   agents, knowledge bases
 *   agents:write        o a   m     create and change agents, knowledge bases
 *   conversations:read  o a n m     transcripts of agent conversations
 *   tools:read          o a   m v   tool registry, webhooks
 *   tools:write         o a   m     register tools, manage webhooks
 *   ingest:write        o a n       push or upload interactions
 *   analytics:read      o a n m v   dashboards, lists, transcripts (redacted)
 *   analytics:export    o a n       CSV exports
 *   taxonomy:write      o a n       edit the tenant's topic taxonomy
 */
#ifndef SP_PERMISSIONS_H
#define SP_PERMISSIONS_H

#include <stddef.h>

#include "platform/request.h"

/* 1 when role (one of the roles above) grants permission, else 0. */
int sp_permissions_role_grants(const char *role, const char *permission);

/* 1 when permission is one of the table's names (for validating API key
 * scopes), else 0. */
int sp_permissions_known(const char *permission);

/* The authorizer for sp_router_set_authorizer: allows when any of auth's
 * roles grants permission or auth's scopes contain it. A caller with no
 * tenant may only use platform:admin routes, and a platform:admin route
 * needs the platform_operator role. Returns 0 or SP_EDENIED. */
int sp_permissions_authorize(const sp_auth_t *auth, const char *permission, void *ud);

/* The i-th permission name (from 0), or NULL past the end. */
const char *sp_permissions_at(size_t i);

/* Whether role is one of the five tenant roles. */
int sp_permissions_is_tenant_role(const char *role);

#endif
