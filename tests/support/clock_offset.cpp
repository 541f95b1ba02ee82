// tests: a library preloaded into a partid process (LD_PRELOAD) that sets its
// wall clock PARTI_CLOCK_OFFSET_MS from the machine's, for tests of nodes
// whose clocks disagree; monotonic clocks stay the machine's. libfaketime does
// this job but cannot start in a process that uses jemalloc, as partid does
// (jemalloc reads the clock while libfaketime is still resolving it, and
// libfaketime gives up: its issue #130). The clock calls here read the time
// with the system call itself, so they never allocate nor resolve a symbol.
// A wait until a wall-clock time (pthread_cond_timedwait, which nats.c's
// timeouts use) is moved back by the offset, since the kernel times it on its
// own clock; it resolves the real function once, on its first call.
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

namespace {

long long offset_ms() {
  static const long long offset = [] {
    const char* value = std::getenv("PARTI_CLOCK_OFFSET_MS");
    return value ? std::atoll(value) : 0LL;
  }();
  return offset;
}

bool is_wall_clock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE;
}

void shift(timespec* ts, long long ms) {
  long long ns = ts->tv_nsec + (ms % 1000) * 1'000'000;
  long long s = ts->tv_sec + ms / 1000;
  if (ns < 0) {
    ns += 1'000'000'000;
    s -= 1;
  } else if (ns >= 1'000'000'000) {
    ns -= 1'000'000'000;
    s += 1;
  }
  ts->tv_sec = static_cast<time_t>(s);
  ts->tv_nsec = static_cast<long>(ns);
}

int real_clock_gettime(clockid_t clock, timespec* ts) {
  return static_cast<int>(syscall(SYS_clock_gettime, clock, ts));
}

}  // namespace

extern "C" int clock_gettime(clockid_t clock, timespec* ts) noexcept {
  const int rc = real_clock_gettime(clock, ts);
  if (rc == 0 && is_wall_clock(clock)) shift(ts, offset_ms());
  return rc;
}

extern "C" int gettimeofday(timeval* tv, void* /*tz*/) noexcept {
  timespec ts{};
  const int rc = clock_gettime(CLOCK_REALTIME, &ts);
  if (rc == 0) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return rc;
}

extern "C" int pthread_cond_timedwait(pthread_cond_t* cond, pthread_mutex_t* mutex,
                                      const timespec* abstime) {
  using Wait = int (*)(pthread_cond_t*, pthread_mutex_t*, const timespec*);
  static const auto real =
      reinterpret_cast<Wait>(dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2"));
  // A condition made to wait on the monotonic clock (Asio's, for one) is
  // left alone: glibc (2.25 on) keeps its clock in bit 1 of __wrefs.
  constexpr unsigned kMonotonic = 2;
  if (__atomic_load_n(&cond->__data.__wrefs, __ATOMIC_RELAXED) & kMonotonic) {
    return real(cond, mutex, abstime);
  }
  timespec machine = *abstime;
  shift(&machine, -offset_ms());
  return real(cond, mutex, &machine);
}

extern "C" time_t time(time_t* out) noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
