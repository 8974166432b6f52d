#include <time.h>
#include "calib.h"

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Keeps the compiler from dropping the loop. */
static volatile uint64_t calib_sink;

/* A xorshift walk over a 16 KiB table: integer arithmetic and cached
 * loads and stores, the mix of a worker's busy loop, the same work every
 * time (no input, no syscalls). */
static void calib_loop(void)
{
	uint32_t table[4096] = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;

	for (uint32_t i = 0; i < KT_CALIB_ITERS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		table[x & 4095] += i;
		acc += table[(x >> 20) & 4095];
	}
	calib_sink = acc;
}

uint64_t kt_calib_measure(unsigned reps)
{
	uint64_t best = UINT64_MAX;

	for (unsigned r = 0; r < (reps ? reps : 1); r++) {
		uint64_t t0 = now_ns(), t;

		calib_loop();
		t = now_ns() - t0;
		if (t < best)
			best = t;
	}
	return best ? best : 1;
}

uint64_t kt_calib_host_ns(void)
{
	static uint64_t host;

	if (!host)
		host = kt_calib_measure(KT_CALIB_HOST_REPS);
	return host;
}

double kt_calib_factor(uint64_t guest_ns, uint64_t host_ns)
{
	double f;

	if (!guest_ns || !host_ns)
		return 1;
	f = (double)guest_ns / (double)host_ns;
	if (f < 1)
		return 1;
	return f > KT_CALIB_MAX_FACTOR ? KT_CALIB_MAX_FACTOR : f;
}
