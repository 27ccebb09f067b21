/*
 * http_framing.h — the request-head checks RFC 9112 asks of a server and
 * libmicrohttpd 0.9.75 leaves to the application (private to libplatform).
 *
 * A request whose framing two parties could read differently is how a
 * request is smuggled past a proxy: two Content-Length headers, both
 * Content-Length and Transfer-Encoding, a header name with white space before
 * its colon, a header value with a bare CR or a NUL, HTTP/1.1 without exactly
 * one Host. Such a request is answered 400 and its connection closed, before
 * its body is read (RFC 9112 sections 3.2, 5.1, 6.1, 6.3).
 */
#ifndef SP_HTTP_FRAMING_H
#define SP_HTTP_FRAMING_H

#include <microhttpd.h>

/* NULL when the head of the request on conn (HTTP version text `version`) is
 * sound; otherwise a static, human-readable reason for the 400. Reads only
 * what MHD has parsed; thread-safe for distinct connections. */
const char *sp_http_framing_problem(struct MHD_Connection *conn, const char *version);

#endif
