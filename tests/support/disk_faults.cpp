// tests: a library preloaded into a partid process (LD_PRELOAD) that makes its
// disk fail on demand, as a full disk does: once the file named by
// PARTI_DISK_FAIL_FLAG exists, every write, sync and preallocation of a
// regular file under the directory PARTI_DISK_FAIL_DIR fails with ENOSPC;
// once the file is gone, they work again. Or that makes it hang, as a disk
// (or a network volume) that stops answering does: while the file named by
// PARTI_DISK_STALL_FLAG exists, those calls block, and go on once it is gone.
// Or slow, as a failing or overloaded disk that still answers: while the file
// named by PARTI_DISK_SLOW_FLAG exists, each of those calls first waits
// PARTI_DISK_SLOW_MS milliseconds.
// Everything else (sockets, pipes, files elsewhere, glibc's own buffered
// writes such as the node's log) is left alone. A filesystem made full or
// stuck for real needs a mount, which a test run as an ordinary user, or in a
// container, cannot make.
//
// The calls go to the kernel with syscall(): nothing here allocates or
// resolves a symbol, so the wrappers are safe from the first instruction of
// the process on.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

const char* setting(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

bool exists(const char* path) {
  return path && syscall(SYS_faccessat, AT_FDCWD, path, F_OK, 0) == 0;
}

bool flag_raised() {
  static const char* flag = setting("PARTI_DISK_FAIL_FLAG");
  return exists(flag);
}

bool stall_raised() {
  static const char* flag = setting("PARTI_DISK_STALL_FLAG");
  return exists(flag);
}

bool slow_raised() {
  static const char* flag = setting("PARTI_DISK_SLOW_FLAG");
  return exists(flag);
}

long slow_ms() {
  static const char* ms = setting("PARTI_DISK_SLOW_MS");
  return ms ? std::strtol(ms, nullptr, 10) : 0;
}

// Whether `fd` is a regular file under PARTI_DISK_FAIL_DIR.
bool in_failing_dir(int fd) {
  static const char* dir = setting("PARTI_DISK_FAIL_DIR");
  if (!dir) return false;
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  char link[64], path[4096];
  const char prefix[] = "/proc/self/fd/";
  std::memcpy(link, prefix, sizeof prefix - 1);
  char digits[16];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(fd); n == 0 || v > 0; v /= 10) digits[n++] = '0' + v % 10;
  for (int k = 0; k < n; ++k) link[sizeof prefix - 1 + k] = digits[n - 1 - k];
  link[sizeof prefix - 1 + n] = '\0';
  const long len = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof path - 1);
  if (len <= 0) return false;
  path[len] = '\0';
  return std::strncmp(path, dir, std::strlen(dir)) == 0;
}

// Blocks while the disk is stalled, waits while it is slow; then true
// (errno set) when this call must fail as on a full disk.
bool disk_full(int fd) {
  if (stall_raised() && in_failing_dir(fd)) {
    const timespec poll{0, 10'000'000};
    while (stall_raised()) syscall(SYS_nanosleep, &poll, nullptr);
  }
  if (slow_raised() && in_failing_dir(fd)) {
    const timespec wait{slow_ms() / 1000, (slow_ms() % 1000) * 1'000'000};
    syscall(SYS_nanosleep, &wait, nullptr);
  }
  if (!flag_raised() || !in_failing_dir(fd)) return false;
  errno = ENOSPC;
  return true;
}

}  // namespace

// syscall() returns -1 with errno set on failure, as the wrapped calls do.
extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  if (disk_full(fd)) return -1;
  return syscall(SYS_write, fd, buf, n);
}

extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  if (disk_full(fd)) return -1;
  return syscall(SYS_pwrite64, fd, buf, n, offset);
}

extern "C" ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  return pwrite(fd, buf, n, offset);
}

extern "C" ssize_t writev(int fd, const iovec* iov, int count) {
  if (disk_full(fd)) return -1;
  return syscall(SYS_writev, fd, iov, count);
}

extern "C" ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) {
  if (disk_full(fd)) return -1;
  return syscall(SYS_pwritev, fd, iov, count, offset, 0);
}

extern "C" int fsync(int fd) {
  if (disk_full(fd)) return -1;
  return static_cast<int>(syscall(SYS_fsync, fd));
}

extern "C" int fdatasync(int fd) {
  if (disk_full(fd)) return -1;
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}

extern "C" int fallocate(int fd, int mode, off_t offset, off_t len) {
  if (disk_full(fd)) return -1;
  return static_cast<int>(syscall(SYS_fallocate, fd, mode, offset, len));
}

extern "C" int fallocate64(int fd, int mode, off_t offset, off_t len) {
  return fallocate(fd, mode, offset, len);
}
