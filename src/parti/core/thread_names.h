// core: names for the threads a process runs, as `top -H`, `ps -L`, perf and
// gdb show them; without one every thread carries the process's name, and a
// profile cannot tell the event loop from a pool or a pool from another.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <string>

namespace parti {

// Names the calling thread; a name longer than the kernel's 15 characters is
// cut to them.
void name_this_thread(const std::string& name);

// An asio::thread_pool whose every thread carries `name`. The constructor
// returns once each thread has taken its name: one task per thread, each
// waiting for the others, so no thread can take two of them.
class NamedThreadPool : public boost::asio::thread_pool {
 public:
  NamedThreadPool(std::size_t threads, const std::string& name);
};

}  // namespace parti
