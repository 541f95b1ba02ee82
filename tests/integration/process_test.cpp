// partictl's process control against real processes: what a started process
// inherits from the process that started it.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>

#include "partid/cli/process.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;

// A child started while its starter holds a descriptor open (here a pipe's
// write end, opened without O_CLOEXEC as Asio opens its sockets) must not
// hold it too: the starter's close would then never reach the other end (a
// test proxy's dropped connection stayed open in every node it started).
TEST(SpawnDetachedTest, AStartedProcessHoldsNoDescriptorOfItsStarter) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  parti::testing::TempDir dir;
  std::string error;
  const pid_t child = partid::cli::spawn_detached({"/bin/sleep", "30"}, dir.sub("log"), &error);
  ASSERT_GT(child, 0) << error;
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLHUP) << "the child holds the pipe's write end";
  ::close(fds[0]);
  EXPECT_TRUE(partid::cli::stop_process(child, 5000ms));
}

}  // namespace
