/*
 * clock.c — see platform/clock.h.
 */
#include "platform/clock.h"

#include <time.h>

static int64_t read_ns(clockid_t clk)
{
    struct timespec ts;
    /* clock_gettime cannot fail for these two clocks on Linux. */
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sp_clock_wall_ms(void)
{
    return read_ns(CLOCK_REALTIME) / 1000000;
}

int64_t sp_clock_mono_ms(void)
{
    return read_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t sp_clock_mono_us(void)
{
    return read_ns(CLOCK_MONOTONIC) / 1000;
}

double sp_clock_elapsed_s(int64_t start_mono_us)
{
    return (double)(sp_clock_mono_us() - start_mono_us) / 1e6;
}

int64_t sp_clock_remaining_ms(int64_t deadline_wall_ms)
{
    if (deadline_wall_ms == 0)
        return -1;
    int64_t left = deadline_wall_ms - sp_clock_wall_ms();
    return left > 0 ? left : 0;
}

struct timespec sp_clock_timespec_in(clockid_t clk, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    if (ms > 0) {
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    return ts;
}
