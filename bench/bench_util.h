// File: bench_util.h
//
// Small helpers shared by the benchmark programs.

#ifndef SWINGSETD_BENCH_BENCH_UTIL_H_
#define SWINGSETD_BENCH_BENCH_UTIL_H_

#include <time.h>

namespace swingset {

// CPU seconds (user + system) used so far by the calling thread. Unlike wall time it does not
// count time spent waiting for a core, so it varies much less on a machine shared with other
// work (helper threads, e.g. the JS GC's or the kernel's activity-hash worker, are not
// included).
inline double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// CPU seconds (user + system) used so far by all threads of the process.
inline double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace swingset

#endif  // SWINGSETD_BENCH_BENCH_UTIL_H_
