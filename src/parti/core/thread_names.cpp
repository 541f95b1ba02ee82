#include "parti/core/thread_names.h"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <latch>
#include <memory>

namespace parti {

void name_this_thread(const std::string& name) {
  constexpr std::size_t kMaxNameChars = 15;  // the kernel's limit, without the NUL
  pthread_setname_np(pthread_self(), name.substr(0, kMaxNameChars).c_str());
}

NamedThreadPool::NamedThreadPool(std::size_t threads, const std::string& name)
    : boost::asio::thread_pool(threads) {
  // Shared with the tasks: a thread may still be inside arrive_and_wait
  // when this constructor's wait returns.
  auto all_named = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(threads));
  for (std::size_t i = 0; i < threads; ++i) {
    boost::asio::post(*this, [all_named, name] {
      name_this_thread(name);
      all_named->arrive_and_wait();
    });
  }
  all_named->wait();
}

}  // namespace parti
