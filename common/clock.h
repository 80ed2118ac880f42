/* clock.h -- the daemon's time, and the random draws that decide when and whether.
 *
 * Time: every instant the daemon keeps (a connection's open, a fault's window, a request's
 * head) is monotonic microseconds (fl_now_us), immune to clock steps; the wall clock is read
 * only where a time leaves the process (the record, logs) and a kept instant is turned into
 * wall time at that moment (fl_mono_to_wall_us). Nothing here caches: each call is one
 * clock_gettime (vDSO, no system call).
 *
 * Draws: one xorshift64* generator for the process, fast and not cryptographic: a fault's
 * probability roll (fl_rand01) and a delay's jitter (fl_jitter_us). The server seeds it once
 * (fl_rand_seed); a harness may seed it to replay a run.
 */
#ifndef FL_CLOCK_H
#define FL_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds; wall-clock microseconds; a monotonic instant as wall clock (0 stays 0). */
int64_t fl_now_us(void);
int64_t fl_wall_us(void);
int64_t fl_mono_to_wall_us(int64_t mono);

/* Seeds the generator (0 picks a fixed default seed). */
void fl_rand_seed(uint64_t seed);
/* Uniform random double in [0,1). */
double fl_rand01(void);
/* A jitter draw: uniform in [-jitter_us, +jitter_us]; 0 (and no draw) when jitter_us is 0. */
int64_t fl_jitter_us(int64_t jitter_us);

#endif
