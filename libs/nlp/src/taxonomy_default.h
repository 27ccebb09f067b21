/*
 * taxonomy_default.h (internal) — the built-in customer-service taxonomy.
 * Original work for this library, MIT licence (see libs/nlp/README.md).
 */
#ifndef NLP_TAXONOMY_DEFAULT_H
#define NLP_TAXONOMY_DEFAULT_H

#include <stddef.h>

typedef struct {
    const char *id;
    const char *name;
    int kind;       /* nlp_category_kind_t */
    const char *en; /* patterns separated by '|' */
    const char *pt;
    const char *es;
} default_category_t;

extern const default_category_t nlp_default_taxonomy[];
extern const size_t nlp_default_taxonomy_len;

#endif
