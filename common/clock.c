/* clock.c -- monotonic and wall time, and the process's one random generator. See clock.h. */
#include "common/clock.h"

#include <time.h>

int64_t fl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t fl_mono_to_wall_us(int64_t mono)
{
    return mono ? fl_wall_us() - (fl_now_us() - mono) : 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

void fl_rand_seed(uint64_t seed) { rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL; }

double fl_rand01(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 2685821657736338717ULL;
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

int64_t fl_jitter_us(int64_t jitter_us)
{
    return jitter_us ? (int64_t)((fl_rand01() * 2.0 - 1.0) * (double)jitter_us) : 0;
}
