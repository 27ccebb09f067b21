/*
 * topology.h — the services of the suite and their default ports.
 *
 * One table, so the service runtime (which binds) and the gateway (which
 * connects) can never disagree about where a service listens by default. Every
 * port is overridable at run time through SERPHONA_* variables.
 */
#ifndef SP_TOPOLOGY_H
#define SP_TOPOLOGY_H

typedef struct {
    const char *name;     /* "tenant-manager" */
    const char *env_name; /* "TENANT_MANAGER", for SERPHONA_<ENV_NAME>_RPC */
    int http_port;        /* public HTTP port, 0 when the service has none */
    int rpc_port;         /* ZeroMQ RPC port, 0 when the service has none */
    int ops_port;         /* operations HTTP: health and metrics */
} sp_service_info_t;

/* The entry for name, or NULL for a name that is not part of the suite. */
const sp_service_info_t *sp_topology_find(const char *name);

/* The i-th service (i from 0), or NULL past the end. */
const sp_service_info_t *sp_topology_at(int i);

#endif
