#include "platform/topology.h"

#include <string.h>

/* Ports as in DESIGN.md "Names and ports". analytics-processor has an RPC
 * port too, for its ping and status only. */
static const sp_service_info_t SERVICES[] = {
    {"auth-gateway", "AUTH_GATEWAY", 8080, 0, 9101},
    {"tenant-manager", "TENANT_MANAGER", 0, 7102, 9102},
    {"billing", "BILLING", 0, 7103, 9103},
    {"agent-orchestrator", "AGENT_ORCHESTRATOR", 0, 7104, 9104},
    {"tools-gateway", "TOOLS_GATEWAY", 8090, 7105, 9105},
    {"analytics-processor", "ANALYTICS_PROCESSOR", 0, 7106, 9106},
    {"analytics-query", "ANALYTICS_QUERY", 0, 7107, 9107},
};

const sp_service_info_t *sp_topology_find(const char *name)
{
    for (size_t i = 0; i < sizeof(SERVICES) / sizeof(*SERVICES); i++)
        if (strcmp(SERVICES[i].name, name) == 0)
            return &SERVICES[i];
    return NULL;
}

const sp_service_info_t *sp_topology_at(int i)
{
    if (i < 0 || (size_t)i >= sizeof(SERVICES) / sizeof(*SERVICES))
        return NULL;
    return &SERVICES[i];
}
