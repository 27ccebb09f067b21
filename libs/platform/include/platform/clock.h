/*
 * clock.h — the time of day and a monotonic clock, in milliseconds.
 *
 * Wall time (CLOCK_REALTIME) is for what leaves the process: timestamps in
 * events and logs, RPC deadlines carried in an envelope, cache expiry shared
 * through Redis. Monotonic time (CLOCK_MONOTONIC) is for what stays inside
 * it: timeouts, back-off, durations in metrics, in-process cache ages. A
 * monotonic clock never jumps when the system clock is set, so a duration
 * computed from it can never be negative. Every function is thread-safe and
 * cannot fail.
 */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sp_clock_wall_ms(void);

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
int64_t sp_clock_mono_ms(void);

/* Microseconds since an arbitrary fixed point (CLOCK_MONOTONIC), for
 * durations too short for milliseconds. */
int64_t sp_clock_mono_us(void);

/* Seconds, with fractions, elapsed since a sp_clock_mono_us() reading: the
 * unit Prometheus histograms take. */
double sp_clock_elapsed_s(int64_t start_mono_us);

/* Milliseconds left until deadline_wall_ms (a wall-clock deadline such as an
 * RPC envelope's): 0 when it has passed, -1 when deadline_wall_ms is 0 (no
 * deadline). */
int64_t sp_clock_remaining_ms(int64_t deadline_wall_ms);

/* The clk time (CLOCK_REALTIME or CLOCK_MONOTONIC) ms milliseconds from
 * now, as pthread_cond_timedwait takes it: the condition variable's clock
 * decides which (CLOCK_REALTIME unless set with pthread_condattr_setclock). */
struct timespec sp_clock_timespec_in(clockid_t clk, int64_t ms);

#endif
