/*
 * http_framing.c — see http_framing.h.
 */
#include "http_framing.h"

#include <string.h>
#include <strings.h>

typedef struct {
    int content_length;
    int transfer_encoding;
    int host;
    const char *te_value;
    const char *problem;
} head_t;

/* RFC 9110 section 5.6.2: a field name is a token; anything else (white
 * space before the colon above all) is refused, not trimmed. */
static int is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c && strchr(extra, c))))
            return 0;
    }
    return 1;
}

/* RFC 9110 section 5.5: a field value holds visible characters, SP and HTAB
 * (and obs-text); CR, LF, NUL and other controls are refused. The length MHD
 * reports reveals a NUL that would cut the C string short. */
static int value_ok(const char *v, size_t n)
{
    if (!v)
        return n == 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    head_t *h = cls;
    (void)kind;
    if (!key || !is_token(key, key_size)) {
        h->problem = "a header name is not a token (white space before the colon?)";
        return MHD_NO;
    }
    if (!value_ok(value, value_size)) {
        h->problem = "a header value holds a control character (NUL, CR or LF)";
        return MHD_NO;
    }
    if (strcasecmp(key, "Content-Length") == 0)
        h->content_length++;
    else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        h->transfer_encoding++;
        h->te_value = value;
    } else if (strcasecmp(key, "Host") == 0)
        h->host++;
    return MHD_YES;
}

const char *sp_http_framing_problem(struct MHD_Connection *conn, const char *version)
{
    head_t h = {0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, each_header, &h);
    if (h.problem)
        return h.problem;
    if (h.content_length > 1)
        return "more than one Content-Length header";
    if (h.transfer_encoding && h.content_length)
        return "both Content-Length and Transfer-Encoding";
    if (h.transfer_encoding > 1 ||
        (h.transfer_encoding && strcasecmp(h.te_value ? h.te_value : "", "chunked") != 0))
        return "the only transfer coding accepted is one \"chunked\"";
    if (h.host > 1)
        return "more than one Host header";
    if (h.host == 0 && version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
        return "an HTTP/1.1 request without a Host header";
    return NULL;
}
