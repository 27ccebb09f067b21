/*
 * periodic.h — a task a service runs in the background on a fixed interval
 * (retention passes, reconciliation, lag measurement, purges).
 *
 * The task runs on a thread of its own: first after first_delay_ms (0 = at
 * once), then every interval after the previous run ended (so a slow run never overlaps the
 * next), until the task is destroyed. Destroying waits for a run in progress
 * to finish, so whatever fn uses may be freed right after. The wait between
 * runs is on the monotonic clock, so setting the system clock neither skips
 * nor repeats a run.
 */
#ifndef SP_PERIODIC_H
#define SP_PERIODIC_H

#include <stdint.h>

typedef struct sp_periodic sp_periodic_t;

/* One run of the task; ud is what sp_periodic_start was given. */
typedef void (*sp_periodic_fn)(void *ud);

/* Starts fn on its own thread (named name, at most 15 bytes shown by the
 * OS), running it after first_delay_ms (>= 0) and then every interval_ms
 * (> 0). NULL (logged) when the thread cannot be made or memory runs out. */
sp_periodic_t *sp_periodic_start(const char *name, int64_t first_delay_ms, int64_t interval_ms,
                                 sp_periodic_fn fn, void *ud);

/* Runs the task again as soon as the current wait or run ends (e.g. on a
 * change event). Thread-safe; accepts NULL. */
void sp_periodic_wake(sp_periodic_t *p);

/* Stops the task, waiting for a run in progress, and frees it. Accepts NULL
 * and sets *self_p to NULL. */
void sp_periodic_destroy(sp_periodic_t **self_p);

#endif
