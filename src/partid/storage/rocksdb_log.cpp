#include "partid/storage/rocksdb_log.h"

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace partid::storage {
namespace {

spdlog::level::level_enum level_of(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return spdlog::level::warn;
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
      return spdlog::level::err;
    default:  // debug, info, and the options dump of every start
      return spdlog::level::debug;
  }
}

class NodeLog : public rocksdb::Logger {
 public:
  // RocksDB skips formatting lines under this level: below warnings only when
  // the node logs at debug level.
  NodeLog()
      : rocksdb::Logger(spdlog::should_log(spdlog::level::debug)
                            ? rocksdb::InfoLogLevel::INFO_LEVEL
                            : rocksdb::InfoLogLevel::WARN_LEVEL) {}

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    const auto to = level_of(level);
    if (!spdlog::should_log(to)) return;
    spdlog::log(to, "rocksdb: {}", format_line(format, ap));
  }
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }

 private:
  static std::string format_line(const char* format, va_list ap) {
    va_list again;
    va_copy(again, ap);
    char small[512];
    const int n = std::vsnprintf(small, sizeof small, format, ap);
    std::string line;
    if (n < 0) {
      line = format;
    } else if (static_cast<size_t>(n) < sizeof small) {
      line.assign(small, static_cast<size_t>(n));
    } else {
      line.resize(static_cast<size_t>(n) + 1);
      std::vsnprintf(line.data(), line.size(), format, again);
      line.resize(static_cast<size_t>(n));
    }
    va_end(again);
    return line;
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> rocksdb_to_node_log() { return std::make_shared<NodeLog>(); }

}  // namespace partid::storage
