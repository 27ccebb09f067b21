/*
 * text.h — small checks and hashes over strings that arrive from outside.
 *
 * Every function is pure and thread-safe: no allocation, no failure mode but
 * the answer.
 */
#ifndef SP_TEXT_H
#define SP_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s is a UUID in canonical text form (8-4-4-4-12 hex digits, either
 * case, any version), else 0; NULL gives 0. Ids in paths, bodies and events
 * are checked with this before they reach a query. */
int sp_uuid_valid(const char *s);

/* 1 when the len bytes at s are valid UTF-8 (RFC 3629: shortest form only,
 * no encoded surrogates, nothing past U+10FFFF) and hold no NUL byte, else
 * 0. Every string that reaches a query or a stored row passes this. */
int sp_utf8_valid(const char *s, size_t len);

/* The one normalised form of an e-mail address, used wherever an address is
 * a key (login lookup, lockout counters, uniqueness): leading and trailing
 * blanks (spaces, tabs) removed, lowercased; 3 to 254 bytes, exactly one '@'
 * with text on both sides, no control bytes, blanks or the characters
 * "<>,; inside, not ending in '.'. Writes it NUL-terminated into out (at least
 * SP_EMAIL_MAX bytes) and returns 0, or returns SP_EINVAL (out then holds
 * nothing useful). */
#define SP_EMAIL_MAX 255
int sp_email_normalize(const char *in, char out[SP_EMAIL_MAX]);

/* 32-bit FNV-1a of the NUL-terminated s; for picking a slot or a shard,
 * never for anything an attacker must not be able to collide. */
uint32_t sp_fnv1a32(const char *s);

/* 64-bit FNV-1a of len bytes at data; same caveat as sp_fnv1a32. */
uint64_t sp_fnv1a64(const void *data, size_t len);

#endif
