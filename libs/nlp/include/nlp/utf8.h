/*
 * utf8.h — the UTF-8 primitives every other step is built on.
 *
 * What it does: decodes UTF-8 strictly (overlong forms, surrogates, code
 * points past U+10FFFF and truncated sequences are invalid), repairs a byte
 * string into valid UTF-8, and classifies and case-folds code points.
 *
 * Folding ("Não" -> "nao", "CANCELACIÓN" -> "cancelacion", "Straße" ->
 * "strasse") lowercases and strips diacritics so that matching is case- and
 * accent-insensitive: customers often type without accents.
 *
 * Where it stops: lowercasing and accent stripping cover ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic capitals and the combining diacritics
 * block (U+0300..U+036F, so decomposed "na\u0303o" folds like "não"); other
 * scripts are kept as they are. There is no Unicode normalisation and no
 * full Unicode property table: letters are "not punctuation, space, symbol
 * or emoji" above U+00FF, which is right for words in any script but does
 * not segment scripts written without spaces (Chinese, Japanese, Thai).
 */
#ifndef NLP_UTF8_H
#define NLP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NLP_UTF8_REPLACEMENT 0xFFFDu

/* Decodes the code point at s (len >= 1 bytes available) into *cp and
 * returns the bytes it takes (1..4). An invalid or truncated sequence gives
 * *cp = U+FFFD and returns 1, so a caller always makes progress. len 0
 * returns 0. */
size_t nlp_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Encodes cp (<= U+10FFFF, not a surrogate; otherwise U+FFFD is written)
 * into out and returns the bytes written (1..4). */
size_t nlp_utf8_encode(uint32_t cp, char out[4]);

/* True when the len bytes at s are valid UTF-8 (NUL bytes are valid). */
bool nlp_utf8_valid(const char *s, size_t len);

/* A malloc'd, NUL-terminated copy of the len bytes at s in which every
 * invalid sequence and every NUL byte is replaced by U+FFFD, so the result
 * is valid UTF-8 and a C string. Its length goes to *out_len when not NULL.
 * The caller frees it. NULL when out of memory. */
char *nlp_utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* Simple lowercase mapping (see the header comment for its coverage). */
uint32_t nlp_utf8_lower(uint32_t cp);

/* True when cp is an uppercase letter (lower(cp) != cp). */
bool nlp_utf8_is_upper(uint32_t cp);

/* True for letters (ASCII, Latin, Greek, Cyrillic and any other code point
 * that is not punctuation, space, symbol, digit, emoji or a control). */
bool nlp_utf8_is_letter(uint32_t cp);

/* True for ASCII digits 0-9 (other numerals are not treated as digits). */
bool nlp_utf8_is_digit(uint32_t cp);

/* True for Unicode white space (ASCII, NBSP, U+2000..U+200A, line/paragraph
 * separators, ideographic space). */
bool nlp_utf8_is_space(uint32_t cp);

/* True for combining diacritical marks U+0300..U+036F. */
bool nlp_utf8_is_mark(uint32_t cp);

/* True for pictographic emoji (U+1F000..U+1FAFF minus skin-tone modifiers,
 * U+2600..U+27BF, U+2B00..U+2BFF stars/arrows, U+2300..U+23FF). Joiners,
 * variation selectors and skin tones are not emoji themselves: see
 * nlp_utf8_is_emoji_modifier. */
bool nlp_utf8_is_emoji(uint32_t cp);

/* True for code points that only modify a neighbouring emoji: ZWJ U+200D,
 * variation selectors U+FE0E/U+FE0F, skin tones U+1F3FB..U+1F3FF, tags
 * U+E0020..U+E007F, keycap U+20E3. */
bool nlp_utf8_is_emoji_modifier(uint32_t cp);

/* Folds cp for matching: lowercases it, strips its diacritics and writes
 * the result (0, 1 or 2 ASCII or other code points: "ß" -> "ss", "æ" ->
 * "ae", a combining mark -> nothing, U+2019 -> "'") to out. Returns how many
 * were written. */
size_t nlp_utf8_fold(uint32_t cp, uint32_t out[2]);

/* Folds the len bytes at s into a malloc'd NUL-terminated string (invalid
 * bytes become U+FFFD), with its length in *out_len when not NULL. The
 * caller frees it; NULL when out of memory. */
char *nlp_utf8_fold_str(const char *s, size_t len, size_t *out_len);

#endif
