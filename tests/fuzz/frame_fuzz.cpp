// The WebSocket/MQTT frame codec (shared/muster/protocol/frame.hpp) on arbitrary bytes,
// read both as a client frame and as a server frame. Promises checked: decoding never
// crashes or throws; a refusal is `invalid` with a message; a decoded frame encodes to
// JSON that decodes again to a frame of the same encoding (encode ∘ decode is stable).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "muster/protocol/frame.hpp"

namespace {

using muster::Errc;
namespace protocol = muster::protocol;

template <class Decode>
void round_trip(std::string_view text, Decode decode) {
  auto frame = decode(text);
  if (!frame) {
    FUZZ_CHECK(frame.error().code == Errc::invalid, frame.error().message);
    FUZZ_CHECK(!frame.error().message.empty(), std::string(text));
    return;
  }
  const std::string once = protocol::encode(*frame);
  auto again = decode(once);
  FUZZ_CHECK(again.ok(), "input: " + std::string(text) + "\nencoded: " + once + "\nrefused: " + again.error().message);
  const std::string twice = protocol::encode(*again);
  FUZZ_CHECK(twice == once, "input: " + std::string(text) + "\nencoded: " + once + "\nthen: " + twice);
  FUZZ_CHECK(again->index() == frame->index(), once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  round_trip(text, [](std::string_view t) { return protocol::decode_client_frame(t); });
  round_trip(text, [](std::string_view t) { return protocol::decode_server_frame(t); });
  return 0;
}
