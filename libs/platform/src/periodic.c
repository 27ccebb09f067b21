/*
 * periodic.c — see platform/periodic.h.
 */
#include "platform/periodic.h"

#include "platform/clock.h"
#include "platform/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sp_periodic {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    int stop, woken;
    int64_t first_delay_ms, interval_ms;
    sp_periodic_fn fn;
    void *ud;
    char name[16];
};

static void *periodic_main(void *arg)
{
    sp_periodic_t *p = arg;
    pthread_setname_np(pthread_self(), p->name);
    int64_t wait_ms = p->first_delay_ms;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until = sp_clock_timespec_in(CLOCK_MONOTONIC, wait_ms);
        while (wait_ms > 0 && !p->stop && !p->woken)
            if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
                break;
        if (p->stop)
            break;
        p->woken = 0;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ud);
        pthread_mutex_lock(&p->mu);
        wait_ms = p->interval_ms;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sp_periodic_t *sp_periodic_start(const char *name, int64_t first_delay_ms, int64_t interval_ms,
                                 sp_periodic_fn fn, void *ud)
{
    if (!fn || interval_ms <= 0 || first_delay_ms < 0) {
        sp_log_error("periodic %s: a task and a positive interval are required", name ? name : "?");
        return NULL;
    }
    sp_periodic_t *p = calloc(1, sizeof *p);
    if (!p)
        goto fail_alloc;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "periodic");
    p->first_delay_ms = first_delay_ms;
    p->interval_ms = interval_ms;
    p->fn = fn;
    p->ud = ud;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0)
        goto fail_thread;
    return p;

fail_thread:
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
fail_alloc:
    sp_log_error("periodic %s: cannot start its thread", name ? name : "?");
    return NULL;
}

void sp_periodic_wake(sp_periodic_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->woken = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void sp_periodic_destroy(sp_periodic_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_periodic_t *p = *self_p;
    *self_p = NULL;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
