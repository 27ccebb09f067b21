/*
 * auth-gateway — the public HTTP front door (:8080). It forwards each request
 * by path prefix over ZeroMQ to the service that owns it and resumes the HTTP
 * connection when the reply arrives.
 */
#include "platform/service.h"

#include "proxy.h"

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("auth-gateway", argc, argv);
    if (!svc)
        return 1;
    if (sp_service_use_redis(svc) != 0 || gw_proxy_register(svc) != 0 ||
        sp_service_serve_http(svc) != 0)
        return sp_service_fail(svc);
    return sp_service_run(svc);
}
