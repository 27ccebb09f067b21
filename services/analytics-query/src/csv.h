/*
 * csv.h — RFC 4180 CSV fields for exports.
 *
 * A field is quoted ("...") when it holds a comma, a double quote, CR or LF,
 * or starts or ends with a space; quotes inside are doubled. Free text
 * (transcripts, names, tags) also gets the spreadsheet formula guard: a value
 * starting with =, +, -, @, TAB or CR is prefixed with a single quote, so
 * opening the file in a spreadsheet never runs it as a formula (OWASP "CSV
 * injection"). Numbers, ids and times are written without the guard, so a
 * negative sentiment stays a number. Rows end in CRLF.
 */
#ifndef AQ_CSV_H
#define AQ_CSV_H

#include "platform/buf.h"

/* Appends s (NULL = empty) as a free-text field. Returns the buffer's state
 * (0 or its sticky error). */
int aq_csv_text(sp_buf_t *b, const char *s);

/* Appends s (NULL = empty) as a field without the formula guard (numbers,
 * ids, times). */
int aq_csv_plain(sp_buf_t *b, const char *s);

/* Appends the separator before a field that is not the first of its row. */
int aq_csv_sep(sp_buf_t *b);

/* Ends a row. */
int aq_csv_eol(sp_buf_t *b);

#endif
