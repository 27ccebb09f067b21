/*
 * http_hello — the baseline of the HTTP benchmark: a bare libmicrohttpd server
 * answering "hello" in the same threading mode as the platform (epoll, thread
 * pool). Usage: http_hello PORT THREADS; stops on SIGTERM/SIGINT.
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum MHD_Result hello(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data, (void)upload_size;
    (void)con_cls;
    static const char body[] = "{\"hello\":\"world\"}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, hello, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)strtol(argv[2], NULL, 10), MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot start on port %s\n", argv[1]);
        return 1;
    }
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
