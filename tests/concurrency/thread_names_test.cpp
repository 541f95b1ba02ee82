// Thread names (parti/core/thread_names.h): every thread of a NamedThreadPool
// carries the pool's name, as a profiler or `top -H` reads it, and a name
// past the kernel's 15 characters is cut instead of refused.
#include <gtest/gtest.h>
#include <pthread.h>

#include <boost/asio/post.hpp>
#include <future>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parti/core/thread_names.h"

namespace parti {
namespace {

std::string this_thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

TEST(ThreadNames, EveryThreadOfANamedPoolCarriesItsName) {
  constexpr size_t kThreads = 3;
  NamedThreadPool pool(kThreads, "test-pool");
  // One task per thread: each waits until all have started, so the three
  // run on three different threads.
  std::latch all_started(kThreads);
  std::vector<std::future<std::pair<std::thread::id, std::string>>> seen;
  for (size_t i = 0; i < kThreads; ++i) {
    auto task = std::make_shared<std::packaged_task<std::pair<std::thread::id, std::string>()>>(
        [&all_started] {
          all_started.arrive_and_wait();
          return std::pair{std::this_thread::get_id(), this_thread_name()};
        });
    seen.push_back(task->get_future());
    boost::asio::post(pool, [task] { (*task)(); });
  }
  std::set<std::thread::id> threads;
  for (auto& f : seen) {
    auto [id, name] = f.get();
    threads.insert(id);
    EXPECT_EQ(name, "test-pool");
  }
  EXPECT_EQ(threads.size(), kThreads);
  pool.join();
}

TEST(ThreadNames, ANameLongerThanTheKernelTakesIsCut) {
  std::string name;
  std::thread([&] {
    name_this_thread("a-name-longer-than-fifteen");
    name = this_thread_name();
  }).join();
  EXPECT_EQ(name, "a-name-longer-t");
}

}  // namespace
}  // namespace parti
