#include "partid/peer/frame.h"

namespace partid::peer {

std::string encode_frame(const pb::Envelope& envelope) {
  const size_t size = envelope.ByteSizeLong();
  std::string out(kFrameHeaderBytes + size, '\0');
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) {
    out[i] = static_cast<char>((size >> (8 * (kFrameHeaderBytes - 1 - i))) & 0xff);
  }
  envelope.SerializeToArray(out.data() + kFrameHeaderBytes, static_cast<int>(size));
  return out;
}

uint32_t decode_length(const unsigned char header[kFrameHeaderBytes]) {
  uint32_t n = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) n = (n << 8) | header[i];
  return n;
}

std::optional<pb::Envelope> decode_envelope(std::string_view body) {
  pb::Envelope e;
  if (!e.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
  if (e.body_case() == pb::Envelope::BODY_NOT_SET) return std::nullopt;
  return e;
}

}  // namespace partid::peer
