/*
 * users.h — a tenant's users and their invitations.
 *
 * Routes (permission in brackets):
 *   GET    /v1/users                   list/search/paginate    [users:read]
 *   GET    /v1/users/me                the caller              [users:read]
 *   GET    /v1/users/{id}              one user                [users:read]
 *   PATCH  /v1/users/{id}              role, display_name      [users:write]
 *   POST   /v1/users/{id}/disable                              [users:write]
 *   POST   /v1/users/{id}/enable                               [users:write]
 *   DELETE /v1/users/{id}                                      [users:write]
 *   GET    /v1/users/invites           list invites            [users:read]
 *   POST   /v1/users/invites           invite by email         [users:write]
 *   DELETE /v1/users/invites/{id}      revoke an invite        [users:write]
 *   POST   /v1/users/invites/accept    accept + set password   public (the token)
 *
 * Rules: only an owner may make someone an owner or change, disable or
 * delete an owner (403 owner_required); the last active owner cannot be
 * demoted, disabled or deleted (409 last_owner); nobody disables or deletes
 * themselves (409 cannot_modify_self). Seats (the plan's limit) count active
 * users plus pending invites; an invite or re-enable past it answers 409
 * seat_limit_reached. Inviting an email with a pending invite revokes the
 * old invite and issues a new token (the token is shown only once, so a lost
 * one is replaced, never re-shown).
 */
#ifndef TM_USERS_H
#define TM_USERS_H

#include "tm.h"

/* Adds the routes above to router. Returns 0 or the first SP_E* code. */
int tm_users_register(sp_router_t *router, tm_t *tm);

/* Creates an invite in tx, whose tenant is already set to tenant_id: checks
 * the tenant is active, the email is not a user yet and a seat is free;
 * revokes an earlier pending invite of the same email; records the audit
 * entry. On success returns 0 and *json_out (arena): the invite's JSON with
 * its "token", shown this once. On failure the 4xx/5xx reply is written and
 * a non-zero code returned; the caller rolls back. */
int tm_invite_create(tm_t *tm, sp_request_t *req, sp_db_tx_t *tx, const char *tenant_id,
                     const char *email, const char *role, const char *display_name,
                     char **json_out);

#endif
