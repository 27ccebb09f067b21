/*
 * upload_rows.h — the rows of an uploaded file (CSV or JSON lines), each
 * turned into the JSON shape of one interaction (interaction.h), so uploads
 * and the API share one validator.
 *
 * JSON lines: one interaction object per line, exactly as in the API; blank
 * lines are skipped.
 *
 * CSV: a header line naming the columns (case-insensitive, any order);
 * external_id, channel and occurred_at are required, the rest optional:
 *   external_id, channel, occurred_at, language, customer_ref, subject,
 *   text, direction        the API member of the same name
 *   agent_id, agent_name   agent {id, name}
 *   tags                   tags separated by '|'  ("vip|renewal")
 *   metadata               a JSON object ({"queue":"billing"})
 *   metadata.<key>         one metadata entry per column
 *   rating, nps, csat      integers (nps/csat make the survey object)
 *   utterances             a JSON array, exactly as in the API
 *   transcript             one utterance per line: "[start-end] speaker:
 *                          text", "[start] speaker: text" or "speaker: text";
 *                          times in seconds ("12.5") or [hh:]mm:ss[.fff]; a
 *                          line without "speaker:" continues the one before
 * An empty cell is an absent member. A column the list does not name fails
 * the whole upload (a misspelt column must not silently drop data); so does
 * a missing required column or one named twice. A row with fewer cells than
 * the header has empty ones; more non-empty cells than the header is an error.
 *
 * Row numbers are the line of the file where the row starts (the CSV header
 * is line 1), what an editor shows.
 */
#ifndef TG_UPLOAD_ROWS_H
#define TG_UPLOAD_ROWS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "csv.h"
#include "interaction.h"
#include "platform/arena.h"

typedef enum { TG_FORMAT_CSV = 0, TG_FORMAT_JSONL = 1 } tg_format_t;

/* Row-level rejection codes, beside those of interaction.h. */
#define TG_E_INVALID_CSV     "invalid_csv_row"
#define TG_E_INVALID_JSON    "invalid_json"
#define TG_E_COLUMN_MISMATCH "column_count_mismatch"
/* File-level failure codes (the upload job fails). */
#define TG_E_EMPTY_FILE       "empty_file"
#define TG_E_UNKNOWN_COLUMN   "unknown_column"
#define TG_E_MISSING_COLUMN   "missing_column"
#define TG_E_DUPLICATE_COLUMN "duplicate_column"
#define TG_E_INVALID_ENCODING "invalid_encoding"

/* The reader of one file. Fields are private. */
typedef struct {
    tg_format_t format;
    const char *p, *end; /* JSON lines */
    size_t line;
    tg_csv_t csv;
    size_t n_cols;
    int *kinds; /* per column */
    const char **meta_keys;
} tg_rows_t;

/* "csv" / "jsonl" (also "ndjson", "jsonlines") -> format; 0 or SP_EINVAL. */
int tg_format_parse(const char *name, tg_format_t *out);
const char *tg_format_name(tg_format_t format);

/* Opens the len bytes at data (borrowed) as format. For CSV reads the header
 * (allocations from arena, which must live as long as the reader). Returns
 * 0, SP_EINVAL with *why (a file-level failure: empty file, bad header), or
 * SP_ENOMEM. */
int tg_rows_open(tg_rows_t *r, sp_arena_t *arena, tg_format_t format, const char *data, size_t len,
                 tg_reject_t *why);

/* Reads the next row. Returns 1 with *row (its line) and either *item (an
 * interaction object, freed with arena) or, when the row itself is
 * malformed, *item NULL and *why; 0 at the end; SP_ENOMEM. */
int tg_rows_next(tg_rows_t *r, sp_arena_t *arena, size_t *row, cJSON **item, tg_reject_t *why);

/* Parses a transcript (see above) into a new JSON array of utterances
 * (freed with arena). Returns 0, SP_EINVAL with *why, or SP_ENOMEM. */
int tg_transcript_parse(sp_arena_t *arena, const char *text, cJSON **out, tg_reject_t *why);

#endif
