/*
 * proxy.h — the gateway's routing of public paths to back services.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include "platform/service.h"

/* Registers one route per owned path prefix on the service's router, each
 * forwarding over an RPC client to the owning service. Reads
 * SERPHONA_UPSTREAM_TIMEOUT_MS. Returns 0 or a negative SP_E* code. */
int gw_proxy_register(sp_service_t *svc);

#endif
