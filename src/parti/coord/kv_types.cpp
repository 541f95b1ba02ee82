#include "parti/coord/kv_types.h"

namespace parti::coord {

const char* to_string(KvErrc e) {
  switch (e) {
    case KvErrc::Ok:
      return "ok";
    case KvErrc::NotFound:
      return "not found";
    case KvErrc::Exists:
      return "key exists";
    case KvErrc::WrongRevision:
      return "wrong revision";
    case KvErrc::Timeout:
      return "timeout";
    case KvErrc::Unavailable:
      return "unavailable";
    case KvErrc::Other:
      return "error";
  }
  return "error";
}

std::optional<KvStatus> judge_unexplained_create(const KvStatus& failure, const KvStatus& lookup) {
  if (lookup.ok()) return KvStatus{KvErrc::Exists, "key exists"};
  if (lookup.code == KvErrc::NotFound) return std::nullopt;
  return failure;
}

}  // namespace parti::coord
