/*
 * migrations.c — listing and reading migration files (migrations.h).
 */
#include "platform/migrations.h"
#include "platform/error.h"
#include "platform/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MIGRATION_MAX_BYTES (16 * 1024 * 1024)

static int migration_cmp(const void *a, const void *b)
{
    const sp_migration_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* NNN_name.sql: one or more digits, '_', one or more of [A-Za-z0-9_-],
 * ".sql". Returns 1 and *version, or 0. */
static int parse_migration_name(const char *name, int *version)
{
    const char *p = name;
    long long v = 0;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX)
            return 0;
        p++;
    }
    if (*p++ != '_')
        return 0;
    const char *start = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '-')
        p++;
    if (p == start || strcmp(p, ".sql") != 0)
        return 0;
    *version = (int)v;
    return 1;
}

void sp_migrations_free(sp_migration_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i].name);
    free(list);
}

int sp_migrations_list(const char *what, const char *dir, sp_migration_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        sp_log_error("%s: migrate: cannot open directory %s: %s", what, dir, strerror(errno));
        return SP_EIO;
    }
    sp_migration_t *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.' || len < 4 || strcmp(name + len - 4, ".sql") != 0)
            continue;
        int version;
        if (!parse_migration_name(name, &version)) {
            sp_log_error("%s: migrate: malformed migration file name %s/%s "
                         "(expected NNN_name.sql with name of [A-Za-z0-9_-])",
                         what, dir, name);
            rc = SP_EINVAL;
            goto done;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sp_migration_t *grown = realloc(list, ncap * sizeof(*list));
            if (!grown) {
                rc = SP_ENOMEM;
                goto done;
            }
            list = grown;
            cap = ncap;
        }
        list[n].name = strdup(name);
        if (!list[n].name) {
            rc = SP_ENOMEM;
            goto done;
        }
        list[n].version = version;
        n++;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), migration_cmp);
    for (size_t i = 1; i < n; i++) {
        if (list[i].version == list[i - 1].version) {
            sp_log_error("%s: migrate: %s and %s in %s share version %d", what, list[i - 1].name,
                         list[i].name, dir, list[i].version);
            rc = SP_EINVAL;
            goto done;
        }
    }
done:
    closedir(d);
    if (rc != 0) {
        sp_migrations_free(list, n);
        return rc;
    }
    *out = list;
    *count = n;
    return 0;
}

int sp_migrations_read(const char *what, const char *dir, const char *name, char **out)
{
    *out = NULL;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return SP_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sp_log_error("%s: migrate: cannot open %s: %s", what, path, strerror(errno));
        return SP_EIO;
    }
    int rc = SP_EIO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        goto done;
    if (st.st_size > MIGRATION_MAX_BYTES) {
        sp_log_error("%s: migrate: %s is larger than %d bytes", what, path, MIGRATION_MAX_BYTES);
        rc = SP_ETOOBIG;
        goto done;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = SP_ENOMEM;
        goto done;
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    if (got != (size_t)st.st_size) {
        sp_log_error("%s: migrate: short read on %s", what, path);
        free(buf);
        goto done;
    }
    buf[got] = '\0';
    *out = buf;
    rc = 0;
done:
    fclose(f);
    return rc;
}
