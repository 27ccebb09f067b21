/*
 * fuzz_jwt_claims.c — the claim checks of JWT verification behind a valid
 * signature: fuzz_jwt.c built with FZ_JWT_CLAIMS (see there).
 */
#define FZ_JWT_CLAIMS 1
#include "fuzz_jwt.c" /* NOLINT(bugprone-suspicious-include) */
