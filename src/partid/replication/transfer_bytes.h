// replication: the bytes of one transfer sent in fragments (FragmentSender):
// a head and, after it, a shared tail. A snapshot's bytes are the tail, so
// the message carrying them is serialized without copying them (a partition
// can be hundreds of megabytes; copying it into the protobuf message and
// then into its serialization held three copies at once).
#pragma once

#include <algorithm>
#include <memory>
#include <string>

namespace partid::replication {

struct TransferBytes {
  std::string head;
  std::shared_ptr<const std::string> tail;  // null: none

  size_t size() const { return head.size() + (tail ? tail->size() : 0); }
  // Bytes [from, from + length) of head and tail together (fewer at the end).
  std::string slice(size_t from, size_t length) const {
    std::string out;
    if (from < head.size()) {
      out = head.substr(from, length);
      length -= out.size();
      from = head.size();
    }
    if (tail && length > 0 && from - head.size() < tail->size()) {
      out += tail->substr(from - head.size(), length);
    }
    return out;
  }
};

}  // namespace partid::replication
