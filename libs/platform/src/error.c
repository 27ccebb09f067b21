#include "platform/error.h"

const char *sp_strerror(int err)
{
    switch ((sp_err_t)err) {
    case SP_OK:
        return "success";
    case SP_ENOMEM:
        return "out of memory";
    case SP_EINVAL:
        return "invalid argument";
    case SP_ENOTFOUND:
        return "not found";
    case SP_ETIMEDOUT:
        return "deadline exceeded";
    case SP_EIO:
        return "input/output error";
    case SP_EUNAVAILABLE:
        return "dependency unavailable";
    case SP_ETOOBIG:
        return "too large";
    case SP_EEXISTS:
        return "already exists";
    case SP_ECONFIG:
        return "invalid configuration";
    case SP_EDB:
        return "database error";
    case SP_EPROTO:
        return "protocol error";
    case SP_EDENIED:
        return "permission denied";
    case SP_ESHUTDOWN:
        return "shutting down";
    case SP_EINTERNAL:
        return "internal error";
    }
    return "unknown error";
}
