// peer: the wire format between nodes. A frame is a 4-byte big-endian length
// followed by that many bytes of one serialized pb::Envelope. A length above
// the limit or bytes that do not parse are a broken peer: the connection is
// closed, nothing else is affected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/peer.pb.h"

namespace partid::peer {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;

std::string encode_frame(const pb::Envelope& envelope);
uint32_t decode_length(const unsigned char header[kFrameHeaderBytes]);
std::optional<pb::Envelope> decode_envelope(std::string_view body);

}  // namespace partid::peer
