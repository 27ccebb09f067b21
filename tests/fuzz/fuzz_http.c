/*
 * fuzz_http.c — the HTTP server end to end: raw bytes on a TCP connection to
 * a live sp_http_server (libplatform http.c over libmicrohttpd) on loopback,
 * so MHD's parser, the RFC 9112 framing checks (http_framing.c), request
 * building, CORS preflight, body limits, routing and the response all run
 * as in a service. The route table is fuzz_routes.h, with CORS on for one
 * origin and a 4 KiB body limit.
 *
 * Per input: connect, send everything, half-close, read the first answer
 * (an input the server is still waiting on after 20 ms is dropped:
 * libmicrohttpd keeps such a connection open until its idle timeout, so
 * those inputs run at ~40/s; complete requests at thousands). Oracle beyond the sanitizers:
 * whatever comes back is empty or starts with an HTTP/1.x status line, and the server keeps
 * answering (a hung server shows as libFuzzer's timeout).
 */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "platform/http.h"
#include "platform/request.h"
#include "platform/router.h"

#include "fuzz_routes.h"

static sp_router_t *router;
static sp_http_server_t *srv;
static int port;

static sp_handler_result_t handler(sp_request_t *req, void *ud)
{
    (void)ud;
    size_t len;
    (void)sp_request_body(req, &len);
    cJSON *json = NULL;
    if (len && sp_request_json(req, &json) != 0)
        return SP_HANDLER_DONE; /* answered 400 */
    const char *q = sp_request_query(req, "q");
    sp_response_set_body(sp_request_response(req), q ? q : "ok", q ? strlen(q) : 2, "text/plain");
    return SP_HANDLER_DONE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    router = sp_router_new();
    if (!router || fz_add_routes(router, handler) != 0)
        abort();
    sp_http_options_t o = {.port = 0,
                           .threads = 1,
                           .max_body_bytes = 4096,
                           .connection_timeout_s = 5,
                           .cors_origins = "https://app.example",
                           .service = "fuzz",
                           .shutdown_grace_ms = 100};
    srv = sp_http_server_new(&o, router);
    if (!srv || sp_http_server_start(srv) != 0)
        abort();
    port = sp_http_server_port(srv);
    return 0;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server may answer and close before reading all */
        p += w, n -= (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer's timeout alarm interrupts system calls: every one here
     * retries on EINTR (a connect is started afresh). */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 4};
    int fd;
    for (;;) {
        if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
            abort();
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        if (errno != EINTR) {
            perror("connect");
            abort();
        }
        close(fd);
    }
    send_all(fd, data, size);
    shutdown(fd, SHUT_WR);
    /* Read the first response: its head, then Content-Length bytes (every
     * response of sp_http has one). A kept-alive connection stays open
     * after it, so its end is not the end of the stream. */
    char buf[8192];
    size_t got = 0, need = 0;
    for (;;) {
        /* libmicrohttpd does not close a half-closed connection whose request
         * is incomplete (it waits for the idle timeout), so silence right
         * after sending means "waiting for more": give up on this one. */
        if (!got) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ready;
            while ((ready = poll(&pfd, 1, 20)) < 0 && errno == EINTR)
                ; /* libFuzzer's timeout alarm */
            if (ready <= 0)
                break;
        }
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == ECONNRESET)
            break; /* closed with our bytes unread: also an answer */
        if (r < 0) {
            fprintf(stderr, "no complete answer and no close within %ld s (have %zu bytes)\n",
                    (long)tv.tv_sec, got);
            abort();
        }
        if (r == 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (!need) {
            const char *end = strstr(buf, "\r\n\r\n");
            if (end) {
                /* No body after the head: the answer to HEAD, 1xx, 204, 304. */
                long status = got > 12 ? strtol(buf + 9, NULL, 10) : 0;
                int bodiless = (size >= 5 && memcmp(data, "HEAD ", 5) == 0) || status < 200 ||
                               status == 204 || status == 304;
                const char *cl = strcasestr(buf, "\r\ncontent-length:");
                need = (size_t)(end + 4 - buf) +
                       (!bodiless && cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
            }
        }
        if (need && got >= need)
            break;
        if (got == sizeof buf - 1)
            break; /* enough to judge */
    }
    close(fd);
    if (got && (got < 9 || memcmp(buf, "HTTP/1.", 7) != 0)) {
        fprintf(stderr, "not an HTTP response: %.*s\n", (int)(got < 64 ? got : 64), buf);
        abort();
    }
    return 0;
}
