/*
 * error.h — the one error enum of libplatform.
 *
 * Every platform function that can fail returns an int: SP_OK (0) on success,
 * one of the negative SP_E* codes below on failure. Functions returning a
 * pointer return NULL on failure instead. Errors of libpq, librdkafka,
 * hiredis, mbedTLS, czmq and libmicrohttpd are translated to these codes at
 * the module boundary; the library's own text is logged there, not returned.
 */
#ifndef SP_ERROR_H
#define SP_ERROR_H

typedef enum {
    SP_OK = 0,
    SP_ENOMEM = -1,       /* allocation failed */
    SP_EINVAL = -2,       /* bad argument or malformed input */
    SP_ENOTFOUND = -3,    /* no such object, route or method */
    SP_ETIMEDOUT = -4,    /* a deadline passed */
    SP_EIO = -5,          /* a socket or file operation failed */
    SP_EUNAVAILABLE = -6, /* a dependency cannot be reached right now */
    SP_ETOOBIG = -7,      /* input over a configured size limit */
    SP_EEXISTS = -8,      /* already exists / duplicate */
    SP_ECONFIG = -9,      /* invalid configuration */
    SP_EDB = -10,         /* the database refused the statement */
    SP_EPROTO = -11,      /* a peer broke the wire protocol */
    SP_EDENIED = -12,     /* permission denied */
    SP_ESHUTDOWN = -13,   /* the component is shutting down */
    SP_EINTERNAL = -14,   /* a bug or an unexpected library failure */
} sp_err_t;

/* A static, human-readable description of an SP_* code; never NULL. */
const char *sp_strerror(int err);

#endif
