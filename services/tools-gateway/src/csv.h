/*
 * csv.h — a reader of CSV text (RFC 4180 and what spreadsheets export),
 * record by record, over a buffer held in memory.
 *
 * Accepted: a UTF-8 byte-order mark at the start (skipped); fields separated
 * by ',' — or ';' or TAB, detected from the first line when the caller does
 * not say; fields quoted with '"' holding separators, quotes doubled ("")
 * and line breaks; records ending in LF, CRLF or a lone CR, the last one with
 * or without a line break. Empty lines are skipped. A '"' inside an unquoted
 * field is kept as it is (exports do that). Refused, record by record:
 * characters after a closing quote other than a separator or line break
 * (the rest of that line is skipped), and a quote still open at the end of
 * the text. Each record says on which line it starts, for error reports.
 */
#ifndef TG_CSV_H
#define TG_CSV_H

#include <stddef.h>

#include "platform/arena.h"

#define TG_CSV_MAX_FIELDS 256

/* The reader's state, embedded by value. Fields are private. */
typedef struct {
    const char *p, *end;
    size_t line; /* line number of *p, from 1 */
    char delim;
} tg_csv_t;

typedef struct {
    char **fields; /* NUL-terminated copies in the arena given to tg_csv_next */
    size_t n;
    size_t line; /* where the record starts, from 1 */
} tg_csv_record_t;

/* Starts reading the len bytes at data (borrowed: keep them alive while
 * reading). delim is ',', ';' or '\t', or 0 to pick the one of them found
 * most often outside quotes on the first line (',' on a tie or none). */
void tg_csv_init(tg_csv_t *r, const char *data, size_t len, char delim);

/* The separator in use. */
char tg_csv_delimiter(const tg_csv_t *r);

/* Reads the next record into *rec (fields allocated from arena). Returns 1
 * for a record, 0 at the end of the text, SP_EINVAL for a malformed record
 * (rec->line says where it started; reading goes on after it), SP_ETOOBIG for
 * a record over TG_CSV_MAX_FIELDS fields (skipped likewise), or SP_ENOMEM. */
int tg_csv_next(tg_csv_t *r, sp_arena_t *arena, tg_csv_record_t *rec);

#endif
